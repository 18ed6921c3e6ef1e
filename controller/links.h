/* The executor: who may be linked on each overlay (asking the registry),
 * topology planning, carrying out negotiation actions (signals out,
 * requests to tincan) and tincan's link events.  Every function works on
 * one ctrl_net or on all of them. */
#ifndef IPOP_CONTROLLER_LINKS_H
#define IPOP_CONTROLLER_LINKS_H

#include "controller.h"

/* Execute and clear n->acts, then re-arm the negotiation timer. */
void ctrl_run_actions(struct ctrl_net *n);
/* The overlay was (re)created: tell negotiation, start over all links. */
void ctrl_overlay_ready(struct ctrl_net *n);
/* Re-evaluate who may be linked on every overlay, plan, and let the
 * registry expire what nobody needs any more. */
void ctrl_membership_changed(struct ctrl *c);
void ctrl_net_membership(struct ctrl_net *n);
/* Cancel every link of the nodes of bare_jid, or of everyone on that
 * domain (before a block, while our signals still reach them), or of one
 * node (node_id not NULL; after an untrust). */
void ctrl_cancel_links_of(struct ctrl *c, const char *bare_jid, const char *node_id);
void ctrl_plan(struct ctrl_net *n);
void ctrl_plan_timer_cb(uv_timer_t *t);
/* The node came (back) under a new full JID, or was trusted: attempts
 * that wait out a backoff or gave up start over. */
void ctrl_restart_stale(struct ctrl *c, const struct reg_node *node);
/* Cancel n's links, remove it from tincan, forget it. */
void ctrl_net_remove(struct ctrl_net *n);
/* tincan events */
void ctrl_on_link_state(struct ctrl_net *n, const struct ctl_ev_link_state *ev);
void ctrl_on_unknown_dest(struct ctrl_net *n, const struct ctl_ev_unknown_dest *ev);
void ctrl_on_stats(struct ctrl *c, const struct ctl_link_stats *st);
/* Registry hooks: a node is freed (forget its links); is it in use? */
void ctrl_node_gone(void *ctx, const struct reg_node *node);
bool ctrl_node_busy(void *ctx, const struct reg_node *node);

#endif
