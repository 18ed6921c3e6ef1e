/* ipopctl's command tables without a daemon: argv -> request body (values
 * checked, the bad argument named), per-command help for every command,
 * the text output of answers (tables for groups and blocked JIDs), and
 * what wait polls and how it judges answers, connect's checks of the
 * peer's candidate set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static char err[512];

/* Parse "NAME ARGS..." (words split on spaces; "\x01" stands for a space
 * inside one argument).  Returns the cli_parse code. */
static int parse(const char *line, struct cli_parsed *p)
{
  char buf[1024], *argv[32];
  int argc = 0, words;
  snprintf(buf, sizeof buf, "%s", line);
  for (char *t = strtok(buf, " "); t && argc < 32; t = strtok(NULL, " ")) {
    for (char *s = t; *s; s++)
      if (*s == '\x01')
        *s = ' ';
    argv[argc++] = t;
  }
  const struct cli_command *c = cli_find(argc, argv, &words);
  assert_non_null(c);
  err[0] = '\0';
  return cli_parse(c, argc - words, argv + words, p, err, sizeof err);
}

/* The body as compact sorted JSON, for comparisons. */
static char *dump(const json_t *j)
{
  return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

static void expect_body(const char *line, const char *json)
{
  struct cli_parsed p;
  int rc = parse(line, &p);
  if (rc)
    fail_msg("%s: %s", line, err);
  char *s = dump(p.body);
  assert_string_equal(s, json);
  free(s);
  cli_parsed_free(&p);
}

static void expect_usage(const char *line, const char *needle)
{
  struct cli_parsed p;
  int rc = parse(line, &p);
  if (rc != EXIT_USAGE)
    fail_msg("%s: expected a usage error, got %d (%s)", line, rc, err);
  if (!strstr(err, needle))
    fail_msg("%s: error \"%s\" does not contain \"%s\"", line, err, needle);
  cli_parsed_free(&p);
}

static void test_find(void **state)
{
  int words;
  char *a[] = { "group", "list" }, *b[] = { "group" }, *c[] = { "echo", "list" },
       *d[] = { "groups" };
  assert_string_equal(cli_find(2, a, &words)->wire, "groups");
  assert_int_equal(words, 2);
  assert_null(cli_find(1, b, &words));
  assert_string_equal(cli_find(2, c, &words)->name, "echo");
  assert_int_equal(words, 1);
  assert_null(cli_find(1, d, &words));
}

static void test_tincan_bodies(void **state)
{
  expect_body("create-overlay --overlay ov --node n1 --tap ipop0 --ip4 10.254.0.1/16 "
              "--ip6 fd00::1 --mtu 1400 --stun 198.18.0.1:3478 --stun [fd00::9]:3478 "
              "--mac 02:00:5e:10:00:01",
              "{\"ip4\":\"10.254.0.1\",\"ip4_prefix\":16,\"ip6\":\"fd00::1\",\"mac\":"
              "\"02:00:5e:10:00:01\",\"mtu\":1400,\"node_id\":\"n1\",\"overlay_id\":\"ov\","
              "\"stun\":[\"198.18.0.1:3478\",\"[fd00::9]:3478\"],\"tap_name\":\"ipop0\"}");
  expect_body("overlay-info --overlay=ov", "{\"overlay_id\":\"ov\"}");
  expect_body("candidates --peer p --overlay ov", "{\"overlay_id\":\"ov\",\"peer_id\":\"p\"}");
  expect_body("link-stats", "{}");
  expect_body("link-stats --overlay ov", "{\"overlay_id\":\"ov\"}");
  expect_body("add-mapping --overlay ov --peer p --mapped 10.0.0.9 --peer-ip4 10.0.0.2",
              "{\"mapped_ip4\":\"10.0.0.9\",\"overlay_id\":\"ov\",\"peer_id\":\"p\","
              "\"peer_ip4\":\"10.0.0.2\"}");
  expect_body("add-mapping --overlay ov --peer p --mapped 10.0.0.9 --peer-ip4 10.0.0.2 "
              "--mapped6 fd00:a::9 --peer-ip6 fd00:a::1",
              "{\"mapped_ip4\":\"10.0.0.9\",\"mapped_ip6\":\"fd00:a::9\",\"overlay_id\":\"ov\","
              "\"peer_id\":\"p\",\"peer_ip4\":\"10.0.0.2\",\"peer_ip6\":\"fd00:a::1\"}");
  expect_body("configure-logging debug --file /tmp/x.log",
              "{\"file\":\"/tmp/x.log\",\"level\":\"debug\"}");
  expect_body("register --address 127.0.0.1:5801", "{\"address\":\"127.0.0.1:5801\"}");
  expect_body("echo hello there", "{\"message\":\"hello there\"}");
  expect_body("echo", "{\"message\":\"ping\"}");
  expect_body("echo -- --not-an-option", "{\"message\":\"--not-an-option\"}");
}

static void test_turn_password_from_file(void **state)
{
  char path[] = "/tmp/ipopctl-test-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "s3cret\nignored\n", 15), 15);
  close(fd);
  char line[512];
  snprintf(line, sizeof line, "create-overlay --overlay ov --node n1 --tap t0 "
           "--turn alice@198.18.0.1:3478/tcp --turn bob@[fd00::1]:443/tls "
           "--turn-password-file %s", path);
  expect_body(line, "{\"node_id\":\"n1\",\"overlay_id\":\"ov\",\"tap_name\":\"t0\",\"turn\":"
              "[{\"address\":\"198.18.0.1:3478\",\"password\":\"s3cret\",\"transport\":\"tcp\","
              "\"user\":\"alice\"},{\"address\":\"[fd00::1]:443\",\"password\":\"s3cret\","
              "\"transport\":\"tls\",\"user\":\"bob\"}]}");
  unlink(path);
  expect_usage("create-overlay --overlay ov --node n1 --tap t0 --turn a@h:1",
               "--turn-password-file");
  expect_usage("create-overlay --overlay ov --node n1 --tap t0 --turn a@h:1/sctp", "--turn");
  struct cli_parsed p;
  assert_int_equal(parse("create-overlay --overlay ov --node n1 --tap t0 --turn a@h:1 "
                         "--turn-password-file /nonexistent/pw", &p), EXIT_LOCAL);
  assert_non_null(strstr(err, "/nonexistent/pw"));
  cli_parsed_free(&p);
}

static void test_create_link_from_file(void **state)
{
  char path[] = "/tmp/ipopctl-test-XXXXXX";
  int fd = mkstemp(path);
  const char *set = "{\"overlay_id\":\"ov\",\"peer_id\":\"a\",\"node_id\":\"b\",\"fingerprint\":"
                    "\"sha-256 AB\",\"ufrag\":\"uf12\",\"pwd\":\"pppppppppppppppppppppp\","
                    "\"mac\":\"02:00:00:00:00:0b\","
                    "\"candidates\":[\"candidate:1 1 UDP 1 198.18.0.2 5 typ host\"]}";
  assert_true(fd >= 0);
  assert_int_equal(write(fd, set, strlen(set)), (ssize_t)strlen(set));
  close(fd);
  char line[512];
  snprintf(line, sizeof line, "create-link --remote %s --role controlling", path);
  expect_body(line, "{\"overlay_id\":\"ov\",\"peer_candidates\":[\"candidate:1 1 UDP 1 "
              "198.18.0.2 5 typ host\"],\"peer_fingerprint\":\"sha-256 AB\",\"peer_id\":\"b\","
              "\"peer_mac\":\"02:00:00:00:00:0b\","
              "\"peer_pwd\":\"pppppppppppppppppppppp\",\"peer_ufrag\":\"uf12\",\"role\":"
              "\"controlling\"}");
  /* a bridging peer, its MAC given explicitly (wins over the file) */
  snprintf(line, sizeof line, "create-link --remote %s --bridge yes --peer-mac 02:00:00:00:00:0c",
           path);
  expect_body(line, "{\"bridge\":true,\"overlay_id\":\"ov\",\"peer_candidates\":[\"candidate:1 "
              "1 UDP 1 198.18.0.2 5 typ host\"],\"peer_fingerprint\":\"sha-256 AB\",\"peer_id\":"
              "\"b\",\"peer_mac\":\"02:00:00:00:00:0c\",\"peer_pwd\":"
              "\"pppppppppppppppppppppp\",\"peer_ufrag\":\"uf12\"}");
  snprintf(line, sizeof line, "create-link --remote %s --bridge maybe", path);
  expect_usage(line, "--bridge \"maybe\": expected yes or no");
  /* our own set given by mistake */
  snprintf(line, sizeof line, "create-link --peer a --remote %s", path);
  expect_usage(line, "candidate set of node \"b\"");
  unlink(path);
  expect_usage("create-link --overlay ov --peer b", "--fingerprint");
  struct cli_parsed p;
  assert_int_equal(parse("create-link --remote /nonexistent/set.json", &p), EXIT_LOCAL);
  cli_parsed_free(&p);
}

static void test_usage_errors_name_the_argument(void **state)
{
  expect_usage("create-overlay --overlay ov --node n1", "--tap NAME is required");
  expect_usage("create-overlay --overlay a\x01" "b --node n1 --tap t", "--overlay \"a b\"");
  expect_usage("create-overlay --overlay ov --node n1 --tap waytoolongtapname0", "--tap");
  expect_usage("create-overlay --overlay ov --node n1 --tap t --mtu 100", "--mtu \"100\"");
  expect_usage("create-overlay --overlay ov --node n1 --tap t --ip4 10.0.0.1/33", "--ip4");
  expect_usage("create-overlay --overlay ov --node n1 --tap t --ip4 10.0.0", "--ip4");
  expect_usage("create-overlay --overlay ov --node n1 --tap t --mac 02:00:5e:10:00", "--mac");
  expect_usage("create-overlay --overlay ov --overlay ov2 --node n1 --tap t", "given twice");
  expect_usage("create-overlay --overlay", "--overlay needs a value");
  expect_usage("candidates --overlay ov --peer p --bogus 1", "unknown option --bogus");
  expect_usage("candidates --overlay ov --peer p extra", "unexpected argument \"extra\"");
  expect_usage("add-mapping --overlay ov --peer p --mapped 10.0.0.300 --peer-ip4 10.0.0.2",
               "--mapped");
  expect_usage("add-mapping --overlay ov --peer p --mapped 10.0.0.9 --peer-ip4 10.0.0.2 "
               "--mapped6 fd00::g --peer-ip6 fd00:a::1", "--mapped6 \"fd00::g\": expected an IPv6");
  expect_usage("add-mapping --overlay ov --peer p --mapped 10.0.0.9 --peer-ip4 10.0.0.2 "
               "--mapped6 fd00:a::9 --peer-ip6 10.0.0.1", "--peer-ip6");
  expect_usage("configure-logging verbose", "expected one of error, warn, info, debug, trace");
  expect_usage("register --address localhost", "--address");
  expect_usage("create-link --role boss", "--role");
  expect_usage("group create Lab", "NAME \"Lab\"");
  expect_usage("group create -lab", "unknown option");
  expect_usage("group create lab --subnet 10.254.7.5/24", "did you mean 10.254.7.0/24");
  expect_usage("group create lab --subnet 10.254.7.0/31", "--subnet");
  expect_usage("group create abcdefghijklmnopqrstuvwxyz0123456", "NAME");
  expect_usage("group invite lab", "missing JID");
  expect_usage("group invite lab bob@example.org/home", "bare JID");
  expect_usage("group invite lab example.org", "bare JID");
  expect_usage("group join", "--room");
  expect_usage("group join --room conference.example.org", "--room");
  expect_usage("block @example.org", "JID");
  expect_usage("block a@b@c", "JID");
  expect_usage("call", "missing NAME");
  expect_usage("call echo {\"message\":", "not valid JSON");
  expect_usage("call echo []", "must be a JSON object");
}

static void test_controller_bodies(void **state)
{
  expect_body("group list", "{}");
  expect_body("group create lab", "{\"name\":\"lab\"}");
  expect_body("group create lab --subnet 10.254.7.0/24",
              "{\"name\":\"lab\",\"subnet\":\"10.254.7.0/24\"}");
  expect_body("group invite lab david@example.org",
              "{\"jid\":\"david@example.org\",\"name\":\"lab\"}");
  expect_body("group join lab", "{\"name\":\"lab\"}");
  expect_body("group join --room lab@conference.example.org",
              "{\"room\":\"lab@conference.example.org\"}");
  expect_body("group leave lab", "{\"name\":\"lab\"}");
  expect_body("group remove lab erin@example.org",
              "{\"jid\":\"erin@example.org\",\"name\":\"lab\"}");
  expect_body("block carol@example.org", "{\"jid\":\"carol@example.org\"}");
  expect_body("block spam.example.org", "{\"jid\":\"spam.example.org\"}");
  expect_body("unblock carol@example.org", "{\"jid\":\"carol@example.org\"}");
  expect_body("blocklist", "{}");
  expect_body("stats", "{}");
  expect_body("call query_link_stats {\"overlay_id\":\"ov\"}", "{\"overlay_id\":\"ov\"}");

  struct cli_parsed p;
  assert_int_equal(parse("stats --json", &p), 0);
  assert_true(p.json);
  assert_string_equal(p.wire, "counters");
  cli_parsed_free(&p);
  assert_int_equal(parse("call query_link_stats", &p), 0);
  assert_string_equal(p.wire, "query_link_stats");
  cli_parsed_free(&p);
  assert_int_equal(parse("create-overlay --bogus --help", &p), 0);
  assert_true(p.help);
  cli_parsed_free(&p);
}

/* Run fn's output into a string. */
static char *capture(void (*fn)(FILE *, const struct cli_command *, const json_t *,
                                const json_t *),
                     const struct cli_command *c, const char *body, const char *result)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  json_t *b = json_loads(body, 0, NULL), *r = json_loads(result, 0, NULL);
  assert_non_null(f);
  assert_non_null(r);
  fn(f, c, b, r);
  fclose(f);
  json_decref(b);
  json_decref(r);
  return buf;
}

