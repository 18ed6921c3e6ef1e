#include "secret.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ipop_random_bytes(void *buf, size_t len)
{
  return RAND_bytes(buf, (int)len) == 1 ? 0 : IPOP_ECRYPTO;
}

void ipop_hex_encode(const uint8_t *in, size_t len, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * len] = '\0';
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int ipop_hex_decode(const char *hex, uint8_t *out, size_t len)
{
  if (strlen(hex) != 2 * len)
    return IPOP_EINVAL;
  for (size_t i = 0; i < len; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return IPOP_EINVAL;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

#define WHY(...) do { if (why) snprintf(why, whylen, __VA_ARGS__); } while (0)

/* Write a new key to a temporary file in the same directory, then publish
 * it with link(), which fails if the name exists: a concurrent reader (the
 * other daemon starting at the same moment) sees either no file or the
 * complete one, never a half-written one.  Returns IPOP_EEXIST if another
 * process published first. */
static int secret_create(const char *path, uid_t owner, gid_t group,
                         uint8_t key[IPOP_SECRET_LEN], char *why, size_t whylen)
{
  char text[2 * IPOP_SECRET_LEN + 2];
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
    WHY("key file path too long: %s", path);
    return IPOP_EINVAL;
  }
  int fd = mkstemp(tmp); /* mode 0600 */
  if (fd < 0) {
    WHY("cannot create key file %s: %s", path, strerror(errno));
    return IPOP_ESYS;
  }
  int rc = ipop_random_bytes(key, IPOP_SECRET_LEN);
  if (rc) {
    WHY("no randomness for key file %s", path);
    goto out;
  }
  ipop_hex_encode(key, IPOP_SECRET_LEN, text);
  strcat(text, "\n");
  rc = IPOP_ESYS;
  if (fchmod(fd, 0600) != 0 ||
      ((owner != (uid_t)-1 || group != (gid_t)-1) && fchown(fd, owner, group) != 0) ||
      write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fsync(fd) != 0) {
    WHY("cannot write key file %s: %s", path, strerror(errno));
    goto out;
  }
  if (link(tmp, path) != 0) {
    rc = errno == EEXIST ? IPOP_EEXIST : IPOP_ESYS;
    if (rc == IPOP_ESYS)
      WHY("cannot create key file %s: %s", path, strerror(errno));
    goto out;
  }
  rc = 0;
out:
  close(fd);
  unlink(tmp);
  return rc;
}

int ipop_secret_load(const char *path, int create, uid_t owner, gid_t group,
                     uint8_t key[IPOP_SECRET_LEN], char *why, size_t whylen)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT && create) {
    int rc = secret_create(path, owner, group, key, why, whylen);
    if (rc != IPOP_EEXIST)
      return rc;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW); /* lost a creation race */
  }
  if (fd < 0) {
    WHY("cannot open key file %s: %s", path, strerror(errno));
    return errno == ENOENT ? IPOP_ENOENT : errno == EACCES ? IPOP_EPERM : IPOP_ESYS;
  }
  struct stat st;
  char text[2 * IPOP_SECRET_LEN + 8];
  ssize_t n;
  int rc = IPOP_ESYS;
  if (fstat(fd, &st) != 0) {
    WHY("cannot stat key file %s: %s", path, strerror(errno));
    goto out;
  }
  if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
    WHY("key file %s must be a regular file with mode 0600 (found %04o)", path,
        (unsigned)(st.st_mode & 07777));
    rc = IPOP_EPERM;
    goto out;
  }
  n = read(fd, text, sizeof text - 1);
  if (n < 0) {
    WHY("cannot read key file %s: %s", path, strerror(errno));
    goto out;
  }
  text[n] = '\0';
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
    text[--n] = '\0';
  if (ipop_hex_decode(text, key, IPOP_SECRET_LEN) != 0) {
    WHY("key file %s must hold %d hex digits", path, 2 * IPOP_SECRET_LEN);
    rc = IPOP_EFIELD;
    goto out;
  }
  rc = 0;
out:
  close(fd);
  return rc;
}
