# shellcheck shell=bash
# bench/lib_peers.sh - measure VPN paths between two namespaces over one veth.
#
# Topology: namespaces "a" and "b" (tests/lib/netns.sh names), one veth pair
# a:veth0 198.18.100.1/24 <-> b:veth0 198.18.100.2/24, MTU 1500. An iperf3
# server runs in b for the whole run. Each path under test is a pair of
# functions:
#
#   bench_path_<name>_up     build the path. Must set
#                              BENCH_PEER_ADDR  b's address as seen from a
#                                               over the path (what iperf3
#                                               and ping target)
#                              BENCH_PIDS=(...) the processes whose CPU time
#                                               and memory count (both ends;
#                                               empty for kernel-only paths)
#                            Start daemons with netns_spawn so that they are
#                            killed whatever happens. Return non-zero on failure.
#   bench_path_<name>_down   tear it down (processes, interfaces, files).
#
# plus an optional one-line description in BENCH_DESC[<name>]. Helpers the
# path functions may use: BENCH_A / BENCH_B (short namespace names, for
# netns_exec / netns_spawn), BENCH_UL_A / BENCH_UL_B (underlay addresses),
# BENCH_DIR (scratch dir, removed at exit), bench_overlay_net NAME (a
# distinct 10.254.N.0/24 per path, "10.254.N"), bench_wait_pids_alive.
# Built-in paths: veth (the bare link: the limit), tinc (tinc 1.0 switch
# mode over TAP), wggo (wireguard-go), fastd (fastd v22, TAP, aes128-gcm),
# nebula (Nebula 1.6, TUN, default AES). bench/tincan.sh adds "tincan".
#
#   . bench/lib_peers.sh
#   bench_init
#   bench_run veth tinc wggo          # BENCH_RUNS times each, in rotation
#   bench_report                      # table + "metric value" lines
#
# Knobs (environment): BENCH_SECS (iperf3 seconds per test, default 5),
# BENCH_NICE (renice the whole benchmark, e.g. -10, on a busy machine),
# BENCH_RUNS (repetitions, medians are reported, default 1), BENCH_PINGS
# (default 200, at 10 ms), BENCH_SUBJECT (a path to compare against the
# others: adds ratio columns and the last line ratio_vs_best_peer_tcp1).
#
# Metrics per path (medians over runs):
#   tcp1_gbps, tcp4_gbps   iperf3 TCP a->b, 1 and 4 streams (receiver side)
#   rtt_avg_ms, rtt_p99_ms ping a->b, BENCH_PINGS pings at 10 ms interval
#   cpu_s_per_gb           utime+stime of BENCH_PIDS (both ends) over the
#                          whole measurement, divided by GB (1e9 bytes)
#                          received by iperf3
#   rss_mib                largest VmHWM (peak RSS) among BENCH_PIDS, i.e.
#                          the footprint of one node's daemon
#   rss_sum_mib            sum of VmHWM over BENCH_PIDS (both ends)
#   tcp1_retrans_pct       TCP segments a retransmitted during the 1-stream
#                          test, % of the segments it sent (a's /proc/net/snmp)

if [ -n "${BENCH_LIB_LOADED:-}" ]; then return 0; fi
BENCH_LIB_LOADED=1

BENCH_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$BENCH_HERE/../tests/lib/netns.sh"

BENCH_SECS=${BENCH_SECS:-5}
BENCH_RUNS=${BENCH_RUNS:-1}
BENCH_PINGS=${BENCH_PINGS:-200}
BENCH_SUBJECT=${BENCH_SUBJECT:-}
BENCH_A=a
BENCH_B=b
BENCH_UL_A=198.18.100.1
BENCH_UL_B=198.18.100.2
BENCH_DIR=""
BENCH_PEER_ADDR=""
BENCH_PIDS=()
BENCH_PATHS=()               # paths measured, in order (for the report)
BENCH_IPERF_PORT=5201
declare -A BENCH_DESC=(
  [veth]="bare veth (kernel, offloads on): the limit"
  [tinc]="tinc $(tincd --version 2>/dev/null | awk 'NR==1{print $3}') switch mode (TAP), default cipher"
  [wggo]="wireguard-go $(wireguard-go --version 2>/dev/null | awk 'NR==1{print $2}') (TUN)"
  [fastd]="fastd $(fastd --version 2>/dev/null | awk 'NR==1{print $2}') (TAP, aes128-gcm, MTU 1434)"
  [nebula]="Nebula $(nebula -version 2>/dev/null | awk 'NR==1{print $2}') (TUN, default AES, MTU 1300)"
)
declare -A BENCH_NETNUM=()

