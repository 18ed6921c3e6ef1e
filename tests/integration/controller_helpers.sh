# shellcheck shell=bash
# Helpers for the test_controller_*.sh end-to-end tests: ejabberd in its own
# namespace on the "public" segment, and nodes that each run ipop-tincan and
# ipop-controller (the controller unprivileged, as user nobody).
#
#   ct_xmpp_start                       # ejabberd on 198.18.0.1:5222 (ns "xs")
#   ct_xmpp_users n1 n2 ...             # accounts (password pw-NAME)
#   ct_xmpp_friends GROUP n1 n2 ...     # mutual contacts in roster GROUP
#   ct_xmpp_ready                       # (Prosody: starts it now, with the above)
#   ct_node n1 198.18.0.11 group '"Group": "lab"'   # namespace + tincan + config
#   ct_controller_start n1              # start its controller
#   ct_wait_online n1 30                # until its XMPP state is online
#   ct_status n1 ip4                    # one field of `ipopctl status`

IPOP_SRC_DIR=${IPOP_SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
IPOP_BUILD_DIR=${IPOP_BUILD_DIR:-$IPOP_SRC_DIR/build}
CONTROLLER=$IPOP_BUILD_DIR/controller/ipop-controller
# shellcheck source=tests/integration/tincan_helpers.sh
. "$IPOP_SRC_DIR/tests/integration/tincan_helpers.sh"

CT_DOMAIN=xmpp.test
CT_XMPP_ADDR=${CT_XMPP_ADDR:-198.18.0.1}   # fd00:198:18::1: an IPv6-only underlay
CT_XMPP_PORT=5222
CT_USER=${CT_USER:-nobody}
CT_XMPP_KIND=${CT_XMPP_KIND:-ejabberd}   # or prosody

ct_skip_unless_ready() {
  tc_skip_unless_ready
  [ -x "$CONTROLLER" ] || { echo "skip: $CONTROLLER not built"; exit 77; }
  case $CT_XMPP_KIND in
    ejabberd) command -v ejabberdctl >/dev/null || { echo "skip: ejabberd not installed"; exit 77; } ;;
    prosody) command -v prosody >/dev/null || { echo "skip: prosody not installed"; exit 77; } ;;
  esac
  command -v jq >/dev/null || { echo "skip: jq not installed"; exit 77; }
}

# Run xmpp_servers.sh functions inside namespace xs (the server's state lives
# in $CT_XS_DIR; the server process stays in the namespace, where
# netns_cleanup finds and stops it).
ct_xs() {
  netns_exec xs env XS_DIR="$CT_XS_DIR" IPOP_SRC_DIR="$IPOP_SRC_DIR" bash -c '
    . "$IPOP_SRC_DIR/tests/lib/xmpp_servers.sh"
    XS_KIND[$XS_DIR/srv]='"$CT_XMPP_KIND"'

    XS_SRV_ARGS[$XS_DIR/srv]="'"$CT_DOMAIN $CT_XMPP_ADDR $CT_XMPP_PORT"' $XS_DIR/pki"
    '"$1"
}

# The prefix length of an underlay address on the public segment.
ct__plen() { case $1 in *:*) echo 64 ;; *) echo 24 ;; esac; }

ct_xmpp_start() {
  netns_host xs
  netns_attach xs pub "$CT_XMPP_ADDR/$(ct__plen "$CT_XMPP_ADDR")"
  CT_XS_DIR=$NETNS_TMPDIR/xs
  mkdir -p "$CT_XS_DIR"
  chmod 755 "$NETNS_TMPDIR" "$CT_XS_DIR"
  ct_xs 'xs_make_ca "$XS_DIR/pki" '"$CT_DOMAIN"'' >"$NETNS_TMPDIR/xs-start.log" 2>&1
  chmod 644 "$CT_XS_DIR/pki/ca.pem"
  if [ "$CT_XMPP_KIND" = prosody ]; then
    # Prosody takes users and groups before it starts: ct_xmpp_restart then.
    ct_xs 'xs_prosody_setup "$XS_DIR/srv" '"$CT_DOMAIN $CT_XMPP_ADDR $CT_XMPP_PORT"' "$XS_DIR/pki"' \
      >>"$NETNS_TMPDIR/xs-start.log" 2>&1
  else
    ct_xmpp_restart
  fi
}

# ct_xmpp_restart: (re)start ejabberd with its data; its PID (the leader of
# its own process group) goes to $CT_XS_DIR/srv.pid for ct_xmpp_stop.
ct_xmpp_restart() {
  ct_xs 'xs_server_start '"$CT_XMPP_KIND"' "$XS_DIR/srv" '"$CT_DOMAIN $CT_XMPP_ADDR $CT_XMPP_PORT"' "$XS_DIR/pki" &&
         echo "${XS_SRV_PID[$XS_DIR/srv]}" > "$XS_DIR/srv.pid"' \
    >>"$NETNS_TMPDIR/xs-start.log" 2>&1 || { cat "$NETNS_TMPDIR/xs-start.log"; return 1; }
}

