/* STUN/TURN "host:port" entries to numeric addresses (resolve.h). */
#include "resolve.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "error.h"

#define EXPECTED "expected \"host:port\" or \"[ip6]:port\""

__attribute__((format(printf, 3, 4))) static int bad(char *why, size_t whylen, const char *fmt,
                                                     ...)
{
  if (why && whylen) {
    char m[RESOLVE_WHY_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    snprintf(why, whylen, EXPECTED ": %s", m);
  }
  return IPOP_EFIELD;
}

/* A DNS name as resolvers accept it: labels of 1..63 letters, digits, '-'
 * and '_' (seen in SRV-style names), separated by single dots, one
 * trailing dot allowed.  Anything else would only fail later, in the
 * thread pool, with a less helpful message. */
static int check_name(const char *h, size_t len, char *why, size_t whylen)
{
  if (len > RESOLVE_HOST_MAX + 1 || (len == RESOLVE_HOST_MAX + 1 && h[len - 1] != '.'))
    return bad(why, whylen, "host name longer than %d characters", RESOLVE_HOST_MAX);
  size_t label = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)h[i];
    if (ch == '.') {
      if (label == 0)
        return bad(why, whylen, "empty label in host name (\"..\" or a leading dot)");
      label = 0;
      continue;
    }
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '-' || ch == '_')) {
      if (ch > ' ' && ch < 0x7f)
        return bad(why, whylen, "character '%c' is not allowed in a host name", ch);
      return bad(why, whylen, "byte 0x%02x (space or control character) in host name", ch);
    }
    if (++label > 63)
      return bad(why, whylen, "a label of the host name is longer than 63 characters");
  }
  return 0;
}

int resolve_split(const char *entry, char *host, uint16_t *port, bool *numeric, char *why,
                  size_t whylen)
{
  const char *colon;
  size_t hlen;
  *port = 0;
  *numeric = false;
  host[0] = '\0';
  if (entry[0] == '\0')
    return bad(why, whylen, "empty");
  if (entry[0] == '[') {
    const char *end = strchr(entry, ']');
    if (!end)
      return bad(why, whylen, "'[' without ']'");
    hlen = (size_t)(end - entry - 1);
    if (end[1] != ':')
      return bad(why, whylen, "no \":port\" after ']'");
    if (hlen == 0 || hlen >= INET6_ADDRSTRLEN)
      return bad(why, whylen, "not an IPv6 address between '[' and ']'");
    memcpy(host, entry + 1, hlen);
    host[hlen] = '\0';
    struct in6_addr a6;
    if (inet_pton(AF_INET6, host, &a6) != 1) {
      host[0] = '\0';
      return bad(why, whylen, "not an IPv6 address between '[' and ']'");
    }
    *numeric = true;
    colon = end + 1;
  } else {
    colon = strrchr(entry, ':');
    if (!colon)
      return bad(why, whylen, "no \":port\"");
    if (memchr(entry, ':', (size_t)(colon - entry)))
      return bad(why, whylen, "more than one ':' (an IPv6 address needs brackets)");
    hlen = (size_t)(colon - entry);
    if (hlen == 0)
      return bad(why, whylen, "no host before ':'");
    if (check_name(entry, hlen, why, whylen))
      return IPOP_EFIELD;
    memcpy(host, entry, hlen);
    host[hlen] = '\0';
    struct in_addr a4;
    *numeric = inet_pton(AF_INET, host, &a4) == 1;
  }
  const char *ps = colon + 1;
  size_t plen = strlen(ps);
  if (plen == 0)
    return bad(why, whylen, "no port after ':'");
  for (size_t i = 0; i < plen; i++)
    if (ps[i] < '0' || ps[i] > '9')
      return bad(why, whylen, "the port is not a decimal number");
  long p = plen > 5 ? 99999 : strtol(ps, NULL, 10);
  if (p < 1 || p > 65535)
    return bad(why, whylen, "port %s%s is not in 1..65535", plen > 5 ? "" : ps,
               plen > 5 ? "(more than 5 digits)" : "");
  *port = (uint16_t)p;
  return 0;
}

/* libuv maps getaddrinfo's EAI_* codes to UV_EAI_*; map back so that the
 * log says what gai_strerror says (the text admins know from other tools). */
