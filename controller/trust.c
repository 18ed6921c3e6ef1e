/* StateDir/known_nodes: pinned fingerprints of friend nodes (trust.h). */
#include "trust.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "error.h"
#include "grow.h"
#include "sigmsg.h"
#include "statefile.h"

struct trust {
  char path[CTL_PATH_LEN];          /* "" = memory only */
  struct trust_pin *v;              /* pins and pending-only entries */
  size_t n, cap;
};

bool trust_fpr_equal(const char *a, const char *b)
{
  return a && b && strcasecmp(a, b) == 0;
}

/* Lower-cased bare part of jid into out; false if it is no bare JID we
 * would write into the file. */
static bool bare_lower(const char *jid, char *out, size_t len)
{
  size_t n = strcspn(jid, "/");
  const char *at = memchr(jid, '@', n);
  if (n == 0 || n >= len || !at || at == jid || at + 1 == jid + n)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)jid[i];
    if (ch <= ' ' || ch == 0x7f || ch == '#')
      return false;
    out[i] = (char)tolower(ch);
  }
  out[n] = '\0';
  return true;
}

static struct trust_pin *find(const struct trust *t, const char *jid, const char *node_id)
{
  char bare[TRUST_JID_LEN];
  if (!bare_lower(jid, bare, sizeof bare))
    return NULL;
  for (size_t i = 0; i < t->n; i++)
    if (strcmp(t->v[i].node_id, node_id) == 0 && strcmp(t->v[i].jid, bare) == 0)
      return &t->v[i];
  return NULL;
}

const struct trust_pin *trust_find(const struct trust *t, const char *jid,
                                   const char *node_id)
{
  return find(t, jid, node_id);
}

const struct trust_pin *trust_find_node(const struct trust *t, const char *node_id)
{
  for (size_t i = 0; i < t->n; i++)
    if (t->v[i].fpr[0] && strcmp(t->v[i].node_id, node_id) == 0)
      return &t->v[i];
  return NULL;
}

size_t trust_count(const struct trust *t)
{
  return t->n;
}

const struct trust_pin *trust_at(const struct trust *t, size_t i)
{
  return i < t->n ? &t->v[i] : NULL;
}

size_t trust_pinned_count(const struct trust *t)
{
  size_t k = 0;
  for (size_t i = 0; i < t->n; i++)
    k += t->v[i].fpr[0] != '\0';
  return k;
}

static void drop_at(struct trust *t, size_t i)
{
  memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof t->v[0]);
  t->n--;
}

/* Make room for one more entry of the kind given: beyond the limits, the
 * entry of that kind seen longest ago goes. */
static void make_room(struct trust *t, bool pinned)
{
  size_t count = 0, oldest = t->n;
  for (size_t i = 0; i < t->n; i++) {
    if ((t->v[i].fpr[0] != '\0') != pinned)
      continue;
    count++;
    uint64_t ti = pinned ? t->v[i].last_s : t->v[i].pending_s;
    uint64_t to = oldest < t->n ? (pinned ? t->v[oldest].last_s : t->v[oldest].pending_s)
                                : UINT64_MAX;
    if (ti < to)
      oldest = i;
  }
  if (count >= (pinned ? TRUST_MAX : TRUST_PENDING_MAX) && oldest < t->n)
    drop_at(t, oldest);
}

static struct trust_pin *add(struct trust *t, const char *bare, const char *node_id)
{
  if (ipop_grow(&t->v, &t->cap, t->n, sizeof *t->v, 16))
    return NULL;
  struct trust_pin *p = &t->v[t->n++];
  memset(p, 0, sizeof *p);
  snprintf(p->jid, sizeof p->jid, "%s", bare);
  snprintf(p->node_id, sizeof p->node_id, "%s", node_id);
  return p;
}

int trust_pin(struct trust *t, const char *jid, const char *node_id, const char *fpr,
              uint64_t now_s)
{
  char bare[TRUST_JID_LEN];
  if (!bare_lower(jid, bare, sizeof bare) || !nodeid_valid(node_id) ||
      !sigmsg_fingerprint_valid(fpr))
    return IPOP_EINVAL;
  struct trust_pin *p = find(t, bare, node_id);
  if (!p || !p->fpr[0]) {
    if (p)
      drop_at(t, (size_t)(p - t->v));
    make_room(t, true);
    if (!(p = add(t, bare, node_id)))
      return IPOP_ENOMEM;
    p->first_s = now_s;
  }
  snprintf(p->fpr, sizeof p->fpr, "%s", fpr);
  p->pending[0] = '\0';
  p->pending_s = 0;
  p->last_s = now_s;
  return 0;
}