bench_log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# bench_can_run: root, ip netns, iperf3, python3 present (else exit 77-ish).
bench_can_run() {
  netns_can_run || return 1
  local t
  for t in iperf3 python3 ping; do
    command -v "$t" >/dev/null || { echo "bench: $t missing" >&2; return 1; }
  done
}

# bench_init: namespaces a and b joined by one veth, iperf3 server in b.
# BENCH_NICE=N (e.g. -10) first renices this shell, so every process of the
# benchmark (daemons, iperf3, ping) inherits it: on a shared machine this
# keeps other work from eating into the numbers; it applies to all paths alike.
bench_init() {
  if [ -n "${BENCH_NICE:-}" ]; then renice -n "$BENCH_NICE" -p $$ >/dev/null; fi
  netns_init
  BENCH_DIR="$NETNS_TMPDIR/bench"
  mkdir -p "$BENCH_DIR"
  : > "$BENCH_DIR/results.tsv"
  netns_host "$BENCH_A"
  netns_host "$BENCH_B"
  netns_pair "$BENCH_A" veth0 "$BENCH_UL_A/24" "$BENCH_B" veth0 "$BENCH_UL_B/24" 1500
  netns_spawn "$BENCH_B" "$BENCH_DIR/iperf3-server.log" iperf3 -s -p "$BENCH_IPERF_PORT"
  wait_listen "$BENCH_B" tcp "$BENCH_IPERF_PORT" 10 || { bench_log "iperf3 server did not start"; return 1; }
  wait_ping "$BENCH_A" "$BENCH_UL_B" 5
}

# bench_overlay_net NAME: "10.254.N" with N distinct per path name (1, 2, ...).
bench_overlay_net() {
  if [ -z "${BENCH_NETNUM[$1]:-}" ]; then
    BENCH_NETNUM[$1]=$(( ${#BENCH_NETNUM[@]} + 1 ))
  fi
  echo "10.254.${BENCH_NETNUM[$1]}"
}

# bench_wait_pids_alive: 0 if every BENCH_PIDS process still runs.
bench_wait_pids_alive() {
  local p
  for p in "${BENCH_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || return 1; done
}

# bench_cpu_ticks PID...: sum of utime+stime (clock ticks) of the processes
# (all threads; fields 14 and 15 of /proc/PID/stat).
bench_cpu_ticks() {
  local p s sum=0
  for p in "$@"; do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    sum=$(( sum + ${12} + ${13} ))
  done
  echo "$sum"
}

# bench_hwm_kib PID...: "max sum" of VmHWM in KiB.
bench_hwm_kib() {
  local p v max=0 sum=0
  for p in "$@"; do
    v=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
    [ -n "$v" ] || continue
    sum=$((sum + v)); [ "$v" -gt "$max" ] && max=$v
  done
  echo "$max $sum"
}

bench__record() {  # path run metric value
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$BENCH_DIR/results.tsv"
}

# bench_iperf OUTFILE STREAMS: one iperf3 run a->b over the current path;
# prints "bits_per_second bytes" (receiver side).
bench_iperf() {
  local outf=$1 streams=$2
  netns_exec "$BENCH_A" timeout $((BENCH_SECS + 30)) iperf3 -c "$BENCH_PEER_ADDR" \
    -p "$BENCH_IPERF_PORT" -t "$BENCH_SECS" -P "$streams" -J > "$outf" 2>&1 || {
    bench_log "iperf3 -P $streams failed: $(head -c 300 "$outf")"; return 1; }
  python3 - "$outf" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["end"]["sum_received"]
print(e["bits_per_second"], e["bytes"])
PY
}

# bench_tcp_segs: "OutSegs RetransSegs" of namespace a (/proc/net/snmp).
bench_tcp_segs() {
  netns_exec "$BENCH_A" awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) f[$i] = i; h = 1 }
    else print $f["OutSegs"], $f["RetransSegs"] }' /proc/net/snmp
}

