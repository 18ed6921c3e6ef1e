/* ipopctl's command table: every subcommand is data (its words, the wire
 * request it sends, which daemon serves it, its arguments and how to print
 * the answer), so parsing, per-command help, the man page and the tests
 * all follow one table.  args.c turns argv into the request body; it does
 * no I/O on the control socket, which keeps it unit-testable. */
#ifndef IPOPCTL_CLI_H
#define IPOPCTL_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* Exit codes: stable, documented in ipopctl(8) and docs/ipopctl.md. */
enum {
  EXIT_OK = 0,        /* success */
  EXIT_REMOTE = 1,    /* the daemon answered with an error */
  EXIT_USAGE = 2,     /* bad command line */
  EXIT_NOANSWER = 3,  /* daemon not running / no answer before the timeout */
  EXIT_REFUSED = 4,   /* authentication failed (wrong key file) or replay */
  EXIT_LOCAL = 5,     /* local problem: key or config file, out of memory */
  EXIT_DEADLINE = 6,  /* wait, connect: the deadline passed before the condition held */
};

enum cli_daemon { CLI_ANY, CLI_TINCAN, CLI_CONTROLLER };

enum cli_arg_type {
  ARG_STR,        /* any non-empty text without control characters */
  ARG_ID,         /* overlay/node/peer id: 1..64 of [A-Za-z0-9_.-] */
  ARG_U32,        /* integer in [min, max] */
  ARG_IP4,        /* dotted quad */
  ARG_IP6,        /* IPv6 address */
  ARG_IP4_NET,    /* ADDR[/PREFIX] -> field and field_prefix */
  ARG_IP6_NET,    /* ADDR[/PREFIX] -> field and field_prefix */
  ARG_CIDR,       /* IPv4 network a.b.c.d/n, host bits zero */
  ARG_MAC,        /* 02:00:5e:10:00:01 */
  ARG_BOOL,       /* yes|no -> true|false */
  ARG_ENUM,       /* one of names[] */
  ARG_HOSTPORT,   /* host:port or [v6]:port */
  ARG_TURN,       /* USER@HOST:PORT[/udp|tcp|tls] -> {address,user,transport} */
  ARG_JID,        /* bare JID: [local@]domain */
  ARG_USER_JID,   /* bare JID with a local part: user@domain */
  ARG_ROOM,       /* bare JID with a local part: room@service */
  ARG_GROUP,      /* group name: 1..32 of [a-z0-9._-], first a letter or digit */
  ARG_PATH,       /* a file name ("-" = stdin where the command says so) */
  ARG_TEXT,       /* positional: the rest of the line, joined with spaces */
};

#define ARG_REQUIRED 0x1u
#define ARG_REPEAT 0x2u /* may be given several times: a JSON array */
#define ARG_LOCAL 0x4u  /* used by ipopctl itself, not sent (finish() reads it) */

struct cli_arg {
  const char *flag;             /* "--overlay"; NULL: positional */
  const char *meta;             /* "ID" */
  const char *field;            /* JSON key in the body (or in the local object) */
  enum cli_arg_type type;
  unsigned flags;
  const char *help;
  const char *const *names;     /* ARG_ENUM */
  long long min, max;           /* ARG_U32 */
};

/* A(flag, meta, field, type, flags, help [, .names = ..., .min = ..., .max = ...]) */
#define A(fl_, meta_, field_, type_, flags_, help_, ...)                                   \
  { .flag = (fl_), .meta = (meta_), .field = (field_), .type = (type_), .flags = (flags_), \
    .help = (help_), __VA_ARGS__ }

struct cli_command;
/* After the generic parse: checks across arguments, reads local files.
 * body and local are the parsed objects; returns 0 or an EXIT_* code with
 * the message in err. */
typedef int (*cli_finish_fn)(const struct cli_command *c, json_t *body, json_t *local,
                             char *err, size_t errlen);
/* Text output of a successful answer (--json bypasses it). */
typedef void (*cli_print_fn)(FILE *f, const struct cli_command *c, const json_t *body,
                             const json_t *result);

#define CLI_LISTEN 0x1u  /* keep running and print events */
#define CLI_RAW 0x2u     /* "call": the wire name and body come from argv */
#define CLI_STEPS 0x4u   /* several requests with a deadline (wait, connect): steps.c */

