#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <linux/securebits.h>
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

int tc_privs_resolve(const char *user, struct tc_privs *p, char *why, size_t whylen)
{
  memset(p, 0, sizeof *p);
  snprintf(p->user, sizeof p->user, "%s", user);
  if (!user[0])
    return 0;
  if (tc_user_lookup(user, &p->uid, &p->gid) != 0) {
    WHY("no user \"%s\" on this system: create it, name another user, or set "
        "\"User\": \"\" to keep uid 0 (not recommended)", user);
    return IPOP_ENOENT;
  }
  if (p->uid == 0) {
    WHY("user \"%s\" is uid 0: name an unprivileged user, or \"\" to keep uid 0 on purpose",
        user);
    return IPOP_EINVAL;
  }
  return 0;
}

static bool have_effective(cap_value_t c)
{
  cap_t caps = cap_get_proc();
  cap_flag_value_t v = CAP_CLEAR;
  if (caps)
    cap_get_flag(caps, c, CAP_EFFECTIVE, &v);
  cap_free(caps);
  return v == CAP_SET;
}

/* Remove every capability but `keep` (-1: every one) from the bounding set,
 * so that no execve can ever hand one back.  Needs CAP_SETPCAP in the
 * effective set, so it runs before the uid switch clears that. */
static int bounding_keep(cap_value_t keep, char *why, size_t whylen)
{
  for (cap_value_t c = 0;; c++) {
    int in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
    if (in < 0)
      return 0; /* EINVAL: past the kernel's last capability */
    if (c == keep || in == 0)
      continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0) {
      char *name = cap_to_name(c);
      WHY("cannot remove %s from the capability bounding set: %s (tincan needs CAP_SETPCAP "
          "for that: keep it in the unit's CapabilityBoundingSet)", name ? name : "?",
          strerror(errno));
      cap_free(name);
      return IPOP_EPERM;
    }
  }
}

/* Securebits: uid 0 is not special at execve (NOROOT), nothing may raise an
 * ambient capability; both locked.  KEEP_CAPS (not locked) carries the
 * permitted set over the uid switch and is cleared after it. */
static int set_securebits(bool keep_caps, char *why, size_t whylen)
{
  unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                       SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  if (keep_caps)
    bits |= SECBIT_KEEP_CAPS;
  if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0) {
    WHY("prctl(PR_SET_SECUREBITS): %s", strerror(errno));
    return IPOP_EPERM;
  }
  return 0;
}

/* permitted = effective = {CAP_NET_ADMIN} (or nothing if we never had it),
 * inheritable = {}. */
static int caps_keep_net_admin(bool have_net_admin, char *why, size_t whylen)
{
  cap_value_t keep[] = { CAP_NET_ADMIN };
  cap_t caps = cap_init(); /* all clear */
  if (!caps) {
    WHY("cap_init: %s", strerror(errno));
    return IPOP_ESYS;
  }
  int rc = 0;
  if (have_net_admin && (cap_set_flag(caps, CAP_PERMITTED, 1, keep, CAP_SET) != 0 ||
                         cap_set_flag(caps, CAP_EFFECTIVE, 1, keep, CAP_SET) != 0))
    rc = IPOP_ESYS;
  if (rc == 0 && cap_set_proc(caps) != 0)
    rc = IPOP_EPERM;
  if (rc)
    WHY("cannot restrict capabilities to CAP_NET_ADMIN: %s", strerror(errno));
  cap_free(caps);
  return rc;
}

static int switch_user(const struct tc_privs *p, char *why, size_t whylen)
{
  if (setgroups(1, &p->gid) != 0 || setresgid(p->gid, p->gid, p->gid) != 0 ||
      setresuid(p->uid, p->uid, p->uid) != 0) {
    WHY("cannot switch to user %s: %s", p->user, strerror(errno));
    return IPOP_EPERM;
  }
  /* Paranoia, as OpenSSH does: the switch must be irreversible. */
  if (setuid(0) == 0 || setgid(0) == 0) {
    WHY("could switch back to uid/gid 0 after becoming %s", p->user);
    return IPOP_EPERM;
  }
  return 0;
}

/* Not started as root (e.g. a user with CAP_NET_ADMIN from systemd's
 * AmbientCapabilities): no switch, but the same limits as far as our own
 * capabilities allow. */
static int drop_unprivileged(const struct tc_privs *p, char *why, size_t whylen)
{
  if (p->user[0] && p->uid != geteuid())
    LOG_WARN("tincan", "not started as root: Tincan.User \"%s\" not applied, staying uid %u",
             p->user, (unsigned)geteuid());
  bool net_admin = have_effective(CAP_NET_ADMIN);
  int rc = 0;
  if (have_effective(CAP_SETPCAP)) {
    rc = bounding_keep(CAP_NET_ADMIN, why, whylen);
    if (rc == 0)
      rc = set_securebits(false, why, whylen);
  }
  if (rc == 0)
    rc = caps_keep_net_admin(net_admin, why, whylen);
  if (rc == 0 && !net_admin)
    LOG_WARN("tincan", "no CAP_NET_ADMIN: TAP devices cannot be created or configured");
  return rc;
}

int tc_drop_privileges(const struct tc_privs *p, char *why, size_t whylen)
{
  /* Ambient capabilities would survive an execve of any program. */
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    WHY("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %s", strerror(errno));
    return IPOP_ESYS;
  }
  int rc;
  if (geteuid() != 0) {
    rc = drop_unprivileged(p, why, whylen);
  } else {
    bool stay = !p->user[0];
    /* Order matters: the bounding set and securebits need CAP_SETPCAP,
     * which the switch takes away; KEEP_CAPS carries CAP_NET_ADMIN over. */
    rc = bounding_keep(CAP_NET_ADMIN, why, whylen);
    if (rc == 0)
      rc = set_securebits(!stay, why, whylen);
    if (rc == 0 && !stay)
      rc = switch_user(p, why, whylen);
    if (rc == 0)
      rc = caps_keep_net_admin(true, why, whylen);
    if (rc == 0 && !stay && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) {
      WHY("prctl(PR_SET_KEEPCAPS, 0): %s", strerror(errno));
      rc = IPOP_ESYS;
    }
  }
  if (rc == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    WHY("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
    rc = IPOP_ESYS;
  }
  return rc;
}

/* For the /dev/net/tun opener (tunopen.c): uid 0 stays (root owns the
 * device, so opening it needs no capability), every capability set is
 * emptied, bounding set included, NOROOT is locked and no_new_privs set. */
int tc_drop_all_capabilities(char *why, size_t whylen)
{
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    WHY("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %s", strerror(errno));
    return IPOP_ESYS;
  }
  int rc = bounding_keep((cap_value_t)-1, why, whylen);
  if (rc == 0)
    rc = set_securebits(false, why, whylen);
  if (rc == 0)
    rc = caps_keep_net_admin(false, why, whylen);
  if (rc == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    WHY("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
    rc = IPOP_ESYS;
  }
  return rc;
}
