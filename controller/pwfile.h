/* Password files (TURN servers): the secret a config.json entry points
 * to.  Like the XMPP password file, it must be a regular file (not a
 * symlink), mode 0600 or stricter, and owned by the user the controller
 * runs as: a password that other local users can read, or that someone
 * else can rewrite, is not ours to use. */
#ifndef IPOP_CONTROLLER_PWFILE_H
#define IPOP_CONTROLLER_PWFILE_H

#include <stddef.h>

/* Read the first line (trailing CR/LF removed) into out (outlen bytes,
 * the password must leave room for the NUL).  Returns 0, or
 * IPOP_ENOENT / IPOP_ESYS (cannot open or read), IPOP_EPERM (mode or
 * owner), IPOP_EFIELD (empty, too long, NUL byte); why then gets a
 * sentence naming the file and the fix.  out is wiped on error. */
int pwfile_read(const char *path, char *out, size_t outlen, char *why, size_t whylen);

#endif