void trust_set_pending(struct trust *t, const char *jid, const char *node_id,
                       const char *fpr, uint64_t now_s)
{
  char bare[TRUST_JID_LEN];
  if (!bare_lower(jid, bare, sizeof bare) || !nodeid_valid(node_id) ||
      !sigmsg_fingerprint_valid(fpr))
    return;
  struct trust_pin *p = find(t, bare, node_id);
  if (!p) {
    make_room(t, false);
    if (!(p = add(t, bare, node_id)))
      return;
    p->first_s = now_s;
  }
  snprintf(p->pending, sizeof p->pending, "%s", fpr);
  p->pending_s = now_s;
}

int trust_remove(struct trust *t, const char *jid, const char *node_id)
{
  struct trust_pin *p = find(t, jid, node_id);
  if (!p)
    return IPOP_ENOENT;
  drop_at(t, (size_t)(p - t->v));
  return 0;
}

void trust_touch(struct trust *t, const char *jid, const char *node_id, uint64_t now_s)
{
  struct trust_pin *p = find(t, jid, node_id);
  if (p)
    p->last_s = now_s;
}

/* ---- the file ------------------------------------------------------------ */

static int parse_line(char *line, struct trust_pin *p)
{
  char *tok[7];
  int n = 0;
  for (char *s = strtok(line, " \t"); s && n < 7; s = strtok(NULL, " \t"))
    tok[n++] = s;
  if (n != 6)
    return IPOP_EPARSE;
  memset(p, 0, sizeof *p);
  char fpr[CTL_FPR_LEN + 8];
  snprintf(fpr, sizeof fpr, "%s %s", tok[2], tok[3]);
  char *end1, *end2;
  errno = 0;
  unsigned long long a = strtoull(tok[4], &end1, 10), b = strtoull(tok[5], &end2, 10);
  if (!bare_lower(tok[0], p->jid, sizeof p->jid) || strcmp(p->jid, tok[0]) != 0 ||
      !nodeid_valid(tok[1]) || !sigmsg_fingerprint_valid(fpr) || *end1 || *end2 || errno ||
      !isdigit((unsigned char)tok[4][0]) || !isdigit((unsigned char)tok[5][0]))
    return IPOP_EFIELD;
  snprintf(p->node_id, sizeof p->node_id, "%s", tok[1]);
  snprintf(p->fpr, sizeof p->fpr, "%s", fpr);
  p->first_s = a;
  p->last_s = b;
  return 0;
}

/* The first line of the file since the "# end" line (below) exists; files
 * that start with the older header need no end line. */
#define TRUST_HEADER "# ipop-controller known_nodes v2: pinned DTLS fingerprints of friend " \
                     "nodes (docs/security.md)"
#define TRUST_END "# end: "

/* A file that starts with TRUST_HEADER ends with "# end: N pins" (N the
 * pins above it): a file cut short at a line boundary would otherwise drop
 * pins silently.  Checks text before it is cut into lines. */
static int check_end(const char *path, const char *text, size_t len, size_t *want,
                     char *why, size_t whylen)
{
  *want = SIZE_MAX;
  size_t hl = strlen(TRUST_HEADER);
  if (len < hl || memcmp(text, TRUST_HEADER, hl) != 0 || (text[hl] != '\n' && text[hl]))
    return 0;
  size_t end = len;
  while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == ' '))
    end--;
  size_t start = end;
  while (start > 0 && text[start - 1] != '\n')
    start--;
  char line[64];
  size_t n = end - start < sizeof line - 1 ? end - start : sizeof line - 1;
  memcpy(line, text + start, n);
  line[n] = '\0';
  unsigned long long count;
  char tail[8];
  if (strncmp(line, TRUST_END, strlen(TRUST_END)) != 0 ||
      sscanf(line + strlen(TRUST_END), "%llu pins%7s", &count, tail) != 1) {
    snprintf(why, whylen, "%s is truncated: it does not end with its \"%sN pins\" line",
             path, TRUST_END);
    return IPOP_EPARSE;
  }
  *want = (size_t)count;
  return 0;
}

