#!/usr/bin/env bash
# STUN and TURN servers given by host name (controller/resolve.c): the
# controller resolves them before create_overlay (ipop-tincan takes numbers
# only).  First --check-config: names pass, malformed entries are refused
# naming the key.  Then GroupVPN "lab" with ejabberd and coturn on the public
# segment, n1 behind a cone NAT and n2 behind a symmetric NAT (their link
# needs the relay); the nodes' hosts files (/etc/netns/NS/hosts, which
# `ip netns exec` mounts over /etc/hosts) name coturn stun.ipop.test and
# turn.ipop.test, and each config also lists a STUN name under .invalid.
# Checks: overlays created, the .invalid entry skipped with a warning naming
# it, tincan got the numeric address, n1 gathered srflx and relay
# candidates from that server, pings cross over the relay; after a tincan
# restart the overlay is re-created from the cache.  Last, a third
# controller is stopped while its lookup hangs: it exits cleanly.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
. "$IPOP_SRC_DIR/tests/lib/coturn.sh"

# --- --check-config (no namespaces needed) ---------------------------------
cfgdir=$(mktemp -d /tmp/ipop-stunnames.XXXXXX)
cfg_check() { # STUN_JSON TURN_ADDRESS_JSON: run --check-config, print its output
  cat >"$cfgdir/c.json" <<JSON
{ "Control": { "KeyFile": "$cfgdir/control.key" },
  "Controller": { "StateDir": "$cfgdir/state", "Group": "lab",
    "Xmpp": { "Jid": "n1@xmpp.test", "PasswordFile": "/nonexistent" },
    "Overlay": { "Subnet": "10.254.0.0/24", "Stun": $1,
      "Turn": [{ "Address": $2, "User": "u", "PasswordFile": "/nonexistent" }] } } }
JSON
  "$CONTROLLER" --check-config -c "$cfgdir/c.json" 2>&1
}
cfg_ok() { cfg_check "$@" >/dev/null; }
cfg_refused() { # STUN TURN REGEX
  local out
  if out=$(cfg_check "$1" "$2"); then echo "  accepted: $1 $2"; return 1; fi
  grep -Eq -- "$3" <<<"$out" || { echo "  got: $out"; return 1; }
}
if [ -x "$CONTROLLER" ]; then
  check "--check-config: host names accepted" \
    cfg_ok '["stun.example.org:3478", "198.18.0.100:3478", "[2001:db8::1]:3478"]' \
    '"turn.example.org:3478"'
  check "--check-config: no port refused, naming Stun[1]" \
    cfg_refused '["198.18.0.100:3478", "stun.example.org"]' '"t:1"' \
    'Controller\.Overlay\.Stun\[1\]: expected "host:port" or "\[ip6\]:port": no ":port"'
  check "--check-config: port 0 refused" cfg_refused '["h:0"]' '"t:1"' 'Stun\[0\].*port 0 is not'
  check "--check-config: unterminated bracket refused" \
    cfg_refused '["[2001:db8::1:3478"]' '"t:1"' "Stun\\[0\\].*'\\[' without '\\]'"
  check "--check-config: bad TURN address refused, naming the key" \
    cfg_refused '[]' '"turn example.org:3478"' 'Controller\.Overlay\.Turn\[0\]\.Address: .*0x20'
fi
# TURN password files: the controller does not start unless the file is
# 0600 (or stricter) and its own (as root here: owned by root).
pw_start() { # MODE OWNER REGEX: start with such a password file, expect refusal
  local out rc
  (umask 077; printf 'secret\n' >"$cfgdir/turn.pw")
  chmod "$1" "$cfgdir/turn.pw"; chown "$2" "$cfgdir/turn.pw"
  cat >"$cfgdir/p.json" <<JSON
{ "Control": { "KeyFile": "$cfgdir/control.key" },
  "Controller": { "StateDir": "$cfgdir/state", "Group": "lab",
    "Xmpp": { "Jid": "n1@xmpp.test", "PasswordFile": "/nonexistent" },
    "Overlay": { "Subnet": "10.254.0.0/24",
      "Turn": [{ "Address": "turn.example.org:3478", "User": "u", "PasswordFile": "$cfgdir/turn.pw" }] } } }
JSON
  out=$(timeout 10 "$CONTROLLER" --allow-root -c "$cfgdir/p.json" 2>&1); rc=$?
  if [ "$rc" -ne 1 ] || ! grep -Eq -- "$3" <<<"$out"; then echo "  got rc=$rc: $out"; return 1; fi
}
if [ -x "$CONTROLLER" ] && [ "$(id -u)" -eq 0 ]; then
  check "TURN password file 0644: refused, naming the key and the fix" \
    pw_start 644 root 'Controller\.Overlay\.Turn\[0\]\.PasswordFile: .*turn\.pw is readable by group or others \(mode 644\); chmod 600 it'
  check "TURN password file 0640: refused" pw_start 640 root 'mode 640\); chmod 600 it'
  check "TURN password file of another user: refused" \
    pw_start 600 nobody 'Turn\[0\]\.PasswordFile: .*turn\.pw is owned by uid [0-9]+, not by the user the controller runs as \(uid 0\); chown it'
