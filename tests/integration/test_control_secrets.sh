#!/usr/bin/env bash
# The control socket against a local attacker who holds the key, or who can
# only watch loopback: everything runs in one namespace whose loopback a raw
# socket captures (tests/tools/lo_sniff.py, like tcpdump -i lo).
#  - No secret crosses loopback in clear: the TURN password in the
#    controller's create_overlay, the ICE passwords of query_candidates'
#    answer and of create_link; not even the request names.
#  - A sniffed datagram replayed is refused; a protocol-1 (HMAC only)
#    datagram is refused.
#  - A second client with the key (tests/tools/ctl_probe.py) cannot take
#    the registered controller's events (register), nor change its overlay,
#    nor feed the controller events; subscribe gives it copies only, and
#    the controller keeps getting every event.
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
tc_skip_unless_ready
CONTROLLER=$IPOP_BUILD_DIR/controller/ipop-controller
PY=/usr/bin/python3
$PY -c 'import cryptography' 2>/dev/null || { echo "skip: python3-cryptography missing"; exit 77; }
PROBE="$PY $IPOP_SRC_DIR/tests/tools/ctl_probe.py"
netns_init
netns_segment pub
netns_host a; netns_attach a pub 198.18.0.11/24
chmod 755 "$NETNS_TMPDIR"
d=$NETNS_TMPDIR/node
mkdir -p "$d/state"

turn_pw="TURN-pw-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
peer_pwd="PEERicepwd$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
(umask 077; echo "$turn_pw" >"$d/turn.pw")
cat >"$d/config.json" <<JSON
{ "Control": { "Tincan": "127.0.0.1:5800", "Controller": "127.0.0.1:5801",
               "KeyFile": "$d/control.key" },
  "Tincan": { "User": "nobody", "IdentityFile": "$d/identity.pem", "Log": { "Level": "debug" } },
  "Controller": {
    "StateDir": "$d/state", "AllowRoot": true, "Mode": "group", "Group": "lab",
    "Xmpp": { "Jid": "n1@ipop.test", "PasswordFile": "$d/turn.pw", "Host": "127.0.0.1", "Port": 9 },
    "Overlay": { "Id": "lab", "TapName": "ipop0", "Subnet": "10.254.7.0/24",
                 "Address": "10.254.7.1", "Stun": ["198.18.0.100:3478"],
                 "Turn": [{ "Address": "198.18.0.100:3478", "User": "turnuser",
                            "PasswordFile": "$d/turn.pw" }] },
    "Log": { "Level": "debug" } } }
JSON

netns_spawn a "$d/sniff.out" $PY "$IPOP_SRC_DIR/tests/tools/lo_sniff.py" "$d/sniff.txt" 120
SNIFF=$NETNS_LAST_PID
check "sniffer ready" wait_file "$d/sniff.txt" READY 5
netns_spawn a "$d/tincan.log" "$TINCAN" -c "$d/config.json"
TC_PID[a]=$NETNS_LAST_PID
ctl() { netns_exec a "$IPOPCTL" -k "$d/control.key" -s 127.0.0.1:5800 -t "$@"; }
probe() { local port=$1; shift; netns_exec a $PROBE "$d/control.key" 127.0.0.1 "$port" "$@"; }
req() { printf '{"version":1,"txid":%d,"kind":"request","name":"%s","body":%s}' "$1" "$2" "$3"; }
check "tincan answers" wait_until 10 ctl -T 0.5 echo up

# ICE secrets, while no controller is registered (ipopctl may then do it).
ctl -j call create_overlay '{"overlay_id":"man","node_id":"n1","tap_name":"man0","ip4":"10.254.8.1"}' >/dev/null
cands=$(ctl -j call query_candidates '{"overlay_id":"man","peer_id":"n2"}')
local_pwd=$(jq -r .pwd <<<"$cands")
check "query_candidates answered an ICE password" test "${#local_pwd}" -ge 22
body=$(jq -c --arg pwd "$peer_pwd" '{overlay_id:"man", peer_id:"n2", peer_fingerprint:.fingerprint,
  peer_ufrag:"abcd", peer_pwd:$pwd, peer_mac:"02:00:00:00:0a:02",
  peer_candidates:["candidate:1 1 UDP 2013266431 198.18.0.9 4000 typ host"]}' <<<"$cands")
check "create_link with the peer's ICE password accepted" eval 'ctl -j call create_link "$body" >/dev/null'

# A second client registers first (allowed: no controller yet); the
# controller, from the configured Control.Controller endpoint, takes over
# when it creates its overlay (with the TURN password).
out=$(probe 5800 json "$(req 9 register '{}')")
check "before the controller: a second client may register" grep -q '"result":{"message":"events go to 127.0.0.1:' <<<"$out"
netns_spawn a "$d/controller.log" "$CONTROLLER" -c "$d/config.json"
CT=$NETNS_LAST_PID
ready() { netns_exec a "$IPOPCTL" -k "$d/control.key" -s 127.0.0.1:5801 -j status 2>/dev/null |
          jq -e '.overlay_ready == true' >/dev/null; }
