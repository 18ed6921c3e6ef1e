#!/usr/bin/env bash
# ipop-tincan: path choice and roaming (issue 13), on one test bed:
#   a   behind a cone NAT router ra (198.18.0.1, later also 198.18.0.3)
#   b   routed: directly on the public segment (198.18.0.20)
#   srv coturn (198.18.0.100), with a default route like an Internet host
#   c   next to a behind ra (198.19.1.11)
#   x   an attacker on the public segment (198.18.0.66)
# Checks:
#   relay "always": a offers relayed candidates only, the pair is relayed;
#   relay "never": a offers no relayed candidate and ignores b's; with the
#     direct path blocked the link fails instead of using the relay;
#   roaming: with ping running, ra's NAT moves a to a new public address
#     (SNAT to 198.18.0.3, conntrack flushed); b follows a's authenticated
#     records to it, the link never goes down, ping goes on; garbage and a
#     record-looking datagram from x do not move b;
#   same LAN: a and c link over their host candidates, not the relay;
#   one session over changing paths: upgrade, relay loss, fallback.
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
. "$IPOP_SRC_DIR/tests/lib/coturn.sh"
tc_skip_unless_ready
coturn_available || { echo "skip: coturn not installed"; exit 77; }
command -v conntrack >/dev/null || { echo "skip: conntrack not installed"; exit 77; }
netns_init

. "$(dirname "$0")/paths_bed.sh"
paths_bed
netns_host x; netns_attach x pub 198.18.0.66/24
tc_listen a; tc_listen b
turn=$PATHS_TURN

relink() { # RELAY_OF_A
  tc_call a remove_link '{"overlay_id":"ov","peer_id":"node-b"}' >/dev/null 2>&1 || true
  tc_call b remove_link '{"overlay_id":"ov","peer_id":"node-a"}' >/dev/null 2>&1 || true
  ca=$(tc_candidates a node-b "$1")
  cb=$(tc_candidates b node-a)
  tc_create_link a node-b "$cb" >/dev/null
  tc_create_link b node-a "$ca" >/dev/null
}

# --- relay "always" ---------------------------------------------------------
relink always
types=$(jq -r '.candidates[]' <<<"$ca" | awk '{print $8}' | sort -u | tr '\n' ' ')
echo "# always: a offers: $types"
check "always: a offers relayed candidates only" test "$types" = "relay "
check "always: link up" tc_wait_state a node-b up 30
check "always: pair is relayed" test "$(tc_stat a node-b pair_type)" = relay
check "always: ping crosses" wait_ping a 10.254.0.2 10
# a's end of the pair is its relayed candidate: once up, tincan runs the
# relay itself (turnchan.h): a TURN channel on libnice's allocation socket.
has_channel() { [ "$(tc_stat a node-b relay_channel)" -gt 0 ]; }
check "always: a's relayed path is on tincan's own socket (channel bound)" wait_until 10 has_channel
check "always: a logged the channel" grep -Eq 'turn 198.18.0.100:3478: channel 0x4[0-9a-f]{3} bound to' "$(tc_log a)"
check "always: a no longer sends through libnice" grep -q 'dataplane on the selected socket' "$(tc_log a)"
check "always: ping crosses tincan's relay" wait_ping a 10.254.0.2 10
# Hostile datagrams to that socket from a local attacker (not the TURN
# server's address): ChannelData on our channel, on another channel, a
# short and an oversized one, a Data indication, junk.  Each is dropped
# and counted; the link stays up.
port=$(netns_exec a ss -Hunap | awk '/ipop-tincan/ && $4 ~ /^198\.19\.1\.10:/ {sub(/.*:/, "", $4); print $4; exit}')
ch=$(tc_stat a node-b relay_channel)
d0=$(tc_stat a node-b relay_dropped)
netns_exec a python3 - "$port" "$ch" <<'PY'
import socket, struct, sys
port, ch = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for d in (struct.pack('!HH', ch, 100) + b'x' * 100, struct.pack('!HH', ch + 1, 4) + b'abcd',
          struct.pack('!HH', ch, 2000) + b'y' * 8, struct.pack('!HH', ch, 0), b'\x40',
          b'\x00\x17\x00\x00\x21\x12\xa4\x42' + b'z' * 12, b'\xff' * 64):
    s.sendto(d, ('198.19.1.10', port))
