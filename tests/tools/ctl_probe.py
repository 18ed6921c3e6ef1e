#!/usr/bin/python3
"""Send hand-made datagrams to a control socket, as a second local client
(or an attacker holding the key) would, for hostile-input tests.

ctl_probe.py KEYFILE HOST PORT MODE [ARG] [SECONDS]
Modes:
  json TEXT        protected datagram carrying TEXT verbatim
  replay TEXT      send the same protected datagram twice
  stale TEXT       protected, timestamp 10 minutes old
  v1 TEXT          protocol 1 (HMAC only, payload in clear): must be refused
  raw HEX          raw bytes as given (e.g. a datagram sniffed off loopback)
  garbage N        N random datagrams of random sizes (no answer expected)
  oversize         one 65507-byte datagram with a valid-looking header
  hold TEXT SECS   like json, then print every datagram that arrives on the
                   same socket within SECS (events, if TEXT made tincan send
                   them here), then "END <count>"
Prints one line per answer: "RESPONSE <json>", "EVENT <json>", "NAK <reason>",
"UNREADABLE" (not decryptable with the key) or "NONE".

Wire format (docs/control-protocol.md): "IPC2", flags, sender id, counter,
timestamp ms, then the JSON payload under AES-256-GCM with the 32-byte
header as associated data; key = HKDF-SHA-256(key file, info "ipop control
v2 AES-256-GCM"), nonce = sender id || low 32 bits of the counter.
"""
import hashlib, hmac, os, socket, struct, sys, time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LABEL = b"ipop control v2 AES-256-GCM"


def load_key(path):
    return bytes.fromhex(open(path).read().strip())


def aead_key(raw):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LABEL).derive(raw)


def seal(key, payload, sender, counter, ts_ms):
    hdr = b"IPC2" + b"\0\0\0\0" + struct.pack(">QQQ", sender, counter, ts_ms)
    nonce = hdr[8:16] + hdr[20:24]
    return hdr + AESGCM(key).encrypt(nonce, payload, hdr)


def seal_v1(raw, payload, sender, counter, ts_ms):
    hdr = b"IPC1" + b"\0\0\0\0" + struct.pack(">QQQ", sender, counter, ts_ms)
    return hdr + hmac.new(raw, hdr + payload, hashlib.sha256).digest() + payload


def unseal(key, data):
    if data[:4] != b"IPC2" or len(data) < 48:
        return None
    hdr = data[:32]
    try:
        return AESGCM(key).decrypt(hdr[8:16] + hdr[20:24], data[32:], hdr)
    except Exception:
        return None


def describe(key, data, kind="RESPONSE"):
    if data[:4] == b"IPN1":
        return "NAK %d" % data[4]
    plain = unseal(key, data)
    if plain is None:
        return "UNREADABLE"
    return kind + " " + plain.decode("utf-8", "replace")


def answer(sock, key):
    try:
        data, _ = sock.recvfrom(70000)
    except socket.timeout:
        return "NONE"
    return describe(key, data)


def main():
    keyfile, host, port, mode = sys.argv[1:5]
    arg = sys.argv[5] if len(sys.argv) > 5 else ""
    raw = load_key(keyfile)
    key = aead_key(raw)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    dst = (host, int(port))
    sender = int.from_bytes(os.urandom(8), "big")
    now = int(time.time() * 1000)
    text = arg.encode("utf-8", "surrogateescape")
    if mode == "json":
        s.sendto(seal(key, text, sender, 1, now), dst)
        print(answer(s, key))
    elif mode == "replay":
        d = seal(key, text, sender, 1, now)
        s.sendto(d, dst); print(answer(s, key))
        s.sendto(d, dst); print(answer(s, key))
    elif mode == "stale":
        s.sendto(seal(key, text, sender, 1, now - 600000), dst)
        print(answer(s, key))
    elif mode == "v1":
        s.sendto(seal_v1(raw, text, sender, 1, now), dst)
        print(answer(s, key))
    elif mode == "raw":
        s.sendto(bytes.fromhex(arg), dst)
        print(answer(s, key))
    elif mode == "garbage":
        s.settimeout(0.05)
        for i in range(int(arg)):
            n = int.from_bytes(os.urandom(2), "big") % 2000
            d = os.urandom(n)
            if i % 3 == 0:
                d = b"IPC2" + d  # right magic, wrong tag
            s.sendto(d, dst)
        print("SENT")
    elif mode == "oversize":
        s.sendto(b"IPC2" + os.urandom(65503), dst)
        print(answer(s, key))
    elif mode == "hold":
        secs = float(sys.argv[6])
        s.sendto(seal(key, text, sender, 1, now), dst)
        print(answer(s, key), flush=True)
        deadline, count = time.time() + secs, 0
        while time.time() < deadline:
            s.settimeout(max(0.01, deadline - time.time()))
            try:
                data, _ = s.recvfrom(70000)
            except socket.timeout:
                break
            count += 1
            print(describe(key, data, "EVENT"), flush=True)
        print("END %d" % count)
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
