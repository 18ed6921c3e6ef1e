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

struct xmpp_stanza *xmpp_stanza_new(const char *name, const char *ns)
{
  struct xmpp_stanza *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->name = strdup(name);
  s->ns = strdup(ns);
  if (!s->name || !s->ns) {
    xmpp_stanza_free(s);
    return NULL;
  }
  return s;
}

int xmpp_stanza_set_attr(struct xmpp_stanza *s, const char *name,
                         const char *value)
{
  char *v = strdup(value);
  if (!v)
    return -1;
  for (size_t i = 0; i < s->nattrs; i++)
    if (strcmp(s->attrs[i].name, name) == 0) {
      free(s->attrs[i].value);
      s->attrs[i].value = v;
      return 0;
    }
  char *n = strdup(name);
  struct xmpp_attr *a = realloc(s->attrs, (s->nattrs + 1) * sizeof(*a));
  if (!n || !a) {
    free(n);
    free(v);
    if (a)
      s->attrs = a;
    return -1;
  }
  s->attrs = a;
  a[s->nattrs].name = n;
  a[s->nattrs].value = v;
  s->nattrs++;
  return 0;
}

void xmpp_stanza_add_child(struct xmpp_stanza *parent,
                           struct xmpp_stanza *child)
{
  child->parent = parent;
  if (parent->last_child)
    parent->last_child->next = child;
  else
    parent->children = child;
  parent->last_child = child;
  parent->nchildren++;
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
  size_t cur_bytes;            /* bytes of the stanza (about as on the wire) */
  size_t tree_bytes;           /* memory held by top */
  const char *error;           /* stream error condition, sticky */
  const char *skip;            /* why the stanza being read is skipped */
  char skip_why[96];
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

/* The attributes a skipped stanza keeps (its shell): enough to know who
 * sent it and to answer an iq. */
static bool routing_attr(const xmlChar *name, const xmlChar *prefix)
{
  static const char *const keep[] = { "from", "to", "id", "type" };
  if (prefix)
    return false;
  for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
    if (strcmp((const char *)name, keep[i]) == 0)
      return true;
  return false;
}

/* Bytes an element costs against max_stanza: what it holds in memory
 * when kept (kept), about what its start tag took on the wire when
 * skipped. */
static size_t elem_cost(const xmlChar *localname, const xmlChar *uri,
                        int nb_attributes, const xmlChar **attributes,
                        bool kept)
{
  size_t n = strlen((const char *)localname) +
             (kept ? sizeof(struct xmpp_stanza) + (uri ? strlen((const char *)uri) : 0) : 2);
  for (int i = 0; i < nb_attributes; i++) {
    const xmlChar **a = attributes + 5 * i;
    n += (kept ? sizeof(struct xmpp_attr) : 4) + strlen((const char *)a[0]) +
         (a[1] ? strlen((const char *)a[1]) + 1 : 0) + (size_t)(a[4] - a[3]);
  }
  return n;
}

static struct xmpp_stanza *make_elem(const xmlChar *localname,
                                     const xmlChar *uri, int nb_attributes,
                                     const xmlChar **attributes,
                                     bool routing_only)
{
  struct xmpp_stanza *e = calloc(1, sizeof(*e));
  if (!e)
    return NULL;
  e->name = dups(localname);
  e->ns = dups(uri);
  if (!e->name || !e->ns)
    goto oom;
  if (nb_attributes > 0) {
    e->attrs = calloc((size_t)nb_attributes, sizeof(*e->attrs));
    if (!e->attrs)
      goto oom;
  }
  for (int i = 0; i < nb_attributes; i++) {
    const xmlChar **a = attributes + 5 * i;
    size_t vlen = (size_t)(a[4] - a[3]);
    if (routing_only && !routing_attr(a[0], a[1]))
      continue;
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
  }
  return e;
oom:
  xmpp_stanza_free(e);
  return NULL;
}

/* Start skipping the stanza being read: keep only its top element with
 * its routing attributes (the shell), free the rest.  The stanza is then
 * read to its end without being stored, and reported to cbs.skipped. */
static void skip_stanza(struct xmpp_parser *p, const char *what,
                        const char *elem, unsigned long limit)
{
  snprintf(p->skip_why, sizeof(p->skip_why), "%s of <%.32s/> over the limit of %lu",
           what, elem, limit);
  p->skip = p->skip_why;
  p->cur = NULL;
  struct xmpp_stanza *t = p->top;
  if (!t)
    return;
  xmpp_stanza_free(t->children);
  t->children = t->last_child = NULL;
  t->nchildren = 0;
  free(t->text);
  t->text = NULL;
  t->text_len = 0;
  size_t kept = 0;
  for (size_t i = 0; i < t->nattrs; i++) {
    struct xmpp_attr *a = &t->attrs[i];
    if (routing_attr((const xmlChar *)a->name, NULL)) {
      t->attrs[kept++] = *a;
    } else {
      free(a->name);
      free(a->value);
    }
  }
  t->nattrs = kept;
}

/* Every byte of a stanza counts, kept or skipped: a stanza over
 * max_stanza breaks the stream. */
static void count_bytes(struct xmpp_parser *p, size_t n)
{
  p->cur_bytes += n;
  if (p->cur_bytes > p->max_stanza)
    fail(p, "policy-violation");
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
  bool wide = nb_attributes > XMPP_ATTRS_MAX ||
              nb_namespaces > XMPP_ATTRS_MAX;
  if (p->depth == 0 && wide) {
    fail(p, "policy-violation");  /* the stream root itself */
    return;
  }
  if (p->depth == 0) {
    if (strcmp((const char *)localname, "stream") != 0 || !uri ||
        strcmp((const char *)uri, XMPP_NS_STREAM) != 0) {
      fail(p, "invalid-namespace");
      return;
    }
    struct xmpp_stanza *root = make_elem(localname, uri, nb_attributes,
                                         attributes, false);
    if (!root) {
      fail(p, "resource-constraint");
      return;
    }
    p->depth = 1;
    int r = p->cbs.stream_open ? p->cbs.stream_open(p->ctx, root) : 0;
    xmpp_stanza_free(root);
    if (r) {
      p->stopped = true;
      xmlStopParser(p->ctxt);
    }
    return;
  }
  p->depth++;
  count_bytes(p, elem_cost(localname, uri, nb_attributes, attributes, false));
  if (p->error || p->skip)
    return;
  bool top = p->depth == 2;
  size_t mem = elem_cost(localname, uri, nb_attributes, attributes, true);
  if (!top && p->depth - 2 >= p->max_depth)
    skip_stanza(p, "nesting", (const char *)localname,
                (unsigned long)p->max_depth);
  else if (wide)
    skip_stanza(p, "attributes", (const char *)localname, XMPP_ATTRS_MAX);
  else if (!top && p->cur->nchildren >= XMPP_CHILDREN_MAX)
    skip_stanza(p, "children", p->cur->name, XMPP_CHILDREN_MAX);
  else if (!top && p->tree_bytes + mem > p->max_stanza)
    skip_stanza(p, "memory", p->top->name, p->max_stanza);
  if (p->skip && !top)
    return;
  p->tree_bytes += mem;
  /* A top element that is itself too wide becomes the shell at once. */
  struct xmpp_stanza *e = make_elem(localname, uri, nb_attributes,
                                    attributes, p->skip != NULL);
  if (!e) {
    fail(p, "resource-constraint");
    return;
  }
  if (top) {
    p->top = e;
  } else {
    xmpp_stanza_add_child(p->cur, e);
  }
  p->cur = p->skip ? NULL : e;
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
    const char *skip = p->skip;
    p->top = NULL;
    p->cur = NULL;
    p->skip = NULL;
    p->cur_bytes = p->tree_bytes = 0;
    int r = 0;
    if (skip)
      r = p->cbs.skipped ? p->cbs.skipped(p->ctx, st, skip) : 0;
    else if (p->cbs.stanza)
      r = p->cbs.stanza(p->ctx, st);
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
  if (p->error || p->stopped || len <= 0 || !p->top)
    return;  /* whitespace between stanzas is not kept */
  count_bytes(p, (size_t)len);
  if (p->error || p->skip || !p->cur)
    return;
  struct xmpp_stanza *e = p->cur;
  if (e->text_len + (size_t)len > XMPP_TEXT_MAX) {
    skip_stanza(p, "text", e->name, XMPP_TEXT_MAX);
    return;
  }
  if (p->tree_bytes + (size_t)len > p->max_stanza) {
    skip_stanza(p, "memory", p->top->name, p->max_stanza);
    return;
  }
  p->tree_bytes += (size_t)len;
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
