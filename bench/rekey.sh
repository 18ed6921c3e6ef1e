#!/usr/bin/env bash
# bench/rekey.sh - ipop-tincan with its link keys rotating every 2 s against
# the same link with rotation (practically) off, one single-stream iperf3
# across at least 20 rotations per run (issue 12, finding 6).
#
#   sudo bench/rekey.sh                         # 3 runs of 42 s per mode
#   sudo BENCH_RUNS=5 BENCH_REKEY_SECS=60 bench/rekey.sh
#   sudo IPOP_BUILD_DIR=build-x bench/rekey.sh
#
# Modes, alternating (on, off, on, off, ...) so that drifts of a shared
# machine hit both alike:
#   on   Tincan.RekeyInterval 2 (both ends): a new epoch every ~2 s
#   off  Tincan.RekeyInterval 86400: no rotation during the run
# Per run: iperf3 TCP a->b for BENCH_REKEY_SECS (receiver Gbit/s, sender
# retransmits), rotations counted in both ends' link stats, and the longest
# gap between TCP data segments arriving on b's TAP (tcpdump), i.e. the
# longest stall the receiving application could have seen.  With rotation,
# the rekey messages are also caught on b's underlay (INIT and RESP records
# have sizes no frame record has), and each gap is attributed: "near" a
# rotation if it overlaps [first message - 50 ms, last + 100 ms] of an
# exchange, else "elsewhere" (scheduling on a busy machine).  Prints one line
# per run, then medians and, last,
#   rekey_tcp1_ratio X.XXX        (median Gbit/s with rotation / without)
#   rekey_max_gap_near_ms X.X     (longest gap overlapping a rotation)
#   rekey_max_gap_ms  X.X         (longest gap in any run with rotation)
#   rekey_cpu_us_initiator/_responder X   (CPU per rotation, bench/rekey_cost.c)
# Needs root, iperf3, tcpdump, jq and the build (tincan, ipopctl).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IPOP_SRC_DIR=${IPOP_SRC_DIR:-$(cd "$here/.." && pwd)}
# shellcheck source=bench/lib_peers.sh
. "$here/lib_peers.sh"
# shellcheck source=tests/integration/tincan_helpers.sh
. "$IPOP_SRC_DIR/tests/integration/tincan_helpers.sh"

BENCH_REKEY_SECS=${BENCH_REKEY_SECS:-42}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_TINCAN_MTU=${BENCH_TINCAN_MTU:-1376}

bench_can_run || { echo "rekey.sh: needs root, ip netns, iperf3, python3" >&2; exit 77; }
for t in tcpdump jq; do
  command -v $t >/dev/null || { echo "rekey.sh: $t missing (scripts/install-deps.sh)" >&2; exit 1; }
done
for b in "$TINCAN" "$IPOPCTL"; do
  [ -x "$b" ] || { echo "rekey.sh: $b not built (set IPOP_BUILD_DIR)" >&2; exit 1; }
done

