/* Groups (XEP-0045 rooms) and blocking (XEP-0191) through a client with a
 * fake connection: the stanzas we build, and what we make of the server's
 * answers, including malformed, oversized and forged ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "muc.h"
#include "stanza.h"
#include "xmpp.h"
#include "xmpp_internal.h"
#include "fake_session.h"

#define ROOM "lab@conference.xmpp.test"
#define NICK "alice-node-a12"
#define MUC_USER "http://jabber.org/protocol/muc#user"

static void ev_state(struct xmpp_client *c, enum xmpp_state s,
                     const char *reason, void *ctx)
{
  struct fixture *f = ctx;
  sbuf_printf(&f->log, "state %s\n", xmpp_state_name(s));
}

static void ev_signal(struct xmpp_client *c, const struct xmpp_signal *s,
                      void *ctx)
{
  struct fixture *f = ctx;
  sbuf_printf(&f->log, "signal %s\n", s->from);
}

static void ev_result(struct xmpp_client *c, const struct xmpp_result *r,
                      void *ctx)
{
  struct fixture *f = ctx;
  sbuf_printf(&f->log, "result %s %s %s %s %s\n", xmpp_op_name(r->op),
              r->room ? r->room : "-", r->jid ? r->jid : "-",
              r->error ? ipop_err_name(r->error) : "ok",
              r->condition ? r->condition : "-");
}

static void ev_blocklist(struct xmpp_client *c,
                         const struct xmpp_blocklist_event *ev, void *ctx)
{
  struct fixture *f = ctx;
  sbuf_printf(&f->log, "blocklist %s%s", ev->blocked ? "block" : "unblock",
              ev->full ? " full" : "");
  for (size_t i = 0; i < ev->n; i++)
    sbuf_printf(&f->log, " %s", ev->jids[i]);
  sbuf_adds(&f->log, "\n");
}

static void ev_self(struct xmpp_client *c, const struct xmpp_muc_self *ev,
                    void *ctx)
{
  static const char *const st[] = { "?", "joined", "failed", "left" };
  struct fixture *f = ctx;
  sbuf_printf(&f->log, "self %s %s %s%s %s %s %s\n", ev->room, ev->nick,
              st[ev->state], ev->created ? " created" : "",
              xmpp_muc_affiliation_name(ev->affiliation),
              xmpp_muc_reason_name(ev->reason),
              ev->condition ? ev->condition : "-");
}

static void ev_occupant(struct xmpp_client *c,
                        const struct xmpp_muc_occupant *o, void *ctx)
{
  struct fixture *f = ctx;
  sbuf_printf(&f->log, "occupant %s %s %s %s %s %s %s\n", o->room, o->nick,
              o->jid ? o->jid : "-", xmpp_muc_affiliation_name(o->affiliation),
              o->available ? "available" : "gone",
              xmpp_muc_reason_name(o->reason), o->node_id ? o->node_id : "-");
}

static void ev_invite(struct xmpp_client *c, const struct xmpp_muc_invite *i,
                      void *ctx)
{
  struct fixture *f = ctx;
  sbuf_printf(&f->log, "invite %s %s '%s'%s\n", i->room, i->from, i->reason,
              i->direct ? " direct" : "");
}

static void ev_info(struct xmpp_client *c, const struct xmpp_muc_room_info *i,
                    void *ctx)
{
  struct fixture *f = ctx;
  sbuf_printf(&f->log, "info %s '%s' '%s' %d%d%d%d%d\n", i->room, i->name,
              i->description, i->members_only, i->persistent,
              i->non_anonymous, i->hidden, i->password_protected);
}

static void ev_members(struct xmpp_client *c, const struct xmpp_muc_members *m,
                       void *ctx)
{
  struct fixture *f = ctx;
  sbuf_printf(&f->log, "members %s %s", m->room,
              xmpp_muc_affiliation_name(m->affiliation));
  for (size_t i = 0; i < m->n; i++)
    sbuf_printf(&f->log, " %s", m->jids[i]);
  sbuf_adds(&f->log, "\n");
}

static const struct xmpp_callbacks cbs = {
  .on_state = ev_state, .on_signal = ev_signal,
  .on_result = ev_result, .on_blocklist = ev_blocklist, .on_muc_self = ev_self,
  .on_muc_occupant = ev_occupant, .on_muc_invite = ev_invite,
  .on_muc_room_info = ev_info, .on_muc_members = ev_members,
};

static uint32_t fx_max_stanza;  /* 0: the default */

