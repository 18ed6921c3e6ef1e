#!/usr/bin/env bash
# Failover (issue #17): one.test is a two-node ejabberd cluster (two
# namespaces, one Mnesia cluster: accounts, rosters and sessions shared)
# behind SRV records of different priority; two.test is Prosody, whose
# first _xmpp-client target is a host that is down (packets to it vanish).
# Nodes know only their JID.
#   DNS  one.test  _xmpp-client/_xmpp-server: 10 xmpp1 (ej1), 20 xmpp2 (ej2)
#        two.test  _xmpp-client: 5 down.two.test (silent), 10 xmpp.two.test
#   alice, carol, dave @one.test; bob @two.test; friends: alice with
#   everyone, bob with dave
#   1. bob starts although his first SRV target is down; alice and carol
#      are on ej1 (priority 10); links alice-bob (across servers) and
#      alice-carol are up
#   2. ej1 is killed (SIGKILL: the node that alice and carol use); dave's
#      controller starts at the same moment (ej1, his first target, down):
#      - alice and carol reconnect to ej2 within their backoff
#      - alice's links keep passing traffic throughout (a ping every 0.2 s)
#      - presence resumes (bob sees alice's new resource over ej2's s2s)
#      - signaling resumes: dave's new links to alice (same cluster) and
#        to bob (across servers) are negotiated
#   3. ej1 comes back (rejoins the cluster with its data); ej2, now used by
#      alice, carol and dave, goes silent (a machine that died: its packets
#      vanish, no RST).  The controllers notice by XEP-0199 ping
#      (PingInterval 20 s) and move back to ej1; ej1 counts ej2 as down
#      after its net_ticktime (6 s here, 60 by default) and routes again:
#      bob sees alice's new resource; erin@one.test, starting now, links
#      with alice; alice's links keep passing traffic.
#   The failover times are measured from the controllers' timestamped logs:
#   ej1's death -> alice online again -> first new link up; the same for
#   ej2's silence.
#   Not checked: new signaling from two.test towards one.test after a
#   silent death: Prosody keeps its s2s stream to the dead ej2 until TCP
#   gives up (docs/deployment.md).
set -euo pipefail
. "$(dirname "$0")/federation_helpers.sh"
fb_skip_unless_ready
netns_init

t_start=$(date +%s%N)
# A cluster node counts a silent peer node as down after 4.5-7.5 s; the
# controllers notice a silent server after 10-20 s (PingInterval 20).  The
# order matters: presence sent through the survivor before it has counted
# the dead node out is routed to the dead node and lost.
FB_TICKTIME=6
export CT_PING=20
fb_init
fb_server ej1 ejabberd one.test 198.18.0.2
fb_server ej2 ejabberd one.test 198.18.0.3
fb_server pr prosody two.test 198.18.0.4
fb_dns_xmpp one.test "10 xmpp1 198.18.0.2" "20 xmpp2 198.18.0.3"
fb_dns_xmpp two.test "10 xmpp 198.18.0.4"
dns_a down.two.test 198.19.0.99
dns_srv _xmpp-client._tcp.two.test down.two.test 5222 5
fb_dns_start
# Both ejabberd nodes boot side by side (a second each), then ej2 joins.
fb_start ej1 & p1=$!
fb_start ej2 & p2=$!
wait "$p1" && wait "$p2"
t_join=$(date +%s%N)
fb_join ej2 ej1
echo "# ej2 joins ej1's cluster: $(( ($(date +%s%N) - t_join) / 1000000 )) ms"
fb_users ej1 alice carol dave erin
fb_users pr bob
fb_friends "alice@one.test carol@one.test" "alice@one.test dave@one.test" \
  "alice@one.test bob@two.test" "bob@two.test dave@one.test" "alice@one.test erin@one.test"
fb_start pr
echo "# servers, cluster and DNS ready: $(( ($(date +%s%N) - t_start) / 1000000 )) ms"
# shellcheck disable=SC2016  # expands in ej2's namespace
check "the cluster has both nodes" fb_xs ej2 'xs_ejabberdctl "$dir" list_cluster | grep -q 198.18.0.2'