# One measurement: MODE (on|off) RUN; appends a line to $BENCH_DIR/rekey.tsv.
measure() {
  local mode=$1 run=$2 interval d net pids=() r0a r1a r1b
  interval=$([ "$mode" = on ] && echo 2 || echo 86400)
  d="$BENCH_DIR/rekey-$mode-$run"
  mkdir -p "$d"
  net=10.254.9
  tc_start "$BENCH_A" "\"RekeyInterval\": $interval" || return 1
  tc_start "$BENCH_B" "\"RekeyInterval\": $interval" || return 1
  pids=("${TC_PID[$BENCH_A]}" "${TC_PID[$BENCH_B]}")
  for h in "$BENCH_A" "$BENCH_B"; do
    tc_call "$h" configure_logging "{\"level\":\"${BENCH_TINCAN_LOG:-info}\"}" >/dev/null
  done
  TC_OVERLAY_EXTRA=",\"mtu\":$BENCH_TINCAN_MTU" tc_overlay "$BENCH_A" node-a "$net.1" >/dev/null
  TC_OVERLAY_EXTRA=",\"mtu\":$BENCH_TINCAN_MTU" tc_overlay "$BENCH_B" node-b "$net.2" >/dev/null
  tc_link "$BENCH_A" node-a "$BENCH_B" node-b
  tc_wait_state "$BENCH_A" node-b up 30 || { bench_log "link not up"; return 1; }
  wait_ping "$BENCH_A" "$net.2" 20 || return 1
  netns_spawn "$BENCH_B" "$d/tcpdump.log" tcpdump -i ipop0 -n -s 96 -w "$d/b.pcap" \
    "tcp dst port $BENCH_IPERF_PORT"
  local tcpd=$NETNS_LAST_PID
  netns_spawn "$BENCH_B" "$d/tcpdump-ul.log" tcpdump -i veth0 -n -s 64 -w "$d/ul.pcap" \
    "udp and greater 170 and less 240"
  local tcpu=$NETNS_LAST_PID
  wait_file "$d/tcpdump.log" "listening on" 10 || { bench_log "tcpdump did not start"; return 1; }
  wait_file "$d/tcpdump-ul.log" "listening on" 10 || { bench_log "tcpdump did not start"; return 1; }
  r0a=$(tc_stat "$BENCH_A" node-b rekeys)
  netns_exec "$BENCH_A" timeout $((BENCH_REKEY_SECS + 30)) iperf3 -c "$net.2" \
    -p "$BENCH_IPERF_PORT" -t "$BENCH_REKEY_SECS" -J > "$d/iperf3.json" 2>&1 || {
    bench_log "iperf3 failed: $(head -c 300 "$d/iperf3.json")"; return 1; }
  r1a=$(tc_stat "$BENCH_A" node-b rekeys)
  r1b=$(tc_stat "$BENCH_B" node-a rekeys)
  kill -INT "$tcpd" "$tcpu" 2>/dev/null || true
  wait_pid_gone "$tcpd" 10 || true
  wait_pid_gone "$tcpu" 10 || true
  for h in "$BENCH_A" "$BENCH_B"; do
    tc_call "$h" query_link_stats "{}" > "$d/stats-$h.json" 2>/dev/null || true
  done
  local p
  for p in "${pids[@]}"; do netns_kill "$p" 5; done
  unset "TC_PID[$BENCH_A]" "TC_PID[$BENCH_B]"
  tcpdump -r "$d/b.pcap" -n -tt 2>/dev/null > "$d/b.txt" || true
  tcpdump -r "$d/ul.pcap" -n -tt 2>/dev/null > "$d/ul.txt" || true
  python3 - "$d/iperf3.json" "$d/b.txt" "$d/ul.txt" "$mode" "$run" "$((r1a - r0a))" "$r1b" \
    >> "$BENCH_DIR/rekey.tsv" <<'PY'
import json, re, sys
e = json.load(open(sys.argv[1]))["end"]
gbps = e["sum_received"]["bits_per_second"] / 1e9
retr = e["sum_sent"].get("retransmits", 0)
ts = []
for line in open(sys.argv[2]):
    m = re.match(r"(\d+\.\d+) .* length (\d+)", line)
    if m and int(m.group(2)) > 0:
        ts.append(float(m.group(1)))
# Rekey INIT/RESP on the underlay, by their record sizes: INIT 1 + 8 + 32 +
# 1 + a 64..72-byte signature, RESP 32 more, + 25 of record.  An exchange
# is a burst of them (less than 0.5 s apart).
rot = []
for line in open(sys.argv[3]):
    m = re.match(r"(\d+\.\d+) .*UDP, length (\d+)", line)
    if m and (131 <= int(m.group(2)) <= 139 or 163 <= int(m.group(2)) <= 171):
        t = float(m.group(1))
        if not rot or t - rot[-1][1] > 0.5:
            rot.append([t, t])
        else:
            rot[-1][1] = t
# Gaps between data segments, the first and last second left out (slow
# start, and the sender stopping); attributed to a rotation if they overlap
# [first message - 50 ms, last message + 100 ms] of one (an exchange takes
# a round trip or two; the new keys are in use right after it).
near = far = 0.0
if len(ts) > 2:
    lo, hi = ts[0] + 1.0, ts[-1] - 1.0
    inner = [t for t in ts if lo <= t <= hi]
    for a, b in zip(inner, inner[1:]):
        g = b - a
        if any(a <= r1 + 0.1 and b >= r0 - 0.05 for r0, r1 in rot):
            near = max(near, g)
        else:
            far = max(far, g)
print("%s\t%s\t%.4f\t%d\t%.2f\t%s\t%s\t%d\t%.2f\t%.2f\t%d" % (
    sys.argv[4], sys.argv[5], gbps, retr, max(near, far) * 1000, sys.argv[6], sys.argv[7],
    len(ts), near * 1000, far * 1000, len(rot)))
PY
  tail -n 1 "$BENCH_DIR/rekey.tsv" | awk -F'\t' '{printf "[rekey] %-3s run %s: %.2f Gbit/s, %d retransmits, max gap %.1f ms (near a rotation %.1f, elsewhere %.1f), rotations %s (a) %s (b), %d exchanges seen on the wire, %d data segments\n", $1, $2, $3, $4, $5, $9, $10, $6, $7, $11, $8}' >&2
}

