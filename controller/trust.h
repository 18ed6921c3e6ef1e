/* trust: StateDir/known_nodes, the pinned DTLS fingerprint of each friend
 * node, like SSH's known_hosts (docs/security.md, "Trust on first use").
 *
 * One line per pin, written by the controller (mode 0600, atomically):
 *
 *   # JID NODE-ID FINGERPRINT FIRST-SEEN LAST-SEEN
 *   bob@example.org 3fa9c2d1e07b44c38e0d0f5bc4a1e2f9 sha-256 AB:CD:...:EF 1767225600 1767312000
 *
 * (times in seconds since the epoch).  A pin binds a node id to the bare
 * JID of its account and to one fingerprint; the registry refuses another
 * fingerprint for it (kept as "pending" in memory until `ipopctl trust`) and
 * another account's claim of the id.  The file is read once at start; a
 * malformed line, or a file that group or others may write, is an error
 * naming the line: pins are never dropped silently.  At most TRUST_MAX pins:
 * beyond, the one seen longest ago goes.
 *
 * Pure data structure with file I/O: no timers, no logging; times come in
 * as arguments. */
#ifndef IPOP_CONTROLLER_TRUST_H
#define IPOP_CONTROLLER_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"
#include "nodeid.h"

enum {
  TRUST_MAX = 4096,                 /* pins kept */
  TRUST_PENDING_MAX = 256,          /* refused fingerprints remembered */
  TRUST_JID_LEN = 512,
  TRUST_FILE_MAX = TRUST_MAX * 768, /* bytes of known_nodes */
};

#define TRUST_FILE "known_nodes"

struct trust_pin {
  char jid[TRUST_JID_LEN];          /* bare JID, lower case */
  char node_id[NODEID_BUF];
  char fpr[CTL_FPR_LEN];            /* "" for a pending-only entry */
  char pending[CTL_FPR_LEN];        /* a refused fingerprint, "" if none */
  uint64_t first_s, last_s;         /* wall clock seconds */
  uint64_t pending_s;
};

struct trust;

/* Load path (NULL: memory only, for tests).  A missing file is an empty
 * store.  IPOP_E* with why (naming the file and line) otherwise. */
int trust_open(struct trust **out, const char *path, char *why, size_t whylen);
void trust_free(struct trust *t);
/* Write the pins (atomically, 0600).  0 or IPOP_E* with why. */
int trust_save(struct trust *t, char *why, size_t whylen);

/* The entry of (jid, node) or NULL; jid may be a full JID (bare part used). */
const struct trust_pin *trust_find(const struct trust *t, const char *jid,
                                   const char *node_id);
/* The pinned entry of node_id under any JID (claims), or NULL. */
const struct trust_pin *trust_find_node(const struct trust *t, const char *node_id);
/* Pin fpr for (jid, node) (replacing a pin and clearing a pending one);
 * the entry seen longest ago goes when TRUST_MAX are pinned.  IPOP_EINVAL
 * for a malformed JID, node id or fingerprint.  Not saved: trust_save(). */
int trust_pin(struct trust *t, const char *jid, const char *node_id, const char *fpr,
              uint64_t now_s);
/* Remember fpr as refused for (jid, node), for `ipopctl known`/`trust`. */
void trust_set_pending(struct trust *t, const char *jid, const char *node_id,
                       const char *fpr, uint64_t now_s);
/* Forget the pin and the pending fingerprint: 0, or IPOP_ENOENT. */
int trust_remove(struct trust *t, const char *jid, const char *node_id);
/* The node was seen with its pinned fingerprint. */
void trust_touch(struct trust *t, const char *jid, const char *node_id, uint64_t now_s);

/* Entries in file order (pins and pending ones), for listings. */
size_t trust_count(const struct trust *t);
const struct trust_pin *trust_at(const struct trust *t, size_t i);
size_t trust_pinned_count(const struct trust *t);

/* Same fingerprint (hex digits compared case-insensitively)? */
bool trust_fpr_equal(const char *a, const char *b);

#endif