PY
dropped() { [ "$(tc_stat a node-b relay_dropped)" -ge $((d0 + 7)) ]; }
echo "# always: a's TURN socket port $port, channel $ch"
check "always: 7 forged datagrams dropped and counted" wait_until 5 dropped
check "always: link still up after them" test "$(tc_stat a node-b state)" = up
check "always: ping still crosses" wait_ping a 10.254.0.2 10
out=$(tc_call a query_candidates '{"overlay_id":"ov","peer_id":"nobody","relay":"bogus"}' 2>&1 || true)
check "a bad relay value names the field" grep -q 'relay' <<<"$out"

# --- relay "never" ----------------------------------------------------------
relink never
no_relay() { ! jq -r '.candidates[]' <<<"$ca" | grep -q 'typ relay'; }
check "never: a offers no relayed candidate" no_relay
check "never: b does (so a must ignore them)" grep -q 'typ relay' <<<"$cb"
check "never: link up" tc_wait_state a node-b up 30
check "never: pair is not relayed" test "$(tc_stat a node-b pair_type)" != relay
# Direct UDP between a and b blocked at a's router (TURN still reachable):
paths_block
relink never
check "never + direct blocked: the link fails instead of relaying" tc_wait_state a node-b failed 40
relink auto
check "auto + direct blocked: the link comes up relayed" tc_wait_state a node-b up 30
check "auto + direct blocked: pair is relayed" test "$(tc_stat a node-b pair_type)" = relay

# --- a failed ICE run names the TURN server's error -------------------------
# Direct still blocked, and both ends with a wrong TURN password: nothing
# can work; a's link fails with the candidates and the server's 401.
badturn="{\"address\":\"198.18.0.100:3478\",\"user\":\"$COTURN_USER\",\"password\":\"wrong\"}"
for h in a b; do
  n=$([ $h = a ] && echo node-a || echo node-b); ip=$([ $h = a ] && echo 10.253.0.1 || echo 10.253.0.2)
  TC_OVERLAY=bad TC_OVERLAY_EXTRA=",\"turn\":[$badturn]" tc_overlay $h $n $ip "" ipop9 >/dev/null
done
TC_OVERLAY=bad
tc_link a node-a b node-b
check "failed ICE: the link fails" tc_wait_state a node-b failed 40
TC_OVERLAY=ov
st=$(tc_call a query_link_stats '{"overlay_id":"bad","peer_id":"node-b"}')
echo "# failed ICE: reason: $(jq -r '.links[0].reason' <<<"$st")"
check "failed ICE: links names the TURN server's 401" \
  grep -q 'ice .*turn 198.18.0.100:3478 (udp): allocation refused: 401' <<<"$(jq -r '.links[0].reason' <<<"$st")"
check "failed ICE: links lists our candidates" \
  grep -q 'host 198.19.1.10' <<<"$(jq -r '.links[0].local_candidates[]' <<<"$st")"
check "failed ICE: links lists the peer's candidates" \
  grep -q 'host 198.18.0.20' <<<"$(jq -r '.links[0].remote_candidates[]' <<<"$st")"
check "failed ICE: the log says it at info level" \
  grep -Eq 'info +tincan: link bad/node-b: ice .*local candidates: host 198.19.1.10' "$(tc_log a)"
for h in a b; do tc_call $h remove_overlay '{"overlay_id":"bad"}' >/dev/null; done

# --- one session over changing paths: upgrade, relay loss, fallback ---------
# The relayed link of "auto + direct blocked" is still up, with ping
# running.  Unblocking direct UDP upgrades it in place; stopping coturn
# under the now direct link costs nothing; once coturn is back the standby
# relay is made again, and blocking direct UDP again falls back to it.  No
# new DTLS handshake, no "down" event, all along.
is_relay() { [ "$(tc_stat "$1" "node-$2" pair_type)" = relay ]; }
not_relay() { ! is_relay "$@"; }
dtls_ups() { grep -c 'dtls up' "$(tc_log a)" || true; }
downs() { grep -c '"state":"down"' "$(tc_events a)" || true; }
dtls0=$(dtls_ups); down0=$(downs)
netns_exec a sh -c 'exec ping -i 0.2 -w 240 10.254.0.2' >"$NETNS_TMPDIR/paths-ping.txt" 2>&1 &
ppid=$!
netns_defer kill "$ppid"
pings() { grep -c 'bytes from' "$NETNS_TMPDIR/paths-ping.txt" || true; }
more_pings() { local n0=$1; [ "$(pings)" -gt $((n0 + 10)) ]; }
check "session: ping crosses the relay" wait_until 10 more_pings 0
t0=$(date +%s%N)
paths_unblock
check "upgrade: a's records leave by a direct path" wait_until 60 not_relay a b
echo "# upgrade: direct after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "upgrade: b's too" wait_until 20 not_relay b a
check "upgrade: ping goes on" wait_until 10 more_pings "$(pings)"
coturn_stop turn
check "relay lost: ping goes on over the direct path" wait_until 10 more_pings "$(pings)"
coturn_start turn srv 198.18.0.100
coturn_wait turn 10
r0=$(grep -c 'relayed path ready in slot' "$(tc_log a)" || true)
more_ready() { [ "$(grep -c 'relayed path ready in slot' "$(tc_log a)" || true)" -gt "$r0" ]; }
check "relay back: the standby relay is made again" wait_until 90 more_ready
paths_block
t0=$(date +%s%N)
check "fallback: a's records leave by the relay" wait_until 15 is_relay a b
echo "# fallback: relay after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "fallback: ping goes on" wait_until 15 more_pings "$(pings)"
check "session: no new DTLS handshake" test "$(dtls_ups)" = "$dtls0"
check "session: the link never went down" test "$(downs)" = "$down0"
kill "$ppid" 2>/dev/null || true
paths_unblock