bench_init
: > "$BENCH_DIR/rekey.tsv"
rc=0
for (( r=1; r<=BENCH_RUNS; r++ )); do
  for mode in on off; do
    measure "$mode" "$r" || { bench_log "rekey $mode run $r FAILED"; rc=1; }
  done
done
python3 - "$BENCH_DIR/rekey.tsv" "$BENCH_REKEY_SECS" "$BENCH_RUNS" <<'PY'
import os, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print()
print("ipop-tincan, keys rotating every 2 s vs not, iperf3 TCP 1 stream %s s, %s run(s) per mode; "
      "%d CPUs, load avg %s" % (sys.argv[2], sys.argv[3], os.cpu_count(),
                                " ".join(open("/proc/loadavg").read().split()[:3])))
print("%-5s %4s %10s %8s %12s %14s %14s %10s" % ("mode", "run", "Gbit/s", "retrans", "max gap ms",
                                                "near rot. ms", "elsewhere ms", "rotations"))
for m, r, g, rt, gap, ra, rb, n, near, far, nrot in rows:
    print("%-5s %4s %10.2f %8s %12s %14s %14s %10s" % (m, r, float(g), rt, gap, near, far, ra))
med = {}
for mode in ("on", "off"):
    v = [float(x[2]) for x in rows if x[0] == mode]
    if v:
        med[mode] = statistics.median(v)
        print("rekey_%s_tcp1_gbps %.4f" % (mode, med[mode]))
gaps_on = [float(x[4]) for x in rows if x[0] == "on"]
gaps_off = [float(x[4]) for x in rows if x[0] == "off"]
rot = [int(x[5]) for x in rows if x[0] == "on"]
if rot:
    print("rekey_on_rotations_min %d" % min(rot))
if gaps_off:
    print("rekey_off_max_gap_ms %.1f" % max(gaps_off))
if "on" in med and "off" in med:
    print("rekey_tcp1_ratio %.3f" % (med["on"] / med["off"]))
near_on = [float(x[8]) for x in rows if x[0] == "on"]
if near_on:
    print("rekey_max_gap_near_ms %.1f" % max(near_on))
if gaps_on:
    print("rekey_max_gap_ms %.1f" % max(gaps_on))
PY
# The CPU one rotation costs each side, measured in process (no network, no
# scheduling noise): at a 2 s interval, cost / 2 s is the share of a core.
cost=$IPOP_BUILD_DIR/tests/unit/tincan/rekey_cost
if [ -x "$cost" ]; then "$cost" 2000 || rc=1; fi
exit "$rc"
