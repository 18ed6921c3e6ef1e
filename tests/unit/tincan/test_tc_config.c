/* config.json as ipop-tincan reads it, and the boundary validation of
 * control requests: errors name the key path or field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "error.h"
#include "settings.h"
#include "validate.h"

static int parse(const char *text, struct tc_config *c, struct jb_error *e)
{
  return tc_config_parse(text, strlen(text), c, e);
}

static void defaults(void **state)
{
  (void)state;
  struct tc_config c;
  struct jb_error e;
  assert_int_equal(parse("{}", &c, &e), 0);
  assert_string_equal(c.control.tincan, "127.0.0.1:5800");
  assert_string_equal(c.control.key_file, "/etc/ipop/control.key");
  assert_string_equal(c.tincan.user, "ipop");
  assert_string_equal(c.tincan.identity_file, "/var/lib/ipop/tincan-identity.pem");
  assert_int_equal(c.tincan.rekey_interval, 120);
  tc_config_defaults(&c);
  assert_string_equal(c.tincan.user, "ipop");
}

static void full(void **state)
{
  (void)state;
  struct tc_config c;
  struct jb_error e;
  assert_int_equal(parse("{\"Control\":{\"Tincan\":\"127.0.0.1:6000\",\"KeyFile\":\"/k\"},"
                         "\"Tincan\":{\"User\":\"\",\"IdentityFile\":\"/i.pem\","
                         "\"RekeyInterval\":2,"
                         "\"//User\":\"comment\",\"Log\":{\"Level\":\"debug\"}},"
                         "\"Controller\":{\"Anything\":1}}", &c, &e), 0);
  assert_string_equal(c.control.tincan, "127.0.0.1:6000");
  assert_string_equal(c.control.key_file, "/k");
  assert_string_equal(c.tincan.user, "");
  assert_string_equal(c.tincan.identity_file, "/i.pem");
  assert_int_equal(c.tincan.rekey_interval, 2);
}

static void errors_name_the_key(void **state)
{
  (void)state;
  struct tc_config c;
  struct jb_error e;
  assert_int_not_equal(parse("{\"Tincan\":{\"Log\":{\"Level\":\"verbose\"}}}", &c, &e), 0);
  assert_non_null(strstr(e.msg, "Tincan.Log.Level"));
  assert_int_equal(parse("{\"Tincan\":{\"Usr\":\"x\"}}", &c, &e), IPOP_EUNKNOWN);
  assert_non_null(strstr(e.msg, "Tincan.Usr"));
  assert_int_not_equal(parse("{\"Tincan\":{\"IdentityFile\":5}}", &c, &e), 0);
  assert_non_null(strstr(e.msg, "Tincan.IdentityFile"));
  assert_int_not_equal(parse("{\"Controller\":[]}", &c, &e), 0);
  assert_non_null(strstr(e.msg, "Controller"));
  assert_int_not_equal(parse("{\"Tincan\":{", &c, &e), 0);
  assert_int_not_equal(parse("{\"Tincan\":{\"RekeyInterval\":0}}", &c, &e), 0);
  assert_non_null(strstr(e.msg, "Tincan.RekeyInterval"));
  assert_int_not_equal(parse("{\"Tincan\":{\"RekeyInterval\":86401}}", &c, &e), 0);
  assert_non_null(strstr(e.msg, "Tincan.RekeyInterval"));
}

static void create_overlay_validation(void **state)
{
  (void)state;
  struct ctl_create_overlay r;
  char why[256];
  memset(&r, 0, sizeof r);
  strcpy(r.overlay_id, "ov1");
  strcpy(r.node_id, "node-a");
  strcpy(r.tap_name, "ipop0");
  r.mtu = 1280;
  assert_int_equal(tc_validate_create_overlay(&r, why, sizeof why), 0);

  strcpy(r.tap_name, "ip/op");
  assert_int_equal(tc_validate_create_overlay(&r, why, sizeof why), IPOP_EFIELD);
  assert_non_null(strstr(why, "tap_name"));
  strcpy(r.tap_name, "..");
  assert_int_equal(tc_validate_create_overlay(&r, why, sizeof why), IPOP_EFIELD);
  strcpy(r.tap_name, "ipop0");

  strcpy(r.overlay_id, "bad id");
  assert_int_equal(tc_validate_create_overlay(&r, why, sizeof why), IPOP_EFIELD);
  assert_non_null(strstr(why, "overlay_id"));
  strcpy(r.overlay_id, "ov1");

  r.has_mac = true;
  memcpy(r.mac, "\x01\x00\x5e\x00\x00\x01", 6);
  assert_int_equal(tc_validate_create_overlay(&r, why, sizeof why), IPOP_EFIELD);
  assert_non_null(strstr(why, "mac"));
  r.has_mac = false;

  r.has_ip4 = true;
  inet_pton(AF_INET, "127.0.0.5", &r.ip4);
  assert_int_equal(tc_validate_create_overlay(&r, why, sizeof why), IPOP_EFIELD);
  assert_non_null(strstr(why, "ip4"));
  inet_pton(AF_INET, "10.1.2.3", &r.ip4);
  assert_int_equal(tc_validate_create_overlay(&r, why, sizeof why), 0);

  r.n_stun = 2;
  strcpy(r.stun[0], "198.18.0.100:3478");
  strcpy(r.stun[1], "stun.example.org:3478"); /* no DNS on the loop */
  assert_int_equal(tc_validate_create_overlay(&r, why, sizeof why), IPOP_EFIELD);
  assert_non_null(strstr(why, "stun[1]"));
  strcpy(r.stun[1], "[2001:db8::1]:3478");
  assert_int_equal(tc_validate_create_overlay(&r, why, sizeof why), 0);
  r.n_turn = 1;
  strcpy(r.turn[0].address, "198.18.0.100:99999");
  assert_int_equal(tc_validate_create_overlay(&r, why, sizeof why), IPOP_EFIELD);
  assert_non_null(strstr(why, "turn[0].address"));
}

