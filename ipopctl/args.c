/* Command lines -> request bodies, by each command's argument table.
 * Values are checked here, before anything is sent, so a typo is a usage
 * error (exit 2) naming the argument instead of a daemon's error about a
 * JSON field the user never wrote. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "messages.h"

const struct cli_command *cli_command_at(unsigned i)
{
  if (i < cli_controller_commands_count)
    return &cli_controller_commands[i];
  i -= cli_controller_commands_count;
  if (i < cli_step_commands_count)
    return &cli_step_commands[i];
  i -= cli_step_commands_count;
  return i < cli_tincan_commands_count ? &cli_tincan_commands[i] : NULL;
}

const struct cli_command *cli_find(int argc, char **argv, int *words)
{
  const struct cli_command *c;
  if (argc < 1)
    return NULL;
  /* two-word names first ("group list"), then one word */
  for (unsigned i = 0; argc >= 2 && (c = cli_command_at(i)); i++) {
    size_t n = strlen(argv[0]);
    if (strncmp(c->name, argv[0], n) == 0 && c->name[n] == ' ' &&
        strcmp(c->name + n + 1, argv[1]) == 0) {
      *words = 2;
      return c;
    }
  }
  for (unsigned i = 0; (c = cli_command_at(i)); i++)
    if (strcmp(c->name, argv[0]) == 0) {
      *words = 1;
      return c;
    }
  return NULL;
}

static int fail(char *err, size_t len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t len, int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
  return code;
}

static bool printable(const char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return false;
  return true;
}

bool cli_jid_valid(const char *s, bool need_local)
{
  size_t n = strlen(s);
  const char *at = strchr(s, '@');
  if (n == 0 || n > 511 || !printable(s) || strpbrk(s, " /\"'<>&"))
    return false;
  if (at && (at == s || strchr(at + 1, '@') || at[1] == '\0'))
    return false;
  if (need_local && !at)
    return false;
  const char *domain = at ? at + 1 : s;
  return domain[0] != '.' && domain[strlen(domain) - 1] != '.';
}

bool cli_group_name_valid(const char *s)
{
  size_t n = strlen(s);
  if (n < 1 || n > 32 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!(islower(ch) || isdigit(ch) || ch == '.' || ch == '_' || ch == '-'))
      return false;
  }
  return true;
}

/* a.b.c.d/n with n in 1..30 (a /31 or /32 leaves no room for members) and
 * the host bits zero: a subnet with host bits set is almost always a typo
 * for the member's own address. */
bool cli_cidr_valid(const char *s, char *why, size_t whylen)
{
  char addr[INET_ADDRSTRLEN + 1];
  const char *slash = strchr(s, '/');
  struct in_addr a;
  char *end;
  if (!slash || (size_t)(slash - s) >= sizeof addr) {
    snprintf(why, whylen, "expected an IPv4 network such as 10.254.7.0/24");
    return false;
  }
  memcpy(addr, s, (size_t)(slash - s));
  addr[slash - s] = '\0';
  errno = 0;
  long p = strtol(slash + 1, &end, 10);
  if (inet_pton(AF_INET, addr, &a) != 1 || !slash[1] || *end || errno || p < 1 || p > 30) {
    snprintf(why, whylen, "expected an IPv4 network such as 10.254.7.0/24 (prefix 1..30)");
    return false;
  }
  uint32_t h = ntohl(a.s_addr), mask = (uint32_t)(0xffffffffu << (32 - p));
  if (h & ~mask) {
    struct in_addr net = { .s_addr = htonl(h & mask) };
    char nb[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &net, nb, sizeof nb);
    snprintf(why, whylen, "host bits are set; did you mean %s/%ld?", nb, p);
    return false;
  }
  return true;
}

static bool mac_valid(const char *s)
{
  if (strlen(s) != 17)
    return false;
  for (int i = 0; i < 17; i++) {
    if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
      return false;
  }
  return true;
}

static bool port_valid(const char *p)
{
  char *end;
  errno = 0;
  long v = strtol(p, &end, 10);
  return *p && !*end && !errno && v >= 1 && v <= 65535;
}

static bool hostport_valid(const char *s)
{
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    return close && close > s + 1 && close[1] == ':' && port_valid(close + 2);
  }
  const char *colon = strrchr(s, ':');
  return colon && colon > s && !memchr(s, ':', (size_t)(colon - s)) && port_valid(colon + 1) &&
         !strpbrk(s, " /@");
}