static const struct cli_command *cmd(const char *a, const char *b)
{
  char *argv[] = { (char *)a, (char *)b };
  int words;
  return cli_find(b ? 2 : 1, argv, &words);
}

static void test_group_tables(void **state)
{
  char *s = capture(out_result, cmd("group", "list"), "{}",
    "{\"groups\":[{\"name\":\"lab\",\"room\":\"lab@conference.example.org\",\"subnet\":"
    "\"10.254.7.0/24\",\"role\":\"owner\",\"state\":\"joined\",\"overlay_id\":\"g-lab\","
    "\"tap_name\":\"ipopg0\",\"address\":\"10.254.7.12\",\"members\":[{\"jid\":"
    "\"david@example.org\",\"node_id\":\"0123456789ab\",\"online\":true,\"link_state\":\"up\","
    "\"address\":\"10.254.7.40\"},{\"jid\":\"erin@example.org\",\"online\":false}]}],"
    "\"invitations\":[{\"room\":\"ops@conference.example.org\",\"from\":\"frank@example.org\","
    "\"reason\":\"join us\"}]}");
  assert_non_null(strstr(s, "GROUP"));
  assert_non_null(strstr(s, "lab@conference.example.org"));
  assert_non_null(strstr(s, "10.254.7.0/24"));
  assert_non_null(strstr(s, "owner"));
  assert_non_null(strstr(s, "member david@example.org"));
  assert_non_null(strstr(s, "01234567 "));          /* node ids shortened */
  assert_non_null(strstr(s, "10.254.7.40"));
  assert_non_null(strstr(s, "erin@example.org"));
  assert_non_null(strstr(s, "offline"));
  assert_non_null(strstr(s, "INVITATION"));
  assert_non_null(strstr(s, "frank@example.org"));
  assert_non_null(strstr(s, "join us"));
  for (char *l = s; (l = strchr(l, '\n')); l++)
    assert_true(l == s || l[-1] != ' '); /* no trailing blanks */
  free(s);
  s = capture(out_result, cmd("group", "list"), "{}",
              "{\"groups\":[{\"name\":\"x\",\"room\":\"x@m\",\"role\":\"member\",\"state\":"
              "\"error\",\"error\":\"room is gone\"}],\"invitations\":[]}");
  assert_non_null(strstr(s, " error "));
  assert_non_null(strstr(s, "-          room is gone\n"));
  free(s);
  s = capture(out_result, cmd("group", "list"), "{}", "{\"groups\":[],\"invitations\":[]}");
  assert_string_equal(s, "(no groups)\n");
  free(s);
  s = capture(out_result, cmd("group", "create"), "{\"name\":\"lab\"}",
              "{\"name\":\"lab\",\"room\":\"lab@muc.x\",\"state\":\"creating\",\"members\":[]}");
  assert_non_null(strstr(s, "creating"));
  free(s);
}

