/* Groups over XMPP rooms: what groups.c (state, XMPP events, groups.json)
 * and groups_admin.c (the ipopctl requests) share.  docs/groups.md. */
#ifndef IPOP_CONTROLLER_GROUPS_H
#define IPOP_CONTROLLER_GROUPS_H

#include "controller.h"
#include "muc.h"

enum {
  GRP_MAX_PENDING = 32,             /* ipopctl requests waiting for XMPP */
  GRP_REPLY_MS = 4000,              /* answer by then (ipopctl waits 5 s) */
  GRP_TICK_MS = 250,
  GRP_FILE_MAX = 256 * 1024,        /* groups.json */
};

#define GRP_FILE "groups.json"
/* Default subnets: a free /24 of this /16, picked by a hash of the room. */
#define GRP_POOL "10.253.0.0"
#define GRP_POOL_PREFIX 16

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
  int room_idx;                     /* the registry's room (its occupants) */
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

/* groups.c: the groups' life and their XMPP events */
/* Records and overlays of the groups in StateDir/groups.json. */
int ctrl_groups_init(struct ctrl *c, char *why, size_t whylen);
/* The XMPP client exists: MUC service, rejoin the remembered rooms. */
void ctrl_groups_start(struct ctrl *c);
/* Shutdown: answer waiting requests, close the timer. */
void ctrl_groups_stop(struct ctrl *c);
void ctrl_groups_free(struct ctrl *c);
void ctrl_groups_callbacks(struct xmpp_callbacks *cbs);
void ctrl_groups_on_online(struct ctrl *c);
/* An on_result of the XMPP client about rooms or blocking. */
void ctrl_groups_on_result(struct ctrl *c, const struct xmpp_result *r);

struct ctrl_group *grp_by_name(struct ctrl *c, const char *name);
struct ctrl_group *grp_by_room(struct ctrl *c, const char *room);
/* A new group record (state joining) or NULL with why. */
struct ctrl_group *grp_new(struct ctrl *c, const char *name, const char *room_jid, int role,
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

/* groups_admin.c: the ipopctl requests of docs/groups.md */
void ctrl_handle_groups(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                        void *ctx);
void ctrl_handle_group_create(struct ctl_endpoint *ep, struct ctl_request *req,
                              const void *body, void *ctx);
void ctrl_handle_group_invite(struct ctl_endpoint *ep, struct ctl_request *req,
                              const void *body, void *ctx);
void ctrl_handle_group_join(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                            void *ctx);
void ctrl_handle_group_leave(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                             void *ctx);
void ctrl_handle_group_remove(struct ctl_endpoint *ep, struct ctl_request *req,
                              const void *body, void *ctx);
void ctrl_handle_block(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                       void *ctx);
void ctrl_handle_unblock(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                         void *ctx);
void ctrl_handle_blocklist(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                           void *ctx);

#endif
