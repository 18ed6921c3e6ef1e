#!/usr/bin/env bash
# ipop-tincan over an IPv6-only underlay: two hosts whose only addresses are
# unique local IPv6 ones (fd00:198:18::/64; link-local aside) gather IPv6
# host candidates only, link over them, and carry a dual-stack overlay
# (ping and ping6 both ways).  A third, dual-stack host links to an IPv6-only
# one over IPv6 (the only family they share).
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
tc_skip_unless_ready
netns_init

netns_segment pub
netns_host a; netns_attach a pub fd00:198:18::11/64
netns_host b; netns_attach b pub fd00:198:18::12/64
netns_host c; netns_attach c pub 198.18.0.13/24; netns_addr c pub fd00:198:18::13/64
check "a has no IPv4 address but loopback" \
  sh -c "! ip -n $(netns_ns a) -4 -o addr show | grep -v ' lo ' | grep -q inet"

for h in a b c; do tc_start "$h"; done
TC_OVERLAY_EXTRA=',"ip6":"fd00:254::1","ip6_prefix":64' tc_overlay a node-a 10.254.0.1 >/dev/null
TC_OVERLAY_EXTRA=',"ip6":"fd00:254::2","ip6_prefix":64' tc_overlay b node-b 10.254.0.2 >/dev/null
TC_OVERLAY_EXTRA=',"ip6":"fd00:254::3","ip6_prefix":64' tc_overlay c node-c 10.254.0.3 >/dev/null

ca=$(tc_candidates a node-b)
echo "# a's candidates: $(jq -c .candidates <<<"$ca")"
only_v6() { jq -e '[.candidates[] | select(test(" 198\\.| 10\\.| 127\\."))] | length == 0' <<<"$1" >/dev/null; }
has_v6_host() { jq -e '[.candidates[] | select(test(" fd00:198:18::11 [0-9]+ typ host"))] | length > 0' <<<"$1" >/dev/null; }
check "a gathers an IPv6 host candidate" has_v6_host "$ca"
check "a gathers no IPv4 candidate" only_v6 "$ca"

t0=$(date +%s%N)
tc_link a node-a b node-b
check "IPv6-only pair: link up on a" tc_wait_state a node-b up 15
check "IPv6-only pair: link up on b" tc_wait_state b node-a up 5
echo "# link setup over IPv6 (query_candidates .. both up): $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "selected pair is host" test "$(tc_stat a node-b pair_type)" = host
ra=$(tc_stat a node-b remote_addr)
echo "# a -> b path: $(tc_stat a node-b local_addr) -> $ra"
check "the path runs over IPv6 ($ra)" sh -c "case '$ra' in '[fd00:198:18::12]:'*) ;; *) exit 1;; esac"
check "a pings b over the overlay (IPv4)" wait_ping a 10.254.0.2 5
check "b pings a over the overlay (IPv4)" wait_ping b 10.254.0.1 5
check "a pings b over the overlay (IPv6)" wait_ping a fd00:254::2 5
check "b pings a over the overlay (IPv6)" wait_ping b fd00:254::1 5
check "full-size frames cross (1252-byte ping, DF)" \
  netns_exec a ping -c2 -W2 -q -M do -s 1252 10.254.0.2
netns_exec a ping -6 -c 20 -i 0.05 -q fd00:254::2 | tail -n 1 | sed 's/^/# ping6 a->b over the overlay, IPv6 underlay: /'

tc_link c node-c a node-a
check "dual-stack c links to IPv6-only a" tc_wait_state c node-a up 15
rc=$(tc_stat c node-a remote_addr)
check "... over IPv6 ($rc)" sh -c "case '$rc' in '[fd00:198:18::11]:'*) ;; *) exit 1;; esac"
check "c pings a over the overlay" wait_ping c fd00:254::1 5
tc_finish
