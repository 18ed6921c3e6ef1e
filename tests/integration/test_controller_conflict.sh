#!/usr/bin/env bash
# GroupVPN address conflicts (docs/topology.md, groupaddr): every member
# announces its address in presence; two nodes claiming one address are
# both told (log and `ipopctl status` "conflict"), and the larger node id
# yields.
#   n1, n2: node ids chosen so that their derived addresses collide: n2 (the
#           larger id) derives a new one, re-creates its overlay, and the two
#           ping each other.
#   n3, n4: the same configured Controller.Overlay.Address: both report the
#           conflict; the larger id logs a configuration error.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
netns_init

# Two node ids whose attempt-0 addresses in 10.254.0.0/24 collide, and whose
# larger id's attempt-1 address differs.
read -r id1 id2 < <(/usr/bin/python3 - <<'PY'
import hashlib, os
def addr(i, att):
    h = hashlib.sha256(("ipop-groupaddr:%s:%d" % (i, att)).encode()).digest()
    return int.from_bytes(h[:8], "big") % 254
seen = {}
while True:
    i = os.urandom(16).hex()
    a = addr(i, 0)
    if a in seen:
        lo, hi = sorted([seen[a], i])
        if addr(hi, 1) != a:
            print(lo, hi)
            break
    seen[a] = i
PY
)
netns_segment pub
ct_xmpp_start
ct_xmpp_users n1 n2 n3 n4
ct_xmpp_friends lab n1 n2 n3 n4
ct_node n1 198.18.0.61 group '"Group": "lab"'
ct_node n2 198.18.0.62 group '"Group": "lab"'
ct_node n3 198.18.0.63 group '"Group": "lab"' '"Subnet": "10.254.0.0/24", "Address": "10.254.0.200"'
ct_node n4 198.18.0.64 group '"Group": "lab"' '"Subnet": "10.254.0.0/24", "Address": "10.254.0.200"'
echo "$id1" >"$(ct_dir n1)/state/node_id"
echo "$id2" >"$(ct_dir n2)/state/node_id"
for h in n1 n2 n3 n4; do ct_controller_start "$h"; done
for h in n1 n2 n3 n4; do check "$h online" ct_wait_online "$h" 30; done
check "n1 and n2 derived the same address at first" \
  wait_file "$(ct_log n2)" "address conflict: .* also claimed by n1@" 30
check "n1 is told too" wait_file "$(ct_log n1)" "address conflict: .* also claimed by n2@" 10
check "n2 (larger id) yields and re-creates its overlay" \
  wait_file "$(ct_log n2)" "yielding address .*: re-creating the overlay with" 10
differ() { [ "$(ct_status n1 ip4)" != "$(ct_status n2 ip4)" ]; }
check "their addresses differ now" wait_until 20 differ
echo "# n1 $(ct_status n1 ip4), n2 $(ct_status n2 ip4)"
check "n1 pings n2 at its new address" wait_ping n1 "$(ct_status n2 ip4)" 60
check "n2 pings n1" wait_ping n2 "$(ct_status n1 ip4)" 30
resolved() { [ -z "$(ct_status n2 conflict)" ]; }
check "n2's status shows no conflict any more" wait_until 20 resolved

has_conflict() { [ -n "$(ct_status "$1" conflict)" ]; }
check "n3 status names the conflict" wait_until 20 has_conflict n3
check "n4 status names the conflict" wait_until 20 has_conflict n4
echo "# n3 status conflict: $(ct_status n3 conflict)"
check "the larger id of n3/n4 logs a configuration error" \
  sh -c "grep -q 'fix the configuration' $(ct_log n3) || grep -q 'fix the configuration' $(ct_log n4)"
ct_finish
