# shellcheck shell=bash
# tests/lib/netns.sh - build small, self-cleaning networks of network
# namespaces for integration tests and benchmarks.
#
# Source it, call netns_init once, then build:
#
#   . "$IPOP_SRC_DIR/tests/lib/netns.sh"
#   netns_init                                   # traps EXIT/INT/TERM
#   netns_segment pub                            # an L2 switch
#   netns_host a; netns_attach a pub 198.18.0.11/24
#   netns_host b; netns_attach b pub 198.18.0.12/24
#   netns_spawn b "$NETNS_TMPDIR/srv.log" iperf3 -s; srv=$NETNS_LAST_PID
#   wait_ping a 198.18.0.12 5
#
# Safety rules this library keeps (so tests can run on a developer's box):
#   * Every namespace it creates is named "$NETNS_PREFIX-<name>", where the
#     prefix is unique to this run, and is recorded *before* it is created
#     so that cleanup after a partial setup still finds it.
#   * Interfaces are only ever created inside namespaces of this run (veth
#     ends are born directly in their target namespaces with
#     `ip link add ... netns A type veth peer ... netns B`), so nothing
#     appears in the root namespace and deleting the namespaces removes
#     every interface. Interface names are therefore short and readable.
#   * Underlay addresses must lie in 198.18.0.0/15 (RFC 2544 benchmarking
#     range); sysctls and iptables rules are only set inside our namespaces.
#   * netns_cleanup kills only processes started through netns_spawn (PID
#     checked against its recorded start time, so a recycled PID is never
#     hit) and then any process still inside one of *this run's* namespaces
#     (those can only be ours), then deletes exactly the recorded namespaces.
#
# All public functions take the short names ("a", "pub"); netns_ns maps a
# short name to the real namespace name.

# Loaded once, even if sourced by several libraries.
if [ -n "${NETNS_LIB_LOADED:-}" ]; then return 0; fi
NETNS_LIB_LOADED=1

# shellcheck source=tests/lib/wait.sh
. "$(dirname "${BASH_SOURCE[0]}")/wait.sh"

NETNS_PREFIX=""          # e.g. ipt1a2b3c7f
NETNS_TMPDIR=""          # per-run scratch dir (logs, configs); removed at exit
NETNS_LAST_PID=""        # PID of the last netns_spawn
NETNS_LIST=()            # namespaces of this run (full names), creation order
NETNS_PIDS=()            # "pid:starttime" of spawned processes
declare -A NETNS_IFCOUNT=()   # per-namespace counter for bridge port names
declare -A NETNS_DEFROUTE=()  # host -> default gateway (re-added by netns_link_up)
NETNS_DEFER=()           # commands (strings) run by netns_cleanup
NETNS_CLEANED=0

