/* ipop-controller: the unprivileged policy daemon.  This file is the
 * process shell: config, control socket, tincan heartbeat, signals. */
#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "admin.h"
#include "error.h"
#include "groups.h"
#include "http.h"
#include "identity.h"
#include "links.h"
#include "log.h"
#include "net.h"
#include "overlay.h"
#include "peers.h"
#include "routes.h"
#include "secret.h"
#include "servers.h"
#include "tincan.h"

#define DEFAULT_CONFIG "/etc/ipop/config.json"

static void close_timer(uv_timer_t *t)
{
  if (t->loop && !uv_is_closing((uv_handle_t *)t)) {
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, NULL);
  }
}

static void finish_shutdown(struct ctrl *c)
{
  struct ctl_endpoint *ep = c->ep;
  c->ep = NULL; /* pending requests fail now; their answers must not act */
  ctl_endpoint_close(ep);
}

static unsigned removals_left;

static void overlay_removed(int status, const void *result, const char *err, void *ctx)
{
  struct ctrl *c = ctx;
  if (status && status != IPOP_ENOENT && status != IPOP_ECONNREFUSED)
    LOG_WARN("controller", "remove_overlay on shutdown: %s", err ? err : ipop_strerror(status));
  if (--removals_left == 0 && c->ep)
    finish_shutdown(c);
}

/* Going away: unavailable presence (XMPP stop), then the overlays are
 * removed from tincan so that peers see their links to us go down at once
 * (the overlays are ours: a new controller re-creates them anyway); then
 * every handle is closed and the loop ends. */
static void on_signal(uv_signal_t *s, int signum)
{
  struct ctrl *c = s->data;
  LOG_INFO("controller", "signal %d: shutting down", signum);
  c->stopping = true;
  ctrl_servers_stop(c);
  ctrl_http_stop(c);
  close_timer(&c->heartbeat);
  close_timer(&c->plan_timer);
  close_timer(&c->routes_timer);
  for (size_t i = 0; i < c->n_nets; i++)
    close_timer(&c->nets[i]->neg_timer);
  uv_close((uv_handle_t *)&c->sigint, NULL);
  uv_close((uv_handle_t *)&c->sigterm, NULL);
  ctrl_groups_stop(c);
  if (c->xmpp) {
    xmpp_client_free(c->xmpp);
    c->xmpp = NULL;
  }
  for (size_t i = 0; i < c->n_nets; i++) {
    struct ctrl_net *n = c->nets[i];
    if (!n->ready)
      continue;
    struct ctl_overlay_ref ref;
    snprintf(ref.overlay_id, sizeof ref.overlay_id, "%s", n->id);
    n->ready = false;
    if (ctrl_tincan_send(c, "remove_overlay", &ref, 2000, overlay_removed, c) == 0)
      removals_left++;
  }
  if (removals_left == 0)
    finish_shutdown(c);
}

/* Who is who (the registry, known_nodes), the configured overlay
 * (nets[0]), the planning timer, and the groups over XMPP rooms. */
static int start_overlay(struct ctrl *c, char *why, size_t whylen)
{
  const struct ctrl_section *s = &c->cfg.ctrl;
  int rc = ctrl_identity_init(c, why, whylen);
  if (rc)
    return rc;
  rc = ctrl_load_turn_passwords(c, why, whylen);
  if (rc)
    return rc;
  char w[POLICY_WHY_LEN];
  if (!ctrl_net_new(c, s->mode == CTRL_MODE_SOCIAL ? CTRL_NET_SOCIAL : CTRL_NET_ROSTER,
                    s->overlay.id, s->overlay.tap_name, s->overlay.mtu, s->overlay.subnet,
                    s->overlay.has_address ? &s->overlay.address : NULL, w, sizeof w)) {
    snprintf(why, whylen, "Controller.Overlay: %s", w);
    return IPOP_EINVAL;
  }
  uv_timer_init(c->loop, &c->plan_timer);
  c->plan_timer.data = c;
  uint64_t pi = (uint64_t)s->plan_interval * 1000;
  uv_timer_start(&c->plan_timer, ctrl_plan_timer_cb, pi, pi);
  uv_timer_init(c->loop, &c->routes_timer);
  c->routes_timer.data = c;
  c->routes_refresh_armed = true;
  uv_timer_start(&c->routes_timer, ctrl_routes_timer_cb, ROUTES_REFRESH_MS, 0);
  return ctrl_groups_init(c, why, whylen);
}

