# shellcheck shell=bash
# tests/lib/dns.sh - a real DNS server (dnsmasq, Debian package
# dnsmasq-base) in a namespace of tests/lib/netns.sh, serving A and SRV
# records of made-up domains (under .test, RFC 6761), and the namespaces
# that use it as their resolver.
#
#   . "$IPOP_SRC_DIR/tests/lib/dns.sh"       # after netns.sh
#   dns_a xmpp1.one.test 198.18.0.2
#   dns_srv _xmpp-client._tcp.one.test xmpp1.one.test 5222 10
#   dns_start dns 198.18.0.53               # namespace "dns" must exist
#   dns_use alice 198.18.0.53               # before anything runs in alice
#
# dnsmasq answers for .test from these records only (--local=/test/:
# NXDOMAIN for other names under .test, nothing forwarded anywhere) and
# logs every query to $NETNS_TMPDIR/dns.log.  Records are fixed once it
# runs.
#
# dns_use writes /etc/netns/<namespace>/resolv.conf, which `ip netns exec`
# bind-mounts over /etc/resolv.conf for every process started in that
# namespace (glibc's resolver, Erlang's inet_res, Prosody's net.dns all
# read it).  The file is removed at cleanup (netns_defer), and /etc/netns
# too when it is left empty.

if [ -n "${DNS_LIB_LOADED:-}" ]; then return 0; fi
DNS_LIB_LOADED=1

DNS_RECORDS=()

dns_skip_unless_ready() {
  command -v dnsmasq >/dev/null || { echo "skip: dnsmasq not installed (dnsmasq-base)"; exit 77; }
}

# dns_a NAME ADDR: an A record.
dns_a() { DNS_RECORDS+=("host-record=$1,$2"); }

# dns_srv OWNER [TARGET PORT PRIORITY [WEIGHT]]: an SRV record, e.g.
# OWNER _xmpp-client._tcp.one.test; without TARGET the record with target
# "." (RFC 2782: the service is decidedly not available).
dns_srv() {
  if [ $# -eq 1 ]; then DNS_RECORDS+=("srv-host=$1"); return; fi
  DNS_RECORDS+=("srv-host=$1,$2,$3,$4,${5:-0}")
}

# dns_start NS ADDR: dnsmasq in namespace NS on ADDR:53 (UDP and TCP).
dns_start() {
  local ns=$1 addr=$2 conf="$NETNS_TMPDIR/dnsmasq.conf" r
  {
    echo "no-resolv"
    echo "no-hosts"
    echo "no-poll"
    echo "bind-interfaces"
    echo "listen-address=$addr"
    echo "port=53"
    echo "local=/test/"
    echo "user=nobody"
    echo "group=nogroup"
    echo "pid-file="
    echo "log-queries"
    echo "log-facility=-"
    for r in "${DNS_RECORDS[@]}"; do echo "$r"; done
  } >"$conf"
  netns_spawn "$ns" "$NETNS_TMPDIR/dns.log" dnsmasq --keep-in-foreground --conf-file="$conf"
  export DNS_PID=$NETNS_LAST_PID   # for tests that stop or signal it
  wait_until 10 dns__answers "$ns" "$addr" || {
    tail -n 20 "$NETNS_TMPDIR/dns.log" >&2
    return 1
  }
}

# Listening on UDP 53 (dnsmasq binds once its records are loaded).
dns__answers() { wait__ss_has "$1" -lnu 53; }

# dns_use NS ADDR: processes started in namespace NS from now on resolve
# names through ADDR.
dns_use() {
  local dir
  dir="/etc/netns/$(netns_ns "$1")"
  mkdir -p "$dir"
  netns_defer rmdir /etc/netns
  netns_defer rm -rf "$dir"
  printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$2" >"$dir/resolv.conf"
  chmod 644 "$dir/resolv.conf"
}

