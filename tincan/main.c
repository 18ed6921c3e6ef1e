/* ipop-tincan: the dataplane daemon.  See docs/tincan.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "error.h"
#include "privs.h"
#include "secret.h"
#include "settings.h"
#include "tap.h"
#include "tincan.h"
#include "tunopen.h"

static void usage(FILE *f)
{
  fprintf(f,
          "usage: ipop-tincan [-c FILE] [-p PORT] [-k KEYFILE] [--check-config]\n"
          "  -c, --config FILE   config.json (default " TC_DEFAULT_CONFIG ", if it exists)\n"
          "  -p, --port PORT     control port (overrides the port of Control.Tincan)\n"
          "  -k, --key FILE      control key file (overrides Control.KeyFile)\n"
          "      --check-config  validate the configuration and exit\n"
          "      --version       print the version and exit\n"
          "  -h, --help          this text\n");
}

/* mkdir the parent of path if it is missing (one level, mode 0700). */
static void ensure_parent(const char *path)
{
  char copy[512];
  snprintf(copy, sizeof copy, "%s", path);
  const char *dir = dirname(copy);
  struct stat st;
  if (stat(dir, &st) != 0 && errno == ENOENT && mkdir(dir, 0700) != 0)
    LOG_WARN("tincan", "cannot create %s: %s", dir, strerror(errno));
}

static struct tc_daemon daemon_state;
static uv_signal_t sig_int, sig_term;

static void on_signal(uv_signal_t *s, int signum)
{
  (void)s;
  LOG_INFO("tincan", "signal %d: shutting down", signum);
  uv_close((uv_handle_t *)&sig_int, NULL);
  uv_close((uv_handle_t *)&sig_term, NULL);
  tc_daemon_shutdown(&daemon_state);
}

/* Free everything once the loop exists: after SIGTERM (the loop has run
 * out of handles), or after a start-up failure (shut down first). */
static int stop(struct tc_daemon *d, uv_loop_t *loop, int code)
{
  if (code) {
    tc_daemon_shutdown(d);
    uv_run(loop, UV_RUN_DEFAULT);
  }
  if (uv_loop_close(loop) != 0)
    LOG_WARN("tincan", "event loop closed with handles still open");
  if (d->ssl_ctx)
    SSL_CTX_free(d->ssl_ctx);
  g_main_context_unref(d->gctx);
  tc_identity_free(&d->id);
  tc_tunopen_stop();
  ipop_log_close();
  return code;
}

