#include "nodeid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fileio.h"
#include "secret.h"
#include "statefile.h"

bool nodeid_valid(const char *id)
{
  if (!id)
    return false;
  size_t n = strnlen(id, NODEID_BUF);
  if (n != NODEID_HEX_LEN)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  }
  return true;
}

static int id_path(const char *state_dir, char *path, size_t n)
{
  if (!state_dir || !state_dir[0])
    return IPOP_EINVAL;
  if ((size_t)snprintf(path, n, "%s/%s", state_dir, NODEID_FILE) >= n)
    return IPOP_ETOOBIG;
  return 0;
}

/* ipop_state_parse_fn: one copy of node_id (PATH or PATH.bak) into ctx. */
static int parse_id(void *ctx, const char *path, char *buf, size_t len, mode_t mode, char *why,
                    size_t whylen)
{
  char *out = ctx;
  (void)mode;
  if (len > 0 && buf[len - 1] == '\n')
    buf[--len] = '\0';
  if (strlen(buf) != len || !nodeid_valid(buf)) {
    ipop_why(why, whylen,
                "%s is corrupt: expected 32 lowercase hex characters (delete it and %s.bak "
                "to get a new node id)", path, NODEID_FILE);
    return IPOP_EPARSE;
  }
  memcpy(out, buf, NODEID_BUF);
  return 0;
}

int nodeid_load(const char *state_dir, char out[NODEID_BUF], char *why, size_t whylen)
{
  char path[4096];
  out[0] = '\0';
  int rc = id_path(state_dir, path, sizeof path);
  if (rc) {
    ipop_why(why, whylen, "bad state directory");
    return rc;
  }
  /* A little slack for a stray newline; anything bigger is not ours. */
  rc = ipop_state_load(path, 64, parse_id, out, why, whylen);
  return rc == IPOP_ETOOBIG ? IPOP_EPARSE : rc;
}

int nodeid_load_or_create(const char *state_dir, policy_rand_fn rnd, void *rnd_ctx,
                          char out[NODEID_BUF], bool *created, char *why, size_t whylen)
{
  if (created)
    *created = false;
  int rc = nodeid_load(state_dir, out, why, whylen);
  if (rc != IPOP_ENOENT)
    return rc;

  uint8_t raw[NODEID_BYTES];
  rc = rnd(rnd_ctx, raw, sizeof raw);
  if (rc) {
    ipop_why(why, whylen, "no random bytes for a node id: %s", ipop_strerror(rc));
    return rc;
  }
  char text[NODEID_BUF + 1];
  ipop_hex_encode(raw, sizeof raw, text);
  text[NODEID_HEX_LEN] = '\n';
  text[NODEID_HEX_LEN + 1] = '\0';

  char path[4096];
  id_path(state_dir, path, sizeof path);
  rc = ipop_file_create_atomic(path, text, NODEID_HEX_LEN + 1, 0644, why, whylen);
  if (rc == IPOP_EEXIST) /* another instance created it meanwhile: use that one */
    return nodeid_load(state_dir, out, why, whylen);
  if (rc)
    return rc;
  ipop_state_keep(path, 64); /* node_id.bak: the id survives damage to node_id */
  memcpy(out, text, NODEID_HEX_LEN);
  out[NODEID_HEX_LEN] = '\0';
  if (created)
    *created = true;
  return 0;
}
