#include "sigmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr6.h"
#include "error.h"

const char *const sigmsg_type_names[] = { "link_request", "link_response", "link_cancel",
                                          NULL };
const char *const sigmsg_reason_names[] = {
    "not_allowed", "over_budget", "wrong_overlay", "bad_request", "busy",
    "shutdown",    "not_wanted",  "timeout",       "failed",      NULL,
};
static const char *const result_names[] = { "accept", "reject", NULL };

#define R JB_REQUIRED

#define T struct sigmsg_link
static const struct jb_field link_f[] = {
  JB_F_STR(T, fingerprint, "fingerprint", R, 1, NULL),
  JB_F_MAC(T, mac, "mac", R),
  JB_F_IP4(T, ip4, "ip4", R),
  JB_F_IP6(T, ip6, "ip6", 0, JB_PRESENCE(T, has_ip6)),
  JB_F_STR(T, ufrag, "ufrag", R, 4, NULL),
  JB_F_STR(T, pwd, "pwd", R, 22, NULL),
  JB_F_STR_ARR(T, candidates, n_candidates, "candidates", R, 1),
};
static const struct jb_schema link_schema = JB_SCHEMA("link parameters", T, link_f);
#undef T

#define HEAD_FIELDS(T)                                                     \
  JB_F_U32(T, h.v, "v", R, 0, UINT32_MAX, 0),                              \
  JB_F_STR(T, h.request_id, "request_id", R, SIGMSG_REQ_ID_MIN, NULL),     \
  JB_F_STR(T, h.from, "from", R, 1, NULL),                                 \
  JB_F_STR(T, h.to, "to", R, 1, NULL),                                     \
  JB_F_STR(T, h.overlay_id, "overlay_id", R, 1, NULL)

#define T struct sigmsg_link_request
static const struct jb_field request_f[] = {
  HEAD_FIELDS(T),
  JB_F_OBJ(T, link, "link", R, &link_schema),
  JB_F_BOOL(T, ondemand, "ondemand", 0, false, JB_PRESENCE(T, has_ondemand)),
};
static const struct jb_schema request_schema = JB_SCHEMA("link_request", T, request_f);
#undef T

#define T struct sigmsg_link_response
static const struct jb_field response_f[] = {
  HEAD_FIELDS(T),
  JB_F_ENUM(T, result, "result", R, result_names, NULL),
  JB_F_ENUM(T, reason, "reason", 0, sigmsg_reason_names, NULL, JB_PRESENCE(T, has_reason)),
  JB_F_STR(T, text, "text", 0, 0, NULL, JB_PRESENCE(T, has_text)),
  JB_F_OBJ(T, link, "link", 0, &link_schema, JB_PRESENCE(T, has_link)),
};
static const struct jb_schema response_schema = JB_SCHEMA("link_response", T, response_f);
#undef T

#define T struct sigmsg_link_cancel
static const struct jb_field cancel_f[] = {
  HEAD_FIELDS(T),
  JB_F_ENUM(T, reason, "reason", R, sigmsg_reason_names, NULL),
  JB_F_STR(T, text, "text", 0, 0, NULL, JB_PRESENCE(T, has_text)),
};
static const struct jb_schema cancel_schema = JB_SCHEMA("link_cancel", T, cancel_f);
#undef T

static const struct jb_schema *const schemas[] = {
  [SIGMSG_LINK_REQUEST] = &request_schema,
  [SIGMSG_LINK_RESPONSE] = &response_schema,
  [SIGMSG_LINK_CANCEL] = &cancel_schema,
};

bool sigmsg_request_id_valid(const char *id)
{
  size_t n = strnlen(id, SIGMSG_REQ_ID_LEN);
  if (n < SIGMSG_REQ_ID_MIN || n >= SIGMSG_REQ_ID_LEN)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
      return false;
  }
  return true;
}

static int hexdigit(char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 8122: "sha-256" SP 32 colon-separated pairs of hex digits. */
bool sigmsg_fingerprint_valid(const char *fpr)
{
  if (strncmp(fpr, "sha-256 ", 8) != 0)
    return false;
  const char *p = fpr + 8;
  if (strlen(p) != 32 * 3 - 1)
    return false;
  for (int i = 0; i < 32; i++, p += 3) {
    if (!hexdigit(p[0]) || !hexdigit(p[1]))
      return false;
    if (i < 31 && p[2] != ':')
      return false;
  }
  return true;
}

/* RFC 8445 ice-char: ALPHA / DIGIT / "+" / "/". */
bool sigmsg_ice_valid(const char *s, size_t min, size_t max)
{
  size_t n = strlen(s);
  if (n < min || n > max)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          c == '+' || c == '/'))
      return false;
  }
  return true;
}