/* ADDR[/PREFIX]: sets field and field_prefix (when a prefix is given). */
static int put_net(json_t *body, const struct cli_arg *a, const char *v, int af, char *err,
                   size_t len)
{
  char addr[INET6_ADDRSTRLEN + 1], key[64];
  unsigned char buf[sizeof(struct in6_addr)];
  const char *slash = strchr(v, '/');
  size_t n = slash ? (size_t)(slash - v) : strlen(v);
  long max = af == AF_INET ? 32 : 128;
  if (n >= sizeof addr)
    goto bad;
  memcpy(addr, v, n);
  addr[n] = '\0';
  if (inet_pton(af, addr, buf) != 1)
    goto bad;
  json_object_set_new(body, a->field, json_string(addr));
  if (slash) {
    char *end;
    errno = 0;
    long p = strtol(slash + 1, &end, 10);
    if (!slash[1] || *end || errno || p < 1 || p > max)
      goto bad;
    snprintf(key, sizeof key, "%s_prefix", a->field);
    json_object_set_new(body, key, json_integer(p));
  }
  return 0;
bad:
  return fail(err, len, EXIT_USAGE, "%s \"%s\": expected an %s address with an optional /PREFIX "
              "(1..%ld), e.g. %s", a->flag, v, af == AF_INET ? "IPv4" : "IPv6", max,
              af == AF_INET ? "10.254.0.1/24" : "fd50::1/64");
}

/* USER@HOST:PORT[/TRANSPORT]: a TURN server without its password, which
 * must not appear in argv (ps shows it to every user). */
static json_t *parse_turn(const char *v)
{
  const char *at = strrchr(v, '@');
  if (!at || at == v)
    return NULL;
  char hp[CTL_HOSTPORT_LEN];
  const char *slash = strchr(at + 1, '/');
  const char *transport = slash ? slash + 1 : "udp";
  size_t n = slash ? (size_t)(slash - at - 1) : strlen(at + 1);
  if (n >= sizeof hp)
    return NULL;
  memcpy(hp, at + 1, n);
  hp[n] = '\0';
  bool known = false;
  for (int i = 0; ctl_turn_transport_names[i]; i++)
    known = known || strcmp(transport, ctl_turn_transport_names[i]) == 0;
  if (!known || !hostport_valid(hp))
    return NULL;
  return json_pack("{s:s, s:s#, s:s}", "address", hp, "user", v, (int)(at - v), "transport",
                   transport);
}

