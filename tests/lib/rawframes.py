#!/usr/bin/env python3
"""Send Ethernet frames with chosen MACs on an interface (AF_PACKET), as a
hostile host behind a VPN node would: forged source MACs, MAC floods.

    rawframes.py IFACE DST_MAC SRC COUNT [INTERVAL_S]

SRC is a MAC, or "many" for COUNT distinct unicast, locally administered
source MACs (02:ee:00:00:00:00, 02:ee:00:00:00:01, ...).  Frames carry
ethertype 0x88b5 (IEEE local experimental) and 46 bytes of payload.
INTERVAL_S (default 0.0002) paces them so that the TAP's queue keeps up.
Prints the number of frames sent."""
import socket
import struct
import sys
import time


def mac(text):
    b = bytes.fromhex(text.replace(":", ""))
    if len(b) != 6:
        raise SystemExit("rawframes: bad MAC %r" % text)
    return b


def main(argv):
    if len(argv) not in (5, 6):
        raise SystemExit(__doc__)
    ifname, dst, src, count = argv[1], mac(argv[2]), argv[3], int(argv[4])
    interval = float(argv[5]) if len(argv) == 6 else 0.0002
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    payload = b"ipop-test-frame" + bytes(31)
    sent = 0
    for i in range(count):
        srcb = b"\x02\xee" + struct.pack("!I", i) if src == "many" else mac(src)
        s.send(dst + srcb + struct.pack("!H", 0x88B5) + payload)
        sent += 1
        if interval:
            time.sleep(interval)
    print(sent)


if __name__ == "__main__":
    main(sys.argv)
