#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "log.h"

static int write_all(int fd, const char *p, size_t left)
{
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? errno : EIO;
    p += n;
    left -= (size_t)n;
  }
  return 0;
}

/* replace: rename over path; else link(), which fails if path exists. */
static int write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                        bool replace, char *why, size_t whylen)
{
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16), *dir = strdup(path);
  int rc = IPOP_ESYS, fd = -1, e;
  if (!tmp || !dir) {
    rc = IPOP_ENOMEM;
    goto out;
  }
  snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
  fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    ipop_why(why, whylen, "cannot create a temporary file next to %s: %s", path,
            strerror(errno));
    tmp[0] = '\0';
    goto out;
  }
  if ((e = write_all(fd, data, len)) != 0) {
    ipop_why(why, whylen, "cannot write %s (unchanged): %s", path, strerror(e));
    goto out;
  }
  if (fchmod(fd, mode) || fsync(fd)) {
    ipop_why(why, whylen, "cannot sync %s (unchanged): %s", path, strerror(errno));
    goto out;
  }
  e = close(fd);
  fd = -1;
  if (e) {
    ipop_why(why, whylen, "cannot close %s (unchanged): %s", path, strerror(errno));
    goto out;
  }
  if (replace ? rename(tmp, path) : link(tmp, path)) {
    e = errno;
    ipop_why(why, whylen, "cannot %s %s to %s: %s", replace ? "rename" : "link", tmp, path,
            strerror(e));
    if (e == EEXIST)
      rc = IPOP_EEXIST;
    goto out;
  }
  if (!replace)
    unlink(tmp);
  tmp[0] = '\0';
  /* Make the rename itself durable. */
  int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  rc = 0;
out:
  if (fd >= 0)
    close(fd);
  if (tmp && tmp[0])
    unlink(tmp);
  free(tmp);
  free(dir);
  return rc;
}

int ipop_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                           char *why, size_t whylen)
{
  return write_atomic(path, data, len, mode, true, why, whylen);
}

int ipop_file_create_atomic(const char *path, const void *data, size_t len, mode_t mode,
                            char *why, size_t whylen)
{
  return write_atomic(path, data, len, mode, false, why, whylen);
}

int ipop_file_remove_temps(const char *path, const char *also)
{
  char d[PATH_MAX], b[PATH_MAX];
  snprintf(d, sizeof d, "%s", path);
  snprintf(b, sizeof b, "%s", path);
  const char *base = basename(b);
  size_t bl = strlen(base);
  int removed = 0;
  DIR *dir = opendir(dirname(d));
  if (!dir)
    return 0;
  for (struct dirent *e; (e = readdir(dir));) {
    size_t n = strlen(e->d_name);
    if (n <= bl || strncmp(e->d_name, base, bl) != 0)
      continue;
    const char *rest = e->d_name + bl;
    /* Nobody else writes these names (mkostemp's suffix is 6 characters). */
    if ((strncmp(rest, ".tmp.", 5) == 0 && strlen(rest) == 11) || (also && strcmp(rest, also) == 0)) {
      if (unlinkat(dirfd(dir), e->d_name, 0) == 0) {
        LOG_INFO("state", "removed %s/%s, left by an interrupted write", d, e->d_name);
        removed++;
      }
    }
  }
  closedir(dir);
  return removed;
}

int ipop_file_read(const char *path, size_t max, char **out, size_t *len, mode_t *mode,
                   char *why, size_t whylen)
{
  *out = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    int e = errno;
    ipop_why(why, whylen, "cannot open %s: %s", path, strerror(e));
    return e == ENOENT ? IPOP_ENOENT : IPOP_ESYS;
  }
  struct stat st;
  int rc = IPOP_ESYS;
  char *buf = NULL;
  if (fstat(fd, &st)) {
    ipop_why(why, whylen, "cannot stat %s: %s", path, strerror(errno));
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    ipop_why(why, whylen, "%s is not a regular file", path);
    goto out;
  }
  if ((uint64_t)st.st_size > max) {
    ipop_why(why, whylen, "%s is %lld bytes, more than the limit of %zu", path,
            (long long)st.st_size, max);
    rc = IPOP_ETOOBIG;
    goto out;
  }
  if (mode)
    *mode = st.st_mode & 07777;
  buf = malloc(max + 1);
  if (!buf) {
    rc = IPOP_ENOMEM;
    goto out;
  }
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, buf + got, max + 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      ipop_why(why, whylen, "cannot read %s: %s", path, strerror(errno));
      goto out;
    }
    if (n == 0)
      break;
    got += (size_t)n;
    if (got > max) {
      ipop_why(why, whylen, "%s grew past the limit of %zu bytes", path, max);
      rc = IPOP_ETOOBIG;
      goto out;
    }
  }
  buf[got] = '\0';
  *out = buf;
  *len = got;
  buf = NULL;
  rc = 0;
out:
  free(buf);
  close(fd);
  return rc;
}