static void fx_setup(struct fixture *f)
{
  fs_init(f);
  if (fx_max_stanza)
    f->cfg.max_stanza = fx_max_stanza;
  fs_start(f, "node-a12345", &cbs);
  attach(f);
  /* Login asks for the blocklist (the first request: id ipop1). */
  assert_non_null(strstr(out(f), "<iq type='get' id='ipop1'><blocklist "
                                 "xmlns='urn:xmpp:blocking'/></iq>"));
  assert_int_equal(feed(f, "<iq type='result' id='ipop1'><blocklist xmlns="
                           "'urn:xmpp:blocking'><item jid='eve@xmpp.test'/>"
                           "</blocklist></iq>"), 0);
  assert_string_equal(logs(f), "blocklist block full eve@xmpp.test\n");
}

static uint64_t dropped(struct fixture *f)
{
  struct xmpp_counters k;
  xmpp_client_counters(f->c, &k);
  return k.muc_dropped;
}

/* Join ROOM and get our own presence back (state JOINED). */
static void join(struct fixture *f)
{
  sbuf_reset(&f->out);
  assert_int_equal(xmpp_muc_join(f->c, ROOM, NULL), 0);
  assert_string_equal(out(f), "<presence to='" ROOM "/" NICK "'><x xmlns="
                      "'http://jabber.org/protocol/muc'><history maxstanzas="
                      "'0'/></x><node xmlns='urn:ipop:node:1' id='node-a12345'"
                      "/></presence>");
  assert_int_equal(feed(f, "<presence from='" ROOM "/" NICK "'><x xmlns='"
                           MUC_USER "'><item affiliation='member' role="
                           "'participant' jid='" FS_ME "'/><status code='110'/>"
                           "</x></presence>"), 0);
  assert_string_equal(logs(f), "self " ROOM " " NICK " joined member left -\n");
  assert_true(xmpp_muc_joined(f->c, ROOM));
}

static void test_create(void **state)
{
  struct fixture f;
  fx_setup(&f);
  assert_int_equal(xmpp_muc_create(f.c, ROOM, NULL, "lab",
                                   "{\"ipop\":1,\"subnet\":\"10.254.7.0/24\"}"), 0);
  assert_non_null(strstr(out(&f), "<presence to='" ROOM "/" NICK "'>"));
  /* New room (201): the owner form is asked for... */
  assert_int_equal(feed(&f, "<presence from='" ROOM "/" NICK "'><x xmlns='"
                            MUC_USER "'><item affiliation='owner' role="
                            "'moderator'/><status code='201'/><status code="
                            "'110'/></x></presence>"), 0);
  assert_string_equal(out(&f), "<iq type='get' id='ipop2' to='" ROOM "'><query "
                      "xmlns='http://jabber.org/protocol/muc#owner'/></iq>");
  assert_string_equal(logs(&f), "");
  /* ...and filled in with the fields the server offers. */
  assert_int_equal(feed(&f, "<iq type='result' id='ipop2' from='" ROOM "'>"
                            "<query xmlns='http://jabber.org/protocol/muc#owner'>"
                            "<x xmlns='jabber:x:data' type='form'>"
                            "<field var='muc#roomconfig_roomname'/>"
                            "<field var='muc#roomconfig_roomdesc'/>"
                            "<field var='muc#roomconfig_persistentroom'/>"
                            "<field var='muc#roomconfig_membersonly'/>"
                            "<field var='muc#roomconfig_whois'/>"
                            "<field var='muc#roomconfig_publicroom'/>"
                            "<field var='x-unknown'/></x></query></iq>"), 0);
  assert_string_equal(out(&f),
      "<iq type='set' id='ipop3' to='" ROOM "'><query xmlns='http://jabber.org/"
      "protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var="
      "'FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value>"
      "</field><field var='muc#roomconfig_persistentroom'><value>1</value>"
      "</field><field var='muc#roomconfig_membersonly'><value>1</value></field>"
      "<field var='muc#roomconfig_whois'><value>anyone</value></field><field "
      "var='muc#roomconfig_publicroom'><value>0</value></field><field var="
      "'muc#roomconfig_roomname'><value>lab</value></field><field var="
      "'muc#roomconfig_roomdesc'><value>{&quot;ipop&quot;:1,&quot;subnet&quot;:"
      "&quot;10.254.7.0/24&quot;}</value></field></x></query></iq>");
  /* An answer with the right id from someone else is not believed. */
  assert_int_equal(feed(&f, "<iq type='result' id='ipop3' from='eve@xmpp.test/x'/>"), 0);
  assert_string_equal(logs(&f), "");
  assert_int_equal(dropped(&f), 1);
  assert_int_equal(feed(&f, "<iq type='result' id='ipop3' from='" ROOM "'/>"), 0);
  assert_string_equal(logs(&f), "result create " ROOM " - ok -\n"
                      "self " ROOM " " NICK " joined created owner left -\n");
  /* Creating it again: ours already, success at once. */
  sbuf_reset(&f.log);
  assert_int_equal(xmpp_muc_create(f.c, ROOM, NULL, "lab", ""), 0);
  assert_string_equal(logs(&f), "result create " ROOM " - ok -\n");
  /* Bad arguments. */
  assert_int_equal(xmpp_muc_create(f.c, "lab", NULL, "", ""), IPOP_EINVAL);
  assert_int_equal(xmpp_muc_create(f.c, ROOM "/x", NULL, "", ""), IPOP_EINVAL);
  assert_int_equal(xmpp_muc_create(f.c, "a b@c", NULL, "", ""), IPOP_EINVAL);
  char big[XMPP_MUC_DESC_MAX + 2];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  assert_int_equal(xmpp_muc_create(f.c, "b@c", NULL, "", big), IPOP_ETOOBIG);
  assert_int_equal(xmpp_muc_join(f.c, "b@c", "bad\nnick"), IPOP_EINVAL);
  fx_teardown(&f);
}

