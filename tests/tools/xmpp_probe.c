/* xmpp_probe: log in with ipop_xmpp from a JSON config (the "Xmpp" section
 * schema), print every event as one JSON line on stdout, and execute JSON
 * commands read line by line from stdin:
 *   {"cmd":"send","to":"u@d/r","type":"offer","id":"1","payload":"{...}"}
 *   {"cmd":"counters"}   {"cmd":"caps","caps":"x"}   {"cmd":"quit"}
 *   {"cmd":"raw","xml":"<message .../>"}   (hostile-peer tests)
 *   {"cmd":"deep"|"wide"|"many"|"text","to":FULLJID,"depth"|"n":N}
 *                           one stanza N deep, with N attributes on one
 *                           element, N children of one, N bytes of text
 *   {"cmd":"deep","to":"u@d/r","depth":200}  (a message nested that deep)
 * Groups and blocking (muc.h), each answered by {"event":"called",...}:
 *   {"cmd":"service","service":"conference.d"}  {"cmd":"discover"}
 *   {"cmd":"create","room":"r@s","name":"n","desc":"d"[,"nick":"x"]}
 *   {"cmd":"join","room":"r@s"[,"nick":"x"]}  {"cmd":"leave","room":"r@s"}
 *   {"cmd":"room_info","room":"r@s"}  {"cmd":"invite","room","jid","reason"}
 *   {"cmd":"affiliation","room","jid","aff":"member|none|outcast","reason"}
 *   {"cmd":"members","room":"r@s"[,"aff":"member"]}
 *   {"cmd":"block","jid":"u@d"}  {"cmd":"unblock"[,"jid":"u@d"]}
 * PEP (pep.h): {"cmd":"publish","fingerprint":"sha-256 .."}
 *   {"cmd":"pep_fetch","jid":"u@d"}
 * Usage: xmpp_probe CONFIG.json NODE_ID [CAPS]   (IPOP_LOG=debug|trace) */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "error.h"
#include "log.h"
#include "muc.h"
#include "pep.h"
#include "xmpp.h"
#include "xmpp_internal.h"

struct probe {
  uv_loop_t *loop;
  struct xmpp_client *c;
  uv_pipe_t in;
  uv_signal_t sigterm, sigint;
  char line[65536];
  size_t len;
  bool quitting;
};

static void emit(json_t *o)
{
  char *s = json_dumps(o, JSON_COMPACT);
  if (s) {
    printf("%s\n", s);
    fflush(stdout);
    free(s);
  }
  json_decref(o);
}

static void on_state(struct xmpp_client *c, enum xmpp_state st,
                     const char *reason, void *ctx)
{
  emit(json_pack("{s:s, s:s, s:s?, s:s}", "event", "state", "state",
                 xmpp_state_name(st), "reason", reason, "jid",
                 xmpp_client_jid(c)));
}

static void on_roster(struct xmpp_client *c, const struct xmpp_roster_item *it,
                      bool full, void *ctx)
{
  if (!it) {
    emit(json_pack("{s:s}", "event", "roster_done"));
    return;
  }
  json_t *g = json_array();
  for (size_t i = 0; i < it->ngroups; i++)
    json_array_append_new(g, json_string(it->groups[i]));
  emit(json_pack("{s:s, s:s, s:s, s:o, s:b}", "event", "roster", "jid",
                 it->jid, "subscription",
                 xmpp_subscription_name(it->subscription), "groups", g,
                 "full", full));
}

static void on_presence(struct xmpp_client *c, const struct xmpp_presence *p,
                        void *ctx)
{
  emit(json_pack("{s:s, s:s, s:b, s:s?, s:s?}", "event", "presence", "from",
                 p->from, "available", p->available, "node_id", p->node_id,
                 "caps", p->caps));
}

static void on_signal(struct xmpp_client *c, const struct xmpp_signal *s,
                      void *ctx)
{
  emit(json_pack("{s:s, s:s, s:s, s:s, s:s%}", "event", "signal", "from",
                 s->from, "type", s->type, "id", s->id, "payload", s->payload,
                 s->payload_len));
}

