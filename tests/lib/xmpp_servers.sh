# shellcheck shell=bash
# Throwaway XMPP servers (ejabberd 23.01, Prosody 0.12 from Debian) and
# helpers to drive xmpp_probe, for tests/integration/test_xmpp_*.sh and
# later end-to-end tests.
#
#   source "$IPOP_SRC_DIR/tests/lib/xmpp_servers.sh"
#   xs_init                        # XS_DIR = fresh temp dir; trap cleans up
#   xs_make_ca "$XS_DIR/pki" xmpp.test     # ca.pem, server.{crt,key,pem}
#   xs_server_start ejabberd|prosody DIR DOMAIN ADDR PORT PKI|none
#   xs_register DIR USER PASS ...  (Prosody: before start; ejabberd: after)
#   xs_friends DIR GROUP USER...   (mutual subscriptions between all USERs;
#                                   Prosody: before start, via mod_groups)
#   xs_server_stop DIR; xs_server_start ... again restarts with the data.
# Both servers offer multi-user chat on conference.DOMAIN (ejabberd
# mod_muc, Prosody's muc component; local users may create rooms) and
# blocking (XEP-0191: mod_blocking, mod_blocklist).
#
# ADDR may be any local address (e.g. 198.18.0.1 inside a network
# namespace: run the start function under `ip netns exec`).  Every process
# started here is recorded by PID and killed by xs_cleanup, which xs_init
# installs as an EXIT trap (call it yourself if you replace the trap).

XS_PIDS=()
declare -A XS_KIND XS_SRV_PID XS_SRV_ARGS XS_PROBE_PID XS_PROBE_FD XS_PROBE_OUT

xs_log() { echo "[$(date +%T.%3N)] $*" >&2; }

xs_init() {
  XS_DIR=$(mktemp -d /tmp/ipop-xmpp.XXXXXX)
  chmod 755 "$XS_DIR"
  trap xs_cleanup EXIT
}

