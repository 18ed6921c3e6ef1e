/* STUN and TURN server names: config.json may say "turn.example.org:3478",
 * but ipop-tincan (privileged, no DNS on purpose) only accepts numeric
 * "ip:port" / "[ip6]:port".  This module checks the syntax of such entries
 * (synchronously, for config validation) and turns a list of them into
 * numeric addresses with uv_getaddrinfo, caching answers for a while so
 * that re-creating an overlay does not wait for DNS.
 *
 * One address per name: the first IPv4 address, or the first IPv6 address
 * when the name has no IPv4 one.  tincan picks one server per link at random, and STUN and
 * TURN are there to traverse IPv4 NATs: an IPv6 server picked for a link
 * on a host behind an IPv4 NAT would cost that link its reflexive
 * candidates. */
#ifndef IPOP_CONTROLLER_RESOLVE_H
#define IPOP_CONTROLLER_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

enum {
  RESOLVE_HOST_MAX = 253,         /* DNS name length without the trailing dot */
  RESOLVE_ADDR_LEN = 56,          /* "[" INET6_ADDRSTRLEN "]:65535" */
  RESOLVE_WHY_LEN = 160,
  RESOLVE_MAX_ENTRIES = 16,       /* per request (CTL_MAX_STUN + CTL_MAX_TURN) */
  RESOLVE_CACHE_SLOTS = 32,
  RESOLVE_TTL_MS = 300000,        /* 5 min */
};

/* Split "host:port" or "[ip6]:port" into host (brackets removed) and port.
 * host must hold RESOLVE_HOST_MAX + 2 bytes.  *numeric says whether host is
 * an address literal (no DNS needed).  Returns 0, or IPOP_EFIELD with why
 * (if not NULL) saying what is wrong, e.g. 'expected "host:port" or
 * "[ip6]:port": port 0 is not in 1..65535'.  The entry is never echoed in
 * why (it may hold anything). */
int resolve_split(const char *entry, char *host, uint16_t *port, bool *numeric, char *why,
                  size_t whylen);
static inline int resolve_check(const char *entry, char *why, size_t whylen)
{
  char host[RESOLVE_HOST_MAX + 2];
  uint16_t port;
  bool numeric;
  return resolve_split(entry, host, &port, &numeric, why, whylen);
}

/* The outcome of one request, entry by entry (same order as asked). */
struct resolve_result {
  size_t n;
  struct {
    int status;                   /* 0, IPOP_EFIELD (syntax) or a UV_EAI_* code */
    char addr[RESOLVE_ADDR_LEN];  /* numeric "ip:port" / "[ip6]:port" when status is 0 */
    char why[RESOLVE_WHY_LEN];    /* when status is not 0: the resolver's error text */
    bool from_dns;                /* a name (answered now or from the cache) */
  } e[RESOLVE_MAX_ENTRIES];
};

/* status 0: res holds every entry's outcome (valid during the call only).
 * status UV_ECANCELED: the resolver was closed first; res is NULL. */
typedef void (*resolve_cb)(int status, const struct resolve_result *res, void *ctx);

struct resolver;

/* ttl_ms: how long an answer is reused (RESOLVE_TTL_MS; 0 = never). */
int resolver_new(uv_loop_t *loop, uint64_t ttl_ms, struct resolver **out);

/* Resolve n (<= RESOLVE_MAX_ENTRIES) entries; cb is called exactly once.
 * When every entry is numeric, malformed or cached, cb runs before this
 * returns (no DNS, no waiting); otherwise from the loop once every name is
 * answered.  Returns 0, or IPOP_EINVAL / IPOP_ESTATE / IPOP_ENOMEM (then cb
 * is not called). */
int resolver_resolve(struct resolver *r, const char *const *entries, size_t n, resolve_cb cb,
                     void *ctx);

/* Shutdown: pending lookups are cancelled (uv_cancel; a lookup already
 * running in libuv's thread pool cannot be, and is waited for), their
 * callbacks get UV_ECANCELED, and the resolver frees itself once the last
 * lookup is back (at once when none is pending).  r must not be used
 * after this.  NULL is fine. */
void resolver_close(struct resolver *r);

/* For tests and status: names in the cache that have not expired. */
size_t resolver_cached(struct resolver *r);

#endif
