#!/usr/bin/env bash
# bench/groups64.sh - a large GroupVPN as a new user would run it (issue 15):
# N members (default 64) in namespaces, one ejabberd, one shared roster
# group, default settings (LinkBudget 32: ring + long-distance links, and
# forwarding through them).  Prints a table and "bench_groups_<metric>
# value" lines:
#   - join: from the last start until every controller sees every other;
#   - settled: until every member's links stayed the same for 5 s and its
#     tincan has a next hop for every other member;
#   - links per node (min, median, max) and the budget;
#   - first ping: for every ordered pair (BENCH_ALL_PAIRS=1), or a random
#     sample of BENCH_PAIRS (default 1000) ordered pairs drawn with
#     RANDOM seeded by BENCH_SEED (default 15): answered on the first try
#     (ping -c1 -W2), and its time (median, 90th percentile, max); for a
#     pair that did not answer, what both ends had (neighbour entry, link,
#     routes, drop counters) and whether a second ping answers;
#   - hops: mean hops of the frames members received through others
#     (tincan's routed_in_hops / routed_in), and the share of pairs that
#     have a direct link;
#   - throughput (iperf3 -t BENCH_IPERF_S, default 5): one pair over a
#     direct link, one pair whose route has one intermediate member;
#   - tincan and controller RSS (median, max) and idle CPU over 10 s (sum
#     over all processes, in % of one core);
#   - "over_budget" refusals logged by the controllers.
#
#   sudo bench/groups64.sh                   # 64 members
#   sudo GROUPS_N=16 bench/groups64.sh       # fewer
#   sudo BENCH_ALL_PAIRS=1 bench/groups64.sh # all 4032 ordered pairs
#   sudo BENCH_SETTLE_S=240 bench/groups64.sh # measure after 240 s even if
#                                            # links still change
#
# The kernel's neighbour table is shared by all namespaces (gc_thresh3 =
# 1024 by default); 64 members overflow it ("neighbor table overflow!",
# sends fail with ENOBUFS), so this script raises net.ipv4.neigh.default
# gc_thresh1/2/3 (and IPv6's) to 8192/16384/32768 for the run and puts the
# old values back on exit.  HeavyPairBytes is set out of reach so that the
# forwarded pair stays forwarded while iperf3 measures it.
# Needs root, the build (IPOP_BUILD_DIR, default build/), ejabberd, jq,
# iperf3.  Everything runs in namespaces removed on any exit.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IPOP_SRC_DIR=${IPOP_SRC_DIR:-$(cd "$here/.." && pwd)}
IPOP_BUILD_DIR=${IPOP_BUILD_DIR:-$IPOP_SRC_DIR/build}
export IPOP_SRC_DIR IPOP_BUILD_DIR
# shellcheck source=tests/integration/controller_helpers.sh
. "$IPOP_SRC_DIR/tests/integration/controller_helpers.sh"
ct_skip_unless_ready
command -v iperf3 >/dev/null || { echo "groups64: iperf3 missing" >&2; exit 77; }

# The default XMPP ping interval (the test helpers' 10 s makes a loaded
# server look dead).
export CT_PING=${CT_PING:-60}
N=${GROUPS_N:-64}
[ "$N" -ge 2 ] && [ "$N" -le 240 ] || { echo "groups64: GROUPS_N must be 2..240" >&2; exit 2; }
PAIRS=${BENCH_PAIRS:-1000}
IPERF_S=${BENCH_IPERF_S:-5}
RANDOM=${BENCH_SEED:-15}

declare -A old_sysctl=()
for k in net.ipv4.neigh.default.gc_thresh1 net.ipv4.neigh.default.gc_thresh2 \
         net.ipv4.neigh.default.gc_thresh3 net.ipv6.neigh.default.gc_thresh1 \
         net.ipv6.neigh.default.gc_thresh2 net.ipv6.neigh.default.gc_thresh3; do
  old_sysctl[$k]=$(sysctl -n "$k")
