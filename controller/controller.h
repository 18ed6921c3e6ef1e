/* ipop-controller's shared context: the configuration, the one struct that
 * owns every handle and table, and the functions the files of the
 * controller export to each other.
 *
 *   config.c         the Controller section of config.json (jbind schema)
 *   tincan_client.c  requests to ipop-tincan, the heartbeat, (re)creating
 *                    the overlay, tincan's events
 *   net.c            overlays: the configured one and group overlays
 *   signal.c         XMPP callbacks, the peer and roster tables
 *   links.c          membership, topology planning, executing negotiation
 *                    actions, tincan's link events
 *   group.c          GroupVPN address conflicts
 *   groups.c         groups over XMPP rooms (XEP-0045) and blocking (XEP-0191)
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
  CTRL_MAX_NETS = 16,               /* overlays at once (tincan's TC_MAX_OVERLAYS) */
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

/* Controller.Groups: groups over XMPP rooms (docs/groups.md). */
enum ctrl_accept_invites { CTRL_INVITES_FRIENDS = 0, CTRL_INVITES_LIST = 1, CTRL_INVITES_NONE = 2 };
extern const char *const ctrl_accept_invites_names[];

struct ctrl_groups_cfg {
  char service[256];                /* MUC service; "" = discover */
  int accept_invites;               /* enum ctrl_accept_invites */
  char accept_from[CTRL_MAX_NAMES][CTRL_JID_LEN]; /* bare JIDs (AcceptInvites "list") */
  uint32_t n_accept_from;
  char tap_prefix[CTL_IFNAME_LEN];  /* TAP = prefix + index */
  uint32_t mtu;
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
  struct ctrl_groups_cfg groups;
  bool has_groups;
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

/* A peer node: an online full JID that announced an IPOP node id.  Peers
 * are global (one XMPP account sees them once); what we know about a peer
 * on one overlay lives in that overlay's ctrl_link (same index). */
struct ctrl_peer {
  char node_id[NODEID_BUF];
  char jid[CTRL_JID_LEN];           /* full JID */
  bool online;                      /* presence available */
  struct in_addr caps_ip4;          /* roster GroupVPN: address announced in caps */
  bool has_caps_ip4;
  uint64_t online_ms;               /* when its presence arrived */
  uint64_t offline_ms;              /* when it went unavailable */
};

/* One peer on one overlay: net->links[i] belongs to c->peers[i]. */
struct ctrl_link {
  bool member;                      /* allowed on this overlay: a link may exist */
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
  uint64_t up_ms;                   /* when the link came up */
};

enum ctrl_net_kind {
  CTRL_NET_ROSTER = 0,              /* Controller.Overlay, roster group (GroupVPN) */
  CTRL_NET_SOCIAL = 1,              /* Controller.Overlay, SocialVPN */
  CTRL_NET_MUC = 2,                 /* a group over an XMPP room (groups.c) */
};

struct ctrl_group;

/* One overlay (one TAP in tincan) and everything that belongs to it: its
 * tincan state, its address, negotiation and topology, and its links.
 * The configured overlay is c->nets[0]; group overlays come and go. */
struct ctrl_net {
  struct ctrl *c;
  int kind;                         /* enum ctrl_net_kind */
  char id[CTL_ID_LEN];              /* overlay_id in tincan and in signals */
  char tap_name[CTL_IFNAME_LEN];
  uint32_t mtu;
  bool fixed_address;               /* configured: conflicts are not resolved by us */
  bool ready;                       /* create_overlay answered for this tincan */
  bool pending;                     /* create/remove_overlay in flight */
  bool dead;                        /* being removed: answers must not act */
  uint64_t serial;                  /* unique per net object (c->next_epoch) */
  uint64_t epoch;                   /* unique per (re)creation (c->next_epoch) */
  uint8_t mac[6];
  char fingerprint[CTL_FPR_LEN];
  struct in_addr ip4;               /* our overlay address */
  struct in_addr net;
  uint32_t prefix;
  uint32_t addr_attempt;            /* groupaddr derivation attempt */
  char conflict[CTL_REASON_LEN];    /* address conflict involving us, "" if none */

