/* Config loading: file errors, size and depth limits, strict JSON, and every
 * jbind error reported with the file name in front of the key path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "error.h"

struct c_turn {
  char address[64];
  char user[32];
  char password[32];
};

struct c_overlay {
  char id[16];
  uint32_t mtu;
  struct c_turn turn[2];
  uint32_t n_turn;
  char stun[2][64];
  uint32_t n_stun;
};

struct c_cfg {
  char node[16];
  uint32_t port;
  bool verbose;
  struct c_overlay overlays[2];
  uint32_t n_overlays;
};

#define T struct c_turn
static const struct jb_field turn_f[] = {
  JB_F_STR(T, address, "Address", JB_REQUIRED, 1, NULL),
  JB_F_STR(T, user, "User", JB_REQUIRED, 1, NULL),
  JB_F_STR(T, password, "Password", JB_REQUIRED | JB_SECRET, 1, NULL),
};
static const struct jb_schema turn_s = JB_SCHEMA("TURN server", T, turn_f);
#undef T
#define T struct c_overlay
static const struct jb_field overlay_f[] = {
  JB_F_STR(T, id, "Id", JB_REQUIRED, 1, NULL),
  JB_F_U32(T, mtu, "Mtu", 0, 576, 9000, 1280),
  JB_F_OBJ_ARR(T, turn, n_turn, "Turn", 0, &turn_s),
  JB_F_STR_ARR(T, stun, n_stun, "Stun", 0, 1),
};
static const struct jb_schema overlay_s = JB_SCHEMA("overlay", T, overlay_f);
#undef T
#define T struct c_cfg
static const struct jb_field cfg_f[] = {
  JB_F_STR(T, node, "Node", JB_REQUIRED, 1, NULL),
  JB_F_U32(T, port, "Port", 0, 1, 65535, 5800),
  JB_F_BOOL(T, verbose, "Verbose", 0, 0),
  JB_F_OBJ_ARR(T, overlays, n_overlays, "Overlays", 0, &overlay_s),
};
static const struct jb_schema cfg_s = JB_SCHEMA("test daemon config", T, cfg_f);
#undef T

static const char good_cfg[] =
    "{\n"
    "  \"Node\": \"n1\",\n"
    "  \"Overlays\": [\n"
    "    {\"Id\": \"ov1\", \"Turn\": [\n"
    "      {\"Address\": \"turn1:3478\", \"User\": \"u\", \"Password\": \"p1\"},\n"
    "      {\"Address\": \"turn2:3478\", \"User\": \"u\", \"Password\": \"p2\"}],\n"
    "     \"Stun\": [\"stun.l.google.com:19302\"]}\n"
    "  ]\n"
    "}\n";

struct fx {
  char dir[64];
  char path[128];
};

static int setup(void **state)
{
  struct fx *fx = calloc(1, sizeof *fx);
  snprintf(fx->dir, sizeof fx->dir, "/tmp/ipop-test-config-XXXXXX");
  if (!mkdtemp(fx->dir))
    return -1;
  snprintf(fx->path, sizeof fx->path, "%s/config.json", fx->dir);
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  struct fx *fx = *state;
  chmod(fx->path, 0600);
  unlink(fx->path);
  rmdir(fx->dir);
  free(fx);
  return 0;
}

static void write_file(const char *path, const char *data, size_t len)
{
  FILE *f = fopen(path, "we");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static int load_text(struct fx *fx, const char *text, struct c_cfg *out, struct jb_error *err)
{
  write_file(fx->path, text, strlen(text));
  return ipop_config_load(fx->path, &cfg_s, out, err);
}

/* Expect err.msg == "<file>: <rest>". */
static void assert_msg(const struct fx *fx, const struct jb_error *err, const char *rest)
{
  char want[512];
  snprintf(want, sizeof want, "%s: %s", fx->path, rest);
  assert_string_equal(err->msg, want);
}

static void assert_msg_prefix(const struct fx *fx, const struct jb_error *err, const char *rest)
{
  char want[512];
  snprintf(want, sizeof want, "%s: %s", fx->path, rest);
  if (strncmp(err->msg, want, strlen(want)) != 0)
    fail_msg("message \"%s\" does not start with \"%s\"", err->msg, want);
}