done
restore_sysctl() {
  local k
  for k in "${!old_sysctl[@]}"; do sysctl -qw "$k=${old_sysctl[$k]}" || true; done
}
for v in 4 6; do
  sysctl -qw "net.ipv$v.neigh.default.gc_thresh1=8192" \
             "net.ipv$v.neigh.default.gc_thresh2=16384" \
             "net.ipv$v.neigh.default.gc_thresh3=32768"
done
netns_init
trap 'rc=$?; restore_sysctl; netns__on_exit $rc' EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {if (NR) {i=int(NR*p/100+0.999); if (i<1) i=1; print a[i]} else print 0}'; }

netns_segment pub
ct_xmpp_start
nodes=()
for i in $(seq 1 "$N"); do nodes+=("m$i"); done
ct_xmpp_users "${nodes[@]}"
ct_xmpp_friends lab "${nodes[@]}"
i=0
for h in "${nodes[@]}"; do
  ct_node "$h" "198.18.0.$((10 + i))" group \
    '"Group": "lab", "HeavyPairBytes": 1000000000000000' '"Subnet": "10.254.0.0/16"'
  i=$((i + 1))
done
t_start=$(now_ms)
for h in "${nodes[@]}"; do ct_controller_start "$h"; done
t_started=$(now_ms)

sees_all() { local h; for h in "${nodes[@]}"; do [ "$(ct_status "$h" peers)" = $((N - 1)) ] || return 1; done; }
wait_until 600 sees_all || echo "# not every controller sees every other after 600 s"
t_join=$(( $(now_ms) - t_started ))

links_of() { ct_links_up "$1"; }
reach_of() { tc_call "$1" query_overlay_info '{"overlay_id":"lab"}' | jq '.routes_reachable // 0'; }
snapshot() { local h; for h in "${nodes[@]}"; do printf '%s ' "$(links_of "$h")"; done; }
settled() {
  local h a b
  a=$(snapshot)
  sleep 5
  b=$(snapshot)
  [ "$a" = "$b" ] || return 1
  for h in "${nodes[@]}"; do
    # a full mesh needs no table: every link up is as good as reachable
    [ "$(reach_of "$h")" = $((N - 1)) ] || [ "$(links_of "$h")" = $((N - 1)) ] || return 1
  done
}
SETTLE_S=${BENCH_SETTLE_S:-900}
wait_until "$SETTLE_S" settled || echo "# links or routes still changing after $SETTLE_S s"
t_settled=$(( $(now_ms) - t_started ))
declare -A addr links nid
for h in "${nodes[@]}"; do
  addr[$h]=$(ct_status "$h" ip4); links[$h]=$(links_of "$h")
  nid[$h]=$(tc_call "$h" query_overlay_info '{"overlay_id":"lab"}' | jq -r .node_id)
done
lmin=$(for h in "${nodes[@]}"; do echo "${links[$h]}"; done | sort -n | head -1)
lmed=$(for h in "${nodes[@]}"; do echo "${links[$h]}"; done | median)
lmax=$(for h in "${nodes[@]}"; do echo "${links[$h]}"; done | sort -n | tail -1)

# ---- first pings ----
pairs=()
if [ "${BENCH_ALL_PAIRS:-0}" = 1 ]; then
  for a in "${nodes[@]}"; do for b in "${nodes[@]}"; do [ "$a" = "$b" ] || pairs+=("$a $b"); done; done
else
  while [ "${#pairs[@]}" -lt "$PAIRS" ]; do
    a=${nodes[$((RANDOM % N))]} b=${nodes[$((RANDOM % N))]}
    [ "$a" = "$b" ] || pairs+=("$a $b")
  done
