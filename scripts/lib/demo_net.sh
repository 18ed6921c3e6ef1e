# shellcheck shell=bash
# The demo network of scripts/demo.sh, built from the integration-test
# helpers (tests/integration/controller_helpers.sh: netns, ejabberd, nodes;
# tests/lib/coturn.sh) plus the deployment scripts (setup-ejabberd.sh for
# accounts and groups, new-node-config.sh for every node's config.json), so
# the demo runs exactly what the docs tell a sysadmin to run.
#
#            segment "pub" (198.18.0.0/24, the "Internet")
#    +-----------+-----------+-----------+---------------+
#    |           |           |           |               |
#   xs          alice       bob         nat (MASQUERADE)
#   198.18.0.1  .11         .12         wan 198.18.0.2
#   ejabberd                            lan 198.19.1.1
#   coturn                                |  segment "home"
#                                       carol 198.19.1.10
#
# Needs IPOP_SRC_DIR / IPOP_BUILD_DIR set before sourcing.

# shellcheck source=tests/integration/controller_helpers.sh
. "$IPOP_SRC_DIR/tests/integration/controller_helpers.sh"
# shellcheck source=tests/lib/coturn.sh
. "$IPOP_SRC_DIR/tests/lib/coturn.sh"

DEMO_USERS=(alice bob carol)
DEMO_GROUP=demo
declare -A DEMO_UNDERLAY=([alice]=198.18.0.11 [bob]=198.18.0.12 [carol]=198.19.1.10)
# GroupVPN: one subnet, fixed addresses (readable output).
declare -A DEMO_GROUP_ADDR=([alice]=10.254.0.1 [bob]=10.254.0.2 [carol]=10.254.0.3)
# SocialVPN: each user's own subnet; friends appear at addresses from it.
declare -A DEMO_SOCIAL_NET=([alice]=10.10.0.0/24 [bob]=10.20.0.0/24 [carol]=10.30.0.0/24)
DEMO_T0=${EPOCHREALTIME/[.,]/}

demo_elapsed() { local n=${EPOCHREALTIME/[.,]/}; printf '%d.%d' $(( (n - DEMO_T0) / 1000000 )) $(( (n - DEMO_T0) / 100000 % 10 )); }
say() { printf '[demo %6ss] %s\n' "$(demo_elapsed)" "$*"; }

# demo_servers: the "public" namespace xs with ejabberd and coturn.
demo_servers() {
  netns_segment pub
  say "starting ejabberd (xmpp.test on 198.18.0.1:5222, private CA) ..."
  ct_xmpp_start
  say "starting coturn (STUN/TURN on 198.18.0.1:3478, realm ipop.test) ..."
  COTURN_USER=demo
  coturn_start turn xs 198.18.0.1
}

# demo_ejctl: the ejabberdctl command line for setup-ejabberd.sh --ctl.
demo_ejctl() {
  local s=$CT_XS_DIR/srv
  printf 'ip netns exec %s env HOME=%s %s/ejabberdctl --config-dir %s --ctl-config %s/ejabberdctl.cfg --logs %s/logs --spool %s/spool' \
    "$(netns_ns xs)" "$s" "$s" "$s" "$s" "$s" "$s"
}

# demo_accounts MODE: users, then the shared roster group (GroupVPN) or
# mutual friendships (SocialVPN), through scripts/setup-ejabberd.sh.
demo_accounts() {
  local mode=$1 rel=() ua=() u
  for u in "${DEMO_USERS[@]}"; do ua+=(--user "$u"); done
  if [ "$mode" = group ]; then
    rel=(--group "$DEMO_GROUP=alice,bob,carol")
  else
    rel=(--friends "alice,bob,carol")
  fi
  "$IPOP_SRC_DIR/scripts/setup-ejabberd.sh" --domain "$CT_DOMAIN" --ctl "$(demo_ejctl)" \
    --password-dir "$NETNS_TMPDIR/passwords" "${ua[@]}" "${rel[@]}"
}

# demo_nat: router "nat" (cone MASQUERADE) between pub and segment "home".
demo_nat() {
  netns_segment home
  netns_router nat cone pub 198.18.0.2/24 home 198.19.1.1/24
}