static void test_create_refused(void **state)
{
  struct fixture f;
  fx_setup(&f);
  /* A form without members-only: the room is destroyed, creation fails. */
  assert_int_equal(xmpp_muc_create(f.c, ROOM, "me", "lab", ""), 0);
  assert_int_equal(feed(&f, "<presence from='" ROOM "/me'><x xmlns='" MUC_USER
                            "'><item affiliation='owner'/><status code='201'/>"
                            "</x></presence>"), 0);
  assert_int_equal(feed(&f, "<iq type='result' id='ipop2' from='" ROOM "'>"
                            "<query xmlns='http://jabber.org/protocol/muc#owner'>"
                            "<x xmlns='jabber:x:data' type='form'><field var="
                            "'muc#roomconfig_persistentroom'/></x></query></iq>"), 0);
  assert_string_equal(logs(&f), "result create " ROOM " - not_supported -\n");
  assert_non_null(strstr(out(&f), "<destroy>"));
  assert_false(xmpp_muc_joined(f.c, ROOM));
  /* Someone else's members-only room. */
  assert_int_equal(xmpp_muc_create(f.c, ROOM, "me", "lab", ""), 0);
  assert_int_equal(feed(&f, "<presence from='" ROOM "/me' type='error'><x xmlns="
                            "'http://jabber.org/protocol/muc'/><error type='auth'>"
                            "<registration-required xmlns='urn:ietf:params:xml:ns:"
                            "xmpp-stanzas'/></error></presence>"), 0);
  assert_string_equal(logs(&f), "result create " ROOM " - exists "
                      "registration-required\n");
  /* Someone else's open room: we leave it again. */
  assert_int_equal(xmpp_muc_create(f.c, ROOM, "me", "lab", ""), 0);
  assert_int_equal(feed(&f, "<presence from='" ROOM "/me'><x xmlns='" MUC_USER
                            "'><item affiliation='none' role='participant'/>"
                            "<status code='110'/></x></presence>"), 0);
  assert_string_equal(logs(&f), "result create " ROOM " - exists -\n");
  assert_string_equal(out(&f), "<presence to='" ROOM "/me' type='unavailable'/>");
  fx_teardown(&f);
}