static const char *resolver_error(int status)
{
  static const struct {
    int uv, eai;
  } map[] = {
    { UV_EAI_AGAIN, EAI_AGAIN },       { UV_EAI_BADFLAGS, EAI_BADFLAGS },
    { UV_EAI_FAIL, EAI_FAIL },         { UV_EAI_FAMILY, EAI_FAMILY },
    { UV_EAI_MEMORY, EAI_MEMORY },     { UV_EAI_NONAME, EAI_NONAME },
    { UV_EAI_SERVICE, EAI_SERVICE },   { UV_EAI_SOCKTYPE, EAI_SOCKTYPE },
#ifdef EAI_NODATA
    { UV_EAI_NODATA, EAI_NODATA },
#endif
#ifdef EAI_ADDRFAMILY
    { UV_EAI_ADDRFAMILY, EAI_ADDRFAMILY },
#endif
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (map[i].uv == status)
      return gai_strerror(map[i].eai);
  return uv_strerror(status);
}

/* ------------------------------------------------------------ requests */

struct cache_slot {
  char key[RESOLVE_HOST_MAX + 2 + 8]; /* "host:port" as written */
  char addr[RESOLVE_ADDR_LEN];
  uint64_t expires_ms;
};

struct batch;

/* One uv_getaddrinfo in flight (one name). */
struct lookup {
  uv_getaddrinfo_t req;
  struct batch *b;
  size_t idx;                     /* entry in b->res */
  char key[sizeof ((struct cache_slot *)0)->key];
  uint16_t port;
};

/* One resolver_resolve call: its pending lookups and its result. */
struct batch {
  struct resolver *r;
  struct batch *next;
  resolve_cb cb;
  void *ctx;
  size_t pending;
  struct lookup *lookups[RESOLVE_MAX_ENTRIES];
  struct resolve_result res;
};

struct resolver {
  uv_loop_t *loop;
  uint64_t ttl_ms;
  bool closing;
  unsigned in_cb;                 /* a callback runs: close must not free yet */
  struct batch *batches;          /* with lookups in flight */
  struct cache_slot cache[RESOLVE_CACHE_SLOTS];
};

int resolver_new(uv_loop_t *loop, uint64_t ttl_ms, struct resolver **out)
{
  struct resolver *r = calloc(1, sizeof *r);
  if (!r)
    return IPOP_ENOMEM;
  r->loop = loop;
  r->ttl_ms = ttl_ms;
  *out = r;
  return 0;
}

static struct cache_slot *cache_find(struct resolver *r, const char *key)
{
  uint64_t now = uv_now(r->loop);
  for (size_t i = 0; i < RESOLVE_CACHE_SLOTS; i++)
    if (r->cache[i].key[0] && now < r->cache[i].expires_ms && strcmp(r->cache[i].key, key) == 0)
      return &r->cache[i];
  return NULL;
}

/* Same key, else an expired or empty slot, else the one expiring first. */
static void cache_put(struct resolver *r, const char *key, const char *addr)
{
  if (r->ttl_ms == 0)
    return;
  uint64_t now = uv_now(r->loop);
  struct cache_slot *s = NULL;
  for (size_t i = 0; i < RESOLVE_CACHE_SLOTS && !s; i++)
    if (strcmp(r->cache[i].key, key) == 0)
      s = &r->cache[i];
  for (size_t i = 0; i < RESOLVE_CACHE_SLOTS && !s; i++)
    if (!r->cache[i].key[0] || now >= r->cache[i].expires_ms)
      s = &r->cache[i];
  if (!s) {
    s = &r->cache[0];
    for (size_t i = 1; i < RESOLVE_CACHE_SLOTS; i++)
      if (r->cache[i].expires_ms < s->expires_ms)
        s = &r->cache[i];
  }
  snprintf(s->key, sizeof s->key, "%s", key);
  snprintf(s->addr, sizeof s->addr, "%s", addr);
  s->expires_ms = now + r->ttl_ms;
}

size_t resolver_cached(struct resolver *r)
{
  size_t n = 0;
  uint64_t now = uv_now(r->loop);
  for (size_t i = 0; i < RESOLVE_CACHE_SLOTS; i++)
    n += r->cache[i].key[0] && now < r->cache[i].expires_ms;
  return n;
}

static void format_addr(const struct sockaddr *sa, uint16_t port, char *out, size_t len)
{
  char a[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, a, sizeof a);
    snprintf(out, len, "%s:%u", a, port);
  } else {
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, a, sizeof a);
    snprintf(out, len, "[%s]:%u", a, port);
  }
}

static void resolver_maybe_free(struct resolver *r)
{
  if (r->closing && !r->batches && !r->in_cb) {
    memset(r->cache, 0, sizeof r->cache);
    free(r);
  }
}

/* The last lookup of a batch is back: unlink it, report, free it. */
static void batch_done(struct batch *b)
{
  struct resolver *r = b->r;
  for (struct batch **pp = &r->batches; *pp; pp = &(*pp)->next)
    if (*pp == b) {
      *pp = b->next;
      break;
    }
  r->in_cb++;
  if (r->closing)
    b->cb(UV_ECANCELED, NULL, b->ctx);
  else
    b->cb(0, &b->res, b->ctx);
  r->in_cb--;
  free(b);
  resolver_maybe_free(r);
}