# demo_node NAME MODE: namespace, config.json from new-node-config.sh,
# ipop-tincan running (root; it drops to nobody keeping CAP_NET_ADMIN).
demo_node() {
  local h=$1 mode=$2 d ip=${DEMO_UNDERLAY[$1]} net=()
  d=$(ct_dir "$h")
  netns_host "$h"
  if [ "$h" = carol ]; then
    netns_attach "$h" home "$ip/24"
    netns_route_default "$h" 198.19.1.1
  else
    netns_attach "$h" pub "$ip/24"
  fi
  mkdir -p "$d/state"
  chmod 755 "$NETNS_TMPDIR" "$d"
  chown "$CT_USER" "$d/state"
  if [ "$mode" = group ]; then
    net=(--group "$DEMO_GROUP" --subnet 10.254.0.0/24 --address "${DEMO_GROUP_ADDR[$h]}")
  else
    net=(--subnet "${DEMO_SOCIAL_NET[$h]}")
  fi
  "$IPOP_SRC_DIR/scripts/new-node-config.sh" --mode "$mode" --jid "$h@$CT_DOMAIN" "${net[@]}" \
    --password-file "$d/xmpp.pw" --xmpp-host "$CT_XMPP_ADDR:$CT_XMPP_PORT" \
    --ca-file "$CT_XS_DIR/pki/ca.pem" --overlay-id demo --tap ipop0 \
    --stun 198.18.0.1:3478 --turn 198.18.0.1:3478 --turn-user "$COTURN_USER" \
    --turn-password-file "$d/turn.pw" \
    --key-file "$d/control.key" --identity-file "$d/identity.pem" --state-dir "$d/state" \
    --tincan-user "$TC_USER" --controller-user "$CT_USER" \
    --out "$d/config.json" >"$d/new-node-config.log" 2>&1 ||
    { cat "$d/new-node-config.log" >&2; return 1; }
  install -m 600 -o "$CT_USER" /dev/null "$d/turn.pw"
  printf '%s\n' "$COTURN_PASS" >"$d/turn.pw"
  ct_tincan_start "$h"
}

# demo_secrets NAME: the XMPP password setup-ejabberd.sh wrote, given to
# the controller's user (0600).
demo_secrets() {
  local d; d=$(ct_dir "$1")
  install -m 600 -o "$CT_USER" "$NETNS_TMPDIR/passwords/$1.password" "$d/xmpp.pw"
}

# demo_peer_addr NAME PEER MODE: the overlay address NAME reaches PEER at.
demo_peer_addr() {
  if [ "$3" = group ]; then echo "${DEMO_GROUP_ADDR[$2]}"; return; fi
  ct_ctl "$1" -j peers 2>/dev/null | jq -r --arg j "$2@" \
    '[.peers[] | select(.jid | startswith($j)) | .mapped_ip4 // empty][0] // empty'
}

# demo_wait_links TIMEOUT: until every node has a link up to each other
# node: `ipopctl wait link JID` on each, endpoints and key from the node's
# config.json as a sysadmin's ipopctl takes them.
demo_wait_links() {
  local h p ok=0 end left all
  for h in "${DEMO_USERS[@]}"; do
    end=$(( ${EPOCHREALTIME%[.,]*} + $1 )) all=0
    for p in "${DEMO_USERS[@]}"; do
      [ "$p" != "$h" ] || continue
      left=$(( end - ${EPOCHREALTIME%[.,]*} ))
      netns_exec "$h" "$IPOPCTL" --config "$(ct_dir "$h")/config.json" wait link \
        "$p@$CT_DOMAIN" --deadline "$(( left > 1 ? left : 1 ))" >/dev/null 2>&1 || all=1
    done
    if [ "$all" = 0 ]; then say "  $h: all links up"
    else say "  $h: NOT all links up after $1 s"; ok=1; fi
  done
  return $ok
}

# demo_ping NAME ADDR: the round-trip time of one overlay ping (retried
# for a few seconds: the first packets may wait for ARP), or nothing.
demo_ping() {
  local t end=$(( ${EPOCHREALTIME%[.,]*} + 15 ))
  while [ "${EPOCHREALTIME%[.,]*}" -lt "$end" ]; do
    t=$(netns_exec "$1" ping -c1 -W1 "$2" 2>/dev/null | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p')
    [ -z "$t" ] || { echo "$t"; return 0; }
  done
  return 1
}

# demo_matrix MODE: every node pings every other over the overlay; prints
# the matrix; returns 0 only if every ping succeeded.
demo_matrix() {
  local mode=$1 a b addr rtt fails=0 row
  printf '\n  %-8s' 'from\to'
  for b in "${DEMO_USERS[@]}"; do printf '%-24s' "$b"; done
  printf '\n'
  for a in "${DEMO_USERS[@]}"; do
    row=$(printf '  %-8s' "$a")
    for b in "${DEMO_USERS[@]}"; do
      if [ "$a" = "$b" ]; then row+=$(printf '%-24s' '-'); continue; fi
      addr=$(demo_peer_addr "$a" "$b" "$mode")
      if [ -n "$addr" ] && rtt=$(demo_ping "$a" "$addr"); then
        row+=$(printf '%-24s' "ok $addr ${rtt}ms")
      else
        row+=$(printf '%-24s' "FAIL ${addr:-no-address}"); fails=$((fails + 1))
      fi
    done
    printf '%s\n' "$row"
  done
  printf '\n'
  return $(( fails > 0 ))
}
