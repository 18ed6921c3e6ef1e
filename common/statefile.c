#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "log.h"

static int sibling(const char *path, const char *suffix, char out[PATH_MAX])
{
  return (size_t)snprintf(out, PATH_MAX, "%s%s", path, suffix) >= PATH_MAX ? IPOP_ETOOBIG : 0;
}

/* Errors that say the bytes are bad (or unreadable), as opposed to a refusal
 * (permissions), a file that does not match the configuration, or a lack
 * of memory: only these fall back to PATH.bak. */
static int damaged(int rc)
{
  return rc != 0 && rc != IPOP_ENOENT && rc != IPOP_EPERM && rc != IPOP_ESTATE &&
         rc != IPOP_ENOMEM;
}

/* Read and parse one copy; on success *keep (if not NULL) gets the bytes as
 * read (parse may modify its buffer), for restoring PATH from PATH.bak. */
static int load_one(const char *p, size_t max, ipop_state_parse_fn parse, void *ctx,
                    char **keep, size_t *keep_len, mode_t *mode, char *why, size_t whylen)
{
  char *text;
  size_t len;
  int rc = ipop_file_read(p, max, &text, &len, mode, why, whylen);
  if (rc)
    return rc;
  if (keep) {
    if (!(*keep = malloc(len + 1))) {
      free(text);
      return IPOP_ENOMEM;
    }
    memcpy(*keep, text, len + 1);
    *keep_len = len;
  }
  rc = parse(ctx, p, text, len, *mode, why, whylen);
  free(text);
  if (rc && keep) {
    free(*keep);
    *keep = NULL;
  }
  return rc;
}

int ipop_state_load(const char *path, size_t max, ipop_state_parse_fn parse, void *ctx,
                    char *why, size_t whylen)
{
  char bak[PATH_MAX], bad[PATH_MAX], w[512], bw[512];
  if (sibling(path, ".bak", bak) || sibling(path, ".bad", bad)) {
    ipop_why(why, whylen, "%s: path too long", path);
    return IPOP_ETOOBIG;
  }
  ipop_file_remove_temps(path, ".bak.tmp"); /* ours and fileio's */
  mode_t mode = 0;
  w[0] = '\0';
  int rc = load_one(path, max, parse, ctx, NULL, NULL, &mode, w, sizeof w);
  if (rc == 0) {
    ipop_state_keep(path, max);
    return 0;
  }
  if (rc != IPOP_ENOENT && !damaged(rc)) {
    ipop_why(why, whylen, "%s", w);
    return rc;
  }
  char *copy = NULL;
  size_t clen = 0;
  int brc = load_one(bak, max, parse, ctx, &copy, &clen, &mode, bw, sizeof bw);
  if (brc == IPOP_ENOENT) { /* no last copy: report PATH's own error */
    ipop_why(why, whylen, "%s", w);
    return rc;
  }
  if (brc) {
    if (rc == IPOP_ENOENT)
      ipop_why(why, whylen, "%s is missing and its last copy is unusable: %s", path, bw);
    else
      ipop_why(why, whylen, "%s (its last copy is unusable too: %s)", w, bw);
    return rc == IPOP_ENOENT ? brc : rc;
  }
  if (rc == IPOP_ENOENT) {
    LOG_WARN("state", "%s is missing; using its last copy %s", path, bak);
  } else {
    LOG_WARN("state", "%s; using the last good copy %s (the damaged file is kept as %s)", w,
             bak, bad);
    if (rename(path, bad) != 0)
      LOG_WARN("state", "cannot move %s to %s: %s", path, bad, strerror(errno));
  }
  /* PATH again, so that the next write keeps a good PATH.bak. */
  if (ipop_file_write_atomic(path, copy, clen, mode, w, sizeof w) != 0)
    LOG_WARN("state", "cannot restore %s from %s: %s", path, bak, w);
  free(copy);
  return 0;
}

void ipop_state_keep(const char *path, size_t max)
{
  char bak[PATH_MAX], w[256];
  struct stat st;
  if (sibling(path, ".bak", bak) || lstat(bak, &st) == 0)
    return;
  /* A copy, not a link: damage to PATH in place must not reach it. */
  char *text;
  size_t len;
  mode_t mode;
  if (ipop_file_read(path, max, &text, &len, &mode, w, sizeof w) != 0)
    return;
  if (ipop_file_create_atomic(bak, text, len, mode, w, sizeof w) != 0 &&
      !strstr(w, "exists"))
    LOG_DEBUG("state", "cannot keep a copy of %s: %s", path, w);
  free(text);
}

/* PATH.bak := PATH, atomically (link to a temporary name, rename it over). */
static void keep_current(const char *path)
{
  char bak[PATH_MAX], tmp[PATH_MAX];
  if (sibling(path, ".bak", bak) || sibling(path, ".bak.tmp", tmp))
    return;
  unlink(tmp); /* left by a crash */
  if (link(path, tmp) != 0) {
    if (errno != ENOENT)
      LOG_DEBUG("state", "cannot keep %s as %s: %s", path, bak, strerror(errno));
    return;
  }
  if (rename(tmp, bak) != 0) {
    LOG_DEBUG("state", "cannot keep %s as %s: %s", path, bak, strerror(errno));
    unlink(tmp);
  }
}

int ipop_state_write(const char *path, const void *data, size_t len, mode_t mode, char *why,
                     size_t whylen)
{
  keep_current(path);
  return ipop_file_write_atomic(path, data, len, mode, why, whylen);
}

int ipop_state_set_aside(const char *path, char *why, size_t whylen)
{
  char bad[PATH_MAX];
  if (sibling(path, ".bad", bad))
    return IPOP_ETOOBIG;
  if (rename(path, bad) != 0) {
    int e = errno;
    ipop_why(why, whylen, "cannot move %s to %s: %s", path, bad, strerror(e));
    return e == ENOENT ? IPOP_ENOENT : IPOP_ESYS;
  }
  return 0;
}