static void on_pep(struct xmpp_client *c, const struct xmpp_pep_event *ev, void *ctx)
{
  static const char *const kinds[] = { "?", "items", "retract", "list", "error" };
  json_t *items = json_array(), *retracted = json_array();
  for (size_t i = 0; i < ev->n; i++)
    json_array_append_new(items, json_pack("{s:s, s:s, s:s?}", "node_id",
                                           ev->items[i].node_id, "fingerprint",
                                           ev->items[i].fingerprint, "caps",
                                           ev->items[i].caps));
  for (size_t i = 0; i < ev->n_retracted; i++)
    json_array_append_new(retracted, json_string(ev->retracted[i]));
  emit(json_pack("{s:s, s:s, s:s, s:o, s:o, s:s?}", "event", "pep", "kind",
                 kinds[ev->kind <= 4 ? ev->kind : 0], "from", ev->from, "items", items,
                 "retracted", retracted, "condition", ev->condition));
}

static void on_result(struct xmpp_client *c, const struct xmpp_result *r,
                      void *ctx)
{
  emit(json_pack("{s:s, s:s, s:s?, s:s?, s:i, s:s, s:s?, s:s?}", "event",
                 "result", "op", xmpp_op_name(r->op), "room", r->room, "jid",
                 r->jid, "error", r->error,
                 "error_name", r->error ? ipop_err_name(r->error) : "",
                 "condition", r->condition, "text", r->text));
}

static void on_blocklist(struct xmpp_client *c,
                         const struct xmpp_blocklist_event *ev, void *ctx)
{
  json_t *a = json_array();
  for (size_t i = 0; i < ev->n; i++)
    json_array_append_new(a, json_string(ev->jids[i]));
  emit(json_pack("{s:s, s:o, s:b, s:b}", "event", "blocklist", "jids", a,
                 "blocked", ev->blocked, "full", ev->full));
}

static void on_muc_self(struct xmpp_client *c, const struct xmpp_muc_self *ev,
                        void *ctx)
{
  static const char *const st[] = { "?", "joined", "failed", "left" };
  emit(json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s?, s:s?}",
                 "event", "muc_self", "room", ev->room, "nick", ev->nick,
                 "state", st[ev->state <= 3 ? ev->state : 0], "created",
                 ev->created, "affiliation",
                 xmpp_muc_affiliation_name(ev->affiliation), "role",
                 xmpp_muc_role_name(ev->role), "reason",
                 xmpp_muc_reason_name(ev->reason), "condition", ev->condition,
                 "text", ev->text));
}

static void on_muc_occupant(struct xmpp_client *c,
                            const struct xmpp_muc_occupant *o, void *ctx)
{
  emit(json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s, s:b, s:s, s:s?, s:s?}",
                 "event", "occupant", "room", o->room, "nick", o->nick, "jid",
                 o->jid, "affiliation",
                 xmpp_muc_affiliation_name(o->affiliation), "role",
                 xmpp_muc_role_name(o->role), "available", o->available,
                 "reason", xmpp_muc_reason_name(o->reason), "node_id",
                 o->node_id, "caps", o->caps));
}

static void on_muc_invite(struct xmpp_client *c,
                          const struct xmpp_muc_invite *inv, void *ctx)
{
  emit(json_pack("{s:s, s:s, s:s, s:s, s:b}", "event", "invite", "room",
                 inv->room, "from", inv->from, "reason", inv->reason,
                 "direct", inv->direct));
}

static void on_muc_room_info(struct xmpp_client *c,
                             const struct xmpp_muc_room_info *i, void *ctx)
{
  emit(json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b}", "event",
                 "room_info", "room", i->room, "name", i->name, "description",
                 i->description, "members_only", i->members_only,
                 "persistent", i->persistent, "non_anonymous",
                 i->non_anonymous, "hidden", i->hidden, "password_protected",
                 i->password_protected));
}

static void on_muc_members(struct xmpp_client *c,
                           const struct xmpp_muc_members *m, void *ctx)
{
  json_t *a = json_array();
  for (size_t i = 0; i < m->n; i++)
    json_array_append_new(a, json_string(m->jids[i]));
  emit(json_pack("{s:s, s:s, s:s, s:o}", "event", "members", "room", m->room,
                 "affiliation", xmpp_muc_affiliation_name(m->affiliation),
                 "jids", a));
}

