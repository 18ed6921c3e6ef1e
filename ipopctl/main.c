/* ipopctl: the sysadmin's tool for both daemons, over the authenticated
 * control socket.  This file: global options, where to send (flags, then
 * config.json's Control section), one request and its answer, exit codes.
 * The commands themselves are tables in commands_*.c. */
#include <arpa/inet.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli.h"
#include "config.h"
#include "ctl.h"
#include "ctl_config.h"
#include "error.h"
#include "log.h"
#include "secret.h"

#define DEFAULT_CONFIG "/etc/ipop/config.json"

struct opts {
  const char *key_file;
  const char *key_from;         /* "-k", "$IPOP_CONTROL_KEY", "Control.KeyFile in X" */
  const char *server;
  const char *config;
  bool config_explicit;
  bool tincan;
  bool json;
  unsigned timeout_ms;
};

struct call {
  const struct opts *o;
  const struct cli_command *cmd;
  const struct cli_parsed *p;
  const char *daemon;           /* "ipop-tincan" / "ipop-controller" */
  const char *server;           /* endpoint text */
  bool tincan_target;
  int exit_code;
  bool done;                    /* answered, timed out or stopped */
  struct ctl_endpoint *ep;
  uv_timer_t timer;
  uv_signal_t sig[2];           /* listen: SIGINT, SIGTERM */
  /* listen: where ipop-controller's control socket is, to give tincan's
   * events back to it when we stop (NULL: no controller running) */
  const char *give_back;
  struct sockaddr_storage tincan;
};

static void usage(FILE *f)
{
  fprintf(f,
"usage: ipopctl [options] COMMAND [ARGS] [--json]\n"
"       ipopctl help [COMMAND]        (or: ipopctl COMMAND --help)\n"
"\n"
"Talks to ipop-controller or ipop-tincan over the authenticated control socket.\n"
"\n"
"options:\n"
"  -c, --config FILE    read endpoints and key file from FILE's \"Control\"\n"
"                       section (default $IPOP_CONFIG, else\n"
"                       %s if it exists)\n"
"  -t, --tincan         echo, call: talk to ipop-tincan, not ipop-controller\n"
"  -s, --server ADDR    endpoint, e.g. 127.0.0.1:5801 or [::1]:5800\n"
"  -k, --key FILE       control key file (default $IPOP_CONTROL_KEY, else\n"
"                       Control.KeyFile of the config, else\n"
"                       %s)\n"
"  -j, --json           print the result as one JSON document\n"
"  -T, --timeout SEC    seconds to wait for an answer (default 5)\n"
"  -h, --help           this text\n"
"  -V, --version        print the version\n",
          DEFAULT_CONFIG, CTL_DEFAULT_KEY_FILE);
  const struct cli_command *c;
  for (unsigned i = 0; (c = cli_command_at(i)); i++) {
    if (i == 0)
      fputs("\ncommands (ipop-controller; echo and call also with -t):\n", f);
    if (i == cli_controller_commands_count)
      fputs("\ncommands (ipop-tincan; -t implied):\n", f);
    fprintf(f, "  %-18s %s\n", c->name, c->summary);
  }
  fputs("\nexit codes: 0 ok, 1 the daemon answered with an error, 2 usage, 3 no answer\n"
        "            (not running), 4 authentication refused, 5 local problem\n", f);
}

static void finish_call(struct call *c, int code)
{
  c->exit_code = code;
  c->done = true;
  uv_timer_stop(&c->timer);
  ctl_endpoint_close(c->ep);
}