fi
# A pair whose first ping went unanswered: what each end had at that
# moment (the neighbour entry, a link between them, routes, the tincan
# counters that count drops), and whether a second ping answers.
first_ping_failed() {
  local a=$1 b=$2 j st
  echo "# first ping $a -> $b (${addr[$b]}) not answered"
  echo "#   $a neigh: $(netns_exec "$a" ip neigh show "${addr[$b]}" dev ipop0 2>/dev/null)"
  st=$(tc_call "$a" query_link_stats "{\"overlay_id\":\"lab\",\"peer_id\":\"${nid[$b]}\"}" \
         2>/dev/null | jq -r '.links[0].state // "none"' || echo none)
  echo "#   link $a-$b: $st"
  for h in "$a" "$b"; do
    j=$(tc_call "$h" query_overlay_info '{"overlay_id":"lab"}')
    echo "#   $h: $(jq -c '{routes, routes_reachable, routed_out, routed_in, forwarded,
      fwd_no_route, fwd_origin, fwd_reverse_path, fwd_hop_limit, fwd_loop, arp_answered}' <<<"$j")"
  done
  if netns_exec "$a" ping -c1 -W2 -n "${addr[$b]}" >/dev/null 2>&1; then
    echo "#   a second ping answers"
  else
    echo "#   a second ping fails too"
  fi
}
rtts=$NETNS_TMPDIR/rtts
: >"$rtts"
answered=0 failed=0
for p in "${pairs[@]}"; do
  read -r a b <<<"$p"
  out=$(netns_exec "$a" ping -c1 -W2 -n "${addr[$b]}" 2>/dev/null || true)
  t=$(sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' <<<"$out")
  if [ -n "$t" ]; then
    answered=$((answered + 1)); echo "$t" >>"$rtts"
  else
    failed=$((failed + 1))
    first_ping_failed "$a" "$b"
  fi
done
rmed=$(median <"$rtts")
r90=$(pct 90 <"$rtts")
rmax=$(sort -n "$rtts" | tail -1)

# ---- hops ----
sum_in=0 sum_hops=0 direct_pairs=0
for h in "${nodes[@]}"; do
  j=$(tc_call "$h" query_overlay_info '{"overlay_id":"lab"}')
  sum_in=$((sum_in + $(jq '.routed_in // 0' <<<"$j")))
  sum_hops=$((sum_hops + $(jq '.routed_in_hops // 0' <<<"$j")))
  direct_pairs=$((direct_pairs + links[$h]))
done
mean_hops=$(awk -v s="$sum_hops" -v n="$sum_in" 'BEGIN {printf "%.2f", n ? s / n : 0}')
direct_share=$(awk -v d="$direct_pairs" -v n="$N" 'BEGIN {printf "%.1f", 100 * d / (n * (n - 1))}')

# ---- throughput: a direct pair and a pair one intermediate apart ----
declare -A peers_of
for h in "${nodes[@]}"; do
  peers_of[$h]=$(tc_call "$h" query_link_stats '{"overlay_id":"lab"}' |
                 jq -r '[.links[] | select(.state=="up") | .peer_id] | join(" ")')
done
declare -A host_of
for h in "${nodes[@]}"; do host_of[$(ct_status "$h" node_id)]=$h; done
da=${nodes[0]}
db=${host_of[$(cut -d' ' -f1 <<<"${peers_of[$da]}")]}
fa="" fc=""
for a in "${nodes[@]}"; do
  for pid in ${peers_of[$a]}; do
    b=${host_of[$pid]}
    for qid in ${peers_of[$b]}; do
      c=${host_of[$qid]}
      [ "$c" = "$a" ] && continue
      grep -q "$(ct_status "$c" node_id)" <<<"${peers_of[$a]}" && continue
      fa=$a fc=$c
      break 3
    done
  done
done
iperf() { # client server -> Mbit/s
  netns_spawn "$2" "$NETNS_TMPDIR/iperf-$2.log" iperf3 -s -1
  wait_listen "$2" tcp 5201 10 || { echo 0; return; }
  netns_exec "$1" iperf3 -c "${addr[$2]}" -t "$IPERF_S" -J 2>/dev/null |
    jq '.end.sum_received.bits_per_second / 1e6 | floor' 2>/dev/null || echo 0
}
tp_direct=$(iperf "$da" "$db")
tp_fwd=0
[ -n "$fa" ] && tp_fwd=$(iperf "$fa" "$fc")

# ---- memory and idle CPU ----
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
tc_rss=$(for h in "${nodes[@]}"; do rss "${TC_PID[$h]}"; done | median)
tc_rss_max=$(for h in "${nodes[@]}"; do rss "${TC_PID[$h]}"; done | sort -n | tail -1)
ct_rss=$(for h in "${nodes[@]}"; do rss "${CT_PID[$h]}"; done | median)
ct_rss_max=$(for h in "${nodes[@]}"; do rss "${CT_PID[$h]}"; done | sort -n | tail -1)
declare -A t0
for h in "${nodes[@]}"; do t0[tc$h]=$(ticks "${TC_PID[$h]}"); t0[ct$h]=$(ticks "${CT_PID[$h]}"); done
sleep 10
tc_ticks=0 ct_ticks=0
for h in "${nodes[@]}"; do
  tc_ticks=$((tc_ticks + $(ticks "${TC_PID[$h]}") - t0[tc$h]))
  ct_ticks=$((ct_ticks + $(ticks "${CT_PID[$h]}") - t0[ct$h]))
done
hz=$(getconf CLK_TCK)
tc_cpu=$(awk -v t="$tc_ticks" -v hz="$hz" 'BEGIN {printf "%.1f", 100 * t / hz / 10}')
ct_cpu=$(awk -v t="$ct_ticks" -v hz="$hz" 'BEGIN {printf "%.1f", 100 * t / hz / 10}')
over_budget=0
for h in "${nodes[@]}"; do
  over_budget=$((over_budget + $(grep -c over_budget "$(ct_log "$h")" || true)))
done

cat <<EOF
groups64: $N members, LinkBudget 32 (default), one ejabberd, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)
  join (every controller sees all $((N - 1)) others)   $t_join ms after the last start
  settled (links still 5 s, every member routed)   $t_settled ms after the last start
  links per node                                   min $lmin, median $lmed, max $lmax (budget 32)
  first ping, ${#pairs[@]} ordered pairs            $answered answered, $failed not
  first reply                                      median $rmed ms, p90 $r90 ms, max $rmax ms
  hops of forwarded frames received                mean $mean_hops; pairs with a direct link $direct_share %
  iperf3 direct ($da -> $db)                       $tp_direct Mbit/s
  iperf3 one intermediate ($fa -> $fc)             $tp_fwd Mbit/s
  tincan RSS                                       median $tc_rss KiB, max $tc_rss_max KiB
  controller RSS                                   median $ct_rss KiB, max $ct_rss_max KiB
  idle CPU over 10 s, all $N of each               tincan $tc_cpu %, controller $ct_cpu % of one core
  over_budget refusals logged                      $over_budget
EOF
cat <<EOF
bench_groups_members $N
bench_groups_join_ms $t_join
bench_groups_settled_ms $t_settled
bench_groups_links_min $lmin
bench_groups_links_median $lmed
bench_groups_links_max $lmax
bench_groups_pairs ${#pairs[@]}
bench_groups_first_ping_answered $answered
bench_groups_first_ping_failed $failed
bench_groups_first_reply_median_ms $rmed
bench_groups_first_reply_p90_ms $r90
bench_groups_hops_mean $mean_hops
bench_groups_direct_pair_share_pct $direct_share
bench_groups_iperf_direct_mbps $tp_direct
bench_groups_iperf_forwarded_mbps $tp_fwd
bench_groups_tincan_rss_kib $tc_rss
bench_groups_controller_rss_kib $ct_rss
bench_groups_tincan_idle_cpu_pct $tc_cpu
bench_groups_controller_idle_cpu_pct $ct_cpu
bench_groups_over_budget $over_budget
EOF
