#include "ctl_config.h"
#include "ctl.h"
#include "error.h"

#include <stdio.h>
#include <string.h>

#define T struct ctl_config
static const struct jb_field ctl_config_f[] = {
  JB_F_STR(T, tincan, "Tincan", 0, 1, "127.0.0.1:5800"),
  JB_F_STR(T, controller, "Controller", 0, 1, "127.0.0.1:5801"),
  JB_F_STR(T, key_file, "KeyFile", 0, 1, CTL_DEFAULT_KEY_FILE),
};
const struct jb_schema ctl_config_schema = JB_SCHEMA("Control", T, ctl_config_f);
#undef T

static int resolve_one(const char *key, const char *text, struct sockaddr_storage *ss,
                       struct jb_error *err)
{
  int rc = ctl_parse_endpoint(text, ss, 0);
  if (rc == 0)
    return 0;
  err->code = IPOP_EFIELD;
  snprintf(err->path, sizeof err->path, "Control.%s", key);
  snprintf(err->msg, sizeof err->msg, "Control.%s: %s, found \"%.60s\"", key,
           rc == IPOP_EPERM ? "the control socket must be on loopback (127.0.0.0/8 or ::1)"
                            : "expected HOST:PORT or [IPV6]:PORT",
           text);
  return IPOP_EFIELD;
}

int ctl_config_resolve(const struct ctl_config *c, struct sockaddr_storage *tincan,
                       struct sockaddr_storage *controller, struct jb_error *err)
{
  memset(err, 0, sizeof *err);
  int rc = resolve_one("Tincan", c->tincan, tincan, err);
  return rc ? rc : resolve_one("Controller", c->controller, controller, err);
}