  struct negotiate *neg;
  struct topology *topo;            /* GroupVPN (roster and MUC) */
  struct addrpool *pool;            /* SocialVPN */
  struct neg_actions acts;
  uv_timer_t neg_timer;
  struct ctrl_link *links;          /* CTRL_MAX_PEERS, parallel to c->peers */
  struct ctrl_group *grp;           /* CTRL_NET_MUC: the group (groups.c) */
};

struct ctrl {
  uv_loop_t *loop;
  struct ctrl_config cfg;
  char node_id[NODEID_BUF];
  struct ctl_endpoint *ep;
  struct sockaddr_storage tincan_addr, ctrl_addr;
  uv_timer_t heartbeat, plan_timer;
  uv_signal_t sigint, sigterm;
  uint64_t started_ms;
  bool stopping;

  /* tincan */
  int tincan_state;                 /* enum ctl_peer_state */
  bool echo_in_flight;
  uint64_t last_echo_ms;
  struct ctl_turn_server turn[CTL_MAX_TURN]; /* with passwords read from files */
  uint32_t n_turn;

  /* overlays: nets[0] is the configured one (when configured) */
  struct ctrl_net *nets[CTRL_MAX_NETS];
  size_t n_nets;
  uint64_t next_epoch;

  /* XMPP */
  struct xmpp_client *xmpp;
  int xmpp_state;                   /* enum xmpp_state */
  bool roster_full_read;
  struct ctrl_contact *roster;
  size_t n_roster;
  struct ctrl_peer *peers;          /* never shrinks: indexes stay valid */
  size_t n_peers;
  struct ctrl_groups *groups;       /* groups.c */