int main(int argc, char **argv)
{
  static const struct option opts[] = {
    { "config", required_argument, NULL, 'c' },
    { "port", required_argument, NULL, 'p' },
    { "key", required_argument, NULL, 'k' },
    { "version", no_argument, NULL, 'V' },
    { "check-config", no_argument, NULL, 'C' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *config_path = NULL, *key_override = NULL;
  long port_override = -1;
  int c, check_only = 0;
  while ((c = getopt_long(argc, argv, "c:p:k:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c': config_path = optarg; break;
    case 'k': key_override = optarg; break;
    case 'p': {
      char *end;
      errno = 0;
      port_override = strtol(optarg, &end, 10);
      if (errno || *end || port_override < 1 || port_override > 65535) {
        fprintf(stderr, "ipop-tincan: -p: \"%s\" is not a port number (1..65535)\n", optarg);
        return 2;
      }
      break;
    }
    case 'C': check_only = 1; break;
    case 'V': printf("ipop-tincan %s\n", IPOP_VERSION); return 0;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "ipop-tincan: unexpected argument \"%s\"\n", argv[optind]);
    usage(stderr);
    return 2;
  }

  /* Keep no descriptor we did not open ourselves (whatever the parent
   * leaked would otherwise outlive the privilege drop). */
  close_range(3, ~0u, 0);
  ipop_log_init("ipop-tincan", IPOP_LOG_INFO);
  struct tc_config cfg;
  struct jb_error jerr;
  struct sockaddr_storage tincan_addr, controller_addr;
  tc_config_defaults(&cfg);
  struct stat cst;
  if (!config_path && stat(TC_DEFAULT_CONFIG, &cst) == 0)
    config_path = TC_DEFAULT_CONFIG;
  if (config_path && tc_config_load(config_path, &cfg, &jerr) != 0) {
    LOG_ERROR("tincan", "%s%s%s", strstr(jerr.msg, config_path) ? "" : config_path,
              strstr(jerr.msg, config_path) ? "" : ": ", jerr.msg);
    return 1;
  }
  if (key_override)
    snprintf(cfg.control.key_file, sizeof cfg.control.key_file, "%s", key_override);
  if (ctl_config_resolve(&cfg.control, &tincan_addr, &controller_addr, &jerr) != 0) {
    LOG_ERROR("tincan", "%s: %s", config_path ? config_path : "defaults", jerr.msg);
    return 1;
  }
  if (port_override > 0) {
    if (tincan_addr.ss_family == AF_INET)
      ((struct sockaddr_in *)&tincan_addr)->sin_port = htons((uint16_t)port_override);
    else
      ((struct sockaddr_in6 *)&tincan_addr)->sin6_port = htons((uint16_t)port_override);
  }
  if (check_only) {
    printf("ipop-tincan: %s: configuration is valid (Control and Tincan sections)\n",
           config_path ? config_path : "(defaults)");
    return 0;
  }
  /* The log file is opened after dropping root (below), with the rights of
   * Tincan.User: until then lines go to stderr only. */
  ipop_log_set_level((enum ipop_log_level)cfg.tincan.log.level);
  signal(SIGPIPE, SIG_IGN);

  char why[512];
  struct tc_privs privs;
  if (tc_privs_resolve(cfg.tincan.user, &privs, why, sizeof why) != 0) {
    LOG_ERROR("tincan", "Tincan.User: %s", why);
    return 1;
  }
  /* /dev/net/tun is often root-only: fork its opener (tunopen.h) now,
   * single-threaded and before any secret is in memory. */
  if (geteuid() == 0 && privs.user[0]) {
    if (tc_tunopen_start(why, sizeof why) != 0) {
      LOG_ERROR("tincan", "cannot start the /dev/net/tun opener: %s", why);
      return 1;
    }
    LOG_INFO("tincan", "/dev/net/tun opener: pid %d", (int)tc_tunopen_pid());
  }
  /* Files that need root, before dropping it. */
  uid_t kuid = (uid_t)-1;
  gid_t kgid = (gid_t)-1;
  if (cfg.tincan.controller_user[0] &&
      tc_user_lookup(cfg.tincan.controller_user, &kuid, &kgid) != 0) {
    LOG_ERROR("tincan", "Tincan.ControllerUser: no user \"%s\"", cfg.tincan.controller_user);
    return 1;
  }
  uint8_t key[IPOP_SECRET_LEN];
  ensure_parent(cfg.control.key_file);
  if (ipop_secret_load(cfg.control.key_file, 1, kuid, kgid, key, why, sizeof why) != 0) {
    LOG_ERROR("tincan", "Control.KeyFile: %s", why);
    return 1;
  }
  struct tc_daemon *d = &daemon_state;
  ensure_parent(cfg.tincan.identity_file);
  if (tc_identity_load(&d->id, cfg.tincan.identity_file, 1, (uid_t)-1, (gid_t)-1, why,
                       sizeof why) != 0) {
    LOG_ERROR("tincan", "Tincan.IdentityFile: %s", why);
    return 1;
  }
  LOG_INFO("tincan", "identity %s (%s)", d->id.fpr_text, cfg.tincan.identity_file);
  /* Events go to Control.Controller until a register request says otherwise. */
  d->controller = controller_addr;
  d->has_controller = true;
  d->access.configured = controller_addr;

  uv_loop_t loop;
  uv_loop_init(&loop);
  d->loop = &loop;
  d->rekey_interval_ms = (uint64_t)cfg.tincan.rekey_interval * 1000u;
  int rc = tc_daemon_init(d);
  if (rc) {
    LOG_ERROR("tincan", "initialisation failed: %s", ipop_strerror(rc));
    return 1;
  }
  char host[INET6_ADDRSTRLEN];
  uint16_t port;
  if (tincan_addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &((struct sockaddr_in *)&tincan_addr)->sin_addr, host, sizeof host);
    port = ntohs(((struct sockaddr_in *)&tincan_addr)->sin_port);
  } else {
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&tincan_addr)->sin6_addr, host, sizeof host);
    port = ntohs(((struct sockaddr_in6 *)&tincan_addr)->sin6_port);
  }
  struct ctl_endpoint_config ec = {
    .bind_addr = host,
    .port = port,
    .key = key,
    .messages = ctl_tincan_messages,
    .n_messages = ctl_tincan_messages_count,
    .handlers = tc_handlers,
    .n_handlers = tc_handlers_count,
    .permit = tc_access_permit,
    .ctx = d,
  };
  rc = ctl_endpoint_open(&loop, &ec, &d->ep);
  OPENSSL_cleanse(key, sizeof key);
  if (rc) {
    LOG_ERROR("tincan", "Control.Tincan: cannot listen on %s port %u: %s", host, port,
              ipop_strerror(rc));
    return stop(d, &loop, 1);
  }
  if (tc_drop_privileges(&privs, why, sizeof why) != 0) {
    LOG_ERROR("tincan", "Tincan.User: %s", why);
    return stop(d, &loop, 1);
  }
  if (cfg.tincan.log.file[0] && ipop_log_set_file(cfg.tincan.log.file, why, sizeof why) != 0) {
    LOG_ERROR("tincan", "Tincan.Log.File: %s (it is opened as Tincan.User \"%s\")", why,
              privs.user);
    return stop(d, &loop, 1);
  }
  snprintf(d->log_file, sizeof d->log_file, "%s", cfg.tincan.log.file);
  if (!privs.user[0] && geteuid() == 0)
    LOG_WARN("tincan", "Tincan.User is \"\": staying uid 0 (CAP_NET_ADMIN only, "
             "no_new_privs), which still owns root's files; set Tincan.User to an "
             "unprivileged user");
  else if (geteuid() != 0)
    LOG_INFO("tincan", "running as uid %u, gid %u with CAP_NET_ADMIN only, no_new_privs",
             (unsigned)geteuid(), (unsigned)getegid());
  uv_signal_init(&loop, &sig_int);
  uv_signal_init(&loop, &sig_term);
  uv_signal_start(&sig_int, on_signal, SIGINT);
  uv_signal_start(&sig_term, on_signal, SIGTERM);
  LOG_INFO("tincan", "control socket on %s port %u", host, port);
  uv_run(&loop, UV_RUN_DEFAULT);
  return stop(d, &loop, 0);
}