/* An SDP candidate attribute value: "candidate:" then printable ASCII, at
 * least the 8 mandatory space-separated fields (foundation component
 * transport priority address port "typ" type). */
bool sigmsg_candidate_valid(const char *c)
{
  if (strncmp(c, "candidate:", 10) != 0)
    return false;
  size_t n = strlen(c);
  if (n >= CTL_CAND_LEN)
    return false;
  int fields = 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)c[i];
    if (ch < 0x20 || ch > 0x7e)
      return false;
    if (ch == ' ' && i + 1 < n && c[i + 1] != ' ')
      fields++;
  }
  return fields >= 8 && strstr(c, " typ ") != NULL;
}

static int validate_link(const struct sigmsg_link *l, struct jb_error *err)
{
  if (!sigmsg_fingerprint_valid(l->fingerprint))
    return jb_error_set(err, IPOP_EFIELD, "link.fingerprint",
                "expected \"sha-256 \" and 32 colon-separated hex bytes");
  if (l->mac[0] & 1)
    return jb_error_set(err, IPOP_EFIELD, "link.mac", "multicast MAC address not allowed");
  static const uint8_t zero[6];
  if (memcmp(l->mac, zero, 6) == 0)
    return jb_error_set(err, IPOP_EFIELD, "link.mac", "all-zero MAC address not allowed");
  uint32_t a = ntohl(l->ip4.s_addr);
  if (a == 0 || a == UINT32_MAX || (a >> 28) == 14 || (a >> 24) == 127)
    return jb_error_set(err, IPOP_EFIELD, "link.ip4",
                "expected a unicast address (not 0.0.0.0, loopback, multicast or broadcast)");
  if (l->has_ip6 && !addr6_unicast(&l->ip6))
    return jb_error_set(err, IPOP_EFIELD, "link.ip6",
                "expected a unicast address (not ::, loopback, multicast, link-local or "
                "IPv4-mapped)");
  if (!sigmsg_ice_valid(l->ufrag, 4, CTL_UFRAG_LEN - 1))
    return jb_error_set(err, IPOP_EFIELD, "link.ufrag", "expected 4..%d of [A-Za-z0-9+/]",
                CTL_UFRAG_LEN - 1);
  if (!sigmsg_ice_valid(l->pwd, 22, CTL_PWD_LEN - 1))
    return jb_error_set(err, IPOP_EFIELD, "link.pwd", "expected 22..%d of [A-Za-z0-9+/]",
                CTL_PWD_LEN - 1);
  if (l->n_candidates == 0)
    return jb_error_set(err, IPOP_EFIELD, "link.candidates", "at least one candidate is needed");
  for (uint32_t i = 0; i < l->n_candidates; i++) {
    if (!sigmsg_candidate_valid(l->candidates[i])) {
      char path[64];
      snprintf(path, sizeof path, "link.candidates[%u]", i);
      return jb_error_set(err, IPOP_EFIELD, path,
                  "expected an SDP \"candidate:<foundation> <component> <transport> "
                  "<priority> <address> <port> typ <type>\" value of printable ASCII");
    }
  }
  return 0;
}