/* ipop_state_parse_fn: one copy of the file (PATH or PATH.bak) into t. */
static int parse(void *ctx, const char *path, char *text, size_t len, mode_t mode, char *why,
                 size_t whylen)
{
  struct trust *t = ctx;
  if (mode & 022) {
    snprintf(why, whylen, "%s may be written by group or others (mode %03o): chmod 600 it",
             path, (unsigned)(mode & 0777));
    return IPOP_EPERM;
  }
  if (memchr(text, '\0', len)) {
    snprintf(why, whylen, "%s holds NUL bytes: not a known_nodes file", path);
    return IPOP_EPARSE;
  }
  size_t want;
  int rc = check_end(path, text, len, &want, why, whylen);
  if (rc)
    return rc;
  unsigned lineno = 0;
  for (char *line = text, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    lineno++;
    while (*line == ' ' || *line == '\t')
      line++;
    if (!*line || *line == '#')
      continue;
    struct trust_pin p;
    rc = IPOP_EPARSE;
    if (parse_line(line, &p) != 0) {
      snprintf(why, whylen, "%s, line %u: not \"JID NODE-ID sha-256 FINGERPRINT FIRST "
               "LAST\" with a bare JID in lower case, a 32-hex-digit node id and a "
               "fingerprint of 32 hex bytes; fix or delete the line",
               path, lineno);
      goto fail;
    }
    if (find(t, p.jid, p.node_id)) {
      snprintf(why, whylen, "%s, line %u: %s %s is pinned twice; delete one line",
               path, lineno, p.jid, p.node_id);
      goto fail;
    }
    if (trust_pinned_count(t) >= TRUST_MAX)
      break;
    struct trust_pin *q = add(t, p.jid, p.node_id);
    if (!q) {
      rc = IPOP_ENOMEM;
      goto fail;
    }
    *q = p;
  }
  if (want != SIZE_MAX && want != t->n) {
    snprintf(why, whylen, "%s holds %zu pins but its end line says %zu: damaged", path, t->n,
             want);
    rc = IPOP_EPARSE;
    goto fail;
  }
  return 0;
fail:
  t->n = 0;
  return rc;
}

static int load(struct trust *t, char *why, size_t whylen)
{
  int rc = ipop_state_load(t->path, TRUST_FILE_MAX, parse, t, why, whylen);
  return rc == IPOP_ENOENT ? 0 : rc; /* absent: nothing pinned yet */
}

int trust_open(struct trust **out, const char *path, char *why, size_t whylen)
{
  *out = NULL;
  struct trust *t = calloc(1, sizeof *t);
  if (!t)
    return IPOP_ENOMEM;
  if (path) {
    if (strlen(path) >= sizeof t->path) {
      snprintf(why, whylen, "path too long: %s", path);
      free(t);
      return IPOP_ETOOBIG;
    }
    snprintf(t->path, sizeof t->path, "%s", path);
    int rc = load(t, why, whylen);
    if (rc) {
      trust_free(t);
      return rc;
    }
  }
  *out = t;
  return 0;
}

void trust_free(struct trust *t)
{
  if (!t)
    return;
  free(t->v);
  free(t);
}

int trust_save(struct trust *t, char *why, size_t whylen)
{
  if (!t->path[0])
    return 0;
  size_t cap = 256 + t->n * 768;
  char *text = malloc(cap);
  if (!text)
    return IPOP_ENOMEM;
  size_t len = (size_t)snprintf(text, cap,
                                TRUST_HEADER "\n"
                                "# JID NODE-ID FINGERPRINT FIRST-SEEN LAST-SEEN\n"),
         pins = 0;
  for (size_t i = 0; i < t->n && len < cap; i++) {
    const struct trust_pin *p = &t->v[i];
    if (p->fpr[0]) {
      len += (size_t)snprintf(text + len, cap - len, "%s %s %s %" PRIu64 " %" PRIu64 "\n",
                              p->jid, p->node_id, p->fpr, p->first_s, p->last_s);
      pins++;
    }
  }
  if (len < cap)
    len += (size_t)snprintf(text + len, cap - len, TRUST_END "%zu pins\n", pins);
  int rc = len < cap ? ipop_state_write(t->path, text, len, 0600, why, whylen)
                     : IPOP_EINTERNAL;
  free(text);
  return rc;
}
