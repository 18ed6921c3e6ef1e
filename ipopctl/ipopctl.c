/* ipopctl: the sysadmin's tool for both daemons, over the authenticated
 * control socket.  Exit codes (stable, for scripts):
 *   0  success
 *   1  the daemon answered with an error
 *   2  usage error (bad option, bad JSON argument)
 *   3  no answer: daemon not running or not reachable before the timeout
 *   4  refused: authentication failed (wrong key file) or replay
 *   5  local problem: key file missing or unreadable, out of memory */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ctl.h"
#include "error.h"
#include "log.h"
#include "secret.h"

enum { EXIT_OK = 0, EXIT_REMOTE = 1, EXIT_USAGE = 2, EXIT_NOANSWER = 3, EXIT_REFUSED = 4,
       EXIT_LOCAL = 5 };

#define DEFAULT_KEY_FILE "/etc/ipop/control.key"

struct opts {
  const char *key_file;
  const char *server;
  bool tincan;
  bool json;
  unsigned timeout_ms;
};

struct call {
  const struct opts *o;
  const char *name;
  int exit_code;
  bool listen;           /* keep running and print events */
  struct ctl_endpoint *ep;
};

static void usage(FILE *f)
{
  fprintf(f,
"usage: ipopctl [options] COMMAND [ARGS]\n"
"\n"
"Talks to ipop-controller (default) or ipop-tincan over the control socket.\n"
"\n"
"options:\n"
"  -t, --tincan         talk to ipop-tincan (default endpoint 127.0.0.1:%d)\n"
"  -s, --server ADDR    daemon endpoint, e.g. 127.0.0.1:5801 or [::1]:5800\n"
"  -k, --key FILE       control key file (default $IPOP_CONTROL_KEY or %s)\n"
"  -j, --json           print answers as JSON\n"
"  -T, --timeout SEC    seconds to wait for an answer (default 5)\n"
"  -h, --help           this text\n"
"\n"
"commands:\n"
"  echo [TEXT]          check that the daemon is alive and accepts our key\n"
"  call NAME [JSON]     send any request; JSON is the body object (or - for stdin)\n"
"  listen               register for events (ipop-tincan) and print them\n"
"  status               controller status (needs ipop-controller)\n"
"  peers                the controller's peer nodes: JID, node id, address, link\n"
"  links                the overlay's links as ipop-tincan reports them\n"
"  stats                controller counters (XMPP, negotiation, control socket)\n"
"\n"
"exit codes: 0 ok, 1 daemon reported an error, 2 usage, 3 no answer,\n"
"            4 authentication refused, 5 local problem (key file)\n",
          CTL_DEFAULT_TINCAN_PORT, DEFAULT_KEY_FILE);
}

static void print_json(const json_t *j)
{
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
  if (s) {
    puts(s);
    free(s);
  }
}

/* Text output for results: "key: value" lines; nested values as JSON. */
static void print_text(const json_t *j)
{
  const char *k;
  json_t *v;
  if (json_object_size(j) == 1 && json_is_string(json_object_get(j, "message"))) {
    puts(json_string_value(json_object_get(j, "message")));
    return;
  }
  json_object_foreach((json_t *)j, k, v) {
    if (json_is_string(v))
      printf("%s: %s\n", k, json_string_value(v));
    else {
      char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
      printf("%s: %s\n", k, s ? s : "?");
      free(s);
    }
  }
}

static const char *jstr(const json_t *o, const char *k, const char *def)
{
  const char *v = json_string_value(json_object_get(o, k));
  return v ? v : def;
}

static long long jint(const json_t *o, const char *k)
{
  return json_integer_value(json_object_get(o, k));
}

/* peers: one row per peer node. */
static void print_peers(const json_t *j)
{
  const json_t *arr = json_object_get(j, "peers");
  size_t i;
  const json_t *p;
  printf("%-36s %-10s %-15s %-15s %-11s %-10s %-6s %8s %12s %12s\n", "JID", "NODE",
         "ADDRESS", "MAPPED", "NEGOTIATION", "LINK", "PAIR", "RTT_MS", "TX_BYTES", "RX_BYTES");
  json_array_foreach(arr, i, p) {
    printf("%-36s %-10.8s %-15s %-15s %-11s %-10s %-6s %8.1f %12lld %12lld\n", jstr(p, "jid", "-"),
           jstr(p, "node_id", "-"), jstr(p, "ip4", "-"), jstr(p, "mapped_ip4", "-"),
           jstr(p, "negotiation", "-"), jstr(p, "link_state", "-"), jstr(p, "pair_type", "-"),
           jint(p, "rtt_us") / 1000.0, jint(p, "tx_bytes"), jint(p, "rx_bytes"));
  }
  long long total = jint(j, "total");
  if (total > (long long)json_array_size(arr))
    printf("(%lld more not shown)\n", total - (long long)json_array_size(arr));
}