static void test_join_and_occupants(void **state)
{
  struct fixture f;
  fx_setup(&f);
  /* Refused: not a member. */
  assert_int_equal(xmpp_muc_join(f.c, ROOM, NULL), 0);
  assert_int_equal(feed(&f, "<presence from='" ROOM "/" NICK "' type='error'>"
                            "<error type='auth'><registration-required xmlns="
                            "'urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
                            "</presence>"), 0);
  assert_string_equal(logs(&f), "self " ROOM " " NICK " failed none left "
                      "registration-required\nresult join " ROOM
                      " - permission registration-required\n");
  join(&f);
  /* Occupants: real JID and node id; none; gone with a reason. */
  assert_int_equal(feed(&f, "<presence from='" ROOM "/bob'><node xmlns="
                            "'urn:ipop:node:1' id='node-b'/><x xmlns='" MUC_USER
                            "'><item affiliation='owner' role='moderator' jid="
                            "'bob@xmpp.test/ipop-7'/></x></presence>"
                            "<presence from='" ROOM "/anon'><x xmlns='" MUC_USER
                            "'><item affiliation='member'/></x></presence>"
                            "<presence from='" ROOM "/carol' type='unavailable'>"
                            "<x xmlns='" MUC_USER "'><item affiliation='none' "
                            "jid='carol@xmpp.test/n'/><status code='321'/></x>"
                            "</presence>"), 0);
  assert_string_equal(logs(&f),
      "occupant " ROOM " bob bob@xmpp.test/ipop-7 owner available left node-b\n"
      "occupant " ROOM " anon - member available left -\n"
      "occupant " ROOM " carol carol@xmpp.test/n none gone affiliation -\n");
  /* Hostile: forged room presence from a user, from another room, a bad
   * JID, two items, no muc#user, a node id too long, a nick too long. */
  uint64_t d0 = dropped(&f);
  struct sbuf h;
  sbuf_init(&h);
  sbuf_adds(&h, "<presence from='eve@xmpp.test/x'><x xmlns='" MUC_USER "'><item "
                "jid='evil@xmpp.test/y' affiliation='owner'/><status code="
                "'110'/></x></presence>"
                "<presence from='other@conference.xmpp.test/z'><x xmlns='"
                MUC_USER "'><item jid='evil@xmpp.test/y'/></x></presence>"
                "<presence from='" ROOM "/e1'><x xmlns='" MUC_USER "'><item "
                "jid='has space@xmpp.test/y'/></x></presence>"
                "<presence from='" ROOM "/e2'><x xmlns='" MUC_USER "'><item "
                "jid='a@b/c'/><item jid='d@e/f'/></x></presence>"
                "<presence from='" ROOM "/e3'/>");
  sbuf_adds(&h, "<presence from='" ROOM "/e4'><node xmlns='urn:ipop:node:1' id='");
  for (int i = 0; i < XMPP_NODE_ID_MAX + 1; i++)
    sbuf_adds(&h, "n");
  sbuf_adds(&h, "'/><x xmlns='" MUC_USER "'><item jid='e4@xmpp.test/r'/></x>"
                "</presence><presence from='" ROOM "/");
  for (int i = 0; i < XMPP_MUC_NICK_MAX + 1; i++)
    sbuf_adds(&h, "k");
  sbuf_adds(&h, "'><x xmlns='" MUC_USER "'/></presence>");
  assert_int_equal(feed(&f, h.data), 0);
  sbuf_free(&h);
  assert_string_equal(logs(&f), "occupant " ROOM " e4 e4@xmpp.test/r none "
                      "available left -\n");
  assert_int_equal(dropped(&f) - d0, 7);
  assert_true(xmpp_muc_joined(f.c, ROOM));
  /* Caps change: a presence update to the room (no muc <x/>: no rejoin). */
  sbuf_reset(&f.out);
  assert_int_equal(xmpp_client_set_caps(f.c, "ip4=10.0.0.1"), 0);
  assert_non_null(strstr(out(&f), "<presence to='" ROOM "/" NICK "'><node "
                         "xmlns='urn:ipop:node:1' id='node-a12345' caps="
                         "'ip4=10.0.0.1'/></presence>"));
  assert_int_equal(xmpp_client_set_caps(f.c, NULL), 0);
  /* Removed ourselves (321), then banned / destroyed variants. */
  assert_int_equal(feed(&f, "<presence from='" ROOM "/" NICK "' type="
                            "'unavailable'><x xmlns='" MUC_USER "'><item "
                            "affiliation='none' role='none'/><status code='110'/>"
                            "<status code='321'/></x></presence>"), 0);
  assert_string_equal(logs(&f), "self " ROOM " " NICK " left member affiliation -\n");
  assert_false(xmpp_muc_joined(f.c, ROOM));
  /* Nothing from that room is believed any more. */
  assert_int_equal(feed(&f, "<presence from='" ROOM "/bob'><x xmlns='" MUC_USER
                            "'><item jid='bob@xmpp.test/ipop-7'/></x></presence>"), 0);
  assert_string_equal(logs(&f), "");
  join(&f);
  assert_int_equal(feed(&f, "<presence from='" ROOM "/" NICK "' type="
                            "'unavailable'><x xmlns='" MUC_USER "'><item "
                            "affiliation='none' role='none'/><destroy><reason>"
                            "bye</reason></destroy><status code='110'/></x>"
                            "</presence>"), 0);
  assert_string_equal(logs(&f), "self " ROOM " " NICK " left member destroyed -\n");
  /* Leave: unavailable presence, LEFT once the room confirms. */
  join(&f);
  sbuf_reset(&f.out);
  assert_int_equal(xmpp_muc_leave(f.c, ROOM), 0);
  assert_string_equal(out(&f), "<presence to='" ROOM "/" NICK "' type='unavailable'/>");
  assert_int_equal(feed(&f, "<presence from='" ROOM "/" NICK "' type="
                            "'unavailable'><x xmlns='" MUC_USER "'><item "
                            "affiliation='member' role='none'/><status code="
                            "'110'/></x></presence>"), 0);
  assert_string_equal(logs(&f), "self " ROOM " " NICK " left member left -\n");
  assert_int_equal(xmpp_muc_leave(f.c, ROOM), IPOP_ENOENT);
  fx_teardown(&f);
}