check "controller created its overlay" wait_until 20 ready
check "... and registered, taking the events back" wait_file "$d/tincan.log" 'controller registered \(events go to 127.0.0.1:5801\)' 10

# Second client with the key: hijack attempts.
out=$(probe 5800 json "$(req 1 register '{}')")
check "register from a second client refused" grep -q '"code":"permission".*registered at 127.0.0.1:5801' <<<"$out"
out=$(probe 5800 json "$(req 2 remove_overlay '{"overlay_id":"lab"}')")
check "remove_overlay of the controller's overlay refused" grep -q '"code":"permission"' <<<"$out"
out=$(probe 5800 json "$(req 3 create_link '{"overlay_id":"lab","peer_id":"x","peer_fingerprint":"sha-256 00","peer_ufrag":"abcd","peer_pwd":"0123456789012345678901","peer_candidates":["candidate:1 1 UDP 1 198.18.0.9 4000 typ host"]}')")
check "create_link on it refused (before its body is even parsed)" grep -q '"code":"permission"' <<<"$out"
out=$(probe 5800 json "$(req 4 query_overlay_info '{"overlay_id":"lab"}')")
check "queries allowed, overlay still there" grep -q '"result":{"overlay_id":"lab"' <<<"$out"
out=$(probe 5801 json '{"version":1,"txid":5,"kind":"event","name":"link_state","body":{"overlay_id":"lab","peer_id":"n9","state":"up","reason":"forged"}}')
check "controller refuses events not from tincan" \
  wait_file "$d/controller.log" 'refused link_state from 127.0.0.1:[0-9]+: event link_state: permission denied' 5

# Events keep going to the controller: a second client registering while
# holding its socket open receives none, a subscriber gets copies.
unknown() { netns_exec a "$IPOPCTL" -k "$d/control.key" -s 127.0.0.1:5801 -j stats | jq .unknown_dest_events; }
n0=$(unknown)
netns_spawn a "$d/hijack.out" $PROBE "$d/control.key" 127.0.0.1 5800 hold "$(req 6 register '{}')" 4
HJ=$NETNS_LAST_PID
netns_spawn a "$d/monitor.out" $PROBE "$d/control.key" 127.0.0.1 5800 hold "$(req 7 subscribe '{}')" 4
MON=$NETNS_LAST_PID
wait_file "$d/hijack.out" RESPONSE 5; wait_file "$d/monitor.out" RESPONSE 5
netns_exec a ping -c1 -W1 10.254.7.77 >/dev/null 2>&1 || true   # ARP: unknown_destination
more() { [ "$(unknown)" -gt "$n0" ]; }
check "the controller got the unknown_destination event" wait_until 10 more
wait_pid_gone "$HJ" 10; wait_pid_gone "$MON" 10
check "the would-be hijacker was refused and got no event" \
  sh -c "grep -q '\"code\":\"permission\"' '$d/hijack.out' && grep -qx 'END 0' '$d/hijack.out'"
check "the subscriber got a copy of it" grep -q '^EVENT .*"name":"unknown_destination".*10.254.7.77' "$d/monitor.out"

# Protocol 1 and replays of sniffed traffic are refused.
out=$(probe 5800 v1 "$(req 8 echo '{"message":"x"}')")
check "protocol-1 datagram refused (NAK 3)" test "$out" = "NAK 3"
kill -TERM "$SNIFF"; wait_pid_gone "$SNIFF" 5
n=$(grep -c '^[0-9]' "$d/sniff.txt" || true)
echo "# $n control datagrams captured on loopback"
check "the sniffer captured control traffic" test "$n" -gt 10
first=$(awk '$2 == 5800 && length($3) > 200 {print $3; exit}' "$d/sniff.txt")
out=$(probe 5800 raw "$first")
check "a sniffed request replayed is refused (NAK 2)" test "$out" = "NAK 2"
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
clear_in_capture() { grep -q "$(hex "$1")" "$d/sniff.txt"; }
check "TURN password not in clear on loopback" eval '! clear_in_capture "$turn_pw"'
check "our ICE password not in clear" eval '! clear_in_capture "$local_pwd"'
check "the peer's ICE password not in clear" eval '! clear_in_capture "$peer_pwd"'
check "no request name in clear either" eval '! clear_in_capture create_overlay && ! clear_in_capture query_candidates'

kill -TERM "$CT"
check "controller exits on SIGTERM" wait_until 10 eval '! kill -0 $CT 2>/dev/null'
check "controller: no sanitizer report" sh -c "! grep -Eq 'Sanitizer|runtime error' '$d/controller.log'"
tc_log() { echo "$d/tincan.log"; }
tc_finish
