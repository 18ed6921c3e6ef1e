/* nodeid: this node's stable identity on the overlay.
 *
 * A node id is 32 lowercase hex characters (16 random bytes).  It is kept in
 * StateDir/node_id (one line, mode 0644: it is public), created atomically
 * on first start, and never changes afterwards.  Ids received from the
 * network are checked with nodeid_valid() before they are used as keys or
 * sent to tincan (where they are peer_id values). */
#ifndef IPOP_POLICY_NODEID_H
#define IPOP_POLICY_NODEID_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

enum {
  NODEID_BYTES = 16,
  NODEID_HEX_LEN = 2 * NODEID_BYTES,
  NODEID_BUF = NODEID_HEX_LEN + 1, /* with the NUL */
};

#define NODEID_FILE "node_id"

/* True if id is exactly 32 characters of [0-9a-f]. */
bool nodeid_valid(const char *id);

/* Read StateDir/node_id.  IPOP_ENOENT if absent; IPOP_EPARSE (with why) if
 * it does not hold exactly one valid id (a trailing newline is allowed). */
int nodeid_load(const char *state_dir, char out[NODEID_BUF], char *why, size_t whylen);

/* Load the id, or on first start generate one from rnd and store it
 * atomically.  *created (may be NULL) says which happened.  A corrupt file
 * is an error, never silently replaced: the id is the node's identity. */
int nodeid_load_or_create(const char *state_dir, policy_rand_fn rnd, void *rnd_ctx,
                          char out[NODEID_BUF], bool *created, char *why, size_t whylen);

#endif
