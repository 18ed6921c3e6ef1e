#!/usr/bin/env bash
# scripts/valgrind.sh: both daemons under valgrind's memcheck through one
# end-to-end GroupVPN scenario with three nodes (the integration harness:
# ejabberd, namespaces, real TAP devices), then a clean stop.  Fails on any
# invalid access, use of uninitialised memory, bad free or definite leak
# (errors counted in each process's "ERROR SUMMARY"); "possibly lost" and
# "still reachable" blocks (GLib's type system, OpenSSL's and libxml2's
# global tables) are not errors.
#
# Scenario: n1, n2, n3 in group "lab" with Tincan.RekeyInterval 5 s; every
# pair links and pings; n3's controller restarts (the others take its links
# down, and up again); n3's tincan is stopped and started (its controller
# re-creates the overlay and the links); every pair pings again; all
# daemons get SIGTERM and must exit 0 with a clean memcheck report.
#
#   sudo scripts/valgrind.sh                     # build/ (default)
#   sudo IPOP_BUILD_DIR=build-x scripts/valgrind.sh
#   VALGRIND_KEEP=/tmp/vg scripts/valgrind.sh    # keep the memcheck logs
#
# Suppressions: scripts/valgrind.supp (third-party noise only, each one
# commented).  Needs root, ejabberd, valgrind; ~4-5 minutes on 2 loaded
# cores (a daemon under memcheck runs 20-50 times slower).  Exit 77 when
# something it needs is missing.  Not a CI step (4-5 minutes): run it by hand.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export IPOP_SRC_DIR=${IPOP_SRC_DIR:-$(cd "$HERE/.." && pwd)}
# shellcheck source=tests/integration/controller_helpers.sh
. "$IPOP_SRC_DIR/tests/integration/controller_helpers.sh"
ct_skip_unless_ready
command -v valgrind >/dev/null || { echo "skip: valgrind not installed"; exit 77; }

netns_init
VG_DIR=$NETNS_TMPDIR/valgrind
mkdir -p "$VG_DIR"
chmod 1777 "$VG_DIR"   # the controllers run as nobody
# The daemons as the helpers start them, but inside memcheck.
vg_wrap() {  # NAME REAL_BINARY: a wrapper script for it
  cat >"$VG_DIR/$1" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \\
  --errors-for-leak-kinds=definite --track-origins=yes --num-callers=40 \\
  --suppressions=$IPOP_SRC_DIR/scripts/valgrind.supp \\
  --log-file=$VG_DIR/$1.%p.log "$2" "\$@"
EOF
  chmod 755 "$VG_DIR/$1"
}
vg_wrap ipop-tincan "$TINCAN"
vg_wrap ipop-controller "$CONTROLLER"
TINCAN=$VG_DIR/ipop-tincan
CONTROLLER=$VG_DIR/ipop-controller
chmod 755 "$NETNS_TMPDIR"

# ct_tincan_start with a deadline for memcheck's slower start.
ct_tincan_start() {
  local h=$1 d
  d=$(ct_dir "$h")
  netns_spawn "$h" "$d/tincan.log" "$TINCAN" -c "$d/config.json"
  TC_PID[$h]=$NETNS_LAST_PID
  wait_until 60 tc_ctl "$h" echo ping || { tail -n 30 "$d/tincan.log" >&2; return 1; }
}

netns_segment pub
ct_xmpp_start
ct_xmpp_users n1 n2 n3
ct_xmpp_friends lab n1 n2 n3
ct_xmpp_ready
nodes=(n1 n2 n3)
i=41
for h in "${nodes[@]}"; do
  netns_host "$h"
  netns_attach "$h" pub "198.18.0.$i/24"
  ct_config "$h" group '"Group": "lab", "LinkSetupTimeout": 60' '"Subnet": "10.254.0.0/24"'
  d=$(ct_dir "$h")
  jq '.Tincan.RekeyInterval = 5' "$d/config.json" >"$d/c.tmp" && mv "$d/c.tmp" "$d/config.json"
  chmod 644 "$d/config.json"
  ct_tincan_start "$h"
  i=$((i + 1))
done
for h in "${nodes[@]}"; do ct_controller_start "$h"; done
for h in "${nodes[@]}"; do check "$h online" ct_wait_online "$h" 120; done
ct_read_ip4 "${nodes[@]}"
all_ping() { ct_all_ping 2 "${nodes[@]}"; }
check "all pairs ping" wait_until 180 all_ping
check "links rekeyed under memcheck" \
  wait_until 30 eval '[ "$(tc_call n1 query_link_stats "{\"overlay_id\":\"lab\"}" | jq "[.links[].rekeys] | add // 0")" -ge 2 ]'

echo "# n3's controller restarts"
netns_kill "${CT_PID[n3]}" 60
ct_controller_start n3
check "n3 back online" ct_wait_online n3 120
check "all pairs ping after the controller restart" wait_until 180 all_ping

echo "# n3's tincan stops and starts"
netns_kill "${TC_PID[n3]}" 60
ct_tincan_start n3
check "all pairs ping after the tincan restart" wait_until 180 all_ping

echo "# stop: SIGTERM to every daemon, memcheck's report at exit"
vg_stop() {  # PID: TERM, wait for the exit status (memcheck's leak check takes a while)
  kill -TERM "$1" 2>/dev/null || return 1
  local rc=0
  wait_until 120 wait__pid_gone "$1" || { kill -KILL "$1"; return 1; }
  wait "$1" || rc=$?
  return "$rc"
}
for h in "${nodes[@]}"; do check "controller $h exits 0" vg_stop "${CT_PID[$h]}"; done
for h in "${nodes[@]}"; do check "tincan $h exits 0" vg_stop "${TC_PID[$h]}"; done

# Every memcheck log: ERROR SUMMARY 0 (invalid accesses, uninitialised
# values, bad frees and definite leaks all count).
n=0
for f in "$VG_DIR"/*.log; do
  [ -e "$f" ] || continue
  n=$((n + 1))
  what=$(basename "$f" .log)
  errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$f" | tail -n 1)
  lost=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$f" | tail -n 1)
  echo "# $what: ${errs:-?} errors, definitely lost ${lost:-0} bytes"
  if ! check "$what: memcheck clean" test "${errs:-x}" = 0; then
    sed -n '/^==[0-9]*== \(Invalid\|Conditional\|Use of\|Mismatched\|[0-9,]* bytes in [0-9,]* blocks are definitely\)/,/^==[0-9]*== $/p' "$f" | head -n 80
  fi
done
check "memcheck logs of 3 controllers and 3 tincans (and their restarts)" test "$n" -ge 8
if [ -n "${VALGRIND_KEEP:-}" ]; then mkdir -p "$VALGRIND_KEEP"; cp "$VG_DIR"/*.log "$VALGRIND_KEEP"/; fi
[ "$TC_FAILS" -eq 0 ] && echo "valgrind: clean" || { echo "valgrind: FAIL"; exit 1; }