static void test_load_good(void **state)
{
  struct fx *fx = *state;
  struct c_cfg c;
  struct jb_error err;
  assert_int_equal(load_text(fx, good_cfg, &c, &err), 0);
  assert_int_equal(err.code, 0);
  assert_string_equal(c.node, "n1");
  assert_int_equal(c.port, 5800); /* default */
  assert_false(c.verbose);
  assert_int_equal(c.n_overlays, 1);
  assert_int_equal(c.overlays[0].mtu, 1280);
  assert_int_equal(c.overlays[0].n_turn, 2);
  assert_string_equal(c.overlays[0].turn[1].password, "p2");
  assert_int_equal(c.overlays[0].n_stun, 1);
  assert_string_equal(c.overlays[0].stun[0], "stun.l.google.com:19302");
}

static void test_parse_from_memory(void **state)
{
  struct c_cfg c;
  struct jb_error err;
  /* Not NUL-terminated: only len bytes count. */
  const char text[] = "{\"Node\":\"x\"}garbage";
  assert_int_equal(ipop_config_parse("mem", text, 12, &cfg_s, &c, &err), 0);
  assert_string_equal(c.node, "x");
  assert_int_equal(ipop_config_parse("mem", text, sizeof text - 1, &cfg_s, &c, &err),
                   IPOP_EPARSE);
  assert_true(strncmp(err.msg, "mem: line 1 column", 18) == 0);
}

static void test_missing_file(void **state)
{
  struct fx *fx = *state;
  struct c_cfg c;
  struct jb_error err;
  assert_int_equal(ipop_config_load(fx->path, &cfg_s, &c, &err), IPOP_ENOENT);
  assert_int_equal(err.code, IPOP_ENOENT);
  assert_string_equal(err.path, "");
  assert_msg(fx, &err, "cannot open: No such file or directory");
}

static void test_unreadable(void **state)
{
  struct fx *fx = *state;
  struct c_cfg c;
  struct jb_error err;
  /* A directory opens but cannot be read. */
  assert_int_equal(ipop_config_load(fx->dir, &cfg_s, &c, &err), IPOP_ESYS);
  char want[160];
  snprintf(want, sizeof want, "%s: read error", fx->dir);
  assert_string_equal(err.msg, want);

  write_file(fx->path, good_cfg, strlen(good_cfg));
  assert_int_equal(chmod(fx->path, 0), 0);
  if (access(fx->path, R_OK) == 0) {
    /* root reads anything; the directory case above covered the error path */
    return;
  }
  assert_int_equal(ipop_config_load(fx->path, &cfg_s, &c, &err), IPOP_ESYS);
  assert_msg(fx, &err, "cannot open: Permission denied");
}

static void test_empty_file(void **state)
{
  struct fx *fx = *state;
  struct c_cfg c;
  struct jb_error err;
  assert_int_equal(load_text(fx, "", &c, &err), IPOP_EPARSE);
  assert_int_equal(err.code, IPOP_EPARSE);
  assert_msg_prefix(fx, &err, "line ");
  assert_int_equal(load_text(fx, "  \n \n", &c, &err), IPOP_EPARSE);
  assert_msg_prefix(fx, &err, "line ");
}

static void test_malformed_json_has_line_and_column(void **state)
{
  struct fx *fx = *state;
  struct c_cfg c;
  struct jb_error err;
  assert_int_equal(load_text(fx, "{\n  \"Node\": \"n1\",\n  \"Port\": ,\n}\n", &c, &err),
                   IPOP_EPARSE);
  assert_msg_prefix(fx, &err, "line 3 column 11: ");
  assert_int_equal(load_text(fx, "{\"Node\": \"n1\",}", &c, &err), IPOP_EPARSE);
  assert_msg_prefix(fx, &err, "line 1 column ");
  /* truncated */
  assert_int_equal(load_text(fx, "{\"Node\": \"n1\"", &c, &err), IPOP_EPARSE);
  assert_msg_prefix(fx, &err, "line 1 column ");
  /* trailing garbage */
  assert_int_equal(load_text(fx, "{\"Node\": \"n1\"} {}", &c, &err), IPOP_EPARSE);
  /* not an object at the top */
  assert_int_equal(load_text(fx, "[]", &c, &err), IPOP_EFIELD);
  assert_msg(fx, &err, "expected object, found array");
}

