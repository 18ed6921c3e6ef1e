#!/usr/bin/python3
"""Capture every UDP datagram on the loopback interface of the current
network namespace, as a local user with CAP_NET_RAW would (tcpdump -i lo).

lo_sniff.py OUTFILE SECONDS
Writes one line per datagram seen, "SRCPORT DSTPORT HEXPAYLOAD", flushed at
once, for at most SECONDS or until SIGTERM.  Run it in a namespace of its
own so that it sees only the test's traffic.
"""
import select, signal, socket, struct, sys, time

ETH_P_ALL = 0x0003


def udp_payload(frame):
    """(sport, dport, payload) of an IPv4/IPv6 UDP frame, or None."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if ethertype == 0x0800 and len(ip) >= 20 and ip[9] == 17:
        off = (ip[0] & 0x0F) * 4
    elif ethertype == 0x86DD and len(ip) >= 40 and ip[6] == 17:
        off = 40
    else:
        return None
    udp = ip[off:]
    if len(udp) < 8:
        return None
    sport, dport, length = struct.unpack("!HHH", udp[:6])
    return sport, dport, udp[8:length]


def main():
    out, secs = sys.argv[1], float(sys.argv[2])
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind(("lo", 0))
    deadline = time.time() + secs
    with open(out, "w") as f:
        f.write("READY\n")
        f.flush()
        while not stop and time.time() < deadline:
            r, _, _ = select.select([s], [], [], 0.2)
            if not r:
                continue
            frame, addr = s.recvfrom(70000)
            if addr[2] == socket.PACKET_OUTGOING:
                continue  # loopback shows each datagram twice
            u = udp_payload(frame)
            if u:
                f.write("%d %d %s\n" % (u[0], u[1], u[2].hex()))
                f.flush()


if __name__ == "__main__":
    main()
