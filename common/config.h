/* Loading a daemon's config.json: size and nesting limits, strict JSON
 * (no duplicate keys), then jbind validation against the daemon's schema.
 * Every error names the file and the key path:
 *   "/etc/ipop/config.json: Overlays[0].Turn[1].Password: expected string, found integer"
 * Keys that start with "//" are comments and are ignored at any level. */
#ifndef IPOP_CONFIG_H
#define IPOP_CONFIG_H

#include <stddef.h>

#include "jbind.h"

#define IPOP_CONFIG_MAX_BYTES (1024 * 1024)
#define IPOP_CONFIG_MAX_DEPTH 32

/* Parse text (len bytes) as a config; name is used in messages. */
int ipop_config_parse(const char *name, const char *text, size_t len,
                      const struct jb_schema *schema, void *out, struct jb_error *err);

/* Read path and parse it.  A missing file is IPOP_ENOENT. */
int ipop_config_load(const char *path, const struct jb_schema *schema, void *out,
                     struct jb_error *err);

/* The "Log" section every daemon has. */
struct ipop_log_config {
  int level;        /* enum ipop_log_level */
  char file[256];   /* "" = stderr only */
};
extern const struct jb_schema ipop_log_config_schema;
/* Apply it to the process logger; returns 0 or IPOP_ESYS with a sentence
 * in why (file not writable, or refused: see ipop_log_set_file). */
int ipop_log_config_apply(const struct ipop_log_config *lc, char *why, size_t whylen);

#endif
