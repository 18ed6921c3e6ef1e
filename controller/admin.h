/* Requests from ipopctl: the handler table of the controller's control
 * socket (admin.c, groups_admin.c, identity.c). */
#ifndef IPOP_CONTROLLER_ADMIN_H
#define IPOP_CONTROLLER_ADMIN_H

#include "controller.h"

extern const struct ctl_handler ctrl_admin_handlers[];
extern const unsigned ctrl_admin_handlers_count;

#endif
