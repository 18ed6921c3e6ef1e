#!/usr/bin/env bash
# Proves the network test harness itself (tests/lib/netns.sh, coturn.sh):
#   1. hosts behind cone NATs see the NAT's public address via coturn STUN,
#      with endpoint-independent mapping (same mapped port towards coturn's
#      two addresses); a host behind a symmetric NAT gets dependent mapping;
#   2. UDP hole punching works cone<->cone and fails symmetric<->symmetric
#      (the NAT routers avoid the conntrack trap);
#   3. turnutils_uclient relays through coturn (UDP, TCP and TLS) with the
#      right user/password and fails with a wrong one;
#   4. a path cut (netns_cut) stops traffic and netns_restore brings it back;
#   5. cleanup: netns_reset allows a second topology; after a normal end, a
#      failure and a SIGTERM nothing of a run remains (namespaces,
#      processes, root-namespace interfaces); a namespace that is not the
#      run's own survives even with the run's prefix.
# Exit 77 (skip) only when not root / no `ip netns` / no coturn.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lib="$here/../lib"
# shellcheck source=tests/lib/coturn.sh
. "$lib/coturn.sh"

netns_can_run || exit 77
coturn_available || { echo "skip: coturn not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }

t_start=$SECONDS
fails=0
ok()   { printf 'ok   %3ds %s\n' $((SECONDS - t_start)) "$*"; }
fail() { printf 'FAIL %3ds %s\n' $((SECONDS - t_start)) "$*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

root_links_before=$(ip -o link show | awk -F': ' '{print $2}' | sort)

netns_init
# A namespace that carries this run's prefix but was not made through the
# library: cleanup must leave it alone (it deletes only what it recorded).
# Other engineers' runs come and go concurrently, so a before/after list of
# all namespaces would not prove anything.
canary="$NETNS_PREFIX-foreign"
ip netns add "$canary"
trap 'rc=$?; ip netns del "$canary" 2>/dev/null || true; netns__on_exit $rc' EXIT

# ---------------------------------------------------------------- topology
#   srv (coturn, 198.18.0.100 + .101)              public segment 198.18.0.0/24
#   na  cone NAT  wan .11   lan 198.19.1.1  -- ha 198.19.1.10
#   nb  cone NAT  wan .12   lan 198.19.2.1  -- hb 198.19.2.10
#   nc  symm NAT  wan .13   lan 198.19.3.1  -- hc 198.19.3.10
#   nd  symm NAT  wan .14   lan 198.19.4.1  -- hd 198.19.4.10
netns_segment pub
netns_host srv
netns_attach srv pub 198.18.0.100/24
netns_exec srv ip addr add 198.18.0.101/24 dev pub
declare -A wan=([a]=198.18.0.11 [b]=198.18.0.12 [c]=198.18.0.13 [d]=198.18.0.14)
declare -A mode=([a]=cone [b]=cone [c]=symmetric [d]=symmetric)
i=0
for h in a b c d; do
  i=$((i + 1))
  netns_segment "lan$h"
  netns_router "n$h" "${mode[$h]}" pub "${wan[$h]}/24" "lan$h" "198.19.$i.1/24"
  netns_host "h$h"
  netns_attach "h$h" "lan$h" "198.19.$i.10/24" eth0
  netns_route_default "h$h" "198.19.$i.1"
done

ok "topology of 13 namespaces built in $((SECONDS - t_start)) s"
t_turn=$SECONDS
coturn_start turn srv 198.18.0.100 198.18.0.101
coturn_wait turn 10 || { fail "coturn starts"; exit 1; }
ok "coturn answers STUN (after $((SECONDS - t_turn)) s)"

for h in a b c d; do
  check "h$h reaches the public segment through its NAT" wait_ping "h$h" 198.18.0.100 5
done

# ------------------------------------------------ 1. mapped address, mapping
# In parallel: behind a NAT each query takes its full timeout (see coturn.sh).
mpids=()
for h in a b c d; do
  coturn_stun_mapped "h$h" 198.18.0.100 > "$NETNS_TMPDIR/mapped-$h" & mpids+=($!)
done
wait "${mpids[@]}"
for h in a b c d; do
  m=$(cat "$NETNS_TMPDIR/mapped-$h")
  check "h$h: STUN mapped address $m is its NAT's ${wan[$h]}" [ "${m%:*}" = "${wan[$h]}" ]
done

# turnutils_natdiscovery -m sends from one local port to coturn's primary and
# alternate addresses (RFC 5780); compare the reflexive ports it saw.
natdisc() {  # host -> "port1 port2 verdict"
  local out
  # (timeout: like stunclient it waits forever for a lost answer)
  out=$(netns_exec "$1" timeout 5 turnutils_natdiscovery -m 198.18.0.100 2>&1) || true
  printf '%s\n' "$out" > "$NETNS_TMPDIR/natdisc-$1.txt"
  printf '%s %s\n' \
    "$(printf '%s\n' "$out" | awk -F: '/UDP reflexive addr/ {print $NF}' | head -2 | tr '\n' ' ')" \
    "$(printf '%s\n' "$out" | grep -Eo 'NAT with [A-Za-z ]+Mapping' | head -1)"
}
same_mapping() { [ -n "$1" ] && [ "$1" = "$2" ] && [[ $3 == *"Endpoint Independent"* ]]; }
diff_mapping() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ] && [[ $3 != *"Endpoint Independent"* ]]; }
for h in a b c d; do
  read -r p1 p2 verdict <<<"$(natdisc "h$h")"
  if [ "${mode[$h]}" = cone ]; then
    check "h$h cone: same mapped port to both coturn addresses ($p1 $p2; $verdict)" \
      same_mapping "$p1" "$p2" "$verdict"
  else
    check "h$h symmetric: different mapped ports ($p1 $p2; $verdict)" \
      diff_mapping "$p1" "$p2" "$verdict"
  fi