export CT_LOG_FILE=1   # state/controller.tlog: timestamped, for the measurements
fb_node alice 198.18.0.11 alice@one.test social ''
fb_node carol 198.18.0.12 carol@one.test social ''
fb_node bob 198.18.0.13 bob@two.test social ''
fb_node dave 198.18.0.14 dave@one.test social ''
fb_node erin 198.18.0.15 erin@one.test social ''
for h in alice carol bob; do ct_controller_start "$h"; done
tlog() { echo "$(ct_dir "$1")/state/controller.tlog"; }

echo "# 1. start: bob's first SRV target is down; alice and carol on ej1"
for h in alice carol bob; do check "$h online" ct_wait_online "$h" 30; done
check "bob left the silent target after 4 s" \
  grep -q "connect failed: 198.19.0.99:5222: no answer within 4000 ms" "$(tlog bob)"
check "bob is on Prosody (priority 10)" grep -q "connected to 198.18.0.4:5222" "$(tlog bob)"
# ms_of LINE: the UTC timestamp of a log line in ms since the epoch
ms_of() { date -u -d "$(cut -c1-23 <<<"$1" | tr T ' ')" +%s%3N; }
b0=$(ms_of "$(grep -m1 'connecting to SRV of two.test' "$(tlog bob)")")
b1=$(ms_of "$(grep -m1 'online as' "$(tlog bob)")")
echo "# bob: SRV lookup -> online, first target silent: $((b1 - b0)) ms"
check "alice is on ej1 (priority 10)" grep -q "connected to 198.18.0.2:5222" "$(tlog alice)"
check "carol is on ej1" grep -q "connected to 198.18.0.2:5222" "$(tlog carol)"
mapped() { ct_mapped "$1" "$2@" up; }   # a friend's address while the link is up
has_mapped() { ct_has_mapped "$1" "$2@" up; }
check "alice-bob link up (across servers)" wait_until 30 has_mapped alice bob
check "alice-carol link up" wait_until 30 has_mapped alice carol
ab=$(mapped alice bob) ac=$(mapped alice carol)
check "alice pings bob at $ab" wait_ping alice "$ab" 20
check "alice pings carol at $ac" wait_ping alice "$ac" 20
alice_jid0=$(ct_status alice jid)

echo "# 2. ej1 dies"
# A ping every 0.2 s from alice to bob and to carol across the failover.
netns_spawn alice "$NETNS_TMPDIR/ping-bob.txt" ping -n -O -i 0.2 "$ab"
ping_bob=$NETNS_LAST_PID
netns_spawn alice "$NETNS_TMPDIR/ping-carol.txt" ping -n -O -i 0.2 "$ac"
ping_carol=$NETNS_LAST_PID
replies() { grep -c "bytes from" "$NETNS_TMPDIR/ping-$1.txt" || true; }
some_replies() { [ "$(replies "$1")" -ge "$2" ]; }
check "pings flow before the kill" wait_until 5 some_replies bob 3
n_online=$(grep -c "online as" "$(tlog alice)")
t_kill=$(date -u +%s%3N)
fb_kill ej1
ct_controller_start dave
online_again() { [ "$(grep -c "online as" "$(tlog "$1")")" -gt "$2" ]; }
check "alice online again" wait_until 30 online_again alice "$n_online"
check "carol online again" wait_until 30 online_again carol 1
check "dave online (ej1, his first target, down)" ct_wait_online dave 30
check "alice is on ej2 now" grep -q "connected to 198.18.0.3:5222" "$(tlog alice)"
check "carol is on ej2 now" grep -q "connected to 198.18.0.3:5222" "$(tlog carol)"
check "dave is on ej2" grep -q "connected to 198.18.0.3:5222" "$(tlog dave)"
alice_jid1=$(ct_status alice jid)
check "alice has a new resource ($alice_jid1)" test "$alice_jid1" != "$alice_jid0"
sees_alice() { ct_ctl "$1" -j peers | jq -e --arg j "$alice_jid1" '.peers[] | select(.jid == $j)'; }
check "bob sees alice's new resource (presence over ej2's s2s)" wait_until 30 sees_alice bob
check "carol sees alice's new resource" wait_until 30 sees_alice carol
check "dave-alice: new link" wait_until 60 has_mapped dave alice
check "dave-bob: new link across servers" wait_until 60 has_mapped dave bob
check "dave pings alice" wait_ping dave "$(mapped dave alice)" 20
check "dave pings bob" wait_ping dave "$(mapped dave bob)" 20
# Lost pings: those sent from the kill until now, less the replies.
n_bob=$(replies bob) n_carol=$(replies carol)
netns_kill "$ping_bob"
netns_kill "$ping_carol"
lost_bob=$(grep -c "no answer yet" "$NETNS_TMPDIR/ping-bob.txt" || true)
lost_carol=$(grep -c "no answer yet" "$NETNS_TMPDIR/ping-carol.txt" || true)
echo "# pings during the failover: alice->bob $n_bob answered, $lost_bob unanswered;" \
  "alice->carol $n_carol answered, $lost_carol unanswered"
