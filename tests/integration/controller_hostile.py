#!/usr/bin/python3
"""A hostile roster contact for test_controller_hostile.sh (slixmpp).

Logs in, announces an IPOP node id in presence, waits for the victim
node's presence, then sends it malformed and oversized signaling messages
and a flood of requests.  Prints one line per step; exits 0 when done.

usage: controller_hostile.py JID PASSWORD HOST PORT CAFILE VICTIM_BARE_JID [--battery DEPTH]

--battery DEPTH: instead, the hostile-stanza battery (issue 16): stanzas
each beyond a limit inside one stanza (DEPTH levels, 10,000 attributes,
9,000 children, 100 KB of text, a burst of 500, a deep request), then one
over the servers' stanza size limit.
"""
import json
import logging
import sys
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

NS_NODE = "urn:ipop:node:1"
NS_SIGNAL = "urn:ipop:signal:1"
MY_NODE = "6d616c6c6f7279000000000000000000"


def say(*a):
    print(*a, flush=True)


def link(n_cands=1, cand="candidate:1 1 udp 2130706431 198.18.0.66 40000 typ host"):
    return {"fingerprint": "sha-256 " + ":".join(["AB"] * 32), "mac": "02:00:5e:10:00:66",
            "ip4": "10.254.0.66", "ufrag": "evil", "pwd": "abcdefghijklmnopqrstuv",
            "candidates": [cand] * n_cands}


class Hostile(slixmpp.ClientXMPP):
    def __init__(self, jid, pw, victim):
        super().__init__(jid, pw)
        self.victim = victim
        self.victim_full = None
        self.victim_node = None
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("presence_available", self.presence)

    async def start(self, _):
        await self.get_roster()
        p = self.make_presence(ppriority=-1)
        p.append(ET.Element("{%s}node" % NS_NODE, id=MY_NODE))
        p.send()
        print("online; presence with node id sent", flush=True)

    def presence(self, pres):
        node = pres.xml.find("{%s}node" % NS_NODE)
        if node is None or pres["from"].bare != self.victim or self.victim_full:
            return
        self.victim_full = str(pres["from"])
        self.victim_node = node.get("id")
        print("victim", self.victim_full, self.victim_node, flush=True)
        if "--battery" in sys.argv:
            depth = int(sys.argv[sys.argv.index("--battery") + 1])
            self.loop.create_task(self.battery(depth))
        else:
            self.loop.create_task(self.attack())

    def signal(self, typ, payload, sid="1"):
        m = self.make_message(mto=self.victim_full, mtype="headline")
        el = ET.Element("{%s}signal" % NS_SIGNAL, type=typ, id=sid)
        el.text = payload
        m.append(el)
        m.send()

    def req(self, **over):
        r = {"v": 1, "request_id": "evil0001", "from": MY_NODE, "to": self.victim_node,
             "overlay_id": "lab", "link": link()}
        r.update(over)
        return json.dumps(r)

    async def attack(self):
        steps = [
            ("not JSON", "link_request", "this is not json {"),
            ("JSON array", "link_request", "[1,2,3]"),
            ("empty object", "link_request", "{}"),
            ("oversized payload (20 KiB)", "link_request", "x" * 20000),
            ("nested JSON 1500 deep", "link_request", "[" * 1500 + "]" * 1500),
            ("unknown signal type", "evil_type", self.req()),
            ("wrong from (another node)", "link_request",
             self.req(**{"from": "0123456789abcdef0123456789abcdef"})),
            ("bad fingerprint", "link_request",
             self.req(link=dict(link(), fingerprint="md5 00"))),
            ("bad candidate", "link_request", self.req(link=link(cand="candidate:<script>"))),
            ("too many candidates", "link_request", self.req(link=link(n_cands=200))),
            ("unknown key", "link_request", self.req(evil=True)),
            ("version 99", "link_request", self.req(v=99)),
            ("response to nothing", "link_response",
             json.dumps({"v": 1, "request_id": "nothing01", "from": MY_NODE,
                         "to": self.victim_node, "overlay_id": "lab", "result": "accept",
                         "link": link()})),
            ("control characters", "link_request", self.req(overlay_id="lab\u0001\u0002")),
        ]
        for what, typ, payload in steps:
            self.signal(typ, payload)
            print("sent:", what, flush=True)
        for i in range(200):
            self.signal("link_request", self.req(request_id="flood%04d" % i))
        print("sent: flood of 200 requests", flush=True)
        # A ping to ourselves: once answered, the server has relayed all of the above.
        await self.plugin["xep_0199"].ping(jid=self.boundjid.full, timeout=10)
        print("done", flush=True)
        self.disconnect()

    async def battery(self, depth):
        """Stanzas each beyond a limit inside one stanza of the victim's
        client (depth 64, 64 attributes, 8192 children, 64 KiB of text)
        but under the servers' and the client's stanza size limit (256
        KiB): each must cost itself only.  Then one over the servers'
        limit, which the server refuses (it closes our stream)."""
        to = self.victim_full
        msg = '<message type="headline" to="%s">%%s</message>' % to
        self.send_raw(msg % ('<signal xmlns="%s" type="link_request">' % NS_SIGNAL
                             + "<a>" * depth + "</a>" * depth + "</signal>"))
        say("sent: %d-deep signal" % depth)
        self.send_raw(msg % ("<x" + "".join(' a%d="v"' % i for i in range(10000)) + "/>"))
        say("sent: 10000 attributes")
        self.send_raw(msg % ("<x>" + "<i/>" * 9000 + "</x>"))
        say("sent: 9000 children")
        self.send_raw(msg % ("<body>" + "b" * 100000 + "</body>"))
        say("sent: 100 KB body")
        self.send_raw('<presence to="%s">' % to + "<a>" * 100 + "</a>" * 100 + "</presence>")
        say("sent: 100-deep directed presence")
        for _ in range(500):
            self.send_raw(msg % ("<a>" * 100 + "</a>" * 100))
        say("sent: burst of 500 100-deep messages")
        # A request: the victim answers it with policy-violation.
        iq = self.make_iq_get(ito=to)
        q = ET.Element("{urn:x:hostile}query")
        e = q
        for _ in range(100):
            e = ET.SubElement(e, "{urn:x:hostile}a")
        iq.append(q)
        try:
            await iq.send(timeout=10)
            say("iq answered: result")
        except IqError as err:
            # slixmpp knows RFC 3920's conditions only: read the element.
            conds = [c.tag.split("}")[-1] for c in err.iq.xml.iter()
                     if c.tag.startswith("{urn:ietf:params:xml:ns:xmpp-stanzas}")]
            say("iq answered: error %s" % " ".join(conds))
        except IqTimeout:
            say("iq answered: nothing (timeout)")
        await self.plugin["xep_0199"].ping(jid=self.boundjid.full, timeout=10)
        say("battery relayed")
        # Over the servers' stanza size limit: refused by the server.
        self.send_raw(msg % ("<body>" + "b" * (1024 * 1024) + "</body>"))
        say("sent: 1 MiB body")
        self.loop.call_later(3, self.disconnect)
        say("done")


def main():
    jid, pw, host, port, ca, victim = sys.argv[1:7]  # then optional --battery DEPTH
    logging.basicConfig(level=logging.ERROR)
    x = Hostile(jid, pw, victim)
    x.ca_certs = ca
    x.register_plugin("xep_0199")
    x.connect((host, int(port)))
    x.add_event_handler("disconnected", lambda _: x.loop.stop())
    x.loop.call_later(60, x.loop.stop)
    x.loop.run_forever()


if __name__ == "__main__":
    main()