static void on_answer(int status, const void *result, const char *err_msg, void *ctx)
{
  struct call *c = ctx;
  if (c->done) /* our own timeout already reported, or stopped by a signal */
    return;
  if (status == 0) {
    if (c->cmd->flags & CLI_LISTEN) { /* stdout: only the events */
      uv_timer_stop(&c->timer);
      c->exit_code = EXIT_OK;
      fprintf(stderr, "ipopctl: listening for events of %s (Ctrl-C to stop)\n", c->daemon);
      return;
    }
    if (c->o->json)
      out_json(stdout, result);
    else
      out_result(stdout, c->cmd, c->p->body, result);
    fflush(stdout);
    finish_call(c, EXIT_OK);
    return;
  }
  if (status == IPOP_EAUTH || status == IPOP_EREPLAY) {
    if (status == IPOP_EAUTH)
      fprintf(stderr, "ipopctl: %s at %s: authentication failed: wrong key file? (ipopctl used "
              "%s from %s; the daemons use Control.KeyFile of their config.json)\n",
              c->daemon, c->server, c->o->key_file, c->o->key_from);
    else
      fprintf(stderr, "ipopctl: %s at %s refused the request as replayed or stale (is the "
              "clock in step? %s)\n", c->daemon, c->server, err_msg ? err_msg : "");
    finish_call(c, EXIT_REFUSED);
    return;
  }
  /* The daemon answered with an error: name the argument the field came from. */
  char hint[96];
  out_field_hint(c->cmd, err_msg, hint, sizeof hint);
  const char *cmdname = (c->cmd->flags & CLI_RAW) ? c->p->wire : c->cmd->name;
  fprintf(stderr, "ipopctl: %s: %s answered %s: %s%s\n", cmdname, c->daemon,
          ipop_err_name(status), err_msg ? err_msg : ipop_strerror(status), hint);
  if (status == IPOP_ENOCMD && (c->cmd->flags & CLI_RAW))
    fprintf(stderr, "ipopctl: this %s does not offer \"%s\" (is it the other daemon's "
            "request? %s)\n", c->daemon, c->p->wire,
            c->tincan_target ? "drop -t for ipop-controller" : "-t talks to ipop-tincan");
  else if (status == IPOP_ENOCMD)
    fprintf(stderr, "ipopctl: this %s does not offer \"%s\" yet (an older version?)\n",
            c->daemon, c->p->wire);
  if (c->o->json) {
    json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", ipop_err_name(status), "message",
                          err_msg ? err_msg : "");
    out_json(stdout, e);
    json_decref(e);
  }
  finish_call(c, EXIT_REMOTE);
}

/* Whether anything on this host (this network namespace) has UDP port
 * `port` bound: 1 yes, 0 no, -1 cannot tell.  Lets "not running" be said at
 * once instead of after the whole timeout. */
static int udp_port_bound(unsigned port)
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

/* listen: is ipop-controller (per the configuration) running here? */
static bool controller_running(const struct ctl_config *cfg)
{
  struct sockaddr_storage ss;
  if (ctl_parse_endpoint(cfg->controller, &ss, 0) != 0)
    return false;
  unsigned port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
  return udp_port_bound(port) == 1;
}

static void not_answering(struct call *c, bool bound_checked)
{
  const char *key = c->tincan_target ? "Control.Tincan" : "Control.Controller";
  if (bound_checked)
    fprintf(stderr, "ipopctl: nothing listens on %s: %s is not running (or listens elsewhere: "
            "check -s / %s in config.json)\n", c->server, c->daemon, key);
  else
    fprintf(stderr, "ipopctl: %s at %s did not answer within %g s (is it running? check -s / "
            "%s in config.json)\n", c->daemon, c->server, c->o->timeout_ms / 1000.0, key);
}

static void on_timeout(uv_timer_t *t)
{
  struct call *c = t->data;
  if (c->done)
    return;
  not_answering(c, false);
  finish_call(c, EXIT_NOANSWER);
}

/* listen: print every event the daemon sends us, one JSON line each. */
static void on_event(struct ctl_endpoint *ep, const struct sockaddr *from,
                     const struct ctl_msg_desc *m, const void *body, void *ctx)
{
  json_t *j = jb_encode(m->body, body);
  json_t *line = json_pack("{s:s, s:o}", "event", m->name, "body", j ? j : json_null());
  char *s = line ? json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  if (s) {
    puts(s);
    fflush(stdout);
  }
  free(s);
  json_decref(line);
}

static void on_given_back(int status, const void *result, const char *err_msg, void *ctx)
{
  struct call *c = ctx;
  if (status == 0)
    fprintf(stderr, "ipopctl: tincan's events go to ipop-controller at %s again\n",
            c->give_back);
  else
    fprintf(stderr, "ipopctl: could not give tincan's events back to ipop-controller at %s "
            "(%s); it gets them again when it re-creates its overlay\n", c->give_back,
            err_msg ? err_msg : ipop_strerror(status));
  finish_call(c, EXIT_OK);
}

/* Stopping listen: tincan sends events to one endpoint only, and we took
 * them from the controller; hand them back (register with its address)
 * before exiting, so that watching events never breaks a running node. */
