#!/usr/bin/env bash
# setup-coturn.sh - configure coturn as the STUN/TURN server of an ipop
# network: write turnserver.conf (long-term credentials, realm, listening
# and relay addresses, ports, TLS certificate) and add TURN users to its
# SQLite user database with turnadmin (password in a 0600 file per user).
# Prints the Stun/Turn settings for the nodes' config.json at the end.
# Running it again rewrites the file it wrote before and updates users.
#
# usage: setup-coturn.sh --realm REALM --listen IP [options]
#
#   --realm REALM          TURN realm, e.g. example.org (required)
#   --listen IP            address to listen on (repeatable; required); the
#                          first one is also the relay address
#   --external-ip PUB[/PRIV]  public address when coturn is behind a 1:1 NAT
#                          (cloud VMs); PRIV is the --listen address it maps to
#   --port N               STUN/TURN port, UDP and TCP (default 3478)
#   --tls-port N           TURN over TLS/DTLS port (default 5349; needs --cert)
#   --cert FILE            TLS certificate chain (PEM), e.g. a Let's Encrypt
#   --pkey FILE              fullchain.pem and privkey.pem
#   --min-port N --max-port N  relay port range (default 49152-65535)
#   --user NAME            add or update TURN user NAME (repeatable); its
#                          password comes from PWDIR/NAME.password if it
#                          exists, else a random one is written there (0600)
#   --password-dir PWDIR   default ./ipop-turn-passwords
#   --db FILE              coturn's user database (default /var/lib/turn/turndb)
#   --config FILE          file to write (default /etc/turnserver.conf)
#   --pidfile FILE         pid file for turnserver (default: coturn's own)
#   --host NAME            name the nodes use to reach this server, for the
#                          printed snippet (default: the first --listen / --external-ip)
#   --force                overwrite a --config file this script did not write
#   -h, --help             this text
#
# Example:
#   setup-coturn.sh --realm example.org --listen 203.0.113.5 --user alice \
#     --user bob --cert /etc/letsencrypt/live/turn.example.org/fullchain.pem \
#     --pkey /etc/letsencrypt/live/turn.example.org/privkey.pem --host turn.example.org
#   systemctl restart coturn     # Debian: also set TURNSERVER_ENABLED=1 in /etc/default/coturn
set -euo pipefail
IPOP_SCRIPT=setup-coturn.sh
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/common.sh
. "$here/lib/common.sh"

realm="" ext="" port=3478 tlsport=5349 cert="" pkey="" minp=49152 maxp=65535
pwdir=./ipop-turn-passwords db=/var/lib/turn/turndb config=/etc/turnserver.conf
pidfile="" host="" force=0
listen=() users=()
MARK="# written by ipop scripts/setup-coturn.sh"
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    --force) force=1; shift; continue ;;
  esac
  need_arg "$@"
  v=$2
  case $1 in
    --realm) valid_domain "$v" || usage_die "--realm: expected a DNS-style name, found '$v'"; realm=$v ;;
    --listen) valid_ip4 "$v" || [[ $v =~ ^[0-9A-Fa-f:]+$ ]] || usage_die "--listen: expected an IP address, found '$v'"; listen+=("$v") ;;
    --external-ip) [[ $v =~ ^([0-9.]+)(/([0-9.]+))?$ ]] && valid_ip4 "${v%%/*}" ||
                     usage_die "--external-ip: expected PUBLIC_IP or PUBLIC_IP/PRIVATE_IP, found '$v'"; ext=$v ;;
    --port) valid_port "$v" || usage_die "--port: expected 1..65535, found '$v'"; port=$v ;;
    --tls-port) valid_port "$v" || usage_die "--tls-port: expected 1..65535, found '$v'"; tlsport=$v ;;
    --cert) cert=$v ;;
    --pkey) pkey=$v ;;
    --min-port) valid_port "$v" || usage_die "--min-port: expected 1..65535, found '$v'"; minp=$v ;;
    --max-port) valid_port "$v" || usage_die "--max-port: expected 1..65535, found '$v'"; maxp=$v ;;
    --user) valid_user "$v" || usage_die "--user: expected a user name (no @, /, :, spaces or quotes), found '$v'"; users+=("$v") ;;
    --password-dir) pwdir=$v ;;
    --db) db=$v ;;
    --config) config=$v ;;
    --pidfile) pidfile=$v ;;
    --host) valid_domain "$v" || valid_ip4 "$v" || usage_die "--host: expected a DNS name or IPv4 address, found '$v'"; host=$v ;;
    *) usage_die "unknown option $1" ;;
  esac
  shift 2
