/* The "Control" section of config.json, shared by both daemons and ipopctl:
 * where each daemon's control socket is and which key authenticates it.
 *   "Control": { "Tincan": "127.0.0.1:5800", "Controller": "127.0.0.1:5801",
 *                "KeyFile": "/etc/ipop/control.key" } */
#ifndef IPOP_PROTO_CTL_CONFIG_H
#define IPOP_PROTO_CTL_CONFIG_H

#include <sys/socket.h>

#include "jbind.h"
#include "messages.h"

#define CTL_DEFAULT_KEY_FILE "/etc/ipop/control.key"

struct ctl_config {
  char tincan[CTL_HOSTPORT_LEN];
  char controller[CTL_HOSTPORT_LEN];
  char key_file[CTL_PATH_LEN];
};

extern const struct jb_schema ctl_config_schema;

/* Resolve both endpoints (loopback only).  Errors name "Control.Tincan" or
 * "Control.Controller". */
int ctl_config_resolve(const struct ctl_config *c, struct sockaddr_storage *tincan,
                       struct sockaddr_storage *controller, struct jb_error *err);

#endif