static enum xmpp_muc_affiliation aff_arg(const char *s)
{
  if (!s) return XMPP_AFF_MEMBER;
  if (strcmp(s, "none") == 0) return XMPP_AFF_NONE;
  if (strcmp(s, "outcast") == 0) return XMPP_AFF_OUTCAST;
  if (strcmp(s, "admin") == 0) return XMPP_AFF_ADMIN;
  if (strcmp(s, "owner") == 0) return XMPP_AFF_OWNER;
  if (strcmp(s, "member") == 0) return XMPP_AFF_MEMBER;
  return (enum xmpp_muc_affiliation)99;  /* invalid on purpose */
}

/* The group/blocking commands; false if cmd is not one of them. */
static bool muc_command(struct probe *p, const char *cmd, json_t *o)
{
#define S(k) json_string_value(json_object_get(o, k))
  int r;
  if (strcmp(cmd, "service") == 0) {
    r = xmpp_muc_set_service(p->c, S("service"));
  } else if (strcmp(cmd, "discover") == 0) {
    r = xmpp_muc_discover(p->c);
  } else if (strcmp(cmd, "create") == 0) {
    r = xmpp_muc_create(p->c, S("room"), S("nick"), S("name"), S("desc"));
  } else if (strcmp(cmd, "join") == 0) {
    r = xmpp_muc_join(p->c, S("room"), S("nick"));
  } else if (strcmp(cmd, "leave") == 0) {
    r = xmpp_muc_leave(p->c, S("room"));
  } else if (strcmp(cmd, "room_info") == 0) {
    r = xmpp_muc_room_info(p->c, S("room"));
  } else if (strcmp(cmd, "invite") == 0) {
    r = xmpp_muc_invite(p->c, S("room"), S("jid"), S("reason"));
  } else if (strcmp(cmd, "affiliation") == 0) {
    r = xmpp_muc_set_affiliation(p->c, S("room"), S("jid"), aff_arg(S("aff")),
                                 S("reason"));
  } else if (strcmp(cmd, "members") == 0) {
    r = xmpp_muc_get_affiliations(p->c, S("room"), aff_arg(S("aff")));
  } else if (strcmp(cmd, "block") == 0) {
    r = xmpp_block_add(p->c, S("jid"));
  } else if (strcmp(cmd, "unblock") == 0) {
    r = xmpp_block_remove(p->c, S("jid"));
  } else if (strcmp(cmd, "publish") == 0) {
    r = xmpp_pep_publish(p->c, S("fingerprint"));
  } else if (strcmp(cmd, "pep_fetch") == 0) {
    r = xmpp_pep_fetch(p->c, S("jid"));
  } else {
    return false;
  }
  emit(json_pack("{s:s, s:s, s:i, s:s, s:s}", "event", "called", "cmd", cmd,
                 "result", r, "error", r ? ipop_err_name(r) : "", "service",
                 xmpp_muc_service(p->c)));
  return true;
#undef S
}

static void print_counters(struct probe *p)
{
  struct xmpp_counters k;
  xmpp_client_counters(p->c, &k);
  emit(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "event",
                 "counters", "muc_dropped", (json_int_t)k.muc_dropped,
                 "stanzas_skipped", (json_int_t)k.stanzas_skipped,
                 "pep_dropped", (json_int_t)k.pep_dropped,
                 "reconnects", (json_int_t)k.reconnects,
                 "bad_signals", (json_int_t)k.bad_signals,
                 "signals_in", (json_int_t)k.signals_in,
                 "signals_out", (json_int_t)k.signals_out,
                 "stream_errors", (json_int_t)k.stream_errors,
                 "ping_timeouts", (json_int_t)k.ping_timeouts));
}

static void closed(uv_handle_t *h) {}