done
[ -n "$realm" ] || usage_die "--realm REALM is required"
[ ${#listen[@]} -gt 0 ] || usage_die "--listen IP is required (the address coturn listens and relays on)"
[ "$minp" -lt "$maxp" ] || usage_die "--min-port $minp must be below --max-port $maxp"
[ -z "$cert$pkey" ] || { [ -n "$cert" ] && [ -n "$pkey" ]; } || usage_die "--cert and --pkey go together"
[ -z "$cert" ] || [ -r "$cert" ] || die "--cert: cannot read $cert"
[ -z "$pkey" ] || [ -r "$pkey" ] || die "--pkey: cannot read $pkey"
need_cmd turnadmin coturn
if [ -e "$config" ] && ! head -n 1 "$config" | grep -qF "$MARK" && [ "$force" = 0 ]; then
  die "$config exists and was not written by this script; pass --force to replace it (a backup is kept)"
fi

mkdir -p "$(dirname "$config")" "$(dirname "$db")"
tmp=$config.tmp.$$
{
  echo "$MARK; rerun it instead of editing"
  echo "# STUN/TURN for ipop nodes: long-term credentials, users in $db"
  echo "realm=$realm"
  echo "lt-cred-mech"
  echo "userdb=$db"
  echo "fingerprint"
  for ip in "${listen[@]}"; do echo "listening-ip=$ip"; done
  echo "relay-ip=${listen[0]}"
  [ -z "$ext" ] || echo "external-ip=$ext"
  echo "listening-port=$port"
  if [ -n "$cert" ]; then
    echo "tls-listening-port=$tlsport"
    echo "cert=$cert"
    echo "pkey=$pkey"
    echo "no-tlsv1"
    echo "no-tlsv1_1"
  else
    echo "# no TLS certificate given: TURN over TLS/DTLS disabled"
    echo "no-tls"
    echo "no-dtls"
  fi
  echo "min-port=$minp"
  echo "max-port=$maxp"
  echo "# relaying into loopback or multicast is never needed by ipop"
  echo "no-multicast-peers"
  echo "denied-peer-ip=127.0.0.0-127.255.255.255"
  echo "denied-peer-ip=0.0.0.0-0.255.255.255"
  echo "no-cli"
  [ -z "$pidfile" ] || echo "pidfile=$pidfile"
} >"$tmp"
chmod 644 "$tmp"
[ ! -e "$config" ] || head -n 1 "$config" | grep -qF "$MARK" || cp -p "$config" "$config.ipop-bak"
mv -f "$tmp" "$config"
info "wrote $config (realm $realm, listening on ${listen[*]} port $port${cert:+, TLS $tlsport})"

if [ ${#users[@]} -gt 0 ]; then
  mkdir -p "$pwdir"; chmod 700 "$pwdir"
  for u in "${users[@]}"; do
    f=$pwdir/$u.password
    [ -s "$f" ] || secret_file "$f" "$(random_secret)"
    [ "$(stat -c %a "$f")" = 600 ] || chmod 600 "$f"
    out=$(turnadmin -a -b "$db" -u "$u" -r "$realm" -p "$(head -n 1 "$f")" 2>&1) ||
      die "turnadmin could not add $u to $db: $out"
  done
  # coturn runs as user turnserver on Debian: it must read its database.
  if getent passwd turnserver >/dev/null; then chown turnserver: "$db" 2>/dev/null || true; fi
  info "TURN users: ${users[*]} (passwords in $pwdir/USER.password, 0600)"
fi

h=${host:-${ext%%/*}}; h=${h:-${listen[0]}}
cat <<EOF

For each node (scripts/new-node-config.sh flags; copy USER.password to the
node as a 0600 file readable by the controller's user):
  --stun $h:$port --turn $h:$port --turn-user USER --turn-password-file /etc/ipop/turn.password
or in config.json, Controller.Overlay:
  "Stun": ["$h:$port"],
  "Turn": [{ "Address": "$h:$port", "User": "USER", "PasswordFile": "/etc/ipop/turn.password", "Transport": "udp" }]
EOF
[ -z "$cert" ] || echo "  (TURN over TLS: \"Address\": \"$h:$tlsport\", \"Transport\": \"tls\")"