# ct_xmpp_stop: stop ejabberd (its whole process group, by the recorded PID).
ct__pgrp_gone() { ! kill -0 -- "-$1" 2>/dev/null; }
ct_xmpp_stop() {
  local pid
  pid=$(cat "$CT_XS_DIR/srv.pid")
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait_until 10 ct__pgrp_gone "$pid" || kill -KILL -- "-$pid" 2>/dev/null || true
}

ct_xmpp_users() {
  local args="" u
  for u in "$@"; do args="$args $u pw-$u"; done
  ct_xs "xs_register \"\$XS_DIR/srv\" $args"
}

ct_xmpp_friends() { ct_xs "xs_friends \"\$XS_DIR/srv\" $*"; }
ct_xmpp_ready() { [ "$CT_XMPP_KIND" != prosody ] || ct_xmpp_restart; }

ct_dir() { tc_dir "$1"; }

# ct_node NAME ADDR MODE EXTRA_CONTROLLER_JSON [OVERLAY_JSON]: namespace on
# pub, ipop-tincan running, config.json written for both daemons.
ct_node() {
  local h=$1 addr=$2 mode=$3 extra=$4 overlay=${5:-'"Subnet": "10.254.0.0/24"'} d
  netns_host "$h"
  netns_attach "$h" pub "$addr/$(ct__plen "$addr")"
  ct_config "$h" "$mode" "$extra" "$overlay"
  ct_tincan_start "$h"
}

# ct_tincan_start HOST: (re)start ipop-tincan with HOST's config.
ct_tincan_start() {
  local h=$1 d
  d=$(ct_dir "$h")
  netns_spawn "$h" "$d/tincan.log" "$TINCAN" -c "$d/config.json"
  TC_PID[$h]=$NETNS_LAST_PID
  wait_until 10 tc_ctl "$h" echo ping || { tail -n 30 "$d/tincan.log" >&2; return 1; }
}

ct_config() {
  local h=$1 mode=$2 extra=$3 overlay=$4 d
  d=$(ct_dir "$h")
  mkdir -p "$d/state"
  chmod 755 "$NETNS_TMPDIR" "$d"
  chown "$CT_USER" "$d/state"
  local user=${CT_JID_USER:-$h}   # CT_JID_USER: log in as another account
  # CT_JID: a bare JID on any domain (federation tests); CT_XMPP_SERVER:
  # how to reach the server (default: Host and Port of the test server;
  # "" = nothing, the JID's domain is looked up in DNS); CT_CA_FILE.
  local jid=${CT_JID:-$user@$CT_DOMAIN}
  user=${jid%@*}
  local server=${CT_XMPP_SERVER-"\"Host\": \"$CT_XMPP_ADDR\", \"Port\": $CT_XMPP_PORT,"}
  local ca=${CT_CA_FILE:-$CT_XS_DIR/pki/ca.pem}
  # CT_LOG_FILE=1: the controller also logs to state/controller.tlog, with
  # millisecond UTC timestamps (for measurements).
  local logfile=""
  [ -n "${CT_LOG_FILE:-}" ] && logfile=", \"File\": \"$d/state/controller.tlog\""
  (umask 077; printf 'pw-%s\n' "$user" >"$d/xmpp.pw")
  chown "$CT_USER" "$d/xmpp.pw"
  cat >"$d/config.json" <<JSON
{ "Control": { "Tincan": "127.0.0.1:5800", "Controller": "127.0.0.1:5801",
               "KeyFile": "$d/control.key" },
  "Tincan": { "User": "$TC_USER", "ControllerUser": "$CT_USER",
              "IdentityFile": "$d/identity.pem", "Log": { "Level": "debug" } },
  "Controller": {
    "StateDir": "$d/state", "Mode": "$mode", ${extra:+$extra,}
    "Xmpp": { "Jid": "$jid", "PasswordFile": "$d/xmpp.pw",
              $server "PingInterval": ${CT_PING:-10},
              "Tls": { "CaFile": "$ca" } },
    "Overlay": { "Id": "lab", "TapName": "ipop0", $overlay },
    "Log": { "Level": "${CT_LOG_LEVEL:-debug}"$logfile } } }
JSON
  chmod 644 "$d/config.json"
}

