#!/usr/bin/env bash
# ipop-controller against a hostile peer (issue 5, test 7): mallory, a
# member of the group on the roster, runs a plain XMPP client (slixmpp,
# tests/integration/controller_hostile.py) that announces a node id and
# sends n1 malformed, oversized and forged signaling messages plus a flood
# of requests.  n1's controller keeps running, counts and logs them, and its
# link to n2 keeps working.  Then the hostile-stanza battery (issue 16).
# Against ejabberd; test_controller_hostile_prosody.sh runs it on Prosody.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
/usr/bin/python3 -c 'import slixmpp' 2>/dev/null || { echo "skip: python3-slixmpp missing"; exit 77; }
netns_init

netns_segment pub
ct_xmpp_start
ct_xmpp_users n1 n2 mallory
ct_xmpp_friends lab n1 n2 mallory
ct_xmpp_ready
ct_node n1 198.18.0.41 group '"Group": "lab"'
ct_node n2 198.18.0.42 group '"Group": "lab"'
netns_host m; netns_attach m pub 198.18.0.66/24
for h in n1 n2; do ct_controller_start "$h"; done
for h in n1 n2; do check "$h online" ct_wait_online "$h" 30; done
a2=$(ct_status n2 ip4)
check "n1 pings n2" wait_ping n1 "$a2" 60

netns_exec m /usr/bin/python3 "$IPOP_SRC_DIR/tests/integration/controller_hostile.py" \
  "mallory@$CT_DOMAIN" pw-mallory "$CT_XMPP_ADDR" "$CT_XMPP_PORT" "$CT_XS_DIR/pki/ca.pem" \
  "n1@$CT_DOMAIN" >"$NETNS_TMPDIR/hostile.log" 2>&1 || true
sed 's/^/# mallory: /' "$NETNS_TMPDIR/hostile.log" | grep -v "^# mallory: sent: " || true
check "the hostile client ran to the end" grep -q '^done' "$NETNS_TMPDIR/hostile.log"
check "n1's controller is still running" kill -0 "${CT_PID[n1]}"
check "n1 still answers ipopctl" ct_status n1 version
ct_ctl n1 stats | sed 's/^/# n1 counters: /'
bad=$(ct_ctl n1 -j stats | jq '.neg_bad + .neg_ignored + .signals_bad')
check "n1 counted the bad messages ($bad)" test "$bad" -ge 10
check "n1 logged refusals naming the field" grep -q 'from mallory@.* refused: ' "$(ct_log n1)"
grep -h 'refused: \|suppressed' "$(ct_log n1)" | head -n 8 | sed 's/^/# n1 log: /'
check "n1 still pings n2" wait_ping n1 "$a2" 10
check "n1 is online" ct_wait_online n1 30

# The hostile-stanza battery (issue 16): stanzas beyond a limit inside one
# stanza cost only themselves.  n1 keeps its stream (same resource, no
# reconnect), its link to n2 (not made again) and its pings; it counts
# them (ipopctl stats: xmpp_stanzas_skipped) and names mallory in its log;
# the deep request gets a policy-violation error.  Prosody relays 10,000
# levels; ejabberd 23.01 crashes past ~4,000, so 2,000 there.
depth=2000
[ "$CT_XMPP_KIND" = prosody ] && depth=10000
jid0=$(ct_status n1 jid)
rec0=$(ct_ctl n1 -j stats | jq .xmpp_reconnects)
links0=$(ct_ctl n1 -j stats | jq .links_created)
netns_exec m /usr/bin/python3 "$IPOP_SRC_DIR/tests/integration/controller_hostile.py" \
  "mallory@$CT_DOMAIN" pw-mallory "$CT_XMPP_ADDR" "$CT_XMPP_PORT" "$CT_XS_DIR/pki/ca.pem" \
  "n1@$CT_DOMAIN" --battery "$depth" >"$NETNS_TMPDIR/hostile2.log" 2>&1 || true
sed 's/^/# mallory: /' "$NETNS_TMPDIR/hostile2.log"
check "the battery was relayed" grep -q '^battery relayed' "$NETNS_TMPDIR/hostile2.log"
check "the deep request got policy-violation" \
  grep -q '^iq answered: error policy-violation' "$NETNS_TMPDIR/hostile2.log"
skipped() { [ "$(ct_ctl n1 -j stats | jq .xmpp_stanzas_skipped)" -ge 506 ]; }
check "n1 skipped and counted 506 stanzas" wait_until 20 skipped
check "n1 logged the sender" \
  grep -q "skipped a <message/> from mallory@$CT_DOMAIN/.*nesting of <a/> over the limit of 64" "$(ct_log n1)"
check "n1 kept its resource ($jid0)" test "$(ct_status n1 jid)" = "$jid0"
check "n1's XMPP client did not reconnect" test "$(ct_ctl n1 -j stats | jq .xmpp_reconnects)" = "$rec0"
check "n1 made no link again" test "$(ct_ctl n1 -j stats | jq .links_created)" = "$links0"
check "n1 pings n2 afterwards" wait_ping n1 "$a2" 5
check "n1's controller is still running after all" kill -0 "${CT_PID[n1]}"
ct_finish
