#!/usr/bin/env python3
"""Send hand-made datagrams to a control socket, for hostile-input tests.

ctl_probe.py KEYFILE HOST PORT MODE [ARG]
Modes:
  json TEXT        authenticated datagram carrying TEXT verbatim
  replay TEXT      send the same authenticated datagram twice
  stale TEXT       authenticated, timestamp 10 minutes old
  raw HEX          unauthenticated raw bytes
  garbage N        N random datagrams of random sizes (no answer expected)
  oversize         one 65507-byte datagram with a valid-looking header
Prints one line per answer: "RESPONSE <json>" or "NAK <reason>" or "NONE".
"""
import hmac, hashlib, json, os, socket, struct, sys, time

def load_key(path):
    return bytes.fromhex(open(path).read().strip())

def seal(key, payload, sender, counter, ts_ms):
    hdr = b"IPC1" + b"\0\0\0\0" + struct.pack(">QQQ", sender, counter, ts_ms)
    mac = hmac.new(key, hdr + payload, hashlib.sha256).digest()
    return hdr + mac + payload

def answer(sock):
    try:
        data, _ = sock.recvfrom(70000)
    except socket.timeout:
        return "NONE"
    if data[:4] == b"IPN1":
        return "NAK %d" % data[4]
    return "RESPONSE " + data[64:].decode("utf-8", "replace")

def main():
    keyfile, host, port, mode = sys.argv[1:5]
    arg = sys.argv[5] if len(sys.argv) > 5 else ""
    key = load_key(keyfile)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    dst = (host, int(port))
    sender = int.from_bytes(os.urandom(8), "big")
    now = int(time.time() * 1000)
    if mode == "json":
        s.sendto(seal(key, arg.encode("utf-8", "surrogateescape"), sender, 1, now), dst)
        print(answer(s))
    elif mode == "replay":
        d = seal(key, arg.encode(), sender, 1, now)
        s.sendto(d, dst); print(answer(s))
        s.sendto(d, dst); print(answer(s))
    elif mode == "stale":
        s.sendto(seal(key, arg.encode(), sender, 1, now - 600000), dst)
        print(answer(s))
    elif mode == "raw":
        s.sendto(bytes.fromhex(arg), dst)
        print(answer(s))
    elif mode == "garbage":
        s.settimeout(0.05)
        for i in range(int(arg)):
            n = int.from_bytes(os.urandom(2), "big") % 2000
            d = os.urandom(n)
            if i % 3 == 0:
                d = b"IPC1" + d  # right magic, wrong MAC
            s.sendto(d, dst)
        print("SENT")
    elif mode == "oversize":
        s.sendto(b"IPC1" + os.urandom(65503), dst)
        print(answer(s))
    else:
        sys.exit("unknown mode " + mode)

if __name__ == "__main__":
    main()
