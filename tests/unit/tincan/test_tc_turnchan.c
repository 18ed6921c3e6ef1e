/* The TURN client of a taken-over relayed path (tincan/turnchan.h).
 *
 * Classification of what arrives on the socket, as an attacker would send
 * it: ChannelData from another address than the server's (another IP, the
 * server's IP on another port), on another channel, before the channel is
 * bound, with a length beyond the datagram, empty, with more than 3 bytes
 * of padding, oversized, a 1-byte stub; a Data indication from another
 * peer; junk.  And the exchange with a fake server on a loopback UDP socket
 * (a module boundary: the real coturn is in test_tincan_paths.sh): the 401
 * challenge, the authenticated ChannelBind that verifies with the key, 400
 * moving to the next channel number, a stale nonce taken once, answers
 * that must be ignored (wrong transaction id, a success without or with a
 * wrong MESSAGE-INTEGRITY), the refresh after TC_TURN_REFRESH_MS, and a
 * server that stops answering named in the error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "turnchan.h"

static struct ctl_turn_server ts;
static int srv = -1, cli = -1;
static struct sockaddr_in srv_addr, cli_addr;

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
  struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, ip, &s.sin_addr);
  return s;
}

static int udp_bound(struct sockaddr_in *a)
{
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  assert_true(fd >= 0);
  *a = v4("127.0.0.1", 0);
  socklen_t l = sizeof *a;
  assert_int_equal(bind(fd, (struct sockaddr *)a, sizeof *a), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)a, &l), 0);
  return fd;
}

static int setup(void **state)
{
  (void)state;
  srv = udp_bound(&srv_addr);
  cli = udp_bound(&cli_addr);
  memset(&ts, 0, sizeof ts);
  snprintf(ts.address, sizeof ts.address, "127.0.0.1:%u", ntohs(srv_addr.sin_port));
  snprintf(ts.user, sizeof ts.user, "user");
  snprintf(ts.password, sizeof ts.password, "secret");
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  close(srv);
  close(cli);
  return 0;
}

static struct sockaddr_in peer_of(void)
{
  return v4("198.18.0.20", 40000);
}

static void start(struct tc_turnchan *t)
{
  struct sockaddr_in peer = peer_of();
  assert_int_equal(tc_turnchan_start(t, cli, &ts, (struct sockaddr *)&peer, 1000), 0);
}

/* The request the client sent to the server (parsed), its bytes in buf. */
static size_t server_read(uint8_t *buf, size_t cap, struct tc_stun_msg *m)
{
  ssize_t n = recv(srv, buf, cap, 0);
  assert_true(n > 0);
  assert_int_equal(tc_stun_parse(buf, (size_t)n, m), 0);
  assert_int_equal(m->cls, TC_STUN_REQUEST);
  return (size_t)n;
}

static bool server_quiet(void)
{
  uint8_t b[16];
  return recv(srv, b, sizeof b, 0) < 0;
}

/* An answer to m: success (key: with MESSAGE-INTEGRITY) or error code. */
static size_t answer(uint8_t *buf, size_t cap, const struct tc_stun_msg *m, int code,
                     const char *nonce, const uint8_t *key)
{
  struct tc_stun_out o;
  tc_stun_begin(&o, buf, cap, m->method, code ? TC_STUN_ERROR : TC_STUN_SUCCESS, m->txid);
  if (code) {
    uint8_t ec[8] = {0, 0, (uint8_t)(code / 100), (uint8_t)(code % 100), 'n', 'o'};
    tc_stun_add(&o, TC_STUN_A_ERROR_CODE, ec, 6);
  }
  if (nonce) {
    tc_stun_add(&o, TC_STUN_A_REALM, "ipop.test", 9);
    tc_stun_add(&o, TC_STUN_A_NONCE, nonce, strlen(nonce));
  }
  int n = tc_stun_finish(&o, "", "", "", NULL);
  if (key) {
    /* Append MESSAGE-INTEGRITY the way finish does, without USERNAME etc.:
     * build again with the key and strip nothing (the client only checks
     * the HMAC). */
    tc_stun_begin(&o, buf, cap, m->method, code ? TC_STUN_ERROR : TC_STUN_SUCCESS, m->txid);
    n = tc_stun_finish(&o, "user", "ipop.test", nonce ? nonce : "n", key);
  }
  assert_true(n > 0);
  return (size_t)n;
}

