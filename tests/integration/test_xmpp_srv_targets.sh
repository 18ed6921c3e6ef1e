#!/usr/bin/env bash
# SRV discovery (RFC 6120 3.2, XEP-0368) through a real DNS server: a
# client configured with only its JID finds its server from the
# _xmpp-client._tcp (STARTTLS) or _xmpps-client._tcp (direct TLS) records
# of its domain, served by dnsmasq in the public namespace and read
# through the client namespace's /etc/netns/NAME/resolv.conf.
#
#   srv.test   _xmpp-client:  prio 1  xmpp.srv.test:1      refused at once
#                             prio 5  down.srv.test:5222   silent (198.19.0.99,
#                                                           dropped: a host down)
#                             prio 10 xmpp.srv.test:5222   Prosody
#                             prio 20 xmpp.srv.test:5999   never tried
#              _xmpps-client: prio 5  xmpp.srv.test:5998   takes TCP connections
#                                                           and never answers (hung)
#                             prio 10 xmpp.srv.test:5223   Prosody, direct TLS
#              A srv.test 198.18.0.99: nothing there (only SRV can work)
#   none.test  _xmpp-client "." (service explicitly not offered), although
#              its A record names the server: no connection at all
#
# The records are listed in another order than their priorities on purpose.
set -euo pipefail
. "$(dirname "$0")/federation_helpers.sh"
fb_skip_unless_ready
probe="$IPOP_BUILD_DIR/tests/unit/xmpp/xmpp_probe"
[ -x "$probe" ] || { echo "skip: $probe not built"; exit 77; }
netns_init
fb_init
fb_server pr prosody srv.test 198.18.0.4
dns_srv _xmpp-client._tcp.srv.test xmpp.srv.test 5999 20
dns_srv _xmpp-client._tcp.srv.test xmpp.srv.test 5222 10
dns_srv _xmpp-client._tcp.srv.test down.srv.test 5222 5
dns_srv _xmpp-client._tcp.srv.test xmpp.srv.test 1 1
dns_srv _xmpps-client._tcp.srv.test xmpp.srv.test 5223 10
dns_srv _xmpps-client._tcp.srv.test xmpp.srv.test 5998 5
dns_a xmpp.srv.test 198.18.0.4
dns_a down.srv.test 198.19.0.99
dns_a srv.test 198.18.0.99
dns_srv _xmpp-client._tcp.none.test
dns_a none.test 198.18.0.4
fb_dns_start
fb_users pr alice
fb_start pr
fb__netns cl 198.18.0.11
# A hung server: the kernel completes TCP handshakes, nobody ever reads.
netns_spawn pr "$NETNS_TMPDIR/hung.log" python3 -c 'import socket, time
s = socket.socket(); s.bind(("198.18.0.4", 5998)); s.listen(16); time.sleep(600)'
wait_listen pr tcp 5998 10 || { echo "hung listener did not start"; exit 1; }

XS_DIR=$NETNS_TMPDIR/probes
export XS_PROBE_NS=cl   # xs_probe_start runs the probes in namespace cl
mkdir -p "$XS_DIR"
xs_password_file "$XS_DIR/alice.pw" pw-alice
# conf NAME JID [TLS_EXTRA]: a client config with nothing but the JID.
conf() {
  cat >"$XS_DIR/$1.json" <<EOF
{ "Jid": "$2", "PasswordFile": "$XS_DIR/alice.pw", "ConnectTimeout": ${CONNECT_TIMEOUT:-20},
  "Tls": { "CaFile": "$CT_CA_FILE" ${3:-} } }
EOF
}
err() { cat "$XS_DIR/$1.err"; }

echo "# 1. STARTTLS through _xmpp-client: refused and silent targets skipped"
conf alice alice@srv.test
t0=$(date +%s%N)
IPOP_LOG=debug xs_probe_start alice "$XS_DIR/alice.json" node-alice
check "online through SRV" xs_probe_wait 20 alice '"state":"online"'
t1=$(date +%s%N)
echo "# JID only -> online (one refused, one silent target first): $(( (t1 - t0) / 1000000 )) ms"
err alice | grep -E "connecting|connect failed|connected to" | sed 's/^/# /'
check "looked up SRV of srv.test" grep -q "connecting to SRV of srv.test" "$XS_DIR/alice.err"
check "priority 1 first: refused" grep -q "connect failed: 198.18.0.4:1: connection refused" \
  "$XS_DIR/alice.err"
check "priority 5 next: silent, left after 4 s" \
  grep -q "connect failed: 198.19.0.99:5222: no answer within 4000 ms" "$XS_DIR/alice.err"
check "priority 10: connected" grep -q "connected to 198.18.0.4:5222" "$XS_DIR/alice.err"
check "priority 20 never tried" sh -c "! grep -q ':5999' $XS_DIR/alice.err"
check "one attempt, no reconnect" test "$(grep -c 'connecting to SRV' "$XS_DIR/alice.err")" = 1
check "TLS name checked is the domain" grep -q "TLS .* established with srv.test (verified)" \
  "$XS_DIR/alice.err"
check "alice probe exits" xs_probe_stop alice

echo "# 2. direct TLS through _xmpps-client; the first target is hung"
CONNECT_TIMEOUT=3 conf direct alice@srv.test ', "Mode": "direct"'
t0=$(date +%s%N)
IPOP_LOG=debug xs_probe_start direct "$XS_DIR/direct.json" node-direct
check "online with direct TLS" xs_probe_wait 20 direct '"state":"online"'
t1=$(date +%s%N)
echo "# JID only -> online, first target hung (ConnectTimeout 3 s): $(( (t1 - t0) / 1000000 )) ms"
err direct | grep -E "connecting|connect failed|connected to|disconnected|tried last" | sed 's/^/# /'
check "looked up _xmpps-client" grep -q "connecting to SRV of srv.test port 5223" "$XS_DIR/direct.err"
check "first attempt: the hung target, until ConnectTimeout" \
  grep -q "disconnected (timed out before coming online)" "$XS_DIR/direct.err"
check "second attempt: the hung target is tried last" \
  grep -q "1 of 2 addresses failed since the last login: tried last" "$XS_DIR/direct.err"
check "connected to the direct TLS port" grep -q "connected to 198.18.0.4:5223" "$XS_DIR/direct.err"
check "two attempts" test "$(grep -c 'connecting to SRV' "$XS_DIR/direct.err")" = 2
check "direct probe exits" xs_probe_stop direct

echo "# 3. SRV target \".\": the domain offers no XMPP service"
conf none alice@none.test
IPOP_LOG=debug xs_probe_start none "$XS_DIR/none.json" node-none
check "reported offline: cannot resolve" \
  xs_probe_wait 10 none '"state":"offline"' 'cannot resolve none.test'
check "no connection attempted (not even to its A record)" \
  sh -c "! grep -q 'connected to\|connect failed' $XS_DIR/none.err"
check "none probe exits" xs_probe_stop none

check "dnsmasq answered the SRV queries" grep -q "query\[SRV\] _xmpp-client._tcp.srv.test" \
  "$NETNS_TMPDIR/dns.log"
check "and _xmpps-client" grep -q "query\[SRV\] _xmpps-client._tcp.srv.test" "$NETNS_TMPDIR/dns.log"
[ "$TC_FAILS" -eq 0 ]
