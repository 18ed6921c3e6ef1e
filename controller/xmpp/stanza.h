/* Stanza trees, a string builder with XML escaping, and the SAX push parser
 * that turns the byte stream of one <stream:stream> into stanzas. */
#ifndef IPOP_XMPP_STANZA_H
#define IPOP_XMPP_STANZA_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XMPP_NS_STREAM "http://etherx.jabber.org/streams"
#define XMPP_NS_CLIENT "jabber:client"

/* ---- growable string ---- */
struct sbuf {
  char *data;
  size_t len, cap;
  bool oom;   /* sticky: any failed append sets it */
};
void sbuf_init(struct sbuf *b);
void sbuf_free(struct sbuf *b);
void sbuf_reset(struct sbuf *b);
void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append s with & < > " ' escaped (usable in text and attributes). */
void sbuf_esc(struct sbuf *b, const char *s, size_t n);
void sbuf_escs(struct sbuf *b, const char *s);

/* ---- stanza tree ---- */
struct xmpp_attr {
  char *name;   /* local name, or "xml:lang" style prefix:name for xml: */
  char *value;
};

struct xmpp_stanza {
  char *name;                   /* local name */
  char *ns;                     /* namespace URI ("" if none) */
  struct xmpp_attr *attrs;
  size_t nattrs;
  struct xmpp_stanza *children, *last_child, *next, *parent;
  size_t nchildren;
  char *text;                   /* concatenated direct text content */
  size_t text_len;
};

void xmpp_stanza_free(struct xmpp_stanza *s);
const char *xmpp_stanza_attr(const struct xmpp_stanza *s, const char *name);
/* First child with this local name and namespace (ns NULL: any). */
struct xmpp_stanza *xmpp_stanza_child(const struct xmpp_stanza *s,
                                      const char *name, const char *ns);
/* First child in namespace ns (any name). */
struct xmpp_stanza *xmpp_stanza_child_ns(const struct xmpp_stanza *s,
                                         const char *ns);
/* Canonical serialization (xmlns on every element whose ns differs from
 * the parent's, attributes in document order). */
void xmpp_stanza_serialize(const struct xmpp_stanza *s, struct sbuf *out,
                           const char *parent_ns);

/* Building trees by hand (answers made up for skipped stanzas): NULL or
 * -1 when out of memory; a child is owned by its parent once added. */
struct xmpp_stanza *xmpp_stanza_new(const char *name, const char *ns);
int xmpp_stanza_set_attr(struct xmpp_stanza *s, const char *name,
                         const char *value);
void xmpp_stanza_add_child(struct xmpp_stanza *parent,
                           struct xmpp_stanza *child);

/* ---- stream parser ---- */
struct xmpp_parser_cbs {
  /* Root <stream:stream> opened; attrs of the root element. */
  int (*stream_open)(void *ctx, const struct xmpp_stanza *root);
  /* One complete top-level child.  The parser frees it after the call.
   * Return non-zero to stop parsing the rest of this feed (stream restart,
   * STARTTLS): the parser then refuses further input. */
  int (*stanza)(void *ctx, struct xmpp_stanza *st);
  void (*stream_close)(void *ctx);
  /* A stanza that went beyond a limit inside it (depth, attributes per
   * element, children per element, text per element) was read to its end
   * and dropped.  shell: its top-level element with only the attributes
   * from, to, id and type, no children and no text; why says which limit
   * it broke.  The parser frees shell after the call; the return value
   * means what it means for stanza(). */
  int (*skipped)(void *ctx, struct xmpp_stanza *shell, const char *why);
};

struct xmpp_parser;

struct xmpp_parser *xmpp_parser_new(const struct xmpp_parser_cbs *cbs,
                                    void *ctx, size_t max_stanza,
                                    unsigned max_depth);
void xmpp_parser_free(struct xmpp_parser *p);
/* Returns 0; 1 if a callback asked to stop; or IPOP_EPARSE with
 * xmpp_parser_error() naming the RFC 6120 stream error condition
 * ("not-well-formed", "restricted-xml", "policy-violation",
 * "invalid-namespace", "resource-constraint").  Only what breaks the
 * stream fails it: XML that is not well-formed, DTDs, entities, comments
 * and processing instructions, a stanza over max_stanza bytes (counted
 * as held in memory, skipped parts included, plus a token libxml2 still
 * buffers), too many attributes on the stream root.  A limit inside one
 * stanza (max_depth, XMPP_ATTRS_MAX, XMPP_CHILDREN_MAX, XMPP_TEXT_MAX)
 * skips that stanza: cbs->skipped. */
int xmpp_parser_feed(struct xmpp_parser *p, const char *data, size_t len);
const char *xmpp_parser_error(const struct xmpp_parser *p);

#endif
