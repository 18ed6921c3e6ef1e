/* sigmsg: the link negotiation messages two controllers exchange, carried as
 * JSON payloads of XMPP <signal type="..."/> elements (docs/signaling.md has
 * the envelope, docs/signaling-negotiation.md these payloads).
 *
 * Every payload is bounded, depth-checked, decoded strictly (unknown keys are
 * errors) with jbind, and then checked field by field; an error names the
 * field ("link.fingerprint: ...").  A decoded message owns no memory. */
#ifndef IPOP_POLICY_SIGMSG_H
#define IPOP_POLICY_SIGMSG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jbind.h"
#include "messages.h"
#include "nodeid.h"

enum {
  SIGMSG_VERSION = 1,
  SIGMSG_REQ_ID_MIN = 8,        /* request ids: 8..32 chars [A-Za-z0-9] */
  SIGMSG_REQ_ID_LEN = 33,
  SIGMSG_MAX_PAYLOAD = 16384,   /* = XMPP_SIGNAL_PAYLOAD_MAX */
  SIGMSG_MAX_DEPTH = 6,
  SIGMSG_TEXT_LEN = 128,        /* free-text reason */
};

enum sigmsg_type { SIGMSG_LINK_REQUEST, SIGMSG_LINK_RESPONSE, SIGMSG_LINK_CANCEL };
/* <signal type=""/> values, indexed by enum sigmsg_type. */
extern const char *const sigmsg_type_names[];

/* Why a request is refused or cancelled. */
enum sigmsg_reason {
  SIGMSG_R_NOT_ALLOWED,   /* sender is not a peer of ours (roster, group, block) */
  SIGMSG_R_OVER_BUDGET,   /* our link budget is full */
  SIGMSG_R_WRONG_OVERLAY, /* we do not run that overlay */
  SIGMSG_R_BAD_REQUEST,   /* the request was malformed */
  SIGMSG_R_BUSY,          /* temporarily unable (tincan down, too many peers) */
  SIGMSG_R_SHUTDOWN,      /* we are stopping */
  SIGMSG_R_NOT_WANTED,    /* (cancel) the link is no longer wanted */
  SIGMSG_R_TIMEOUT,       /* (cancel) the attempt timed out */
  SIGMSG_R_FAILED,        /* (cancel) the link failed */
};
extern const char *const sigmsg_reason_names[];

/* What one side needs to know about the other to create its link. */
struct sigmsg_link {
  char fingerprint[CTL_FPR_LEN];  /* "sha-256 AB:CD:..." (32 bytes) */
  uint8_t mac[6];                 /* sender's TAP MAC */
  struct in_addr ip4;             /* sender's own virtual IPv4 address */
  struct in6_addr ip6;            /* ... and IPv6 one, if it has one */
  bool has_ip6;
  char ufrag[CTL_UFRAG_LEN];
  char pwd[CTL_PWD_LEN];
  char candidates[CTL_MAX_CANDS][CTL_CAND_LEN];
  uint32_t n_candidates;          /* 1..CTL_MAX_CANDS */
};

/* Fields common to all three messages. */
struct sigmsg_head {
  uint32_t v;                         /* SIGMSG_VERSION */
  char request_id[SIGMSG_REQ_ID_LEN]; /* chosen by the requester */
  char from[NODEID_BUF];              /* sender's node id */
  char to[NODEID_BUF];                /* recipient's node id */
  char overlay_id[CTL_ID_LEN];
};

struct sigmsg_link_request {
  struct sigmsg_head h;
  struct sigmsg_link link;
  bool ondemand;                      /* for traffic, not structure (hint for */
  bool has_ondemand;                  /*   the responder's link budget) */
};

enum sigmsg_result { SIGMSG_ACCEPT, SIGMSG_REJECT };

struct sigmsg_link_response {
  struct sigmsg_head h;
  int result;                         /* enum sigmsg_result */
  int reason;                         /* enum sigmsg_reason; reject only */
  bool has_reason;
  char text[SIGMSG_TEXT_LEN];         /* optional, for logs */
  bool has_text;
  struct sigmsg_link link;            /* accept only */
  bool has_link;
};

struct sigmsg_link_cancel {
  struct sigmsg_head h;
  int reason;                         /* enum sigmsg_reason */
  char text[SIGMSG_TEXT_LEN];
  bool has_text;
};

struct sigmsg {
  enum sigmsg_type type;
  union {
    struct sigmsg_head head;          /* first member of each */
    struct sigmsg_link_request req;
    struct sigmsg_link_response resp;
    struct sigmsg_link_cancel cancel;
  } u;
};

/* Decode and fully validate a payload of the given <signal type=""/>.
 * Returns 0, or IPOP_ENOCMD (unknown type), IPOP_ETOOBIG (size/depth),
 * IPOP_EPARSE, IPOP_EFIELD / IPOP_EMISSING / IPOP_EUNKNOWN, IPOP_EVERSION;
 * err->path names the field and err->msg says what is wrong. */
int sigmsg_decode(const char *type, const char *payload, size_t len,
                  struct sigmsg *out, struct jb_error *err);

/* Validate a message we built (the same checks as sigmsg_decode) and encode
 * it.  *json is a heap string (caller frees); *type a static string. */
int sigmsg_encode(const struct sigmsg *m, const char **type, char **json,
                  struct jb_error *err);

/* Semantic checks only (after jbind): ids, fingerprint, ICE strings,
 * candidates, presence rules of link_response. */
int sigmsg_validate(const struct sigmsg *m, struct jb_error *err);

/* Format checks usable on their own. */
bool sigmsg_request_id_valid(const char *id);
bool sigmsg_fingerprint_valid(const char *fpr);
bool sigmsg_ice_valid(const char *s, size_t min, size_t max);
bool sigmsg_candidate_valid(const char *c);

/* The JSON of a signal payload (also the routes signal, routemsg.h):
 * bounded (SIGMSG_MAX_PAYLOAD, SIGMSG_MAX_DEPTH), duplicate keys refused;
 * *root to json_decref.  And back: obj (consumed; NULL = out of memory)
 * to compact text, *json to free. */
int sigmsg_payload_parse(const char *payload, size_t len, json_t **root, struct jb_error *err);
int sigmsg_payload_dump(json_t *obj, char **json, struct jb_error *err);

#endif
