# shellcheck shell=bash
# tests/lib/wait.sh - wait for conditions with deadlines instead of sleeping.
# Every helper returns 0 as soon as the condition holds, 1 at the deadline.

if [ -n "${WAIT_LIB_LOADED:-}" ]; then return 0; fi
WAIT_LIB_LOADED=1

# wait__now_ms: monotonic-enough wall clock in ms (bash 5 $EPOCHREALTIME).
wait__now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $(( t / 1000 )); }

# wait_until TIMEOUT_S cmd...: poll cmd every ~100 ms until it succeeds.
# TIMEOUT_S may be fractional ("0.5"). cmd's output is discarded.
wait_until() {
  local timeout=$1; shift
  local now deadline
  now=$(wait__now_ms)
  deadline=$(( now + $(awk -v t="$timeout" 'BEGIN{printf "%d", t*1000}') ))
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    now=$(wait__now_ms)
    [ "$now" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# wait_ping NS ADDR TIMEOUT_S: until ADDR answers a ping from namespace NS.
wait_ping() {
  wait_until "$3" ip netns exec "$(netns_ns "$1")" ping -c1 -W1 -q "$2"
}

# wait_listen NS PROTO PORT TIMEOUT_S: until something listens on PORT
# (PROTO tcp|udp) inside NS.
wait_listen() {
  local f=-lnt; [ "$2" = udp ] && f=-lnu
  wait_until "$4" wait__ss_has "$1" "$f" "$3"
}
wait__ss_has() {
  ip netns exec "$(netns_ns "$1")" ss -H "$2" "sport = :$3" | grep -q .
}

# wait_file FILE REGEX TIMEOUT_S: until FILE contains a line matching REGEX
# (extended grep).
wait_file() { wait_until "$3" grep -Eq -- "$2" "$1"; }

# wait_pid_gone PID TIMEOUT_S: until process PID has exited.
wait_pid_gone() { wait_until "$2" wait__pid_gone "$1"; }
wait__pid_gone() {
  # Gone, or a zombie waiting to be reaped by its parent.
  [ ! -e "/proc/$1/stat" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