netns_log() { printf '[netns %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
netns_die() { printf '[netns] ERROR: %s\n' "$*" >&2; exit 1; }

# netns_can_run: 0 if we are root and `ip netns` works (callers exit 77 if not).
netns_can_run() {
  [ "$(id -u)" -eq 0 ] || { echo "netns: not root" >&2; return 1; }
  command -v ip >/dev/null || { echo "netns: no ip(8)" >&2; return 1; }
  ip netns list >/dev/null 2>&1 || { echo "netns: ip netns unusable" >&2; return 1; }
  command -v iptables >/dev/null || { echo "netns: no iptables" >&2; return 1; }
  # Root in a container without CAP_SYS_ADMIN cannot make namespaces.
  if command -v unshare >/dev/null; then
    unshare --net true 2>/dev/null || { echo "netns: cannot create namespaces" >&2; return 1; }
  fi
}

# netns_init: choose the run prefix, make the scratch dir, install the traps.
netns_init() {
  [ -z "$NETNS_PREFIX" ] || return 0
  # pid in hex + a random byte: unique among concurrent runs and unlikely to
  # meet leftovers of a SIGKILLed earlier run with a recycled PID.
  NETNS_PREFIX=$(printf 'ipt%x%02x' "$$" $((RANDOM % 256)))
  NETNS_TMPDIR=$(mktemp -d "/tmp/${NETNS_PREFIX}.XXXXXX")
  # On EXIT keep the script's status; on a signal, clean up and exit 128+n.
  trap 'netns__on_exit $?' EXIT
  trap 'netns__on_signal 130' INT
  trap 'netns__on_signal 143' TERM
}

netns__on_exit() {
  local rc=$1
  trap - EXIT
  set +e             # cleanup must run to the end whatever fails
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then netns_dump_logs; fi
  netns_cleanup
  exit "$rc"
}
netns__on_signal() {
  trap - INT TERM
  netns_log "signal: cleaning up"
  exit "$1"          # runs the EXIT trap
}

# netns_dump_logs: print the tail of every *.log in the scratch dir (on failure).
netns_dump_logs() {
  local f
  [ -n "$NETNS_TMPDIR" ] && [ -d "$NETNS_TMPDIR" ] || return 0
  for f in $(find "$NETNS_TMPDIR" -name '*.log' -type f 2>/dev/null | sort); do
    printf -- '----- %s (last 25 lines) -----\n' "${f#"$NETNS_TMPDIR"/}" >&2
    tail -n 25 "$f" >&2 || true
  done
}

# netns_ns NAME: print the real namespace name of a short name.
netns_ns() { printf '%s-%s' "$NETNS_PREFIX" "$1"; }

# netns_exec NAME cmd...: run a command inside a namespace of this run.
netns_exec() {
  local ns; ns=$(netns_ns "$1"); shift
  ip netns exec "$ns" "$@"
}

netns__exists() { [ -e "/run/netns/$1" ]; }

netns__check_underlay() {
  # ADDR/LEN with ADDR in 198.18.0.0/15, or (IPv6) in fd00:198:18::/48 or
  # fd00:198:19::/48: unique local addresses, never routed off the machine.
  local a=$1 o1 o2 o3 o4 len
  if [[ $a == *:* ]]; then
    [[ $a =~ ^fd00:198:1[89]:[0-9a-f:]*/([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 48 ] &&
      [ "${BASH_REMATCH[1]}" -le 128 ] ||
      netns_die "underlay address '$a' outside fd00:198:18::/48 and fd00:198:19::/48"
    return 0
  fi
  [[ $a =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)\.([0-9]+)/([0-9]+)$ ]] ||
    netns_die "address '$a' is not IPv4 ADDR/LEN"
  o1=${BASH_REMATCH[1]} o2=${BASH_REMATCH[2]} o3=${BASH_REMATCH[3]}
  o4=${BASH_REMATCH[4]} len=${BASH_REMATCH[5]}
  if [ "$o1" -ne 198 ] || { [ "$o2" -ne 18 ] && [ "$o2" -ne 19 ]; } ||
     [ "$o3" -gt 255 ] || [ "$o4" -gt 255 ] || [ "$len" -lt 15 ] || [ "$len" -gt 32 ]; then
    netns_die "underlay address '$a' outside 198.18.0.0/15"
  fi
}

# netns_host NAME: create a namespace with loopback up (and IPv6 DAD off so
# addresses are usable at once).
netns_host() {
  [ -n "$NETNS_PREFIX" ] || netns_die "call netns_init first"
  local ns; ns=$(netns_ns "$1")
  netns__exists "$ns" && netns_die "namespace $ns already exists"
  NETNS_LIST+=("$ns")            # record first: cleanup after partial setup
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
    net.ipv6.conf.default.accept_dad=0 >/dev/null
  # NETNS_DISABLE_IPV6=1: no IPv6 at all (fewer ICE candidates to reason about).
  if [ "${NETNS_DISABLE_IPV6:-0}" = 1 ]; then
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
      net.ipv6.conf.default.disable_ipv6=1 >/dev/null
  fi
  NETNS_IFCOUNT[$ns]=0
}

# netns_segment NAME: an Ethernet segment = namespace "br-NAME" holding bridge
# br0 (so no host may be called "br-...").
# Hosts join with netns_attach.
netns_segment() {
  netns_host "br-$1"
  local ns; ns=$(netns_ns "br-$1")
  ip -n "$ns" link add br0 type bridge
  # No STP, forward at once: ports are usable as soon as they are up.
  ip -n "$ns" link set br0 type bridge stp_state 0 forward_delay 0
  ip -n "$ns" link set br0 up
}

# netns__addr NS IFNAME ADDR/LEN: an IPv4 or IPv6 address (IPv6 without
# duplicate address detection: usable at once).
netns__addr() {
  if [[ $3 == *:* ]]; then ip -n "$1" -6 addr add "$3" dev "$2" nodad
  else ip -n "$1" addr add "$3" dev "$2"; fi
}

# netns_addr HOST IFNAME ADDR/LEN: one more underlay address on an
# interface (e.g. IPv6 next to IPv4: a dual-stack host).
netns_addr() {
  netns__check_underlay "$3"
  netns__addr "$(netns_ns "$1")" "$2" "$3"
}

# netns_attach HOST SEGMENT ADDR/LEN [IFNAME] [MTU]: plug HOST into SEGMENT
# with a veth named IFNAME (default: the segment's name) carrying ADDR
# (IPv4 in 198.18.0.0/15, or IPv6 in fd00:198:18::/48: an IPv6-only host).
netns_attach() {
  local host=$1 seg=$2 addr=$3 ifn=${4:-$2} mtu=${5:-1500}
  netns__check_underlay "$addr"
  [ "${#ifn}" -le 15 ] || netns_die "interface name '$ifn' longer than 15"
  local hns sns port
  hns=$(netns_ns "$host"); sns=$(netns_ns "br-$seg")
  netns__exists "$sns" || netns_die "no segment $seg"
  NETNS_IFCOUNT[$sns]=$(( ${NETNS_IFCOUNT[$sns]:-0} + 1 ))
  port="p${NETNS_IFCOUNT[$sns]}"
  ip link add "$ifn" mtu "$mtu" netns "$hns" type veth peer name "$port" mtu "$mtu" netns "$sns"
  ip -n "$sns" link set "$port" master br0 up
  netns__addr "$hns" "$ifn" "$addr"
  ip -n "$hns" link set "$ifn" up
}

# netns_pair A IFA ADDRA B IFB ADDRB [MTU]: a direct veth between two hosts.
netns_pair() {
  local a=$1 ifa=$2 addra=$3 b=$4 ifb=$5 addrb=$6 mtu=${7:-1500}
  netns__check_underlay "$addra"; netns__check_underlay "$addrb"
  local ans bns; ans=$(netns_ns "$a"); bns=$(netns_ns "$b")
  ip link add "$ifa" mtu "$mtu" netns "$ans" type veth peer name "$ifb" mtu "$mtu" netns "$bns"
  netns__addr "$ans" "$ifa" "$addra"; ip -n "$ans" link set "$ifa" up
  netns__addr "$bns" "$ifb" "$addrb"; ip -n "$bns" link set "$ifb" up
}

# netns_route_default HOST GW: default route of HOST via GW.
netns_route_default() {
  ip -n "$(netns_ns "$1")" route replace default via "$2"
  NETNS_DEFROUTE[$1]=$2
}

# netns_sysctl HOST key=value...: sysctl inside one of our namespaces only.
netns_sysctl() {
  local h=$1; shift
  netns_exec "$h" sysctl -qw "$@" >/dev/null
}

# netns_router NAME MODE WANSEG WANADDR/LEN LANSEG LANADDR/LEN
#   MODE: cone      - MASQUERADE: keeps the source port when free, so the
#                     mapping is endpoint-independent (hole punching works)
#         symmetric - MASQUERADE --random-fully: a new random port for every
#                     new 5-tuple (endpoint-dependent; needs TURN)
#         route     - plain router, no NAT, no filtering
# In the NAT modes the router behaves like a home router: nothing NEW gets
# in from the WAN. NEW packets to its own WAN address are dropped in INPUT -
# if they were accepted, an early punch packet from the peer would create a
# conntrack entry owning the tuple and the host's own outgoing punch would
# be mapped to a different port (see test-environment.md, "conntrack trap").
# Inward forwarding is limited to ESTABLISHED/RELATED.
netns_router() {
  local name=$1 mode=$2 wseg=$3 waddr=$4 lseg=$5 laddr=$6
  case $mode in cone|symmetric|route) ;; *) netns_die "router mode '$mode'";; esac
  netns_host "$name"
  netns_attach "$name" "$wseg" "$waddr" wan
  netns_attach "$name" "$lseg" "$laddr" lan
  netns_sysctl "$name" net.ipv4.ip_forward=1
  [ "$mode" = route ] && return 0
  local ipt=(netns_exec "$name" iptables -w)
  local masq=(-t nat -A POSTROUTING -o wan -j MASQUERADE)
  [ "$mode" = symmetric ] && masq+=(--random-fully)
  "${ipt[@]}" "${masq[@]}"
  "${ipt[@]}" -A INPUT -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  "${ipt[@]}" -A INPUT -i wan -j DROP
  "${ipt[@]}" -A FORWARD -i wan -o lan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  "${ipt[@]}" -A FORWARD -i wan -j DROP
  "${ipt[@]}" -A FORWARD -i lan -o wan -j ACCEPT
}

# netns_cut HOST [IFNAME]: silently drop all traffic of HOST on IFNAME (or
# on every interface but lo) - a path failure with no ICMP/link-down hint.
# FORWARD too, so cutting a router cuts the hosts behind it.
netns_cut() {
  local h=$1 ifn=${2:-}
  local in=(! -i lo) out=(! -o lo) fwd_in=() fwd_out=()
  if [ -n "$ifn" ]; then in=(-i "$ifn"); out=(-o "$ifn"); fwd_in=(-i "$ifn"); fwd_out=(-o "$ifn"); fi
  local ipt=(netns_exec "$h" iptables -w)
  "${ipt[@]}" -I INPUT "${in[@]}" -m comment --comment netns-cut -j DROP
  "${ipt[@]}" -I OUTPUT "${out[@]}" -m comment --comment netns-cut -j DROP
  "${ipt[@]}" -I FORWARD "${fwd_in[@]}" -m comment --comment netns-cut -j DROP
  [ -z "$ifn" ] ||
    "${ipt[@]}" -I FORWARD "${fwd_out[@]}" -m comment --comment netns-cut -j DROP
}

# netns_restore HOST: remove every rule netns_cut added in HOST.
netns_restore() {
  local h=$1 chain n
  for chain in INPUT OUTPUT FORWARD; do
    while n=$(netns_exec "$h" iptables -w -L "$chain" --line-numbers -n |
              awk '/netns-cut/ {print $1; exit}') && [ -n "$n" ]; do
      netns_exec "$h" iptables -w -D "$chain" "$n"
    done
  done
}

# netns_ifstat HOST IFNAME COUNTER: one interface counter (rx_packets,
# tx_packets, rx_bytes, tx_bytes, rx_dropped, ...) - e.g. to check that a
# unicast frame went out on one link only. (`ip netns exec` mounts the
# namespace's own /sys.)
netns_ifstat() {
  netns_exec "$1" cat "/sys/class/net/$2/statistics/$3"
}

# netns_conntrack HOST: the conntrack table of HOST (debugging NAT problems:
# "[UNREPLIED]" entries on a router are the conntrack trap at work).
netns_conntrack() { netns_exec "$1" conntrack -L 2>/dev/null || true; }

# netns_link_down HOST IFNAME / netns_link_up HOST IFNAME: carrier-style
# failure (the interface disappears from routing) as opposed to netns_cut.
# Link down makes the kernel drop the routes through the interface, so
# netns_link_up puts back the default route set with netns_route_default.
netns_link_down() { ip -n "$(netns_ns "$1")" link set "$2" down; }
netns_link_up() {
  ip -n "$(netns_ns "$1")" link set "$2" up
  if [ -n "${NETNS_DEFROUTE[$1]:-}" ]; then
    ip -n "$(netns_ns "$1")" route replace default via "${NETNS_DEFROUTE[$1]}" 2>/dev/null || true
  fi
}

netns__starttime() {
  # Field 22 of /proc/PID/stat (after the ")" that ends the comm field).
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  # shellcheck disable=SC2086
  set -- $s
  echo "${20}"
}

# netns_spawn HOST LOGFILE cmd...: start cmd in the background inside HOST
# ("-" = the current namespace), stdout+stderr to LOGFILE; the PID is
# recorded for cleanup and left in NETNS_LAST_PID. Call it directly, not in
# $(...), or the registration is lost with the subshell. `ip netns exec`
# execs cmd, so the PID is the command's own (as long as cmd itself does
# not fork into the background).
netns_spawn() {
  local h=$1 log=$2; shift 2
  if [ "$h" = - ]; then
    "$@" >"$log" 2>&1 </dev/null &
  else
    ip netns exec "$(netns_ns "$h")" "$@" >"$log" 2>&1 </dev/null &
  fi
  NETNS_LAST_PID=$!
  NETNS_PIDS+=("$NETNS_LAST_PID:$(netns__starttime "$NETNS_LAST_PID" || echo 0)")
}

netns__alive() {
  # pid:starttime still the same process (not exited, not recycled)?
  local pid=${1%%:*} st=${1##*:} now
  now=$(netns__starttime "$pid") || return 1
  [ "$st" = 0 ] || [ "$now" = "$st" ]
}

# netns_kill PID [TIMEOUT_S]: stop one spawned process: TERM, wait, KILL.
netns_kill() {
  local pid=$1 t=${2:-3} e entry=""
  for e in "${NETNS_PIDS[@]}"; do [ "${e%%:*}" = "$pid" ] && entry=$e; done
  [ -n "$entry" ] || { netns_log "netns_kill: $pid was not spawned here"; return 1; }
  netns__alive "$entry" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_until "$t" eval "! netns__alive $entry" || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# netns_defer cmd...: have netns_cleanup run cmd (after the processes are
# stopped, before the namespaces go), e.g. to remove a file outside the
# scratch dir. Runs in reverse order of registration; failures are ignored.
netns_defer() { NETNS_DEFER+=("$(printf '%q ' "$@")"); }

# netns_cleanup: idempotent; safe after any failure or partial setup.
netns_cleanup() {
  [ "$NETNS_CLEANED" -eq 0 ] || return 0
  NETNS_CLEANED=1
  local had_e=0; [[ $- == *e* ]] && had_e=1
  set +e
  netns__teardown
  if [ -n "$NETNS_TMPDIR" ] && [ -d "$NETNS_TMPDIR" ]; then
    if [ -n "${NETNS_KEEP_TMP:-}" ]; then
      netns_log "kept $NETNS_TMPDIR"
    else
      rm -rf -- "$NETNS_TMPDIR"
    fi
  fi
  [ "$had_e" -eq 1 ] && set -e
  return 0
}

# netns_reset: tear down everything built so far (processes, deferred
# commands, namespaces) but keep the prefix, the scratch dir and the traps,
# so that one script can build several topologies one after the other.
netns_reset() {
  local had_e=0; [[ $- == *e* ]] && had_e=1
  set +e
  netns__teardown
  NETNS_LIST=() NETNS_PIDS=() NETNS_DEFER=() NETNS_LAST_PID=""
  NETNS_IFCOUNT=() NETNS_DEFROUTE=()
  [ "$had_e" -eq 1 ] && set -e
  return 0
}

netns__teardown() {
  local e ns i left
  for e in "${NETNS_PIDS[@]}"; do
    netns__alive "$e" && kill -TERM "${e%%:*}" 2>/dev/null
  done
  for e in "${NETNS_PIDS[@]}"; do
    wait_until 3 eval "! netns__alive $e" || kill -KILL "${e%%:*}" 2>/dev/null
  done
  # Stragglers inside our own namespaces (children of spawned commands).
  for ns in "${NETNS_LIST[@]}"; do
    netns__exists "$ns" || continue
    left=$(ip netns pids "$ns" 2>/dev/null)
    if [ -n "$left" ]; then
      # shellcheck disable=SC2086
      kill -KILL $left 2>/dev/null
    fi
  done
  for (( i=${#NETNS_DEFER[@]}-1; i>=0; i-- )); do
    eval "${NETNS_DEFER[$i]}" >/dev/null 2>&1
  done
  # Reverse creation order (routers/hosts before segments; not required, tidy).
  for (( i=${#NETNS_LIST[@]}-1; i>=0; i-- )); do
    ns=${NETNS_LIST[$i]}
    netns__exists "$ns" && ip netns del "$ns" 2>/dev/null
  done
  # Reap our own background jobs (only ours: a test may have other jobs).
  for e in "${NETNS_PIDS[@]}"; do wait "${e%%:*}" 2>/dev/null; done
  return 0
}

# netns_stale: list namespaces left by runs that died without cleanup
# (SIGKILL, e.g. a ctest timeout): names "ipt<pid hex><2 hex>-..." whose
# pid no longer exists, with the processes still inside. Only lists; remove
# them by hand (`ip netns pids NS | xargs -r kill; ip netns del NS`) after a
# look, since a recycled pid or another tool's naming cannot be ruled out.
netns_stale() {
  local ns pfx hex pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ $ns =~ ^(ipt([0-9a-f]+)[0-9a-f]{2})- ]] || continue
    pfx=${BASH_REMATCH[1]} hex=${BASH_REMATCH[2]}
    pid=$((16#$hex))
    [ "$pfx" != "$NETNS_PREFIX" ] || continue
    [ -e "/proc/$pid" ] && continue
    echo "$ns pids: $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
  done
}

# netns_leftovers: print anything of this run that still exists (namespaces,
# processes); empty output = clean. For tests of the harness itself.
netns_leftovers() {
  local ns e
  for ns in "${NETNS_LIST[@]}"; do netns__exists "$ns" && echo "netns $ns"; done
  ip netns list 2>/dev/null | awk -v p="$NETNS_PREFIX-" 'index($1,p)==1 {print "netns(list) " $1}'
  for e in "${NETNS_PIDS[@]}"; do netns__alive "$e" && echo "pid ${e%%:*}"; done
  return 0
}
