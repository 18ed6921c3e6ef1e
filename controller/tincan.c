/* Requests to ipop-tincan (tincan.h): typed messages over the control
 * socket, and the TURN passwords read once at start. */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "pwfile.h"
#include "tincan.h"

int ctrl_tincan_send(struct ctrl *c, const char *name, const void *body, uint32_t timeout_ms,
                     ctl_response_cb cb, void *ctx)
{
  if (!c->ep)
    return IPOP_ESTATE;
  const struct ctl_msg_desc *m = ctl_msg_find(ctl_tincan_messages, ctl_tincan_messages_count,
                                              name);
  if (!m)
    return IPOP_EINTERNAL;
  return ctl_request_send(c->ep, (struct sockaddr *)&c->tincan_addr, m, body, timeout_ms, cb,
                          ctx);
}

/* TURN passwords live in their own 0600 files (never in config.json).  They
 * are read once at start, since the controller may not reach them later. */
int ctrl_load_turn_passwords(struct ctrl *c, char *why, size_t whylen)
{
  const struct ctrl_overlay_cfg *o = &c->cfg.ctrl.overlay;
  c->n_turn = 0;
  for (uint32_t i = 0; i < o->n_turn; i++) {
    char w[POLICY_WHY_LEN];
    struct ctl_turn_server *t = &c->turn[c->n_turn];
    /* mode 0600 or stricter, owned by us (pwfile.h) */
    int rc = pwfile_read(o->turn[i].password_file, t->password, sizeof t->password, w, sizeof w);
    if (rc) {
      snprintf(why, whylen, "Controller.Overlay.Turn[%u].PasswordFile: %s", i, w);
      return rc;
    }
    c->n_turn++;
    snprintf(t->address, sizeof t->address, "%s", o->turn[i].address);
    snprintf(t->user, sizeof t->user, "%s", o->turn[i].user);
    t->transport = o->turn[i].transport;
  }
  return 0;
}