done

# ------------------------- 2+3. TURN relay and hole punching, concurrently
# turnutils_uclient -y: two clients allocate relays and send to each other
# through them. It takes ~5 s per run and under load reports some echoes
# as "lost" (its own patience, not the relay's), so the four positive runs go
# in parallel and the check is "relayed messages arrived", not "no loss".
uclient_spawn() {  # tag host user pass extra-flags...
  local tag=$1 h=$2 u=$3 p=$4; shift 4
  netns_spawn "$h" "$NETNS_TMPDIR/uclient-$tag.log" \
    timeout 30 turnutils_uclient -y -c -n 5 -l 200 -u "$u" -w "$p" "$@" 198.18.0.100
}
uclient_ok() {  # pid tag -> exit 0 and >0 messages relayed back
  local rc=0 n
  wait "$1" || rc=$?
  n=$(grep -Eo 'tot_recv_msgs=[0-9]+' "$NETNS_TMPDIR/uclient-$2.log" | tail -1 | cut -d= -f2)
  [ "$rc" -eq 0 ] && [ "${n:-0}" -gt 0 ]
}
declare -A upid=()
uclient_spawn udp-cone ha "$COTURN_USER" "$COTURN_PASS";      upid[udp-cone]=$NETNS_LAST_PID
uclient_spawn udp-symm hc "$COTURN_USER" "$COTURN_PASS";      upid[udp-symm]=$NETNS_LAST_PID
uclient_spawn tcp      hd "$COTURN_USER" "$COTURN_PASS" -t;   upid[tcp]=$NETNS_LAST_PID
uclient_spawn tls      hb "$COTURN_USER" "$COTURN_PASS" -t -S; upid[tls]=$NETNS_LAST_PID
uclient_spawn badpw    hc "$COTURN_USER" wrong-password;      upid[badpw]=$NETNS_LAST_PID
# Hole punching runs while the uclients work (saves ~5 s).
punch() {  # hostX hostY -> 0 if both sides received from the other
  local x=$1 y=$2 px py
  netns_spawn "h$x" "$NETNS_TMPDIR/punch-$x$y-$x.log" \
    python3 "$lib/udp_punch.py" 40000 "${wan[$y]}" 40000 "$3"; px=$NETNS_LAST_PID
  netns_spawn "h$y" "$NETNS_TMPDIR/punch-$x$y-$y.log" \
    python3 "$lib/udp_punch.py" 40000 "${wan[$x]}" 40000 "$3"; py=$NETNS_LAST_PID
  local rx=0 ry=0
  wait "$px" || rx=$?
  wait "$py" || ry=$?
  [ "$rx" -eq 0 ] && [ "$ry" -eq 0 ]
}
check "UDP hole punching cone<->cone succeeds" punch a b 5
# Symmetric NATs pick a random port per destination, so WAN:40000 is not
# the mapping of the other side's punch: must fail.
check "UDP hole punching symmetric<->symmetric fails" eval '! punch c d 2'

