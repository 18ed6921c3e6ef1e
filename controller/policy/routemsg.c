/* The routes signal (routemsg.h). */
#include "routemsg.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sigmsg.h"

/* Wire form of one entry: hops as a bounded integer. */
struct wire_entry {
  char id[NODEID_BUF];
  uint32_t hops;
};

struct wire {
  uint32_t v;
  char from[NODEID_BUF];
  char to[NODEID_BUF];
  char overlay_id[CTL_ID_LEN];
  bool forwarding;
  bool sync;
  struct wire_entry routes[ROUTEMSG_MAX];
  uint32_t n_routes;
};

#define R JB_REQUIRED
#define T struct wire_entry
static const struct jb_field entry_f[] = {
  JB_F_STR(T, id, "id", R, 1, NULL),
  JB_F_U32(T, hops, "hops", R, 0, ROUTING_INF - 1, 0),
};
static const struct jb_schema entry_schema = JB_SCHEMA("route", T, entry_f);
#undef T

#define T struct wire
static const struct jb_field wire_f[] = {
  JB_F_U32(T, v, "v", R, ROUTEMSG_VERSION, ROUTEMSG_VERSION, 0),
  JB_F_STR(T, from, "from", R, 1, NULL),
  JB_F_STR(T, to, "to", R, 1, NULL),
  JB_F_STR(T, overlay_id, "overlay_id", R, 1, NULL),
  JB_F_BOOL(T, forwarding, "forwarding", R, false),
  JB_F_BOOL(T, sync, "sync", 0, false),
  JB_F_OBJ_ARR(T, routes, n_routes, "routes", R, &entry_schema),
};
static const struct jb_schema wire_schema = JB_SCHEMA("routes", T, wire_f);
#undef T
#undef R

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* What the schema cannot say: ids, the sender first at 0 hops, no
 * duplicates. */
static int check(const struct wire *w, struct jb_error *err)
{
  if (!nodeid_valid(w->from))
    return jb_error_set(err, IPOP_EFIELD, "from", "not a node id");
  if (!nodeid_valid(w->to) || strcmp(w->to, w->from) == 0)
    return jb_error_set(err, IPOP_EFIELD, "to", "not a node id, or the sender's own");
  if (!ctl_id_valid(w->overlay_id))
    return jb_error_set(err, IPOP_EFIELD, "overlay_id", "not an overlay id");
  if (w->n_routes == 0 || strcmp(w->routes[0].id, w->from) != 0 || w->routes[0].hops != 0)
    return jb_error_set(err, IPOP_EFIELD, "routes[0]", "must be the sender at 0 hops");
  const char *ids[ROUTEMSG_MAX];
  for (uint32_t i = 0; i < w->n_routes; i++) {
    char path[32];
    snprintf(path, sizeof path, "routes[%u]", i);
    if (!nodeid_valid(w->routes[i].id))
      return jb_error_set(err, IPOP_EFIELD, path, "id: not a node id");
    if (i && w->routes[i].hops == 0)
      return jb_error_set(err, IPOP_EFIELD, path, "hops: 0 is the sender's alone");
    ids[i] = w->routes[i].id;
  }
  qsort(ids, w->n_routes, sizeof ids[0], cmp_str);
  for (uint32_t i = 1; i < w->n_routes; i++)
    if (strcmp(ids[i], ids[i - 1]) == 0)
      return jb_error_set(err, IPOP_EFIELD, "routes", "%s listed twice", ids[i]);
  return 0;
}

int routemsg_decode(const char *payload, size_t len, struct routemsg *out, struct jb_error *err)
{
  memset(out, 0, sizeof *out);
  json_t *root;
  int prc = sigmsg_payload_parse(payload, len, &root, err);
  if (prc)
    return prc;
  struct wire *w = malloc(sizeof *w);
  int rc = w ? jb_decode(&wire_schema, root, w, NULL, err)
             : jb_error_set(err, IPOP_ENOMEM, "", "out of memory");
  json_decref(root);
  if (rc == 0)
    rc = check(w, err);
  if (rc == 0) {
    out->v = w->v;
    memcpy(out->from, w->from, NODEID_BUF);
    memcpy(out->to, w->to, NODEID_BUF);
    memcpy(out->overlay_id, w->overlay_id, CTL_ID_LEN);
    out->forwarding = w->forwarding;
    out->sync = w->sync;
    out->n_routes = w->n_routes;
    for (uint32_t i = 0; i < w->n_routes; i++) {
      memcpy(out->routes[i].id, w->routes[i].id, NODEID_BUF);
      out->routes[i].hops = (uint8_t)w->routes[i].hops;
    }
  }
  free(w);
  return rc;
}

int routemsg_encode(const struct routemsg *m, char **json, struct jb_error *err)
{
  *json = NULL;
  struct wire *w = calloc(1, sizeof *w);
  if (!w)
    return jb_error_set(err, IPOP_ENOMEM, "", "out of memory");
  w->v = ROUTEMSG_VERSION;
  memcpy(w->from, m->from, NODEID_BUF);
  memcpy(w->to, m->to, NODEID_BUF);
  memcpy(w->overlay_id, m->overlay_id, CTL_ID_LEN);
  w->forwarding = m->forwarding;
  w->sync = m->sync;
  w->n_routes = m->n_routes > ROUTEMSG_MAX ? ROUTEMSG_MAX : m->n_routes;
  for (uint32_t i = 0; i < w->n_routes; i++) {
    memcpy(w->routes[i].id, m->routes[i].id, NODEID_BUF);
    w->routes[i].hops = m->routes[i].hops;
  }
  int rc = check(w, err);
  json_t *obj = rc ? NULL : jb_encode(&wire_schema, w);
  free(w);
  return rc ? rc : sigmsg_payload_dump(obj, json, err);
}
