#include "settings.h"

#include <string.h>

#include "rekey.h"

#define T struct tc_section
static const struct jb_field section_f[] = {
  JB_F_STR(T, user, "User", 0, 0, TC_DEFAULT_USER),
  JB_F_STR(T, controller_user, "ControllerUser", 0, 0, ""),
  JB_F_STR(T, identity_file, "IdentityFile", 0, 1, TC_DEFAULT_IDENTITY_FILE),
  JB_F_U32(T, rekey_interval, "RekeyInterval", 0, 1, 86400, TC_REKEY_DEFAULT_INTERVAL_S),
  JB_F_OBJ(T, log, "Log", 0, &ipop_log_config_schema),
};
static const struct jb_schema section_schema = JB_SCHEMA("Tincan", T, section_f);
#undef T

#define T struct tc_config
static const struct jb_field config_f[] = {
  JB_F_OBJ(T, control, "Control", 0, &ctl_config_schema),
  JB_F_OBJ(T, tincan, "Tincan", 0, &section_schema),
  JB_F_FOREIGN("Controller"),
};
const struct jb_schema tc_config_schema = JB_SCHEMA("config", T, config_f);
#undef T

void tc_config_defaults(struct tc_config *c)
{
  memset(c, 0, sizeof *c);
  jb_defaults(&tc_config_schema, c);
}

int tc_config_parse(const char *buf, size_t len, struct tc_config *c, struct jb_error *err)
{
  return ipop_config_parse("config.json", buf, len, &tc_config_schema, c, err);
}

int tc_config_load(const char *path, struct tc_config *c, struct jb_error *err)
{
  return ipop_config_load(path, &tc_config_schema, c, err);
}