xs_cleanup() {
  local rc=$?
  local name pid
  for name in "${!XS_PROBE_PID[@]}"; do
    pid=${XS_PROBE_PID[$name]}
    kill "$pid" 2>/dev/null
  done
  for name in "${!XS_SRV_PID[@]}"; do
    xs_server_stop "$name" >/dev/null 2>&1
  done
  for pid in "${XS_PIDS[@]}"; do
    kill "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "${XS_DIR:-}" ]; then
    xs_log "FAILED (rc=$rc); logs:"
    local f
    for f in "$XS_DIR"/*.out "$XS_DIR"/*.err "$XS_DIR"/*/logs/ejabberd.log \
             "$XS_DIR"/*/prosody.log; do
      [ -f "$f" ] || continue
      echo "----- $f" >&2
      tail -n 40 "$f" >&2
    done
  fi
  [ -n "${XS_DIR:-}" ] && [ -z "${XS_KEEP:-}" ] && rm -rf "$XS_DIR"
  exit "$rc"
}

# Poll until a command succeeds; 0.1 s between tries.
#   xs_wait SECONDS DESCRIPTION CMD...
xs_wait() {
  local secs=$1 what=$2
  shift 2
  local deadline=$((SECONDS + secs))
  # SECONDS has 1 s resolution: use date for sub-second deadlines.
  local end; end=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
  while :; do
    if "$@"; then return 0; fi
    if [ $(( $(date +%s%N) / 1000000 )) -ge "$end" ]; then
      xs_log "timeout after ${secs}s waiting for: $what"
      return 1
    fi
    sleep 0.1
  done
  : "$deadline"
}

xs_port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# xs_make_ca DIR NAME...: a CA and a server certificate for the NAMEs.
xs_make_ca() {
  local dir=$1
  shift
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 2 -subj "/CN=ipop test CA" \
    2>/dev/null || return 1
  xs_make_cert "$dir" "$dir" "$@"
}

# xs_make_cert CADIR DIR NAME...: DIR/server.{crt,key,pem} (and a copy of
# the CA as DIR/ca.pem) for the NAMEs, signed by the CA of xs_make_ca in
# CADIR: one CA for the servers of several domains (federation).  Usable
# for TLS server and client authentication (a server presents it as a
# client when it opens a server-to-server stream).
xs_make_cert() {
  local ca=$1 dir=$2
  shift 2
  mkdir -p "$dir"
  local san="" n
  for n in "$@"; do san="${san:+$san,}DNS:$n"; done
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=$1" \
    2>/dev/null || return 1
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" > "$dir/ext.cnf"
  openssl x509 -req -in "$dir/server.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" \
    -CAcreateserial -out "$dir/server.crt" -days 2 -extfile "$dir/ext.cnf" \
    2>/dev/null || return 1
  cat "$dir/server.crt" "$dir/server.key" > "$dir/server.pem"
  [ "$ca" = "$dir" ] || cp "$ca/ca.pem" "$dir/ca.pem"
  chmod 644 "$dir"/*.pem "$dir"/*.crt "$dir"/server.key
}

# xs_make_client_cert DIR JID: DIR/JID.crt and DIR/JID.key, signed by the
# CA of xs_make_ca, carrying JID as xmppAddr (for SASL EXTERNAL).
xs_make_client_cert() {
  local dir=$1 jid=$2
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/$jid.key" -out "$dir/$jid.csr" -subj "/CN=$jid" 2>/dev/null || return 1
  printf 'subjectAltName=otherName:1.3.6.1.5.5.7.8.5;UTF8:%s\nextendedKeyUsage=clientAuth\n' \
    "$jid" > "$dir/$jid.ext"
  openssl x509 -req -in "$dir/$jid.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -out "$dir/$jid.crt" -days 2 -extfile "$dir/$jid.ext" 2>/dev/null
}

# ---------------------------------------------------------------- ejabberd

xs_ejabberdctl() {
  local dir=$1
  shift
  HOME="$dir" "$dir/ejabberdctl" --config-dir "$dir" --ctl-config "$dir/ejabberdctl.cfg" \
    --logs "$dir/logs" --spool "$dir/spool" "$@"
}

xs_ejabberd_setup() {
  local dir=$1 domain=$2 addr=$3 port=$4 pki=$5
  mkdir -p "$dir/logs" "$dir/spool"
  : > "$dir/inetrc"
  # A copy of ejabberdctl that runs as the invoking user (root) instead of
  # re-executing itself as user ejabberd.
  sed 's/^INSTALLUSER=ejabberd$/INSTALLUSER=/' /usr/sbin/ejabberdctl > "$dir/ejabberdctl"
  chmod 755 "$dir/ejabberdctl"
  # Cluster nodes (XS_EJ_NODE=ejabberd@ADDR, long names) listen for Erlang
  # distribution on their own address and share XS_EJ_COOKIE.
  cat > "$dir/ejabberdctl.cfg" <<EOF
ERLANG_NODE=${XS_EJ_NODE:-ipop$port@localhost}
ERL_DIST_PORT=${XS_EJ_DIST_PORT:-$((port + 20000))}
INET_DIST_INTERFACE=${XS_EJ_DIST_ADDR:-127.0.0.1}
EOF

  if [ -n "${XS_EJ_COOKIE:-}" ]; then
    (umask 077; printf '%s' "$XS_EJ_COOKIE" > "$dir/.erlang.cookie")
  fi
  local tls=""
  if [ "$pki" != none ]; then
    tls="certfiles:
  - \"$pki/server.pem\""
  fi
  local starttls=""
  [ "$pki" != none ] && starttls="    starttls_required: true"
  local direct=""
  if [ "$pki" != none ] && [ -n "${XS_DIRECT_PORT:-}" ]; then
    direct="  -
    port: $XS_DIRECT_PORT
    ip: \"$addr\"
    module: ejabberd_c2s
    tls: true
    max_stanza_size: 262144"
  fi
  local external=""
  if [ "$pki" != none ] && [ -n "${XS_EXTERNAL_PORT:-}" ]; then
    # A second STARTTLS listener that asks for client certificates and
    # offers SASL EXTERNAL (ejabberd maps the certificate's xmppAddr).
    external="  -
    port: $XS_EXTERNAL_PORT
    ip: \"$addr\"
    module: ejabberd_c2s
    starttls_required: true
    tls_verify: true
    cafile: \"$pki/ca.pem\"
    max_stanza_size: 262144"
  fi
  local plain=""
  if [ -n "${XS_PLAIN_PORT:-}" ]; then
    # A listener that offers no STARTTLS (for the refusal test).
    plain="  -
    port: $XS_PLAIN_PORT
    ip: \"$addr\"
    module: ejabberd_c2s
    max_stanza_size: 262144"
  fi
  # Federation (XS_S2S_PORT): server-to-server streams over TLS only,
  # certificates checked against the test CA; SASL EXTERNAL authenticates
  # them, dialback only with XS_DIALBACK=1.
  local s2s="s2s_access: none" s2s_in="" dialback=""
  if [ -n "${XS_S2S_PORT:-}" ] && [ "$pki" != none ]; then
    s2s_in="  -
    port: $XS_S2S_PORT
    ip: \"$addr\"
    module: ejabberd_s2s_in
    max_stanza_size: 524288"
    s2s="s2s_access: all
s2s_use_starttls: required
s2s_cafile: \"$pki/ca.pem\""
    [ "${XS_DIALBACK:-0}" = 1 ] && dialback="  mod_s2s_dialback: {}"
  fi
  # XS_EJ_TICKTIME: a cluster node counts a peer node that has been silent
  # for this many seconds (+-25%) as down (Erlang net_ticktime).  Both in
  # the VM's arguments and in ejabberd's own option (default 60), which it
  # sets at start: a change there would begin with a transition period as
  # long as the old tick time.
  local tick=""
  if [ -n "${XS_EJ_TICKTIME:-}" ]; then
    tick="net_ticktime: $XS_EJ_TICKTIME"
    echo "ERL_OPTIONS=\"-kernel net_ticktime $XS_EJ_TICKTIME\"" >> "$dir/ejabberdctl.cfg"
  fi
  cat > "$dir/ejabberd.yml" <<EOF
$tick
hosts:
  - "$domain"
loglevel: info
log_rotate_count: 0
$tls
listen:
  -
    port: $port
    ip: "$addr"
    module: ejabberd_c2s
$starttls
    max_stanza_size: 262144
$direct
$external
$plain
$s2s_in
auth_method: internal
auth_password_format: scram
auth_scram_hash: sha256
$s2s
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
modules:
  mod_admin_extra: {}
  mod_roster: {}
  mod_ping: {}
  mod_disco: {}
  mod_shared_roster: {}
  mod_privacy: {}
  mod_blocking: {}
  mod_caps: {}
  mod_pubsub:
    plugins: ["flat", "pep"]
$dialback
  mod_muc:
    host: "conference.@HOST@"
    access_create: local
    access_persistent: local
    access_admin: none
EOF
  sed -i '/^$/d' "$dir/ejabberd.yml"
}

# xs_ej_rpc DIR CALL...: run each Erlang call "mod, fun, [args]" on the
# ejabberd node through one hidden Erlang node (one VM boot instead of one
# ejabberdctl run per command: ~0.4 s each, several seconds on a busy
# machine).  Every call must return ok.
xs_ej_rpc() {
  local dir=$1
  shift
  local node port
  node=$(sed -n 's/^ERLANG_NODE=//p' "$dir/ejabberdctl.cfg")
  port=$(sed -n 's/^ERL_DIST_PORT=//p' "$dir/ejabberdctl.cfg")
  local calls="" c
  for c in "$@"; do calls="${calls:+$calls, }rpc:call(N, $c)"; done
  # A node named NAME@ADDR (cluster node) uses long names; ours must too.
  local me=(-sname "ipopctl$$-$RANDOM@localhost")
  case $node in *@*.*) me=(-name "ipopctl$$-$RANDOM@127.0.0.1") ;; esac
  HOME="$dir" erl "${me[@]}" -hidden -noinput \
    -erl_epmd_port "$port" -start_epmd false -dist_listen false -eval "
      N = '$node',
      R = [$calls],
      case lists:all(fun(X) -> X =:= ok end, R) of
        true -> halt(0);
        false -> io:format(standard_error, \"ejabberd rpc: ~p~n\", [R]), halt(1)
      end."
}

# Erlang binary literal (test names and passwords: no quotes or backslashes).
xs_bin() { printf '<<"%s">>' "$1"; }

# ------------------------------------------------------------------ prosody

xs_prosody_setup() {
  local dir=$1 domain=$2 addr=$3 port=$4 pki=$5
  mkdir -p "$dir/data"
  [ -f "$dir/groups.txt" ] || : > "$dir/groups.txt"
  local ssl="" req=true direct="" tlsmod='"tls"; '
  if [ "$pki" != none ]; then
    cp "$pki/server.crt" "$pki/server.key" "$dir/"
    ssl="ssl = { certificate = \"$dir/server.crt\"; key = \"$dir/server.key\"; }"
    [ -n "${XS_DIRECT_PORT:-}" ] && direct="c2s_direct_tls_ports = { $XS_DIRECT_PORT }
c2s_direct_tls_interfaces = { \"$addr\" }
c2s_direct_tls_ssl = { certificate = \"$dir/server.crt\"; key = \"$dir/server.key\"; }"
  else
    req=false
    tlsmod=""
  fi
  # Federation (XS_S2S_PORT): s2s over TLS only, certificates checked
  # against the test CA (s2s_secure_auth: SASL EXTERNAL, no dialback
  # unless XS_DIALBACK=1).  The global ssl covers the MUC component too.
  local s2s="s2s_ports = { }" s2smods="" s2soff='"s2s"; '
  if [ -n "${XS_S2S_PORT:-}" ] && [ "$pki" != none ]; then
    cp "$pki/ca.pem" "$dir/ca.pem"
    s2s="s2s_ports = { $XS_S2S_PORT }
s2s_interfaces = { \"$addr\" }
s2s_require_encryption = true
s2s_secure_auth = true
ssl = { certificate = \"$dir/server.crt\"; key = \"$dir/server.key\"; cafile = \"$dir/ca.pem\"; }"
    s2soff=""
    [ "${XS_DIALBACK:-0}" = 1 ] && s2smods='; "dialback"'
  fi
  cat > "$dir/prosody.cfg.lua" <<EOF
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
certificates = "$dir/nocerts"
log = { info = "$dir/prosody.log" }
interfaces = { "$addr" }
c2s_ports = { $port }
c2s_interfaces = { "$addr" }
$direct
$s2s
http_ports = { }
https_ports = { }
c2s_require_encryption = $req
authentication = "internal_hashed"
modules_enabled = { "roster"; "saslauth"; $tlsmod"disco"; "ping"; "groups"; "blocklist"; "pep"$s2smods }
modules_disabled = { $s2soff"offline" }
groups_file = "$dir/groups.txt"
c2s_stanza_size_limit = 262144
VirtualHost "$domain"
  $ssl
Component "conference.$domain" "muc"
  restrict_room_creation = false
EOF
  chown -R prosody:prosody "$dir"
}

# ------------------------------------------------------------------ generic

# xs_server_start KIND DIR DOMAIN ADDR PORT PKI|none
xs_server_start() {
  local kind=$1 dir=$2 domain=$3 addr=$4 port=$5 pki=$6
  mkdir -p "$dir"
  XS_KIND[$dir]=$kind
  XS_SRV_ARGS[$dir]="$domain $addr $port $pki"
  local pid
  case $kind in
    ejabberd)
      [ -f "$dir/ejabberd.yml" ] || xs_ejabberd_setup "$dir" "$domain" "$addr" "$port" "$pki"
      local before
      before=$(grep -c "is started in the node" "$dir/logs/ejabberd.log" 2>/dev/null)
      # setsid: the server is the leader of its own process group, so the
      # VM and its helpers are stopped together by PGID.
      HOME="$dir" setsid "$dir/ejabberdctl" --config-dir "$dir" \
        --ctl-config "$dir/ejabberdctl.cfg" --logs "$dir/logs" --spool "$dir/spool" \
        foreground > "$dir/console.log" 2>&1 &
      pid=$!
      ;;
    prosody)
      [ -f "$dir/prosody.cfg.lua" ] || xs_prosody_setup "$dir" "$domain" "$addr" "$port" "$pki"
      setsid setpriv --reuid=prosody --regid=prosody --init-groups \
        prosody -F --config "$dir/prosody.cfg.lua" > "$dir/console.log" 2>&1 &
      pid=$!
      ;;
    *) xs_log "unknown server kind $kind"; return 1 ;;
  esac
  XS_SRV_PID[$dir]=$pid
  XS_PIDS+=("$pid")
  xs_wait 30 "$kind listening on $addr:$port" xs_port_open "$addr" "$port" || return 1
  if [ "$kind" = ejabberd ]; then
    # The c2s port opens before the host's modules are up; wait for the
    # start message of this run (the log is appended across restarts).
    xs_wait 30 "ejabberd started" xs_ej_started "$dir" "$before" || return 1
  fi
  xs_log "$kind started (pid $pid) on $addr:$port"
}

xs_ej_started() {
  [ "$(grep -c "is started in the node" "$1/logs/ejabberd.log" 2>/dev/null)" -gt "${2:-0}" ]
}

xs_server_stop() {
  local dir=$1
  local pid=${XS_SRV_PID[$dir]:-}
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null
  local i
  for i in $(seq 1 100); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  unset "XS_SRV_PID[$dir]"
  xs_log "${XS_KIND[$dir]} stopped (pid $pid)"
}

# xs_register DIR USER PASS [USER PASS ...]
xs_register() {
  local dir=$1
  shift
  local domain; domain=${XS_SRV_ARGS[$dir]%% *}
  if [ "${XS_KIND[$dir]}" = ejabberd ]; then
    local calls=()
    while [ $# -ge 2 ]; do
      calls+=("ejabberd_auth, try_register, [$(xs_bin "$1"), $(xs_bin "$domain"), $(xs_bin "$2")]")
      shift 2
    done
    xs_ej_rpc "$dir" "${calls[@]}"
    return
  fi
  # prosodyctl starts Lua each time: run them side by side.
  local pids=() p rc=0
  while [ $# -ge 2 ]; do
    prosodyctl --config "$dir/prosody.cfg.lua" register "$1" "$domain" "$2" >/dev/null 2>&1 &
    pids+=("$!")
    shift 2
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}

# xs_friends DIR GROUP USER...: every USER gets every other one as a contact
# with subscription "both", in roster group GROUP.
xs_friends() {
  local dir=$1 group=$2
  shift 2
  local domain; domain=${XS_SRV_ARGS[$dir]%% *}
  local a b
  case ${XS_KIND[$dir]} in
    ejabberd)
      # Same as `ejabberdctl add_rosteritem` (mod_admin_extra), batched:
      # at most 400 calls per Erlang VM (the command line has a limit; a
      # 64-member group needs 4,032 items).
      local calls=()
      for a in "$@"; do
        for b in "$@"; do
          [ "$a" = "$b" ] && continue
          calls+=("mod_admin_extra, add_rosteritem, [$(xs_bin "$a"), $(xs_bin "$domain"), $(xs_bin "$b"), $(xs_bin "$domain"), $(xs_bin "$b"), $(xs_bin "$group"), <<\"both\">>]")
          if [ "${#calls[@]}" -ge 400 ]; then
            xs_ej_rpc "$dir" "${calls[@]}" || return 1
            calls=()
          fi
        done
      done
      [ "${#calls[@]}" -eq 0 ] || xs_ej_rpc "$dir" "${calls[@]}"
      ;;
    prosody)
      { echo "[$group]"; for a in "$@"; do echo "$a@$domain=$a"; done; } >> "$dir/groups.txt"
      chown prosody:prosody "$dir/groups.txt"
      ;;
  esac
}

# xs_prepare KIND DIR DOMAIN ADDR PORT PKI: write the config only (Prosody
# needs users and groups before it starts).
xs_prepare() {
  local kind=$1 dir=$2
  mkdir -p "$dir"
  XS_KIND[$dir]=$kind
  XS_SRV_ARGS[$dir]="$3 $4 $5 $6"
  [ "$kind" = prosody ] && xs_prosody_setup "$dir" "$3" "$4" "$5" "$6"
  return 0
}

# ------------------------------------------------------------ xmpp_probe

# xs_password_file PATH PASS: a mode 0600 password file.
xs_password_file() {
  (umask 077; printf '%s\n' "$2" > "$1")
}

# xs_probe_start NAME CONFIG NODE_ID: run xmpp_probe; events go to
# $XS_DIR/NAME.out, commands are sent with xs_probe_cmd.  XS_PROBE_NS:
# run it in that namespace of tests/lib/netns.sh (its PID is the probe's).
xs_probe_start() {
  local name=$1 cfg=$2 node=$3
  local fifo="$XS_DIR/$name.in"
  rm -f "$fifo"
  mkfifo "$fifo"
  local fd
  exec {fd}<>"$fifo"
  local wrap=()
  [ -n "${XS_PROBE_NS:-}" ] && wrap=(ip netns exec "$(netns_ns "$XS_PROBE_NS")")
  "${wrap[@]}" "$IPOP_BUILD_DIR/tests/unit/xmpp/xmpp_probe" "$cfg" "$node" "caps-$node" \
    <&"$fd" > "$XS_DIR/$name.out" 2> "$XS_DIR/$name.err" &
  XS_PROBE_PID[$name]=$!
  XS_PROBE_FD[$name]=$fd
  XS_PROBE_OUT[$name]="$XS_DIR/$name.out"
  XS_PIDS+=("$!")
}

xs_probe_cmd() { echo "$2" >&"${XS_PROBE_FD[$1]}"; }

xs_probe_stop() {
  local name=$1 pid=${XS_PROBE_PID[$1]}
  xs_probe_cmd "$name" '{"cmd":"quit"}' 2>/dev/null
  xs_wait 10 "probe $name to exit" eval "! kill -0 $pid 2>/dev/null" || kill "$pid"
  wait "$pid" 2>/dev/null
  local rc=$?
  eval "exec ${XS_PROBE_FD[$name]}>&-"
  unset "XS_PROBE_PID[$name]"
  return $rc
}

# Lines of NAME's output containing every given substring (one awk, not a
# grep per substring: these are polled, on machines that may be busy).
# Exit status 0 if there is at least one.
xs__match='BEGIN { n = ARGC - 2; for (i = 1; i <= n; i++) p[i] = ARGV[i + 1]; ARGC = 2 }
  { for (i = 1; i <= n; i++) if (index($0, p[i]) == 0) next; found = 1; print }
  END { exit !found }'
xs_probe_grep() {
  local name=$1
  shift
  awk "$xs__match" "${XS_PROBE_OUT[$name]}" "$@"
}

xs_probe_has() { xs_probe_grep "$@" >/dev/null 2>&1; }

# xs_probe_wait SECONDS NAME SUBSTRING...: wait for an event line.
xs_probe_wait() {
  local secs=$1
  shift
  xs_wait "$secs" "$1: $*" xs_probe_has "$@"
}

# Count of lines matching.
xs_probe_count() { xs_probe_grep "$@" 2>/dev/null | wc -l; }

# JSON field of the last line matching: xs_probe_field NAME FIELD SUBSTRING...
xs_probe_field() {
  local name=$1 field=$2
  shift 2
  xs_probe_grep "$name" "$@" | tail -n 1 |
    python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$field"
}

# xs_probe_config FILE JID PASSFILE HOST PORT CAFILE [EXTRA_JSON_MEMBERS]
xs_probe_config() {
  local file=$1 jid=$2 pw=$3 host=$4 port=$5 ca=$6 extra=${7:-}
  cat > "$file" <<EOF
{ "Jid": "$jid", "PasswordFile": "$pw", "Host": "$host", "Port": $port,
  "ResourcePrefix": "ipop-test-", "PingInterval": ${XS_PING:-10}, "ConnectTimeout": 10,
  "Tls": { "CaFile": "$ca" ${XS_TLS_EXTRA:-} }${extra:+, $extra} }
EOF
}

# ------------------------------------------- scenario of test_xmpp_<kind>.sh

xs_fail() { xs_log "FAIL: $*"; exit 1; }
xs_step() { xs_log "== $*"; }

# Wait for the count of matching lines to exceed N.
xs_count_gt() { [ "$(xs_probe_count "${@:2}")" -gt "$1" ]; }
xs_probe_wait_more() {
  local secs=$1 n=$2
  shift 2
  xs_wait "$secs" "more than $n of $*" xs_count_gt "$n" "$@"
}

# Ask NAME for its counters; true once the latest report has FIELD == VALUE.
xs_counter_is() {
  local name=$1 field=$2 value=$3 n
  n=$(xs_probe_count "$name" '"event":"counters"')
  xs_probe_cmd "$name" '{"cmd":"counters"}'
  xs_wait 5 "counters from $name" xs_count_gt "$n" "$name" '"event":"counters"' || return 1
  [ "$(xs_probe_field "$name" "$field" '"event":"counters"')" = "$value" ]
}

# Send a signal from probe A to the full JID FULL and wait until probe B
# reports it.
xs_signal_roundtrip() {
  local a=$1 b=$2 full=$3 tag=$4
  xs_probe_cmd "$a" "{\"cmd\":\"send\",\"to\":\"$full\",\"type\":\"offer\",\"id\":\"$tag\",\"payload\":\"{\\\"tag\\\":\\\"$tag\\\",\\\"x\\\":\\\"<&'>\\\"}\"}"
  xs_probe_wait 10 "$b" '"event":"signal"' "\"id\":\"$tag\"" "\"type\":\"offer\"" \
    "\\\"tag\\\":\\\"$tag\\\"" '<&' || xs_fail "$b did not get signal $tag"
}

xs_scenario() {
  local kind=$1
  case $kind in
    ejabberd) command -v ejabberdctl >/dev/null || { echo "ejabberd not installed"; exit 77; } ;;
    prosody) command -v prosody >/dev/null || { echo "prosody not installed"; exit 77; } ;;
  esac
  [ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
  local probe="$IPOP_BUILD_DIR/tests/unit/xmpp/xmpp_probe"
  [ -x "$probe" ] || { echo "missing $probe"; exit 1; }
  xs_init
  local domain=xmpp.test addr=127.0.0.1
  local port=$((20000 + ($$ % 5000) * 2)) port2
  port2=$((port + 1))
  local dport=$((port + 2)) eport=$((port + 3))
  XS_DIRECT_PORT=$dport
  if [ "$kind" = ejabberd ]; then
    XS_EXTERNAL_PORT=$eport
    XS_PLAIN_PORT=$port2  # ejabberd: plaintext listener on the same node
  fi
  local srv="$XS_DIR/srv" pki="$XS_DIR/pki" ca="$XS_DIR/pki/ca.pem"
  xs_make_ca "$pki" "$domain" || xs_fail "cannot make CA"

  xs_step "$kind: start with STARTTLS, users alice bob (friends) and mallory"
  xs_prepare "$kind" "$srv" "$domain" "$addr" "$port" "$pki"
  if [ "$kind" = prosody ]; then
    xs_register "$srv" alice pw-alice bob pw-bob mallory pw-mallory || xs_fail register
    xs_friends "$srv" ipop alice bob
    xs_server_start "$kind" "$srv" "$domain" "$addr" "$port" "$pki" || xs_fail "server start"
  else
    xs_server_start "$kind" "$srv" "$domain" "$addr" "$port" "$pki" || xs_fail "server start"
    xs_register "$srv" alice pw-alice bob pw-bob mallory pw-mallory carol pw-carol ||
      xs_fail register
    xs_friends "$srv" ipop alice bob || xs_fail friends
  fi
  local u
  for u in alice bob mallory; do
    xs_password_file "$XS_DIR/$u.pw" "pw-$u"
    xs_probe_config "$XS_DIR/$u.json" "$u@$domain" "$XS_DIR/$u.pw" "$addr" "$port" "$ca" \
      '"RosterGroup": "ipop"'
  done
  xs_password_file "$XS_DIR/bad.pw" "not-the-password"
  xs_probe_config "$XS_DIR/bad.json" "alice@$domain" "$XS_DIR/bad.pw" "$addr" "$port" "$ca"

  xs_step "two clients log in, see each other's presence and node ids"
  xs_probe_start alice "$XS_DIR/alice.json" node-alice
  xs_probe_start bob "$XS_DIR/bob.json" node-bob
  xs_probe_wait 20 alice '"state":"online"' || xs_fail "alice not online"
  xs_probe_wait 20 bob '"state":"online"' || xs_fail "bob not online"
  xs_probe_wait 5 alice '"event":"roster"' "\"jid\":\"bob@$domain\"" '"subscription":"both"' '"ipop"' ||
    xs_fail "alice's roster lacks bob"
  xs_probe_wait 10 alice '"event":"presence"' '"node_id":"node-bob"' '"caps":"caps-node-bob"' ||
    xs_fail "alice did not see bob's node"
  xs_probe_wait 10 bob '"event":"presence"' '"node_id":"node-alice"' || xs_fail "bob did not see alice's node"
  local alice_full bob_full
  alice_full=$(xs_probe_field bob from '"event":"presence"' '"node_id":"node-alice"')
  bob_full=$(xs_probe_field alice from '"event":"presence"' '"node_id":"node-bob"')
  case $alice_full in "alice@$domain/ipop-test-"*) ;; *) xs_fail "bad full JID $alice_full" ;; esac
  grep -q "STARTTLS\|TLS" "$XS_DIR/alice.err" || true
  grep -q "TLS.*verified" "$XS_DIR/alice.err" || xs_fail "alice did not verify TLS"
  grep -Eq "SCRAM-SHA-(1|256)" "$XS_DIR/alice.err" 2>/dev/null || true

  grep -Eq "authenticated as alice@$domain with SCRAM-SHA-(1|256)" "$XS_DIR/alice.err" ||
    xs_fail "alice did not use SCRAM"
  local mech; mech=$(grep -o "with SCRAM-SHA-[0-9]*" "$XS_DIR/alice.err" | head -1)
  xs_log "SASL: $mech"

  xs_step "signaling both ways"
  xs_signal_roundtrip alice bob "$bob_full" a2b-1
  xs_signal_roundtrip bob alice "$alice_full" b2a-1

  xs_step "node identity over PEP: published, notified (+notify caps), fetched"
  local fa="sha-256 $(printf 'AA:%.0s' $(seq 31))AA" fa2="sha-256 $(printf 'BB:%.0s' $(seq 31))BB"
  xs_probe_cmd alice "{\"cmd\":\"publish\",\"fingerprint\":\"$fa\"}"
  xs_probe_wait 10 alice '"event":"result"' '"op":"publish"' '"error":0' ||
    xs_fail "alice could not publish her node on PEP"
  xs_log "PEP on $kind: $(xs_probe_field alice text '"op":"publish"')"
  xs_probe_wait 10 bob '"event":"pep"' '"kind":"items"' "\"from\":\"alice@$domain\"" \
    '"node_id":"node-alice"' "\"fingerprint\":\"$fa\"" '"caps":"caps-node-alice"' ||
    xs_fail "bob was not notified of alice's item"
  xs_probe_cmd bob "{\"cmd\":\"publish\",\"fingerprint\":\"$fa2\"}"
  xs_probe_wait 10 alice '"event":"pep"' "\"from\":\"bob@$domain\"" '"node_id":"node-bob"' ||
    xs_fail "alice was not notified of bob's item"
  xs_probe_cmd bob "{\"cmd\":\"pep_fetch\",\"jid\":\"alice@$domain\"}"
  xs_probe_wait 10 bob '"event":"pep"' '"kind":"list"' "\"from\":\"alice@$domain\"" \
    '"node_id":"node-alice"' || xs_fail "bob could not fetch alice's items"

  xs_step "a stranger: its signal is reported as the server stamped it; it cannot read PEP"
  xs_probe_start mallory "$XS_DIR/mallory.json" node-mallory
  xs_probe_wait 20 mallory '"state":"online"' || xs_fail "mallory not online"
  xs_probe_cmd mallory "{\"cmd\":\"send\",\"to\":\"$alice_full\",\"type\":\"offer\",\"id\":\"evil\",\"payload\":\"{}\"}"
  xs_probe_wait 5 mallory '"event":"sent"' '"result":0' || xs_fail "mallory could not send"
  # The library reports it (the controller decides); the sender is the one
  # the server stamped.
  xs_probe_wait 10 alice '"event":"signal"' '"id":"evil"' "\"from\":\"mallory@$domain/" ||
    xs_fail "mallory's signal was not reported with mallory's JID"
  xs_probe_cmd mallory "{\"cmd\":\"pep_fetch\",\"jid\":\"alice@$domain\"}"
  xs_probe_wait 10 mallory '"event":"pep"' '"kind":"error"' "\"from\":\"alice@$domain\"" ||
    xs_fail "mallory read alice's PEP items (access model presence)"
  xs_log "mallory's PEP fetch: $(xs_probe_field mallory condition '"event":"pep"' '"kind":"error"')"
  xs_probe_has mallory '"event":"pep"' '"node_id":"node-alice"' && xs_fail "mallory got alice's item"

  xs_step "hostile stanzas relayed by the server cost only themselves"
  # Each breaks a limit inside one stanza (depth 64, 64 attributes, 8192
  # children, 64 KiB of text per element) but not the stanza size limit:
  # skipped and counted, the stream stays (no reconnect, same resource).
  # Depth 2,000 at most: deeper crashes ejabberd 23.01.
  local n_off; n_off=$(xs_probe_count alice '"state":"offline"')
  xs_probe_cmd mallory "{\"cmd\":\"deep\",\"to\":\"$alice_full\",\"depth\":2000}"
  xs_probe_cmd mallory "{\"cmd\":\"wide\",\"to\":\"$alice_full\",\"n\":10000}"
  xs_probe_cmd mallory "{\"cmd\":\"many\",\"to\":\"$alice_full\",\"n\":9000}"
  xs_probe_cmd mallory "{\"cmd\":\"text\",\"to\":\"$alice_full\",\"n\":100000}"
  # and a burst of 500
  xs_probe_cmd mallory "{\"cmd\":\"deep\",\"to\":\"$alice_full\",\"depth\":100,\"count\":500}"
  xs_wait 20 "alice counting 504 skipped stanzas" xs_counter_is alice stanzas_skipped 504 ||
    xs_fail "hostile stanzas not skipped and counted"
  grep -q "skipped a <message/> from mallory@$domain/.*nesting of <x/> over the limit of 64" \
    "$XS_DIR/alice.err" || xs_fail "no log line naming mallory for the deep stanza"
  [ "$(xs_probe_count alice '"state":"offline"')" = "$n_off" ] || xs_fail "alice lost her stream"
  xs_signal_roundtrip mallory alice "$alice_full" after-hostile
  xs_probe_stop mallory || xs_fail "mallory probe exit status"

  xs_step "direct TLS (XEP-0368) on port $dport"
  XS_TLS_EXTRA=', "Mode": "direct"' \
    xs_probe_config "$XS_DIR/direct.json" "mallory@$domain" "$XS_DIR/mallory.pw" "$addr" "$dport" "$ca"
  xs_probe_start direct "$XS_DIR/direct.json" node-direct
  xs_probe_wait 20 direct '"state":"online"' || xs_fail "direct TLS login failed"
  xs_probe_stop direct || xs_fail "direct probe exit status"

  if [ "$kind" = ejabberd ]; then
    xs_step "SASL EXTERNAL with a client certificate (port $eport)"
    xs_make_client_cert "$pki" "mallory@$domain" || xs_fail "client cert"
    XS_TLS_EXTRA=", \"ClientCert\": \"$pki/mallory@$domain.crt\", \"ClientKey\": \"$pki/mallory@$domain.key\"" \
      xs_probe_config "$XS_DIR/ext.json" "mallory@$domain" "$XS_DIR/mallory.pw" "$addr" "$eport" \
      "$ca" '"Sasl": ["EXTERNAL"]'
    xs_probe_start ext "$XS_DIR/ext.json" node-ext
    xs_probe_wait 20 ext '"state":"online"' || xs_fail "EXTERNAL login failed"
    grep -q "with EXTERNAL" "$XS_DIR/ext.err" || xs_fail "EXTERNAL not used"
    xs_probe_stop ext || xs_fail "ext probe exit status"
  fi

  xs_step "certificate from an unknown CA is refused; VerifyPeer=false warns"
  xs_make_ca "$XS_DIR/otherpki" "$domain" || xs_fail "cannot make CA"
  xs_probe_config "$XS_DIR/wrongca.json" "mallory@$domain" "$XS_DIR/mallory.pw" "$addr" "$port" \
    "$XS_DIR/otherpki/ca.pem"
  xs_probe_start wrongca "$XS_DIR/wrongca.json" node-wrongca
  xs_probe_wait 15 wrongca '"state":"offline"' 'certificate' || xs_fail "bad certificate accepted"
  xs_probe_has wrongca '"state":"online"' && xs_fail "online with an untrusted certificate"
  xs_probe_stop wrongca || xs_fail "wrongca probe exit status"
  XS_TLS_EXTRA=', "VerifyPeer": false' \
    xs_probe_config "$XS_DIR/noverify.json" "mallory@$domain" "$XS_DIR/mallory.pw" "$addr" "$port" \
    "$XS_DIR/otherpki/ca.pem"
  xs_probe_start noverify "$XS_DIR/noverify.json" node-noverify
  xs_probe_wait 15 noverify '"state":"online"' || xs_fail "VerifyPeer=false did not connect"
  grep -q "verification is DISABLED" "$XS_DIR/noverify.err" || xs_fail "no warning for VerifyPeer=false"
  xs_probe_stop noverify || xs_fail "noverify probe exit status"

  xs_step "wrong password: reported once, not retried"
  xs_probe_start bad "$XS_DIR/bad.json" node-bad
  xs_probe_wait 20 bad '"state":"auth_failed"' 'not-authorized' || xs_fail "no auth_failed"
  # Watch for 3 s (3x the first backoff step) that no new attempt starts.
  if xs_wait 3 "a retry (must not happen)" xs_count_gt 1 bad '"state":"connecting"' 2>/dev/null; then
    xs_fail "client retried after a wrong password"
  fi
  [ "$(xs_probe_count bad '"state":"auth_failed"')" -eq 1 ] || xs_fail "auth_failed reported more than once"
  xs_probe_stop bad || xs_fail "bad probe exit status"

  xs_step "a dead connection is detected by XEP-0199 ping"
  XS_PING=2 xs_probe_config "$XS_DIR/pinger.json" "mallory@$domain" "$XS_DIR/mallory.pw" \
    "$addr" "$port" "$ca"
  xs_probe_start pinger "$XS_DIR/pinger.json" node-pinger
  xs_probe_wait 20 pinger '"state":"online"' || xs_fail "pinger not online"
  kill -STOP -- "-${XS_SRV_PID[$srv]}"
  xs_probe_wait 10 pinger '"state":"offline"' 'ping timeout'
  local ping_ok=$?
  kill -CONT -- "-${XS_SRV_PID[$srv]}"
  [ $ping_ok -eq 0 ] || xs_fail "ping timeout not detected"
  xs_probe_wait_more 30 1 pinger '"state":"online"' || xs_fail "pinger not back online"
  xs_probe_stop pinger || xs_fail "pinger probe exit status"

  xs_step "server restarted mid-session: back online, messages flow"
  local n_a n_b
  n_a=$(xs_probe_count alice '"state":"online"')
  n_b=$(xs_probe_count bob '"state":"online"')
  local np; np=$(xs_probe_count alice '"event":"presence"' '"node_id":"node-bob"')
  local npb; npb=$(xs_probe_count bob '"event":"presence"' '"node_id":"node-alice"')
  xs_server_stop "$srv"
  xs_probe_wait 15 alice '"state":"offline"' || xs_fail "alice did not notice the restart"
  xs_server_start "$kind" "$srv" "$domain" "$addr" "$port" "$pki" || xs_fail "server restart"
  # Backoff: 0.5-1, 1-2, 2-4, 4-8, 8-16 s...: once the server is back (it
  # was down a few seconds), the next attempt comes within one step.
  xs_probe_wait_more 45 "$n_a" alice '"state":"online"' || xs_fail "alice not back online"
  xs_probe_wait_more 45 "$n_b" bob '"state":"online"' || xs_fail "bob not back online"
  xs_probe_wait_more 15 "$np" alice '"event":"presence"' '"node_id":"node-bob"' || xs_fail "no presence after restart"
  xs_probe_wait_more 15 "$npb" bob '"event":"presence"' '"node_id":"node-alice"' ||
    xs_fail "bob: no presence after restart"
  bob_full=$(xs_probe_field alice from '"event":"presence"' '"node_id":"node-bob"' '"available":true')
  alice_full=$(xs_probe_field bob from '"event":"presence"' '"node_id":"node-alice"' '"available":true')
  xs_signal_roundtrip alice bob "$bob_full" a2b-2
  xs_signal_roundtrip bob alice "$alice_full" b2a-2
  xs_probe_cmd alice '{"cmd":"counters"}'
  xs_probe_wait 5 alice '"event":"counters"' '"reconnects":' || xs_fail counters
  xs_probe_stop alice || xs_fail "alice probe exit status"
  xs_probe_stop bob || xs_fail "bob probe exit status"

  xs_step "a server without TLS is refused unless configured"
  local plain="$srv"
  if [ "$kind" = prosody ]; then
    # Prosody's TLS settings are per host: a second instance without them.
    xs_server_stop "$srv"
    plain="$XS_DIR/plain"
    xs_prepare "$kind" "$plain" "$domain" "$addr" "$port2" none
    xs_register "$plain" carol pw-carol || xs_fail register
    xs_server_start "$kind" "$plain" "$domain" "$addr" "$port2" none || xs_fail "plain server"
  fi
  xs_password_file "$XS_DIR/carol.pw" pw-carol
  xs_probe_config "$XS_DIR/carol.json" "carol@$domain" "$XS_DIR/carol.pw" "$addr" "$port2" "$ca"
  xs_probe_start carol "$XS_DIR/carol.json" node-carol
  xs_probe_wait 15 carol '"state":"offline"' 'no STARTTLS' || xs_fail "plain server not refused"
  xs_probe_has carol '"state":"online"' && xs_fail "went online without TLS"
  xs_probe_stop carol || xs_fail "carol probe exit status"
  XS_TLS_EXTRA=', "Required": false' \
    xs_probe_config "$XS_DIR/carol2.json" "carol@$domain" "$XS_DIR/carol.pw" "$addr" "$port2" "$ca"
  xs_probe_start carol2 "$XS_DIR/carol2.json" node-carol
  xs_probe_wait 15 carol2 '"state":"online"' || xs_fail "Tls.Required=false did not connect"
  grep -q "WITHOUT TLS" "$XS_DIR/carol2.err" || xs_fail "no warning about plaintext"
  xs_probe_stop carol2 || xs_fail "carol2 probe exit status"
  xs_server_stop "$plain"
  xs_log "PASS ($kind)"
}