fi
rm -rf "$cfgdir"

# --- end to end ---------------------------------------------------------------
ct_skip_unless_ready
coturn_available || { echo "skip: coturn not installed"; exit 77; }
netns_init

netns_segment pub
ct_xmpp_start
ct_xmpp_users n1 n2
ct_xmpp_friends lab n1 n2
netns_host srv; netns_attach srv pub 198.18.0.100/24
netns_exec srv ip route add default via 198.18.0.254
coturn_start turn srv 198.18.0.100
coturn_wait turn 10

netns_segment lc; netns_segment ls
netns_router rc cone pub 198.18.0.2/24 lc 198.19.1.1/24
netns_router rs symmetric pub 198.18.0.3/24 ls 198.19.2.1/24

# ns_files HOST: its hosts file names coturn; its resolv.conf points at a
# closed port on loopback, so that the .invalid name fails at once instead
# of timing out against an unreachable server.
[ -d /etc/netns ] || netns_defer rmdir --ignore-fail-on-non-empty /etc/netns
ns_files() {
  local d
  d=/etc/netns/$(netns_ns "$1")
  mkdir -p "$d"
  netns_defer rm -rf "$d"
  printf '127.0.0.1 localhost\n198.18.0.100 stun.ipop.test turn.ipop.test\n' >"$d/hosts"
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$d/resolv.conf"
  chmod 644 "$d/hosts" "$d/resolv.conf"
}

turnpw=$NETNS_TMPDIR/turn.pw
(umask 077; printf '%s\n' "$COTURN_PASS" >"$turnpw")
chown "$CT_USER" "$turnpw"
overlay='"Subnet": "10.254.0.0/24", "Stun": ["no-such-stun.invalid:3478", "stun.ipop.test:3478"],
  "Turn": [{ "Address": "turn.ipop.test:3478", "User": "'"$COTURN_USER"'", "PasswordFile": "'"$turnpw"'" }]'
extra='"Group": "lab", "LinkSetupTimeout": 30'

netns_host n1; netns_attach n1 lc 198.19.1.10/24; netns_route_default n1 198.19.1.1
netns_host n2; netns_attach n2 ls 198.19.2.10/24; netns_route_default n2 198.19.2.1
for h in n1 n2; do
  ns_files "$h"
  ct_config "$h" group "$extra" "$overlay"
  ct_tincan_start "$h"
done
check "the namespace sees the hosts file" \
  sh -c "ip netns exec $(netns_ns n1) getent hosts turn.ipop.test | grep -q 198.18.0.100"

for h in n1 n2; do ct_controller_start "$h"; done
for h in n1 n2; do check "$h online, overlay created" ct_wait_online "$h" 60; done
for h in n1 n2; do
  check "$h: the .invalid STUN server skipped with a warning naming it" \
    grep -q 'overlay lab: STUN server no-such-stun.invalid:3478 skipped: ' "$(ct_log "$h")"
done
grep -h 'skipped: ' "$(ct_log n1)" | head -n 1 | sed 's/^/# /'

a1=$(ct_status n1 ip4); a2=$(ct_status n2 ip4)
check "n1 pings n2 ($a2)" wait_ping n1 "$a2" 90
check "n2 pings n1 ($a1)" wait_ping n2 "$a1" 60
check "n1's tincan got the numeric addresses" \
  grep -q 'gathering (.*stun 198.18.0.100:3478, turn 198.18.0.100:3478 (udp)[,)]' "$(tc_log n1)"

