#!/usr/bin/env bash
# bench/http.sh - the controller's HTTP listener (issue 14): latency of
# /metrics, /api/map and / for sequential keep-alive requests, the
# controller's CPU time per request, and its CPU time while nobody asks.
# One namespace with ipop-tincan and a bare controller (no XMPP, no links:
# the fixed cost of the listener and the hand-off, not of many links).
#
#   bench/http.sh                 # 2000 requests per path, 20 s idle
#   BENCH_REQS=10000 BENCH_IDLE=60 bench/http.sh
#
# Needs root and a build in build/ (or IPOP_BUILD_DIR).  Prints one line
# per path:  path  bytes  p50/p99/max ms  requests/s  controller CPU us/request
set -euo pipefail
IPOP_SRC_DIR=${IPOP_SRC_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
IPOP_BUILD_DIR=${IPOP_BUILD_DIR:-$IPOP_SRC_DIR/build}
. "$IPOP_SRC_DIR/tests/integration/controller_helpers.sh"
tc_skip_unless_ready
reqs=${BENCH_REQS:-2000} idle=${BENCH_IDLE:-20}
netns_init
netns_host h
tc_start h "\"ControllerUser\": \"$CT_USER\"" >/dev/null
d=$(tc_dir h)
mkdir -p "$d/state"; chmod 755 "$NETNS_TMPDIR" "$d"; chown "$CT_USER" "$d/state"
jq --arg sd "$d/state" '.Controller = { StateDir: $sd, Http: { Listen: "127.0.0.1:9587" } }' \
  "$d/config.json" >"$d/ctrl.json"
chmod 644 "$d/ctrl.json"
netns_spawn h "$d/controller.log" setpriv --reuid="$CT_USER" --regid=nogroup --clear-groups \
  "$CONTROLLER" -c "$d/ctrl.json"
pid=$NETNS_LAST_PID
up() { netns_exec h curl -sf -o /dev/null http://127.0.0.1:9587/metrics; }
wait_until 10 up || { cat "$d/controller.log"; exit 1; }
cpu_us() { awk '{print ($14 + $15) * 1000000 / '"$(getconf CLK_TCK)"'}' "/proc/$pid/stat"; }

echo "# ipop-controller HTTP listener, $reqs sequential keep-alive requests per path (load: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-10s %8s %24s %12s %18s\n' path bytes "p50/p99/max ms" "requests/s" "CPU us/request"
for path in /metrics /api/map /; do
  c0=$(cpu_us)
  netns_exec h python3 - "$path" "$reqs" <<'PY'
import http.client, sys, time
path, n = sys.argv[1], int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", 9587, timeout=10)
lat = []; size = 0; t0 = time.monotonic()
for _ in range(n):
    s = time.monotonic()
    c.request("GET", path)
    r = c.getresponse(); body = r.read()
    if r.status != 200: sys.exit("HTTP %d" % r.status)
    size = len(body)
    lat.append((time.monotonic() - s) * 1000)
    if r.getheader("Connection", "").lower() == "close":
        c.close(); c = http.client.HTTPConnection("127.0.0.1", 9587, timeout=10)
t = time.monotonic() - t0
lat.sort()
print("%-10s %8d %24s %12.0f" % (path, size, "%.3f/%.3f/%.3f" % (lat[n // 2], lat[n * 99 // 100], lat[-1]), n / t), end="")
PY
  c1=$(cpu_us)
  awk -v a="$c0" -v b="$c1" -v n="$reqs" 'BEGIN { printf " %18.1f\n", (b - a) / n }'
done
sleep 61   # the listener counts as unused 60 s after the last request
c0=$(cpu_us); sleep "$idle"; c1=$(cpu_us)
awk -v a="$c0" -v b="$c1" -v t="$idle" 'BEGIN { printf "idle: the controller (heartbeat included) used %.0f us of CPU in %d s with nobody asking (snapshot every 10 s)\n", b - a, t }'