static void create_link_validation(void **state)
{
  (void)state;
  struct ctl_create_link r;
  char why[256];
  memset(&r, 0, sizeof r);
  strcpy(r.overlay_id, "ov");
  strcpy(r.peer_id, "node-b");
  strcpy(r.peer_fingerprint, "sha-256 00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:"
                             "10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F");
  strcpy(r.peer_ufrag, "abcd");
  strcpy(r.peer_pwd, "abcdefghijklmnopqrstuv");
  r.n_peer_candidates = 1;
  strcpy(r.peer_candidates[0], "candidate:1 1 UDP 2015363327 198.18.0.12 5000 typ host");
  /* the peer's MAC (or bridge) is required: frames are bound to it */
  assert_int_equal(tc_validate_create_link(&r, why, sizeof why), IPOP_EFIELD);
  assert_non_null(strstr(why, "peer_mac: required"));
  r.bridge = true;
  assert_int_equal(tc_validate_create_link(&r, why, sizeof why), 0);
  r.bridge = false;
  r.has_peer_mac = true;
  memcpy(r.peer_mac, "\x03\x00\x00\x00\x00\x01", 6);           /* multicast */
  assert_int_equal(tc_validate_create_link(&r, why, sizeof why), IPOP_EFIELD);
  assert_non_null(strstr(why, "peer_mac: must be a unicast"));
  memset(r.peer_mac, 0, 6);
  assert_int_equal(tc_validate_create_link(&r, why, sizeof why), IPOP_EFIELD);
  memcpy(r.peer_mac, "\x02\x00\x00\x00\x00\x02", 6);
  assert_int_equal(tc_validate_create_link(&r, why, sizeof why), 0);
  strcpy(r.peer_candidates[0], "a=candidate:1 1 UDP 2015363327 198.18.0.12 5000 typ host");
  assert_int_equal(tc_validate_create_link(&r, why, sizeof why), 0);
  strcpy(r.peer_candidates[0], "c=IN IP4 1.2.3.4");
  assert_int_equal(tc_validate_create_link(&r, why, sizeof why), IPOP_EFIELD);
  assert_non_null(strstr(why, "peer_candidates[0]"));
  strcpy(r.peer_candidates[0], "candidate:1 1 UDP 1 1.2.3.4 5 typ host\r\na=evil");
  assert_int_equal(tc_validate_create_link(&r, why, sizeof why), IPOP_EFIELD);
  strcpy(r.peer_candidates[0], "candidate:1 1 UDP 2015363327 198.18.0.12 5000 typ host");

  strcpy(r.peer_ufrag, "ab d");
  assert_int_equal(tc_validate_create_link(&r, why, sizeof why), IPOP_EFIELD);
  assert_non_null(strstr(why, "peer_ufrag"));
  strcpy(r.peer_ufrag, "abcd");

  strcpy(r.peer_fingerprint, "sha-256 00:01");
  assert_int_equal(tc_validate_create_link(&r, why, sizeof why), IPOP_EFIELD);
  assert_non_null(strstr(why, "peer_fingerprint"));
}

static void hostport(void **state)
{
  (void)state;
  struct sockaddr_storage ss;
  assert_int_equal(tc_parse_hostport("1.2.3.4:3478", &ss), 0);
  assert_int_equal(ss.ss_family, AF_INET);
  assert_int_equal(tc_parse_hostport("[::1]:1", &ss), 0);
  assert_int_equal(ss.ss_family, AF_INET6);
  assert_int_equal(tc_parse_hostport("1.2.3.4", &ss), IPOP_EFIELD);
  assert_int_equal(tc_parse_hostport("1.2.3.4:0", &ss), IPOP_EFIELD);
  assert_int_equal(tc_parse_hostport("1.2.3.4:65536", &ss), IPOP_EFIELD);
  assert_int_equal(tc_parse_hostport("1.2.3.4:+80", &ss), IPOP_EFIELD);
  assert_int_equal(tc_parse_hostport("::1:80", &ss), IPOP_EFIELD);
  assert_int_equal(tc_parse_hostport("[1.2.3.4]:80", &ss), IPOP_EFIELD);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(defaults),
    cmocka_unit_test(full),
    cmocka_unit_test(errors_name_the_key),
    cmocka_unit_test(create_overlay_validation),
    cmocka_unit_test(create_link_validation),
    cmocka_unit_test(hostport),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