/* One value: checked and stored under a->field (appended for ARG_REPEAT). */
static int put_value(const struct cli_command *c, const struct cli_arg *a, json_t *obj,
                     const char *v, char *err, size_t len)
{
  const char *name = a->flag ? a->flag : a->meta;
  char why[160];
  json_t *val = NULL;
  switch (a->type) {
  case ARG_STR:
  case ARG_TEXT:
  case ARG_PATH:
    if (!*v && a->type != ARG_TEXT)
      return fail(err, len, EXIT_USAGE, "%s: empty value", name);
    if (!printable(v))
      return fail(err, len, EXIT_USAGE, "%s: control characters are not allowed", name);
    val = json_string(v);
    break;
  case ARG_ID:
    if (!ctl_id_valid(v))
      return fail(err, len, EXIT_USAGE, "%s \"%s\": expected 1..64 characters of "
                  "A-Z a-z 0-9 _ . -", name, v);
    val = json_string(v);
    break;
  case ARG_U32: {
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < a->min || n > a->max)
      return fail(err, len, EXIT_USAGE, "%s \"%s\": expected an integer in %lld..%lld", name,
                  v, a->min, a->max);
    val = json_integer(n);
    break;
  }
  case ARG_IP4:
  case ARG_IP6: {
    struct in6_addr ia;
    bool v6 = a->type == ARG_IP6;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, v, &ia) != 1)
      return fail(err, len, EXIT_USAGE, "%s \"%s\": expected an %s address such as %s", name, v,
                  v6 ? "IPv6" : "IPv4", v6 ? "fd00:a::2" : "10.254.0.2");
    val = json_string(v);
    break;
  }
  case ARG_IP4_NET:
    return put_net(obj, a, v, AF_INET, err, len);
  case ARG_IP6_NET:
    return put_net(obj, a, v, AF_INET6, err, len);
  case ARG_CIDR:
    if (!cli_cidr_valid(v, why, sizeof why))
      return fail(err, len, EXIT_USAGE, "%s \"%s\": %s", name, v, why);
    val = json_string(v);
    break;
  case ARG_MAC:
    if (!mac_valid(v))
      return fail(err, len, EXIT_USAGE, "%s \"%s\": expected a MAC such as 02:00:5e:10:00:01",
                  name, v);
    val = json_string(v);
    break;
  case ARG_BOOL:
    if (strcmp(v, "yes") && strcmp(v, "no"))
      return fail(err, len, EXIT_USAGE, "%s \"%s\": expected yes or no", name, v);
    val = json_boolean(strcmp(v, "yes") == 0);
    break;
  case ARG_ENUM:
    for (int i = 0; a->names[i]; i++)
      if (strcmp(v, a->names[i]) == 0)
        val = json_string(v);
    if (!val) {
      char list[160] = "";
      for (int i = 0; a->names[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 a->names[i]);
      return fail(err, len, EXIT_USAGE, "%s \"%s\": expected one of %s", name, v, list);
    }
    break;
  case ARG_HOSTPORT:
    if (!hostport_valid(v))
      return fail(err, len, EXIT_USAGE, "%s \"%s\": expected HOST:PORT or [IPV6]:PORT", name,
                  v);
    val = json_string(v);
    break;
  case ARG_TURN:
    if (!(val = parse_turn(v)))
      return fail(err, len, EXIT_USAGE, "%s \"%s\": expected USER@HOST:PORT[/udp|tcp|tls] "
                  "(the password comes from --turn-password-file)", name, v);
    break;
  case ARG_JID:
  case ARG_USER_JID:
  case ARG_ROOM:
    if (!cli_jid_valid(v, a->type != ARG_JID))
      return fail(err, len, EXIT_USAGE, "%s \"%s\": expected a bare JID such as %s", name, v,
                  a->type == ARG_ROOM ? "lab@conference.example.org" : "alice@example.org");
    val = json_string(v);
    break;
  case ARG_GROUP:
    if (!cli_group_name_valid(v))
      return fail(err, len, EXIT_USAGE, "%s \"%s\": a group name is 1..32 characters of "
                  "a-z 0-9 . _ -, starting with a letter or digit", name, v);
    val = json_string(v);
    break;
  }
  if (!val)
    return fail(err, len, EXIT_LOCAL, "out of memory");
  if (a->flags & ARG_REPEAT) {
    json_t *arr = json_object_get(obj, a->field);
    if (!arr) {
      arr = json_array();
      json_object_set_new(obj, a->field, arr);
    }
    json_array_append_new(arr, val);
  } else if (json_object_get(obj, a->field) && a->type != ARG_TEXT) {
    json_decref(val);
    return fail(err, len, EXIT_USAGE, "%s given twice", name);
  } else {
    json_object_set_new(obj, a->field, val);
  }
  (void)c;
  return 0;
}

static const struct cli_arg *find_flag(const struct cli_command *c, const char *flag,
                                       size_t n)
{
  for (unsigned i = 0; i < c->n_args; i++)
    if (c->args[i].flag && strlen(c->args[i].flag) == n && strncmp(c->args[i].flag, flag, n) == 0)
      return &c->args[i];
  return NULL;
}

static int raw_call(int argc, char **argv, struct cli_parsed *out, char *err, size_t len);

