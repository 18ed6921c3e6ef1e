/* Password files (pwfile.h). */
#include "pwfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

int pwfile_read(const char *path, char *out, size_t outlen, char *why, size_t whylen)
{
  if (outlen)
    out[0] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    if (e == ELOOP) {
      snprintf(why, whylen, "%s is a symbolic link (not followed for secrets); point the "
               "configuration at the file itself", path);
      return IPOP_EPERM;
    }
    snprintf(why, whylen, "cannot open %s: %s", path, strerror(e));
    return e == ENOENT ? IPOP_ENOENT : e == EACCES ? IPOP_EPERM : IPOP_ESYS;
  }
  struct stat st;
  char buf[1025];
  int rc = IPOP_ESYS;
  ssize_t n = 0;
  if (fstat(fd, &st) != 0) {
    snprintf(why, whylen, "cannot stat %s: %s", path, strerror(errno));
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(why, whylen, "%s is not a regular file", path);
    rc = IPOP_EPERM;
    goto out;
  }
  if (st.st_mode & 077) {
    snprintf(why, whylen, "%s is readable by group or others (mode %03o); chmod 600 it", path,
             (unsigned)(st.st_mode & 0777));
    rc = IPOP_EPERM;
    goto out;
  }
  if (st.st_uid != geteuid()) {
    snprintf(why, whylen, "%s is owned by uid %u, not by the user the controller runs as "
             "(uid %u); chown it", path, (unsigned)st.st_uid, (unsigned)geteuid());
    rc = IPOP_EPERM;
    goto out;
  }
  size_t got = 0;
  for (;;) {
    n = read(fd, buf + got, sizeof buf - 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
      goto out;
    }
    if (n == 0 || (got += (size_t)n) == sizeof buf - 1)
      break;
  }
  buf[got] = '\0';
  if (memchr(buf, '\0', got)) {
    snprintf(why, whylen, "%s holds a NUL byte", path);
    rc = IPOP_EFIELD;
    goto out;
  }
  char *nl = strpbrk(buf, "\r\n");
  if (nl) {
    *nl = '\0'; /* the first line is the password */
    got = (size_t)(nl - buf);
  }
  if (got == 0 || got >= outlen || got >= sizeof buf - 1) {
    snprintf(why, whylen, "%s: empty or too long (at most %zu bytes)", path,
             (outlen ? outlen - 1 : 0) < sizeof buf - 2 ? (outlen ? outlen - 1 : 0)
                                                        : sizeof buf - 2);
    rc = IPOP_EFIELD;
    goto out;
  }
  memcpy(out, buf, got + 1);
  rc = 0;
out:
  explicit_bzero(buf, sizeof buf);
  close(fd);
  return rc;
}
