#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "error.h"
#include "log.h"

#define WHY(...) do { snprintf(why, whylen, __VA_ARGS__); } while (0)

int tc_user_lookup(const char *user, uid_t *uid, gid_t *gid)
{
  struct passwd pw, *res = NULL;
  char buf[4096];
  if (!user[0] || getpwnam_r(user, &pw, buf, sizeof buf, &res) != 0 || !res)
    return IPOP_ENOENT;
  *uid = res->pw_uid;
  *gid = res->pw_gid;
  return 0;
}

static int keep_net_admin(char *why, size_t whylen)
{
  cap_value_t keep[] = { CAP_NET_ADMIN };
  cap_t caps = cap_init(); /* all clear */
  if (!caps) {
    WHY("cap_init: %s", strerror(errno));
    return IPOP_ESYS;
  }
  int rc = 0;
  if (cap_set_flag(caps, CAP_PERMITTED, 1, keep, CAP_SET) != 0 ||
      cap_set_flag(caps, CAP_EFFECTIVE, 1, keep, CAP_SET) != 0 ||
      cap_set_proc(caps) != 0) {
    WHY("cannot restrict capabilities to CAP_NET_ADMIN: %s", strerror(errno));
    rc = IPOP_EPERM;
  }
  cap_free(caps);
  /* Also empty the bounding set of everything else so nothing regains it. */
  for (cap_value_t c = 0; rc == 0 && c <= CAP_LAST_CAP; c++)
    if (c != CAP_NET_ADMIN && CAP_IS_SUPPORTED(c))
      prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
  return rc;
}

int tc_drop_privileges(const char *user, char *why, size_t whylen)
{
  if (geteuid() != 0)
    return 0;
  uid_t uid;
  gid_t gid;
  if (!user[0] || tc_user_lookup(user, &uid, &gid) != 0) {
    if (user[0])
      LOG_WARN("tincan", "user \"%s\" does not exist: staying uid 0, but with "
               "CAP_NET_ADMIN as the only capability", user);
    else
      LOG_INFO("tincan", "no User configured: staying uid 0 with only CAP_NET_ADMIN");
    return keep_net_admin(why, whylen);
  }
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    WHY("prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
    return IPOP_ESYS;
  }
  if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
      setresuid(uid, uid, uid) != 0) {
    WHY("cannot switch to user %s: %s", user, strerror(errno));
    return IPOP_EPERM;
  }
  int rc = keep_net_admin(why, whylen);
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  if (rc == 0)
    LOG_INFO("tincan", "running as %s (uid %u) with CAP_NET_ADMIN only", user, (unsigned)uid);
  return rc;
}