static void on_signal(uv_signal_t *h, int sig)
{
  struct call *c = h->data;
  if (c->done)
    return;
  for (int i = 0; i < 2; i++)
    uv_signal_stop(&c->sig[i]);
  json_t *body = c->give_back ? json_pack("{s:s}", "address", c->give_back) : NULL;
  if (!body || ctl_request_send_json(c->ep, (struct sockaddr *)&c->tincan, "register", body,
                                     2000, on_given_back, c) != 0)
    finish_call(c, c->exit_code);
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
static int load_config(struct opts *o, struct ctl_config *out, bool *used)
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

static int help_command(int argc, char **argv)
{
  int words;
  if (argc == 0) {
    usage(stdout);
    return EXIT_OK;
  }
  const struct cli_command *c = cli_find(argc, argv, &words);
  if (!c) {
    fprintf(stderr, "ipopctl: help: no command \"%s%s%s\" (see ipopctl --help)\n", argv[0],
            argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
    return EXIT_USAGE;
  }
  cli_help(stdout, c);
  return EXIT_OK;
}

/* "ipopctl group" or "ipopctl group bogus": list the group commands. */
static int unknown_command(int argc, char **argv)
{
  const struct cli_command *c;
  size_t n = strlen(argv[0]);
  bool prefix = false;
  for (unsigned i = 0; (c = cli_command_at(i)); i++)
    prefix = prefix || (strncmp(c->name, argv[0], n) == 0 && c->name[n] == ' ');
  if (!prefix) {
    fprintf(stderr, "ipopctl: unknown command \"%s\" (see ipopctl --help)\n", argv[0]);
    return EXIT_USAGE;
  }
  if (argc > 1)
    fprintf(stderr, "ipopctl: unknown command \"%s %s\"; ", argv[0], argv[1]);
  else
    fprintf(stderr, "ipopctl: \"%s\" needs a subcommand; ", argv[0]);
  fprintf(stderr, "one of:\n");
  for (unsigned i = 0; (c = cli_command_at(i)); i++)
    if (strncmp(c->name, argv[0], n) == 0 && c->name[n] == ' ') {
      fputs("  ", stderr);
      cli_synopsis(stderr, c);
    }
  return EXIT_USAGE;
}

static int run(struct opts *o, const struct cli_command *cmd, struct cli_parsed *p)
{
  struct call call = { .o = o, .cmd = cmd, .p = p, .exit_code = EXIT_NOANSWER };
  call.tincan_target = cmd->daemon == CLI_TINCAN || (cmd->daemon == CLI_ANY && o->tincan);
  call.daemon = call.tincan_target ? "ipop-tincan" : "ipop-controller";

  struct ctl_config cfg;
  bool cfg_used = false;
  jb_defaults(&ctl_config_schema, &cfg);
  if (!o->server || !o->key_file) {
    int rc = load_config(o, &cfg, &cfg_used);
    if (rc)
      return rc;
  }
  static char key_from[CTL_PATH_LEN + 40];
  if (!o->key_file) {
    o->key_file = cfg.key_file;
    snprintf(key_from, sizeof key_from,
             cfg_used ? "Control.KeyFile of %s" : "the built-in default; there is no %s",
             o->config);
    o->key_from = key_from;
  }
  call.server = o->server ? o->server : call.tincan_target ? cfg.tincan : cfg.controller;

  struct sockaddr_storage to;
  int rc = ctl_parse_endpoint(call.server, &to, 0);
  if (rc) {
    const char *why = rc == IPOP_EPERM ? "the control socket is on loopback only"
                                       : "expected HOST:PORT or [V6]:PORT";
    if (o->server) {
      fprintf(stderr, "ipopctl: --server \"%s\": %s\n", call.server, why);
      return EXIT_USAGE;
    }
    fprintf(stderr, "ipopctl: %s: %s \"%s\": %s\n", o->config,
            call.tincan_target ? "Control.Tincan" : "Control.Controller", call.server, why);
    return EXIT_LOCAL;
  }
  unsigned port = ntohs(to.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&to)->sin6_port
                                                 : ((struct sockaddr_in *)&to)->sin_port);
  uint8_t key[IPOP_SECRET_LEN];
  char why[320];
  rc = ipop_secret_load(o->key_file, 0, (uid_t)-1, (gid_t)-1, key, why, sizeof why);
  if (rc) {
    fprintf(stderr, "ipopctl: %s (key file from %s)%s\n", why, o->key_from,
            rc == IPOP_ENOENT ? "; the daemon that starts first creates it: has either run?"
                              : "");
    return EXIT_LOCAL;
  }
  if (udp_port_bound(port) == 0) {
    not_answering(&call, true);
    memset(key, 0, sizeof key);
    return EXIT_NOANSWER;
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  struct ctl_endpoint_config ecfg = {
    .bind_addr = to.ss_family == AF_INET6 ? "::1" : "127.0.0.1",
    .key = key,
    .messages = ctl_tincan_messages,
    .n_messages = ctl_tincan_messages_count,
    .on_event = (cmd->flags & CLI_LISTEN) ? on_event : NULL,
    .ctx = &call,
  };
  rc = ctl_endpoint_open(&loop, &ecfg, &call.ep);
  memset(key, 0, sizeof key);
  if (rc) {
    fprintf(stderr, "ipopctl: cannot open a local socket: %s\n", ipop_strerror(rc));
    uv_loop_close(&loop);
    return EXIT_LOCAL;
  }
  uv_timer_init(&loop, &call.timer);
  call.timer.data = &call;
  for (int i = 0; i < 2; i++) {
    uv_signal_init(&loop, &call.sig[i]);
    call.sig[i].data = &call;
    if (cmd->flags & CLI_LISTEN) {
      uv_signal_start(&call.sig[i], on_signal, i ? SIGTERM : SIGINT);
      uv_unref((uv_handle_t *)&call.sig[i]);
    }
  }
  call.tincan = to;
  if ((cmd->flags & CLI_LISTEN) && controller_running(&cfg))
    call.give_back = cfg.controller;
  /* Our own deadline (the endpoint's is later): a daemon's error answer
   * carrying "timeout" must stay exit 1, only silence is exit 3. */
  uv_timer_start(&call.timer, on_timeout, o->timeout_ms, 0);
  json_t *body = json_incref(p->body);
  rc = ctl_request_send_json(call.ep, (struct sockaddr *)&to, p->wire, body,
                             o->timeout_ms + 1000, on_answer, &call);
  if (rc) {
    fprintf(stderr, "ipopctl: cannot send \"%s\": %s\n", p->wire, ipop_strerror(rc));
    finish_call(&call, rc == IPOP_ETOOBIG ? EXIT_USAGE : EXIT_LOCAL);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&call.timer, NULL);
  for (int i = 0; i < 2; i++)
    uv_close((uv_handle_t *)&call.sig[i], NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return call.exit_code;
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
    { "tincan", no_argument, NULL, 't' },        { "server", required_argument, NULL, 's' },
    { "key", required_argument, NULL, 'k' },     { "json", no_argument, NULL, 'j' },
    { "timeout", required_argument, NULL, 'T' }, { "config", required_argument, NULL, 'c' },
    { "help", no_argument, NULL, 'h' },          { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  struct opts o = { .timeout_ms = CTL_DEFAULT_TIMEOUT_MS };
  int ch;

  ipop_log_init("ipopctl", IPOP_LOG_ERROR);
  if (getenv("IPOP_CONTROL_KEY") && *getenv("IPOP_CONTROL_KEY")) {
    o.key_file = getenv("IPOP_CONTROL_KEY");
    o.key_from = "$IPOP_CONTROL_KEY";
  }
  if (getenv("IPOP_CONFIG") && *getenv("IPOP_CONFIG")) {
    o.config = getenv("IPOP_CONFIG");
    o.config_explicit = true;
  }
  while ((ch = getopt_long(argc, argv, "+ts:k:jT:c:hV", longopts, NULL)) != -1) {
    switch (ch) {
    case 't': o.tincan = true; break;
    case 's': o.server = optarg; break;
    case 'k': o.key_file = optarg; o.key_from = "-k"; break;
    case 'j': o.json = true; break;
    case 'c': o.config = optarg; o.config_explicit = true; break;
    case 'T': {
      char *end;
      double s = strtod(optarg, &end);
      if (*end || !(s > 0 && s <= 3600)) {
        fprintf(stderr, "ipopctl: --timeout wants seconds in (0, 3600], not \"%s\"\n", optarg);
        return EXIT_USAGE;
      }
      o.timeout_ms = (unsigned)(s * 1000);
      if (o.timeout_ms == 0)
        o.timeout_ms = 1;
      break;
    }
    case 'h': usage(stdout); return EXIT_OK;
    case 'V': printf("ipopctl %s\n", IPOP_VERSION); return EXIT_OK;
    default:
      fputs("(see ipopctl --help)\n", stderr);
      return EXIT_USAGE;
    }
  }
  if (!o.config)
    o.config = DEFAULT_CONFIG;
  if (optind >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (strcmp(argv[optind], "help") == 0)
    return help_command(argc - optind - 1, argv + optind + 1);

  int words;
  const struct cli_command *cmd = cli_find(argc - optind, argv + optind, &words);
  if (!cmd)
    return unknown_command(argc - optind, argv + optind);
  if (o.tincan && cmd->daemon == CLI_CONTROLLER) {
    fprintf(stderr, "ipopctl: %s is an ipop-controller command; drop -t\n", cmd->name);
    return EXIT_USAGE;
  }
  struct cli_parsed p;
  char err[512];
  int rc = cli_parse(cmd, argc - optind - words, argv + optind + words, &p, err, sizeof err);
  if (rc == 0 && p.help) {
    cli_help(stdout, cmd);
  } else if (rc) {
    size_t n = strlen(cmd->name);
    bool named = strncmp(err, cmd->name, n) == 0 && err[n] == ':';
    fprintf(stderr, "ipopctl: %s%s%s\n", named ? "" : cmd->name, named ? "" : ": ", err);
  } else {
    o.json = o.json || p.json;
    rc = run(&o, cmd, &p);
  }
  cli_parsed_free(&p);
  return rc;
}