int sigmsg_validate(const struct sigmsg *m, struct jb_error *err)
{
  if ((unsigned)m->type > SIGMSG_LINK_CANCEL)
    return jb_error_set(err, IPOP_ENOCMD, "", "unknown negotiation message type");
  const struct sigmsg_head *h = &m->u.head;
  if (h->v != SIGMSG_VERSION)
    return jb_error_set(err, IPOP_EVERSION, "v", "version %u not supported (this node speaks %d)",
                h->v, SIGMSG_VERSION);
  if (!sigmsg_request_id_valid(h->request_id))
    return jb_error_set(err, IPOP_EFIELD, "request_id", "expected %d..%d of [A-Za-z0-9]",
                SIGMSG_REQ_ID_MIN, SIGMSG_REQ_ID_LEN - 1);
  if (!nodeid_valid(h->from))
    return jb_error_set(err, IPOP_EFIELD, "from", "expected a node id (32 lowercase hex digits)");
  if (!nodeid_valid(h->to))
    return jb_error_set(err, IPOP_EFIELD, "to", "expected a node id (32 lowercase hex digits)");
  if (strcmp(h->from, h->to) == 0)
    return jb_error_set(err, IPOP_EFIELD, "to", "sender and recipient are the same node");
  if (!ctl_id_valid(h->overlay_id))
    return jb_error_set(err, IPOP_EFIELD, "overlay_id", "expected 1..%d of [A-Za-z0-9_.-]",
                CTL_ID_LEN - 1);

  switch (m->type) {
  case SIGMSG_LINK_REQUEST:
    return validate_link(&m->u.req.link, err);
  case SIGMSG_LINK_RESPONSE: {
    const struct sigmsg_link_response *r = &m->u.resp;
    if (r->result == SIGMSG_ACCEPT) {
      if (!r->has_link)
        return jb_error_set(err, IPOP_EMISSING, "link", "an accepting response needs the link "
                                                "parameters");
      if (r->has_reason)
        return jb_error_set(err, IPOP_EFIELD, "reason", "not allowed in an accepting response");
      return validate_link(&r->link, err);
    }
    if (r->result != SIGMSG_REJECT)
      return jb_error_set(err, IPOP_EFIELD, "result", "expected \"accept\" or \"reject\"");
    if (!r->has_reason)
      return jb_error_set(err, IPOP_EMISSING, "reason", "a rejecting response needs a reason");
    if (r->has_link)
      return jb_error_set(err, IPOP_EFIELD, "link", "not allowed in a rejecting response");
    if ((unsigned)r->reason >= sizeof sigmsg_reason_names / sizeof *sigmsg_reason_names - 1)
      return jb_error_set(err, IPOP_EFIELD, "reason", "unknown reason code");
    return 0;
  }
  case SIGMSG_LINK_CANCEL:
    if ((unsigned)m->u.cancel.reason >=
        sizeof sigmsg_reason_names / sizeof *sigmsg_reason_names - 1)
      return jb_error_set(err, IPOP_EFIELD, "reason", "unknown reason code");
    return 0;
  }
  return jb_error_set(err, IPOP_EINTERNAL, "", "unreachable");
}

int sigmsg_decode(const char *type, const char *payload, size_t len, struct sigmsg *out,
                  struct jb_error *err)
{
  memset(out, 0, sizeof *out);
  int t = -1;
  for (int i = 0; type && sigmsg_type_names[i]; i++)
    if (strcmp(type, sigmsg_type_names[i]) == 0)
      t = i;
  if (t < 0)
    return jb_error_set(err, IPOP_ENOCMD, "", "unknown negotiation message type");
  json_t *root;
  int prc = sigmsg_payload_parse(payload, len, &root, err);
  if (prc)
    return prc;
  out->type = (enum sigmsg_type)t;
  int rc = jb_decode(schemas[t], root, &out->u, NULL, err);
  json_decref(root);
  if (rc)
    return rc;
  return sigmsg_validate(out, err);
}

int sigmsg_encode(const struct sigmsg *m, const char **type, char **json,
                  struct jb_error *err)
{
  *json = NULL;
  *type = NULL;
  int rc = sigmsg_validate(m, err);
  if (rc)
    return rc;
  rc = sigmsg_payload_dump(jb_encode(schemas[m->type], &m->u), json, err);
  if (rc == 0)
    *type = sigmsg_type_names[m->type];
  return rc;
}

int sigmsg_payload_parse(const char *payload, size_t len, json_t **root, struct jb_error *err)
{
  *root = NULL;
  if (!payload || len == 0)
    return jb_error_set(err, IPOP_EPARSE, "", "empty payload");
  if (len > SIGMSG_MAX_PAYLOAD)
    return jb_error_set(err, IPOP_ETOOBIG, "", "payload of %zu bytes exceeds the limit of %d", len,
                SIGMSG_MAX_PAYLOAD);
  if (jb_check_depth(payload, len, SIGMSG_MAX_DEPTH))
    return jb_error_set(err, IPOP_ETOOBIG, "", "JSON nested deeper than %d levels",
                SIGMSG_MAX_DEPTH);
  json_error_t jerr;
  *root = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!*root)
    return jb_error_set(err, IPOP_EPARSE, "", "malformed JSON at byte %d: %s", jerr.position,
                jerr.text);
  return 0;
}

int sigmsg_payload_dump(json_t *obj, char **json, struct jb_error *err)
{
  *json = NULL;
  if (!obj)
    return jb_error_set(err, IPOP_ENOMEM, "", "out of memory");
  *json = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(obj);
  if (!*json)
    return jb_error_set(err, IPOP_ENOMEM, "", "out of memory");
  if (strlen(*json) > SIGMSG_MAX_PAYLOAD) {
    free(*json);
    *json = NULL;
    return jb_error_set(err, IPOP_ETOOBIG, "", "encoded payload exceeds %d bytes",
                SIGMSG_MAX_PAYLOAD);
  }
  return 0;
}
