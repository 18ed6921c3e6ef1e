#!/usr/bin/env python3
"""UDP hole-punching probe for the netns harness.

udp_punch.py LOCAL_PORT PEER_IP PEER_PORT TIMEOUT_S

Binds 0.0.0.0:LOCAL_PORT, sends a datagram to PEER_IP:PEER_PORT every 50 ms
and exits 0 once it has received one from the peer (after sending for 0.5 s
more, so the peer gets an answer through the now-open hole too); exits 1 at
the deadline. Prints what it received, from where.
"""
import select
import socket
import sys
import time


def main():
    lport, peer_ip, pport, timeout = (int(sys.argv[1]), sys.argv[2],
                                      int(sys.argv[3]), float(sys.argv[4]))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", lport))
    deadline = time.monotonic() + timeout
    got_at = None
    nxt = 0.0
    while True:
        now = time.monotonic()
        if got_at is not None and now - got_at > 0.5:
            return 0
        if now >= deadline:
            print("punch: nothing received", flush=True)
            return 0 if got_at is not None else 1
        if now >= nxt:
            try:
                s.sendto(b"punch %d" % lport, (peer_ip, pport))
            except OSError:
                pass  # e.g. EPERM while a path is cut; keep trying
            nxt = now + 0.05
        r, _, _ = select.select([s], [], [], 0.05)
        if r:
            data, src = s.recvfrom(2048)
            if got_at is None:
                print("punch: got %r from %s:%d" % (data, src[0], src[1]), flush=True)
                got_at = time.monotonic()


if __name__ == "__main__":
    sys.exit(main())