static void test_done_and_blocklist(void **state)
{
  char *s = capture(out_result, cmd("group", "invite"),
                    "{\"name\":\"lab\",\"jid\":\"david@example.org\"}", "{}");
  assert_string_equal(s, "invited david@example.org to lab\n");
  free(s);
  s = capture(out_result, cmd("block", NULL), "{\"jid\":\"carol@example.org\"}", "{}");
  assert_string_equal(s, "blocked carol@example.org\n");
  free(s);
  s = capture(out_result, cmd("blocklist", NULL), "{}",
              "{\"jids\":[\"carol@example.org\",\"spam.example.org\"]}");
  assert_string_equal(s, "BLOCKED\ncarol@example.org\nspam.example.org\n");
  free(s);
  s = capture(out_result, cmd("blocklist", NULL), "{}", "{\"jids\":[]}");
  assert_string_equal(s, "(no one is blocked)\n");
  free(s);
}

static void test_status_text(void **state)
{
  char *s = capture(out_result, cmd("status", NULL), "{}",
    "{\"version\":\"0.1.0\",\"uptime_s\":3725,\"tincan\":\"up\",\"tincan_endpoint\":"
    "\"127.0.0.1:5800\",\"mode\":\"group\",\"xmpp\":\"online\",\"jid\":\"a@x/ipop\","
    "\"node_id\":\"n1\",\"overlay_id\":\"lab\",\"overlay_ready\":true,\"ip4\":"
    "\"10.254.0.7\",\"ip4_prefix\":24,\"peers\":3,\"links_up\":2,\"conflict\":\"\","
    "\"groups\":2}");
  assert_string_equal(s, "ipop-controller 0.1.0, up 1 h 2 min\n"
                         "tincan:    up (127.0.0.1:5800)\n"
                         "mode:      group\n"
                         "xmpp:      online as a@x/ipop\n"
                         "node id:   n1\n"
                         "overlay:   lab (ready), address 10.254.0.7/24\n"
                         "peers:     3 online, 2 links up\n"
                         "groups: 2\n");
  free(s);
  s = capture(out_result, cmd("status", NULL), "{}",
              "{\"version\":\"0.1.0\",\"uptime_s\":5,\"tincan\":\"unreachable\","
              "\"mode\":\"\",\"xmpp\":\"disabled\",\"conflict\":"
              "\"10.254.0.7 also claimed by b@x\"}");
  assert_non_null(strstr(s, "up 5 s"));
  assert_non_null(strstr(s, "mode:      none (no Controller.Overlay)"));
  assert_non_null(strstr(s, "CONFLICT:  10.254.0.7 also claimed by b@x"));
  assert_null(strstr(s, "overlay:"));
  free(s);
  /* dual stack: both addresses on the overlay line */
  s = capture(out_result, cmd("status", NULL), "{}",
              "{\"version\":\"0.1.0\",\"uptime_s\":5,\"overlay_id\":\"lab\",\"ip4\":"
              "\"10.254.0.7\",\"ip4_prefix\":24,\"ip6\":\"fd00:a::7\",\"ip6_prefix\":64}");
  assert_non_null(strstr(s, "overlay:   lab (not ready), address 10.254.0.7/24 and fd00:a::7/64\n"));
  assert_null(strstr(s, "ip6"));
  free(s);
}