# bench_ping OUTFILE: BENCH_PINGS pings at 10 ms; prints "avg_ms p99_ms loss".
bench_ping() {
  local outf=$1
  netns_exec "$BENCH_A" ping -n -c "$BENCH_PINGS" -i 0.01 -W 1 "$BENCH_PEER_ADDR" > "$outf" 2>&1 || true
  python3 - "$outf" "$BENCH_PINGS" <<'PY'
import math, re, sys
rtts = sorted(float(m) for m in re.findall(r"time=([0-9.]+) ms", open(sys.argv[1]).read()))
n = int(sys.argv[2])
if not rtts:
    print("nan nan 1.0"); sys.exit(0)
p99 = rtts[max(0, math.ceil(0.99 * len(rtts)) - 1)]  # nearest rank
print("%.4f %.4f %.3f" % (sum(rtts) / len(rtts), p99, 1 - len(rtts) / n))
PY
}

# bench_measure NAME RUN: up, measure everything once, down. Results are
# appended to $BENCH_DIR/results.tsv.
bench_measure() {
  local name=$1 run=$2 d="$BENCH_DIR/$1.$2"
  declare -F "bench_path_${name}_up" >/dev/null || { bench_log "no path '$name'"; return 1; }
  mkdir -p "$d"
  BENCH_PEER_ADDR="" BENCH_PIDS=()
  bench_log "$name run $run: up"
  if ! "bench_path_${name}_up" "$d"; then
    bench_log "$name: setup failed"; "bench_path_${name}_down" "$d" || true; return 1
  fi
  if ! wait_ping "$BENCH_A" "$BENCH_PEER_ADDR" 20; then
    bench_log "$name: $BENCH_PEER_ADDR unreachable over the path"
    "bench_path_${name}_down" "$d" || true; return 1
  fi
  local hz t0 t1 tcp1 tcp4 hwm rtt_avg rtt_p99 loss bytes=0 ok=1
  hz=$(getconf CLK_TCK)
  t0=$(bench_cpu_ticks "${BENCH_PIDS[@]}")
  bench_log "$name run $run: ping x$BENCH_PINGS, iperf3 1 and 4 streams x ${BENCH_SECS}s"
  read -r rtt_avg rtt_p99 loss <<<"$(bench_ping "$d/ping.txt")"
  local s0 s1
  s0=$(bench_tcp_segs)
  tcp1=$(bench_iperf "$d/tcp1.json" 1) || ok=0
  s1=$(bench_tcp_segs)
  tcp4=$(bench_iperf "$d/tcp4.json" 4) || ok=0
  t1=$(bench_cpu_ticks "${BENCH_PIDS[@]}")
  hwm=$(bench_hwm_kib "${BENCH_PIDS[@]}")
  bench_wait_pids_alive || { bench_log "$name: a VPN process died during the run"; ok=0; }
  bench_log "$name run $run: down"
  "bench_path_${name}_down" "$d" || bench_log "$name: teardown reported an error"
  [ "$ok" -eq 1 ] || return 1
  bench__record "$name" "$run" rtt_avg_ms "$rtt_avg"
  bench__record "$name" "$run" rtt_p99_ms "$rtt_p99"
  bench__record "$name" "$run" ping_loss "$loss"
  bench__record "$name" "$run" tcp1_gbps "$(awk -v b="${tcp1% *}" 'BEGIN{printf "%.4f", b/1e9}')"
  bench__record "$name" "$run" tcp1_retrans_pct "$(awk -v a="$s0" -v b="$s1" 'BEGIN {
    split(a, x, " "); split(b, y, " "); o = y[1] - x[1]; r = y[2] - x[2]
    printf "%.3f", (o > 0 ? 100 * r / o : 0) }')"
  bench__record "$name" "$run" tcp4_gbps "$(awk -v b="${tcp4% *}" 'BEGIN{printf "%.4f", b/1e9}')"
  bytes=$(( ${tcp1#* } + ${tcp4#* } ))
  if [ "${#BENCH_PIDS[@]}" -gt 0 ]; then
    bench__record "$name" "$run" cpu_s_per_gb \
      "$(awk -v t=$((t1 - t0)) -v hz="$hz" -v b="$bytes" 'BEGIN{printf "%.3f", (t/hz)/(b/1e9)}')"
    bench__record "$name" "$run" rss_mib "$(awk -v k="${hwm% *}" 'BEGIN{printf "%.1f", k/1024}')"
    bench__record "$name" "$run" rss_sum_mib "$(awk -v k="${hwm#* }" 'BEGIN{printf "%.1f", k/1024}')"
  fi
}

# bench_run PATH...: measure each path BENCH_RUNS times (rotating through the
# paths, so slow drifts of the machine hit all of them alike). A path that
# fails is reported and skipped; returns non-zero if any failed.
bench_run() {
  local r p rc=0
  for p in "$@"; do
    [[ " ${BENCH_PATHS[*]} " == *" $p "* ]] || BENCH_PATHS+=("$p")
  done
  for (( r=1; r<=BENCH_RUNS; r++ )); do
    for p in "$@"; do
      bench_measure "$p" "$r" || { bench_log "$p run $r FAILED"; rc=1; }
    done
  done
  return "$rc"
}

# bench_report: the table (medians) and machine-readable lines
# "bench_<path>_<metric> value"; with BENCH_SUBJECT set, ratios of the
# subject against every other path and, last, ratio_vs_best_peer_tcp1
# (subject tcp1 / best tcp1 among the paths other than veth and itself).
bench_report() {
  local descs="" p
  for p in "${BENCH_PATHS[@]}"; do descs+="$p=${BENCH_DESC[$p]:-$p}"$'\n'; done
  BENCH_DESCS=$descs python3 - "$BENCH_DIR/results.tsv" "$BENCH_SUBJECT" "$BENCH_SECS" "$BENCH_RUNS" "${BENCH_PATHS[@]}" <<'PY'
import os, statistics, sys
res, subject, secs, runs, paths = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
descs = dict(l.split("=", 1) for l in os.environ["BENCH_DESCS"].splitlines() if l)
vals = {}
for line in open(res):
    p, r, m, v = line.rstrip("\n").split("\t")
    vals.setdefault((p, m), []).append(float(v))
def med(p, m):
    v = vals.get((p, m))
    return statistics.median(v) if v else None
cols = [("tcp1_gbps", "TCP 1 str Gbit/s", "%.2f"), ("tcp4_gbps", "TCP 4 str Gbit/s", "%.2f"),
        ("rtt_avg_ms", "ping avg ms", "%.3f"), ("rtt_p99_ms", "ping p99 ms", "%.3f"),
        ("cpu_s_per_gb", "CPU-s/GB", "%.1f"), ("rss_mib", "RSS MiB", "%.1f")]
print()
print("two namespaces over veth (MTU 1500), %s s per iperf3 test, median of %s run(s); %d CPUs, load avg %s, nice %d"
      % (secs, runs, os.cpu_count(), " ".join(open("/proc/loadavg").read().split()[:3]), os.nice(0)))
hdr = "%-8s" % "path" + "".join("%18s" % c[1] for c in cols)
print(hdr); print("-" * len(hdr))
for p in paths:
    row = "%-8s" % p
    for m, _, f in cols:
        v = med(p, m)
        row += "%18s" % ("-" if v is None else f % v)
    print(row)
print()
for p in paths:
    print("  %-8s %s" % (p, descs.get(p, p)))
print()
for p in paths:
    for m in ["tcp1_gbps", "tcp4_gbps", "rtt_avg_ms", "rtt_p99_ms", "ping_loss", "cpu_s_per_gb", "rss_mib", "rss_sum_mib", "tcp1_retrans_pct"]:
        v = med(p, m)
        if v is not None:
            print("bench_%s_%s %s" % (p, m, ("%.4f" % v).rstrip("0").rstrip(".") if v == v else "nan"))
if subject and med(subject, "tcp1_gbps") is not None:
    print()
    s1 = med(subject, "tcp1_gbps")
    for p in paths:
        if p == subject:
            continue
        for m in ["tcp1_gbps", "tcp4_gbps", "rtt_avg_ms"]:
            a, b = med(subject, m), med(p, m)
            if a is not None and b:
                print("ratio_%s_vs_%s_%s %.2f" % (subject, p, m, a / b))
    # The subject through a relay (BENCH_RELAY, e.g. tincanrelay) against
    # the subject direct, in the same run.
    relay = os.environ.get("BENCH_RELAY", "")
    if relay in paths and med(relay, "tcp1_gbps") is not None and s1:
        print("relay_tcp1_retrans_pct %.3f" % med(relay, "tcp1_retrans_pct"))
        print("ratio_relay_vs_direct_tcp1 %.2f" % (med(relay, "tcp1_gbps") / s1))
    peers = [med(p, "tcp1_gbps") for p in paths
             if p not in (subject, "veth", relay) and med(p, "tcp1_gbps")]
    if peers:
        print("ratio_vs_best_peer_tcp1 %.2f" % (s1 / max(peers)))
PY
}

# ------------------------------------------------------------- veth (limit)
bench_path_veth_up() { BENCH_PEER_ADDR=$BENCH_UL_B; BENCH_PIDS=(); }
bench_path_veth_down() { :; }

# ------------------------------------------------------- tinc 1.0, switch
# Config dirs in the scratch dir; RSA keys made non-interactively (tincd -K
# takes default file names when stdin is not a terminal). tinc's defaults
# are kept (PMTU discovery, MSS clamping, its default cipher) so the numbers
# are what a user of tinc would see.
bench__tinc_conf() {  # dir name other overlay_addr
  local dir=$1 name=$2 other=$3 addr=$4 ul=$5
  mkdir -p "$dir/hosts"
  cat > "$dir/tinc.conf" <<EOF
Name = $name
Mode = switch
DeviceType = tap
Device = /dev/net/tun
Interface = tinc0
AddressFamily = ipv4
BindToAddress = $ul
ConnectTo = $other
EOF
  printf 'Address = %s\nPort = 655\n' "$ul" > "$dir/hosts/$name"
  cat > "$dir/tinc-up" <<EOF
#!/bin/sh
ip link set "\$INTERFACE" up
ip addr add $addr/24 dev "\$INTERFACE"
EOF
  chmod +x "$dir/tinc-up"
  tincd -c "$dir" -K2048 </dev/null >"$dir/keygen.txt" 2>&1
}
bench_path_tinc_up() {
  local d=$1 net; net=$(bench_overlay_net tinc)
  bench__tinc_conf "$d/tinc-a" node_a node_b "$net.1" "$BENCH_UL_A" || return 1
  bench__tinc_conf "$d/tinc-b" node_b node_a "$net.2" "$BENCH_UL_B" || return 1
  cp "$d/tinc-a/hosts/node_a" "$d/tinc-b/hosts/"
  cp "$d/tinc-b/hosts/node_b" "$d/tinc-a/hosts/"
  # -D: stay in the foreground, so $! is tincd itself.
  netns_spawn "$BENCH_A" "$d/tinc-a.log" tincd -D -c "$d/tinc-a" --pidfile="$d/tinc-a/pid" -d1
  BENCH_PIDS=("$NETNS_LAST_PID")
  netns_spawn "$BENCH_B" "$d/tinc-b.log" tincd -D -c "$d/tinc-b" --pidfile="$d/tinc-b/pid" -d1
  BENCH_PIDS+=("$NETNS_LAST_PID")
  BENCH_PEER_ADDR="$net.2"
  wait_until 10 netns_exec "$BENCH_A" ip addr show dev tinc0 to "$net.1"
}
# bench_stop_pids: stop the path's processes (BENCH_PIDS), for _down functions.
bench_stop_pids() {
  local p
  for p in "${BENCH_PIDS[@]}"; do netns_kill "$p" 5; done
}
bench_path_tinc_down() { bench_stop_pids; }

# ----------------------------------------------------------- wireguard-go
# wireguard-go keeps its UAPI socket in /var/run/wireguard/<ifname>.sock,
# which is shared by all namespaces: the interface names carry the run
# prefix so that two runs (or the two ends) never meet there.
bench_path_wggo_up() {
  local d=$1 net ifa ifb
  net=$(bench_overlay_net wggo)
  ifa="wg${NETNS_PREFIX#ipt}a"; ifb="wg${NETNS_PREFIX#ipt}b"
  BENCH_WG_IFS=("$ifa" "$ifb")
  netns_defer rm -f "/var/run/wireguard/$ifa.sock" "/var/run/wireguard/$ifb.sock"
  ( umask 077
    wg genkey > "$d/a.key"; wg pubkey < "$d/a.key" > "$d/a.pub"
    wg genkey > "$d/b.key"; wg pubkey < "$d/b.key" > "$d/b.pub" )
  netns_spawn "$BENCH_A" "$d/wg-a.log" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go "$ifa"
  BENCH_PIDS=("$NETNS_LAST_PID")
  netns_spawn "$BENCH_B" "$d/wg-b.log" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go "$ifb"
  BENCH_PIDS+=("$NETNS_LAST_PID")
  wait_until 10 test -S "/var/run/wireguard/$ifa.sock" || return 1
  wait_until 10 test -S "/var/run/wireguard/$ifb.sock" || return 1
  netns_exec "$BENCH_A" wg set "$ifa" listen-port 51820 private-key "$d/a.key" \
    peer "$(cat "$d/b.pub")" allowed-ips "$net.2/32" endpoint "$BENCH_UL_B:51820"
  netns_exec "$BENCH_B" wg set "$ifb" listen-port 51820 private-key "$d/b.key" \
    peer "$(cat "$d/a.pub")" allowed-ips "$net.1/32" endpoint "$BENCH_UL_A:51820"
  # MTU 1420: 1500 - IPv4 20 - UDP 8 - WireGuard 32 - 20 spare (wg-quick's
  # default).
  netns_exec "$BENCH_A" ip addr add "$net.1/24" dev "$ifa"
  netns_exec "$BENCH_A" ip link set "$ifa" mtu 1420 up
  netns_exec "$BENCH_B" ip addr add "$net.2/24" dev "$ifb"
  netns_exec "$BENCH_B" ip link set "$ifb" mtu 1420 up
  BENCH_PEER_ADDR="$net.2"
}
bench_path_wggo_down() {
  bench_stop_pids
  rm -f "/var/run/wireguard/${BENCH_WG_IFS[0]}.sock" "/var/run/wireguard/${BENCH_WG_IFS[1]}.sock"
}

# bench_path_tool NAME: the programs a path needs ("" for kernel-only paths).
bench_path_tool() {
  case $1 in
    tinc) echo tincd ;;
    wggo) echo "wireguard-go wg" ;;
    fastd) echo fastd ;;
    nebula) echo "nebula nebula-cert" ;;
    tincanrelay) echo turnserver ;;
  esac
}

