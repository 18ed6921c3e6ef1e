/* Datagram protection: seal/open, the payload encrypted (and a known-answer
 * vector made with Python's cryptography package, so that other
 * implementations can check theirs), wrong key, every flipped bit, every
 * truncation, replay window, timestamp window, sender LRU, sender id
 * rotation before the nonce's counter part wraps, NAKs (protocol 1 too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "ctl_auth.h"
#include "error.h"

static const uint8_t key_a[IPOP_SECRET_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                                12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                                23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static uint8_t key_b[IPOP_SECRET_LEN];

/* Injected wall clocks: one for senders, one for the receiver. */
static uint64_t sender_now = 1700000000000ull, receiver_now = 1700000000000ull;
static uint64_t sender_clock(void) { return sender_now; }
static uint64_t receiver_clock(void) { return receiver_now; }

static const char payload[] = "{\"version\":1,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\"}";

struct pair {
  struct ctl_auth tx, rx;
};

static int setup(void **state)
{
  struct pair *p = calloc(1, sizeof *p);
  sender_now = receiver_now = 1700000000000ull;
  if (ctl_auth_init(&p->tx, key_a) || ctl_auth_init(&p->rx, key_a))
    return -1;
  p->tx.clock_ms = sender_clock;
  p->rx.clock_ms = receiver_clock;
  memset(key_b, 0, sizeof key_b);
  memcpy(key_b, key_a, sizeof key_b);
  key_b[31] ^= 1;
  *state = p;
  return 0;
}

static int teardown(void **state)
{
  struct pair *p = *state;
  ctl_auth_wipe(&p->tx);
  ctl_auth_wipe(&p->rx);
  free(p);
  return 0;
}

static size_t seal(struct ctl_auth *a, uint8_t *out, size_t cap)
{
  size_t n = 0;
  assert_int_equal(ctl_auth_seal(a, payload, sizeof payload - 1, out, cap, &n, NULL), 0);
  assert_int_equal(n, CTL_AUTH_OVERHEAD + sizeof payload - 1);
  return n;
}

static int open_dg(struct ctl_auth *a, const uint8_t *d, size_t n)
{
  const uint8_t *pl = NULL;
  size_t plen = 0;
  /* copy to an exact-size buffer so ASan sees any read past the end */
  uint8_t *copy = malloc(n ? n : 1);
  memcpy(copy, d, n);
  int rc = ctl_auth_open(a, copy, n, &pl, &plen);
  if (rc == 0) {
    assert_ptr_equal(pl, copy + CTL_AUTH_HDR_LEN);
    assert_int_equal(plen, n - CTL_AUTH_OVERHEAD);
  }
  free(copy);
  return rc;
}

static void test_seal_open_good(void **state)
{
  struct pair *p = *state;
  uint8_t d[512];
  size_t n = 0;
  uint64_t ctr = 0;
  assert_int_equal(ctl_auth_seal(&p->tx, payload, sizeof payload - 1, d, sizeof d, &n, &ctr), 0);
  assert_int_equal(ctr, 1);
  assert_memory_equal(d, "IPC2", 4);
  const uint8_t *pl;
  size_t plen;
  assert_int_equal(ctl_auth_open(&p->rx, d, n, &pl, &plen), 0);
  assert_int_equal(plen, sizeof payload - 1);
  assert_memory_equal(pl, payload, plen);
  assert_int_equal(p->rx.stats.accepted, 1);
  /* counters increase */
  assert_int_equal(ctl_auth_seal(&p->tx, payload, sizeof payload - 1, d, sizeof d, &n, &ctr), 0);
  assert_int_equal(ctr, 2);
  assert_int_equal(open_dg(&p->rx, d, n), 0);
  /* empty payload is fine too */
  assert_int_equal(ctl_auth_seal(&p->tx, "", 0, d, sizeof d, &n, NULL), 0);
  assert_int_equal(n, CTL_AUTH_OVERHEAD);
  assert_int_equal(open_dg(&p->rx, d, n), 0);
  assert_int_equal(p->rx.stats.accepted, 3);
}