static void test_duplicate_keys(void **state)
{
  struct fx *fx = *state;
  struct c_cfg c;
  struct jb_error err;
  assert_int_equal(load_text(fx, "{\"Node\": \"a\", \"Node\": \"b\"}", &c, &err), IPOP_EPARSE);
  assert_msg_prefix(fx, &err, "line 1 column ");
  assert_non_null(strstr(err.msg, "duplicate"));
  assert_int_equal(load_text(fx, "{\"Node\": \"a\", \"Overlays\": [{\"Id\":\"x\",\"Id\":\"y\"}]}",
                             &c, &err),
                   IPOP_EPARSE);
  assert_non_null(strstr(err.msg, "duplicate"));
}

static void test_oversized(void **state)
{
  struct fx *fx = *state;
  struct c_cfg c;
  struct jb_error err;
  size_t n = IPOP_CONFIG_MAX_BYTES + 1;
  char *big = malloc(n + 1);
  assert_non_null(big);
  /* exactly the limit: a valid config padded with spaces loads */
  memset(big, ' ', n);
  memcpy(big, "{\"Node\":\"n1\"}", 13);
  write_file(fx->path, big, n - 1);
  assert_int_equal(ipop_config_load(fx->path, &cfg_s, &c, &err), 0);
  /* one byte more is refused before parsing */
  write_file(fx->path, big, n);
  assert_int_equal(ipop_config_load(fx->path, &cfg_s, &c, &err), IPOP_ETOOBIG);
  assert_msg(fx, &err, "file is 1048577 bytes, more than the limit of 1048576");
  assert_int_equal(ipop_config_parse("mem", big, n, &cfg_s, &c, &err), IPOP_ETOOBIG);
  free(big);
  /* a much larger file: still refused, only limit+1 bytes read */
  size_t huge = 3 * IPOP_CONFIG_MAX_BYTES;
  big = calloc(1, huge);
  memset(big, ' ', huge);
  write_file(fx->path, big, huge);
  free(big);
  assert_int_equal(ipop_config_load(fx->path, &cfg_s, &c, &err), IPOP_ETOOBIG);
}

static char *nested(unsigned depth)
{
  /* {"Node":"n","X":[[...]]}: the object is level 1, arrays the rest */
  size_t n = 32 + 2 * depth;
  char *s = malloc(n);
  size_t p = (size_t)sprintf(s, "{\"Node\":\"n\",\"X\":");
  for (unsigned i = 1; i < depth; i++)
    s[p++] = '[';
  for (unsigned i = 1; i < depth; i++)
    s[p++] = ']';
  s[p++] = '}';
  s[p] = '\0';
  return s;
}

static void test_too_deep(void **state)
{
  struct fx *fx = *state;
  struct c_cfg c;
  struct jb_error err;
  char *s = nested(IPOP_CONFIG_MAX_DEPTH);
  /* at the limit: passes the depth check, then fails on the unknown key */
  assert_int_equal(load_text(fx, s, &c, &err), IPOP_EUNKNOWN);
  free(s);
  s = nested(IPOP_CONFIG_MAX_DEPTH + 1);
  assert_int_equal(load_text(fx, s, &c, &err), IPOP_ETOOBIG);
  assert_msg(fx, &err, "JSON nested deeper than 32 levels");
  free(s);
  s = nested(10000);
  assert_int_equal(load_text(fx, s, &c, &err), IPOP_ETOOBIG);
  free(s);
  /* unbalanced: 10,000 openers and nothing else */
  size_t n = 10000;
  char *open = malloc(n + 1);
  memset(open, '[', n);
  open[n] = '\0';
  assert_int_equal(load_text(fx, open, &c, &err), IPOP_ETOOBIG);
  free(open);
}