# ------------------------------------------------------------ fastd (TAP)
# fastd v22 in TAP mode with its aes128-gcm method, TAP MTU 1434 (what fastd
# documents for a 1500-byte IPv4 path), keys made for the run; the settings
# of /work/shared/reference/test-environment.md.
bench__fastd_conf() {  # dir ul secret peer_pub peer_ul overlay_addr
  cat > "$1/fastd.conf" <<EOF
log level error;
interface "fastd0";
mode tap;
method "aes128-gcm";
secret "$3";
mtu 1434;
bind $2:10000;
on up "ip link set \$INTERFACE up && ip addr add $6/24 dev \$INTERFACE";
peer "other" {
  key "$4";
  remote $5:10000;
}
EOF
}
bench__fastd_key() {  # dir: writes secret and public
  fastd --generate-key 2>/dev/null > "$1/key.txt"
  awk '/^Secret:/ {print $2}' "$1/key.txt" > "$1/secret"
  awk '/^Public:/ {print $2}' "$1/key.txt" > "$1/public"
  [ -s "$1/secret" ] && [ -s "$1/public" ]
}
bench_path_fastd_up() {
  local d=$1 net; net=$(bench_overlay_net fastd)
  mkdir -p "$d/fastd-a" "$d/fastd-b"
  ( umask 077; bench__fastd_key "$d/fastd-a" && bench__fastd_key "$d/fastd-b" ) || return 1
  bench__fastd_conf "$d/fastd-a" "$BENCH_UL_A" "$(cat "$d/fastd-a/secret")" \
    "$(cat "$d/fastd-b/public")" "$BENCH_UL_B" "$net.1"
  bench__fastd_conf "$d/fastd-b" "$BENCH_UL_B" "$(cat "$d/fastd-b/secret")" \
    "$(cat "$d/fastd-a/public")" "$BENCH_UL_A" "$net.2"
  # b listens before a starts: a's first handshake then gets through
  # (otherwise both may wait for fastd's handshake retry, ~20 s).
  netns_spawn "$BENCH_B" "$d/fastd-b.log" fastd -c "$d/fastd-b/fastd.conf"
  BENCH_PIDS=("$NETNS_LAST_PID")
  wait_listen "$BENCH_B" udp 10000 10 || return 1
  netns_spawn "$BENCH_A" "$d/fastd-a.log" fastd -c "$d/fastd-a/fastd.conf"
  BENCH_PIDS+=("$NETNS_LAST_PID")
  BENCH_PEER_ADDR="$net.2"
  wait_until 10 netns_exec "$BENCH_A" ip addr show dev fastd0 to "$net.1"
}
bench_path_fastd_down() { bench_stop_pids; }

