/* ipop-controller's shared context: the configuration and the one struct
 * that owns every handle and table.  Each file's functions are declared in
 * its own header; imports go one way (docs/controller.md, "Files"):
 *
 *   registry.c registry_rules.c trust.c   who is who (no other controller file)
 *   tincan.c   requests to ipop-tincan
 *   social.c   SocialVPN address pool, mapping, hosts file
 *   net.c      overlays and their links (keyed by node id)
 *   group.c    GroupVPN address conflicts
 *   links.c    the executor: membership, planning, negotiation actions,
 *              tincan's link events
 *   overlay.c  heartbeat, (re)creating overlays, tincan's events
 *   identity.c our identity on PEP, known_nodes requests from ipopctl
 *   peers.c    XMPP callbacks into the registry
 *   groups.c groups_admin.c   groups over XMPP rooms, blocking requests
 *   admin.c    requests from ipopctl;  main.c   start and shutdown */
#ifndef IPOP_CONTROLLER_H
#define IPOP_CONTROLLER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "addr6.h"
#include "addrpool.h"
#include "config.h"
#include "ctl.h"
#include "ctl_config.h"
#include "groupaddr.h"
#include "negotiate.h"
#include "nodeid.h"
#include "registry.h"
#include "topology.h"
#include "routing.h"
#include "xmpp.h"

enum {
  CTRL_HEARTBEAT_MS = 5000,       /* tincan echo period while it is up */
  CTRL_HEARTBEAT_FAST_MS = 1000,  /* ... and while it is not (yet) */
  CTRL_MAX_PEERS = REG_MAX_NODES,  /* links tracked per overlay */
  CTRL_MAX_ROSTER = XMPP_ROSTER_MAX,
  CTRL_JID_LEN = 512,             /* full JIDs we keep (longer ones are ignored) */
  CTRL_GROUP_LEN = 256,
  CTRL_MAX_NAMES = 64,            /* Controller.Names entries */
  CTRL_DOWN_GRACE_MS = 20000,     /* a link down this long is negotiated anew */
  /* A peer whose presence went away keeps an up link this long: an XMPP
   * server restart must not cut the overlay.  A link that goes down while
   * the peer is offline is dropped at once. */
  CTRL_OFFLINE_GRACE_MS = REG_GRACE_MS,
  CTRL_MAX_NETS = 16,               /* overlays at once (tincan's TC_MAX_OVERLAYS) */
  CTRL_LINK_BUCKETS = 1024,         /* hash buckets of a net's links */
  CTRL_ADDR6_ATTEMPTS = 15,         /* derivation attempts a member's IPv6 address may be */
};

enum ctrl_mode { CTRL_MODE_GROUP = 0, CTRL_MODE_SOCIAL = 1 };
extern const char *const ctrl_mode_names[];

struct ctrl_turn_cfg {
  char address[CTL_HOSTPORT_LEN];
  char user[CTL_USER_LEN];
  char password_file[CTL_PATH_LEN]; /* mode 0600; the password never sits in config.json */
  int transport;                    /* enum ctl_turn_transport */
};

/* Controller.Overlay.PeerRelay: one peer's relay policy. */
struct ctrl_peer_relay_cfg {
  char jid[CTRL_JID_LEN];           /* bare JID */
  int relay;                        /* enum ctl_relay_policy */
};

struct ctrl_overlay_cfg {
  char id[CTL_ID_LEN];
  char tap_name[CTL_IFNAME_LEN];
  char subnet[64];                  /* "10.254.0.0/24" */
  struct in_addr address;           /* group: optional (derived); social: optional (first host) */
  bool has_address;
  char subnet6[ADDR6_TEXT_LEN];     /* "" = a ULA /64 from the id (addr6.h); "none" = no IPv6 */
  struct in6_addr address6;         /* group: optional (derived) */
  bool has_address6;
  uint32_t mtu;
  char stun[CTL_MAX_STUN][CTL_HOSTPORT_LEN];
  uint32_t n_stun;
  struct ctrl_turn_cfg turn[CTL_MAX_TURN];
  uint32_t n_turn;
  int relay;                        /* enum ctl_relay_policy: every link's default */
  struct ctrl_peer_relay_cfg peer_relay[CTRL_MAX_NAMES];
  uint32_t n_peer_relay;
  int forwarding;                   /* enum ctrl_onoff: carry other members' frames */
};