int cli_parse(const struct cli_command *c, int argc, char **argv, struct cli_parsed *out,
              char *err, size_t len)
{
  memset(out, 0, sizeof *out);
  out->wire = c->wire;
  bool flags_done = false;
  unsigned next_pos = 0;
  int rc = 0;
  /* --help and --json first, so that "cmd --bad --help" still helps */
  for (int i = 0; i < argc && strcmp(argv[i], "--"); i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
      out->help = true;
  }
  if (out->help)
    return 0;
  if (c->flags & CLI_RAW)
    return raw_call(argc, argv, out, err, len);
  out->body = json_object();
  out->local = json_object();
  if (!out->body || !out->local)
    return fail(err, len, EXIT_LOCAL, "out of memory");
  for (int i = 0; i < argc && !rc; i++) {
    const char *arg = argv[i];
    if (!flags_done && !strcmp(arg, "--")) {
      flags_done = true;
      continue;
    }
    if (!flags_done && (!strcmp(arg, "--json") || !strcmp(arg, "-j"))) {
      out->json = true;
      continue;
    }
    if (!flags_done && arg[0] == '-' && arg[1] == '-') {
      const char *eq = strchr(arg, '=');
      const struct cli_arg *a = find_flag(c, arg, eq ? (size_t)(eq - arg) : strlen(arg));
      if (!a)
        return fail(err, len, EXIT_USAGE, "%s: unknown option %.*s (see ipopctl help %s)",
                    c->name, eq ? (int)(eq - arg) : (int)strlen(arg), arg, c->name);
      const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
      if (!v)
        return fail(err, len, EXIT_USAGE, "%s: %s needs a value (%s)", c->name, a->flag,
                    a->meta);
      rc = put_value(c, a, (a->flags & ARG_LOCAL) ? out->local : out->body, v, err, len);
      continue;
    }
    if (!flags_done && arg[0] == '-' && arg[1] && !(c->n_args && c->args[0].type == ARG_TEXT))
      return fail(err, len, EXIT_USAGE, "%s: unknown option %s (see ipopctl help %s)",
                  c->name, arg, c->name);
    /* positional: the next one of the table; a TEXT one takes the rest */
    const struct cli_arg *a = NULL;
    unsigned seen = 0;
    for (unsigned k = 0; k < c->n_args && !a; k++) {
      if (c->args[k].flag)
        continue;
      if (seen == next_pos || (c->args[k].type == ARG_TEXT && seen < next_pos))
        a = &c->args[k];
      seen++;
    }
    if (!a)
      return fail(err, len, EXIT_USAGE, "%s: unexpected argument \"%s\" (see ipopctl help %s)",
                  c->name, arg, c->name);
    if (a->type == ARG_TEXT && json_object_get(out->body, a->field)) {
      /* the rest of the line, joined */
      char *joined;
      if (asprintf(&joined, "%s %s", json_string_value(json_object_get(out->body, a->field)),
                   arg) < 0)
        return fail(err, len, EXIT_LOCAL, "out of memory");
      json_object_set_new(out->body, a->field, json_string(joined));
      free(joined);
    } else {
      rc = put_value(c, a, (a->flags & ARG_LOCAL) ? out->local : out->body, arg, err, len);
    }
    next_pos++;
  }
  if (rc)
    return rc;
  for (unsigned k = 0; k < c->n_args; k++) {
    const struct cli_arg *a = &c->args[k];
    json_t *where = (a->flags & ARG_LOCAL) ? out->local : out->body;
    if ((a->flags & ARG_REQUIRED) && !json_object_get(where, a->field)) {
      if (a->flag)
        return fail(err, len, EXIT_USAGE, "%s: %s %s is required", c->name, a->flag, a->meta);
      return fail(err, len, EXIT_USAGE, "%s: missing %s (usage: ipopctl %s ...; see ipopctl "
                  "help %s)", c->name, a->meta, c->name, c->name);
    }
  }
  return c->finish ? c->finish(c, out->body, out->local, err, len) : 0;
}

/* call NAME [JSON|-]: the escape hatch for any request, body as written. */
static int raw_call(int argc, char **argv, struct cli_parsed *out, char *err, size_t len)
{
  int i = 0;
  if (i < argc && (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))) {
    out->json = true;
    i++;
  }
  if (i >= argc)
    return fail(err, len, EXIT_USAGE, "call: missing NAME (usage: ipopctl call NAME [JSON|-])");
  out->wire = argv[i++];
  if (i + 1 < argc)
    return fail(err, len, EXIT_USAGE, "call: unexpected argument \"%s\" (quote the JSON body "
                "as one argument)", argv[i + 1]);
  json_error_t je;
  if (i >= argc)
    out->body = json_object();
  else if (!strcmp(argv[i], "-"))
    out->body = json_loadf(stdin, JSON_REJECT_DUPLICATES, &je);
  else
    out->body = json_loads(argv[i], JSON_REJECT_DUPLICATES, &je);
  if (!out->body)
    return fail(err, len, EXIT_USAGE, "call %s: the body is not valid JSON (column %d: %s)",
                out->wire, je.column, je.text);
  if (!json_is_object(out->body))
    return fail(err, len, EXIT_USAGE, "call %s: the body must be a JSON object", out->wire);
  out->local = json_object();
  return 0;
}