# ----------------------------------------------------------- Nebula (TUN)
# Nebula 1.6 with a CA and two host certificates made for the run, each
# host told the other's underlay address (static_host_map, no lighthouse),
# default cipher (AES-256-GCM), MTU 1300 (its default), one routine, the
# firewall open; the settings of /work/shared/reference/test-environment.md.
bench__nebula_conf() {  # dir name ul peer_overlay peer_ul
  cat > "$1/$2.yml" <<EOF
pki:
  ca: $1/ca.crt
  cert: $1/$2.crt
  key: $1/$2.key
static_host_map:
  "$4": ["$5:4242"]
lighthouse:
  am_lighthouse: false
listen:
  host: $3
  port: 4242
punchy:
  punch: false
tun:
  dev: nebula0
  mtu: 1300
logging:
  level: error
firewall:
  outbound:
    - port: any
      proto: any
      host: any
  inbound:
    - port: any
      proto: any
      host: any
EOF
}
bench_path_nebula_up() {
  local d=$1 net; net=$(bench_overlay_net nebula)
  mkdir -p "$d/nebula"
  ( cd "$d/nebula" && umask 077 &&
    nebula-cert ca -name ipop-bench -out-crt ca.crt -out-key ca.key &&
    nebula-cert sign -ca-crt ca.crt -ca-key ca.key -name a -ip "$net.1/24" \
      -out-crt a.crt -out-key a.key &&
    nebula-cert sign -ca-crt ca.crt -ca-key ca.key -name b -ip "$net.2/24" \
      -out-crt b.crt -out-key b.key ) >"$d/nebula-cert.log" 2>&1 || return 1
  bench__nebula_conf "$d/nebula" a "$BENCH_UL_A" "$net.2" "$BENCH_UL_B"
  bench__nebula_conf "$d/nebula" b "$BENCH_UL_B" "$net.1" "$BENCH_UL_A"
  netns_spawn "$BENCH_A" "$d/nebula-a.log" nebula -config "$d/nebula/a.yml"
  BENCH_PIDS=("$NETNS_LAST_PID")
  netns_spawn "$BENCH_B" "$d/nebula-b.log" nebula -config "$d/nebula/b.yml"
  BENCH_PIDS+=("$NETNS_LAST_PID")
  BENCH_PEER_ADDR="$net.2"
  wait_until 10 netns_exec "$BENCH_A" ip addr show dev nebula0 to "$net.1"
}
bench_path_nebula_down() { bench_stop_pids; }
