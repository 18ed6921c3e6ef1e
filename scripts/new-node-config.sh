#!/usr/bin/env bash
# new-node-config.sh - write one node's config.json (Control, Tincan and
# Controller sections, read by both ipop-tincan and ipop-controller) from a
# few flags, and the control key file (0600) if it does not exist yet.
#
# usage: new-node-config.sh --mode group|social --jid USER@DOMAIN
#          --password-file FILE --out FILE [options]
#
# Required:
#   --mode group|social        GroupVPN (one roster group, one subnet) or
#                              SocialVPN (mutual friends)
#   --jid USER@DOMAIN          this node's XMPP account
#   --password-file FILE       0600 file holding the XMPP password
#   --out FILE                 where to write config.json ("-" = stdout)
#   --group NAME               GroupVPN: the roster group (required in group mode)
# XMPP:
#   --xmpp-host HOST[:PORT]    server to connect to (default: DNS SRV / the
#                              JID's domain, port 5222)
#   --ca-file FILE             CA certificate(s) to verify the server with
#                              (default: the system's trust store)
#   --tls starttls|direct      TLS mode (default starttls)
# Overlay:
#   --subnet CIDR              GroupVPN: the group's subnet (same on all
#                              members); SocialVPN: this user's own subnet
#                              (default 10.254.0.0/16)
#   --address A                our overlay address (default: GroupVPN
#                              derived from the node id, SocialVPN the
#                              subnet's first host)
#   --subnet6 CIDR|none        IPv6 subnet (default: a ULA /64 derived from the
#                              overlay id; none = IPv4 only; SocialVPN /96 or
#                              shorter)
#   --address6 A               GroupVPN: our IPv6 address (default derived)
#   --overlay-id ID            same on every node of one network (default ipop)
#   --tap NAME                 TAP device (default ipop0)
#   --stun HOST:PORT           STUN server (repeatable)
#   --turn HOST:PORT           TURN server (repeatable; each needs the next
#   --turn-user U                two: TURN user name and a 0600 file with
#   --turn-password-file F       its password)
#   --turn-transport udp|tcp|tls   for the last --turn (default udp)
#   --name JID=NAME            SocialVPN hosts-file name for a friend (repeatable)
# Files, users, control socket:
#   --key-file FILE            control key (default /etc/ipop/control.key);
#                              created (64 hex digits, 0600) if missing
#   --identity-file FILE       tincan's DTLS identity
#                              (default /var/lib/ipop/tincan-identity.pem)
#   --state-dir DIR            controller state (default /var/lib/ipop-controller)
#   --tincan-user U            tincan drops root to U (default ipop; "" = stay
#                              root, written as "User": "" on purpose)
#   --controller-user U        the controller's user: owner of a key file
#                              created here or by tincan (default ipop, the
#                              user of the systemd units, if it exists, else "")
#   --tincan-log-file F        ipop-tincan also logs to F (absolute path; the
#                              unit can write only under /var/log/ipop/)
#   --controller-log-file F    ipop-controller also logs to F (absolute; the
#                              unit can write only under /var/log/ipop-controller/)
#                              Both default to none: stderr, i.e. the journal.
#   --tincan-ctl HOST:PORT     tincan's control socket (default 127.0.0.1:5800)
#   --controller-ctl HOST:PORT controller's control socket (default 127.0.0.1:5801)
#   --log-level LEVEL          error|warn|info|debug|trace (default info)
#   --check                    run both daemons' --check-config on the result
#   --force                    overwrite an existing --out file
#   -h, --help                 this text
#
# The user "ipop": the Debian package and `cmake --install` followed by
# `systemd-sysusers` create it.  Run from a build tree, as root, this script
# creates it the same way (from dist/systemd/ipop.sysusers) when the default
# --tincan-user ipop or --controller-user ipop names it and it is missing,
# and says so; not root, it stops and says what to do.  Another user must
# exist already.
#
# Example (GroupVPN member behind a NAT):
#   new-node-config.sh --mode group --jid alice@example.org --group lab \
#     --password-file /etc/ipop/xmpp.password --subnet 10.254.0.0/16 \
#     --stun turn.example.org:3478 --turn turn.example.org:3478 \
#     --turn-user alice --turn-password-file /etc/ipop/turn.password \
#     --out /etc/ipop/config.json --check
set -euo pipefail
IPOP_SCRIPT=new-node-config.sh
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/common.sh
. "$here/lib/common.sh"

