#include "addrpool.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fileio.h"
#include "jbind.h"
#include "statefile.h"

struct addrpool {
  struct addrpool_config cfg;
  uint32_t net, bcast, local;      /* host order */
  struct addrpool_entry *v;        /* sorted by address */
  size_t n, cap;
};

static uint32_t h(struct in_addr a)
{
  return ntohl(a.s_addr);
}

static struct in_addr in(uint32_t a)
{
  struct in_addr r = { htonl(a) };
  return r;
}

static void fmt_ip(uint32_t a, char buf[INET_ADDRSTRLEN])
{
  struct in_addr x = in(a);
  inet_ntop(AF_INET, &x, buf, INET_ADDRSTRLEN);
}

static bool name_valid(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n >= ADDRPOOL_NAME_LEN)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c == 0x7f || c == '#')
      return false;
  }
  return true;
}

static bool usable(const struct addrpool *p, uint32_t a)
{
  return a > p->net && a < p->bcast && a != p->local;
}

static int cmp_entry(const void *a, const void *b)
{
  uint32_t x = h(((const struct addrpool_entry *)a)->addr);
  uint32_t y = h(((const struct addrpool_entry *)b)->addr);
  return x < y ? -1 : x > y;
}

static struct addrpool_entry *find(const struct addrpool *p, const char *node_id)
{
  for (size_t i = 0; i < p->n; i++)
    if (strcmp(p->v[i].node_id, node_id) == 0)
      return &p->v[i];
  return NULL;
}

static int reserve(struct addrpool *p, size_t want)
{
  if (want <= p->cap)
    return 0;
  size_t cap = p->cap ? p->cap : 16;
  while (cap < want)
    cap *= 2;
  struct addrpool_entry *v = realloc(p->v, cap * sizeof *v);
  if (!v)
    return IPOP_ENOMEM;
  p->v = v;
  p->cap = cap;
  return 0;
}

/* ---- state file ------------------------------------------------------------ */

struct file_entry {
  char node_id[NODEID_BUF + 1]; /* one spare byte: "too long" beats "invalid" */
  char name[ADDRPOOL_NAME_LEN];
  bool has_name;
  struct in_addr addr;
};

#define T struct file_entry
static const struct jb_field entry_f[] = {
  JB_F_STR(T, node_id, "node_id", JB_REQUIRED, 1, NULL),
  JB_F_STR(T, name, "name", 0, 1, NULL, JB_PRESENCE(T, has_name)),
  JB_F_IP4(T, addr, "addr", JB_REQUIRED),
};
static const struct jb_schema entry_schema = JB_SCHEMA("address pool entry", T, entry_f);
#undef T

static int save(const struct addrpool *p, char *why, size_t whylen)
{
  if (!p->cfg.path[0])
    return 0;
  char net[INET_ADDRSTRLEN], local[INET_ADDRSTRLEN], subnet[40];
  fmt_ip(p->net, net);
  fmt_ip(p->local, local);
  snprintf(subnet, sizeof subnet, "%s/%u", net, p->cfg.prefix);
  json_t *root = json_object(), *peers = json_array();
  int rc = IPOP_ENOMEM;
  char *text = NULL;
  if (!root || !peers)
    goto out;
  json_object_set_new(root, "version", json_integer(1));
  json_object_set_new(root, "subnet", json_string(subnet));
  json_object_set_new(root, "local", json_string(local));
  for (size_t i = 0; i < p->n; i++) {
    char a[INET_ADDRSTRLEN];
    fmt_ip(h(p->v[i].addr), a);
    json_t *e = json_object();
    if (!e)
      goto out;
    json_object_set_new(e, "node_id", json_string(p->v[i].node_id));
    if (p->v[i].name[0])
      json_object_set_new(e, "name", json_string(p->v[i].name));
    json_object_set_new(e, "addr", json_string(a));
    json_array_append_new(peers, e);
  }
  json_object_set(root, "peers", peers);
  text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
  if (!text)
    goto out;
  size_t len = strlen(text);
  text[len] = '\0';
  char *withnl = realloc(text, len + 2);
  if (!withnl)
    goto out;
  text = withnl;
  text[len] = '\n';
  text[len + 1] = '\0';
  rc = ipop_state_write(p->cfg.path, text, len + 1, 0644, why, whylen);
out:
  free(text);
  json_decref(peers);
  json_decref(root);
  return rc;
}