/* links: one row per link. */
static void print_links(const json_t *j)
{
  const json_t *arr = json_object_get(j, "links");
  size_t i;
  const json_t *l;
  printf("%-10s %-10s %-6s %-22s %-22s %8s %12s %12s\n", "PEER", "STATE", "PAIR", "LOCAL",
         "REMOTE", "RTT_MS", "TX_BYTES", "RX_BYTES");
  json_array_foreach(arr, i, l) {
    printf("%-10.8s %-10s %-6s %-22s %-22s %8.1f %12lld %12lld\n", jstr(l, "peer_id", "-"),
           jstr(l, "state", "-"), jstr(l, "pair_type", "-"), jstr(l, "local_addr", "-"),
           jstr(l, "remote_addr", "-"), jint(l, "rtt_us") / 1000.0, jint(l, "tx_bytes"),
           jint(l, "rx_bytes"));
  }
}

static int exit_for(int status)
{
  switch (status) {
  case 0: return EXIT_OK;
  case IPOP_ETIMEDOUT:
  case IPOP_ECONNREFUSED: return EXIT_NOANSWER;
  case IPOP_EAUTH:
  case IPOP_EREPLAY: return EXIT_REFUSED;
  default: return EXIT_REMOTE;
  }
}

static void on_answer(int status, const void *result, const char *err_msg, void *ctx)
{
  struct call *c = ctx;
  c->exit_code = exit_for(status);
  if (status == 0) {
    if (c->o->json)
      print_json(result);
    else if (strcmp(c->name, "peers") == 0)
      print_peers(result);
    else if (strcmp(c->name, "links") == 0)
      print_links(result);
    else
      print_text(result);
  } else if (status == IPOP_ETIMEDOUT) {
    fprintf(stderr, "ipopctl: no answer from %s within %u ms (is the daemon running?)\n",
            c->o->server, c->o->timeout_ms);
  } else if (c->o->json && status != IPOP_EAUTH) {
    json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", ipop_err_name(status),
                          "message", err_msg ? err_msg : "");
    print_json(e);
    json_decref(e);
  } else {
    fprintf(stderr, "ipopctl: %s: %s\n", c->name, err_msg ? err_msg : ipop_strerror(status));
  }
  if (status == 0 && c->listen) {
    fprintf(stderr, "ipopctl: listening for events (Ctrl-C to stop)\n");
    return;
  }
  ctl_endpoint_close(c->ep);
}

/* listen: print every event the daemon sends us. */
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

static void on_signal(uv_signal_t *h, int sig)
{
  struct call *c = h->data;
  uv_close((uv_handle_t *)h, NULL);
  ctl_endpoint_close(c->ep);
}

