#!/usr/bin/env bash
# ipop-tincan test 8: hostile datagrams - garbage, truncated and oversized -
# on the control port and on a link's UDP port (from a third host and from
# the peer's own address) neither crash nor stall tincan, and the existing
# link keeps passing traffic.
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
tc_skip_unless_ready
netns_init
tc_two_hosts
netns_host m; netns_attach m pub 198.18.0.66/24
tc_link a node-a b node-b
check "link up" tc_wait_state a node-b up 15
check "ping crosses" wait_ping a 10.254.0.2 5

# b's end of the link, as ICE selected it.
baddr=$(tc_stat b node-a local_addr)
bport=${baddr##*:}
echo "# b's link socket: $baddr"

cat >"$NETNS_TMPDIR/hostile.py" <<'PY'
import os, random, socket, struct, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rnd = random.Random(8)
def dtls_rec(ctype, length_field, body):
    return struct.pack("!BHHIHH", ctype, 0xfefd, 1, 0, 7, length_field) + body
payloads = [b"", b"\x00", b"\x17", b"\xff" * 3]
for i in range(n):
    k = i % 8
    if k == 0: p = os.urandom(rnd.randrange(1, 1500))
    elif k == 1: p = dtls_rec(23, 1000, os.urandom(20))            # truncated record
    elif k == 2: p = dtls_rec(22, 0xffff, os.urandom(100))         # lying length
    elif k == 3: p = dtls_rec(22, 61, b"\x01" + os.urandom(60))    # fake ClientHello
    elif k == 4: p = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + os.urandom(12)  # STUN w/o MI
    elif k == 5: p = os.urandom(65507 if i % 16 == 5 else 9000)    # oversized
    elif k == 6: p = payloads[i % len(payloads)]
    else: p = dtls_rec(21, 2, b"\x02\x28")                         # forged fatal alert
    try:
        s.sendto(p, (host, port))
    except OSError:
        pass
PY

netns_exec m python3 "$NETNS_TMPDIR/hostile.py" 198.18.0.12 "$bport" 3000
check "after 3000 hostile datagrams from a third host, ping crosses" wait_ping a 10.254.0.2 5
netns_exec a python3 "$NETNS_TMPDIR/hostile.py" 198.18.0.12 "$bport" 3000
check "after 3000 from the peer's own address, ping crosses" wait_ping a 10.254.0.2 5
check "the link is still up on b" test "$(tc_stat b node-a state)" = up
netns_exec b python3 "$NETNS_TMPDIR/hostile.py" 127.0.0.1 5800 3000
check "after 3000 on the control port, tincan b answers" tc_ctl b echo still-here
check "tincan a alive" kill -0 "${TC_PID[a]}"
check "tincan b alive" kill -0 "${TC_PID[b]}"
check "ping b->a" wait_ping b 10.254.0.1 5
check "no crash in the logs" sh -c "! grep -Eiq 'sanitizer|segv|abort' $(tc_log a) $(tc_log b)"
tc_finish