static void test_invitations(void **state)
{
  struct fixture f;
  fx_setup(&f);
  assert_int_equal(feed(&f, "<message from='" ROOM "'><x xmlns='" MUC_USER "'>"
                            "<invite from='bob@xmpp.test/ipop-3'><reason>come"
                            "</reason></invite></x></message>"
                            "<message from='bob@xmpp.test/ipop-3'><x xmlns="
                            "'jabber:x:conference' jid='" ROOM "' reason='hi'/>"
                            "</message>"), 0);
  assert_string_equal(logs(&f), "invite " ROOM " bob@xmpp.test 'come'\n"
                      "invite " ROOM " bob@xmpp.test 'hi' direct\n");
  /* Forged: a user's full JID posing as a room; no inviter; bad room JIDs
   * (with a nick; a bare domain); once the MUC service is known, a "room"
   * elsewhere.  An invitation from a JID we block is reported: blocking is
   * the controller's rule. */
  uint64_t d0 = dropped(&f);
  assert_int_equal(feed(&f, "<message from='eve@xmpp.test/x'><x xmlns='" MUC_USER
                            "'><invite from='bob@xmpp.test'/></x></message>"
                            "<message from='" ROOM "'><x xmlns='" MUC_USER "'>"
                            "<invite/></x></message>"
                            "<message from='bob@xmpp.test/r'><x xmlns="
                            "'jabber:x:conference' jid='" ROOM "/nick'/></message>"
                            "<message from='bob@xmpp.test/r'><x xmlns="
                            "'jabber:x:conference' jid='conference.xmpp.test'/>"
                            "</message>"
                            "<message from='" ROOM "'><x xmlns='" MUC_USER "'>"
                            "<invite from='eve@xmpp.test/r'/></x></message>"), 0);
  assert_string_equal(logs(&f), "invite " ROOM " eve@xmpp.test ''\n");
  assert_int_equal(dropped(&f) - d0, 4);
  assert_int_equal(xmpp_muc_set_service(f.c, "conference.xmpp.test"), 0);
  assert_int_equal(feed(&f, "<message from='lab@evil.example'><x xmlns='" MUC_USER
                            "'><invite from='bob@xmpp.test'/></x></message>"), 0);
  assert_string_equal(logs(&f), "");
  assert_int_equal(dropped(&f) - d0, 5);
  /* Federation: a room on another server speaks for the users of its own
   * domain (its MUC service is that domain or below it), for nobody else;
   * a look-alike domain is not below it. */
  assert_int_equal(feed(&f, "<message from='lab@conference.one.test'><x xmlns='"
                            MUC_USER "'><invite from='carol@one.test/ipop-9'/>"
                            "</x></message>"
                            "<message from='lab@one.test'><x xmlns='" MUC_USER
                            "'><invite from='carol@one.test'/></x></message>"
                            "<message from='lab@conference.one.test'><x xmlns='"
                            MUC_USER "'><invite from='bob@xmpp.test'/></x>"
                            "</message>"
                            "<message from='lab@xone.test'><x xmlns='" MUC_USER
                            "'><invite from='carol@one.test'/></x></message>"
                            "<message from='lab@one.test.evil'><x xmlns='" MUC_USER
                            "'><invite from='carol@one.test'/></x></message>"
                            "<message from='lab@conference.xmpp.test'><x xmlns='"
                            MUC_USER "'><invite from='carol@one.test'/></x>"
                            "</message>"), 0);
  assert_string_equal(logs(&f),
      "invite lab@conference.one.test carol@one.test ''\n"
      "invite lab@one.test carol@one.test ''\n"
      "invite lab@conference.xmpp.test carol@one.test ''\n");
  assert_int_equal(dropped(&f) - d0, 8);
  /* Sending: a full JID (a node) directly, a bare JID through the room. */
  sbuf_reset(&f.out);
  assert_int_equal(xmpp_muc_invite(f.c, ROOM, "bob@xmpp.test/ipop-3", "j'oin"), 0);
  assert_int_equal(xmpp_muc_invite(f.c, ROOM, "bob@xmpp.test", "j'oin"), 0);
  assert_string_equal(out(&f),
      "<message to='bob@xmpp.test/ipop-3'><x xmlns='jabber:x:conference' jid='"
      ROOM "' reason='j&apos;oin'/></message><message to='" ROOM "'><x xmlns='"
      MUC_USER "'><invite to='bob@xmpp.test'><reason>j&apos;oin</reason>"
      "</invite></x></message>");
  assert_int_equal(xmpp_muc_invite(f.c, ROOM, "bob", NULL), IPOP_EINVAL);
  fx_teardown(&f);
}

