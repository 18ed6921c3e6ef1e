#!/usr/bin/env python3
"""Turn what real XMPP servers sent into libFuzzer seeds.

The XMPP tests keep their probes' logs with XS_KEEP=1, and at IPOP_LOG=trace
the client logs each chunk it reads from the server ("recv: ...", after TLS,
at most 2000 bytes of each read).  This script takes the bytes a probe
received after its last stream restart (the session once logged in; SASL
is before it) and writes them as seeds:

  tests/fuzz/corpus/xmpp_stanza/cap-SERVER-PROBE   the bytes as they came
  tests/fuzz/corpus/xmpp_stream/cap-SERVER-PROBE   9 bytes of split lengths
                                                   (fuzz_xmpp_stream), then
                                                   the same bytes

Usage (scripts/capture-xmpp-seeds.sh runs all of it):
  capture-xmpp-seeds.py SERVER XS_DIR CORPUS_DIR
"""
import os
import re
import sys

PREFIX = re.compile(r'^xmpp_probe\[\d+\]: \w+ +\w+: ')
LIMIT = 16384  # bytes per seed: enough for a session's worth of stanzas


def received(path):
    """The received chunks of one probe's log, joined."""
    chunks, cur = [], None
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            m = PREFIX.match(line)
            if m:
                if cur is not None:
                    chunks.append(cur)
                    cur = None
                rest = line[m.end():]
                if rest.startswith('recv: '):
                    cur = rest[len('recv: '):]
            elif cur is not None:
                cur += line  # the chunk had a newline in it
    if cur is not None:
        chunks.append(cur)
    return ''.join(c[:-1] if c.endswith('\n') else c for c in chunks)


def main():
    server, xs_dir, corpus = sys.argv[1:4]
    n = 0
    for name in sorted(os.listdir(xs_dir)):
        if not name.endswith('.err'):
            continue
        data = received(os.path.join(xs_dir, name))
        # After the last <stream:features/>: the logged-in session.
        cut = data.rfind('</stream:features>')
        if cut < 0:
            continue
        body = data[cut + len('</stream:features>'):].encode()[:LIMIT]
        if len(body) < 64:
            continue
        probe = name[:-4]
        for target, head in (('xmpp_stanza', b''),
                             ('xmpp_stream', bytes([0, 7, 100, 1, 33, 250, 3, 64, 0]))):
            d = os.path.join(corpus, target)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, 'cap-%s-%s' % (server, probe)), 'wb') as f:
                f.write(head + body)
        n += 1
    print('%s: %d seeds from %s' % (server, n, xs_dir))


if __name__ == '__main__':
    main()
