#!/usr/bin/env bash
# demo.sh - a whole ipop network on one machine, in network namespaces:
# a private ejabberd and coturn on a "public" segment, three nodes (alice,
# bob, and carol behind a NAT), each running ipop-tincan (root, drops to
# nobody with CAP_NET_ADMIN) and ipop-controller (as nobody). Prints each
# node's `ipopctl peers`, the URLs of its overlay map and metrics, and a
# ping matrix over the overlay, then keeps
# running until Ctrl-C or `demo.sh stop`. docs/quickstart.md explains it.
#
# usage: scripts/demo.sh [--mode group|social] [--once] [--no-install]
#                        [--no-build] [--build-dir DIR]
#        scripts/demo.sh stop
# It needs root: run as root (no sudo needed), or as a user with sudo, when
# it runs itself again through sudo.
#
#   --mode group    GroupVPN (default): alice, bob, carol in shared roster
#                   group "demo", one subnet 10.254.0.0/24
#   --mode social   SocialVPN: mutual friends, each sees the others at
#                   addresses from its own subnet
#   --once, --check set up, print, tear down; exit 0 only if every ping of
#                   the matrix succeeded (for tests and CI)
#   --no-install    do not run scripts/install-deps.sh (apt-get)
#   --no-build      use the binaries already in the build directory
#   --build-dir DIR build directory (default build/)
#   stop            stop a demo running in another shell
set -euo pipefail
IPOP_SCRIPT=demo.sh
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/common.sh
. "$top/scripts/lib/common.sh"
RUN=${IPOP_DEMO_RUN:-/run/ipop-demo}

args=("$@")
mode=group once=0 install=1 build=1 bdir=$top/build stop=0
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    --mode) need_arg "$@"
            case $2 in group|social) mode=$2 ;; *) usage_die "--mode: expected group or social, found '$2'" ;; esac
            shift ;;
    --once|--check) once=1 ;;
    --no-install) install=0 ;;
    --no-build) build=0 ;;
    --build-dir) need_arg "$@"; bdir=$(realpath -m "$2"); shift ;;
    stop) stop=1 ;;
    *) usage_die "unknown argument $1" ;;
  esac
  shift
done
# root: it installs packages, creates network namespaces and TAP devices
as_root "${args[@]}"