/* ipop_state_parse_fn: one copy of the file (PATH or PATH.bak) into p. */
static int parse(void *ctx, const char *path, char *buf, size_t len, mode_t mode, char *why,
                 size_t whylen)
{
  struct addrpool *p = ctx;
  (void)mode;
  int rc;
  json_error_t jerr;
  json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    ipop_why(why, whylen, "%s: malformed JSON at line %d: %s", path, jerr.line, jerr.text);
    return IPOP_EPARSE;
  }
  rc = IPOP_EFIELD;
  if (!json_is_object(root)) {
    ipop_why(why, whylen, "%s: expected an object", path);
    goto out;
  }
  const char *key;
  json_t *val;
  json_object_foreach(root, key, val) {
    if (strcmp(key, "version") && strcmp(key, "subnet") && strcmp(key, "local") &&
        strcmp(key, "peers")) {
      ipop_why(why, whylen, "%s: %.40s: unknown key", path, key);
      rc = IPOP_EUNKNOWN;
      goto out;
    }
  }
  json_t *ver = json_object_get(root, "version"), *subnet = json_object_get(root, "subnet"),
         *local = json_object_get(root, "local"), *peers = json_object_get(root, "peers");
  if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
    ipop_why(why, whylen, "%s: version: expected 1", path);
    rc = IPOP_EVERSION;
    goto out;
  }
  if (!json_is_string(subnet) || !json_is_string(local)) {
    ipop_why(why, whylen, "%s: subnet and local: expected strings", path);
    goto out;
  }
  char net[INET_ADDRSTRLEN], loc[INET_ADDRSTRLEN], want[40];
  fmt_ip(p->net, net);
  fmt_ip(p->local, loc);
  snprintf(want, sizeof want, "%s/%u", net, p->cfg.prefix);
  if (strcmp(json_string_value(subnet), want) || strcmp(json_string_value(local), loc)) {
    ipop_why(why, whylen,
                "%s was written for subnet %.40s (local %.40s) but the configuration says "
                "%s (local %s); move the file away to assign new addresses",
                path, json_string_value(subnet), json_string_value(local), want, loc);
    rc = IPOP_ESTATE;
    goto out;
  }
  if (!json_is_array(peers)) {
    ipop_why(why, whylen, "%s: peers: expected an array", path);
    goto out;
  }
  size_t n = json_array_size(peers);
  if (n > addrpool_capacity(p)) {
    ipop_why(why, whylen, "%s: peers: %zu entries, the subnet holds %zu", path, n,
                addrpool_capacity(p));
    goto out;
  }
  rc = reserve(p, n);
  if (rc)
    goto out;
  for (size_t i = 0; i < n; i++) {
    struct file_entry fe;
    struct jb_error jerr2;
    char prefix[40];
    snprintf(prefix, sizeof prefix, "peers[%zu]", i);
    rc = jb_decode(&entry_schema, json_array_get(peers, i), &fe, prefix, &jerr2);
    if (rc) {
      ipop_why(why, whylen, "%s: %s", path, jerr2.msg);
      goto out;
    }
    rc = IPOP_EFIELD;
    if (!nodeid_valid(fe.node_id)) {
      ipop_why(why, whylen, "%s: %s.node_id: expected 32 lowercase hex digits", path,
                  prefix);
      goto out;
    }
    if (fe.has_name && !name_valid(fe.name)) {
      ipop_why(why, whylen, "%s: %s.name: whitespace, control characters or '#'", path,
                  prefix);
      goto out;
    }
    if (!usable(p, h(fe.addr))) {
      char a[INET_ADDRSTRLEN];
      fmt_ip(h(fe.addr), a);
      ipop_why(why, whylen,
                  "%s: %s.addr: %s is not a friend address of %s (outside, network, "
                  "broadcast or local)", path, prefix, a, want);
      goto out;
    }
    for (size_t j = 0; j < p->n; j++) {
      if (strcmp(p->v[j].node_id, fe.node_id) == 0 || p->v[j].addr.s_addr == fe.addr.s_addr) {
        ipop_why(why, whylen, "%s: %s: duplicate of peers[%zu]", path, prefix, j);
        goto out;
      }
    }
    struct addrpool_entry *e = &p->v[p->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->node_id, fe.node_id, NODEID_BUF);
    if (fe.has_name)
      snprintf(e->name, sizeof e->name, "%s", fe.name);
    e->addr = fe.addr;
  }
  qsort(p->v, p->n, sizeof *p->v, cmp_entry);
  rc = 0;
