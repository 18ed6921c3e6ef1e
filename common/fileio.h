/* Small state files: read whole, replace atomically.
 *
 * Every state file of the daemons (node id, address pool, groups, known
 * nodes, ...) is written through ipop_file_write_atomic(): a reader, or a
 * crash at any moment, sees either the old or the new contents, never a
 * mix or a truncated file. */
#ifndef IPOP_FILEIO_H
#define IPOP_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Replace path atomically: write a temporary file in the same directory,
 * chmod it to mode, fsync it, rename it over path, fsync the directory.
 * Returns 0 or IPOP_E*; why (may be NULL) gets a sentence naming the file. */
int ipop_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                           char *why, size_t whylen);

/* Like ipop_file_write_atomic, but never replaces an existing path:
 * IPOP_EEXIST if it exists (another process won the race). */
int ipop_file_create_atomic(const char *path, const void *data, size_t len, mode_t mode,
                            char *why, size_t whylen);

/* Remove the temporary files that writes of path interrupted by a crash
 * left next to it (this module's "PATH.tmp.XXXXXX", and "PATH<also>" if
 * also is not NULL), logging each.  Call it at start, before path is
 * written.  Returns how many were removed. */
int ipop_file_remove_temps(const char *path, const char *also);

/* Read a whole regular file of at most max bytes into a NUL-terminated heap
 * buffer (*out, caller frees; symlinks are refused).  IPOP_ENOENT if it does
 * not exist, IPOP_ETOOBIG above max, IPOP_ESYS otherwise.  *mode (may be
 * NULL) gets the file's permission bits. */
int ipop_file_read(const char *path, size_t max, char **out, size_t *len, mode_t *mode,
                   char *why, size_t whylen);

#endif