static void quit(struct probe *p)
{
  if (p->quitting)
    return;
  p->quitting = true;
  xmpp_client_free(p->c);
  uv_close((uv_handle_t *)&p->in, closed);
  uv_close((uv_handle_t *)&p->sigterm, closed);
  uv_close((uv_handle_t *)&p->sigint, closed);
}

static void command(struct probe *p, const char *line)
{
  json_error_t je;
  json_t *o = json_loads(line, 0, &je);
  const char *cmd = o ? json_string_value(json_object_get(o, "cmd")) : NULL;
  if (!cmd) {
    emit(json_pack("{s:s, s:s}", "event", "error", "error", "bad command"));
  } else if (strcmp(cmd, "send") == 0) {
    const char *to = json_string_value(json_object_get(o, "to"));
    const char *type = json_string_value(json_object_get(o, "type"));
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *pl = json_string_value(json_object_get(o, "payload"));
    int r = xmpp_client_send_signal(p->c, to, type, id, pl ? pl : "",
                                    pl ? strlen(pl) : 0);
    emit(json_pack("{s:s, s:i, s:s}", "event", "sent", "result", r, "error",
                   r ? ipop_err_name(r) : ""));
  } else if (strcmp(cmd, "raw") == 0) {
    const char *xml = json_string_value(json_object_get(o, "xml"));
    int r = xml ? xmpp__client_send_raw(p->c, xml, strlen(xml)) : IPOP_EINVAL;
    emit(json_pack("{s:s, s:i}", "event", "sent_raw", "result", r));
  } else if (strcmp(cmd, "deep") == 0) {
    const char *to = json_string_value(json_object_get(o, "to"));
    json_int_t depth = json_integer_value(json_object_get(o, "depth"));
    json_int_t count = json_integer_value(json_object_get(o, "count"));
    int r = IPOP_EINVAL;
    for (json_int_t c = 0; c < (count > 0 ? count : 1) && c < 10000 &&
         to && strlen(to) < 1024 && depth > 0 && depth <= 100000; c++) {
      size_t cap = 2048 + (size_t)depth * 8;
      char *buf = malloc(cap);
      if (buf) {
        size_t n = (size_t)snprintf(buf, cap, "<message to='%s' type='headline'>", to);
        for (json_int_t i = 0; i < depth; i++)
          n += (size_t)snprintf(buf + n, cap - n, "<x>");
        for (json_int_t i = 0; i < depth; i++)
          n += (size_t)snprintf(buf + n, cap - n, "</x>");
        n += (size_t)snprintf(buf + n, cap - n, "</message>");
        r = xmpp__client_send_raw(p->c, buf, n);
        free(buf);
      }
    }
    emit(json_pack("{s:s, s:i}", "event", "sent_raw", "result", r));
  } else if (strcmp(cmd, "wide") == 0 || strcmp(cmd, "many") == 0 ||
             strcmp(cmd, "text") == 0) {
    /* One hostile stanza: n attributes on one element, n children of one
     * element, or n bytes of text in a body. */
    const char *to = json_string_value(json_object_get(o, "to"));
    json_int_t n = json_integer_value(json_object_get(o, "n"));
    int r = IPOP_EINVAL;
    if (to && strlen(to) < 1024 && n > 0 && n <= 1000000) {
      struct sbuf b;
      sbuf_init(&b);
      sbuf_printf(&b, "<message to='%s' type='headline'>", to);
      if (strcmp(cmd, "wide") == 0) {
        sbuf_adds(&b, "<x");
        for (json_int_t i = 0; i < n; i++)
          sbuf_printf(&b, " a%lld='v'", (long long)i);
        sbuf_adds(&b, "/>");
      } else if (strcmp(cmd, "many") == 0) {
        sbuf_adds(&b, "<x>");
        for (json_int_t i = 0; i < n; i++)
          sbuf_adds(&b, "<i/>");
        sbuf_adds(&b, "</x>");
      } else {
        sbuf_adds(&b, "<body>");
        for (json_int_t i = 0; i < n; i++)
          sbuf_adds(&b, "b");
        sbuf_adds(&b, "</body>");
      }
      sbuf_adds(&b, "</message>");
      r = b.oom ? IPOP_ENOMEM : xmpp__client_send_raw(p->c, b.data, b.len);
      sbuf_free(&b);
    }
    emit(json_pack("{s:s, s:i}", "event", "sent_raw", "result", r));
  } else if (strcmp(cmd, "counters") == 0) {
    print_counters(p);
  } else if (strcmp(cmd, "caps") == 0) {
    xmpp_client_set_caps(p->c, json_string_value(json_object_get(o, "caps")));
  } else if (strcmp(cmd, "quit") == 0) {
    quit(p);
  } else if (muc_command(p, cmd, o)) {
    /* done */
  } else {
    emit(json_pack("{s:s, s:s}", "event", "error", "error", "unknown command"));
  }
  json_decref(o);
}

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
  static char buf[65536];
  *b = uv_buf_init(buf, sizeof(buf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  struct probe *p = s->data;
  if (n < 0) {
    quit(p);
    return;
  }
  for (ssize_t i = 0; i < n; i++) {
    char ch = b->base[i];
    if (ch == '\n') {
      p->line[p->len] = '\0';
      if (p->len)
        command(p, p->line);
      p->len = 0;
      if (p->quitting)
        return;
    } else if (p->len < sizeof(p->line) - 1) {
      p->line[p->len++] = ch;
    }
  }
}

static void on_sig(uv_signal_t *s, int signum)
{
  quit(s->data);
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: xmpp_probe CONFIG.json NODE_ID [CAPS]\n");
    return 2;
  }
  const char *lvl = getenv("IPOP_LOG");
  int level = lvl ? ipop_log_level_parse(lvl) : IPOP_LOG_INFO;
  ipop_log_init("xmpp_probe", level < 0 ? IPOP_LOG_INFO : level);
  json_error_t je;
  json_t *root = json_load_file(argv[1], 0, &je);
  if (!root) {
    fprintf(stderr, "%s: %s\n", argv[1], je.text);
    return 2;
  }
  struct xmpp_config cfg;
  struct jb_error err;
  if (jb_decode(&xmpp_config_schema, root, &cfg, "Xmpp", &err) != 0) {
    fprintf(stderr, "config: %s\n", err.msg);
    json_decref(root);
    return 2;
  }
  json_decref(root);

  static struct probe p;
  p.loop = uv_default_loop();
  struct xmpp_callbacks cbs = { .on_state = on_state, .on_roster = on_roster,
                                .on_presence = on_presence,
                                .on_signal = on_signal,
                                .on_result = on_result,
                                .on_pep = on_pep,
                                .on_blocklist = on_blocklist,
                                .on_muc_self = on_muc_self,
                                .on_muc_occupant = on_muc_occupant,
                                .on_muc_invite = on_muc_invite,
                                .on_muc_room_info = on_muc_room_info,
                                .on_muc_members = on_muc_members };
  char why[256];
  int r = xmpp_client_new(p.loop, &cfg, argv[2], argc > 3 ? argv[3] : NULL,
                          &cbs, &p, &p.c, why, sizeof(why));
  if (r) {
    fprintf(stderr, "xmpp_client_new: %s: %s\n", ipop_strerror(r), why);
    return 1;
  }
  uv_pipe_init(p.loop, &p.in, 0);
  p.in.data = &p;
  /* Commands come from a pipe or FIFO; anything else (/dev/null, a file)
   * cannot be polled by libuv and is ignored. */
  if (uv_guess_handle(0) == UV_NAMED_PIPE && uv_pipe_open(&p.in, 0) == 0)
    uv_read_start((uv_stream_t *)&p.in, alloc_cb, read_cb);
  uv_signal_init(p.loop, &p.sigterm);
  uv_signal_init(p.loop, &p.sigint);
  p.sigterm.data = p.sigint.data = &p;
  uv_signal_start(&p.sigterm, on_sig, SIGTERM);
  uv_signal_start(&p.sigint, on_sig, SIGINT);
  xmpp_client_start(p.c);
  uv_run(p.loop, UV_RUN_DEFAULT);
  r = uv_loop_close(p.loop);
  ipop_log_close();
  return r == 0 ? 0 : 3;
}