# demo_alive PID: PID is a running demo.sh (not a recycled PID).
demo_alive() { [ -n "$1" ] && { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -q 'demo\.sh'; }

# demo_stop: ask the running demo to tear itself down (SIGTERM); if it is
# gone but left namespaces behind (it was SIGKILLed), remove those.
demo_stop() {
  [ -f "$RUN/pid" ] || { echo "demo.sh: no demo running ($RUN/pid missing)"; return 0; }
  local pid prefix tmp i
  pid=$(cat "$RUN/pid"); prefix=$(cat "$RUN/prefix" 2>/dev/null || true)
  tmp=$(cat "$RUN/tmpdir" 2>/dev/null || true)
  if demo_alive "$pid"; then
    echo "demo.sh: stopping the demo (pid $pid) ..."
    kill -TERM "$pid"
    for i in $(seq 600); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
  fi
  if demo_alive "$pid"; then
    die "the demo (pid $pid) did not stop within 60 s"
  fi
  if [ -n "$prefix" ]; then
    local ns left
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix-" || true); do
      left=$(ip netns pids "$ns" 2>/dev/null || true)
      # shellcheck disable=SC2086
      [ -z "$left" ] || kill -KILL $left 2>/dev/null || true
      ip netns del "$ns" && echo "demo.sh: removed leftover namespace $ns"
    done
  fi
  [ -z "$tmp" ] || [[ $tmp != /tmp/ipt* ]] || rm -rf -- "$tmp"
  rm -rf -- "$RUN"
  echo "demo.sh: stopped"
}
if [ "$stop" = 1 ]; then demo_stop; exit 0; fi

if [ -f "$RUN/pid" ]; then
  if demo_alive "$(cat "$RUN/pid")"; then
    die "a demo is already running (pid $(cat "$RUN/pid")); stop it with: scripts/demo.sh stop"
  fi
  demo_stop >/dev/null    # leftovers of a demo that was killed
fi

T0=${EPOCHREALTIME/[.,]/}
if [ "$install" = 1 ]; then
  echo "[demo] installing dependencies (scripts/install-deps.sh) ..."
  bash "$top/scripts/install-deps.sh"
fi
if [ "$build" = 1 ]; then
  echo "[demo] building in $bdir (cmake) ..."
  tb=${EPOCHREALTIME/[.,]/}
  mkdir -p "$bdir"
  blog=$bdir/demo-build.log
  if ! { cmake -S "$top" -B "$bdir" && cmake --build "$bdir" -j "$(nproc)" --target ipop-tincan ipop-controller ipopctl; } >"$blog" 2>&1; then
    tail -n 40 "$blog" >&2; die "build failed (log: $blog)"
  fi
  echo "[demo] built in $(( (${EPOCHREALTIME/[.,]/} - tb) / 1000000 )) s"
fi
for b in tincan/ipop-tincan controller/ipop-controller ipopctl/ipopctl; do
  [ -x "$bdir/$b" ] || die "$bdir/$b is missing (build first, or drop --no-build)"
done
for c in ejabberdctl turnserver jq iptables setpriv; do
  command -v "$c" >/dev/null || die "$c not found: run scripts/install-deps.sh (or drop --no-install)"
done

export IPOP_SRC_DIR=$top IPOP_BUILD_DIR=$bdir
# shellcheck source=scripts/lib/demo_net.sh
. "$top/scripts/lib/demo_net.sh"
DEMO_T0=$T0
netns_can_run || die "network namespaces are not usable here"
netns_init
# Logs are printed on failure only, not when the user stops the demo.
DEMO_QUIET=0
eval "$(declare -f netns_dump_logs | sed '1s/netns_dump_logs/netns__dump_all/')"
netns_dump_logs() { [ "$DEMO_QUIET" = 1 ] || netns__dump_all; }
trap 'DEMO_QUIET=1; netns__on_signal 130' INT
trap 'DEMO_QUIET=1; netns__on_signal 143' TERM

mkdir -p "$RUN"
echo $$ >"$RUN/pid"; echo "$NETNS_PREFIX" >"$RUN/prefix"; echo "$NETNS_TMPDIR" >"$RUN/tmpdir"
netns_defer rm -rf -- "$RUN"

say "mode: $mode; namespaces ${NETNS_PREFIX}-*, files in $NETNS_TMPDIR"
demo_servers
say "creating accounts alice, bob, carol and $( [ "$mode" = group ] && echo "shared roster group '$DEMO_GROUP'" || echo "mutual friendships") (scripts/setup-ejabberd.sh) ..."
demo_accounts "$mode" >"$NETNS_TMPDIR/setup-ejabberd.log" 2>&1 &
acc_pid=$!
say "creating the NAT router (iptables MASQUERADE) and three nodes, starting ipop-tincan ..."
demo_nat
for h in "${DEMO_USERS[@]}"; do demo_node "$h" "$mode"; done
coturn_wait turn 20 || die "coturn did not start"
wait "$acc_pid" || { cat "$NETNS_TMPDIR/setup-ejabberd.log" >&2; die "setting up the XMPP accounts failed"; }
sed 's/^/           /' "$NETNS_TMPDIR/setup-ejabberd.log"
say "starting ipop-controller on each node (as user $CT_USER) ..."
for h in "${DEMO_USERS[@]}"; do demo_secrets "$h"; ct_controller_start "$h"; done
for h in "${DEMO_USERS[@]}"; do
  ct_wait_online "$h" 60 || die "$h's controller did not come online (log: $(ct_log "$h"))"
done
say "all three controllers online; waiting for the links ..."
tl=${EPOCHREALTIME/[.,]/}
links_ok=0
demo_wait_links 90 || links_ok=1
say "links up in $(( (${EPOCHREALTIME/[.,]/} - tl) / 1000 )) ms"
for h in "${DEMO_USERS[@]}"; do
  echo "--- ipopctl peers on $h ($( [ "$h" = carol ] && echo "behind the NAT, " )underlay ${DEMO_UNDERLAY[$h]})"
  ct_ctl "$h" peers | sed 's/^/    /'
done
# Each controller serves its overlay map and Prometheus metrics on the
# default Controller.Http.Listen, 127.0.0.1:9587, inside its namespace.
for h in "${DEMO_USERS[@]}"; do
  echo "--- $h's overlay map http://127.0.0.1:9587/ and metrics http://127.0.0.1:9587/metrics (in namespace $(netns_ns "$h"))"
done
say "ping matrix (each row pings each column over the overlay) ..."
matrix_ok=0
demo_matrix "$mode" || matrix_ok=1
total=$(demo_elapsed)
if [ "$matrix_ok" = 0 ] && [ "$links_ok" = 0 ]; then
  say "the whole ping matrix succeeded; demo network ready in ${total} s (from start, build included)"
else
  say "FAILED: some links or pings did not work (logs follow)"
fi

if [ "$once" = 1 ]; then
  say "--once: tearing down"
  [ "$matrix_ok" = 0 ] && [ "$links_ok" = 0 ] && DEMO_QUIET=1
  exit $(( matrix_ok | links_ok ))
fi

cat <<EOF

The demo network is running. Try, in another shell (as root):
  ip netns exec $(netns_ns alice) $IPOPCTL -k $(ct_dir alice)/control.key status
  ip netns exec $(netns_ns alice) $IPOPCTL -k $(ct_dir alice)/control.key peers
  ip netns exec $(netns_ns alice) ping $(demo_peer_addr alice carol "$mode")      # alice -> carol (behind NAT)
  less $(ct_log alice)
  ip netns exec $(netns_ns alice) curl -s http://127.0.0.1:9587/metrics     # alice's metrics
  ip netns exec $(netns_ns alice) chromium --no-sandbox http://127.0.0.1:9587/  # alice's overlay map
Stop it with Ctrl-C here, or: $top/scripts/demo.sh stop
EOF
stop_now=0
trap 'stop_now=1' INT TERM
while [ "$stop_now" = 0 ]; do sleep 1 || true; done
DEMO_QUIET=1
say "stopping: controllers, tincans, servers, namespaces ..."
exit 0