/* "on" | "off" settings. */
enum ctrl_onoff { CTRL_ON = 0, CTRL_OFF = 1 };
extern const char *const ctrl_onoff_names[];

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
  int forwarding;                   /* enum ctrl_onoff, for every room group */
};

/* Controller.Http (http.c): /metrics and the overlay map. */
struct ctrl_http_cfg {
  char listen[CTL_HOSTPORT_LEN];    /* "127.0.0.1:9587", "[::1]:9587"; "" = off */
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
  uint64_t heavy_pair_bytes;        /* routed bytes within ... */
  uint32_t heavy_pair_window;       /* ... seconds that open a direct link */
  struct ctrl_groups_cfg groups;
  bool has_groups;
  int trust;                        /* enum reg_trust_mode */
  struct ctrl_http_cfg http;
};

struct ctrl_config {
  struct ctl_config control;
  struct ctrl_section ctrl;
};

/* Load and check the whole file (errors name the key path). */
int ctrl_config_load(const char *path, struct ctrl_config *cfg, struct jb_error *err);
/* The overlay's IPv6 subnet: Subnet6, or the ULA of its id; IPOP_ENOENT
 * for "none"; IPOP_EINVAL (why filled) for a bad Subnet6. */
int ctrl_overlay_subnet6(const struct ctrl_overlay_cfg *o, struct addr6_subnet *out, char *why,
                         size_t whylen);
/* Parse "a.b.c.d/len"; IPOP_EINVAL on bad text or host bits set. */
int ctrl_parse_subnet(const char *text, struct in_addr *net, uint32_t *prefix);
/* Parse Http.Listen: "a.b.c.d:port", "[v6]:port" or "localhost:port".
 * IPOP_EINVAL with a sentence in why. */
int ctrl_parse_listen(const char *text, struct sockaddr_storage *out, char *why, size_t whylen);

/* One peer node on one overlay (per overlay, keyed by the node id; the
 * node itself is the registry's): membership, what negotiation told us of
 * its TAP, and tincan's view of the link. */
struct ctrl_link {
  char peer[NODEID_BUF];
  bool member;                      /* allowed on this overlay: a link may exist */
  /* learnt from negotiation (the peer's own TAP) or roster caps */
  uint8_t mac[6];
  struct in_addr ip4;
  bool has_ip4;
  struct in_addr mapped_ip4;        /* SocialVPN: its address in our subnet */
  bool has_mapped;
  struct in6_addr ip6;              /* the same for IPv6 (caps "ip6=", or link.ip6) */
  bool has_ip6;
  struct in6_addr mapped_ip6;
  bool has_mapped6;
  struct in6_addr refused6;         /* GroupVPN: a claim of another node's address */
  bool has_refused6;                /* (ctrl_ip6_peer_claims ignores it from now on) */
  /* from tincan (events and stats) */
  int link_state;                   /* enum ctl_link_state, -1 = no link */
  int pair_type;
  uint32_t rtt_us;
  uint64_t tx_bytes, rx_bytes;
  uint64_t tx_packets, rx_packets, drops, spoofed, rekeys; /* (metrics) */
  char remote_addr[CTL_HOSTPORT_LEN]; /* the selected pair's far end */
  uint64_t rate_ms, rate_bytes;     /* tx + rx bytes at rate_ms ... */
  uint64_t bytes_per_s;             /* ... and the throughput since the one before */
  uint64_t up_ms;                   /* when the link came up */
  char reason[CTL_REASON_LEN];      /* tincan's last down/failed reason */
  uint64_t heavy_base, heavy_ms;    /* routed bytes to it at the window's start, and when */
  uint64_t rt_sent_sum;             /* the routes vector it got from us last (0: none) */
  uint64_t rt_rx_ms;                /* its last routes vector came (0: never) */
  uint64_t gap_ms;                  /* a member without a link up since (0: up) */
  bool rt_sync;                     /* its link changed: our next vector asks for its own */
  struct ctrl_link *hnext;          /* (hash chain) */
  size_t idx;                       /* (position in links[]) */
};