out:
  json_decref(root);
  if (rc)
    p->n = 0;
  return rc;
}

static int load(struct addrpool *p, char *why, size_t whylen)
{
  int rc = ipop_state_load(p->cfg.path, ADDRPOOL_FILE_MAX, parse, p, why, whylen);
  return rc == IPOP_ENOENT ? 0 : rc; /* absent: first start */
}

/* ---- API ------------------------------------------------------------------- */

int addrpool_open(struct addrpool **out, const struct addrpool_config *cfg, char *why,
                  size_t whylen)
{
  *out = NULL;
  if (cfg->prefix < ADDRPOOL_PREFIX_MIN || cfg->prefix > ADDRPOOL_PREFIX_MAX) {
    ipop_why(why, whylen, "subnet prefix /%u: expected /%d../%d", cfg->prefix,
                ADDRPOOL_PREFIX_MIN, ADDRPOOL_PREFIX_MAX);
    return IPOP_EINVAL;
  }
  uint32_t mask = ~0u << (32 - cfg->prefix);
  uint32_t net = h(cfg->net);
  if (net & ~mask) {
    ipop_why(why, whylen, "subnet: host bits set in the network address");
    return IPOP_EINVAL;
  }
  struct addrpool *p = calloc(1, sizeof *p);
  if (!p)
    return IPOP_ENOMEM;
  p->cfg = *cfg;
  p->net = net;
  p->bcast = net | ~mask;
  p->local = cfg->local.s_addr ? h(cfg->local) : net + 1;
  if (p->local <= p->net || p->local >= p->bcast) {
    ipop_why(why, whylen, "local address is not a host address of the subnet");
    free(p);
    return IPOP_EINVAL;
  }
  if (p->cfg.path[0]) {
    int rc = load(p, why, whylen);
    if (rc) {
      addrpool_free(p);
      return rc;
    }
  }
  *out = p;
  return 0;
}

void addrpool_free(struct addrpool *p)
{
  if (!p)
    return;
  free(p->v);
  free(p);
}

struct in_addr addrpool_local(const struct addrpool *p)
{
  return in(p->local);
}

size_t addrpool_capacity(const struct addrpool *p)
{
  return (size_t)(p->bcast - p->net - 1) - 1;
}

size_t addrpool_count(const struct addrpool *p)
{
  return p->n;
}

const struct addrpool_entry *addrpool_entries(const struct addrpool *p, size_t *n)
{
  *n = p->n;
  return p->v;
}

int addrpool_lookup(const struct addrpool *p, const char *node_id, struct in_addr *out)
{
  const struct addrpool_entry *e = nodeid_valid(node_id) ? find(p, node_id) : NULL;
  if (!e)
    return IPOP_ENOENT;
  *out = e->addr;
  return 0;
}

