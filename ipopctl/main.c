/* ipopctl: the sysadmin's tool for both daemons, over the authenticated
 * control socket.  This file: global options, one request and its answer,
 * exit codes.  Where to send: session.c; the commands themselves are
 * tables in commands_*.c; wait and connect (several requests): steps.c. */
#include <arpa/inet.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli.h"
#include "ctl.h"
#include "ctl_config.h"
#include "error.h"
#include "log.h"
#include "session.h"
#include "steps.h"

struct call {
  const struct opts *o;
  const struct cli_command *cmd;
  const struct cli_parsed *p;
  struct session s;             /* the daemon, its endpoint, our socket */
  int exit_code;
  bool done;                    /* answered, timed out or stopped */
  uv_timer_t timer;
  uv_signal_t sig[2];           /* listen: SIGINT, SIGTERM */
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
      fputs("\nwaiting with a deadline (-t: ipop-tincan), linking two tincans:\n", f);
    if (i == cli_controller_commands_count + cli_step_commands_count)
      fputs("\ncommands (ipop-tincan; -t implied):\n", f);
    fprintf(f, "  %-18s %s\n", c->name, c->summary);
  }
  fputs("\nexit codes: 0 ok, 1 the daemon answered with an error, 2 usage, 3 no answer\n"
        "            (not running), 4 authentication refused, 5 local problem,\n"
        "            6 wait/connect: the deadline passed first\n", f);
}

static void finish_call(struct call *c, int code)
{
  c->exit_code = code;
  c->done = true;
  uv_timer_stop(&c->timer);
  if (c->s.ep)
    ctl_endpoint_close(c->s.ep);
  c->s.ep = NULL;
}

/* listen: a subscription (tincan's monitor) lasts CTL_MONITOR_LEASE_MS;
 * renew it well before, so that a restarted tincan gets us back too. */
#define LISTEN_RENEW_MS (CTL_MONITOR_LEASE_MS / 3)

static void on_renewed(int status, const void *result, const char *err_msg, void *ctx)
{
  struct call *c = ctx;
  (void)result;
  if (status && !c->done)
    fprintf(stderr, "ipopctl: renewing the subscription at %s failed: %s\n", c->s.server,
            err_msg ? err_msg : ipop_strerror(status));
}

static void renew_cb(uv_timer_t *t)
{
  struct call *c = t->data;
  if (!c->done)
    ctl_request_send_json(c->s.ep, (struct sockaddr *)&c->tincan, "subscribe", json_object(),
                          c->o->timeout_ms, on_renewed, c);
}

static void on_answer(int status, const void *result, const char *err_msg, void *ctx)
{
  struct call *c = ctx;
  if (c->done) /* our own timeout already reported, or stopped by a signal */
    return;
  if (status == 0) {
    if (c->cmd->flags & CLI_LISTEN) { /* stdout: only the events */
      c->exit_code = EXIT_OK;
      fprintf(stderr, "ipopctl: listening for events of %s (Ctrl-C to stop)\n", c->s.daemon);
      uv_timer_start(&c->timer, renew_cb, LISTEN_RENEW_MS, LISTEN_RENEW_MS);
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
    session_report_refused(&c->s, status, err_msg);
    finish_call(c, EXIT_REFUSED);
    return;
  }
  /* The daemon answered with an error: name the argument the field came from. */
  char hint[96];
  out_field_hint(c->cmd, err_msg, hint, sizeof hint);
  const char *cmdname = (c->cmd->flags & CLI_RAW) ? c->p->wire : c->cmd->name;
  fprintf(stderr, "ipopctl: %s: %s answered %s: %s%s\n", cmdname, c->s.daemon,
          ipop_err_name(status), err_msg ? err_msg : ipop_strerror(status), hint);
  if (status == IPOP_ENOCMD && (c->cmd->flags & CLI_RAW))
    fprintf(stderr, "ipopctl: this %s does not offer \"%s\" (is it the other daemon's "
            "request? %s)\n", c->s.daemon, c->p->wire,
            c->s.tincan_target ? "drop -t for ipop-controller" : "-t talks to ipop-tincan");
  else if (status == IPOP_ENOCMD)
    fprintf(stderr, "ipopctl: this %s does not offer \"%s\" yet (an older version?)\n",
            c->s.daemon, c->p->wire);
  if (c->o->json) {
    json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", ipop_err_name(status), "message",
                          err_msg ? err_msg : "");
    out_json(stdout, e);
    json_decref(e);
  }
  finish_call(c, EXIT_REMOTE);
}

static void on_timeout(uv_timer_t *t)
{
  struct call *c = t->data;
  if (c->done)
    return;
  session_not_answering(&c->s, false, c->o->timeout_ms);
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

/* Stopping listen: nothing to hand back, the subscription only copied the
 * events (and lapses by itself). */
static void on_signal(uv_signal_t *h, int sig)
{
  struct call *c = h->data;
  (void)sig;
  if (c->done)
    return;
  for (int i = 0; i < 2; i++)
    uv_signal_stop(&c->sig[i]);
  finish_call(c, c->exit_code);
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
  bool tincan = cmd->daemon == CLI_TINCAN || (cmd->daemon == CLI_ANY && o->tincan);
  int rc = session_open(&call.s, o, tincan,
                        (cmd->flags & CLI_LISTEN) ? on_event : NULL, &call);
  if (rc)
    return rc;
  if (udp_port_bound(call.s.port) == 0) {
    session_not_answering(&call.s, true, 0);
    session_close(&call.s);
    return EXIT_NOANSWER;
  }
  uv_loop_t *loop = &call.s.loop;
  uv_timer_init(loop, &call.timer);
  call.timer.data = &call;
  for (int i = 0; i < 2; i++) {
    uv_signal_init(loop, &call.sig[i]);
    call.sig[i].data = &call;
    if (cmd->flags & CLI_LISTEN) {
      uv_signal_start(&call.sig[i], on_signal, i ? SIGTERM : SIGINT);
      uv_unref((uv_handle_t *)&call.sig[i]);
    }
  }
  call.tincan = call.s.to;
  /* Our own deadline (the endpoint's is later): a daemon's error answer
   * carrying "timeout" must stay exit 1, only silence is exit 3. */
  uv_timer_start(&call.timer, on_timeout, o->timeout_ms, 0);
  json_t *body = json_incref(p->body);
  rc = ctl_request_send_json(call.s.ep, (struct sockaddr *)&call.s.to, p->wire, body,
                             o->timeout_ms + 1000, on_answer, &call);
  if (rc) {
    fprintf(stderr, "ipopctl: cannot send \"%s\": %s\n", p->wire, ipop_strerror(rc));
    finish_call(&call, rc == IPOP_ETOOBIG ? EXIT_USAGE : EXIT_LOCAL);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&call.timer, NULL);
  for (int i = 0; i < 2; i++)
    uv_close((uv_handle_t *)&call.sig[i], NULL);
  session_close(&call.s);
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
    rc = (cmd->flags & CLI_STEPS) ? steps_run(&o, cmd, &p) : run(&o, cmd, &p);
  }
  cli_parsed_free(&p);
  return rc;
}
