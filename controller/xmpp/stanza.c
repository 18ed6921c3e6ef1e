#include "stanza.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "xmpp.h"  /* limits */

/* ---------------------------------------------------------------- sbuf */

void sbuf_init(struct sbuf *b)
{
  memset(b, 0, sizeof(*b));
}

void sbuf_free(struct sbuf *b)
{
  free(b->data);
  sbuf_init(b);
}

void sbuf_reset(struct sbuf *b)
{
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

static bool reserve(struct sbuf *b, size_t extra)
{
  if (b->oom)
    return false;
  if (b->len + extra + 1 <= b->cap)
    return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1)
    cap *= 2;
  char *n = realloc(b->data, cap);
  if (!n) {
    b->oom = true;
    return false;
  }
  b->data = n;
  b->cap = cap;
  return true;
}

void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
  if (!reserve(b, n))
    return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void sbuf_adds(struct sbuf *b, const char *s)
{
  sbuf_add(b, s, strlen(s));
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !reserve(b, (size_t)n))
    return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void sbuf_esc(struct sbuf *b, const char *s, size_t n)
{
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    const char *rep = NULL;
    switch (s[i]) {
    case '&': rep = "&amp;"; break;
    case '<': rep = "&lt;"; break;
    case '>': rep = "&gt;"; break;
    case '"': rep = "&quot;"; break;
    case '\'': rep = "&apos;"; break;
    default: break;
    }
    if (rep) {
      sbuf_add(b, s + start, i - start);
      sbuf_adds(b, rep);
      start = i + 1;
    }
  }
  sbuf_add(b, s + start, n - start);
}

void sbuf_escs(struct sbuf *b, const char *s)
{
  sbuf_esc(b, s, strlen(s));
}

/* ---------------------------------------------------------------- tree */

void xmpp_stanza_free(struct xmpp_stanza *s)
{
  while (s) {
    struct xmpp_stanza *next = s->next;
    xmpp_stanza_free(s->children);
    for (size_t i = 0; i < s->nattrs; i++) {
      free(s->attrs[i].name);
      free(s->attrs[i].value);
    }
    free(s->attrs);
    free(s->name);
    free(s->ns);
    free(s->text);
    free(s);
    s = next;
  }
}

const char *xmpp_stanza_attr(const struct xmpp_stanza *s, const char *name)
{
  for (size_t i = 0; s && i < s->nattrs; i++)
    if (strcmp(s->attrs[i].name, name) == 0)
      return s->attrs[i].value;
  return NULL;
}

struct xmpp_stanza *xmpp_stanza_child(const struct xmpp_stanza *s,
                                      const char *name, const char *ns)
{
  for (struct xmpp_stanza *c = s ? s->children : NULL; c; c = c->next)
    if (strcmp(c->name, name) == 0 && (!ns || strcmp(c->ns, ns) == 0))
      return c;
  return NULL;
}

struct xmpp_stanza *xmpp_stanza_child_ns(const struct xmpp_stanza *s,
                                         const char *ns)
{
  for (struct xmpp_stanza *c = s ? s->children : NULL; c; c = c->next)
    if (strcmp(c->ns, ns) == 0)
      return c;
  return NULL;
}

void xmpp_stanza_serialize(const struct xmpp_stanza *s, struct sbuf *out,
                           const char *parent_ns)
{
  sbuf_printf(out, "<%s", s->name);
  if (!parent_ns || strcmp(parent_ns, s->ns) != 0) {
    sbuf_adds(out, " xmlns='");
    sbuf_escs(out, s->ns);
    sbuf_adds(out, "'");
  }
  for (size_t i = 0; i < s->nattrs; i++) {
    sbuf_printf(out, " %s='", s->attrs[i].name);
    sbuf_escs(out, s->attrs[i].value);
    sbuf_adds(out, "'");
  }
  if (!s->children && !s->text_len) {
    sbuf_adds(out, "/>");
    return;
  }
  sbuf_adds(out, ">");
  if (s->text_len)
    sbuf_esc(out, s->text, s->text_len);
  for (const struct xmpp_stanza *c = s->children; c; c = c->next)
    xmpp_stanza_serialize(c, out, s->ns);
  sbuf_printf(out, "</%s>", s->name);
}

/* -------------------------------------------------------------- parser */

struct xmpp_parser {
  xmlParserCtxtPtr ctxt;
  struct xmpp_parser_cbs cbs;
  void *ctx;
  size_t max_stanza;
  unsigned max_depth;
  unsigned depth;              /* 0 outside root, 1 inside <stream:stream> */
  struct xmpp_stanza *cur;     /* innermost open element of the stanza */
  struct xmpp_stanza *top;     /* stanza being built */
  size_t cur_bytes;            /* bytes held by top */
  const char *error;           /* stream error condition, sticky */
  bool stopped;                /* a callback asked to stop */
  bool closed;                 /* </stream:stream> seen */
};

static void fail(struct xmpp_parser *p, const char *cond)
{
  if (!p->error)
    p->error = cond;
  xmlStopParser(p->ctxt);
}