declare -A CT_PID=()
ct_controller_start() {
  local h=$1 d
  d=$(ct_dir "$h")
  netns_spawn "$h" "$d/controller.log" setpriv --reuid="$CT_USER" --regid=nogroup \
    --clear-groups "$CONTROLLER" -c "$d/config.json"
  CT_PID[$h]=$NETNS_LAST_PID
}

ct_ctl() {
  local h=$1; shift
  netns_exec "$h" "$IPOPCTL" -k "$(ct_dir "$h")/control.key" -s 127.0.0.1:5801 "$@"
}
ct_status() { ct_ctl "$1" -j status | jq -r ".$2"; }
ct__online() { [ "$(ct_status "$1" xmpp)" = online ] && [ "$(ct_status "$1" overlay_ready)" = true ]; }
ct_wait_online() { wait_until "$2" ct__online "$1"; }
# Links of HOST that are up (from tincan itself).
ct_links_up() {
  tc_call "$1" query_link_stats '{"overlay_id":"lab"}' | jq '[.links[] | select(.state=="up")] | length'
}
ct_log() { echo "$(ct_dir "$1")/controller.log"; }
# ct_mapped HOST JID_PREFIX [up]: the address HOST's pool gave the peer
# whose JID starts with JID_PREFIX (e.g. "bob@"); with "up", only while
# the link to it is up.  ct_has_mapped: there is one.
ct_mapped() {
  ct_ctl "$1" -j peers | jq -r --arg j "$2" --arg up "${3:-}" \
    '[.peers[] | select(.jid | startswith($j)) | select($up == "" or .link_state == "up")
      | .mapped_ip4 // empty][0] // empty'
}
ct_has_mapped() { [ -n "$(ct_mapped "$@")" ]; }

# ct_finish: stop every controller (SIGTERM, clean exit, no sanitizer
# report), then the tincans (tc_finish), and give the verdict.
ct__gone() { ! kill -0 "$1" 2>/dev/null; }
ct_finish() {
  local h pid
  for h in "${!CT_PID[@]}"; do
    pid=${CT_PID[$h]}
    kill -TERM "$pid" 2>/dev/null || true
    check "controller $h exits on SIGTERM" wait_until 10 ct__gone "$pid"
    check "controller $h: no sanitizer report" \
      sh -c "! grep -Eq 'Sanitizer|runtime error' $(ct_log "$h")"
  done
  tc_finish
}

# ---- groups over XMPP rooms (issue #7 tests) ---------------------------

# ct_grp HOST GROUP FIELD: one field of HOST's `ipopctl group list` entry.
ct_grp() { ct_ctl "$1" -j group list | jq -r --arg n "$2" ".groups[] | select(.name==\$n) | .$3"; }
ct_grp_joined() { [ "$(ct_grp "$1" "$2" state)" = joined ]; }

# ct_read_ip4 HOST...: fills the global array addr[HOST] with each host's
# overlay IPv4 address (from `ipopctl status`).
ct_read_ip4() {
  local h
  declare -gA addr
  for h in "$@"; do addr[$h]=$(ct_status "$h" ip4); done
}
# ct_all_ping WAIT_S HOST...: true when every host answers one ping from
# every other one at addr[HOST] (each ping waits WAIT_S); for wait_until.
ct_all_ping() {
  local w=$1 a b; shift
  for a in "$@"; do
    for b in "$@"; do
      [ "$a" = "$b" ] || netns_exec "$a" ping -c1 -W"$w" -q "${addr[$b]}" >/dev/null || return 1
    done
  done
}
# ct_group_ping_matrix GROUP DEADLINE_S HOST...: fills the global array
# addr[HOST] with each host's address in GROUP, then checks that every host
# pings every other one over the group overlay.
# Two members may derive the same address (1 in 254 per pair): the larger
# node id then yields and re-creates its overlay, so the addresses are read
# once they are all different.
ct__grp_addrs_distinct() {
  local g=$1 a v; shift
  declare -A seen=()
  for a in "$@"; do
    v=$(ct_grp "$a" "$g" address)
    [ -n "$v" ] && [ -z "${seen[$v]:-}" ] || return 1
    seen[$v]=1
  done
}
ct_group_ping_matrix() {
  local g=$1 t=$2 a b; shift 2
  declare -gA addr
  wait_until 30 ct__grp_addrs_distinct "$g" "$@" || echo "# $g: members' addresses still collide"
  for a in "$@"; do addr[$a]=$(ct_grp "$a" "$g" address); done
  echo "# $g addresses:$(for a in "$@"; do printf ' %s=%s' "$a" "${addr[$a]}"; done)"
  for a in "$@"; do
    for b in "$@"; do
      [ "$a" = "$b" ] && continue
      check "$a pings $b on $g (${addr[$b]})" wait_ping "$a" "${addr[$b]}" "$t"
    done
  done
}
