/* libFuzzer target for the XMPP stream parser alone (controller/xmpp/
 * stanza.c): bytes from the network to stanza trees, split at arbitrary
 * points.  The input is fed after a stream header twice, once whole and
 * once in pieces whose lengths come from the input's first bytes; both
 * runs must report the same stanzas and skipped stanzas (or, when one of
 * them fails, the shorter report must begin the longer: libxml2 may see
 * an unfinished token at a different moment).  Each stanza must keep the
 * limits the parser promises.  Nothing may crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stanza.h"
#include "xmpp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR "<stream:stream xmlns='jabber:client' " \
            "xmlns:stream='http://etherx.jabber.org/streams' id='s1' " \
            "from='xmpp.test' version='1.0'>"

enum { DEPTH = 8 };

struct run {
  struct sbuf out;   /* one line per event */
  size_t max_stanza;
  int opens;
};

/* The limits every delivered stanza keeps. */
static void check_tree(const struct xmpp_stanza *s, unsigned level)
{
  if (level > DEPTH || s->nattrs > XMPP_ATTRS_MAX ||
      s->nchildren > XMPP_CHILDREN_MAX || s->text_len > XMPP_TEXT_MAX ||
      (s->text && strlen(s->text) > s->text_len) || (!s->text && s->text_len))
    abort();
  size_t n = 0;
  for (const struct xmpp_stanza *c = s->children; c; c = c->next) {
    if (c->parent != s)
      abort();
    check_tree(c, level + 1);
    n++;
  }
  if (n != s->nchildren)
    abort();
}

static int on_open(void *ctx, const struct xmpp_stanza *root)
{
  struct run *r = ctx;
  r->opens++;
  sbuf_adds(&r->out, "OPEN\n");
  return 0;
}

static int on_stanza(void *ctx, struct xmpp_stanza *st)
{
  struct run *r = ctx;
  check_tree(st, 1);
  xmpp_stanza_serialize(st, &r->out, XMPP_NS_CLIENT);
  if (r->out.oom)
    abort();
  sbuf_adds(&r->out, "\n");
  return 0;
}

static int on_skipped(void *ctx, struct xmpp_stanza *shell, const char *why)
{
  struct run *r = ctx;
  if (shell->children || shell->text || shell->nattrs > 4 || !why || !*why)
    abort();
  for (size_t i = 0; i < shell->nattrs; i++) {
    const char *n = shell->attrs[i].name;
    if (strcmp(n, "from") && strcmp(n, "to") && strcmp(n, "id") && strcmp(n, "type"))
      abort();
  }
  sbuf_adds(&r->out, "SKIP ");
  xmpp_stanza_serialize(shell, &r->out, XMPP_NS_CLIENT);
  sbuf_printf(&r->out, " %s\n", why);
  return 0;
}

static void on_close(void *ctx)
{
  struct run *r = ctx;
  sbuf_adds(&r->out, "CLOSE\n");
}

static const struct xmpp_parser_cbs cbs = { on_open, on_stanza, on_close,
                                            on_skipped };

/* Feed data in pieces of the given lengths (0: the rest in one piece).
 * Returns the parser's last result. */
static int run(struct run *r, const uint8_t *data, size_t size,
               const uint8_t *cuts, size_t ncuts)
{
  struct xmpp_parser *p = xmpp_parser_new(&cbs, r, r->max_stanza, DEPTH);
  if (!p)
    abort();
  int rc = xmpp_parser_feed(p, HDR, strlen(HDR));
  size_t off = 0, i = 0;
  while (rc == 0 && off < size) {
    size_t n = i < ncuts && cuts[i] ? cuts[i] : size - off;
    if (n > size - off)
      n = size - off;
    rc = xmpp_parser_feed(p, (const char *)data + off, n);
    off += n;
    i++;
  }
  if (rc < 0) {
    const char *e = xmpp_parser_error(p);
    if (!e || (strcmp(e, "not-well-formed") && strcmp(e, "restricted-xml") &&
               strcmp(e, "policy-violation") && strcmp(e, "invalid-namespace") &&
               strcmp(e, "resource-constraint")))
      abort();
    /* Refused from now on. */
    if (xmpp_parser_feed(p, "<a/>", 4) >= 0)
      abort();
  }
  xmpp_parser_free(p);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* Byte 0: the stanza limit (small, to reach it often, or the default);
   * bytes 1..8: piece lengths for the split run; the rest: the stream. */
  if (size < 9)
    return 0;
  size_t max_stanza = data[0] & 1 ? 2048 : XMPP_STANZA_MAX_DEFAULT;
  const uint8_t *cuts = data + 1;
  data += 9;
  size -= 9;

  struct run whole = { .max_stanza = max_stanza }, split = whole;
  sbuf_init(&whole.out);
  sbuf_init(&split.out);
  int rw = run(&whole, data, size, NULL, 0);
  int rs = run(&split, data, size, cuts, 8);
  const char *a = whole.out.data ? whole.out.data : "";
  const char *b = split.out.data ? split.out.data : "";
  if (rw >= 0 && rs >= 0) {
    if (rw != rs || strcmp(a, b) != 0)
      abort();
  } else {
    size_t n = whole.out.len < split.out.len ? whole.out.len : split.out.len;
    if (memcmp(a, b, n) != 0)
      abort();
  }
  sbuf_free(&whole.out);
  sbuf_free(&split.out);
  return 0;
}
