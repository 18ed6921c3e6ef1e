#!/usr/bin/env bash
# setup-ejabberd.sh - prepare an ejabberd server for ipop: accounts (with a
# 0600 password file each), mutual friendships for SocialVPN, shared roster
# groups for GroupVPN, and optionally ejabberd's built-in STUN server.
# Everything goes through ejabberdctl (mod_admin_extra must be enabled, as
# it is in Debian's default ejabberd.yml); running it again is harmless.
#
# usage: setup-ejabberd.sh --domain DOMAIN [options]
#
#   --domain DOMAIN          the ejabberd virtual host (required), e.g. example.org
#   --user NAME              create account NAME@DOMAIN (repeatable); its
#                            password is read from PWDIR/NAME.password if that
#                            file exists, else a random one is written there (0600)
#   --password-dir PWDIR     where the password files live (default ./ipop-passwords)
#   --friends A,B[,C...]     SocialVPN: every listed user becomes a mutual
#                            contact (subscription both) of every other (repeatable)
#   --roster-group NAME      roster group for --friends items (default ipop-friends)
#   --group NAME=A,B[,C...]  GroupVPN: shared roster group NAME (members see
#                            each other in roster group NAME, subscription
#                            both); use NAME as Controller.Group (repeatable)
#   --stun [IP:]PORT         add an ejabberd_stun UDP listener (needs --config)
#                            and reload the configuration
#   --config FILE            ejabberd.yml to edit for --stun
#                            (default /etc/ejabberd/ejabberd.yml)
#   --ctl "COMMAND"          how to run ejabberdctl (default: ejabberdctl), e.g.
#                            "ejabberdctl --config-dir /srv/ej --node ej@localhost"
#   --jobs N                 ejabberdctl runs side by side (default 4)
#   -h, --help               this text
#
# Example: three GroupVPN members in group "lab", alice and bob also friends:
#   setup-ejabberd.sh --domain example.org --user alice --user bob --user carol \
#     --group lab=alice,bob,carol --friends alice,bob --password-dir /root/ipop-pw
#
# MUC groups (issue 7, `ipopctl group create`): nothing to set up here when
# mod_muc is enabled (Debian's default: service conference.DOMAIN); see
# docs/deployment.md.
set -euo pipefail
IPOP_SCRIPT=setup-ejabberd.sh
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/common.sh
. "$here/lib/common.sh"

domain="" pwdir=./ipop-passwords rgroup=ipop-friends stun="" config=/etc/ejabberd/ejabberd.yml
ctl=ejabberdctl jobs=4
users=() friends=() groups=()
while [ $# -gt 0 ]; do
  case $1 in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;; esac
  need_arg "$@"
  v=$2
  case $1 in
    --domain) valid_domain "$v" || usage_die "--domain: expected a DNS name, found '$v'"; domain=$v ;;
    --user) valid_user "$v" || usage_die "--user: expected a user name (no @, /, spaces or quotes), found '$v'"; users+=("$v") ;;
    --password-dir) pwdir=$v ;;
    --friends) [[ $v =~ ^[^,[:space:]]+(,[^,[:space:]]+)+$ ]] || usage_die "--friends: expected A,B[,C...], found '$v'"; friends+=("$v") ;;
    --roster-group) [[ $v =~ ^[^\"\;]{1,64}$ ]] || usage_die "--roster-group: expected 1-64 characters without quotes or ';', found '$v'"; rgroup=$v ;;
    --group) [[ $v =~ ^([A-Za-z0-9_.-]{1,64})=([^,[:space:]]+(,[^,[:space:]]+)*)$ ]] ||
               usage_die "--group: expected NAME=A,B[,C...] (NAME of [A-Za-z0-9_.-]), found '$v'"
             groups+=("$v") ;;
    --stun) [[ $v =~ ^(([0-9.]+):)?([0-9]+)$ ]] && valid_port "${BASH_REMATCH[3]}" ||
              usage_die "--stun: expected [IP:]PORT, found '$v'"; stun=$v ;;
    --config) config=$v ;;
    --ctl) ctl=$v ;;
    --jobs) [[ $v =~ ^[1-9][0-9]?$ ]] || usage_die "--jobs: expected 1..99, found '$v'"; jobs=$v ;;
    *) usage_die "unknown option $1" ;;
  esac
  shift 2
