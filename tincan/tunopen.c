#include "tunopen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "privs.h"

#define WHY(...) do { snprintf(why, whylen, __VA_ARGS__); } while (0)

enum { REQ_OPEN = 'T', SK_CHILD = 3 };

static int sk = -1;   /* tincan's end */
static pid_t child;

/* Send the answer: errno, and the descriptor when there is one. */
static int answer(int s, int err, int fd)
{
  int32_t e = err;
  struct iovec iov = { .iov_base = &e, .iov_len = sizeof e };
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
  if (fd >= 0) {
    memset(&u, 0, sizeof u);
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  return sendmsg(s, &m, MSG_NOSIGNAL) == (ssize_t)sizeof e ? 0 : -1;
}

/* The opener's whole life after the fork; never returns. */
static void __attribute__((noreturn)) opener_main(int s)
{
  char why[256] = "";
  prctl(PR_SET_NAME, "ipop-tincan-tun", 0, 0, 0);
  /* Exactly four descriptors: /dev/null twice, stderr, the socket. */
  if (s != SK_CHILD && (dup2(s, SK_CHILD) != SK_CHILD || close(s) != 0))
    _exit(1);
  close_range(SK_CHILD + 1, ~0u, 0);
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    if (null > 2)
      close(null);
  }
  const char *root = "/dev/net";
  if (chroot(root) != 0 || chdir("/") != 0) {
    root = NULL;
    if (chdir("/") != 0)
      _exit(1);
  }
  if (tc_drop_all_capabilities(why, sizeof why) != 0) {
    fprintf(stderr, "ipop-tincan-tun: %s\n", why);
    _exit(1);
  }
  const char *dev = root ? "/tun" : "/dev/net/tun";
  for (;;) {
    char req[8];
    ssize_t n = recv(SK_CHILD, req, sizeof req, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n != 1 || req[0] != REQ_OPEN)
      _exit(n == 0 ? 0 : 2);   /* tincan's end closed, or a bad request */
    int fd = open(dev, O_RDWR | O_CLOEXEC);
    int rc = answer(SK_CHILD, fd < 0 ? errno : 0, fd);
    if (fd >= 0)
      close(fd);
    if (rc != 0)
      _exit(0);
  }
}

int tc_tunopen_start(char *why, size_t whylen)
{
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    WHY("socketpair: %s", strerror(errno));
    return IPOP_ESYS;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    WHY("fork: %s", strerror(errno));
    close(sv[0]);
    close(sv[1]);
    return IPOP_ESYS;
  }
  if (pid == 0) {
    close(sv[0]);
    opener_main(sv[1]);
  }
  close(sv[1]);
  /* An opener that hangs must not hang tincan's loop. */
  struct timeval tv = { .tv_sec = 2 };
  setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sk = sv[0];
  child = pid;
  return 0;
}

pid_t tc_tunopen_pid(void)
{
  return child;
}

/* Take the one descriptor out of an answer; -1 if there is not exactly one. */
static int take_fd(struct msghdr *m)
{
  int fd = -1, extra = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int f;
      memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
      if (fd < 0)
        fd = f;
      else {
        close(f);
        extra = 1;
      }
    }
  }
  if (extra && fd >= 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

int tc_tunopen_get(char *why, size_t whylen)
{
  if (sk < 0) {
    WHY("no /dev/net/tun opener (tincan was not started as root)");
    return IPOP_EPERM;
  }
  char req = REQ_OPEN;
  if (send(sk, &req, 1, MSG_NOSIGNAL) != 1) {
    WHY("the /dev/net/tun opener (pid %d) is gone: %s", (int)child, strerror(errno));
    return IPOP_ESYS;
  }
  int32_t err = -1;
  struct iovec iov = { .iov_base = &err, .iov_len = sizeof err };
  union { char buf[CMSG_SPACE(4 * sizeof(int))]; struct cmsghdr align; } u;
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                      .msg_controllen = sizeof u.buf };
  ssize_t n;
  do
    n = recvmsg(sk, &m, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  int fd = n > 0 ? take_fd(&m) : -1;
  if (n != (ssize_t)sizeof err || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
    if (fd >= 0)
      close(fd);
    WHY("no answer from the /dev/net/tun opener (pid %d): %s", (int)child,
        n < 0 ? strerror(errno) : "short or truncated reply");
    return IPOP_ESYS;
  }
  if (err != 0) {
    if (fd >= 0)
      close(fd);
    WHY("open /dev/net/tun (as root, in the opener): %s", strerror(err));
    return IPOP_ESYS;
  }
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode) ||
      st.st_rdev != makedev(10, 200) || fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK) != 0) {
    if (fd >= 0)
      close(fd);
    WHY("the /dev/net/tun opener sent no descriptor, or not one of /dev/net/tun");
    return IPOP_ESYS;
  }
  return fd;
}

void tc_tunopen_stop(void)
{
  if (sk >= 0)
    close(sk);
  sk = -1;
  if (child > 0) {
    int st;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR)
      ;
  }
  child = 0;
}
