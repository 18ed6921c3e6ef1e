/* State files that survive crashes, full disks and damage.
 *
 * A state file (node_id, addrpool.json, groups.json, known_nodes) is
 * replaced atomically through fileio (a crash leaves the old or the new
 * contents, never a mix), and the generation it replaces is kept as
 * PATH.bak (a hard link to the old file: no copy, no space; the new
 * contents go to a new file, so the two never share their bytes).  At
 * start, a file that cannot be read or does not parse is reported by name
 * and, when PATH.bak parses, replaced by it with a warning; the damaged
 * file is kept as PATH.bad for inspection.  A failed write (e.g. a full disk) leaves PATH as it was. */
#ifndef IPOP_STATEFILE_H
#define IPOP_STATEFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Parse the text of a state file into ctx.  path is the file actually read
 * (PATH or PATH.bak: name it in errors), mode its permission bits.  On
 * failure return an IPOP_E* code with a sentence in why, and leave ctx as it
 * was (it may be called again with the other copy). */
typedef int (*ipop_state_parse_fn)(void *ctx, const char *path, char *text, size_t len,
                                   mode_t mode, char *why, size_t whylen);

/* Load PATH (at most max bytes) through parse.  0 when PATH or, failing
 * that, PATH.bak parsed (the latter with a warning in the log, PATH restored
 * from it); IPOP_ENOENT when neither exists (first start); otherwise the
 * error of PATH, with why naming PATH (and why PATH.bak could not help).
 * Temporary files an interrupted write left next to PATH are removed first
 * (call it at start, before any write of PATH). */
int ipop_state_load(const char *path, size_t max, ipop_state_parse_fn parse, void *ctx,
                    char *why, size_t whylen);

/* Keep the current PATH (if any) as PATH.bak, then replace PATH atomically
 * with data.  On failure PATH is unchanged; why names PATH and the cause. */
int ipop_state_write(const char *path, const void *data, size_t len, mode_t mode, char *why,
                     size_t whylen);

/* Copy PATH (at most max bytes) to PATH.bak if there is none yet (a file
 * created before backups existed, or by ipop_file_create_atomic). */
void ipop_state_keep(const char *path, size_t max);

/* Move a damaged PATH aside to PATH.bad (before its replacement is
 * written, so that the damage is neither lost nor kept as PATH.bak). */
int ipop_state_set_aside(const char *path, char *why, size_t whylen);

#endif