mode="" jid="" group="" pwfile="" out="" xhost="" ca="" tlsmode=""
subnet="" address="" subnet6="" address6="" ovid="ipop" tap="ipop0"
keyfile=/etc/ipop/control.key identity=/var/lib/ipop/tincan-identity.pem
statedir=/var/lib/ipop-controller tuser=ipop cuser=__default__ tlog="" clog=""
tctl=127.0.0.1:5800 cctl=127.0.0.1:5801 level=info check=0 force=0
stun=() turn=() names=()
# One TURN entry is built from --turn, --turn-user, --turn-password-file.
t_addr="" t_user="" t_pw="" t_tr=""
turn_flush() {
  [ -n "$t_addr$t_user$t_pw$t_tr" ] || return 0
  [ -n "$t_addr" ] || usage_die "--turn-user/--turn-password-file given without --turn HOST:PORT"
  [ -n "$t_user" ] || usage_die "--turn $t_addr needs --turn-user"
  [ -n "$t_pw" ] || usage_die "--turn $t_addr needs --turn-password-file"
  turn+=("$(jq -cn --arg a "$t_addr" --arg u "$t_user" --arg p "$t_pw" --arg t "${t_tr:-udp}" \
    '{Address: $a, User: $u, PasswordFile: $p, Transport: $t}')")
  t_addr="" t_user="" t_pw="" t_tr=""
}

