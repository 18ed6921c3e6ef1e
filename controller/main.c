/* ipop-controller: the unprivileged policy daemon.  This file is the
 * process shell: config, control socket, tincan heartbeat, signals. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "ctl.h"
#include "ctl_config.h"
#include "error.h"
#include "log.h"
#include "secret.h"

#define HEARTBEAT_MS 5000      /* echo period while tincan is up */
#define HEARTBEAT_FAST_MS 1000 /* ... and while it is not (yet) */
#define DEFAULT_CONFIG "/etc/ipop/config.json"

struct controller_section {
  char state_dir[CTL_PATH_LEN];
  bool allow_root;
  struct ipop_log_config log;
};

struct controller_config {
  struct ctl_config control;
  struct controller_section ctrl;
};

#define T struct controller_section
static const struct jb_field section_f[] = {
  JB_F_STR(T, state_dir, "StateDir", 0, 1, "/var/lib/ipop-controller"),
  JB_F_BOOL(T, allow_root, "AllowRoot", 0, false),
  JB_F_OBJ(T, log, "Log", 0, &ipop_log_config_schema),
};
static const struct jb_schema section_schema = JB_SCHEMA("Controller", T, section_f);
#undef T

#define T struct controller_config
static const struct jb_field config_f[] = {
  JB_F_OBJ(T, control, "Control", 0, &ctl_config_schema),
  JB_F_FOREIGN("Tincan"),
  JB_F_OBJ(T, ctrl, "Controller", 0, &section_schema),
};
static const struct jb_schema config_schema = JB_SCHEMA("config", T, config_f);
#undef T

struct controller {
  uv_loop_t *loop;
  struct controller_config cfg;
  struct ctl_endpoint *ep;
  struct sockaddr_storage tincan_addr, ctrl_addr;
  uv_timer_t heartbeat;
  uv_signal_t sigint, sigterm;
  uint64_t started_ms;
  int tincan_state;         /* enum ctl_peer_state */
  bool echo_in_flight;
  uint64_t last_echo_ms;
};

static void handle_echo(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                        void *ctx)
{
  ctl_reply(req, body);
}

static void handle_status(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                          void *ctx)
{
  struct controller *c = ctx;
  struct ctl_status st = { .tincan = c->tincan_state };
  snprintf(st.version, sizeof st.version, "%s", IPOP_VERSION);
  st.uptime_s = (ipop_now_ms() - c->started_ms) / 1000;
  snprintf(st.tincan_endpoint, sizeof st.tincan_endpoint, "%s", c->cfg.control.tincan);
  ctl_reply(req, &st);
}

static void on_event(struct ctl_endpoint *ep, const struct sockaddr *from,
                     const struct ctl_msg_desc *m, const void *body, void *ctx)
{
  LOG_DEBUG("controller", "event %s from tincan", m->name);
}

static void heartbeat_answer(int status, const void *result, const char *err, void *ctx)
{
  struct controller *c = ctx;
  int now = status == 0 ? CTL_DAEMON_UP
            : status == IPOP_EAUTH ? CTL_DAEMON_REFUSED
                                   : CTL_DAEMON_UNREACHABLE;
  c->echo_in_flight = false;
  if (!c->ep)
    return;
  if (now != c->tincan_state) {
    if (now == CTL_DAEMON_UP)
      LOG_INFO("controller", "ipop-tincan at %s is up", c->cfg.control.tincan);
    else
      LOG_WARN("controller", "ipop-tincan at %s is %s: %s", c->cfg.control.tincan,
               ctl_peer_state_names[now], err ? err : ipop_strerror(status));
  }
  c->tincan_state = now;
}

/* Echo tincan regularly (every 5 s while up, every 1 s otherwise): the
 * controller must notice a restarted or dead dataplane by itself (recovery
 * builds on this). */
static void heartbeat_cb(uv_timer_t *t)
{
  struct controller *c = t->data;
  uint64_t now = ipop_now_ms();
  if (c->echo_in_flight || c->ep == NULL ||
      (c->tincan_state == CTL_DAEMON_UP && now - c->last_echo_ms < HEARTBEAT_MS))
    return;
  c->last_echo_ms = now;
  const struct ctl_msg_desc *m =
      ctl_msg_find(ctl_tincan_messages, ctl_tincan_messages_count, "echo");
  struct ctl_echo e = { .message = "heartbeat" };
  if (ctl_request_send(c->ep, (struct sockaddr *)&c->tincan_addr, m, &e, HEARTBEAT_FAST_MS - 100,
                       heartbeat_answer, c) == 0)
    c->echo_in_flight = true;
}

static void on_signal(uv_signal_t *s, int signum)
{
  struct controller *c = s->data;
  LOG_INFO("controller", "signal %d: shutting down", signum);
  uv_timer_stop(&c->heartbeat);
  uv_close((uv_handle_t *)&c->heartbeat, NULL);
  uv_close((uv_handle_t *)&c->sigint, NULL);
  uv_close((uv_handle_t *)&c->sigterm, NULL);
  struct ctl_endpoint *ep = c->ep;
  c->ep = NULL; /* pending heartbeat fails now; it must not log a false outage */
  ctl_endpoint_close(ep);
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

  static struct controller c;
  struct jb_error err;
  if (ipop_config_load(config_path, &config_schema, &c.cfg, &err) != 0 ||
      ctl_config_resolve(&c.cfg.control, &c.tincan_addr, &c.ctrl_addr, &err) != 0) {
    LOG_ERROR("config", "%s%s%s", err.path[0] && !strstr(err.msg, config_path) ? config_path : "",
              err.path[0] && !strstr(err.msg, config_path) ? ": " : "", err.msg);
    return 1;
  }
  if (check_only) {
    printf("%s: configuration is valid\n", config_path);
    return 0;
  }
  if (geteuid() == 0 && !allow_root && !c.cfg.ctrl.allow_root) {
    LOG_ERROR("controller", "refusing to run as root: ipop-controller needs no privileges "
                            "(run it as its own user, or pass --allow-root)");
    return 1;
  }
  if (ipop_log_config_apply(&c.cfg.ctrl.log) != 0)
    LOG_WARN("controller", "cannot open log file %s; logging to stderr only",
             c.cfg.ctrl.log.file);

  uint8_t key[IPOP_SECRET_LEN];
  char why[256];
  if (ipop_secret_load(c.cfg.control.key_file, 1, (uid_t)-1, (gid_t)-1, key, why,
                       sizeof why) != 0) {
    LOG_ERROR("controller", "Control.KeyFile: %s", why);
    return 1;
  }

  c.loop = uv_default_loop();
  c.started_ms = ipop_now_ms();
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
    .handlers = (const struct ctl_handler[]){ { "echo", handle_echo },
                                              { "status", handle_status } },
    .n_handlers = 2,
    .on_event = on_event,
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

  uv_timer_init(c.loop, &c.heartbeat);
  c.heartbeat.data = &c;
  uv_timer_start(&c.heartbeat, heartbeat_cb, 0, HEARTBEAT_MS);
  uv_signal_init(c.loop, &c.sigint);
  uv_signal_init(c.loop, &c.sigterm);
  c.sigint.data = c.sigterm.data = &c;
  uv_signal_start(&c.sigint, on_signal, SIGINT);
  uv_signal_start(&c.sigterm, on_signal, SIGTERM);
  signal(SIGPIPE, SIG_IGN);

  uv_run(c.loop, UV_RUN_DEFAULT);
  uv_loop_close(c.loop);
  ipop_log_close();
  return 0;
}
