#!/usr/bin/python3
"""An impostor for the identity tests (controller_identity_scenario.sh).

Logs in to XMPP with slixmpp (as mallory, a mutual contact of the victim,
or as bob himself from another resource - a server that can pose as bob),
claims a node id in the way the attack asks, and sends link_request
signals that carry the real ICE parameters and DTLS fingerprint of its own
ipop-tincan, so that an impersonation would really complete ICE and DTLS
if the victim's controller allowed it.  A link_response that accepts is
answered with create_link on our tincan; then we watch whether the link
comes up.  Prints one line per step and, at the end,
"result: answers=N accepted=N impostor_links_up=N".

  --announce ID    presence with <node id=ID/> (attack a, c)
  --no-node        presence without a node element (attack b)
  --room R --nick N  join room R announcing the same node id (or none)
  --publish ID,FPR PEP item on our own account's node (attack d, a lying server)
  --as-node ID     the "from" node id of our requests (the identity we steal)
  --overlay O --tap-ip A  send one request per overlay (repeatable, pairs)
"""
import argparse
import asyncio
import json
import logging
import os
import secrets
import subprocess
import sys
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

NS_NODE = "urn:ipop:node:1"
NS_SIGNAL = "urn:ipop:signal:1"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_MUC = "http://jabber.org/protocol/muc"


def say(*a):
    print(*a, flush=True)


class Tincan:
    """Our own ipop-tincan, through ipopctl (raw requests)."""

    def __init__(self, ipopctl, key):
        self.cmd = [ipopctl, "-k", key, "-s", "127.0.0.1:5800", "-j", "call"]

    def call(self, name, body):
        r = subprocess.run(self.cmd + [name, json.dumps(body)], capture_output=True, text=True,
                           timeout=20)
        if r.returncode != 0:
            return None, (r.stderr or r.stdout).strip()
        return json.loads(r.stdout), None

    def overlay(self, ovl, node, tap, ip):
        res, err = self.call("create_overlay", {"overlay_id": ovl, "node_id": node,
                                                "tap_name": tap, "ip4": ip, "ip4_prefix": 24})
        if res is None and "exists" not in err:
            raise RuntimeError("create_overlay %s: %s" % (ovl, err))
        if res is None:
            res, err = self.call("query_overlay_info", {"overlay_id": ovl})
        return res

    def links_up(self):
        res, _ = self.call("query_link_stats", {})
        return sum(1 for l in (res or {}).get("links", []) if l.get("state") == "up")