check "alice->bob kept passing traffic" test "$lost_bob" -le 1
check "alice->carol kept passing traffic" test "$lost_carol" -le 1
check "alice's tincan removed no link" sh -c "! grep -q 'link lab/.* removed' $(tc_log alice)"

t_online=$(ms_of "$(grep 'online as' "$(tlog alice)" | sed -n "$((n_online + 1))p")")
l=$(grep -E "link: link to (dave@one.test|alice@one.test)[^ ]* .* is up" "$(tlog dave)" | head -1)
t_link=$(ms_of "$l")
echo "# FAILOVER: ej1 killed -> alice online on ej2: $((t_online - t_kill)) ms;" \
  "-> first new link (dave-alice) up: $((t_link - t_kill)) ms"
grep -E "disconnected|reconnecting|connect failed|connected to|online as" "$(tlog alice)" |
  tail -n 4 | sed 's/^/# alice: /'

echo "# 3. ej1 comes back; ej2 goes silent"
t0=$(date +%s%N)
fb_start ej1
echo "# ej1 restarted, back in the cluster: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
: >"$NETNS_TMPDIR/ping-bob.txt"
netns_spawn alice "$NETNS_TMPDIR/ping-bob.txt" ping -n -O -i 0.2 "$ab"
ping_bob=$NETNS_LAST_PID
check "pings flow" wait_until 5 some_replies bob 3
n_online=$(grep -c "online as" "$(tlog alice)")
n_carol=$(grep -c "online as" "$(tlog carol)")
n_dave=$(grep -c "online as" "$(tlog dave)")
t_cut=$(date -u +%s%3N)
netns_cut ej2
ct_controller_start erin
check "alice online again (ping timeout, then ej1)" wait_until 30 online_again alice "$n_online"
check "carol online again" wait_until 30 online_again carol "$n_carol"
check "dave online again" wait_until 30 online_again dave "$n_dave"
check "alice is on ej1" sh -c "grep 'connected to' $(tlog alice) | tail -1 | grep -q 198.18.0.2:5222"
check "alice noticed by ping" grep -q "disconnected (ping timeout)" "$(tlog alice)"
alice_jid1=$(ct_status alice jid)
check "bob sees alice's new resource (ej1 counted ej2 down)" wait_until 30 sees_alice bob
t_seen=$(date -u +%s%3N)
check "erin-alice: new link" wait_until 60 has_mapped erin alice
check "erin pings alice" wait_ping erin "$(mapped erin alice)" 20
n_bob=$(replies bob)
netns_kill "$ping_bob"
lost_bob=$(grep -c "no answer yet" "$NETNS_TMPDIR/ping-bob.txt" || true)
echo "# pings during the silent failover: alice->bob $n_bob answered, $lost_bob unanswered"
check "alice->bob kept passing traffic" test "$lost_bob" -le 1
t_online=$(ms_of "$(grep 'online as' "$(tlog alice)" | sed -n "$((n_online + 1))p")")
t_link=$(ms_of "$(grep -E "link: link to alice@one.test[^ ]* .* is up" "$(tlog erin)" | head -1)")
echo "# SILENT FAILOVER: ej2 silent -> alice online on ej1: $((t_online - t_cut)) ms;" \
  "-> erin-alice link up: $((t_link - t_cut)) ms; -> bob sees alice (polled): $((t_seen - t_cut)) ms"
ct_finish
echo "# whole test: $(( ($(date +%s%N) - t_start) / 1000000 )) ms"
