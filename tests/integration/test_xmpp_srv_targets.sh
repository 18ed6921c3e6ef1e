#!/usr/bin/env bash
# SRV lookup: a client configured with only its JID finds the server through
# _xmpp-client._tcp.<domain>.  Runs in its own network and mount namespace
# (unshare -mn): a scripted DNS server on 127.0.0.1:53 (bind-mounted
# resolv.conf), /etc/hosts naming the SRV target, and Prosody on
# 198.18.5.1 (added to lo) on a non-default port.  The domain itself
# resolves to an address where nothing listens, so only the SRV path works.
set -uo pipefail
: "${IPOP_SRC_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${IPOP_BUILD_DIR:?set IPOP_BUILD_DIR to the build directory}"
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
command -v prosody >/dev/null || { echo "prosody not installed"; exit 77; }
command -v unshare >/dev/null || { echo "unshare missing"; exit 77; }
if [ -z "${XS_IN_NS:-}" ]; then
  exec unshare --mount --net --propagation private env XS_IN_NS=1 bash "$0" "$@"
fi
source "$IPOP_SRC_DIR/tests/lib/xmpp_servers.sh"
xs_init
domain=xmpp.test addr=198.18.5.1 port=15222
ip link set lo up
# A non-loopback address (on lo: no dummy/veth module needed); glibc's
# AI_ADDRCONFIG wants one before it returns IPv4 results.
ip addr add "$addr/32" dev lo || xs_fail "cannot add $addr"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:2\n' > "$XS_DIR/resolv.conf"
printf '127.0.0.1 localhost\n127.0.0.2 %s\n%s xmpp-host.%s\n' "$domain" "$addr" "$domain" \
  > "$XS_DIR/hosts"
chmod 644 "$XS_DIR/resolv.conf" "$XS_DIR/hosts"
mount --bind "$XS_DIR/resolv.conf" /etc/resolv.conf || xs_fail "bind resolv.conf"
mount --bind "$XS_DIR/hosts" /etc/hosts || xs_fail "bind hosts"

cat > "$XS_DIR/dns.py" <<'PY'
# Minimal DNS responder: SRV for _xmpp-client._tcp.<domain>, NXDOMAIN else.
import socket, struct, sys
domain, port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def enc(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 17:
        continue
    tid = struct.unpack(">H", q[:2])[0]
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += q[i] + 1
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    name = ".".join(labels).lower()
    answers = []
    if qtype == 33 and name == "_xmpp-client._tcp." + domain:
        # The lower-priority record (20) comes first on the wire: the client
        # must sort; its port has no listener.
        for prio, p in ((20, 1), (10, port)):
            rdata = struct.pack(">HHH", prio, 5, p) + enc(target)
            answers.append(b"\xc0\x0c" + struct.pack(">HHIH", 33, 1, 60, len(rdata)) + rdata)
    rcode = 0 if answers else 3
    hdr = struct.pack(">HHHHHH", tid, 0x8180 | rcode, 1, len(answers), 0, 0)
    s.sendto(hdr + question + b"".join(answers), peer)
PY
python3 "$XS_DIR/dns.py" "$domain" "$port" "xmpp-host.$domain" > "$XS_DIR/dns.out" 2>&1 &
XS_PIDS+=("$!")
xs_wait 10 "DNS responder" grep -q ready "$XS_DIR/dns.out" || xs_fail "dns"

xs_make_ca "$XS_DIR/pki" "$domain" || xs_fail "cannot make CA"
srv="$XS_DIR/srv"
xs_prepare prosody "$srv" "$domain" "$addr" "$port" "$XS_DIR/pki"
xs_register "$srv" alice pw-alice || xs_fail register
xs_server_start prosody "$srv" "$domain" "$addr" "$port" "$XS_DIR/pki" || xs_fail "server start"
xs_password_file "$XS_DIR/alice.pw" pw-alice
cat > "$XS_DIR/alice.json" <<EOF2
{ "Jid": "alice@$domain", "PasswordFile": "$XS_DIR/alice.pw",
  "Tls": { "CaFile": "$XS_DIR/pki/ca.pem" } }
EOF2
IPOP_LOG=debug xs_probe_start alice "$XS_DIR/alice.json" node-alice
xs_probe_wait 20 alice '"state":"online"' || xs_fail "no login through SRV"
grep -q "connecting to SRV of $domain" "$XS_DIR/alice.err" || xs_fail "SRV path not taken"
grep -q "connect failed" "$XS_DIR/alice.err" && xs_fail "tried the priority-20 target first"
xs_probe_stop alice || xs_fail "probe exit status"
xs_server_stop "$srv"
xs_log "PASS (SRV)"
