#!/usr/bin/env python3
"""Send IPv6 Neighbor Solicitations, well-formed or not, on an interface
(AF_PACKET), as a hostile program on a VPN node's host would: they leave
through the TAP, so the node's tincan reads them.

    ndframes.py IFACE SRC_MAC SRC_IP6 TARGET_IP6 KIND...

KIND is one of
    ok          valid: to TARGET's solicited-node group, with a source
                link-layer option
    hop64       hop limit 64 (routed, not from the link)
    badcsum     ICMPv6 checksum off by one bit
    optzero     an option of length 0 (a naive parser loops forever)
    optpast     an option longer than the message
    short       ICMPv6 length 20 (the target cut short)
    code1       ICMPv6 code 1
    mcasttarget target ff02::1
    wronggroup  to all-nodes (ff02::1) instead of the solicited-node group
Prints the number of frames sent."""
import ipaddress
import socket
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def solicited_node(a):
    return bytes([0xFF, 2] + [0] * 9 + [1, 0xFF]) + a[13:]


def frame(smac, src, target, kind):
    hops, code, dst = 255, 0, solicited_node(target)
    opts = b"\x01\x01" + smac
    length = None
    if kind == "hop64":
        hops = 64
    elif kind == "optzero":
        opts = b"\x01\x00" + smac
    elif kind == "optpast":
        opts = b"\x01\x03" + smac
    elif kind == "code1":
        code = 1
    elif kind == "mcasttarget":
        target = ipaddress.IPv6Address("ff02::1").packed
    elif kind == "wronggroup":
        dst = ipaddress.IPv6Address("ff02::1").packed
    elif kind == "short":
        opts, length = b"", 20
    elif kind not in ("ok", "badcsum"):
        raise SystemExit("ndframes: unknown kind %r" % kind)
    m = bytearray([135, code, 0, 0, 0, 0, 0, 0]) + target + opts
    n = length if length is not None else len(m)
    c = ~csum(src + dst + struct.pack("!IxxxB", n, 58) + bytes(m[:n])) & 0xFFFF
    if kind == "badcsum":
        c ^= 1
    m[2:4] = struct.pack("!H", c)
    ip = struct.pack("!IHBB", 0x60000000, n, 58, hops) + src + dst
    return b"\x33\x33" + dst[12:] + smac + b"\x86\xdd" + ip + bytes(m)


def main(argv):
    if len(argv) < 6:
        raise SystemExit(__doc__)
    ifname = argv[1]
    smac = bytes.fromhex(argv[2].replace(":", ""))
    src = ipaddress.IPv6Address(argv[3]).packed
    target = ipaddress.IPv6Address(argv[4]).packed
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    sent = 0
    for kind in argv[5:]:
        s.send(frame(smac, src, target, kind))
        sent += 1
    print(sent)


if __name__ == "__main__":
    main(sys.argv)