int addrpool_assign(struct addrpool *p, const char *node_id, const char *name,
                    struct in_addr *out, char *why, size_t whylen)
{
  if (!nodeid_valid(node_id)) {
    ipop_why(why, whylen, "invalid node id");
    return IPOP_EINVAL;
  }
  if (name && !name_valid(name)) {
    ipop_why(why, whylen, "name: must be 1..%d bytes without whitespace, control "
                             "characters or '#'", ADDRPOOL_NAME_LEN - 1);
    return IPOP_EINVAL;
  }
  struct addrpool_entry *e = find(p, node_id);
  if (e) {
    if (name && strcmp(e->name, name) != 0) {
      char old[ADDRPOOL_NAME_LEN];
      memcpy(old, e->name, sizeof old);
      snprintf(e->name, sizeof e->name, "%s", name);
      int rc = save(p, why, whylen);
      if (rc) {
        memcpy(e->name, old, sizeof old);
        return rc;
      }
    }
    *out = e->addr;
    return 0;
  }
  /* Lowest free address: walk the sorted entries for the first gap. */
  uint32_t cand = p->net + 1;
  size_t pos = 0;
  for (;;) {
    if (cand == p->local) {
      cand++;
      continue;
    }
    if (pos < p->n && h(p->v[pos].addr) == cand) {
      cand++;
      pos++;
      continue;
    }
    if (pos < p->n && h(p->v[pos].addr) < cand) {
      pos++;
      continue;
    }
    break;
  }
  if (cand >= p->bcast) {
    char net[INET_ADDRSTRLEN];
    fmt_ip(p->net, net);
    ipop_why(why, whylen, "address pool %s/%u exhausted: all %zu friend addresses are "
                             "assigned", net, p->cfg.prefix, addrpool_capacity(p));
    return IPOP_EBUSY;
  }
  int rc = reserve(p, p->n + 1);
  if (rc)
    return rc;
  memmove(&p->v[pos + 1], &p->v[pos], (p->n - pos) * sizeof *p->v);
  e = &p->v[pos];
  memset(e, 0, sizeof *e);
  memcpy(e->node_id, node_id, NODEID_BUF);
  if (name)
    snprintf(e->name, sizeof e->name, "%s", name);
  e->addr = in(cand);
  p->n++;
  rc = save(p, why, whylen);
  if (rc) {
    memmove(&p->v[pos], &p->v[pos + 1], (p->n - pos - 1) * sizeof *p->v);
    p->n--;
    return rc;
  }
  *out = in(cand);
  return 0;
}

int addrpool_release(struct addrpool *p, const char *node_id, char *why, size_t whylen)
{
  struct addrpool_entry *e = nodeid_valid(node_id) ? find(p, node_id) : NULL;
  if (!e)
    return IPOP_ENOENT;
  struct addrpool_entry saved = *e;
  size_t pos = (size_t)(e - p->v);
  memmove(&p->v[pos], &p->v[pos + 1], (p->n - pos - 1) * sizeof *p->v);
  p->n--;
  int rc = save(p, why, whylen);
  if (rc) {
    memmove(&p->v[pos + 1], &p->v[pos], (p->n - pos) * sizeof *p->v);
    p->v[pos] = saved;
    p->n++;
  }
  return rc;
}

int addrpool_hosts_text(const struct addrpool *p, char **text)
{
  size_t cap = 128 + p->n * 2 * (INET6_ADDRSTRLEN + ADDRPOOL_NAME_LEN + 2);
  char *s = malloc(cap);
  if (!s)
    return IPOP_ENOMEM;
  size_t used = (size_t)snprintf(s, cap, "# Written by ipop-controller (SocialVPN); "
                                         "replaced on every change.\n");
  for (size_t i = 0; i < p->n; i++) {
    char a[INET_ADDRSTRLEN];
    fmt_ip(h(p->v[i].addr), a);
    const char *name = p->v[i].name[0] ? p->v[i].name : p->v[i].node_id;
    used += (size_t)snprintf(s + used, cap - used, "%s\t%s\n", a, name);
    struct in6_addr a6;
    char t6[INET6_ADDRSTRLEN];
    if (p->cfg.has_net6 && addr6_embed4(&p->cfg.net6, p->v[i].addr, &a6) == 0 &&
        inet_ntop(AF_INET6, &a6, t6, sizeof t6))
      used += (size_t)snprintf(s + used, cap - used, "%s\t%s\n", t6, name);
  }
  *text = s;
  return 0;
}

int addrpool_write_hosts(const struct addrpool *p, const char *path, char *why,
                         size_t whylen)
{
  char *text;
  int rc = addrpool_hosts_text(p, &text);
  if (rc)
    return rc;
  rc = ipop_file_write_atomic(path, text, strlen(text), 0644, why, whylen);
  free(text);
  return rc;
}