# valid_log_file FLAG PATH UNIT_DIR: an absolute file name (not a
# directory); outside UNIT_DIR a warning, as the unit cannot write there.
valid_log_file() {
  local flag=$1 f=$2 dir=$3
  [[ $f == /* ]] || usage_die "$flag: expected an absolute file name, found '$f'"
  [[ $f != */ && ! -d $f ]] || usage_die "$flag: '$f' is a directory; give a file name in it"
  [[ $f =~ ^[^[:cntrl:]]+$ ]] || usage_die "$flag: control characters in the file name"
  [[ $f == "$dir"/* ]] ||
    echo "$IPOP_SCRIPT: warning: $flag $f: the systemd unit can write only under $dir/ (add ReadWritePaths= in a drop-in otherwise)" >&2
}

# ensure_ipop_user FLAG: create the static user "ipop" as sysusers.d would
# (dist/systemd/ipop.sysusers), or say what to do.
ensure_ipop_user() {
  getent passwd ipop >/dev/null && return 0
  [ "$(id -u)" = 0 ] ||
    die "$1: there is no user 'ipop' yet (the Debian package or 'cmake --install' + systemd-sysusers create it); run this script as root to create it, or pass $1 with an existing user"
  local conf=$here/../dist/systemd/ipop.sysusers
  if command -v systemd-sysusers >/dev/null 2>&1 && [ -r "$conf" ]; then
    systemd-sysusers "$conf" >/dev/null || die "systemd-sysusers $conf failed"
  else
    useradd --system --user-group --home-dir /var/lib/ipop-controller --no-create-home \
      --shell /usr/sbin/nologin --comment "ipop VPN daemons" ipop || die "useradd ipop failed"
  fi
  getent passwd ipop >/dev/null || die "could not create the user 'ipop'"
  echo "$IPOP_SCRIPT: created the system user 'ipop' (as the package and systemd-sysusers do; userdel ipop removes it)" >&2
}

need_cmd jq jq
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    --check) check=1; shift; continue ;;
    --force) force=1; shift; continue ;;
  esac
  # --tincan-user "" is allowed (stay root); every other flag needs a value.
  if [ "$1" = --tincan-user ] || [ "$1" = --controller-user ]; then
    [ $# -ge 2 ] || usage_die "$1 needs a value"
  else
    need_arg "$@"
  fi
  v=$2
  case $1 in
    --mode) case $v in group|social) mode=$v ;; *) usage_die "--mode: expected group or social, found '$v'" ;; esac ;;
    --jid) valid_jid "$v" || usage_die "--jid: expected USER@DOMAIN, found '$v'"; jid=$v ;;
    --group) valid_name "$v" || usage_die "--group: expected 1-64 of [A-Za-z0-9_.-], found '$v'"; group=$v ;;
    --password-file) pwfile=$v ;;
    --out) out=$v ;;
    --xmpp-host)
      if valid_hostport "$v"; then xhost=$v
      elif valid_domain "$v" || valid_ip4 "$v"; then xhost=$v
      else usage_die "--xmpp-host: expected HOST or HOST:PORT, found '$v'"; fi ;;
    --ca-file) ca=$v ;;
    --tls) case $v in starttls|direct) tlsmode=$v ;; *) usage_die "--tls: expected starttls or direct, found '$v'" ;; esac ;;
    --subnet) valid_cidr "$v" || usage_die "--subnet: expected IPv4 CIDR like 10.254.0.0/16, found '$v'"; subnet=$v ;;
    --address) valid_ip4 "$v" || usage_die "--address: expected an IPv4 address, found '$v'"; address=$v ;;
    --subnet6) [[ $v == none || $v =~ ^[0-9a-fA-F:]+/[0-9]{1,3}$ ]] || usage_die "--subnet6: expected an IPv6 CIDR like fd00:a::/64, or none, found '$v'"; subnet6=$v ;;
    --address6) [[ $v =~ ^[0-9a-fA-F:]+$ && $v == *:* ]] || usage_die "--address6: expected an IPv6 address, found '$v'"; address6=$v ;;
    --overlay-id) valid_name "$v" || usage_die "--overlay-id: expected 1-64 of [A-Za-z0-9_.-], found '$v'"; ovid=$v ;;
    --tap) [[ $v =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || usage_die "--tap: expected an interface name of at most 15 characters, found '$v'"; tap=$v ;;
    --stun) valid_hostport "$v" || usage_die "--stun: expected HOST:PORT, found '$v'"; stun+=("$v") ;;
    --turn) turn_flush; valid_hostport "$v" || usage_die "--turn: expected HOST:PORT, found '$v'"; t_addr=$v ;;
    --turn-user) t_user=$v ;;
    --turn-password-file) t_pw=$v ;;
    --turn-transport) case $v in udp|tcp|tls) t_tr=$v ;; *) usage_die "--turn-transport: expected udp, tcp or tls, found '$v'" ;; esac ;;
    --name) [[ $v =~ ^([^=]+)=([^[:space:]#]+)$ ]] && nj=${BASH_REMATCH[1]} nn=${BASH_REMATCH[2]} &&
              valid_jid "$nj" || usage_die "--name: expected JID=NAME (NAME without spaces or #), found '$v'"
            names+=("$(jq -cn --arg j "$nj" --arg n "$nn" '{Jid: $j, Name: $n}')") ;;
    --key-file) keyfile=$v ;;
    --identity-file) identity=$v ;;
    --state-dir) statedir=$v ;;
    --tincan-user) tuser=$v ;;
    --tincan-log-file) valid_log_file "$1" "$v" /var/log/ipop; tlog=$v ;;
    --controller-log-file) valid_log_file "$1" "$v" /var/log/ipop-controller; clog=$v ;;
    --controller-user) cuser=$v ;;
    --tincan-ctl) valid_hostport "$v" || usage_die "--tincan-ctl: expected 127.0.0.1:PORT, found '$v'"; tctl=$v ;;
    --controller-ctl) valid_hostport "$v" || usage_die "--controller-ctl: expected 127.0.0.1:PORT, found '$v'"; cctl=$v ;;
    --log-level) case $v in error|warn|info|debug|trace) level=$v ;; *) usage_die "--log-level: expected error, warn, info, debug or trace, found '$v'" ;; esac ;;
    *) usage_die "unknown option $1" ;;
  esac
  shift 2
done
turn_flush

[ -n "$mode" ] || usage_die "--mode group|social is required"
[ -n "$jid" ] || usage_die "--jid USER@DOMAIN is required"
[ -n "$pwfile" ] || usage_die "--password-file FILE is required (a 0600 file holding the XMPP password)"
[ -n "$out" ] || usage_die "--out FILE is required (- for stdout)"
if [ "$mode" = group ]; then
  [ -n "$group" ] || usage_die "--group NAME is required in group mode"
else
  [ -z "$group" ] || usage_die "--group is for group mode only (SocialVPN links all mutual friends)"
fi
[ "$mode" = social ] || [ "${#names[@]}" -eq 0 ] || usage_die "--name is for social mode only"
if [ -n "$address" ]; then
  [ -n "$subnet" ] || usage_die "--address needs --subnet (the address must lie in it)"
  # Same network? Compare the address and the subnet under the prefix mask.
  IFS=./ read -r s1 s2 s3 s4 len <<<"$subnet"; IFS=. read -r a1 a2 a3 a4 <<<"$address"
  s=$(( (s1<<24)|(s2<<16)|(s3<<8)|s4 )) a=$(( (a1<<24)|(a2<<16)|(a3<<8)|a4 ))
  m=$(( len == 0 ? 0 : (0xffffffff << (32 - len)) & 0xffffffff ))
  [ $((s & m)) -eq $((a & m)) ] || usage_die "--address $address is not inside --subnet $subnet"
fi
[ -e "$pwfile" ] || echo "$IPOP_SCRIPT: warning: --password-file $pwfile does not exist yet (create it with mode 0600 before starting the controller)" >&2
if [ -e "$pwfile" ] && [ "$(stat -c %a "$pwfile")" != 600 ] && [ "$(stat -c %a "$pwfile")" != 400 ]; then
  echo "$IPOP_SCRIPT: warning: $pwfile has mode $(stat -c %a "$pwfile"); the controller wants 0600" >&2
fi
if [ "$out" != - ] && [ -e "$out" ] && [ "$force" = 0 ]; then
  die "$out exists; pass --force to overwrite it"
fi
[ "$tuser" != ipop ] || ensure_ipop_user --tincan-user
[ "$cuser" != ipop ] || ensure_ipop_user --controller-user
if [ "$cuser" = __default__ ]; then
  cuser=""; getent passwd ipop >/dev/null 2>&1 && cuser=ipop
fi
[ -z "$tuser" ] || getent passwd "$tuser" >/dev/null || die "--tincan-user: no user '$tuser' on this machine (create it, e.g. useradd --system $tuser, or pass --tincan-user \"\")"
[ -z "$cuser" ] || getent passwd "$cuser" >/dev/null || die "--controller-user: no user '$cuser' on this machine"

# Xmpp.Host/Port from --xmpp-host (an [IPv6]:port keeps its brackets off).
xh="" xp=0
if [ -n "$xhost" ]; then
  if valid_hostport "$xhost"; then xh=${xhost%:*} xp=${xhost##*:}; xh=${xh#[}; xh=${xh%]}; else xh=$xhost; fi
fi

json=$(jq -n \
  --arg tctl "$tctl" --arg cctl "$cctl" --arg key "$keyfile" \
  --arg tuser "$tuser" --arg cuser "$cuser" --arg ident "$identity" --arg level "$level" \
  --arg state "$statedir" --arg mode "$mode" --arg group "$group" \
  --arg jid "$jid" --arg pw "$pwfile" --arg xh "$xh" --argjson xp "$xp" \
  --arg ca "$ca" --arg tls "$tlsmode" --arg tlog "$tlog" --arg clog "$clog" \
  --arg ovid "$ovid" --arg tap "$tap" --arg subnet "$subnet" --arg addr "$address" \
  --arg subnet6 "$subnet6" --arg addr6 "$address6" \
  --argjson stun "$(printf '%s\n' "${stun[@]}" | jq -R . | jq -sc 'map(select(. != ""))')" \
  --argjson turn "$(printf '%s\n' "${turn[@]}" | jq -sc 'map(select(. != null))' 2>/dev/null || echo '[]')" \
  --argjson names "$(printf '%s\n' "${names[@]}" | jq -sc 'map(select(. != null))' 2>/dev/null || echo '[]')" '
  def nonempty(k; v): if v == "" then {} else {(k): v} end;
  { "//": ["ipop node configuration (scripts/new-node-config.sh); every key: docs/configuration.md"],
    Control: { Tincan: $tctl, Controller: $cctl, KeyFile: $key },
    Tincan: { User: $tuser, ControllerUser: $cuser, IdentityFile: $ident,
              Log: ({ Level: $level } + nonempty("File"; $tlog)) },
    Controller: ({ StateDir: $state, Mode: $mode }
      + nonempty("Group"; $group)
      + (if ($names | length) > 0 then { Names: $names } else {} end)
      + { Xmpp: ({ Jid: $jid, PasswordFile: $pw }
                 + nonempty("Host"; $xh) + (if $xp > 0 then { Port: $xp } else {} end)
                 + (if $ca == "" and $tls == "" then {} else
                      { Tls: (nonempty("CaFile"; $ca) + nonempty("Mode"; $tls)) } end)),
          Overlay: ({ Id: $ovid, TapName: $tap }
                 + nonempty("Subnet"; $subnet) + nonempty("Address"; $addr)
                 + nonempty("Subnet6"; $subnet6) + nonempty("Address6"; $addr6)
                 + { Stun: $stun, Turn: $turn }),
          Log: ({ Level: $level } + nonempty("File"; $clog)) }) }')

# The control key: created here (so that ipopctl and both daemons can start
# in any order) unless it exists; owned by the controller's user, who must
# read it, while root (tincan) reads any file.
if [ ! -e "$keyfile" ]; then
  mkdir -p "$(dirname "$keyfile")"
  secret_file "$keyfile" "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" "$cuser"
  echo "$IPOP_SCRIPT: created control key $keyfile (0600${cuser:+, owner $cuser})" >&2
fi

if [ "$out" = - ]; then
  printf '%s\n' "$json"
else
  mkdir -p "$(dirname "$out")"
  printf '%s\n' "$json" >"$out.tmp.$$"
  chmod 644 "$out.tmp.$$"      # no secrets inside: the controller's user must read it
  mv -f "$out.tmp.$$" "$out"
  echo "$IPOP_SCRIPT: wrote $out ($mode mode, $jid)" >&2
fi

if [ "$check" = 1 ]; then
  [ "$out" != - ] || usage_die "--check needs --out FILE"
  top=$(cd "$here/.." && pwd)
  for prog in tincan/ipop-tincan controller/ipop-controller; do
    bin=$(command -v "${prog#*/}" 2>/dev/null || true)
    [ -n "$bin" ] || bin=${IPOP_BUILD_DIR:-$top/build}/$prog
    [ -x "$bin" ] || die "--check: ${prog#*/} not found in PATH or ${IPOP_BUILD_DIR:-$top/build}"
    "$bin" --check-config -c "$out" >&2 || die "${prog#*/} rejects $out (message above)"
  done
fi