static void test_field_hint(void **state)
{
  char buf[96];
  out_field_hint(cmd("create-overlay", NULL), "body.tap_name: too long", buf, sizeof buf);
  assert_string_equal(buf, " (--tap NAME)");
  out_field_hint(cmd("create-overlay", NULL), "body.ip4_prefix: out of range", buf, sizeof buf);
  assert_string_equal(buf, " (--ip4 ADDR[/PREFIX])");
  out_field_hint(cmd("overlay-info", NULL), "overlay_id: no overlay \"x\"", buf, sizeof buf);
  assert_string_equal(buf, " (--overlay ID)");
  out_field_hint(cmd("overlay-info", NULL), "no such thing", buf, sizeof buf);
  assert_string_equal(buf, "");
  out_field_hint(cmd("group", "invite"), "body.jid: not a member", buf, sizeof buf);
  assert_string_equal(buf, " (argument JID)");
  out_field_hint(cmd("call", NULL), "name: no group x here", buf, sizeof buf);
  assert_string_equal(buf, ""); /* call: the user wrote the keys */
}

/* Every command has help, a synopsis and parses --help. */
static void test_every_command_has_help(void **state)
{
  const struct cli_command *c;
  unsigned n = 0;
  for (unsigned i = 0; (c = cli_command_at(i)); i++, n++) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_help(f, c);
    fclose(f);
    assert_non_null(strstr(buf, "usage: ipopctl "));
    assert_non_null(strstr(buf, c->name));
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
      if (strlen(line) > 79)
        fail_msg("%s: help line longer than 79: %s", c->name, line);
    free(buf);
    assert_non_null(c->summary);
    assert_true(c->wire || (c->flags & (CLI_RAW | CLI_STEPS)));
  }
  assert_true(n >= 31);
}