id2=$(ct_status n2 node_id)
pt=$(tc_call n1 query_link_stats "{\"overlay_id\":\"lab\",\"peer_id\":\"$id2\"}" |
     jq -r '.links[0].pair_type')
echo "# n1-n2 pair type: $pt"
check "cone n1 - symmetric n2 goes through the relay" test "$pt" = relay
# (query_candidates, which would list the gathered candidates, is the
# registered controller's alone: docs/control-protocol.md "Who may send
# what".  The selected pair shows the relay.)
ends=$(tc_call n1 query_link_stats "{\"overlay_id\":\"lab\",\"peer_id\":\"$id2\"}" |
       jq -r '.links[0] | .local_addr + " " + .remote_addr')
echo "# n1-n2 pair: $ends"
check "the relayed pair goes through coturn (198.18.0.100)" grep -q '198\.18\.0\.100:' <<<"$ends"

# --- re-creation from the cache -------------------------------------------
# The names leave n1's hosts file, then n1's tincan restarts: the controller
# re-creates the overlay with the addresses it resolved before (cached for
# 5 min), without a lookup that would now fail.
printf '127.0.0.1 localhost\n' >"/etc/netns/$(netns_ns n1)/hosts"
check "n1: the names are gone from its hosts file" \
  sh -c "! ip netns exec $(netns_ns n1) getent hosts turn.ipop.test"
kill -TERM "${TC_PID[n1]}"
wait "${TC_PID[n1]}" 2>/dev/null || true
mv "$(tc_log n1)" "$(ct_dir n1)/tincan-before-restart.log"
ct_tincan_start n1
recreated() { [ "$(grep -c 'overlay lab created' "$(ct_log n1)")" -ge 2 ]; }
check "n1: overlay re-created after the tincan restart" wait_until 30 recreated
check "n1 pings n2 again" wait_ping n1 "$a2" 90
check "n1: the new tincan got the cached addresses" \
  grep -q 'gathering (.*stun 198.18.0.100:3478, turn 198.18.0.100:3478 (udp)[,)]' "$(tc_log n1)"
check "n1: no lookup failure for the cached names" \
  sh -c "! grep -Eq '(STUN|TURN) server (stun|turn).ipop.test:3478 skipped' '$(ct_log n1)'"

# --- stopping while a lookup hangs ----------------------------------------
# n3's name server is coturn's host, which drops DNS queries: the lookup of
# slow.ipop.test hangs (resolver timeout 10 s).  SIGTERM meanwhile: the
# controller exits cleanly (the lookup cancelled, or its late answer
# dropped) and never sends create_overlay.
netns_exec srv iptables -A INPUT -p udp --dport 53 -j DROP
netns_host n3; netns_attach n3 pub 198.18.0.13/24
d3=/etc/netns/$(netns_ns n3)
mkdir -p "$d3"; netns_defer rm -rf "$d3"
printf '127.0.0.1 localhost\n' >"$d3/hosts"
printf 'nameserver 198.18.0.100\noptions timeout:10 attempts:1\n' >"$d3/resolv.conf"
chmod 644 "$d3/hosts" "$d3/resolv.conf"
ct_config n3 group "$extra" '"Subnet": "10.254.0.0/24", "Stun": ["slow.ipop.test:3478"]'
ct_tincan_start n3
ct_controller_start n3
check "n3: tincan up, overlay creation (the lookup) started" \
  wait_file "$(ct_log n3)" 'ipop-tincan at .* is up' 30
kill -TERM "${CT_PID[n3]}"
t0=$(date +%s%N)
check "n3: controller stopped mid-lookup exits" wait_until 30 ct__gone "${CT_PID[n3]}"
echo "# n3: exited $(( ($(date +%s%N) - t0) / 1000000 )) ms after SIGTERM (lookup pending)"
check "n3: overlay never created" sh -c "! grep -q 'overlay lab created' '$(ct_log n3)'"
check "n3: no sanitizer report" sh -c "! grep -Eq 'Sanitizer|runtime error' '$(ct_log n3)'"
unset 'CT_PID[n3]'
ct_finish