void cli_parsed_free(struct cli_parsed *p)
{
  json_decref(p->body);
  json_decref(p->local);
  p->body = p->local = NULL;
}

void cli_synopsis(FILE *f, const struct cli_command *c)
{
  fprintf(f, "ipopctl %s%s", c->daemon == CLI_ANY ? "[-t] " : "", c->name);
  for (unsigned k = 0; k < c->n_args; k++) {
    const struct cli_arg *a = &c->args[k];
    bool opt = !(a->flags & ARG_REQUIRED);
    if (a->flag)
      fprintf(f, " %s%s %s%s%s", opt ? "[" : "", a->flag, a->meta, opt ? "]" : "",
              (a->flags & ARG_REPEAT) ? "..." : "");
    else
      fprintf(f, " %s%s%s", opt ? "[" : "", a->meta, opt ? "]" : "");
  }
  fputc('\n', f);
}

/* Prints text wrapped at 78 columns, continuation lines indented; the
 * text starts at column col.  Spaces inside [...] do not break, so an
 * optional argument stays on one line. */
static void wrap(FILE *f, const char *text, int indent, int col)
{
  const char *p = text;
  bool first = true;
  while (*p) {
    size_t n = 0;
    for (int depth = 0; p[n] && (depth > 0 || p[n] != ' '); n++)
      depth += p[n] == '[' ? 1 : p[n] == ']' ? -1 : 0;
    if (!first && col + 1 + (int)n > 78) {
      fprintf(f, "\n%*s", indent, "");
      col = indent;
    } else if (!first) {
      fputc(' ', f);
      col++;
    }
    fwrite(p, 1, n, f);
    col += (int)n;
    first = false;
    p += n;
    p += strspn(p, " ");
  }
  fputc('\n', f);
}

void cli_help(FILE *f, const struct cli_command *c)
{
  char *syn = NULL;
  size_t synlen = 0;
  FILE *m = open_memstream(&syn, &synlen);
  if (m) {
    cli_synopsis(m, c);
    fclose(m);
  }
  if (syn) {
    syn[strcspn(syn, "\n")] = '\0';
    fputs("usage: ", f);
    wrap(f, syn, 15 + (int)strlen(c->name), 7);
    free(syn);
  }
  fputc('\n', f);
  wrap(f, c->help ? c->help : c->summary, 0, 0);
  const char *to = c->daemon == CLI_TINCAN       ? "ipop-tincan"
                   : c->daemon == CLI_CONTROLLER ? "ipop-controller"
                                                 : "ipop-controller (ipop-tincan with -t)";
  if (c->flags & CLI_STEPS)
    fprintf(f, "\nSends several requests to %s\nuntil done or the deadline.\n", to);
  else
    fprintf(f, "\nSends the request \"%s\" to %s.\n", c->wire ? c->wire : "NAME", to);
  if (c->n_args)
    fputs("\narguments:\n", f);
  for (unsigned k = 0; k < c->n_args; k++) {
    const struct cli_arg *a = &c->args[k];
    char left[64];
    snprintf(left, sizeof left, "%s%s%s", a->flag ? a->flag : "", a->flag ? " " : "", a->meta);
    char text[512];
    snprintf(text, sizeof text, "%s%s%s", a->help, (a->flags & ARG_REQUIRED) ? " (required)" : "",
             (a->flags & ARG_REPEAT) ? " (repeatable)" : "");
    if (a->type == ARG_ENUM) {
      snprintf(text + strlen(text), sizeof text - strlen(text), " [");
      for (int i = 0; a->names[i]; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s", i ? "|" : "",
                 a->names[i]);
      snprintf(text + strlen(text), sizeof text - strlen(text), "]");
    }
    if (strlen(left) > 24)
      fprintf(f, "  %s\n%27s", left, "");
    else
      fprintf(f, "  %-24s ", left);
    wrap(f, text, 27, 27);
  }
  fputs("\n--json (-j) prints the daemon's result as one JSON document.\n", f);
}
