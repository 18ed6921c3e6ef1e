#!/usr/bin/python3
"""A hostile roster contact for test_controller_hostile.sh (slixmpp).

Logs in, announces an IPOP node id in presence, waits for the victim
node's presence, then sends it malformed and oversized signaling messages
and a flood of requests.  Prints one line per step; exits 0 when done.

usage: controller_hostile.py JID PASSWORD HOST PORT CAFILE VICTIM_BARE_JID
"""
import json
import logging
import sys
import xml.etree.ElementTree as ET

import slixmpp

NS_NODE = "urn:ipop:node:1"
NS_SIGNAL = "urn:ipop:signal:1"
MY_NODE = "6d616c6c6f7279000000000000000000"


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
        if "--deep-xml" in sys.argv:
            # 200 nested elements: past the client's MaxDepth (64), below what
            # ejabberd relays safely (~2000).  The victim's XMPP client closes
            # the stream and reconnects; its links must not notice.
            self.send_raw('<message type="headline" to="%s"><signal xmlns="%s" type="link_request">'
                          % (self.victim_full, NS_SIGNAL) + "<a>" * 200 + "</a>" * 200
                          + "</signal></message>")
            print("sent: 200-deep XML", flush=True)
        # A ping to ourselves: once answered, the server has relayed all of the above.
        await self.plugin["xep_0199"].ping(jid=self.boundjid.full, timeout=10)
        print("done", flush=True)
        self.disconnect()


def main():
    jid, pw, host, port, ca, victim = sys.argv[1:7]  # then optional --deep-xml
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