/* wait: a parsed command line's local arguments, and one answer judged. */
static const struct cli_command *parsed(const char *line, struct cli_parsed *p)
{
  char name[64];
  int words;
  snprintf(name, sizeof name, "%s", line);
  char *argv[2] = { strtok(name, " "), strtok(NULL, " ") };
  const struct cli_command *c = cli_find(argv[1] ? 2 : 1, argv, &words);
  assert_int_equal(parse(line, p), 0);
  return c;
}

static enum wait_verdict judge(const char *line, bool tincan, const char *answer,
                               char *state, size_t len, const json_t **match)
{
  struct cli_parsed p;
  const struct cli_command *c = parsed(line, &p);
  json_t *res = json_loads(answer, 0, NULL);
  assert_non_null(res);
  enum wait_verdict v = wait_judge(c, p.local, tincan, res, match, state, len);
  if (*match) { /* borrowed from res: keep a copy of what matters */
    static char keep[256];
    snprintf(keep, sizeof keep, "%s", json_string_value(json_object_get(*match, "jid")) ?: "-");
    *match = (const json_t *)keep;
  }
  json_decref(res);
  cli_parsed_free(&p);
  return v;
}

static void test_wait_parse_and_targets(void **state)
{
  struct cli_parsed p;
  const struct cli_command *c = parsed("wait link bob@example.org/ipop-1 --deadline 5", &p);
  char *s = dump(p.local);
  assert_string_equal(s, "{\"deadline\":5,\"peer\":\"bob@example.org/ipop-1\"}");
  free(s);
  assert_int_equal(json_object_size(p.body), 0);
  json_t *body;
  assert_string_equal(wait_request(c, p.local, false, &body), "peers");
  json_decref(body);
  assert_int_equal(wait_check_target(c, p.local, true, err, sizeof err), EXIT_USAGE);
  assert_non_null(strstr(err, "knows peers by node id only"));
  cli_parsed_free(&p);

  c = parsed("wait link node-b --overlay ov", &p);
  assert_int_equal(wait_check_target(c, p.local, false, err, sizeof err), EXIT_USAGE);
  assert_non_null(strstr(err, "give -t"));
  assert_int_equal(wait_check_target(c, p.local, true, err, sizeof err), 0);
  assert_string_equal(wait_request(c, p.local, true, &body), "query_link_stats");
  s = dump(body);
  assert_string_equal(s, "{\"overlay_id\":\"ov\",\"peer_id\":\"node-b\"}");
  free(s);
  json_decref(body);
  cli_parsed_free(&p);

  c = parsed("wait peers 3 --group lab", &p);
  assert_string_equal(wait_request(c, p.local, false, &body), "groups");
  json_decref(body);
  cli_parsed_free(&p);
  c = parsed("wait overlay", &p);
  assert_string_equal(wait_request(c, p.local, false, &body), "status");
  json_decref(body);
  assert_int_equal(wait_check_target(c, p.local, true, err, sizeof err), EXIT_USAGE);
  cli_parsed_free(&p);

  expect_usage("wait link bad\x01peer", "PEER \"bad peer\": expected a node id");
  expect_usage("wait link bob@ex.org/", "PEER");
  expect_usage("wait link b --overlay ov --group lab", "exclude each other");
  expect_usage("wait link b --deadline 0", "--deadline \"0\": expected an integer in 1..86400");
  expect_usage("wait peers", "missing N");
  expect_usage("wait peers x", "N \"x\": expected an integer");
  expect_usage("wait overlay --group Lab", "--group \"Lab\"");
}