done
[ -n "$domain" ] || usage_die "--domain DOMAIN is required"
[ ${#users[@]} -gt 0 ] || [ ${#friends[@]} -gt 0 ] || [ ${#groups[@]} -gt 0 ] || [ -n "$stun" ] ||
  usage_die "nothing to do: give --user, --friends, --group or --stun"
read -r -a ctlv <<<"$ctl"
need_cmd "${ctlv[0]}" ejabberd
for u in $(printf '%s\n' "${friends[@]}" "${groups[@]#*=}" | tr ',' ' '); do
  valid_user "$u" || usage_die "user '$u' in --friends/--group is not a valid user name"
done

# ejctl ARGS...: one ejabberdctl command; prints its output without the
# "not recommended to run ejabberd as root" noise; returns its status.
ejctl() {
  local out rc=0
  out=$("${ctlv[@]}" "$@" 2>&1) || rc=$?
  printf '%s\n' "$out" | grep -v -e '^WARNING: It is not recommended' -e '^$' || true
  return $rc
}

# run_all DESCRIPTION: run the queued commands (array Q, one ejabberdctl
# argument list per entry) at most $jobs at a time; each Erlang VM start
# takes 0.5-3 s, so in parallel the setup of a few users takes seconds.
Q=()
fails=0 existed=()
run_all() {
  local what=$1 i=0 pids=() p entry
  local tmp; tmp=$(mktemp -d)
  for entry in "${Q[@]}"; do
    eval "set -- $entry"
    ( if ejctl "$@" >"$tmp/$i.out" 2>&1; then :; else
        grep -q "already registered" "$tmp/$i.out" && exit 0; exit 1; fi ) &
    pids+=("$!:$i:$1 $2")
    i=$((i + 1))
    if [ $(( i % jobs )) -eq 0 ]; then
      for p in "${pids[@]}"; do run__reap "$p" "$tmp"; done; pids=()
    fi
  done
  for p in "${pids[@]}"; do run__reap "$p" "$tmp"; done
  rm -rf "$tmp"
  Q=()
  [ "$fails" -eq 0 ] || die "$what: $fails ejabberdctl command(s) failed (output above)"
}
run__reap() {
  local pid=${1%%:*} rest=${1#*:} n
  n=${rest%%:*}
  local rc=0
  wait "$pid" || rc=$?
  if grep -q "already registered" "$2/$n.out"; then
    existed+=("${rest#*:register }")
  elif [ "$rc" -ne 0 ] && grep -q "nodedown" "$2/$n.out"; then
    die "ejabberd is not running or not reachable with '$ctl' ($(grep -m1 nodedown "$2/$n.out"))"
  elif [ "$rc" -ne 0 ]; then
    echo "$IPOP_SCRIPT: ejabberdctl ${rest#*:} ... failed:" >&2
    sed 's/^/  /' "$2/$n.out" >&2
    fails=$((fails + 1))
  fi
}
q() { Q+=("$(printf '%q ' "$@")"); }


# Two rounds of parallel ejabberdctl runs: accounts and group creation
# first, then what refers to them (passwords of accounts that existed,
# roster items, group members).
if [ ${#users[@]} -gt 0 ]; then
  mkdir -p "$pwdir"; chmod 700 "$pwdir"
  for u in "${users[@]}"; do
    f=$pwdir/$u.password
    if [ ! -s "$f" ]; then secret_file "$f" "$(random_secret)"; fi
    [ "$(stat -c %a "$f")" = 600 ] || chmod 600 "$f"
    q register "$u" "$domain" "$(head -n 1 "$f")"
  done
fi
for g in "${groups[@]}"; do
  name=${g%%=*}
  # Label NAME (what clients see as the roster group), displayed to its own
  # members only.
  q srg_create "$name" "$domain" "$name" "ipop GroupVPN $name" "$name"
done
[ ${#Q[@]} -eq 0 ] ||
  run_all "creating accounts and shared roster groups (for groups: is mod_shared_roster enabled in ejabberd.yml?)"

# An account that existed already gets the password of its file (the file
# is the truth: run again after deleting a file = new password).
for u in "${existed[@]}"; do q change_password "$u" "$domain" "$(head -n 1 "$pwdir/$u.password")"; done
for f in "${friends[@]}"; do
  IFS=, read -r -a fl <<<"$f"
  for a in "${fl[@]}"; do
    for b in "${fl[@]}"; do
      [ "$a" = "$b" ] || q add_rosteritem "$a" "$domain" "$b" "$domain" "$b" "$rgroup" both
    done
  done
done
for g in "${groups[@]}"; do
  IFS=, read -r -a gl <<<"${g#*=}"
  for u in "${gl[@]}"; do q srg_user_add "$u" "$domain" "${g%%=*}" "$domain"; done
done
[ ${#Q[@]} -eq 0 ] || run_all "setting passwords, roster items and group members"

[ ${#users[@]} -eq 0 ] || info "accounts: ${users[*]/%/@$domain} (passwords in $pwdir/USER.password, 0600)"
[ ${#friends[@]} -eq 0 ] || info "friendships (subscription both, roster group $rgroup): ${friends[*]}"
for g in "${groups[@]}"; do
  info "shared roster group ${g%%=*}: ${g#*=} (Controller.Group: \"${g%%=*}\")"
done

if [ -n "$stun" ]; then
  [ -w "$config" ] || die "--stun: cannot edit $config (give --config FILE)"
  port=${stun##*:} ip=0.0.0.0
  [[ $stun == *:* ]] && ip=${stun%:*}
  if grep -q 'module: *ejabberd_stun' "$config"; then
    info "$config already has an ejabberd_stun listener; left as it is"
  else
    grep -q '^listen:' "$config" || die "--stun: $config has no top-level 'listen:' section"
    cp -p "$config" "$config.ipop-bak"
    # Insert the listener as the first item of the listen: list.
    awk -v ip="$ip" -v port="$port" '
      { print }
      /^listen:/ && !done { print "  -\n    port: " port "\n    ip: \"" ip "\"\n    transport: udp\n    module: ejabberd_stun\n    use_turn: false"; done = 1 }
    ' "$config.ipop-bak" >"$config"
    info "added an ejabberd_stun listener on udp $ip:$port to $config (backup: $config.ipop-bak)"
  fi
  if ejctl status >/dev/null 2>&1; then
    ejctl reload_config >/dev/null || die "ejabberdctl reload_config failed: check $config"
    info "configuration reloaded; node configs: --stun $domain:$port"
  else
    info "ejabberd not running: the STUN listener starts with it; node configs: --stun $domain:$port"
  fi
fi