static json_t *read_body(const char *arg, const char *cmd)
{
  json_error_t err;
  json_t *j = strcmp(arg, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &err)
                                    : json_loads(arg, JSON_REJECT_DUPLICATES, &err);
  if (!j) {
    fprintf(stderr, "ipopctl: %s: the body is not valid JSON (column %d: %s)\n", cmd,
            err.column, err.text);
    return NULL;
  }
  if (!json_is_object(j)) {
    fprintf(stderr, "ipopctl: %s: the body must be a JSON object\n", cmd);
    json_decref(j);
    return NULL;
  }
  return j;
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
    { "tincan", no_argument, NULL, 't' },     { "server", required_argument, NULL, 's' },
    { "key", required_argument, NULL, 'k' },  { "json", no_argument, NULL, 'j' },
    { "timeout", required_argument, NULL, 'T' }, { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct opts o = { .timeout_ms = 5000 };
  char server_buf[64];
  int c;

  ipop_log_init("ipopctl", IPOP_LOG_ERROR);
  o.key_file = getenv("IPOP_CONTROL_KEY") ? getenv("IPOP_CONTROL_KEY") : DEFAULT_KEY_FILE;
  while ((c = getopt_long(argc, argv, "+ts:k:jT:h", longopts, NULL)) != -1) {
    switch (c) {
    case 't': o.tincan = true; break;
    case 's': o.server = optarg; break;
    case 'k': o.key_file = optarg; break;
    case 'j': o.json = true; break;
    case 'T': {
      char *end;
      double s = strtod(optarg, &end);
      if (*end || s <= 0 || s > 3600) {
        fprintf(stderr, "ipopctl: --timeout wants seconds in (0, 3600], not \"%s\"\n", optarg);
        return EXIT_USAGE;
      }
      o.timeout_ms = (unsigned)(s * 1000);
      break;
    }
    case 'h': usage(stdout); return EXIT_OK;
    default: usage(stderr); return EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (!o.server) {
    snprintf(server_buf, sizeof server_buf, "127.0.0.1:%d",
             o.tincan ? CTL_DEFAULT_TINCAN_PORT : CTL_DEFAULT_CONTROLLER_PORT);
    o.server = server_buf;
  }

  const char *cmd = argv[optind];
  struct call call = { .o = &o, .name = cmd, .exit_code = EXIT_NOANSWER };
  json_t *body = NULL;
  const char *name = cmd;
  if (strcmp(cmd, "echo") == 0) {
    body = json_pack("{s:s}", "message", optind + 1 < argc ? argv[optind + 1] : "ping");
  } else if (strcmp(cmd, "call") == 0) {
    if (optind + 1 >= argc) {
      fprintf(stderr, "ipopctl: call needs a command name\n");
      return EXIT_USAGE;
    }
    name = call.name = argv[optind + 1];
    body = optind + 2 < argc ? read_body(argv[optind + 2], name) : json_object();
    if (!body)
      return EXIT_USAGE;
  } else if (strcmp(cmd, "listen") == 0) {
    name = "register";
    body = json_object();
    call.listen = true;
  } else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "peers") == 0 ||
             strcmp(cmd, "links") == 0) {
    body = json_object();
  } else if (strcmp(cmd, "stats") == 0) {
    name = "counters"; /* the wire name: "stats" is tincan's event */
    body = json_object();
  } else {
    fprintf(stderr, "ipopctl: unknown command \"%s\" (see ipopctl --help)\n", cmd);
    return EXIT_USAGE;
  }

  struct sockaddr_storage to;
  int rc = ctl_parse_endpoint(o.server, &to, 0);
  if (rc) {
    fprintf(stderr, "ipopctl: --server \"%s\": %s\n", o.server,
            rc == IPOP_EPERM ? "the control socket is on loopback only"
                             : "expected HOST:PORT or [V6]:PORT");
    json_decref(body);
    return EXIT_USAGE;
  }

  uint8_t key[IPOP_SECRET_LEN];
  char why[256];
  if (ipop_secret_load(o.key_file, 0, (uid_t)-1, (gid_t)-1, key, why, sizeof why) != 0) {
    fprintf(stderr, "ipopctl: %s\n", why);
    json_decref(body);
    return EXIT_LOCAL;
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  struct ctl_endpoint_config cfg = {
    .bind_addr = to.ss_family == AF_INET6 ? "::1" : "127.0.0.1",
    .port = 0,
    .key = key,
    .messages = ctl_tincan_messages,
    .n_messages = ctl_tincan_messages_count,
    .on_event = call.listen ? on_event : NULL,
    .ctx = &call,
  };
  rc = ctl_endpoint_open(&loop, &cfg, &call.ep);
  if (rc) {
    fprintf(stderr, "ipopctl: cannot open a local socket: %s\n", ipop_strerror(rc));
    json_decref(body);
    return EXIT_LOCAL;
  }
  uv_signal_t sig;
  if (call.listen) {
    uv_signal_init(&loop, &sig);
    sig.data = &call;
    uv_signal_start(&sig, on_signal, SIGINT);
  }
  rc = ctl_request_send_json(call.ep, (struct sockaddr *)&to, name, body, o.timeout_ms,
                             on_answer, &call);
  if (rc) {
    fprintf(stderr, "ipopctl: cannot send: %s\n", ipop_strerror(rc));
    ctl_endpoint_close(call.ep);
    call.exit_code = EXIT_LOCAL;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  if (call.listen && !uv_is_closing((uv_handle_t *)&sig)) {
    uv_close((uv_handle_t *)&sig, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);
  memset(key, 0, sizeof key);
  return call.exit_code;
}