static void test_wait_judge(void **state)
{
  char st[256];
  const json_t *m;
  const char *peers = "{\"peers\":[{\"jid\":\"bob@ex.org/ipop-1\",\"node_id\":\"n-b\","
                      "\"link_state\":\"connecting\"},{\"jid\":\"carol@ex.org/ipop-2\","
                      "\"node_id\":\"n-c\",\"link_state\":\"up\"},{\"jid\":\"dave@ex.org/x\","
                      "\"node_id\":\"n-d\",\"negotiation\":\"requesting\"}]}";
  assert_int_equal(judge("wait link bob@ex.org", false, peers, st, sizeof st, &m), WAIT_NOT_YET);
  assert_string_equal(st, "link to bob@ex.org/ipop-1: connecting");
  assert_int_equal(judge("wait link dave@ex.org/x", false, peers, st, sizeof st, &m),
                   WAIT_NOT_YET);
  assert_string_equal(st, "dave@ex.org/x has no link yet, negotiation requesting");
  assert_int_equal(judge("wait link erin@ex.org", false, peers, st, sizeof st, &m), WAIT_NOT_YET);
  assert_string_equal(st, "no link to erin@ex.org yet");
  /* bare JID, full JID, node id; a JID that only starts like one is not it */
  assert_int_equal(judge("wait link carol@ex.org", false, peers, st, sizeof st, &m), WAIT_MET);
  assert_string_equal((const char *)m, "carol@ex.org/ipop-2");
  assert_int_equal(judge("wait link carol@ex.org/ipop-2", false, peers, st, sizeof st, &m),
                   WAIT_MET);
  assert_int_equal(judge("wait link n-c", false, peers, st, sizeof st, &m), WAIT_MET);
  assert_int_equal(judge("wait link carol@ex.or", false, peers, st, sizeof st, &m), WAIT_NOT_YET);

  const char *links = "{\"links\":[{\"overlay_id\":\"ov\",\"peer_id\":\"n-b\","
                      "\"state\":\"failed\"}]}";
  assert_int_equal(judge("wait link n-b", true, links, st, sizeof st, &m), WAIT_NOT_YET);
  assert_string_equal(st, "link ov/n-b: failed");

  const char *status = "{\"mode\":\"group\",\"overlay_id\":\"ipop\",\"overlay_ready\":false,"
                       "\"tincan\":\"unreachable\",\"peers\":2}";
  assert_int_equal(judge("wait peers 2", false, status, st, sizeof st, &m), WAIT_MET);
  assert_int_equal(judge("wait peers 3", false, status, st, sizeof st, &m), WAIT_NOT_YET);
  assert_string_equal(st, "2 of 3 peers online");
  assert_int_equal(judge("wait overlay", false, status, st, sizeof st, &m), WAIT_NOT_YET);
  assert_string_equal(st, "overlay ipop not created in ipop-tincan yet (tincan: unreachable)");
  assert_int_equal(judge("wait overlay", false, "{\"overlay_ready\":true,\"mode\":\"social\"}",
                         st, sizeof st, &m), WAIT_MET);
  assert_int_equal(judge("wait overlay", false, "{\"mode\":\"\"}", st, sizeof st, &m),
                   WAIT_NOT_YET);
  assert_non_null(strstr(st, "no overlay configured"));

  const char *groups = "{\"groups\":[{\"name\":\"lab\",\"state\":\"joining\",\"members\":["
                       "{\"jid\":\"bob@ex.org\",\"node_id\":\"n-b\",\"online\":true,"
                       "\"link_state\":\"up\"},{\"jid\":\"eve@ex.org\",\"online\":true}]}]}";
  assert_int_equal(judge("wait overlay --group lab", false, groups, st, sizeof st, &m),
                   WAIT_NOT_YET);
  assert_string_equal(st, "group lab: joining");
  assert_int_equal(judge("wait overlay --group lib", false, groups, st, sizeof st, &m),
                   WAIT_NOT_YET);
  assert_string_equal(st, "not in group lib (yet)");
  /* a chat client in the room (no node id) is no peer node */
  assert_int_equal(judge("wait peers 2 --group lab", false, groups, st, sizeof st, &m),
                   WAIT_NOT_YET);
  assert_string_equal(st, "1 of 2 peers online");
  assert_int_equal(judge("wait link bob@ex.org --group lab", false, groups, st, sizeof st, &m),
                   WAIT_MET);
}