check "TURN/UDP relay through coturn from behind cone NAT" uclient_ok "${upid[udp-cone]}" udp-cone
check "TURN/UDP relay through coturn from behind symmetric NAT" uclient_ok "${upid[udp-symm]}" udp-symm
check "TURN over TCP" uclient_ok "${upid[tcp]}" tcp
check "TURN over TLS (self-signed cert)" uclient_ok "${upid[tls]}" tls
# shellcheck disable=SC2016  # expanded by eval
check "TURN with a wrong password fails" eval '! uclient_ok "${upid[badpw]}" badpw'
check "uclient reports the failed allocation" \
  grep -q 'Cannot complete Allocation' "$NETNS_TMPDIR/uclient-badpw.log"
check "coturn logged the wrong credentials" \
  grep -q 'credentials are incorrect' "$(coturn_log turn)"

# ---------------------------------------------------------- 4. path cut
netns_cut ha
check "netns_cut: ha cannot reach srv" eval '! netns_exec ha ping -c1 -W1 -q 198.18.0.100 >/dev/null 2>&1'
netns_restore ha
check "netns_restore: ha reaches srv again" wait_ping ha 198.18.0.100 5
netns_cut nc wan
check "netns_cut on a router's WAN: hc cannot reach srv" eval '! netns_exec hc ping -c1 -W1 -q 198.18.0.100 >/dev/null 2>&1'
netns_restore nc
check "netns_restore on the router: hc reaches srv again" wait_ping hc 198.18.0.100 5
tx0=$(netns_ifstat ha eth0 tx_packets)
netns_exec ha ping -c3 -i 0.01 -q 198.18.0.100 >/dev/null
tx1=$(netns_ifstat ha eth0 tx_packets)
check "netns_ifstat: eth0 of ha counted the 3 pings ($tx0 -> $tx1)" [ $((tx1 - tx0)) -ge 3 ]
netns_link_down hb eth0
check "netns_link_down: hb cannot reach srv" eval '! netns_exec hb ping -c1 -W1 -q 198.18.0.100 >/dev/null 2>&1'
netns_link_up hb eth0
check "netns_link_up: hb reaches srv again" wait_ping hb 198.18.0.100 5

# ----------------------------------------------------------- 5. cleanup
turn_pid=${COTURN_PID[turn]}
my_prefix=$NETNS_PREFIX
ours() { ip netns list | awk -v p="$my_prefix-" -v c="$canary" 'index($1,p)==1 && $1!=c'; }
netns_reset
check "reset: every namespace of the first topology gone" [ -z "$(ours)" ]
check "reset: coturn (pid $turn_pid) gone" wait_pid_gone "$turn_pid" 1
netns_segment s2
netns_host x; netns_attach x s2 198.18.50.1/24
netns_host y; netns_attach y s2 198.18.50.2/24
check "after reset: a second topology works" wait_ping x 198.18.50.2 5
netns_spawn y "$NETNS_TMPDIR/sleep.log" sleep 300; sleep_pid=$NETNS_LAST_PID
netns_cleanup
check "cleanup: no namespace left" [ -z "$(ours)" ]
check "cleanup: spawned process (pid $sleep_pid) gone" wait_pid_gone "$sleep_pid" 1
check "cleanup: root-namespace interfaces unchanged" \
  [ "$(ip -o link show | awk -F': ' '{print $2}' | sort)" = "$root_links_before" ]