class Impostor(slixmpp.ClientXMPP):
    def __init__(self, a, tincan):
        super().__init__("%s/%s" % (a.jid, a.res), a.pw)
        self.a = a
        self.tincan = tincan
        self.answers = 0
        self.accepted = 0
        self.local = {}   # overlay -> our link parameters
        self.add_event_handler("session_start", self.start)
        # every message with a signal, whatever its type (ours are headlines)
        self.register_handler(slixmpp.xmlstream.handler.Callback(
            "signal", slixmpp.xmlstream.matcher.MatchXPath(
                "{jabber:client}message/{%s}signal" % NS_SIGNAL), self.message))

    def node_el(self):
        return ET.Element("{%s}node" % NS_NODE, id=self.a.announce) if self.a.announce else None

    async def publish(self):
        node, fpr = self.a.publish.split(",", 1)
        if fpr == "self":  # a lying server publishes the fingerprint it can present
            fpr = self.own_fpr
        iq = self.Iq()
        iq["type"] = "set"
        ps = ET.SubElement(iq.xml, "{%s}pubsub" % NS_PUBSUB)
        pub = ET.SubElement(ps, "{%s}publish" % NS_PUBSUB, node=NS_NODE)
        item = ET.SubElement(pub, "{%s}item" % NS_PUBSUB, id=node)
        ET.SubElement(item, "{%s}node" % NS_NODE, id=node, fingerprint=fpr)
        try:
            await iq.send(timeout=10)
            say("published node", node, "with fingerprint", fpr)
        except (IqError, IqTimeout) as e:
            say("publish failed:", e)

    async def start(self, _):
        try:
            await self.run()
        except Exception as e:  # report, do not hang
            say("error:", repr(e))
        self.disconnect()

    async def run(self):
        a = self.a
        await self.get_roster()
        p = self.make_presence(ppriority=-1)
        if self.node_el() is not None:
            p.append(self.node_el())
        p.send()
        say("presence sent as %s/%s%s" % (a.jid, a.res,
                                          " announcing node " + a.announce if a.announce else
                                          " without a node id"))
        if a.room:
            p = self.make_presence(pto="%s/%s" % (a.room, a.nick))
            x = ET.Element("{%s}x" % NS_MUC)
            ET.SubElement(x, "{%s}history" % NS_MUC, maxstanzas="0")
            p.append(x)
            if self.node_el() is not None:
                p.append(self.node_el())
            p.send()
            say("joined room", a.room)
        infos = [self.tincan.overlay(ovl, a.as_node, "mx%d" % i, ip)
                 for i, (ovl, ip) in enumerate(zip(a.overlay, a.tap_ip))]
        self.own_fpr = infos[0]["fingerprint"] if infos else ""
        if a.publish:
            await self.publish()
        # A ping to ourselves: once answered, the server has handled all of
        # the above (and relayed it to the victim) before our requests.
        await self.plugin["xep_0199"].ping(jid=self.boundjid.full, timeout=10)
        for ovl, ip, info in zip(a.overlay, a.tap_ip, infos):
            cands, err = self.tincan.call("query_candidates",
                                          {"overlay_id": ovl, "peer_id": a.victim_node})
            if cands is None:
                raise RuntimeError("query_candidates: " + err)
            self.local[ovl] = cands
            req = {"v": 1, "request_id": secrets.token_hex(8), "from": a.as_node,
                   "to": a.victim_node, "overlay_id": ovl,
                   "link": {"fingerprint": cands["fingerprint"], "mac": info["mac"],
                            "ip4": ip, "ufrag": cands["ufrag"], "pwd": cands["pwd"],
                            "candidates": cands["candidates"]}}
            m = self.make_message(mto=a.victim, mtype="headline")
            el = ET.Element("{%s}signal" % NS_SIGNAL, type="link_request", id=req["request_id"])
            el.text = json.dumps(req)
            m.append(el)
            m.send()
            say("link_request on %s as node %s, fingerprint %s" % (ovl, a.as_node,
                                                                  cands["fingerprint"]))
        # Whatever the victim answers comes now; an accepted request is
        # followed by create_link, and the link is given time to come up.
        await asyncio.sleep(a.wait)
        if self.accepted:
            for _ in range(int(a.wait * 4)):
                if self.tincan.links_up():
                    break
                await asyncio.sleep(0.5)
        up = self.tincan.links_up()
        say("result: answers=%d accepted=%d impostor_links_up=%d" % (self.answers, self.accepted, up))

    def message(self, msg):
        sig = msg.xml.find("{%s}signal" % NS_SIGNAL)
        if sig is None or not sig.text:
            return
        try:
            body = json.loads(sig.text)
        except ValueError:
            return
        self.answers += 1
        say("answer from %s: %s %s" % (msg["from"], sig.get("type"), body.get("result", "")))
        if sig.get("type") != "link_response" or body.get("result") != "accept":
            return
        self.accepted += 1
        l = body["link"]
        ovl = body["overlay_id"]
        res, err = self.tincan.call("create_link", {
            "overlay_id": ovl, "peer_id": self.a.victim_node,
            "peer_fingerprint": l["fingerprint"], "peer_ufrag": l["ufrag"],
            "peer_pwd": l["pwd"], "peer_candidates": l["candidates"]})
        say("create_link on %s: %s" % (ovl, "ok" if res is not None else err))


def main():
    p = argparse.ArgumentParser()
    for k in ("jid", "pw", "host", "ca", "res", "victim", "victim-node", "as-node", "key",
              "ipopctl"):
        p.add_argument("--" + k, required=True)
    p.add_argument("--port", type=int, default=5222)
    p.add_argument("--announce")
    p.add_argument("--no-node", action="store_true")
    p.add_argument("--room")
    p.add_argument("--nick", default="impostor")
    p.add_argument("--publish")
    p.add_argument("--overlay", action="append", default=[])
    p.add_argument("--tap-ip", action="append", default=[])
    p.add_argument("--wait", type=float, default=1.5)
    a = p.parse_args()
    a.victim_node = getattr(a, "victim_node")
    logging.basicConfig(level=logging.ERROR)
    x = Impostor(a, Tincan(a.ipopctl, a.key))
    x.ca_certs = a.ca
    x.register_plugin("xep_0199")
    x.connect((a.host, a.port))
    x.add_event_handler("disconnected", lambda _: x.loop.stop())
    x.loop.call_later(60, x.loop.stop)
    x.loop.run_forever()


if __name__ == "__main__":
    main()