static void test_connect(void **state)
{
  struct cli_parsed p;
  expect_usage("connect --overlay ov --node a --peer a --out x --remote y", "both \"a\"");
  expect_usage("connect --overlay ov --node a --peer b --out x --remote x", "the same file");
  expect_usage("connect --overlay ov --node a --peer b --out x --remote y --ip4 10.0.0.1",
               "give --tap NAME too");
  expect_usage("connect --overlay ov --node a --peer b --out x", "--remote FILE is required");
  expect_usage("connect --overlay ov --node a --peer b --out - --remote -", "not read from stdin");
  parsed("connect --overlay ov --node a --peer b --out x --remote y --tap ipop1 --ip4 "
         "10.254.1.1/24",
         &p);
  char *s = dump(p.body); /* the body is create_overlay's */
  assert_string_equal(s, "{\"ip4\":\"10.254.1.1\",\"ip4_prefix\":24,\"node_id\":\"a\","
                         "\"overlay_id\":\"ov\",\"tap_name\":\"ipop1\"}");
  free(s);
  static const struct {
    const char *set, *needle;
  } sets[] = {
    { "{\"node_id\":\"b\",\"peer_id\":\"a\",\"overlay_id\":\"ov\",\"candidates\":[]}", NULL },
    { "{\"node_id\":\"a\",\"peer_id\":\"b\",\"overlay_id\":\"ov\",\"candidates\":[]}",
      "our own candidate set" },
    { "{\"node_id\":\"c\",\"peer_id\":\"a\",\"overlay_id\":\"ov\",\"candidates\":[]}",
      "node \"c\"'s set for peer \"a\"" },
    { "{\"node_id\":\"b\",\"peer_id\":\"a\",\"overlay_id\":\"ov9\",\"candidates\":[]}",
      "for overlay \"ov9\"" },
    { "{\"node_id\":\"b\"}", "expected the JSON object" },
    { "[1]", "expected the JSON object" },
  };
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
    json_t *set = json_loads(sets[i].set, 0, NULL);
    int rc = connect_check_set(set, p.body, p.local, err, sizeof err);
    if (!sets[i].needle)
      assert_int_equal(rc, 0);
    else if (rc != EXIT_USAGE || !strstr(err, sets[i].needle))
      fail_msg("set %zu: rc %d, \"%s\"", i, rc, err);
    json_decref(set);
  }
  cli_parsed_free(&p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_find),
    cmocka_unit_test(test_tincan_bodies),
    cmocka_unit_test(test_turn_password_from_file),
    cmocka_unit_test(test_create_link_from_file),
    cmocka_unit_test(test_usage_errors_name_the_argument),
    cmocka_unit_test(test_controller_bodies),
    cmocka_unit_test(test_group_tables),
    cmocka_unit_test(test_done_and_blocklist),
    cmocka_unit_test(test_status_text),
    cmocka_unit_test(test_field_hint),
    cmocka_unit_test(test_every_command_has_help),
    cmocka_unit_test(test_wait_parse_and_targets),
    cmocka_unit_test(test_wait_judge),
    cmocka_unit_test(test_connect),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
