/* ipop-controller's shared context: the configuration, the one struct that
 * owns every handle and table, and the functions the files of the
 * controller export to each other.
 *
 *   config.c         the Controller section of config.json (jbind schema)
 *   tincan_client.c  requests to ipop-tincan, the heartbeat, (re)creating
 *                    the overlay, tincan's events
 *   signal.c         XMPP callbacks, the peer and roster tables, executing
 *                    negotiation actions
 *   group.c          GroupVPN membership and topology planning
 *   social.c         SocialVPN friends, address pool and hosts file
 *   admin.c          requests from ipopctl (status, peers, links, stats)
 *   main.c           process start and shutdown */
#ifndef IPOP_CONTROLLER_H
#define IPOP_CONTROLLER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "addrpool.h"
#include "config.h"
#include "ctl.h"
#include "ctl_config.h"
#include "groupaddr.h"
#include "negotiate.h"
#include "nodeid.h"
#include "topology.h"
#include "xmpp.h"

enum {
  CTRL_HEARTBEAT_MS = 5000,       /* tincan echo period while it is up */
  CTRL_HEARTBEAT_FAST_MS = 1000,  /* ... and while it is not (yet) */
  CTRL_MAX_PEERS = 1024,          /* peer nodes tracked (online IPOP nodes) */
  CTRL_MAX_ROSTER = XMPP_ROSTER_MAX,
  CTRL_JID_LEN = 512,             /* full JIDs we keep (longer ones are ignored) */
  CTRL_GROUP_LEN = 256,
  CTRL_MAX_NAMES = 64,            /* Controller.Names entries */
  /* A peer whose presence went away keeps an up link this long: an XMPP
   * server restart must not cut the overlay.  A link that goes down while
   * the peer is offline is dropped at once. */
  CTRL_OFFLINE_GRACE_MS = 120000,
};

enum ctrl_mode { CTRL_MODE_GROUP = 0, CTRL_MODE_SOCIAL = 1 };
extern const char *const ctrl_mode_names[];

struct ctrl_turn_cfg {
  char address[CTL_HOSTPORT_LEN];
  char user[CTL_USER_LEN];
  char password_file[CTL_PATH_LEN]; /* mode 0600; the password never sits in config.json */
  int transport;                    /* enum ctl_turn_transport */
};

struct ctrl_overlay_cfg {
  char id[CTL_ID_LEN];
  char tap_name[CTL_IFNAME_LEN];
  char subnet[64];                  /* "10.254.0.0/24" */
  struct in_addr address;           /* group: optional (derived); social: optional (first host) */
  bool has_address;
  uint32_t mtu;
  char stun[CTL_MAX_STUN][CTL_HOSTPORT_LEN];
  uint32_t n_stun;
  struct ctrl_turn_cfg turn[CTL_MAX_TURN];
  uint32_t n_turn;
};

/* SocialVPN: the name a friend gets in the hosts file instead of its JID. */
struct ctrl_name_cfg {
  char jid[CTRL_JID_LEN];           /* bare JID */
  char name[ADDRPOOL_NAME_LEN];
};

struct ctrl_section {
  char state_dir[CTL_PATH_LEN];
  bool allow_root;
  struct ipop_log_config log;
  int mode;                         /* enum ctrl_mode */
  struct xmpp_config xmpp;
  bool has_xmpp;
  struct ctrl_overlay_cfg overlay;
  bool has_overlay;
  char group[CTRL_GROUP_LEN];       /* GroupVPN: the roster group */
  uint32_t link_budget;
  uint32_t link_setup_timeout;      /* seconds per negotiation step */
  char hosts_file[CTL_PATH_LEN];    /* SocialVPN; "" = StateDir/hosts */
  struct ctrl_name_cfg names[CTRL_MAX_NAMES];
  uint32_t n_names;
  uint32_t plan_interval;           /* seconds between topology plans */
  uint32_t ondemand_idle;           /* seconds before an idle on-demand link goes */
};

struct ctrl_config {
  struct ctl_config control;
  struct ctrl_section ctrl;
};

/* Load and check the whole file (errors name the key path). */
int ctrl_config_load(const char *path, struct ctrl_config *cfg, struct jb_error *err);
/* Parse "a.b.c.d/len"; IPOP_EINVAL on bad text or host bits set. */
int ctrl_parse_subnet(const char *text, struct in_addr *net, uint32_t *prefix);

/* A roster contact (bare JID). */
struct ctrl_contact {
  char jid[CTRL_JID_LEN];
  int subscription;                 /* enum xmpp_subscription */
  bool in_group;                    /* member of Controller.Group */
  bool seen;                        /* during a full roster read */
};