static void test_non_utf8_and_nul(void **state)
{
  struct fx *fx = *state;
  struct c_cfg c;
  struct jb_error err;
  assert_int_equal(load_text(fx, "{\"Node\": \"\xff\xfe\"}", &c, &err), IPOP_EPARSE);
  assert_msg_prefix(fx, &err, "line 1 column ");
  assert_int_equal(load_text(fx, "{\"Node\": \"\xc3\"}", &c, &err), IPOP_EPARSE);
  /* overlong encoding of '/' */
  assert_int_equal(load_text(fx, "{\"Node\": \"\xc0\xaf\"}", &c, &err), IPOP_EPARSE);
  /* a key that is not UTF-8 */
  assert_int_equal(load_text(fx, "{\"No\xe9\": \"a\"}", &c, &err), IPOP_EPARSE);
  /* escaped NUL is refused by the parser already */
  assert_int_equal(load_text(fx, "{\"Node\": \"a\\u0000b\"}", &c, &err), IPOP_EPARSE);
  /* a raw NUL byte inside the file */
  const char raw[] = "{\"Node\": \"a\0b\"}";
  write_file(fx->path, raw, sizeof raw - 1);
  assert_int_equal(ipop_config_load(fx->path, &cfg_s, &c, &err), IPOP_EPARSE);
  /* valid multi-byte UTF-8 is fine */
  assert_int_equal(load_text(fx, "{\"Node\": \"n\xc3\xa9\"}", &c, &err), 0);
  assert_string_equal(c.node, "n\xc3\xa9");
}

