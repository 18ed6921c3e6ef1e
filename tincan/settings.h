/* ipop-tincan's part of the node's config.json (docs/configuration.md):
 * the shared "Control" section, its own "Tincan" section; "Controller" is
 * the other daemon's and only checked to be an object.  Decoded with jbind,
 * so every error names its key path. */
#ifndef IPOP_TINCAN_SETTINGS_H
#define IPOP_TINCAN_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "ctl_config.h"
#include "jbind.h"

#define TC_DEFAULT_CONFIG "/etc/ipop/config.json"
#define TC_DEFAULT_IDENTITY_FILE "/var/lib/ipop/tincan-identity.pem"
#define TC_DEFAULT_USER "ipop"

struct tc_section {
  char user[64];            /* "" : stay root (with CAP_NET_ADMIN only) */
  char controller_user[64]; /* owner of a newly created key file, "" none */
  char identity_file[256];
  uint32_t rekey_interval;  /* s: new link keys at least this often (rekey.h) */
  struct ipop_log_config log;
};

struct tc_config {
  struct ctl_config control;
  struct tc_section tincan;
};

extern const struct jb_schema tc_config_schema;

void tc_config_defaults(struct tc_config *c);
int tc_config_parse(const char *buf, size_t len, struct tc_config *c, struct jb_error *err);
int tc_config_load(const char *path, struct tc_config *c, struct jb_error *err);

#endif