static void test_seal_limits(void **state)
{
  struct pair *p = *state;
  uint8_t d[128];
  size_t n = 0;
  assert_int_equal(ctl_auth_seal(&p->tx, payload, sizeof payload - 1, d, CTL_AUTH_HDR_LEN, &n,
                                 NULL),
                   IPOP_ETOOBIG);
  uint8_t *big = calloc(1, CTL_MAX_DGRAM + 1);
  uint8_t *out = malloc(CTL_MAX_DGRAM + 64);
  assert_int_equal(ctl_auth_seal(&p->tx, big, CTL_MAX_PAYLOAD + 1, out, CTL_MAX_DGRAM + 64, &n,
                                 NULL),
                   IPOP_ETOOBIG);
  assert_int_equal(ctl_auth_seal(&p->tx, big, CTL_MAX_PAYLOAD, out, CTL_MAX_DGRAM, &n, NULL), 0);
  assert_int_equal(n, CTL_MAX_DGRAM);
  assert_int_equal(open_dg(&p->rx, out, n), 0);
  /* longer than any datagram: refused before the MAC */
  assert_int_equal(open_dg(&p->rx, out, CTL_MAX_DGRAM + 1), IPOP_EAUTH);
  assert_int_equal(p->rx.stats.bad_length, 1);
  free(big);
  free(out);
}

static void test_wrong_key(void **state)
{
  struct pair *p = *state;
  struct ctl_auth other;
  assert_int_equal(ctl_auth_init(&other, key_b), 0);
  other.clock_ms = sender_clock;
  uint8_t d[512];
  size_t n = seal(&other, d, sizeof d);
  assert_int_equal(open_dg(&p->rx, d, n), IPOP_EAUTH);
  assert_int_equal(p->rx.stats.bad_mac, 1);
  assert_int_equal(p->rx.stats.accepted, 0);
  ctl_auth_wipe(&other);
}

static void test_every_flipped_bit(void **state)
{
  struct pair *p = *state;
  uint8_t d[512];
  size_t n = seal(&p->tx, d, sizeof d);
  for (size_t i = 0; i < n; i++)
    for (int b = 0; b < 8; b++) {
      d[i] ^= (uint8_t)(1u << b);
      int rc = open_dg(&p->rx, d, n);
      if (rc != IPOP_EAUTH)
        fail_msg("bit %d of byte %zu flipped: rc %d", b, i, rc);
      d[i] ^= (uint8_t)(1u << b);
    }
  assert_int_equal(p->rx.stats.bad_magic, 32);
  assert_int_equal(p->rx.stats.bad_mac, (uint64_t)(n - 4) * 8);
  assert_int_equal(p->rx.stats.accepted, 0);
  /* nothing was consumed: the intact datagram is still accepted once */
  assert_int_equal(open_dg(&p->rx, d, n), 0);
  assert_int_equal(open_dg(&p->rx, d, n), IPOP_EREPLAY);
}

static void test_every_truncation(void **state)
{
  struct pair *p = *state;
  uint8_t d[512];
  size_t n = seal(&p->tx, d, sizeof d);
  for (size_t len = 0; len < CTL_AUTH_OVERHEAD; len++)
    assert_int_equal(open_dg(&p->rx, d, len), IPOP_EAUTH);
  assert_int_equal(p->rx.stats.bad_length, CTL_AUTH_OVERHEAD);
  for (size_t len = CTL_AUTH_OVERHEAD; len < n; len++)
    assert_int_equal(open_dg(&p->rx, d, len), IPOP_EAUTH);
  assert_int_equal(p->rx.stats.bad_mac, n - CTL_AUTH_OVERHEAD);
  /* trailing bytes are not ignored either */
  d[n] = 0;
  assert_int_equal(open_dg(&p->rx, d, n + 1), IPOP_EAUTH);
  assert_int_equal(open_dg(&p->rx, d, n), 0);
}

static void test_replay(void **state)
{
  struct pair *p = *state;
  uint8_t d[512];
  size_t n = seal(&p->tx, d, sizeof d);
  assert_int_equal(open_dg(&p->rx, d, n), 0);
  assert_int_equal(open_dg(&p->rx, d, n), IPOP_EREPLAY);
  assert_int_equal(open_dg(&p->rx, d, n), IPOP_EREPLAY);
  assert_int_equal(p->rx.stats.replayed, 2);
  assert_int_equal(p->rx.stats.accepted, 1);
}