static void usage(FILE *f)
{
  fprintf(f,
          "usage: ipop-controller [-c CONFIG] [--check-config] [--allow-root]\n"
          "  -c, --config FILE   node configuration (default %s)\n"
          "      --check-config  validate the configuration and exit\n"
          "      --allow-root    run even as root (not recommended)\n"
          "  -V, --version       print the version\n",
          DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
    { "config", required_argument, NULL, 'c' }, { "check-config", no_argument, NULL, 'C' },
    { "allow-root", no_argument, NULL, 'R' },   { "version", no_argument, NULL, 'V' },
    { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
  };
  const char *config_path = DEFAULT_CONFIG;
  bool check_only = false, allow_root = false;
  int opt;
  ipop_log_init("ipop-controller", IPOP_LOG_INFO);
  while ((opt = getopt_long(argc, argv, "c:Vh", longopts, NULL)) != -1) {
    switch (opt) {
    case 'c': config_path = optarg; break;
    case 'C': check_only = true; break;
    case 'R': allow_root = true; break;
    case 'V': printf("ipop-controller %s\n", IPOP_VERSION); return 0;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }

  static struct ctrl c;
  struct jb_error err;
  if (ctrl_config_load(config_path, &c.cfg, &err) != 0 ||
      ctl_config_resolve(&c.cfg.control, &c.tincan_addr, &c.ctrl_addr, &err) != 0) {
    LOG_ERROR("config", "%s%s%s", err.path[0] && !strstr(err.msg, config_path) ? config_path : "",
              err.path[0] && !strstr(err.msg, config_path) ? ": " : "", err.msg);
    return 1;
  }
  if (check_only) {
    printf("ipop-controller: %s: configuration is valid (Control and Controller sections)\n", config_path);
    return 0;
  }
  if (geteuid() == 0 && !allow_root && !c.cfg.ctrl.allow_root) {
    LOG_ERROR("controller", "refusing to run as root: ipop-controller needs no privileges "
                            "(run it as its own user, or pass --allow-root)");
    return 1;
  }
  uint8_t key[IPOP_SECRET_LEN];
  char why[256];
  if (ipop_log_config_apply(&c.cfg.ctrl.log, why, sizeof why) != 0)
    LOG_WARN("controller", "Controller.Log.File: %s; logging to stderr only", why);

  if (ipop_secret_load(c.cfg.control.key_file, 1, (uid_t)-1, (gid_t)-1, key, why,
                       sizeof why) != 0) {
    LOG_ERROR("controller", "Control.KeyFile: %s", why);
    return 1;
  }

  c.loop = uv_default_loop();
  c.started_ms = ipop_now_ms();
  char w[POLICY_WHY_LEN];
  bool created = false;
  /* The state directory is ours: create it (not its parents) on first start. */
  if (mkdir(c.cfg.ctrl.state_dir, 0755) != 0 && errno != EEXIST)
    LOG_WARN("controller", "Controller.StateDir %s: cannot create: %s", c.cfg.ctrl.state_dir,
             strerror(errno));
  if (nodeid_load_or_create(c.cfg.ctrl.state_dir, policy_rand_os, NULL, c.node_id, &created, w,
                            sizeof w) != 0) {
    LOG_ERROR("controller", "Controller.StateDir: %s", w);
    return 1;
  }
  LOG_INFO("controller", "node id %s%s", c.node_id, created ? " (new)" : "");
  uv_timer_init(c.loop, &c.heartbeat);
  c.heartbeat.data = &c;
  if (c.cfg.ctrl.has_overlay && start_overlay(&c, w, sizeof w) != 0) {
    LOG_ERROR("controller", "%s", w);
    return 1;
  }
  char host[CTL_HOSTPORT_LEN];
  snprintf(host, sizeof host, "%s", c.cfg.control.controller);
  char *colon = strrchr(host, ':');
  *colon = '\0';
  const char *bind_host = host[0] == '[' ? host + 1 : host;
  if (host[0] == '[')
    host[strlen(host) - 1] = '\0';
  struct ctl_endpoint_config ec = {
    .bind_addr = strcmp(bind_host, "localhost") == 0 ? "127.0.0.1" : bind_host,
    .port = (uint16_t)atoi(colon + 1),
    .key = key,
    .messages = ctl_controller_messages,
    .n_messages = ctl_controller_messages_count,
    .handlers = ctrl_admin_handlers,
    .n_handlers = ctrl_admin_handlers_count,
    .on_event = ctrl_on_event,
    .permit = ctrl_permit,
    .ctx = &c,
  };
  int rc = ctl_endpoint_open(c.loop, &ec, &c.ep);
  memset(key, 0, sizeof key);
  if (rc) {
    LOG_ERROR("controller", "Control.Controller %s: cannot open the control socket: %s",
              c.cfg.control.controller, ipop_strerror(rc));
    return 1;
  }
  LOG_INFO("controller", "control socket on %s; ipop-tincan expected at %s",
           c.cfg.control.controller, c.cfg.control.tincan);

  uv_timer_start(&c.heartbeat, ctrl_heartbeat_cb, 0, CTRL_HEARTBEAT_FAST_MS);
  if (c.cfg.ctrl.has_xmpp && ctrl_xmpp_start(&c, w, sizeof w) != 0) {
    LOG_ERROR("controller", "Controller.Xmpp: %s", w);
    ctl_endpoint_close(c.ep);
    uv_close((uv_handle_t *)&c.heartbeat, NULL);
    uv_run(c.loop, UV_RUN_DEFAULT);
    return 1;
  }
  /* The overlay must not depend on its monitoring: a taken port is logged
   * and the node runs on without /metrics and the map. */
  if (ctrl_http_start(&c, w, sizeof w) != 0)
    LOG_ERROR("controller", "Controller.Http.Listen %s: %s; running without /metrics and "
              "the overlay map", c.cfg.ctrl.http.listen, w);
  uv_signal_init(c.loop, &c.sigint);
  uv_signal_init(c.loop, &c.sigterm);
  c.sigint.data = c.sigterm.data = &c;
  uv_signal_start(&c.sigint, on_signal, SIGINT);
  uv_signal_start(&c.sigterm, on_signal, SIGTERM);
  signal(SIGPIPE, SIG_IGN);

  uv_run(c.loop, UV_RUN_DEFAULT);
  ctrl_groups_free(&c);
  ctrl_peers_free(&c);
  ctrl_net_free_all(&c);
  if (c.reg && registry_trust_store(c.reg) &&
      trust_save(registry_trust_store(c.reg), w, sizeof w) != 0) /* last seen times */
    LOG_WARN("identity", "cannot save known_nodes: %s", w);
  registry_free(c.reg);
  memset(c.turn, 0, sizeof c.turn);
  uv_loop_close(c.loop);
  ipop_log_close();
  return 0;
}
