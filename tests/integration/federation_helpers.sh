# shellcheck shell=bash disable=SC2016  # SC2016: scripts for fb_xs expand in the server namespace
# Test bed for the federation, SRV and failover tests (issue #17): XMPP
# servers of two domains on the "public" segment, a real DNS server
# (dnsmasq) that every namespace resolves through, and IPOP nodes that are
# configured with nothing but their JID (no Host, no address): they find
# their server through _xmpp-client._tcp SRV records.
#
#   fb_init                                  # segment pub, DNS namespace, test CA
#   fb_server ej1 ejabberd one.test 198.18.0.2
#   fb_server pr prosody two.test 198.18.0.4
#   fb_dns_xmpp one.test "10 xmpp1 198.18.0.2" "20 xmpp2 198.18.0.3"
#   fb_dns_start
#   fb_start ej1; fb_start pr ...            # servers (Prosody: after users)
#   fb_join ej2 ej1                          # ej2 (started) joins ej1's cluster
#   fb_kill ej1                              # SIGKILL: a crash
#   fb_users ej1 alice carol; fb_users pr bob
#   fb_friends "alice@one.test bob@two.test" # mutual contacts, both servers
#   fb_node alice 198.18.0.11 alice@one.test social ''
#
# Addresses: DNS 198.18.0.53; servers 198.18.0.2-9; nodes 198.18.0.1x.
# 198.19.0.0/24 stands for hosts that are down: every namespace routes it
# to the DNS namespace, which drops it without a word (a blackhole route),
# so a TCP connect there hangs as it would to a dead host on the Internet.
#
# Servers: each in its own namespace, data in $FB_DIR/NAME, both with
# server-to-server streams on 5269 over TLS only, certificates from one test
# CA (pki/DOMAIN/server.* for DOMAIN and conference.DOMAIN, usable as TLS
# client certificates too) checked on both ends; SASL EXTERNAL
# authenticates the streams, dialback is off (FB_DIALBACK=1 turns it on).
# ejabberd nodes are Erlang nodes ejabberd@ADDR with one cookie: a second
# node of a domain joins the first one's Mnesia cluster.

# shellcheck source=tests/integration/controller_helpers.sh
. "$(dirname "${BASH_SOURCE[0]}")/controller_helpers.sh"
# shellcheck source=tests/lib/dns.sh
. "$IPOP_SRC_DIR/tests/lib/dns.sh"
# shellcheck source=tests/lib/xmpp_servers.sh
. "$IPOP_SRC_DIR/tests/lib/xmpp_servers.sh"   # xs_make_ca, xs_bin (here)

FB_DNS_ADDR=198.18.0.53
FB_DOWN_NET=198.19.0.0/24
FB_COOKIE=ipop-federation-test
declare -A FB_KIND=() FB_DOMAIN=() FB_ADDR=()
declare -A FB_MEMBER=()   # NAME -> 1: a node that joined another's cluster

fb_skip_unless_ready() {
  tc_skip_unless_ready
  [ -x "$CONTROLLER" ] || { echo "skip: $CONTROLLER not built"; exit 77; }
  command -v ejabberdctl >/dev/null || { echo "skip: ejabberd not installed"; exit 77; }
  command -v prosody >/dev/null || { echo "skip: prosody not installed"; exit 77; }
  command -v jq >/dev/null || { echo "skip: jq not installed"; exit 77; }
  dns_skip_unless_ready
}

fb_init() {
  netns_segment pub
  netns_host dns
  netns_attach dns pub "$FB_DNS_ADDR/24"
  netns_sysctl dns net.ipv4.ip_forward=1
  ip -n "$(netns_ns dns)" route add blackhole "$FB_DOWN_NET"
  FB_DIR=$NETNS_TMPDIR/fed
  mkdir -p "$FB_DIR"
  chmod 755 "$NETNS_TMPDIR" "$FB_DIR"
  CT_XS_DIR=$FB_DIR        # controller_helpers.sh: ct_config's CA file
  CT_CA_FILE=$FB_DIR/pki/ca.pem
  CT_XMPP_SERVER=""        # nodes know nothing but their JID
  xs_make_ca "$FB_DIR/pki" ca.invalid >/dev/null || return 1
}