static void test_owner_requests(void **state)
{
  struct fixture f;
  fx_setup(&f);
  sbuf_reset(&f.out);
  assert_int_equal(xmpp_muc_set_affiliation(f.c, ROOM, "bob@xmpp.test",
                                            XMPP_AFF_MEMBER, "<ok>"), 0);
  assert_string_equal(out(&f), "<iq type='set' id='ipop2' to='" ROOM "'><query "
                      "xmlns='http://jabber.org/protocol/muc#admin'><item "
                      "affiliation='member' jid='bob@xmpp.test'><reason>&lt;ok"
                      "&gt;</reason></item></query></iq>");
  assert_int_equal(feed(&f, "<iq type='error' id='ipop2' from='" ROOM "'><error "
                            "type='auth'><forbidden xmlns='urn:ietf:params:xml:"
                            "ns:xmpp-stanzas'/></error></iq>"), 0);
  assert_string_equal(logs(&f), "result affiliation " ROOM " bob@xmpp.test "
                      "permission forbidden\n");
  assert_int_equal(xmpp_muc_set_affiliation(f.c, ROOM, "bob@xmpp.test/r",
                                            XMPP_AFF_NONE, NULL), IPOP_EINVAL);
  /* Member list, with a bad item skipped. */
  assert_int_equal(xmpp_muc_get_affiliations(f.c, ROOM, XMPP_AFF_MEMBER), 0);
  assert_int_equal(feed(&f, "<iq type='result' id='ipop3' from='" ROOM "'><query "
                            "xmlns='http://jabber.org/protocol/muc#admin'><item "
                            "affiliation='member' jid='bob@xmpp.test'/><item "
                            "affiliation='member' jid='x y'/><item affiliation="
                            "'member' jid='carol@xmpp.test'/></query></iq>"), 0);
  assert_string_equal(logs(&f), "members " ROOM " member bob@xmpp.test "
                      "carol@xmpp.test\n");
  /* Room information; an oversized description is refused. */
  assert_int_equal(xmpp_muc_room_info(f.c, ROOM), 0);
  assert_int_equal(feed(&f, "<iq type='result' id='ipop4' from='" ROOM "'><query "
                            "xmlns='http://jabber.org/protocol/disco#info'>"
                            "<identity category='conference' type='text' name="
                            "'lab'/><feature var='muc_membersonly'/><feature "
                            "var='muc_persistent'/><feature var="
                            "'muc_nonanonymous'/><feature var='muc_hidden'/>"
                            "<x xmlns='jabber:x:data' type='result'><field var="
                            "'FORM_TYPE'><value>http://jabber.org/protocol/"
                            "muc#roominfo</value></field><field var="
                            "'muc#roominfo_description'><value>{&quot;ipop&quot;"
                            ":1}</value></field></x></query></iq>"), 0);
  assert_string_equal(logs(&f), "info " ROOM " 'lab' '{\"ipop\":1}' 11110\n");
  assert_int_equal(xmpp_muc_room_info(f.c, ROOM), 0);
  struct sbuf h;
  sbuf_init(&h);
  sbuf_adds(&h, "<iq type='result' id='ipop5' from='" ROOM "'><query xmlns="
                "'http://jabber.org/protocol/disco#info'><x xmlns='jabber:x:"
                "data'><field var='FORM_TYPE'><value>http://jabber.org/protocol"
                "/muc#roominfo</value></field><field var='muc#roominfo_"
                "description'><value>");
  for (int i = 0; i < XMPP_MUC_DESC_MAX + 1; i++)
    sbuf_adds(&h, "d");
  sbuf_adds(&h, "</value></field></x></query></iq>");
  assert_int_equal(feed(&f, h.data), 0);
  sbuf_free(&h);
  assert_string_equal(logs(&f), "result room_info " ROOM " - too_large -\n");
  /* Discovery: items, then info of each until conference/text. */
  assert_int_equal(xmpp_muc_discover(f.c), 0);
  assert_non_null(strstr(out(&f), "to='xmpp.test'><query xmlns='http://jabber."
                                  "org/protocol/disco#items'/>"));
  assert_int_equal(feed(&f, "<iq type='result' id='ipop6' from='xmpp.test'><query "
                            "xmlns='http://jabber.org/protocol/disco#items'>"
                            "<item jid='pubsub.xmpp.test'/><item jid='bad jid'/>"
                            "<item jid='conference.xmpp.test'/></query></iq>"), 0);
  assert_non_null(strstr(out(&f), "id='ipop7' to='pubsub.xmpp.test'"));
  assert_int_equal(feed(&f, "<iq type='result' id='ipop7' from='pubsub.xmpp.test'>"
                            "<query xmlns='http://jabber.org/protocol/disco#info'>"
                            "<identity category='pubsub' type='service'/></query>"
                            "</iq>"), 0);
  assert_non_null(strstr(out(&f), "id='ipop8' to='conference.xmpp.test'"));
  assert_int_equal(feed(&f, "<iq type='result' id='ipop8' from='conference.xmpp."
                            "test'><query xmlns='http://jabber.org/protocol/"
                            "disco#info'><identity category='conference' type="
                            "'text'/></query></iq>"), 0);
  assert_string_equal(logs(&f), "result discover - - ok -\n");
  assert_string_equal(xmpp_muc_service(f.c), "conference.xmpp.test");
  /* A request outstanding when the connection drops fails. */
  assert_int_equal(xmpp_muc_set_affiliation(f.c, ROOM, "bob@xmpp.test",
                                            XMPP_AFF_NONE, NULL), 0);
  assert_int_equal(feed(&f, "<stream:error><conflict xmlns='urn:ietf:params:xml:"
                            "ns:xmpp-streams'/></stream:error>"), IPOP_EIO);
  assert_string_equal(logs(&f), "result affiliation " ROOM " bob@xmpp.test io -\n"
                      "state offline\n");
  assert_string_equal(xmpp_muc_service(f.c), "");  /* discovered per session */
  assert_int_equal(xmpp_muc_room_info(f.c, ROOM), IPOP_ESTATE);
  fx_teardown(&f);
}

