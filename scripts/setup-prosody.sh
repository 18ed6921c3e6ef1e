#!/usr/bin/env bash
# setup-prosody.sh - prepare a Prosody server for ipop: accounts (with a
# 0600 password file each) through prosodyctl, and friendships / GroupVPN
# groups through mod_groups (shipped with Prosody: a groups file whose
# members all see each other as contacts with subscription "both", in a
# roster group named after the section). Prosody has no shared roster
# groups or roster-editing command of its own; mod_groups is its
# equivalent. Running it again is harmless (sections are replaced).
#
# usage: setup-prosody.sh --domain DOMAIN [options]
#
#   --domain DOMAIN          Prosody VirtualHost (required)
#   --user NAME              create account NAME@DOMAIN (repeatable); password
#                            from PWDIR/NAME.password if it exists, else a
#                            random one written there (0600); an existing
#                            account gets the file's password
#   --password-dir PWDIR     default ./ipop-passwords
#   --friends A,B[,C...]     SocialVPN: mutual contacts (a mod_groups section
#                            named after --roster-group; repeatable, each
#                            further one gets a numbered section)
#   --roster-group NAME      section name for --friends (default ipop-friends)
#   --group NAME=A,B[,C...]  GroupVPN: section NAME with these members; use
#                            NAME as Controller.Group (repeatable)
#   --groups-file FILE       the mod_groups file (default /etc/prosody/ipop-groups.txt)
#   --config FILE            prosody.cfg.lua to check for mod_groups
#                            (default /etc/prosody/prosody.cfg.lua)
#   --ctl "COMMAND"          how to run prosodyctl (default: prosodyctl
#                            --config FILE)
#   -h, --help               this text
#
# Groups take effect when Prosody (re)loads mod_groups:
#   systemctl restart prosody     (or: prosodyctl shell "module:reload('groups', 'DOMAIN')")
# prosody.cfg.lua needs, once:
#   modules_enabled = { ...; "groups" }
#   groups_file = "/etc/prosody/ipop-groups.txt"
set -euo pipefail
IPOP_SCRIPT=setup-prosody.sh
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/common.sh
. "$here/lib/common.sh"

domain="" pwdir=./ipop-passwords rgroup=ipop-friends gfile=/etc/prosody/ipop-groups.txt
config=/etc/prosody/prosody.cfg.lua ctl=""
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
    --roster-group) valid_name "$v" || usage_die "--roster-group: expected 1-64 of [A-Za-z0-9_.-], found '$v'"; rgroup=$v ;;
    --group) [[ $v =~ ^([A-Za-z0-9_.-]{1,64})=([^,[:space:]]+(,[^,[:space:]]+)*)$ ]] ||
               usage_die "--group: expected NAME=A,B[,C...] (NAME of [A-Za-z0-9_.-]), found '$v'"
             groups+=("$v") ;;
    --groups-file) gfile=$v ;;
    --config) config=$v ;;
    --ctl) ctl=$v ;;
    *) usage_die "unknown option $1" ;;
  esac
  shift 2
done
[ -n "$domain" ] || usage_die "--domain DOMAIN is required"
[ ${#users[@]} -gt 0 ] || [ ${#friends[@]} -gt 0 ] || [ ${#groups[@]} -gt 0 ] ||
  usage_die "nothing to do: give --user, --friends or --group"
for u in $(printf '%s\n' "${friends[@]}" "${groups[@]#*=}" | tr ',' ' '); do
  valid_user "$u" || usage_die "user '$u' in --friends/--group is not a valid user name"
done
[ -n "$ctl" ] || ctl="prosodyctl --config $config"
read -r -a ctlv <<<"$ctl"
need_cmd "${ctlv[0]}" prosody

if [ ${#users[@]} -gt 0 ]; then
  mkdir -p "$pwdir"; chmod 700 "$pwdir"
  pids=() names=()
  for u in "${users[@]}"; do
    f=$pwdir/$u.password
    [ -s "$f" ] || secret_file "$f" "$(random_secret)"
    [ "$(stat -c %a "$f")" = 600 ] || chmod 600 "$f"
    # `register` creates the account or sets the password of an existing
    # one (prosodyctl adduser would prompt). Each starts Lua: side by side.
    "${ctlv[@]}" register "$u" "$domain" "$(head -n 1 "$f")" >"$pwdir/.$u.out" 2>&1 &
    pids+=("$!"); names+=("$u")
  done
  fails=0
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      echo "$IPOP_SCRIPT: prosodyctl register ${names[$i]} $domain failed:" >&2
      grep -v -e '^\*' -e 'lua-unbound' -e '^ *$' "$pwdir/.${names[$i]}.out" | sed 's/^/  /' >&2 || true
      fails=$((fails + 1))
    fi
    rm -f "$pwdir/.${names[$i]}.out"
  done
  [ "$fails" = 0 ] || die "$fails account(s) could not be created (is $domain a VirtualHost in $config?)"
  info "accounts: ${users[*]/%/@$domain} (passwords in $pwdir/USER.password, 0600)"
fi

# set_section NAME MEMBERS...: replace (or add) section [NAME] of the
# groups file, leaving every other section as it was.
set_section() {
  local name=$1 u tmp; shift
  tmp=$gfile.tmp.$$
  { [ ! -f "$gfile" ] || awk -v s="[$name]" '
      /^[[:space:]]*\[.*\][[:space:]]*$/ { skip = ($1 == s) }
      !skip' "$gfile"
    echo "[$name]"
    for u in "$@"; do echo "$u@$domain=$u"; done
  } >"$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$gfile"
}

if [ ${#friends[@]} -gt 0 ] || [ ${#groups[@]} -gt 0 ]; then
  mkdir -p "$(dirname "$gfile")"
  i=0
  for f in "${friends[@]}"; do
    i=$((i + 1))
    sec=$rgroup; [ "$i" = 1 ] || sec=$rgroup-$i
    IFS=, read -r -a fl <<<"$f"
    set_section "$sec" "${fl[@]}"
    info "friendships (mod_groups section [$sec], subscription both): $f"
  done
  for g in "${groups[@]}"; do
    IFS=, read -r -a gl <<<"${g#*=}"
    set_section "${g%%=*}" "${gl[@]}"
    info "group ${g%%=*}: ${g#*=} (Controller.Group: \"${g%%=*}\")"
  done
  if getent passwd prosody >/dev/null; then chown prosody: "$gfile" 2>/dev/null || true; fi
  info "wrote $gfile"
  if [ -r "$config" ]; then
    grep -Eq "groups_file *= *\"$gfile\"" "$config" ||
      echo "$IPOP_SCRIPT: note: $config does not set groups_file = \"$gfile\"; add it (global or under VirtualHost \"$domain\")" >&2
    sed 's/--.*//' "$config" | tr '\n' ' ' | grep -Eq 'modules_enabled *= *\{[^}]*"groups"' ||
      echo "$IPOP_SCRIPT: note: add \"groups\" to modules_enabled in $config" >&2
  fi
  info "restart Prosody (or reload mod_groups) for the groups to take effect"
fi
