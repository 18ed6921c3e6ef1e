# shellcheck shell=bash
# Helpers for the test_tincan_*.sh integration tests: start ipop-tincan in
# a namespace of tests/lib/netns.sh and drive it with ipopctl.
#
#   tc_start a                       # ipop-tincan in namespace a, port 5800
#   tc_overlay a node-a 10.254.0.1   # overlay "ov" with TAP ipop0
#   tc_link a node-a b node-b        # exchange candidates, create both ends
#   tc_wait_state a node-b up 15

IPOP_SRC_DIR=${IPOP_SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
IPOP_BUILD_DIR=${IPOP_BUILD_DIR:-$IPOP_SRC_DIR/build}
TINCAN=$IPOP_BUILD_DIR/tincan/ipop-tincan
IPOPCTL=$IPOP_BUILD_DIR/ipopctl/ipopctl
TC_OVERLAY=${TC_OVERLAY:-ov}
# Which user tincan drops to: nobody exists everywhere.
TC_USER=${TC_USER:-nobody}

# shellcheck source=tests/lib/netns.sh
. "$IPOP_SRC_DIR/tests/lib/netns.sh"

tc_skip_unless_ready() {
  if [ "$(id -u)" != 0 ] || ! netns_can_run 2>/dev/null; then
    echo "skip: needs root and network namespaces"; exit 77
  fi
  for b in "$TINCAN" "$IPOPCTL"; do
    [ -x "$b" ] || { echo "skip: $b not built"; exit 77; }
  done
  [ -c /dev/net/tun ] || { echo "skip: no /dev/net/tun"; exit 77; }
}

tc_dir() { echo "$NETNS_TMPDIR/tincan-$1"; }

# tc_start HOST [extra "Tincan" JSON members]: start tincan, wait for echo.
declare -A TC_PID=()
tc_start() {
  local h=$1 extra=${2:-} d
  d=$(tc_dir "$h")
  mkdir -p "$d"
  cat >"$d/config.json" <<JSON
{ "Control": { "Tincan": "127.0.0.1:5800", "Controller": "127.0.0.1:5801",
               "KeyFile": "$d/control.key" },
  "Tincan": { "User": "$TC_USER", "IdentityFile": "$d/identity.pem"${extra:+, $extra},
              "Log": { "Level": "debug" } } }
JSON
  netns_spawn "$h" "$d/tincan.log" "$TINCAN" -c "$d/config.json"
  TC_PID[$h]=$NETNS_LAST_PID
  if ! wait_until 10 tc_ctl "$h" echo ping; then
    echo "tincan in $h did not answer; log:" >&2
    tail -n 30 "$d/tincan.log" >&2
    return 1
  fi
}

# tc_ctl HOST ipopctl-args...: ipopctl against HOST's tincan (JSON output).
tc_ctl() {
  local h=$1; shift
  netns_exec "$h" "$IPOPCTL" -k "$(tc_dir "$h")/control.key" -s 127.0.0.1:5800 -j "$@"
}

# tc_call HOST NAME JSON: one request; prints the result JSON.
tc_call() { local h=$1; shift; tc_ctl "$h" call "$@"; }

# tc_overlay HOST NODE_ID IP4 [MAC] [TAPNAME]
tc_overlay() {
  local h=$1 node=$2 ip=$3 mac=${4:-} tap=${5:-ipop0}
  tc_call "$h" create_overlay "{\"overlay_id\":\"$TC_OVERLAY\",\"node_id\":\"$node\",
    \"tap_name\":\"$tap\",\"ip4\":\"$ip\",\"ip4_prefix\":24${mac:+,\"mac\":\"$mac\"}
    ${TC_OVERLAY_EXTRA:-}}"
}

# tc_candidates HOST PEER_ID [RELAY]: the candidate set for a link to
# PEER_ID (RELAY: the link's relay policy, auto|never|always).
tc_candidates() {
  tc_call "$1" query_candidates \
    "{\"overlay_id\":\"$TC_OVERLAY\",\"peer_id\":\"$2\"${3:+,\"relay\":\"$3\"}}"
}

