/* tincan.json: the daemon's own settings (PascalCase keys, decoded with
 * jbind so every error names its key path). */
#ifndef IPOP_TINCAN_SETTINGS_H
#define IPOP_TINCAN_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "jbind.h"

#define TC_DEFAULT_KEY_FILE "/etc/ipop/control.key"
#define TC_DEFAULT_IDENTITY_FILE "/var/lib/ipop/tincan-identity.pem"
#define TC_DEFAULT_USER "ipop"

struct tc_config_control {
  char address[64];
  uint32_t port;
};

struct tc_config {
  struct tc_config_control control;
  char key_file[256];
  char controller_user[64]; /* owner of a newly created key file, "" none */
  char identity_file[256];
  char user[64];           /* "" : do not switch user */
  struct ipop_log_config log;   /* "Log": {"Level", "File"} */
};

extern const struct jb_schema tc_config_schema;

/* Defaults only. */
void tc_config_defaults(struct tc_config *c);
/* Parse the JSON text in buf; errors name the key path
 * (e.g. "Control.Port: ..."). */
int tc_config_parse(const char *buf, size_t len, struct tc_config *c, struct jb_error *err);
/* Read and parse path. */
int tc_config_load(const char *path, struct tc_config *c, struct jb_error *err);

#endif