static void feed(struct tc_turnchan *t, const uint8_t *b, size_t n, uint64_t now)
{
  const uint8_t *d = NULL;
  size_t len = 0;
  assert_false(tc_turnchan_input(t, b, n, (struct sockaddr *)&srv_addr, now, &d, &len));
}

/* Challenge, then the authenticated ChannelBind: bound to 0x4000. */
static void bind_ok(struct tc_turnchan *t, uint8_t key[TC_STUN_KEY])
{
  uint8_t req[600], ans[600];
  struct tc_stun_msg m;
  start(t);
  server_read(req, sizeof req, &m);
  assert_int_equal(m.method, TC_STUN_CHANNEL_BIND);
  assert_false(m.has_integrity);
  feed(t, ans, answer(ans, sizeof ans, &m, 401, "nonce1", NULL), 1010);
  size_t n = server_read(req, sizeof req, &m);
  tc_stun_key("user", "ipop.test", "secret", key);
  assert_true(m.has_integrity);
  assert_true(tc_stun_integrity_ok(req, n, &m, key));
  assert_string_equal(m.nonce, "nonce1");
  assert_true(m.has_peer);
  struct sockaddr_in peer = peer_of();
  assert_true(tc_addr_eq((struct sockaddr *)&m.peer, (struct sockaddr *)&peer));
  assert_false(t->flags & TC_TURN_BOUND);
  feed(t, ans, answer(ans, sizeof ans, &m, 0, NULL, key), 1020);
  assert_true(t->flags & TC_TURN_BOUND);
  assert_int_equal(t->channel, 0x4000);
}

/* Started, challenged: m is the authenticated ChannelBind (in req). */
static void challenged(struct tc_turnchan *t, uint8_t *req, size_t cap, struct tc_stun_msg *m,
                       uint8_t key[TC_STUN_KEY])
{
  uint8_t ans[600];
  start(t);
  server_read(req, cap, m);
  feed(t, ans, answer(ans, sizeof ans, m, 401, "nonce1", NULL), 1010);
  server_read(req, cap, m);
  tc_stun_key("user", "ipop.test", "secret", key);
}

static enum tc_turn_verdict classify(struct tc_turnchan *t, const uint8_t *b, size_t n,
                                     const struct sockaddr_in *from, const uint8_t **d,
                                     size_t *len)
{
  return tc_turnchan_classify(t, b, n, (const struct sockaddr *)from, d, len);
}