static void test_rejoin_after_reconnect(void **state)
{
  struct fixture f;
  fx_setup(&f);
  join(&f);
  assert_int_equal(feed(&f, "<stream:error><conflict xmlns='urn:ietf:params:xml:"
                            "ns:xmpp-streams'/></stream:error>"), IPOP_EIO);
  assert_false(xmpp_muc_joined(f.c, ROOM));
  /* While offline: a join is remembered, a create too. */
  assert_int_equal(xmpp_muc_join(f.c, "other@conference.xmpp.test", "n"), 0);
  sbuf_reset(&f.log);
  attach(&f);
  assert_non_null(strstr(out(&f), "<presence to='" ROOM "/" NICK "'>"));
  assert_non_null(strstr(out(&f), "<presence to='other@conference.xmpp.test/n'>"));
  assert_int_equal(feed(&f, "<presence from='" ROOM "/" NICK "'><x xmlns='"
                            MUC_USER "'><item affiliation='member'/><status "
                            "code='110'/></x></presence>"), 0);
  assert_string_equal(logs(&f), "self " ROOM " " NICK " joined member left -\n");
  fx_teardown(&f);
}

static void test_blocking(void **state)
{
  struct fixture f;
  fx_setup(&f);
  /* The library keeps no block list: a signal from a JID on it is
   * reported like any other (the controller drops it). */
  assert_int_equal(feed(&f, "<message from='eve@xmpp.test/n'><signal xmlns="
                            "'urn:ipop:signal:1' type='offer'>{}</signal>"
                            "</message>"), 0);
  assert_string_equal(logs(&f), "signal eve@xmpp.test/n\n");
  /* Block: request, then the server's push (answered). */
  sbuf_reset(&f.out);
  assert_int_equal(xmpp_block_add(f.c, "dan@xmpp.test"), 0);
  assert_string_equal(out(&f), "<iq type='set' id='ipop2'><block xmlns="
                      "'urn:xmpp:blocking'><item jid='dan@xmpp.test'/></block></iq>");
  assert_int_equal(feed(&f, "<iq type='set' id='push1'><block xmlns='urn:xmpp:"
                            "blocking'><item jid='dan@xmpp.test'/></block></iq>"
                            "<iq type='result' id='ipop2'/>"), 0);
  /* (our own accepted change is reported as well: a server need not push
   * it to the resource that asked) */
  assert_string_equal(logs(&f), "blocklist block dan@xmpp.test\n"
                      "blocklist block dan@xmpp.test\n"
                      "result block - dan@xmpp.test ok -\n");
  assert_string_equal(out(&f), "<iq type='result' id='push1'/>");
  /* Forged push from someone else: refused, not reported. */
  assert_int_equal(feed(&f, "<iq type='set' id='push2' from='eve@xmpp.test/r'>"
                            "<unblock xmlns='urn:xmpp:blocking'/></iq>"), 0);
  assert_string_equal(logs(&f), "");
  assert_non_null(strstr(out(&f), "service-unavailable"));
  /* Domain items block everyone there; bad items are skipped. */
  assert_int_equal(feed(&f, "<iq type='set' id='push3' from='alice@xmpp.test'>"
                            "<block xmlns='urn:xmpp:blocking'><item jid="
                            "'spam.example'/><item/><item jid='a b'/></block>"
                            "</iq>"), 0);
  assert_string_equal(logs(&f), "blocklist block spam.example\n");
  /* Unblock all. */
  assert_int_equal(feed(&f, "<iq type='set' id='push4'><unblock xmlns='urn:xmpp:"
                            "blocking'/></iq>"), 0);
  assert_string_equal(logs(&f), "blocklist unblock full\n");
  /* Unblocking one, accepted. */
  sbuf_reset(&f.out);
  assert_int_equal(xmpp_block_remove(f.c, "dan@xmpp.test"), 0);
  assert_int_equal(feed(&f, "<iq type='result' id='ipop3'/>"), 0);
  assert_string_equal(logs(&f), "blocklist unblock dan@xmpp.test\n"
                      "result unblock - dan@xmpp.test ok -\n");
  assert_int_equal(xmpp_block_add(f.c, NULL), IPOP_EINVAL);
  assert_int_equal(xmpp_block_add(f.c, "x'y@z"), IPOP_EINVAL);
  /* A server without XEP-0191. */
  sbuf_reset(&f.log);
  assert_int_equal(feed(&f, "<stream:error><conflict xmlns='urn:ietf:params:xml:"
                            "ns:xmpp-streams'/></stream:error>"), IPOP_EIO);
  attach(&f);
  assert_non_null(strstr(out(&f), "<blocklist xmlns='urn:xmpp:blocking'/>"));
  const char *bl = strstr(out(&f), "id='ipop");
  assert_non_null(bl);
  char id[16];
  assert_int_equal(sscanf(bl, "id='%15[^']'", id), 1);
  char err[300];
  snprintf(err, sizeof(err), "<iq type='error' id='%s'><error type='cancel'>"
           "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
           "</error></iq>", id);
  assert_int_equal(feed(&f, err), 0);
  assert_string_equal(logs(&f), "result blocklist - - not_supported "
                      "service-unavailable\n");
  fx_teardown(&f);
}