struct cli_command {
  const char *name;             /* "create-overlay", "group list" */
  const char *wire;             /* request name on the wire */
  enum cli_daemon daemon;
  unsigned flags;
  const char *summary;          /* one line */
  const char *help;             /* a paragraph for `ipopctl help NAME` */
  const struct cli_arg *args;
  unsigned n_args;
  cli_finish_fn finish;
  cli_print_fn print;           /* NULL: key: value lines */
  const char *done;             /* text output for an empty result, with {field} of the body */
};

extern const struct cli_command cli_tincan_commands[];
extern const unsigned cli_tincan_commands_count;
extern const struct cli_command cli_controller_commands[];
extern const unsigned cli_controller_commands_count;
extern const struct cli_command cli_step_commands[];
extern const unsigned cli_step_commands_count;

/* The command named by argv[0] (and argv[1] for two-word commands such as
 * "group list"); *words is set to how many argv entries the name took.
 * NULL if there is none. */
const struct cli_command *cli_find(int argc, char **argv, int *words);
/* Every command, in help order: the controller's, wait and connect, tincan's. */
const struct cli_command *cli_command_at(unsigned i);

struct cli_parsed {
  json_t *body;                 /* the request body (new reference) */
  json_t *local;                /* ARG_LOCAL values */
  const char *wire;             /* request name (differs from c->wire for "call") */
  bool help;                    /* --help / -h was given: print help, send nothing */
  bool json;                    /* --json / -j among the command's arguments */
};

/* argv = the command's arguments (after its name).  Returns 0 or an EXIT_*
 * code (usage or local) with a message in err naming the bad argument. */
int cli_parse(const struct cli_command *c, int argc, char **argv, struct cli_parsed *out,
              char *err, size_t errlen);
void cli_parsed_free(struct cli_parsed *p);

/* Value checks shared with finish functions (true = valid). */
bool cli_jid_valid(const char *s, bool need_local);
bool cli_group_name_valid(const char *s);
bool cli_cidr_valid(const char *s, char *why, size_t whylen);

/* "create-overlay --overlay ID --node ID --tap NAME [--mac MAC] ..." */
void cli_synopsis(FILE *f, const struct cli_command *c);
void cli_help(FILE *f, const struct cli_command *c);

/* Copies the fields of a candidate set (`ipopctl -j candidates` on the
 * peer) into a create_link body, keeping fields the body already has. */
void cli_link_body_from_set(json_t *body, const json_t *set);
bool cli_tap_valid(const char *tap);

/* commands_wait.c: what wait polls and how it judges an answer (no I/O,
 * so unit-testable); steps.c sends and repeats. */
enum wait_verdict { WAIT_MET, WAIT_NOT_YET };
/* -t or not decides which flags fit (--overlay: tincan, --group:
 * controller).  0 or EXIT_USAGE with err. */
int wait_check_target(const struct cli_command *c, const json_t *local, bool tincan,
                      char *err, size_t len);
/* The request to poll: wire name and a new body.  tincan: -t was given. */
const char *wait_request(const struct cli_command *c, const json_t *local, bool tincan,
                         json_t **body);
/* One answer: WAIT_MET with *match the object to print (borrowed from
 * result), or WAIT_NOT_YET with what was seen in state ("state
 * connecting", "2 of 3 peers online"). */
enum wait_verdict wait_judge(const struct cli_command *c, const json_t *local, bool tincan,
                             const json_t *result, const json_t **match, char *state,
                             size_t len);
/* A sentence for the met condition (text output). */
void wait_describe(FILE *f, const struct cli_command *c, const json_t *local, bool tincan,
                   const json_t *match, double waited_s);
/* connect: checks that set is the peer's candidate set for us (node,
 * peer, overlay of the command).  0 or EXIT_USAGE with err. */
int connect_check_set(const json_t *set, const json_t *body, const json_t *local, char *err,
                      size_t len);

/* output.c */
void out_json(FILE *f, const json_t *j);
void out_result(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result);
void out_kv(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result);
void out_status(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result);
void out_peers(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result);
void out_links(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result);
void out_groups(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result);
void out_group(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result);
void out_known(FILE *f, const struct cli_command *c, const json_t *body,
               const json_t *result);
void out_blocklist(FILE *f, const struct cli_command *c, const json_t *body,
                   const json_t *result);
void out_candidates(FILE *f, const struct cli_command *c, const json_t *body,
                    const json_t *result);
/* "body.overlay_id: ..." -> " (--overlay)" when the field is one of c's flags. */
void out_field_hint(const struct cli_command *c, const char *msg, char *buf, size_t len);

#endif
