#include "settings.h"
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "log.h"

#define T struct tc_config_control
static const struct jb_field control_f[] = {
  JB_F_STR(T, address, "Address", 0, 1, "127.0.0.1"),
  JB_F_U32(T, port, "Port", 0, 1, 65535, 5800),
};
static const struct jb_schema control_schema = JB_SCHEMA("Control", T, control_f);
#undef T

#define T struct tc_config
static const struct jb_field config_f[] = {
  JB_F_OBJ(T, control, "Control", 0, &control_schema),
  JB_F_STR(T, key_file, "KeyFile", 0, 1, TC_DEFAULT_KEY_FILE),
  JB_F_STR(T, controller_user, "ControllerUser", 0, 0, ""),
  JB_F_STR(T, identity_file, "IdentityFile", 0, 1, TC_DEFAULT_IDENTITY_FILE),
  JB_F_STR(T, user, "User", 0, 0, TC_DEFAULT_USER),
  JB_F_OBJ(T, log, "Log", 0, &ipop_log_config_schema),
};
const struct jb_schema tc_config_schema = JB_SCHEMA("tincan configuration", T, config_f);
#undef T

void tc_config_defaults(struct tc_config *c)
{
  memset(c, 0, sizeof *c);
  jb_defaults(&tc_config_schema, c);
}

int tc_config_parse(const char *buf, size_t len, struct tc_config *c, struct jb_error *err)
{
  return ipop_config_parse("tincan.json", buf, len, &tc_config_schema, c, err);
}

int tc_config_load(const char *path, struct tc_config *c, struct jb_error *err)
{
  return ipop_config_load(path, &tc_config_schema, c, err);
}