static void hostile_datagrams(void **state)
{
  (void)state;
  struct tc_turnchan t;
  uint8_t key[TC_STUN_KEY], b[2000];
  const uint8_t *d = NULL;
  size_t len = 0;
  /* Before the channel is bound, no ChannelData is ours. */
  start(&t);
  uint8_t cd[8] = {0x40, 0x00, 0, 4, 'a', 'b', 'c', 'd'};
  assert_int_equal(classify(&t, cd, 8, &srv_addr, &d, &len), TC_TURN_BAD_CHANNEL);
  tc_turnchan_stop(&t);
  while (!server_quiet())
    ;
  bind_ok(&t, key);
  assert_int_equal(classify(&t, cd, 8, &srv_addr, &d, &len), TC_TURN_DATA);
  assert_ptr_equal(d, cd + 4);
  assert_int_equal(len, 4);
  /* Not the server: another IP, the server's IP on another port. */
  struct sockaddr_in other = v4("198.18.0.66", ntohs(srv_addr.sin_port));
  assert_int_equal(classify(&t, cd, 8, &other, &d, &len), TC_TURN_FORGED);
  assert_int_equal(classify(&t, cd, 8, &cli_addr, &d, &len), TC_TURN_FORGED);
  assert_int_equal(tc_turnchan_classify(&t, cd, 8, NULL, &d, &len), TC_TURN_FORGED);
  /* Other channels. */
  uint8_t cd2[8] = {0x40, 0x01, 0, 4, 'a', 'b', 'c', 'd'};
  assert_int_equal(classify(&t, cd2, 8, &srv_addr, &d, &len), TC_TURN_BAD_CHANNEL);
  cd2[0] = 0x4F, cd2[1] = 0xFF;
  assert_int_equal(classify(&t, cd2, 8, &srv_addr, &d, &len), TC_TURN_BAD_CHANNEL);
  /* Lengths: beyond the datagram, empty, padding of 3 (fine) and 4, a stub. */
  uint8_t over[8] = {0x40, 0x00, 0, 5, 'a', 'b', 'c', 'd'};
  assert_int_equal(classify(&t, over, 8, &srv_addr, &d, &len), TC_TURN_BAD_LENGTH);
  uint8_t big[8] = {0x40, 0x00, 0xFF, 0xFF, 'a', 'b', 'c', 'd'};
  assert_int_equal(classify(&t, big, 8, &srv_addr, &d, &len), TC_TURN_BAD_LENGTH);
  uint8_t empty[4] = {0x40, 0x00, 0, 0};
  assert_int_equal(classify(&t, empty, 4, &srv_addr, &d, &len), TC_TURN_BAD_LENGTH);
  uint8_t pad[12] = {0x40, 0x00, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0};
  assert_int_equal(classify(&t, pad, 12, &srv_addr, &d, &len), TC_TURN_DATA);
  assert_int_equal(len, 5);
  assert_int_equal(classify(&t, pad, 11, &srv_addr, &d, &len), TC_TURN_DATA);
  uint8_t pad4[12] = {0x40, 0x00, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0};
  assert_int_equal(classify(&t, pad4, 12, &srv_addr, &d, &len), TC_TURN_BAD_LENGTH);
  assert_int_equal(classify(&t, cd, 3, &srv_addr, &d, &len), TC_TURN_BAD_LENGTH);
  assert_int_equal(classify(&t, cd, 1, &srv_addr, &d, &len), TC_TURN_BAD_LENGTH);
  /* Oversized: one byte more than a link ever sends. */
  memset(b, 0, sizeof b);
  b[0] = 0x40;
  b[2] = (TC_TURN_PAYLOAD_MAX + 1) >> 8;
  b[3] = (uint8_t)(TC_TURN_PAYLOAD_MAX + 1);
  assert_int_equal(classify(&t, b, TC_TURN_PAYLOAD_MAX + 5, &srv_addr, &d, &len),
                   TC_TURN_BAD_LENGTH);
  b[2] = TC_TURN_PAYLOAD_MAX >> 8;
  b[3] = (uint8_t)TC_TURN_PAYLOAD_MAX;
  assert_int_equal(classify(&t, b, TC_TURN_PAYLOAD_MAX + 4, &srv_addr, &d, &len), TC_TURN_DATA);
  /* Data indications: from the peer (ours), from another peer, empty. */
  struct tc_stun_out o;
  uint8_t id[TC_STUN_TXID] = {7};
  struct sockaddr_in peer = peer_of(), stranger = v4("198.18.0.66", 40000);
  tc_stun_begin(&o, b, sizeof b, TC_STUN_DATA, TC_STUN_INDICATION, id);
  tc_stun_add_xaddr(&o, TC_STUN_A_XOR_PEER, (struct sockaddr *)&peer);
  tc_stun_add(&o, TC_STUN_A_DATA, "hello", 5);
  int n = tc_stun_finish(&o, NULL, NULL, NULL, NULL);
  assert_int_equal(classify(&t, b, (size_t)n, &srv_addr, &d, &len), TC_TURN_DATA);
  assert_int_equal(len, 5);
  assert_memory_equal(d, "hello", 5);
  tc_stun_begin(&o, b, sizeof b, TC_STUN_DATA, TC_STUN_INDICATION, id);
  tc_stun_add_xaddr(&o, TC_STUN_A_XOR_PEER, (struct sockaddr *)&stranger);
  tc_stun_add(&o, TC_STUN_A_DATA, "hello", 5);
  n = tc_stun_finish(&o, NULL, NULL, NULL, NULL);
  assert_int_equal(classify(&t, b, (size_t)n, &srv_addr, &d, &len), TC_TURN_BAD_PEER);
  tc_stun_begin(&o, b, sizeof b, TC_STUN_DATA, TC_STUN_INDICATION, id);
  tc_stun_add_xaddr(&o, TC_STUN_A_XOR_PEER, (struct sockaddr *)&peer);
  tc_stun_add(&o, TC_STUN_A_DATA, "", 0);
  n = tc_stun_finish(&o, NULL, NULL, NULL, NULL);
  assert_int_equal(classify(&t, b, (size_t)n, &srv_addr, &d, &len), TC_TURN_BAD_LENGTH);
  /* Junk: neither ChannelData nor STUN, or STUN that does not parse. */
  memset(b, 0xFF, 64);
  assert_int_equal(classify(&t, b, 64, &srv_addr, &d, &len), TC_TURN_JUNK);
  uint8_t bad_stun[24] = {0x01, 0x01, 0x00, 0x04, 0x21, 0x12, 0xA4, 0x43};
  assert_int_equal(classify(&t, bad_stun, 24, &srv_addr, &d, &len), TC_TURN_JUNK);
  /* tc_turnchan_input counts what it drops. */
  uint64_t d0 = tc_turnchan_dropped(&t);
  feed(&t, big, 8, 2000);
  feed(&t, cd2, 8, 2000);
  feed(&t, b, 64, 2000);
  assert_int_equal(tc_turnchan_dropped(&t), d0 + 3);
  assert_int_equal(t.dropped[TC_TURN_BAD_LENGTH], 1);
  tc_turnchan_stop(&t);
  while (!server_quiet())
    ;
}