/* A peer node: an online full JID that announced an IPOP node id. */
struct ctrl_peer {
  char node_id[NODEID_BUF];
  char jid[CTRL_JID_LEN];           /* full JID */
  bool online;                      /* presence available */
  bool member;                      /* allowed by roster/group: a link may exist */
  /* learnt from negotiation (the peer's own TAP) */
  uint8_t mac[6];
  struct in_addr ip4;
  bool has_ip4;
  struct in_addr mapped_ip4;        /* SocialVPN: its address in our subnet */
  bool has_mapped;
  /* from tincan (events and stats) */
  int link_state;                   /* enum ctl_link_state, -1 = no link */
  int pair_type;
  uint32_t rtt_us;
  uint64_t tx_bytes, rx_bytes;
  uint64_t online_ms;               /* when its presence arrived */
  uint64_t offline_ms;              /* when it went unavailable */
  uint64_t up_ms;                   /* when the link came up */
};

struct ctrl {
  uv_loop_t *loop;
  struct ctrl_config cfg;
  char node_id[NODEID_BUF];
  struct ctl_endpoint *ep;
  struct sockaddr_storage tincan_addr, ctrl_addr;
  uv_timer_t heartbeat, neg_timer, plan_timer;
  uv_signal_t sigint, sigterm;
  uint64_t started_ms;
  bool stopping;

  /* tincan */
  int tincan_state;                 /* enum ctl_peer_state */
  bool echo_in_flight;
  uint64_t last_echo_ms;
  bool overlay_ready;               /* create_overlay answered for this tincan */
  bool overlay_pending;
  uint64_t overlay_epoch;           /* bumped on every (re)creation */
  uint8_t mac[6];
  char fingerprint[CTL_FPR_LEN];
  struct in_addr ip4;               /* our overlay address */
  struct in_addr net;
  uint32_t prefix;
  uint32_t addr_attempt;            /* groupaddr derivation attempt */
  char conflict[CTL_REASON_LEN];    /* GroupVPN address conflict involving us, "" if none */
  struct ctl_turn_server turn[CTL_MAX_TURN]; /* with passwords read from files */
  uint32_t n_turn;

  /* policy */
  struct negotiate *neg;
  struct topology *topo;            /* GroupVPN */
  struct addrpool *pool;            /* SocialVPN */
  struct neg_actions acts;

  /* XMPP */
  struct xmpp_client *xmpp;
  int xmpp_state;                   /* enum xmpp_state */
  bool roster_full_read;
  struct ctrl_contact *roster;
  size_t n_roster;
  struct ctrl_peer *peers;
  size_t n_peers;

  /* counters */
  uint64_t bad_signals, tincan_errors, links_created, unknown_dest_events;
};

/* tincan_client.c */
int ctrl_tincan_send(struct ctrl *c, const char *name, const void *body, uint32_t timeout_ms,
                     ctl_response_cb cb, void *ctx);
void ctrl_heartbeat_cb(uv_timer_t *t);
void ctrl_on_event(struct ctl_endpoint *ep, const struct sockaddr *from,
                   const struct ctl_msg_desc *m, const void *body, void *ctx);
int ctrl_load_turn_passwords(struct ctrl *c, char *why, size_t whylen);

/* signal.c */
int ctrl_xmpp_start(struct ctrl *c, char *why, size_t whylen);
int ctrl_policy_init(struct ctrl *c, char *why, size_t whylen);
/* Execute and clear c->acts, then re-arm the negotiation timer. */
void ctrl_run_actions(struct ctrl *c);
struct ctrl_peer *ctrl_peer_by_id(struct ctrl *c, const char *node_id);
struct ctrl_peer *ctrl_peer_by_jid(struct ctrl *c, const char *full_jid);
struct ctrl_contact *ctrl_contact_find(struct ctrl *c, const char *bare_jid);
/* The overlay was (re)created: tell negotiation, start over all links. */
void ctrl_overlay_ready(struct ctrl *c);
/* Re-evaluate who may be linked (roster, presence), then plan. */
void ctrl_membership_changed(struct ctrl *c);
void ctrl_plan(struct ctrl *c);
void ctrl_plan_timer_cb(uv_timer_t *t);
/* tincan events */
void ctrl_on_link_state(struct ctrl *c, const struct ctl_ev_link_state *ev);
void ctrl_on_unknown_dest(struct ctrl *c, const struct ctl_ev_unknown_dest *ev);
void ctrl_on_stats(struct ctrl *c, const struct ctl_link_stats *st);

/* group.c */
void ctrl_group_check_conflicts(struct ctrl *c);

/* social.c */
int ctrl_social_init(struct ctrl *c, char *why, size_t whylen);
void ctrl_social_on_create_link(struct ctrl *c, struct ctrl_peer *p, struct in_addr peer_ip4);
const char *ctrl_hosts_path(const struct ctrl *c, char *buf, size_t len);

/* admin.c */
extern const struct ctl_handler ctrl_admin_handlers[];
extern const unsigned ctrl_admin_handlers_count;

#endif