check "cleanup: foreign namespace with our prefix untouched" [ -e "/run/netns/$canary" ]
ip netns del "$canary"

# A run that fails half-way and one killed by SIGTERM must clean up too.
# shellcheck disable=SC2016
child_script='
  set -euo pipefail
  . "$1/netns.sh"
  netns_init
  netns_segment seg
  netns_host x; netns_attach x seg 198.18.9.1/24
  netns_host y; netns_attach y seg 198.18.9.2/24
  netns_spawn y "$NETNS_TMPDIR/sleep.log" sleep 300
  sp=$NETNS_LAST_PID
  # A spawned command that forks: its child is not registered, but lives
  # in one of the run'"'"'s namespaces, so cleanup must get it too.
  netns_spawn x "$NETNS_TMPDIR/fork.log" sh -c "sleep 301 & echo \$! > $NETNS_TMPDIR/gc; wait"
  wait_until 5 test -s "$NETNS_TMPDIR/gc"
  echo "$NETNS_PREFIX $sp $(cat "$NETNS_TMPDIR/gc")" > "$3"
  if [ "$2" = fail ]; then ip -n "$(netns_ns x)" link set nosuchif up; fi
  wait_until 30 false'
info=$(mktemp)
rc=0; bash -c "$child_script" child "$lib" fail "$info" >/dev/null 2>&1 || rc=$?
read -r cprefix cpid cgc < "$info"
check "failing run exits non-zero ($rc)" [ "$rc" -ne 0 ]
check "failing run: namespaces gone" [ -z "$(ip netns list | awk -v p="$cprefix-" 'index($1,p)==1')" ]
check "failing run: spawned process gone" wait_pid_gone "$cpid" 1
check "failing run: unregistered grandchild gone" wait_pid_gone "$cgc" 1

: > "$info"
bash -c "$child_script" child "$lib" term "$info" >/dev/null 2>&1 & cbash=$!
wait_until 10 test -s "$info" || fail "signalled child started"
read -r cprefix cpid cgc < "$info"
kill -TERM "$cbash"
rc=0; wait "$cbash" || rc=$?
check "SIGTERMed run exits 143 ($rc)" [ "$rc" -eq 143 ]
check "SIGTERMed run: namespaces gone" [ -z "$(ip netns list | awk -v p="$cprefix-" 'index($1,p)==1')" ]
check "SIGTERMed run: spawned process gone" wait_pid_gone "$cpid" 1
check "SIGTERMed run: unregistered grandchild gone" wait_pid_gone "$cgc" 1
# SIGKILL (a ctest timeout) cannot be trapped: netns_stale must list what
# such a run left behind. Remove it here by hand (it is our own child's).
: > "$info"
bash -c "$child_script" child "$lib" term "$info" >/dev/null 2>&1 & cbash=$!
wait_until 10 test -s "$info" || fail "killed child started"
read -r cprefix cpid cgc < "$info"
kill -KILL "$cbash"; wait "$cbash" 2>/dev/null || true
stale=$(netns_stale)
check "netns_stale lists the SIGKILLed run's namespaces" grep -q "^$cprefix-x " <<<"$stale"
for ns in $(ip netns list | awk -v p="$cprefix-" 'index($1,p)==1 {print $1}'); do
  left=$(ip netns pids "$ns")
  # shellcheck disable=SC2086  # one pid per word
  [ -z "$left" ] || kill -KILL $left 2>/dev/null || true
  ip netns del "$ns"
done
check "SIGKILLed run removed by hand" [ -z "$(ip netns list | awk -v p="$cprefix-" 'index($1,p)==1')" ]
rm -rf "/tmp/$cprefix".*
rm -f "$info"

echo "harness test: $fails failure(s) in $((SECONDS - t_start)) s"
[ "$fails" -eq 0 ]