static void test_out_of_order_window(void **state)
{
  struct pair *p = *state;
  enum { N = 70 };
  uint8_t d[N][256];
  size_t n[N];
  for (int i = 0; i < N; i++)
    n[i] = seal(&p->tx, d[i], sizeof d[i]); /* counters 1..70 */
  /* newest first, then older ones within the window, each accepted once */
  assert_int_equal(open_dg(&p->rx, d[N - 1], n[N - 1]), 0); /* 70 */
  for (int i = N - 2; i >= N - 64; i--) {                  /* 69 .. 7 */
    assert_int_equal(open_dg(&p->rx, d[i], n[i]), 0);
    assert_int_equal(open_dg(&p->rx, d[i], n[i]), IPOP_EREPLAY);
  }
  /* 1..6 are 64 or more behind 70: too old */
  for (int i = 0; i < N - 64; i++)
    assert_int_equal(open_dg(&p->rx, d[i], n[i]), IPOP_EREPLAY);
  assert_int_equal(p->rx.stats.accepted, 64);
}

static void test_out_of_order_small(void **state)
{
  struct pair *p = *state;
  uint8_t d[5][256];
  size_t n[5];
  for (int i = 0; i < 5; i++)
    n[i] = seal(&p->tx, d[i], sizeof d[i]);
  static const int order[] = { 2, 0, 4, 1, 3 };
  for (int k = 0; k < 5; k++)
    assert_int_equal(open_dg(&p->rx, d[order[k]], n[order[k]]), 0);
  for (int k = 0; k < 5; k++)
    assert_int_equal(open_dg(&p->rx, d[k], n[k]), IPOP_EREPLAY);
}

static void test_timestamp_window(void **state)
{
  struct pair *p = *state;
  uint8_t d[512];
  size_t n;
  static const int64_t ok_skew[] = { 0, 29999, -29999, 30000, -30000 };
  for (size_t i = 0; i < sizeof ok_skew / sizeof ok_skew[0]; i++) {
    sender_now = receiver_now + (uint64_t)ok_skew[i];
    n = seal(&p->tx, d, sizeof d);
    assert_int_equal(open_dg(&p->rx, d, n), 0);
  }
  static const int64_t bad_skew[] = { 30001, -30001, 3600000, -3600000 };
  for (size_t i = 0; i < sizeof bad_skew / sizeof bad_skew[0]; i++) {
    sender_now = receiver_now + (uint64_t)bad_skew[i];
    n = seal(&p->tx, d, sizeof d);
    assert_int_equal(open_dg(&p->rx, d, n), IPOP_EREPLAY);
  }
  assert_int_equal(p->rx.stats.stale, 4);
  /* a datagram that was fresh goes stale as the receiver's clock moves on */
  sender_now = receiver_now;
  n = seal(&p->tx, d, sizeof d);
  receiver_now += 30001;
  assert_int_equal(open_dg(&p->rx, d, n), IPOP_EREPLAY);
  assert_int_equal(p->rx.stats.stale, 5);
  /* sender at time 0 (clock not set) */
  sender_now = 0;
  n = seal(&p->tx, d, sizeof d);
  assert_int_equal(open_dg(&p->rx, d, n), IPOP_EREPLAY);
}