  /* counters */
  uint64_t bad_signals, tincan_errors, links_created, unknown_dest_events, blocked_signals;
};

/* net.c: overlays */
/* A new overlay with its policy (negotiation; topology or address pool)
 * and its address: fixed if has_addr, else derived from our node id
 * (GroupVPN) or the pool (SocialVPN).  tincan creates it at the next
 * heartbeat.  NULL with why on failure. */
struct ctrl_net *ctrl_net_new(struct ctrl *c, int kind, const char *id, const char *tap_name,
                              uint32_t mtu, const char *subnet, const struct in_addr *addr,
                              char *why, size_t whylen);
/* Cancel its links (peers hear of it), remove it from tincan, forget it. */
void ctrl_net_remove(struct ctrl_net *n);
/* At exit, after the loop ended. */
void ctrl_net_free_all(struct ctrl *c);
struct ctrl_net *ctrl_net_by_id(struct ctrl *c, const char *id);
/* The configured overlay (Controller.Overlay) or NULL. */
struct ctrl_net *ctrl_main_net(struct ctrl *c);
static inline struct ctrl_link *ctrl_link_of(struct ctrl_net *n, const struct ctrl_peer *p)
{
  return &n->links[p - n->c->peers];
}
bool ctrl_net_is_group(const struct ctrl_net *n);

/* tincan_client.c */
int ctrl_tincan_send(struct ctrl *c, const char *name, const void *body, uint32_t timeout_ms,
                     ctl_response_cb cb, void *ctx);
void ctrl_heartbeat_cb(uv_timer_t *t);
/* The control socket's permission check: any key holder may send requests
 * (ipopctl is the admin's tool), events only ipop-tincan (Control.Tincan). */
int ctrl_permit(struct ctl_endpoint *ep, const struct sockaddr *from, const char *name,
                char *why, size_t whylen, void *ctx);
void ctrl_on_event(struct ctl_endpoint *ep, const struct sockaddr *from,
                   const struct ctl_msg_desc *m, const void *body, void *ctx);
int ctrl_load_turn_passwords(struct ctrl *c, char *why, size_t whylen);
/* Remove net's overlay from tincan and then re-create it (new address). */
void ctrl_net_recreate(struct ctrl_net *n);

/* signal.c: XMPP callbacks, peer and roster tables */
int ctrl_xmpp_start(struct ctrl *c, char *why, size_t whylen);
struct ctrl_peer *ctrl_peer_by_id(struct ctrl *c, const char *node_id);
struct ctrl_peer *ctrl_peer_by_jid(struct ctrl *c, const char *full_jid);
struct ctrl_contact *ctrl_contact_find(struct ctrl *c, const char *bare_jid);
/* A full JID announced a node id (presence or room occupant): its peer
 * entry (created if new), or NULL (our own id, malformed, table full). */
struct ctrl_peer *ctrl_peer_seen(struct ctrl *c, const char *full_jid, const char *node_id);
/* Is the bare JID part of jid equal to bare? */
bool ctrl_same_bare(const char *jid, const char *bare);
/* Our own presence caps ("ip4=..." of the roster GroupVPN address). */
void ctrl_update_caps(struct ctrl *c);

/* links.c: negotiation actions, membership, planning, tincan events */
/* Execute and clear n->acts, then re-arm the negotiation timer. */
void ctrl_run_actions(struct ctrl_net *n);
/* The overlay was (re)created: tell negotiation, start over all links. */
void ctrl_overlay_ready(struct ctrl_net *n);
/* Re-evaluate who may be linked (roster, presence, rooms, blocking) on
 * every overlay, then plan. */
void ctrl_membership_changed(struct ctrl *c);
void ctrl_net_membership(struct ctrl_net *n);
/* Before a block: cancel the links of that bare JID (or of everyone on
 * that domain) while our signals still reach them. */
void ctrl_cancel_links_of(struct ctrl *c, const char *bare_jid);
void ctrl_plan(struct ctrl_net *n);
void ctrl_plan_timer_cb(uv_timer_t *t);
/* The peer's node came (back) under a new full JID. */
void ctrl_restart_stale(struct ctrl *c, struct ctrl_peer *p);
int ctrl_accept_inbound(void *ctx, const char *peer_id, bool ondemand);
void ctrl_neg_timer_cb(uv_timer_t *t);
/* tincan events */
void ctrl_on_link_state(struct ctrl_net *n, const struct ctl_ev_link_state *ev);
void ctrl_on_unknown_dest(struct ctrl_net *n, const struct ctl_ev_unknown_dest *ev);
void ctrl_on_stats(struct ctrl *c, const struct ctl_link_stats *st);

/* group.c: GroupVPN address conflicts (roster and MUC groups) */
void ctrl_group_check_conflicts(struct ctrl_net *n);

/* social.c */
int ctrl_social_init(struct ctrl_net *n, const struct in_addr *addr, char *why, size_t whylen);
void ctrl_social_on_create_link(struct ctrl_net *n, struct ctrl_peer *p, struct in_addr peer_ip4);
const char *ctrl_hosts_path(const struct ctrl *c, char *buf, size_t len);

/* groups.c: groups over XMPP rooms (docs/groups.md) and blocking */
/* Records and overlays of the groups in StateDir/groups.json. */
int ctrl_groups_init(struct ctrl *c, char *why, size_t whylen);
/* The XMPP client exists: MUC service, rejoin the remembered rooms. */
void ctrl_groups_start(struct ctrl *c);
/* Shutdown: answer waiting requests, close the timer. */
void ctrl_groups_stop(struct ctrl *c);
void ctrl_groups_free(struct ctrl *c);
void ctrl_groups_callbacks(struct xmpp_callbacks *cbs);
/* May peer p be linked on MUC overlay n (an occupant of its room)? */
bool ctrl_group_allows(struct ctrl_net *n, const struct ctrl_peer *p);
/* Is the bare JID of jid on our block list? */
bool ctrl_blocked(struct ctrl *c, const char *jid);
void ctrl_groups_on_online(struct ctrl *c);
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

/* admin.c */
extern const struct ctl_handler ctrl_admin_handlers[];
extern const unsigned ctrl_admin_handlers_count;

#endif