# fb_pki DOMAIN: the server certificate of DOMAIN (and its MUC service).
fb_pki() {
  [ -f "$FB_DIR/pki/$1/server.pem" ] && return 0
  xs_make_cert "$FB_DIR/pki" "$FB_DIR/pki/$1" "$1" "conference.$1"
}

# fb__netns HOST ADDR: a namespace on pub that resolves through our DNS and
# routes the "down" addresses to it.
fb__netns() {
  netns_host "$1"
  netns_attach "$1" pub "$2/24"
  ip -n "$(netns_ns "$1")" route add "$FB_DOWN_NET" via "$FB_DNS_ADDR"
  dns_use "$1" "$FB_DNS_ADDR"
}

# fb_xs NAME SCRIPT [ARG...]: run xmpp_servers.sh functions for server
# NAME inside its namespace ($dir = its data directory, $pki, $domain,
# $addr; the ARGs are "$@").
fb_xs() {
  local n=$1 script=$2
  shift 2
  netns_exec "$n" env XS_DIR="$FB_DIR" IPOP_SRC_DIR="$IPOP_SRC_DIR" \
    XS_S2S_PORT=5269 XS_DIALBACK="${FB_DIALBACK:-0}" XS_DIRECT_PORT=5223 \
    XS_EJ_NODE="ejabberd@${FB_ADDR[$n]}" XS_EJ_DIST_ADDR="${FB_ADDR[$n]}" \
    XS_EJ_DIST_PORT=4370 XS_EJ_COOKIE="$FB_COOKIE" XS_EJ_TICKTIME="${FB_TICKTIME:-}" \
    bash -c '
    . "$IPOP_SRC_DIR/tests/lib/xmpp_servers.sh"
    dir=$XS_DIR/'"$n"' pki=$XS_DIR/pki/'"${FB_DOMAIN[$n]}"'
    domain='"${FB_DOMAIN[$n]}"' addr='"${FB_ADDR[$n]}"'
    XS_KIND[$dir]='"${FB_KIND[$n]}"'
    XS_SRV_ARGS[$dir]="$domain $addr 5222 $pki"
    '"$script" fb_xs "$@" >>"$FB_DIR/$n.setup.log" 2>&1
}

# fb_server NAME ejabberd|prosody DOMAIN ADDR: namespace and configuration
# (started by fb_start).
fb_server() {
  local n=$1
  FB_KIND[$n]=$2 FB_DOMAIN[$n]=$3 FB_ADDR[$n]=$4
  fb__netns "$n" "$4"
  fb_pki "$3" || return 1
  fb_xs "$n" 'xs_prepare "${XS_KIND[$dir]}" "$dir" "$domain" "$addr" 5222 "$pki"'
}

# fb_start NAME: start server NAME (again, after fb_kill, with its data).
fb_start() {
  local n=$1
  fb_xs "$n" 'xs_server_start "${XS_KIND[$dir]}" "$dir" "$domain" "$addr" 5222 "$pki" &&
              echo "${XS_SRV_PID[$dir]}" > "$dir/srv.pid"' || { fb__fail_log "$n"; return 1; }
}

# fb_join NAME FIRST: ejabberd NAME (running, no accounts of its own yet)
# joins the Mnesia cluster of FIRST, another node of the same domain.
# join_cluster stops ejabberd on NAME, copies the cluster's tables and
# starts it again: this waits for that second start.
fb_join() {
  local n=$1 first=$2 before
  FB_MEMBER[$n]=1
  before=$(grep -c "is started in the node" "$FB_DIR/$n/logs/ejabberd.log")
  fb_xs "$n" 'xs_ejabberdctl "$dir" join_cluster "ejabberd@$1" &&
              xs_wait 30 "ejabberd restarted in the cluster" xs_ej_started "$dir" "$2"' \
    "${FB_ADDR[$first]}" "$before" || { fb__fail_log "$n"; return 1; }
}

fb__fail_log() {
  echo "server $1 failed:" >&2
  tail -n 30 "$FB_DIR/$1.setup.log" "$FB_DIR/$1/logs/ejabberd.log" "$FB_DIR/$1/prosody.log" \
    2>/dev/null >&2
}