static void test_many_senders(void **state)
{
  struct pair *p = *state;
  enum { S = CTL_AUTH_SENDERS * 3 };
  struct ctl_auth *tx = calloc(S, sizeof *tx);
  uint8_t d[256], first[256];
  size_t n, nfirst = 0;
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < S; i++) {
      if (round == 0) {
        assert_int_equal(ctl_auth_init(&tx[i], key_a), 0);
        tx[i].clock_ms = sender_clock;
      }
      n = seal(&tx[i], d, sizeof d);
      if (round == 2 && i == S - 1) {
        memcpy(first, d, n);
        nfirst = n;
      }
      /* a fresh datagram is always accepted, however many senders came before */
      int rc = open_dg(&p->rx, d, n);
      if (rc != 0)
        fail_msg("round %d sender %d: rc %d", round, i, rc);
    }
  assert_int_equal(p->rx.stats.accepted, 3 * S);
  /* the most recent sender is still tracked: its replay is caught */
  assert_int_equal(open_dg(&p->rx, first, nfirst), IPOP_EREPLAY);
  /* the original sender keeps working, too */
  n = seal(&p->tx, d, sizeof d);
  assert_int_equal(open_dg(&p->rx, d, n), 0);
  assert_int_equal(open_dg(&p->rx, d, n), IPOP_EREPLAY);
  for (int i = 0; i < S; i++)
    ctl_auth_wipe(&tx[i]);
  free(tx);
}

/* ipop_now_ms() is wrapped (-Wl,--wrap) so that the LRU order of senders
 * is under the test's control; 0 means the real clock. */
uint64_t __real_ipop_now_ms(void);
uint64_t __wrap_ipop_now_ms(void);
static uint64_t fake_mono;
uint64_t __wrap_ipop_now_ms(void) { return fake_mono ? fake_mono : __real_ipop_now_ms(); }

static void test_lru_evicts_least_recent_sender(void **state)
{
  struct pair *p = *state;
  enum { S = CTL_AUTH_SENDERS + 2 };
  struct ctl_auth *tx = calloc(S, sizeof *tx);
  uint8_t first[S][256];
  size_t nfirst[S];
  fake_mono = 1000;
  for (int i = 0; i < CTL_AUTH_SENDERS; i++) {
    assert_int_equal(ctl_auth_init(&tx[i], key_a), 0);
    tx[i].clock_ms = sender_clock;
    fake_mono++;
    nfirst[i] = seal(&tx[i], first[i], sizeof first[i]);
    assert_int_equal(open_dg(&p->rx, first[i], nfirst[i]), 0);
  }
  /* sender 0 is the least recently seen: a newcomer takes its slot */
  assert_int_equal(ctl_auth_init(&tx[CTL_AUTH_SENDERS], key_a), 0);
  tx[CTL_AUTH_SENDERS].clock_ms = sender_clock;
  fake_mono++;
  uint8_t d[256];
  size_t n = seal(&tx[CTL_AUTH_SENDERS], d, sizeof d);
  assert_int_equal(open_dg(&p->rx, d, n), 0);
  for (int i = 1; i < CTL_AUTH_SENDERS; i++) /* everyone else is still tracked */
    assert_int_equal(open_dg(&p->rx, first[i], nfirst[i]), IPOP_EREPLAY);
  /* sender 1 becomes recent again; the next newcomer evicts sender 2 */
  fake_mono++;
  n = seal(&tx[1], d, sizeof d);
  assert_int_equal(open_dg(&p->rx, d, n), 0);
  assert_int_equal(ctl_auth_init(&tx[CTL_AUTH_SENDERS + 1], key_a), 0);
  tx[CTL_AUTH_SENDERS + 1].clock_ms = sender_clock;
  fake_mono++;
  n = seal(&tx[CTL_AUTH_SENDERS + 1], d, sizeof d);
  assert_int_equal(open_dg(&p->rx, d, n), 0);
  assert_int_equal(open_dg(&p->rx, first[1], nfirst[1]), IPOP_EREPLAY);
  for (int i = 3; i < CTL_AUTH_SENDERS; i++)
    assert_int_equal(open_dg(&p->rx, first[i], nfirst[i]), IPOP_EREPLAY);
  /* Documented limit: an evicted sender's old datagram is caught only by
   * the timestamp window.  Inside it, the replay is accepted. */
  assert_int_equal(open_dg(&p->rx, first[0], nfirst[0]), 0);
  fake_mono = 0;
  for (int i = 0; i < S; i++)
    ctl_auth_wipe(&tx[i]);
  free(tx);
}