enum ctrl_net_kind {
  CTRL_NET_ROSTER = 0,              /* Controller.Overlay, roster group (GroupVPN) */
  CTRL_NET_SOCIAL = 1,              /* Controller.Overlay, SocialVPN */
  CTRL_NET_MUC = 2,                 /* a group over an XMPP room (groups.c) */
};

struct ctrl_group;

/* One overlay (one TAP in tincan) and everything that belongs to it: its
 * tincan state, its address, negotiation and topology, and its links.
 * The configured overlay is c->nets[0]; group overlays come and go.
 * Requests and answers find it again through a struct ctrl_net_ref
 * (net.h). */
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
  bool has_ip6;                     /* dual stack (ip6.c) */
  bool fixed_address6;              /* Address6 configured */
  struct in6_addr ip6;              /* our overlay IPv6 address */
  struct addr6_subnet net6;
  uint32_t addr6_attempt;           /* addr6 derivation attempt */
  char conflict[CTL_REASON_LEN];    /* address conflict involving us, "" if none */

  struct negotiate *neg;
  struct topology *topo;            /* GroupVPN (roster and MUC) */
  struct routing *rt;               /* GroupVPN forwarding (routes.c) */
  bool rt_installed;                /* tincan has a non-empty table */
  uint64_t rt_sum, rt_nb_sum;       /* last table / neighbour set (to skip repeats) */
  uint64_t rt_bad;                  /* routes signals refused */
  uint64_t rt_sent_ms;              /* our vectors last went out */
  bool rt_pending;                  /* vectors wait for ROUTES_SEND_MS */
  bool rt_gap_young;                /* a full mesh's gap not ROUTES_GAP_MS old yet */
  struct addrpool *pool;            /* SocialVPN */
  struct neg_actions acts;
  uv_timer_t neg_timer;
  struct ctrl_link **links;         /* CTRL_MAX_PEERS, dense (net.h) */
  size_t n_links;
  struct ctrl_link *lbucket[CTRL_LINK_BUCKETS];
  struct ctrl_group *grp;           /* CTRL_NET_MUC: the group (groups.c) */
  int room;                         /* CTRL_NET_MUC: the registry's room index */
};

struct ctrl {
  uv_loop_t *loop;
  struct ctrl_config cfg;
  char node_id[NODEID_BUF];
  struct ctl_endpoint *ep;
  struct sockaddr_storage tincan_addr, ctrl_addr;
  uv_timer_t heartbeat, plan_timer, routes_timer;
  bool routes_soon;                 /* routes_timer runs in ROUTES_SOON_MS */
  bool routes_refresh_armed;        /* ... or is the ROUTES_REFRESH_MS one */
  unsigned routes_refreshes;        /* refresh runs, for ROUTES_RESEND_EVERY */
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

  /* XMPP, and who is who */
  struct xmpp_client *xmpp;
  int xmpp_state;                   /* enum xmpp_state */
  bool roster_full_read;
  struct registry *reg;             /* registry.h: the one owner of identity */
  struct ctrl_groups *groups;       /* groups.c */
  struct ctrl_http *http;           /* http.c: /metrics and the map */
  struct ctrl_held *held;           /* peers.c: signals held while their sender's
                                       published identity is read */
  size_t n_held;
  uint64_t pep_republished_ms;      /* identity.c: our item put back */
  uint64_t pep_retry_ms;            /* ... publishing failed: again then */
  uint32_t pep_failures;

  /* counters */
  uint64_t bad_signals, tincan_errors, links_created, unknown_dest_events;
  uint64_t addr_claims_refused;     /* group.c: IPv6 addresses claimed from their owner */
};

#endif