/* A blocklist push beyond the limit reports the first XMPP_BLOCKLIST_MAX
 * items and counts the rest; creating a room dies with the connection. */
static void test_limits_and_loss(void **state)
{
  struct fixture f;
  fx_max_stanza = 4 * 1024 * 1024;  /* the push below is ~1 MiB as a tree */
  fx_setup(&f);
  fx_max_stanza = 0;
  struct sbuf h;
  sbuf_init(&h);
  sbuf_adds(&h, "<iq type='set' id='big'><block xmlns='urn:xmpp:blocking'>");
  for (int i = 0; i < XMPP_BLOCKLIST_MAX + 10; i++)
    sbuf_printf(&h, "<item jid='u%d@x'/>", i);
  sbuf_adds(&h, "</block></iq>");
  uint64_t d0 = dropped(&f);
  assert_int_equal(feed(&f, h.data), 0);
  sbuf_free(&h);
  char want[64];
  snprintf(want, sizeof(want), " u%d@x\n", XMPP_BLOCKLIST_MAX - 1);
  assert_non_null(strstr(logs(&f), want));  /* the last one reported */
  assert_int_equal(dropped(&f) - d0, 10);
  assert_non_null(strstr(out(&f), "<iq type='result' id='big'/>"));
  /* Rooms: at most XMPP_MUC_ROOMS_MAX remembered. */
  char room[64];
  for (int i = 0; i < XMPP_MUC_ROOMS_MAX; i++) {
    snprintf(room, sizeof(room), "r%d@conference.xmpp.test", i);
    assert_int_equal(xmpp_muc_join(f.c, room, NULL), 0);
  }
  assert_int_equal(xmpp_muc_join(f.c, "one-more@conference.xmpp.test", NULL),
                   IPOP_EBUSY);
  for (int i = 0; i < XMPP_MUC_ROOMS_MAX; i++) {
    snprintf(room, sizeof(room), "r%d@conference.xmpp.test", i);
    assert_int_equal(xmpp_muc_leave(f.c, room), 0);
  }
  /* Rooms being left still count until the server confirms. */
  assert_int_equal(xmpp_muc_join(f.c, "one-more@conference.xmpp.test", NULL),
                   IPOP_EBUSY);
  sbuf_init(&h);
  for (int i = 0; i < XMPP_MUC_ROOMS_MAX; i++)
    sbuf_printf(&h, "<presence type='unavailable' from='r%d@conference.xmpp."
                "test/" NICK "'><x xmlns='" MUC_USER "'><status code='110'/>"
                "</x></presence>", i);
  assert_int_equal(feed(&f, h.data), 0);
  sbuf_free(&h);
  /* Creation in progress when the connection drops: reported failed. */
  assert_int_equal(xmpp_muc_create(f.c, ROOM, NULL, "lab", ""), 0);
  assert_int_equal(feed(&f, "<presence from='" ROOM "/" NICK "'><x xmlns='"
                            MUC_USER "'><item affiliation='owner'/><status "
                            "code='201'/><status code='110'/></x></presence>"), 0);
  assert_int_equal(feed(&f, "</stream:stream>"), IPOP_EIO);
  assert_non_null(strstr(logs(&f), "result create " ROOM " - io -\n"));
  assert_false(xmpp_muc_joined(f.c, ROOM));
  /* Asked for while offline: sent once online. */
  assert_int_equal(xmpp_muc_create(f.c, ROOM, NULL, "lab", ""), 0);
  attach(&f);
  assert_non_null(strstr(out(&f), "<presence to='" ROOM "/" NICK "'>"));
  fx_teardown(&f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_create),
    cmocka_unit_test(test_create_refused),
    cmocka_unit_test(test_join_and_occupants),
    cmocka_unit_test(test_invitations),
    cmocka_unit_test(test_owner_requests),
    cmocka_unit_test(test_rejoin_after_reconnect),
    cmocka_unit_test(test_blocking),
    cmocka_unit_test(test_limits_and_loss),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