static char *dupn(const xmlChar *s, size_t n)
{
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

static char *dups(const xmlChar *s)
{
  return dupn(s ? s : (const xmlChar *)"", s ? strlen((const char *)s) : 0);
}

static struct xmpp_stanza *make_elem(struct xmpp_parser *p,
                                     const xmlChar *localname,
                                     const xmlChar *uri, int nb_attributes,
                                     const xmlChar **attributes)
{
  struct xmpp_stanza *e = calloc(1, sizeof(*e));
  if (!e)
    return NULL;
  e->name = dups(localname);
  e->ns = dups(uri);
  if (!e->name || !e->ns)
    goto oom;
  p->cur_bytes += sizeof(*e) + strlen(e->name) + strlen(e->ns);
  if (nb_attributes > 0) {
    e->attrs = calloc((size_t)nb_attributes, sizeof(*e->attrs));
    if (!e->attrs)
      goto oom;
  }
  for (int i = 0; i < nb_attributes; i++) {
    const xmlChar **a = attributes + 5 * i;
    size_t vlen = (size_t)(a[4] - a[3]);
    struct xmpp_attr *at = &e->attrs[e->nattrs];
    if (a[1]) {
      size_t n = strlen((const char *)a[1]) + 1 + strlen((const char *)a[0]);
      at->name = malloc(n + 1);
      if (at->name)
        snprintf(at->name, n + 1, "%s:%s", a[1], a[0]);
    } else {
      at->name = dups(a[0]);
    }
    at->value = dupn(a[3], vlen);
    e->nattrs++;
    if (!at->name || !at->value)
      goto oom;
    p->cur_bytes += sizeof(*at) + strlen(at->name) + vlen;
  }
  return e;
oom:
  xmpp_stanza_free(e);
  return NULL;
}

static void on_start(void *ud, const xmlChar *localname, const xmlChar *prefix,
                     const xmlChar *uri, int nb_namespaces,
                     const xmlChar **namespaces, int nb_attributes,
                     int nb_defaulted, const xmlChar **attributes)
{
  struct xmpp_parser *p = ud;
  if (p->error || p->stopped)
    return;
  if (prefix && !uri) {
    fail(p, "not-well-formed");  /* unbound prefix */
    return;
  }
  for (int i = 0; i < nb_attributes; i++)
    if (attributes[5 * i + 1] && !attributes[5 * i + 2]) {
      fail(p, "not-well-formed");
      return;
    }
  if (nb_attributes > XMPP_ATTRS_MAX ||
      nb_namespaces > XMPP_ATTRS_MAX) {
    fail(p, "policy-violation");
    return;
  }
  if (p->depth == 0) {
    if (strcmp((const char *)localname, "stream") != 0 || !uri ||
        strcmp((const char *)uri, XMPP_NS_STREAM) != 0) {
      fail(p, "invalid-namespace");
      return;
    }
    p->cur_bytes = 0;
    struct xmpp_stanza *root = make_elem(p, localname, uri, nb_attributes,
                                         attributes);
    if (!root) {
      fail(p, "resource-constraint");
      return;
    }
    p->depth = 1;
    int r = p->cbs.stream_open ? p->cbs.stream_open(p->ctx, root) : 0;
    xmpp_stanza_free(root);
    p->cur_bytes = 0;
    if (r) {
      p->stopped = true;
      xmlStopParser(p->ctxt);
    }
    return;
  }
  if (p->depth - 1 >= p->max_depth) {
    fail(p, "policy-violation");
    return;
  }
  struct xmpp_stanza *e = make_elem(p, localname, uri, nb_attributes,
                                    attributes);
  if (!e) {
    fail(p, "resource-constraint");
    return;
  }
  if (p->cur) {
    e->parent = p->cur;
    if (p->cur->last_child)
      p->cur->last_child->next = e;
    else
      p->cur->children = e;
    p->cur->last_child = e;
  } else {
    p->top = e;
  }
  p->cur = e;
  p->depth++;
  if (p->cur_bytes > p->max_stanza)
    fail(p, "policy-violation");
}

static void on_end(void *ud, const xmlChar *localname, const xmlChar *prefix,
                   const xmlChar *uri)
{
  struct xmpp_parser *p = ud;
  if (p->error || p->stopped)
    return;
  if (p->depth == 1) {
    p->depth = 0;
    p->closed = true;
    if (p->cbs.stream_close)
      p->cbs.stream_close(p->ctx);
    xmlStopParser(p->ctxt);
    p->stopped = true;
    return;
  }
  p->depth--;
  p->cur = p->cur ? p->cur->parent : NULL;
  if (p->depth == 1 && p->top) {
    struct xmpp_stanza *st = p->top;
    p->top = NULL;
    p->cur = NULL;
    p->cur_bytes = 0;
    int r = p->cbs.stanza ? p->cbs.stanza(p->ctx, st) : 0;
    xmpp_stanza_free(st);
    if (r) {
      p->stopped = true;
      xmlStopParser(p->ctxt);
    }
  }
}

static void on_chars(void *ud, const xmlChar *ch, int len)
{
  struct xmpp_parser *p = ud;
  if (p->error || p->stopped || !p->cur || len <= 0)
    return;
  struct xmpp_stanza *e = p->cur;
  p->cur_bytes += (size_t)len;
  if (p->cur_bytes > p->max_stanza) {
    fail(p, "policy-violation");
    return;
  }
  char *n = realloc(e->text, e->text_len + (size_t)len + 1);
  if (!n) {
    fail(p, "resource-constraint");
    return;
  }
  memcpy(n + e->text_len, ch, (size_t)len);
  e->text_len += (size_t)len;
  n[e->text_len] = '\0';
  e->text = n;
}

/* Everything RFC 6120 section 11.1 forbids: DTDs, entity declarations and
 * references to anything but the five predefined entities, comments and
 * processing instructions. */
static void on_internal_subset(void *ud, const xmlChar *name,
                               const xmlChar *eid, const xmlChar *sid)
{
  fail(ud, "restricted-xml");
}

static void on_entity_decl(void *ud, const xmlChar *name, int type,
                           const xmlChar *pid, const xmlChar *sid,
                           xmlChar *content)
{
  fail(ud, "restricted-xml");
}

static xmlEntityPtr on_get_entity(void *ud, const xmlChar *name)
{
  fail(ud, "restricted-xml");
  return NULL;
}

static void on_reference(void *ud, const xmlChar *name)
{
  fail(ud, "restricted-xml");
}

static void on_comment(void *ud, const xmlChar *value)
{
  fail(ud, "restricted-xml");
}

static void on_pi(void *ud, const xmlChar *target, const xmlChar *data)
{
  fail(ud, "restricted-xml");
}

static void on_serror(void *ud, xmlErrorPtr err)
{
  /* Errors are reported through xmpp_parser_feed(); keep libxml2 quiet. */
}

struct xmpp_parser *xmpp_parser_new(const struct xmpp_parser_cbs *cbs,
                                    void *ctx, size_t max_stanza,
                                    unsigned max_depth)
{
  struct xmpp_parser *p = calloc(1, sizeof(*p));
  if (!p)
    return NULL;
  xmlSAXHandler sax;
  memset(&sax, 0, sizeof(sax));
  sax.initialized = XML_SAX2_MAGIC;
  sax.startElementNs = on_start;
  sax.endElementNs = on_end;
  sax.characters = on_chars;
  sax.cdataBlock = on_chars;
  sax.ignorableWhitespace = on_chars;
  sax.internalSubset = on_internal_subset;
  sax.externalSubset = on_internal_subset;
  sax.entityDecl = on_entity_decl;
  sax.getEntity = on_get_entity;
  sax.getParameterEntity = on_get_entity;
  sax.reference = on_reference;
  sax.comment = on_comment;
  sax.processingInstruction = on_pi;
  sax.serror = on_serror;
  p->cbs = *cbs;
  p->ctx = ctx;
  p->max_stanza = max_stanza;
  p->max_depth = max_depth;
  p->ctxt = xmlCreatePushParserCtxt(&sax, p, NULL, 0, NULL);
  if (!p->ctxt) {
    free(p);
    return NULL;
  }
  /* No XML_PARSE_NOENT (entity substitution), no DTD loading, no network. */
  xmlCtxtUseOptions(p->ctxt, XML_PARSE_NONET);
  p->ctxt->replaceEntities = 0;
  p->ctxt->loadsubset = 0;
  p->ctxt->validate = 0;
  return p;
}

void xmpp_parser_free(struct xmpp_parser *p)
{
  if (!p)
    return;
  xmpp_stanza_free(p->top);
  if (p->ctxt) {
    if (p->ctxt->myDoc)
      xmlFreeDoc(p->ctxt->myDoc);
    xmlFreeParserCtxt(p->ctxt);
  }
  free(p);
}

const char *xmpp_parser_error(const struct xmpp_parser *p)
{
  return p->error;
}

int xmpp_parser_feed(struct xmpp_parser *p, const char *data, size_t len)
{
  if (p->error)
    return IPOP_EPARSE;
  if (p->stopped)
    return 1;
  while (len > 0) {
    size_t n = len < 4096 ? len : 4096;
    int r = xmlParseChunk(p->ctxt, data, (int)n, 0);
    if (p->error)
      return IPOP_EPARSE;
    if (p->stopped)
      return 1;
    if (r != 0 || !p->ctxt->wellFormed || !p->ctxt->nsWellFormed) {
      p->error = "not-well-formed";
      return IPOP_EPARSE;
    }
    /* Bytes libxml2 holds unparsed (e.g. a start tag still waiting for
     * its '>') count against the stanza limit as well. */
    if (p->ctxt->input) {
      size_t pending = (size_t)(p->ctxt->input->end - p->ctxt->input->cur);
      if (pending + p->cur_bytes > p->max_stanza) {
        p->error = "policy-violation";
        return IPOP_EPARSE;
      }
    }
    data += n;
    len -= n;
  }
  return 0;
}
