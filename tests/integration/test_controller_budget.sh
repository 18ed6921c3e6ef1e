#!/usr/bin/env bash
# ipop-controller GroupVPN above the link budget (issue 5, test 4; issue
# 15): six members with LinkBudget 2 form a ring (2 links each); every
# other pair talks at once through the ring (tincan forwards along the
# routes the controllers install; ARP for members is answered locally), so
# light traffic opens no link.  A heavy pair (more than HeavyPairBytes
# forwarded within HeavyPairWindow) gets an on-demand link, its traffic
# moves onto it, and the idle link is trimmed back to the ring.
# IPv6 too: once the ring is back, n1 pings every member's IPv6 address
# through it; tincan answers the Neighbor Solicitations for members
# (nd_answered) and opens no on-demand link for that light traffic.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
netns_init

netns_segment pub
ct_xmpp_start
nodes=(n1 n2 n3 n4 n5 n6)
ct_xmpp_users "${nodes[@]}"
ct_xmpp_friends lab "${nodes[@]}"
i=51
for h in "${nodes[@]}"; do
  ct_node "$h" "198.18.0.$i" group \
    '"Group": "lab", "LinkBudget": 2, "PlanInterval": 2, "OnDemandIdle": 10, "LinkSetupTimeout": 20, "HeavyPairBytes": 100000, "HeavyPairWindow": 10'
  i=$((i + 1))
done
for h in "${nodes[@]}"; do ct_controller_start "$h"; done
for h in "${nodes[@]}"; do check "$h online" ct_wait_online "$h" 40; done
declare -A addr
for h in "${nodes[@]}"; do
  addr[$h]=$(ct_status "$h" ip4)
done
ring() { local h; for h in "${nodes[@]}"; do [ "$(ct_links_up "$h")" = 2 ] || return 1; done; }
check "every node has exactly 2 links (the ring)" wait_until 90 ring
for h in "${nodes[@]}"; do printf '%s:%s ' "$h" "$(ct_links_up "$h")"; done | sed 's/^/# links up: /'; echo
[ "$TC_FAILS" -eq 0 ] || { ct_finish || true; exit 1; }

t0=$(date +%s%N)
for a in "${nodes[@]}"; do
  for b in "${nodes[@]}"; do
    [ "$a" = "$b" ] && continue
    check "$a pings $b" wait_ping "$a" "${addr[$b]}" 30
  done
done
echo "# all 30 pairs reached through the ring: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
for h in "${nodes[@]}"; do printf '%s:%s ' "$h" "$(ct_links_up "$h")"; done | sed 's/^/# links up: /'; echo
check "light traffic opened no link (forwarded)" ring
check "n1 opened no on-demand link" bash -c "! grep -q 'opening an on-demand link' '$(ct_log n1)'"
fwd_total() {
  local h t=0 f
  for h in "${nodes[@]}"; do
    f=$(tc_call "$h" query_overlay_info '{"overlay_id":"lab"}' | jq '.forwarded // 0')
    t=$((t + f))
  done
  echo "$t"
}
total=$(fwd_total)
check "frames were forwarded ($total)" test "$total" -gt 0

# A heavy pair: n1 and a member it has no link to.
mine=$(tc_call n1 query_link_stats '{"overlay_id":"lab"}' | jq -r '.links[].peer_id')
far=""
for h in n2 n3 n4 n5 n6; do
  grep -q "$(ct_status "$h" node_id)" <<<"$mine" || { far=$h; break; }
done
echo "# heavy pair: n1 -> $far"
farid=$(ct_status "$far" node_id)
netns_exec n1 ping -q -c 400 -i 0.005 -s 1200 "${addr[$far]}" >/dev/null || true
direct() { tc_call n1 query_link_stats '{"overlay_id":"lab"}' |
  jq -e --arg p "$farid" '.links[] | select(.peer_id==$p and .state=="up")' >/dev/null; }
check "the heavy pair got a direct link" wait_until 30 direct
# Either end may open it first: the replies are just as heavy.
check "n1 or $far logged it" grep -q "heavy forwarded traffic for .* opening an on-demand link" \
  "$(ct_log n1)" "$(ct_log "$far")"
rxp() { tc_call n1 query_link_stats "{\"overlay_id\":\"lab\",\"peer_id\":\"$farid\"}" | jq '.links[0].rx_packets'; }
rx0=$(rxp)
netns_exec n1 ping -q -c 20 -i 0.05 "${addr[$far]}" >/dev/null
rx1=$(rxp)
check "its traffic moved onto it ($rx0 -> $rx1 packets)" test $((rx1 - rx0)) -ge 20
check "idle on-demand links are trimmed back to the ring" wait_until 120 ring

declare -A addr6
for h in "${nodes[@]}"; do addr6[$h]=$(ct_status "$h" ip6); done
od0=$(grep -c "opening an on-demand link" "$(ct_log n1)")
nd() { tc_call n1 query_overlay_info '{"overlay_id":"lab"}' | jq '.nd_answered // 0'; }
nd0=$(nd)
for b in n2 n3 n4 n5 n6; do
  check "n1 pings6 $b (${addr6[$b]})" wait_ping n1 "${addr6[$b]}" 30
done
check "n1's tincan answered Neighbor Solicitations for members ($nd0 -> $(nd))" \
  test "$(nd)" -gt "$nd0"
check "no on-demand link for IPv6 traffic" \
  test "$(grep -c "opening an on-demand link" "$(ct_log n1)")" = "$od0"
check "still the ring" ring
ct_finish
