/* GroupVPN address conflicts (roster groups and groups over rooms). */
#ifndef IPOP_CONTROLLER_GROUP_H
#define IPOP_CONTROLLER_GROUP_H

#include "controller.h"

/* Compare our address with the members' (caps, room presence, negotiation);
 * the larger node id yields: a derived address is derived again and the
 * overlay re-created. */
void ctrl_group_check_conflicts(struct ctrl_net *n);

#endif
