/* Groups over XMPP rooms: what groups.c (state, XMPP events, groups.json)
 * and groups_admin.c (the ipopctl requests) share.  docs/groups.md. */
#ifndef IPOP_CONTROLLER_GROUPS_H
#define IPOP_CONTROLLER_GROUPS_H

#include "controller.h"
#include "muc.h"

enum {
  GRP_MAX_OCCUPANTS = 256,          /* occupants tracked per room */
  GRP_MAX_PENDING = 32,             /* ipopctl requests waiting for XMPP */
  GRP_REPLY_MS = 4000,              /* answer by then (ipopctl waits 5 s) */
  GRP_TICK_MS = 250,
  GRP_FILE_MAX = 256 * 1024,        /* groups.json */
};

#define GRP_FILE "groups.json"
/* Default subnets: a free /24 of this /16, picked by a hash of the room. */
#define GRP_POOL "10.253.0.0"
#define GRP_POOL_PREFIX 16

struct grp_occupant {
  char jid[CTRL_JID_LEN];           /* real full JID */
  char node_id[NODEID_BUF];         /* "" when it announced none (a chat client) */
  bool seen;                        /* since we (re)joined */
  uint64_t stale_ms;                /* not back after our rejoin since then (0: fresh) */
};

struct ctrl_group {
  struct ctrl *c;
  char name[CTL_GROUP_NAME_LEN];
  char room[CTRL_JID_LEN];          /* bare room JID, lower case */
  char subnet[CTL_SUBNET_LEN];      /* "" until known */
  int role;                         /* enum ctl_group_role */
  int state;                        /* enum ctl_group_state */
  char error[CTL_REASON_LEN];
  int tap_index;
  bool creating;                    /* group_create: we chose the subnet */
  struct ctrl_net *net;             /* once the subnet is known */
  struct grp_occupant *occ;         /* GRP_MAX_OCCUPANTS */
  size_t n_occ;
};

enum grp_wait { GRP_WAIT_GROUP, GRP_WAIT_RESULT, GRP_WAIT_INVITE };

/* An ipopctl request answered when XMPP says how it went. */
struct grp_pending {
  int kind;                         /* enum grp_wait; 0 slot free if !req */
  struct ctl_request *req;
  int op;                           /* GRP_WAIT_RESULT/INVITE: enum xmpp_op */
  char room[CTRL_JID_LEN];
  char jid[CTRL_JID_LEN];
  uint64_t deadline_ms;
};

struct ctrl_groups {
  struct ctrl_group *g[CTRL_MAX_NETS];
  size_t n;
  struct ctl_invitation inv[CTL_MAX_INVITATIONS];
  size_t n_inv;
  struct grp_pending pend[GRP_MAX_PENDING];
  uv_timer_t timer;
};

/* groups.c */
struct ctrl_group *grp_by_name(struct ctrl *c, const char *name);
struct ctrl_group *grp_by_room(struct ctrl *c, const char *room);
/* A new group record (state joining) or NULL with why. */
struct ctrl_group *grp_new(struct ctrl *c, const char *name, const char *room, int role,
                           char *why, size_t whylen);
/* Leave the room (if in it), remove the overlay, forget the group. */
void grp_forget(struct ctrl_group *g, bool leave_room);
int grp_start_join(struct ctrl_group *g);
void grp_fill(const struct ctrl_group *g, struct ctl_group *out);
void grp_save(struct ctrl *c);
bool grp_name_valid(const char *name);
/* "user@domain" (lower-cased into out); false if not a bare JID. */
bool grp_bare_jid(const char *in, char *out, size_t outlen);
/* A block list item: a bare JID, or a domain with a dot (everyone there),
 * lower-cased into out; false if it is neither. */
bool grp_block_item(const char *in, char *out, size_t outlen);
/* The localpart of a room JID if it is a valid group name. */
bool grp_room_name(const char *room, char *name, size_t len);
/* Subnet text valid for a group, and free among our overlays. */
int grp_check_subnet(struct ctrl *c, const struct ctrl_group *self, const char *subnet,
                     char *why, size_t whylen);
void grp_pick_subnet(struct ctrl *c, const char *room, char *out, size_t len);
struct grp_pending *grp_wait(struct ctrl *c, struct ctl_request *req, int kind, int op,
                             const char *room, const char *jid);
void grp_settle(struct ctrl_group *g);

#endif