static void test_nak(void **state)
{
  struct pair *p = *state;
  uint8_t d[512], nak[CTL_NAK_LEN];
  size_t n = 0;
  uint64_t ctr = 0, got = 0;
  enum ctl_nak_reason why = 0;
  ctl_auth_seal(&p->tx, payload, sizeof payload - 1, d, sizeof d, &n, &ctr);
  ctl_auth_seal(&p->tx, payload, sizeof payload - 1, d, sizeof d, &n, &ctr);
  assert_int_equal(ctr, 2);
  assert_int_equal(ctl_auth_nak(d, n, CTL_NAK_AUTH, nak), CTL_NAK_LEN);
  assert_memory_equal(nak, "IPN1", 4);
  assert_int_equal(ctl_auth_is_nak(&p->tx, nak, CTL_NAK_LEN, &got, &why), 1);
  assert_int_equal(got, 2);
  assert_int_equal(why, CTL_NAK_AUTH);
  assert_int_equal(ctl_auth_nak(d, n, CTL_NAK_REPLAY, nak), CTL_NAK_LEN);
  assert_int_equal(ctl_auth_is_nak(&p->tx, nak, CTL_NAK_LEN, &got, &why), 1);
  assert_int_equal(why, CTL_NAK_REPLAY);
  /* only for our own sender id */
  assert_int_equal(ctl_auth_is_nak(&p->rx, nak, CTL_NAK_LEN, &got, &why), 0);
  /* wrong length, wrong magic */
  assert_int_equal(ctl_auth_is_nak(&p->tx, nak, CTL_NAK_LEN - 1, &got, &why), 0);
  uint8_t longer[CTL_NAK_LEN + 1];
  memcpy(longer, nak, CTL_NAK_LEN);
  longer[CTL_NAK_LEN] = 0;
  assert_int_equal(ctl_auth_is_nak(&p->tx, longer, sizeof longer, &got, &why), 0);
  nak[3] = '2';
  assert_int_equal(ctl_auth_is_nak(&p->tx, nak, CTL_NAK_LEN, &got, &why), 0);
  /* a NAK is never mistaken for a datagram, nor a datagram for a NAK */
  assert_int_equal(ctl_auth_is_nak(&p->tx, d, n, &got, &why), 0);
  assert_int_equal(ctl_auth_nak(d, n, CTL_NAK_AUTH, nak), CTL_NAK_LEN);
  assert_int_equal(open_dg(&p->rx, nak, CTL_NAK_LEN), IPOP_EAUTH);
  /* no NAK for what cannot be identified: short or not one of ours */
  for (size_t len = 0; len < 24; len++)
    assert_int_equal(ctl_auth_nak(d, len, CTL_NAK_AUTH, nak), 0);
  assert_int_equal(ctl_auth_nak(d, 24, CTL_NAK_AUTH, nak), CTL_NAK_LEN);
  d[0] = 'X';
  assert_int_equal(ctl_auth_nak(d, n, CTL_NAK_AUTH, nak), 0);
  /* a NAK is smaller than any datagram it answers: no amplification */
  assert_true(CTL_NAK_LEN < CTL_AUTH_OVERHEAD);
  /* protocol 1 (magic IPC1): refused by open, NAKed with reason 3 */
  memcpy(d, "IPC1", 4);
  assert_int_equal(open_dg(&p->rx, d, n), IPOP_EAUTH);
  assert_int_equal(ctl_auth_nak(d, n, CTL_NAK_AUTH, nak), CTL_NAK_LEN);
  assert_int_equal(nak[4], CTL_NAK_VERSION);
  ipop_put_be64(nak + 8, p->tx.sender_id);
  assert_int_equal(ctl_auth_is_nak(&p->tx, nak, CTL_NAK_LEN, &got, &why), 1);
  assert_int_equal(why, CTL_NAK_VERSION);
}