# tc_create_link HOST PEER_ID CANDIDATE_SET_JSON [FINGERPRINT_OVERRIDE]
# The peer's MAC (peer_mac) comes from its candidate set; TC_LINK_EXTRA adds
# JSON members (e.g. ',"bridge":true').
tc_create_link() {
  local h=$1 peer=$2 set=$3 fpr=${4:-} body
  body=$(jq -c --arg ov "$TC_OVERLAY" --arg peer "$peer" --arg fpr "$fpr" \
    --argjson extra "{${TC_LINK_EXTRA:+${TC_LINK_EXTRA#,}}}" \
    '{overlay_id:$ov, peer_id:$peer,
      peer_fingerprint:(if $fpr == "" then .fingerprint else $fpr end),
      peer_ufrag:.ufrag, peer_pwd:.pwd, peer_candidates:.candidates}
      + (if .mac then {peer_mac:.mac} else {} end) + $extra' <<<"$set")
  tc_call "$h" create_link "$body"
}

# tc_link A NODE_A B NODE_B: what a controller does for one link.
tc_link() {
  local a=$1 na=$2 b=$3 nb=$4 ca cb
  ca=$(tc_candidates "$a" "$nb") || return 1
  cb=$(tc_candidates "$b" "$na") || return 1
  tc_create_link "$a" "$nb" "$cb" >/dev/null || return 1
  tc_create_link "$b" "$na" "$ca" >/dev/null || return 1
}

# tc_stat HOST PEER FIELD: one field of the link's stats.
tc_stat() {
  tc_call "$1" query_link_stats "{\"overlay_id\":\"$TC_OVERLAY\",\"peer_id\":\"$2\"}" |
    jq -r ".links[0].$3"
}

tc__state_is() { [ "$(tc_stat "$1" "$2" state)" = "$3" ]; }
# tc_wait_state HOST PEER STATE TIMEOUT_S
tc_wait_state() { wait_until "$4" tc__state_is "$1" "$2" "$3"; }

tc_log() { echo "$(tc_dir "$1")/tincan.log"; }

# tc_listen HOST: ipopctl listen (subscribes to copies of the events) into
# HOST's events.log; returns once tincan has logged the subscription.
tc_listen() {
  local h=$1 d
  d=$(tc_dir "$h")
  netns_spawn "$h" "$d/events.log" "$IPOPCTL" -k "$d/control.key" -s 127.0.0.1:5800 \
    -T 3600 listen
  wait_file "$d/tincan.log" "monitor .* subscribed to events" 5
}
tc_events() { echo "$(tc_dir "$1")/events.log"; }

# tc_two_hosts: namespaces a and b on segment pub, tincan + overlay in each.
tc_two_hosts() {
  netns_segment pub
  netns_host a; netns_attach a pub 198.18.0.11/24
  netns_host b; netns_attach b pub 198.18.0.12/24
  tc_start a; tc_start b
  tc_listen a; tc_listen b
  tc_overlay a node-a 10.254.0.1 >/dev/null
  tc_overlay b node-b 10.254.0.2 >/dev/null
}

# check DESCRIPTION cmd...: one TAP-style result line; failures are counted
# (netns_init's EXIT trap prints every log of a failed run).
TC_FAILS=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; TC_FAILS=$((TC_FAILS+1)); fi
}
# tc_finish: stop every tincan with SIGTERM (a clean shutdown removes its
# TAPs and, in a sanitizer build, reports leaks), check that each exited
# cleanly with nothing from a sanitizer in its log; then the verdict.
tc__gone() { ! kill -0 "$1" 2>/dev/null; }
tc_finish() {
  local h pid
  for h in "${!TC_PID[@]}"; do
    pid=${TC_PID[$h]}
    kill -TERM "$pid" 2>/dev/null || true
    check "tincan $h exits on SIGTERM" wait_until 10 tc__gone "$pid"
    check "tincan $h: no TAP left behind" \
      sh -c "! ip -n $(netns_ns "$h") -o link show type tun 2>/dev/null | grep -q ."
    check "tincan $h: no sanitizer report" \
      sh -c "! grep -Eq 'Sanitizer|runtime error' $(tc_log "$h")"
  done
  [ "${TC_FAILS:-0}" -eq 0 ]
}
