/* Dropping root (docs/security.md, "What tincan keeps").
 *
 * tincan starts as root to read its key and identity, bind the control
 * socket and fork its /dev/net/tun opener (tunopen.h).  Then it keeps exactly one
 * capability, CAP_NET_ADMIN (to create and configure TAP devices for later
 * create_overlay requests), and makes sure nothing can give any other back:
 *
 *   bounding set   CAP_NET_ADMIN only (needs CAP_SETPCAP, dropped with it)
 *   ambient        empty, and locked (SECBIT_NO_CAP_AMBIENT_RAISE)
 *   inheritable    empty
 *   permitted,
 *   effective      CAP_NET_ADMIN
 *   securebits     NOROOT (uid 0 gains nothing at execve), locked
 *   no_new_privs   set: an execve cannot gain capabilities or a set-id
 *   uid/gid        Tincan.User's, supplementary groups = its primary group
 *
 * Tincan.User names the user; "" keeps uid 0 (logged as a warning at every
 * start) with the same capability limits.  A user that does not exist is an
 * error, found before anything is created. */
#ifndef IPOP_TINCAN_PRIVS_H
#define IPOP_TINCAN_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tc_privs {
  char user[64];   /* "" : stay uid 0 */
  uid_t uid;
  gid_t gid;
};

/* Look a user up: 0 and uid/gid, or IPOP_ENOENT. */
int tc_user_lookup(const char *user, uid_t *uid, gid_t *gid);

/* Resolve Tincan.User into p before any root work: IPOP_ENOENT with a
 * sentence in why if the user does not exist. */
int tc_privs_resolve(const char *user, struct tc_privs *p, char *why, size_t whylen);

/* Switch to p's user keeping only CAP_NET_ADMIN, as described above.
 * Not started as root: the same limits as far as the process's own
 * capabilities allow (no user switch).  Returns 0, or IPOP_EPERM /
 * IPOP_ESYS with a sentence in why; tincan must then stop. */
int tc_drop_privileges(const struct tc_privs *p, char *why, size_t whylen);

/* Keep the uid, drop every capability (all sets, bounding included), lock
 * NOROOT, set no_new_privs: what the /dev/net/tun opener keeps (tunopen.h). */
int tc_drop_all_capabilities(char *why, size_t whylen);

#endif