/* No byte sequence of the payload longer than 3 survives sealing. */
static void test_payload_encrypted(void **state)
{
  struct pair *p = *state;
  static const char secret[] = "{\"turn\":[{\"password\":\"S3CR3T-turn-password\"}]}";
  uint8_t d[512], again[512];
  size_t n = 0, m = 0;
  assert_int_equal(ctl_auth_seal(&p->tx, secret, sizeof secret - 1, d, sizeof d, &n, NULL), 0);
  for (size_t i = 0; i + 4 <= sizeof secret - 1; i++)
    for (size_t j = CTL_AUTH_HDR_LEN; j + 4 <= n; j++)
      if (memcmp(d + j, secret + i, 4) == 0)
        fail_msg("payload bytes %zu..%zu appear in clear at %zu", i, i + 3, j);
  /* the same payload sealed twice differs (new counter, new nonce) */
  assert_int_equal(ctl_auth_seal(&p->tx, secret, sizeof secret - 1, again, sizeof again, &m,
                                 NULL), 0);
  assert_int_equal(m, n);
  assert_memory_not_equal(d + CTL_AUTH_HDR_LEN, again + CTL_AUTH_HDR_LEN, n - CTL_AUTH_HDR_LEN);
}

/* Known answer: key file bytes 1..32, sender id 0x0102030405060708, counter
 * 1, time 1700000000000, payload {"a":1}; computed with Python's
 * cryptography (HKDF-SHA256, AESGCM) as tests/tools/ctl_probe.py does. */
static void test_known_answer(void **state)
{
  struct pair *p = *state;
  static const uint8_t expect[] = {
    0x49, 0x50, 0x43, 0x32, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
    0x07, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x8b,
    0xcf, 0xe5, 0x68, 0x00, 0x10, 0xb9, 0x55, 0x1a, 0xd1, 0xa8, 0xa4, 0xda, 0x3c, 0x78,
    0x3b, 0x5f, 0xa9, 0x7b, 0xc9, 0x52, 0x1f, 0x27, 0x82, 0xce, 0x16, 0x52, 0xad,
  };
  uint8_t d[128];
  size_t n = 0;
  p->tx.sender_id = 0x0102030405060708ull;
  sender_now = receiver_now = 1700000000000ull;
  assert_int_equal(ctl_auth_seal(&p->tx, "{\"a\":1}", 7, d, sizeof d, &n, NULL), 0);
  assert_int_equal(n, sizeof expect);
  assert_memory_equal(d, expect, sizeof expect);
  assert_int_equal(open_dg(&p->rx, expect, sizeof expect), 0);
}

/* The nonce carries 32 bits of the counter: a sender takes a new id before
 * they would repeat. */
static void test_sender_id_rotation(void **state)
{
  struct pair *p = *state;
  uint8_t d[512];
  uint64_t id = p->tx.sender_id, ctr = 0;
  size_t n = 0;
  p->tx.counter = UINT32_MAX - 1;
  assert_int_equal(ctl_auth_seal(&p->tx, payload, sizeof payload - 1, d, sizeof d, &n, &ctr), 0);
  assert_int_equal(ctr, UINT32_MAX);
  assert_int_equal(p->tx.sender_id, id);
  assert_int_equal(open_dg(&p->rx, d, n), 0);
  assert_int_equal(ctl_auth_seal(&p->tx, payload, sizeof payload - 1, d, sizeof d, &n, &ctr), 0);
  assert_int_equal(ctr, 1);
  assert_true(p->tx.sender_id != id);
  assert_int_equal(open_dg(&p->rx, d, n), 0);
}

static void test_wipe(void **state)
{
  struct pair *p = *state;
  ctl_auth_wipe(&p->tx);
  assert_null(p->tx.enc);
  assert_null(p->tx.dec);
  ctl_auth_wipe(&p->tx); /* twice is harmless */
  /* distinct sender ids per instance */
  assert_true(p->tx.sender_id != p->rx.sender_id);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(test_seal_open_good),   T(test_seal_limits),         T(test_wrong_key),
    T(test_every_flipped_bit), T(test_every_truncation),   T(test_replay),
    T(test_out_of_order_window), T(test_out_of_order_small), T(test_timestamp_window),
    T(test_many_senders),     T(test_nak),                 T(test_wipe),
    T(test_lru_evicts_least_recent_sender), T(test_payload_encrypted),
    T(test_known_answer),     T(test_sender_id_rotation),
  };
  return cmocka_run_group_tests_name("ctl_auth", tests, NULL, NULL);
}