static void lookup_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
  struct lookup *l = req->data;
  struct batch *b = l->b;
  struct resolver *r = b->r;
  b->lookups[l->idx] = NULL;
  if (!r->closing) {
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *p = ai; p && status == 0; p = p->ai_next)
      if (p->ai_family == AF_INET) {
        pick = p;
        break;
      } else if (p->ai_family == AF_INET6 && !pick) {
        pick = p;
      }
    if (status == 0 && !pick)
      status = UV_EAI_NODATA;
    b->res.e[l->idx].status = status;
    if (status == 0) {
      format_addr(pick->ai_addr, l->port, b->res.e[l->idx].addr, sizeof b->res.e[l->idx].addr);
      cache_put(r, l->key, b->res.e[l->idx].addr);
    } else {
      snprintf(b->res.e[l->idx].why, sizeof b->res.e[l->idx].why, "%s", resolver_error(status));
    }
  }
  uv_freeaddrinfo(ai);
  free(l);
  if (--b->pending == 0)
    batch_done(b);
}

int resolver_resolve(struct resolver *r, const char *const *entries, size_t n, resolve_cb cb,
                     void *ctx)
{
  if (!r || !cb || n > RESOLVE_MAX_ENTRIES)
    return IPOP_EINVAL;
  if (r->closing)
    return IPOP_ESTATE;
  struct batch *b = calloc(1, sizeof *b);
  if (!b)
    return IPOP_ENOMEM;
  b->r = r;
  b->cb = cb;
  b->ctx = ctx;
  b->res.n = n;
  struct lookup *todo[RESOLVE_MAX_ENTRIES] = { 0 };
  for (size_t i = 0; i < n; i++) {
    char host[RESOLVE_HOST_MAX + 2];
    uint16_t port;
    bool numeric;
    typeof(b->res.e[0]) *e = &b->res.e[i];
    e->status = resolve_split(entries[i], host, &port, &numeric, e->why, sizeof e->why);
    if (e->status)
      continue;
    if (numeric) {
      snprintf(e->addr, sizeof e->addr, host[0] && strchr(host, ':') ? "[%s]:%u" : "%s:%u",
               host, port);
      continue;
    }
    e->from_dns = true;
    const struct cache_slot *s = cache_find(r, entries[i]);
    if (s) {
      snprintf(e->addr, sizeof e->addr, "%s", s->addr);
      continue;
    }
    struct lookup *l = calloc(1, sizeof *l);
    if (!l) {
      for (size_t k = 0; k < i; k++)
        free(todo[k]);
      free(b);
      return IPOP_ENOMEM;
    }
    l->b = b;
    l->idx = i;
    l->port = port;
    l->req.data = l;
    snprintf(l->key, sizeof l->key, "%s", entries[i]);
    todo[i] = l;
  }
  /* Start the lookups only now that nothing can fail half-way through
   * allocation; a start that fails is that entry's error. */
  /* No AI_ADDRCONFIG: it ignores loopback, so "localhost" would not
   * resolve in a namespace that has only lo. */
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
  for (size_t i = 0; i < n; i++) {
    if (!todo[i])
      continue;
    char host[RESOLVE_HOST_MAX + 2];
    uint16_t port;
    bool numeric;
    resolve_split(entries[i], host, &port, &numeric, NULL, 0);
    int rc = uv_getaddrinfo(r->loop, &todo[i]->req, lookup_cb, host, NULL, &hints);
    if (rc) {
      b->res.e[i].status = rc;
      snprintf(b->res.e[i].why, sizeof b->res.e[i].why, "%s", resolver_error(rc));
      free(todo[i]);
      continue;
    }
    b->lookups[i] = todo[i];
    b->pending++;
  }
  if (b->pending == 0) {
    r->in_cb++;
    cb(0, &b->res, ctx);
    r->in_cb--;
    free(b);
    resolver_maybe_free(r); /* cb may have closed it */
    return 0;
  }
  b->next = r->batches;
  r->batches = b;
  return 0;
}

void resolver_close(struct resolver *r)
{
  if (!r || r->closing)
    return;
  r->closing = true;
  /* uv_cancel only fails for a lookup already running; its callback still
   * comes (with its answer, which closing makes us drop). */
  for (struct batch *b = r->batches; b; b = b->next)
    for (size_t i = 0; i < RESOLVE_MAX_ENTRIES; i++)
      if (b->lookups[i])
        uv_cancel((uv_req_t *)&b->lookups[i]->req);
  resolver_maybe_free(r);
}
