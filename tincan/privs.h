/* Dropping root: after everything that needs root is open, switch to an
 * unprivileged user and keep only CAP_NET_ADMIN (to create and configure
 * TAP devices for later create_overlay requests). */
#ifndef IPOP_TINCAN_PRIVS_H
#define IPOP_TINCAN_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

/* Look a user up: 0 and uid/gid, or IPOP_ENOENT. */
int tc_user_lookup(const char *user, uid_t *uid, gid_t *gid);
/* If user is non-empty and exists, setgroups/setgid/setuid to it keeping
 * CAP_NET_ADMIN; if it does not exist (or is ""), stay uid 0 but still drop
 * every capability except CAP_NET_ADMIN.  Not root at all: nothing to do.
 * Returns 0 or IPOP_EPERM/IPOP_ESYS with a sentence in why. */
int tc_drop_privileges(const char *user, char *why, size_t whylen);

#endif
