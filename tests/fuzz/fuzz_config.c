/* libFuzzer target for the config loader: ipop_config_parse with a nested
 * schema shaped like a daemon's (arrays of objects holding secrets, every
 * field type).  A config that loads must re-encode and decode to the same
 * struct; an error must name the file, be valid UTF-8 when it comes from
 * validation, and never quote a secret value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "config.h"
#include "error.h"
#include "jbind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace", NULL };
static const char *const transport_names[] = { "udp", "tcp", "tls", NULL };

struct f_turn {
  char address[64];
  char user[32];
  char password[32];
  int transport;
};

struct f_overlay {
  char id[65];
  char tap[16];
  uint8_t mac[6];
  bool has_mac;
  struct in_addr ip4;
  uint32_t ip4_prefix;
  struct in6_addr ip6;
  bool has_ip6;
  uint32_t mtu;
  char stun[4][64];
  uint32_t n_stun;
  struct f_turn turn[4];
  uint32_t n_turn;
};

struct f_xmpp {
  char host[64];
  uint32_t port;
  char user[64];
  char password[64];
  bool tls;
};

struct f_cfg {
  int level;
  char log_file[128];
  uint64_t interval_ms;
  struct f_xmpp xmpp;
  bool has_xmpp;
  struct f_overlay overlays[3];
  uint32_t n_overlays;
};

#define T struct f_turn
static const struct jb_field turn_f[] = {
  JB_F_STR(T, address, "Address", JB_REQUIRED, 1, NULL),
  JB_F_STR(T, user, "User", JB_REQUIRED, 1, NULL),
  JB_F_STR(T, password, "Password", JB_REQUIRED | JB_SECRET, 1, NULL),
  JB_F_ENUM(T, transport, "Transport", 0, transport_names, "udp"),
};
static const struct jb_schema turn_s = JB_SCHEMA("TURN server", T, turn_f);
#undef T
#define T struct f_overlay
static const struct jb_field overlay_f[] = {
  JB_F_STR(T, id, "OverlayId", JB_REQUIRED, 1, NULL),
  JB_F_STR(T, tap, "TapName", 0, 1, "ipop0"),
  JB_F_MAC(T, mac, "MAC", 0, JB_PRESENCE(T, has_mac)),
  JB_F_IP4(T, ip4, "IP4", JB_REQUIRED),
  JB_F_U32(T, ip4_prefix, "IP4PrefixLen", 0, 1, 32, 24),
  JB_F_IP6(T, ip6, "IP6", 0, JB_PRESENCE(T, has_ip6)),
  JB_F_U32(T, mtu, "MTU", 0, 576, 9000, 1280),
  JB_F_STR_ARR(T, stun, n_stun, "Stun", 0, 1),
  JB_F_OBJ_ARR(T, turn, n_turn, "Turn", 0, &turn_s),
};
static const struct jb_schema overlay_s = JB_SCHEMA("overlay", T, overlay_f);
#undef T
#define T struct f_xmpp
static const struct jb_field xmpp_f[] = {
  JB_F_STR(T, host, "Host", JB_REQUIRED, 1, NULL),
  JB_F_U32(T, port, "Port", 0, 1, 65535, 5222),
  JB_F_STR(T, user, "Username", JB_REQUIRED, 1, NULL),
  JB_F_STR(T, password, "Password", JB_REQUIRED | JB_SECRET, 1, NULL),
  JB_F_BOOL(T, tls, "TLS", 0, 1),
};
static const struct jb_schema xmpp_s = JB_SCHEMA("XMPP", T, xmpp_f);
#undef T
#define T struct f_cfg
static const struct jb_field cfg_f[] = {
  JB_F_ENUM(T, level, "LogLevel", 0, level_names, "info"),
  JB_F_STR(T, log_file, "LogFile", 0, 0, ""),
  JB_F_U64(T, interval_ms, "IntervalMs", 0, 1, INT64_MAX, 1000),
  /* An optional object with required members needs a presence flag, or an
   * absent one would be encoded as an object of empty required fields. */
  JB_F_OBJ(T, xmpp, "XMPP", 0, &xmpp_s, JB_PRESENCE(T, has_xmpp)),
  JB_F_OBJ_ARR(T, overlays, n_overlays, "Overlays", 0, &overlay_s),
};
static const struct jb_schema cfg_s = JB_SCHEMA("fuzz config", T, cfg_f);
#undef T

static bool utf8_ok(const char *s)
{
  json_t *j = json_string(s);
  json_decref(j);
  return j != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct f_cfg a, b;
  struct jb_error err;
  int rc = ipop_config_parse("fuzz.json", (const char *)data, size, &cfg_s, &a, &err);
  if (rc != 0) {
    if (err.code != rc || strncmp(err.msg, "fuzz.json: ", 11) != 0)
      abort();
    /* Validation errors (not the parser's own text) must be valid UTF-8. */
    if (rc != IPOP_EPARSE && !utf8_ok(err.msg)) {
      fprintf(stderr, "invalid UTF-8 in \"%s\"\n", err.msg);
      abort();
    }
    /* A secret that failed validation is never quoted: after the path of a
     * Password field the message holds no quoted text. */
    size_t pl = strlen(err.path);
    if (pl >= 8 && strcmp(err.path + pl - 8, "Password") == 0) {
      const char *after = strstr(err.msg, err.path);
      if (!after || strchr(after + pl, '"')) {
        fprintf(stderr, "secret quoted: \"%s\"\n", err.msg);
        abort();
      }
    }
    return 0;
  }
  json_t *j = jb_encode(&cfg_s, &a);
  if (!j)
    abort();
  if (jb_decode(&cfg_s, j, &b, NULL, &err) != 0) {
    fprintf(stderr, "own encoding does not decode: %s\n", err.msg);
    abort();
  }
  json_decref(j);
  if (memcmp(&a, &b, sizeof a) != 0)
    abort();
  return 0;
}
