/* Where to send (flags, then config.json's Control section), the key, and
 * the local endpoint: shared by one-request commands (main.c) and the
 * commands that send several (steps.c). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "error.h"
#include "messages.h"
#include "secret.h"
#include "session.h"

int udp_port_bound(unsigned port)
{
  static const char *const files[] = { "/proc/net/udp", "/proc/net/udp6" };
  int known = -1;
  for (size_t i = 0; i < 2; i++) {
    FILE *f = fopen(files[i], "r");
    char line[512];
    if (!f)
      continue;
    if (!fgets(line, sizeof line, f)) { /* header */
      fclose(f);
      continue;
    }
    known = 0;
    while (fgets(line, sizeof line, f)) {
      char local[64];
      unsigned p;
      if (sscanf(line, " %*s %63s", local) == 1) {
        char *colon = strrchr(local, ':');
        if (colon && sscanf(colon + 1, "%x", &p) == 1 && p == port) {
          fclose(f);
          return 1;
        }
      }
    }
    fclose(f);
  }
  return known;
}

void session_not_answering(const struct session *s, bool bound_checked, unsigned waited_ms)
{
  const char *key = s->tincan_target ? "Control.Tincan" : "Control.Controller";
  if (bound_checked)
    fprintf(stderr, "ipopctl: nothing listens on %s: %s is not running (or listens elsewhere: "
            "check -s / %s in config.json)\n", s->server, s->daemon, key);
  else
    fprintf(stderr, "ipopctl: %s at %s did not answer within %g s (is it running? check -s / "
            "%s in config.json)\n", s->daemon, s->server, waited_ms / 1000.0, key);
}

void session_report_refused(const struct session *s, int status, const char *err_msg)
{
  if (status == IPOP_EAUTH)
    fprintf(stderr, "ipopctl: %s at %s: authentication failed: wrong key file? (ipopctl used "
            "%s from %s; the daemons use Control.KeyFile of their config.json)\n",
            s->daemon, s->server, s->o->key_file, s->o->key_from);
  else
    fprintf(stderr, "ipopctl: %s at %s refused the request as replayed or stale (is the "
            "clock in step? %s)\n", s->daemon, s->server, err_msg ? err_msg : "");
}

/* The Control section of config.json (other sections are the daemons'). */
struct file_cfg {
  struct ctl_config control;
};
#define T struct file_cfg
static const struct jb_field file_cfg_f[] = {
  JB_F_OBJ(T, control, "Control", 0, &ctl_config_schema),
  JB_F_FOREIGN("Tincan"),
  JB_F_FOREIGN("Controller"),
};
static const struct jb_schema file_cfg_schema = JB_SCHEMA("config.json", T, file_cfg_f);
#undef T

/* Fills out from the config file; *used tells whether there was one (an
 * absent default config means the built-in defaults). */
static int load_config(const struct opts *o, struct ctl_config *out, bool *used)
{
  struct file_cfg fc;
  struct jb_error err;
  int rc = ipop_config_load(o->config, &file_cfg_schema, &fc, &err);
  *used = rc == 0;
  if (rc == 0) {
    *out = fc.control;
    return 0;
  }
  jb_defaults(&ctl_config_schema, out);
  if (rc == IPOP_ENOENT && !o->config_explicit)
    return 0; /* no config installed: the defaults */
  fprintf(stderr, "ipopctl: %s%s\n", err.msg,
          o->config_explicit ? "" : " (give --config FILE, or -s and -k)");
  return EXIT_LOCAL;
}

int session_open(struct session *s, struct opts *o, bool tincan, ctl_event_cb on_event,
                 void *ctx)
{
  memset(s, 0, sizeof *s);
  s->o = o;
  s->tincan_target = tincan;
  s->daemon = tincan ? "ipop-tincan" : "ipop-controller";

  bool cfg_used = false;
  jb_defaults(&ctl_config_schema, &s->cfg);
  if (!o->server || !o->key_file) {
    int rc = load_config(o, &s->cfg, &cfg_used);
    if (rc)
      return rc;
  }
  static char key_from[CTL_PATH_LEN + 40];
  if (!o->key_file) {
    o->key_file = s->cfg.key_file;
    snprintf(key_from, sizeof key_from,
             cfg_used ? "Control.KeyFile of %s" : "the built-in default; there is no %s",
             o->config);
    o->key_from = key_from;
  }
  s->server = o->server ? o->server : tincan ? s->cfg.tincan : s->cfg.controller;

  int rc = ctl_parse_endpoint(s->server, &s->to, 0);
  if (rc) {
    const char *why = rc == IPOP_EPERM ? "the control socket is on loopback only"
                                       : "expected HOST:PORT or [V6]:PORT";
    if (o->server) {
      fprintf(stderr, "ipopctl: --server \"%s\": %s\n", s->server, why);
      return EXIT_USAGE;
    }
    fprintf(stderr, "ipopctl: %s: %s \"%s\": %s\n", o->config,
            tincan ? "Control.Tincan" : "Control.Controller", s->server, why);
    return EXIT_LOCAL;
  }
  s->port = ntohs(s->to.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&s->to)->sin6_port
                                              : ((struct sockaddr_in *)&s->to)->sin_port);
  uint8_t key[IPOP_SECRET_LEN];
  char why[320];
  rc = ipop_secret_load(o->key_file, 0, (uid_t)-1, (gid_t)-1, key, why, sizeof why);
  if (rc) {
    fprintf(stderr, "ipopctl: %s (key file from %s)%s\n", why, o->key_from,
            rc == IPOP_ENOENT ? "; the daemon that starts first creates it: has either run?"
                              : "");
    return EXIT_LOCAL;
  }

  uv_loop_init(&s->loop);
  struct ctl_endpoint_config ecfg = {
    .bind_addr = s->to.ss_family == AF_INET6 ? "::1" : "127.0.0.1",
    .key = key,
    .messages = ctl_tincan_messages,
    .n_messages = ctl_tincan_messages_count,
    .on_event = on_event,
    .ctx = ctx,
  };
  rc = ctl_endpoint_open(&s->loop, &ecfg, &s->ep);
  memset(key, 0, sizeof key);
  if (rc) {
    fprintf(stderr, "ipopctl: cannot open a local socket: %s\n", ipop_strerror(rc));
    uv_loop_close(&s->loop);
    return EXIT_LOCAL;
  }
  return 0;
}

void session_close(struct session *s)
{
  if (s->ep)
    ctl_endpoint_close(s->ep);
  s->ep = NULL;
  uv_run(&s->loop, UV_RUN_DEFAULT);
  uv_loop_close(&s->loop);
}