# --- same LAN: host candidates win ------------------------------------------
# c sits next to a behind ra; with STUN and TURN configured, ICE's type
# preference (host > srflx > relay) and regular nomination pick the pair of
# host candidates, and the path manager then keeps the relay as standby
# without moving the records.
netns_host c; netns_attach c la 198.19.1.11/24; netns_route_default c 198.19.1.1
tc_start c
TC_OVERLAY_EXTRA=",\"stun\":[\"198.18.0.100:3478\"],\"turn\":[$turn]" tc_overlay c node-c 10.254.0.3 >/dev/null
tc_link a node-a c node-c
check "same LAN: link up" tc_wait_state a node-c up 30
check "same LAN: the pair is host to host" test "$(tc_stat a node-c pair_type)" = host
check "same LAN: ping crosses" wait_ping a 10.254.0.3 5
check "same LAN: still host after the standby is made" \
  wait_until 20 sh -c "grep -q 'link ov/node-c: relayed path ready' $(tc_log a)"
check "same LAN: records still leave by the host pair" test "$(tc_stat a node-c pair_type)" = host
tc_call a remove_link '{"overlay_id":"ov","peer_id":"node-c"}' >/dev/null

# --- roaming: a's NAT rebinds to a new public address ----------------------
relink auto
check "roam: link up" tc_wait_state a node-b up 30
check "roam: pair is direct" test "$(tc_stat a node-b pair_type)" != relay
check "roam: ping crosses" wait_ping a 10.254.0.2 5
before=$(tc_stat b node-a remote_addr)
blocal=$(tc_stat b node-a local_addr)
echo "# roam: b sees a at $before, b's socket $blocal"
# An attacker sends garbage and a record-looking datagram to b's socket.
netns_exec x python3 - "${blocal%:*}" "${blocal##*:}" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for d in (b"garbage", bytes([0x17, 0xfe, 0xfd]) + os.urandom(60), bytes([0x80]) + os.urandom(80)):
    for _ in range(20):
        s.sendto(d, (sys.argv[1], int(sys.argv[2])))
PY
check "roam: datagrams from x do not move b" test "$(tc_stat b node-a remote_addr)" = "$before"
down_before=$(grep -c '"state":"down"' "$(tc_events b)" || true)
netns_exec a sh -c 'exec ping -i 0.1 -w 30 10.254.0.2' >"$NETNS_TMPDIR/roam-ping.txt" 2>&1 &
pingpid=$!
netns_defer kill "$pingpid"
wait_until 5 sh -c "grep -q 'bytes from' $NETNS_TMPDIR/roam-ping.txt"
paths_rebind
moved() { case $(tc_stat b node-a remote_addr) in 198.18.0.3:*) return 0;; esac; return 1; }
check "roam: b follows a to 198.18.0.3" wait_until 15 moved
echo "# roam: b now sends to $(tc_stat b node-a remote_addr)"
check "roam: b logged the move" wait_file "$(tc_log b)" 'the peer moved from .* to 198.18.0.3' 5
n0=$(grep -c 'bytes from' "$NETNS_TMPDIR/roam-ping.txt" || true)
check "roam: ping goes on after the move" wait_until 10 \
  sh -c "[ \$(grep -c 'bytes from' $NETNS_TMPDIR/roam-ping.txt) -gt $((n0 + 10)) ]"
check "roam: the link never went down" \
  test "$(grep -c '"state":"down"' "$(tc_events b)" || true)" = "$down_before"
check "roam: link up on both sides" sh -c "[ $(tc_stat a node-b state) = up ] && [ $(tc_stat b node-a state) = up ]"
kill "$pingpid" 2>/dev/null || true
tc_finish