static void answers_that_do_not_count(void **state)
{
  (void)state;
  struct tc_turnchan t;
  uint8_t req[600], ans[600], key[TC_STUN_KEY], wrong[TC_STUN_KEY];
  struct tc_stun_msg m;
  challenged(&t, req, sizeof req, &m, key);
  tc_stun_key("user", "ipop.test", "guess", wrong);
  /* A success without MESSAGE-INTEGRITY, or with a wrong one. */
  feed(&t, ans, answer(ans, sizeof ans, &m, 0, NULL, NULL), 1020);
  assert_false(t.flags & TC_TURN_BOUND);
  feed(&t, ans, answer(ans, sizeof ans, &m, 0, NULL, wrong), 1020);
  assert_false(t.flags & TC_TURN_BOUND);
  /* The right key but another transaction. */
  struct tc_stun_msg m2 = m;
  m2.txid[0] ^= 1;
  feed(&t, ans, answer(ans, sizeof ans, &m2, 0, NULL, key), 1020);
  assert_false(t.flags & TC_TURN_BOUND);
  /* The same from another address is not even looked at. */
  const uint8_t *d;
  size_t len;
  size_t n = answer(ans, sizeof ans, &m, 0, NULL, key);
  assert_false(tc_turnchan_input(&t, ans, n, (struct sockaddr *)&cli_addr, 1020, &d, &len));
  assert_false(t.flags & TC_TURN_BOUND);
  assert_int_equal(t.dropped[TC_TURN_FORGED], 1);
  /* The real one. */
  feed(&t, ans, n, 1030);
  assert_true(t.flags & TC_TURN_BOUND);
  tc_turnchan_stop(&t);
  while (!server_quiet())
    ;
}