/* Every jbind error path, with the file name in front of the key path. */
static void test_schema_errors_name_file_and_path(void **state)
{
  struct fx *fx = *state;
  static const struct {
    const char *json;
    int code;
    const char *path;
    const char *msg;
  } cases[] = {
    { "{\"Node\": 7}", IPOP_EFIELD, "Node", "Node: expected string, found 7" },
    { "{\"Node\": [7]}", IPOP_EFIELD, "Node", "Node: expected string, found array" },
    { "{\"Node\": \"n\", \"Port\": 70000}", IPOP_EFIELD, "Port",
      "Port: expected integer in 1..65535, found 70000" },
    { "{\"Node\": \"n\", \"Port\": \"5800\"}", IPOP_EFIELD, "Port",
      "Port: expected integer in 1..65535, found \"5800\"" },
    { "{\"Node\": \"n\", \"Verbose\": \"yes\"}", IPOP_EFIELD, "Verbose",
      "Verbose: expected true or false, found \"yes\"" },
    { "{\"Node\": \"0123456789abcdef\"}", IPOP_EFIELD, "Node",
      "Node: string too long (16 bytes, at most 15)" },
    { "{\"Node\": \"\"}", IPOP_EFIELD, "Node", "Node: string too short (0 bytes, at least 1)" },
    { "{\"Node\": \"a\\tb\"}", IPOP_EFIELD, "Node",
      "Node: string contains control characters or NUL" },
    { "{\"Nod\": \"n\"}", IPOP_EUNKNOWN, "Nod", "Nod: unknown key (not part of test daemon config)" },
    { "{}", IPOP_EMISSING, "Node", "Node: required key is missing" },
    { "{\"Node\": \"n\", \"Overlays\": [{\"Id\":\"a\"},{\"Id\":\"b\"},{\"Id\":\"c\"}]}", IPOP_ETOOBIG,
      "Overlays", "Overlays: too many elements (3, at most 2)" },
    { "{\"Node\": \"n\", \"Overlays\": [{\"Id\":\"a\",\"Mtu\":100}]}", IPOP_EFIELD,
      "Overlays[0].Mtu", "Overlays[0].Mtu: expected integer in 576..9000, found 100" },
    { "{\"Node\": \"n\", \"Overlays\": [{\"Id\":\"a\",\"Stun\":[\"s\",\"\"]}]}", IPOP_EFIELD,
      "Overlays[0].Stun[1]", "Overlays[0].Stun[1]: string too short (0 bytes, at least 1)" },
    { "{\"Node\": \"n\", \"Overlays\": [{\"Id\":\"a\",\"Turn\":[{\"Address\":\"t\",\"User\":\"u\","
      "\"Password\":\"p\"},{\"Address\":\"t\",\"User\":\"u\",\"Password\":12345}]}]}",
      IPOP_EFIELD, "Overlays[0].Turn[1].Password",
      "Overlays[0].Turn[1].Password: expected string, found integer" },
    { "{\"Node\": \"n\", \"Overlays\": [{\"Id\":\"a\"},{\"Id\":\"b\",\"Turn\":[{\"Address\":\"t\","
      "\"Password\":\"p\"}]}]}",
      IPOP_EMISSING, "Overlays[1].Turn[0].User",
      "Overlays[1].Turn[0].User: required key is missing" },
    { "{\"Node\": \"n\", \"Overlays\": [{\"Id\":\"a\",\"Turn\":[{\"Address\":\"t\",\"User\":\"u\","
      "\"Password\":\"p\",\"Passwort\":\"x\"}]}]}",
      IPOP_EUNKNOWN, "Overlays[0].Turn[0].Passwort",
      "Overlays[0].Turn[0].Passwort: unknown key (not part of TURN server)" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct c_cfg c;
    struct jb_error err;
    int rc = load_text(fx, cases[i].json, &c, &err);
    char want[512];
    snprintf(want, sizeof want, "%s: %s", fx->path, cases[i].msg);
    if (rc != cases[i].code || err.code != cases[i].code || strcmp(err.path, cases[i].path) ||
        strcmp(err.msg, want))
      fail_msg("case %zu: got rc %d path \"%s\" msg \"%s\"; want rc %d path \"%s\" msg \"%s\"", i,
               rc, err.path, err.msg, cases[i].code, cases[i].path, want);
    /* the same through ipop_config_parse with a logical name */
    rc = ipop_config_parse("controller.json", cases[i].json, strlen(cases[i].json), &cfg_s, &c,
                           &err);
    snprintf(want, sizeof want, "controller.json: %s", cases[i].msg);
    assert_int_equal(rc, cases[i].code);
    assert_string_equal(err.msg, want);
  }
}

/* Keys starting with "//" are comments at any level; "/x" is not one. */
static void test_comment_keys_ignored(void **state)
{
  struct fx *fx = *state;
  struct c_cfg c;
  struct jb_error err;
  assert_int_equal(load_text(fx,
                             "{\"// top\": \"x\", \"//\": [1, {}], \"Node\": \"n\", \"Overlays\": "
                             "[{\"// why\": {\"a\": 1}, \"Id\": \"a\"}]}",
                             &c, &err),
                   0);
  assert_string_equal(c.node, "n");
  assert_int_equal(c.n_overlays, 1);
  assert_int_equal(load_text(fx, "{\"/ x\": 1, \"Node\": \"n\"}", &c, &err), IPOP_EUNKNOWN);
  assert_string_equal(err.path, "/ x");
}

static void test_secret_not_in_message(void **state)
{
  struct fx *fx = *state;
  struct c_cfg c;
  struct jb_error err;
  assert_int_equal(load_text(fx,
                             "{\"Node\": \"n\", \"Overlays\": [{\"Id\":\"a\",\"Turn\":[{\"Address\":"
                             "\"t\",\"User\":\"u\",\"Password\":\"hunter2\\n\"}]}]}",
                             &c, &err),
                   IPOP_EFIELD);
  assert_null(strstr(err.msg, "hunter"));
  assert_int_equal(load_text(fx,
                             "{\"Node\": \"n\", \"Overlays\": [{\"Id\":\"a\",\"Turn\":[{\"Address\":"
                             "\"t\",\"User\":\"u\",\"Password\":424242}]}]}",
                             &c, &err),
                   IPOP_EFIELD);
  assert_null(strstr(err.msg, "4242"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_load_good, setup, teardown),
    cmocka_unit_test_setup_teardown(test_parse_from_memory, setup, teardown),
    cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
    cmocka_unit_test_setup_teardown(test_unreadable, setup, teardown),
    cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
    cmocka_unit_test_setup_teardown(test_malformed_json_has_line_and_column, setup, teardown),
    cmocka_unit_test_setup_teardown(test_duplicate_keys, setup, teardown),
    cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
    cmocka_unit_test_setup_teardown(test_too_deep, setup, teardown),
    cmocka_unit_test_setup_teardown(test_non_utf8_and_nul, setup, teardown),
    cmocka_unit_test_setup_teardown(test_schema_errors_name_file_and_path, setup, teardown),
    cmocka_unit_test_setup_teardown(test_comment_keys_ignored, setup, teardown),
    cmocka_unit_test_setup_teardown(test_secret_not_in_message, setup, teardown),
  };
  return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