# fb_kill NAME: SIGKILL the server's whole process group (a crash: the
# kernel closes its sockets).
fb_kill() {
  local pid
  pid=$(cat "$FB_DIR/$1/srv.pid")
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait_until 10 ct__pgrp_gone "$pid"
}

# fb_users NAME USER...: accounts with password pw-USER (ejabberd: running;
# Prosody: before fb_start).
fb_users() {
  local n=$1 args=() u
  shift
  for u in "$@"; do args+=("$u" "pw-$u"); done
  fb_xs "$n" 'xs_register "$dir" "$@"' "${args[@]}"
}

# fb__server_of DOMAIN: the first server NAME of DOMAIN.
fb__server_of() {
  local n
  for n in "${!FB_DOMAIN[@]}"; do
    [ "${FB_DOMAIN[$n]}" = "$1" ] && [ -z "${FB_MEMBER[$n]:-}" ] && { echo "$n"; return; }
  done
  return 1
}

# fb_friends "JID1 JID2"...: each pair becomes mutual contacts (subscription
# both, roster group "friends") on both sides: ejabberd gets roster items
# through mod_admin_extra (running; one Erlang call for all), Prosody a
# mod_groups group (before fb_start).
fb_friends() {
  local pair a b me other s
  declare -A calls=()
  for pair in "$@"; do
    read -r a b <<<"$pair"
    for me in "$a" "$b"; do
      other=$b; [ "$me" = "$b" ] && other=$a
      s=$(fb__server_of "${me#*@}") || { echo "no server for $me" >&2; return 1; }
      case ${FB_KIND[$s]} in
        ejabberd)
          calls[$s]+="mod_admin_extra, add_rosteritem, [$(xs_bin "${me%@*}"), \
$(xs_bin "${me#*@}"), $(xs_bin "${other%@*}"), $(xs_bin "${other#*@}"), \
$(xs_bin "${other%@*}"), <<\"friends\">>, <<\"both\">>]"$'\n'
          ;;
        prosody)
          FB_GROUPS=$((${FB_GROUPS:-0} + 1))
          printf '[friends%s]\n%s=%s\n%s=%s\n' "$FB_GROUPS" "$me" "${me%@*}" "$other" \
            "${other%@*}" >>"$FB_DIR/$s/groups.txt"
          chown prosody:prosody "$FB_DIR/$s/groups.txt"
          ;;
      esac
    done
  done
  for s in "${!calls[@]}"; do
    local list=()
    mapfile -t list < <(printf '%s' "${calls[$s]}")
    fb_xs "$s" 'xs_ej_rpc "$dir" "$@"' "${list[@]}" || return 1
  done
}

# fb_dns_xmpp DOMAIN "PRIO HOST ADDR"...: A records HOST.DOMAIN and, for
# DOMAIN and conference.DOMAIN, _xmpp-client (5222), _xmpps-client (5223)
# and _xmpp-server (5269) SRV records with these priorities.
fb_dns_xmpp() {
  local d=$1 t prio host addr
  shift
  for t in "$@"; do
    read -r prio host addr <<<"$t"
    dns_a "$host.$d" "$addr"
    dns_srv "_xmpp-client._tcp.$d" "$host.$d" 5222 "$prio"
    dns_srv "_xmpps-client._tcp.$d" "$host.$d" 5223 "$prio"
    dns_srv "_xmpp-server._tcp.$d" "$host.$d" 5269 "$prio"
    dns_srv "_xmpp-server._tcp.conference.$d" "$host.$d" 5269 "$prio"
  done
}

fb_dns_start() { dns_start dns "$FB_DNS_ADDR"; }

# fb_node HOST ADDR JID MODE EXTRA_CONTROLLER_JSON [OVERLAY_JSON]: like
# ct_node, with only the JID in the XMPP config.
fb_node() {
  local h=$1 addr=$2 jid=$3 mode=$4 extra=$5 overlay=${6:-'"Subnet": "10.254.0.0/24"'}
  fb__netns "$h" "$addr"
  CT_JID=$jid ct_config "$h" "$mode" "$extra" "$overlay"
  ct_tincan_start "$h"
}
