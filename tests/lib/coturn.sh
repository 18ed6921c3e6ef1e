# shellcheck shell=bash
# tests/lib/coturn.sh - run a real coturn STUN/TURN server inside a
# namespace built with tests/lib/netns.sh.
#
#   coturn_start turn1 pubsrv 198.18.0.100 198.18.0.101   # 1st IP = relay IP
#   coturn_wait turn1 5
#   ... "${COTURN_USER}:${COTURN_PASS}" realm "$COTURN_REALM" ...
#   coturn_stop turn1        # or leave it to netns_cleanup
#
# Listeners on every given IP: UDP+TCP 3478 (STUN/TURN), TLS+DTLS 5349 with a
# throwaway self-signed certificate. With two IPs coturn also answers RFC
# 5780 (NAT behaviour discovery) using the second IP as alternate address.

if [ -n "${COTURN_LIB_LOADED:-}" ]; then return 0; fi
COTURN_LIB_LOADED=1

# shellcheck source=tests/lib/netns.sh
. "$(dirname "${BASH_SOURCE[0]}")/netns.sh"

COTURN_USER=${COTURN_USER:-ipoptest}
COTURN_PASS=${COTURN_PASS:-s3cret-$RANDOM$RANDOM}
COTURN_REALM=${COTURN_REALM:-ipop.test}
COTURN_PORT=3478
COTURN_TLS_PORT=5349
COTURN_MIN_PORT=${COTURN_MIN_PORT:-49152}
COTURN_MAX_PORT=${COTURN_MAX_PORT:-49999}
declare -A COTURN_PID=()     # instance name -> PID
declare -A COTURN_NS=()      # instance name -> host (short netns name)
declare -A COTURN_IP=()      # instance name -> first listening IP
declare -A COTURN_DIR=()     # instance name -> its directory (cert, db, log)

coturn_available() { command -v turnserver >/dev/null && command -v turnutils_stunclient >/dev/null; }

# coturn_cert DIR: self-signed P-256 certificate DIR/cert.pem + DIR/key.pem.
coturn_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 2 -subj "/CN=turn.ipop.test" \
    -keyout "$1/key.pem" -out "$1/cert.pem" >/dev/null 2>&1
}

# coturn_start NAME HOST IP [IP...] [-- extra turnserver args]: start
# instance NAME in namespace HOST listening on the IPs; relays from the first
# IP. Does not wait: call coturn_wait.
coturn_start() {
  local name=$1 host=$2; shift 2
  local ips=() extra=()
  while [ $# -gt 0 ]; do
    if [ "$1" = -- ]; then shift; extra=("$@"); break; fi
    ips+=("$1"); shift
  done
  [ "${#ips[@]}" -ge 1 ] || netns_die "coturn_start: no IP"
  local dir="$NETNS_TMPDIR/coturn-$name"
  mkdir -p "$dir"
  coturn_cert "$dir"
  local args=(-n --no-cli --lt-cred-mech
    "--user=$COTURN_USER:$COTURN_PASS" "--realm=$COTURN_REALM"
    "--relay-ip=${ips[0]}"
    "--listening-port=$COTURN_PORT" "--tls-listening-port=$COTURN_TLS_PORT"
    "--min-port=$COTURN_MIN_PORT" "--max-port=$COTURN_MAX_PORT"
    "--cert=$dir/cert.pem" "--pkey=$dir/key.pem"
    "--db=$dir/turndb" "--pidfile=$dir/turnserver.pid"   # not /var/run
    --log-file=stdout --simple-log --fingerprint --no-multicast-peers)
  local ip
  for ip in "${ips[@]}"; do args+=("--listening-ip=$ip"); done
  netns_spawn "$host" "$dir/turnserver.log" turnserver "${args[@]}" "${extra[@]}"
  COTURN_PID[$name]=$NETNS_LAST_PID
  COTURN_NS[$name]=$host
  COTURN_IP[$name]=${ips[0]}
  COTURN_DIR[$name]=$dir
}

coturn__answers() {
  local name=$1
  kill -0 "${COTURN_PID[$name]}" 2>/dev/null || return 2
  # turnutils_stunclient never gives up: it blocks for good when a request
  # or the RFC 5780 "change address" answer is lost (server not listening
  # yet, or a filtering NAT on the way), hence the timeout. The first
  # answer is printed before it blocks.
  netns_exec "${COTURN_NS[$name]}" timeout 1 turnutils_stunclient -p "$COTURN_PORT" \
    "${COTURN_IP[$name]}" 2>&1 | grep -q 'UDP reflexive addr'
}

# coturn_stun_mapped HOST SERVER_IP: print the "ip:port" a STUN server sees
# for a request from HOST (the NAT's public mapping when HOST is behind one).
coturn_stun_mapped() {
  { netns_exec "$1" timeout 2 turnutils_stunclient -p "$COTURN_PORT" "$2" 2>&1 || true; } |
    awk '/UDP reflexive addr/ {print $NF; exit}'
}

# coturn_wait NAME TIMEOUT_S: until the instance answers a STUN binding
# request (and its TLS port listens). Fails early if the process died.
coturn_wait() {
  local name=$1 t=$2
  if ! wait_until "$t" coturn__answers "$name"; then
    echo "coturn $name did not come up; log:" >&2
    tail -n 30 "${COTURN_DIR[$name]}/turnserver.log" >&2 || true
    return 1
  fi
  wait_listen "${COTURN_NS[$name]}" tcp "$COTURN_TLS_PORT" "$t"
}

# coturn_stop NAME: stop the instance (TERM, then KILL after 3 s).
coturn_stop() {
  local name=$1
  [ -n "${COTURN_PID[$name]:-}" ] || return 0
  netns_kill "${COTURN_PID[$name]}" 3
  unset "COTURN_PID[$name]"
}

# coturn_log NAME: path of the instance's log.
coturn_log() { echo "${COTURN_DIR[$1]}/turnserver.log"; }