static void channel_taken_then_stale_nonce(void **state)
{
  (void)state;
  struct tc_turnchan t;
  uint8_t req[600], ans[600], key[TC_STUN_KEY];
  struct tc_stun_msg m;
  challenged(&t, req, sizeof req, &m, key);
  /* 400: the peer has another number (libnice's): the next one is tried. */
  feed(&t, ans, answer(ans, sizeof ans, &m, 400, NULL, NULL), 1020);
  size_t n = server_read(req, sizeof req, &m);
  assert_true(tc_stun_integrity_ok(req, n, &m, key));
  assert_int_equal(t.channel, 0x4001);
  /* 438 stale nonce: taken once, the request goes again with the new one. */
  feed(&t, ans, answer(ans, sizeof ans, &m, 438, "nonce2", NULL), 1030);
  server_read(req, sizeof req, &m);
  assert_string_equal(m.nonce, "nonce2");
  /* A second 438 for the same request is a refusal, named. */
  feed(&t, ans, answer(ans, sizeof ans, &m, 438, "nonce3", NULL), 1040);
  assert_true(server_quiet());
  assert_true(tc_turnchan_tick(&t, 1050));
  assert_non_null(strstr(t.error, "channel bind"));
  assert_non_null(strstr(t.error, "438"));
  assert_false(tc_turnchan_tick(&t, 1060)); /* said once */
  tc_turnchan_stop(&t);
  while (!server_quiet())
    ;
}

static void refresh_and_silence(void **state)
{
  (void)state;
  struct tc_turnchan t;
  uint8_t key[TC_STUN_KEY], req[600], ans[600];
  struct tc_stun_msg m;
  bind_ok(&t, key);
  /* The allocation is refreshed at once after the bind. */
  assert_false(tc_turnchan_tick(&t, 1030));
  size_t n = server_read(req, sizeof req, &m);
  assert_int_equal(m.method, TC_STUN_REFRESH);
  assert_true(tc_stun_integrity_ok(req, n, &m, key));
  assert_true(m.has_lifetime);
  assert_int_equal(m.lifetime, TC_TURN_LIFETIME_S);
  feed(&t, ans, answer(ans, sizeof ans, &m, 0, NULL, key), 1040);
  assert_int_equal(t.refreshes, 1);
  /* Nothing more until the period is over. */
  assert_false(tc_turnchan_tick(&t, 1040 + TC_TURN_REFRESH_MS / 2));
  assert_true(server_quiet());
  /* Then the channel again; the server has gone quiet: retransmissions,
   * then the error. */
  uint64_t now = 1020 + TC_TURN_REFRESH_MS;
  tc_turnchan_tick(&t, now);
  server_read(req, sizeof req, &m);
  assert_int_equal(m.method, TC_STUN_CHANNEL_BIND);
  bool said = false;
  for (int i = 0; i < 200 && !said; i++) {
    now += 500;
    said = tc_turnchan_tick(&t, now);
  }
  assert_true(said);
  assert_non_null(strstr(t.error, "no answer to channel bind"));
  assert_true(t.flags & TC_TURN_BOUND); /* still sending: the keepalive judges the path */
  tc_turnchan_stop(&t);
  while (!server_quiet())
    ;
}

static void send_indication(void **state)
{
  (void)state;
  struct tc_turnchan t;
  uint8_t b[TC_TURN_PAYLOAD_MAX + 64], data[TC_TURN_PAYLOAD_MAX];
  memset(data, 0xAB, sizeof data);
  start(&t);
  size_t n = tc_turnchan_send_ind(&t, data, sizeof data, b, sizeof b);
  assert_true(n > sizeof data);
  struct tc_stun_msg m;
  assert_int_equal(tc_stun_parse(b, n, &m), 0);
  assert_int_equal(m.method, TC_STUN_SEND);
  assert_int_equal(m.cls, TC_STUN_INDICATION);
  assert_int_equal(m.data_len, sizeof data);
  assert_int_equal(tc_turnchan_send_ind(&t, data, sizeof data, b, 100), 0); /* no room */
  tc_turnchan_stop(&t);
  while (!server_quiet())
    ;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(hostile_datagrams),
    cmocka_unit_test(answers_that_do_not_count),
    cmocka_unit_test(channel_taken_then_stale_nonce),
    cmocka_unit_test(refresh_and_silence),
    cmocka_unit_test(send_indication),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
