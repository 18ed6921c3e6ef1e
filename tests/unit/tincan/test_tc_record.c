/* The dataplane record (tincan/record.h): seal/open round trip, the replay
 * window (duplicates, too old, far ahead, ring wrap), tampered, truncated,
 * oversized and wrong-key records refused and counted, and keys derived
 * from a real DTLS handshake agree on both ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dtls.h"
#include "error.h"
#include "record.h"

static const uint8_t k1[16] = "0123456789abcdef", k2[16] = "fedcba9876543210";
static const uint8_t iv1[12] = "iv-one-xxxxx", iv2[12] = "iv-two-yyyyy";

/* a -> b and b -> a with mirrored keys. */
static void pair(struct tc_rec *a, struct tc_rec *b)
{
  assert_int_equal(tc_rec_init(a, k1, iv1, k2, iv2), 0);
  assert_int_equal(tc_rec_init(b, k2, iv2, k1, iv1), 0);
}

static void round_trip(void **state)
{
  (void)state;
  struct tc_rec a, b;
  pair(&a, &b);
  uint8_t msg[1500], rec[1600], out[1600];
  for (size_t i = 0; i < sizeof msg; i++)
    msg[i] = (uint8_t)(i * 3);
  int n = tc_rec_seal(&a, rec, sizeof rec, msg, 10, msg + 10, sizeof msg - 10);
  assert_int_equal(n, sizeof msg + TC_REC_OVERHEAD);
  assert_int_equal(rec[0], TC_REC_TYPE);
  assert_memory_not_equal(rec + TC_REC_HDR, msg, 64); /* encrypted */
  assert_int_equal(tc_rec_open(&b, out, sizeof out, rec, (size_t)n), sizeof msg);
  assert_memory_equal(out, msg, sizeof msg);
  /* other direction, and an empty record (a keepalive could be one) */
  n = tc_rec_seal(&b, rec, sizeof rec, NULL, 0, NULL, 0);
  assert_int_equal(n, TC_REC_OVERHEAD);
  assert_int_equal(tc_rec_open(&a, out, sizeof out, rec, (size_t)n), 0);
  /* a record is not accepted by its own sender (direction keys differ) */
  n = tc_rec_seal(&a, rec, sizeof rec, msg, 100, NULL, 0);
  assert_int_equal(tc_rec_open(&a, out, sizeof out, rec, (size_t)n), IPOP_EAUTH);
  /* output too small to seal */
  assert_int_equal(tc_rec_seal(&a, rec, 50, msg, 100, NULL, 0), IPOP_ETOOBIG);
  tc_rec_free(&a);
  tc_rec_free(&b);
}

static void tampered_truncated_oversized(void **state)
{
  (void)state;
  struct tc_rec a, b;
  pair(&a, &b);
  uint8_t msg[200] = { 1, 2, 3 }, rec[400], bad[400], out[400];
  int n = tc_rec_seal(&a, rec, sizeof rec, msg, sizeof msg, NULL, 0);
  assert_true(n > 0);
  for (int pos = 0; pos < n; pos += 7) { /* every region: type, counter, body, tag */
    memcpy(bad, rec, (size_t)n);
    bad[pos] ^= 0x40;
    int r = tc_rec_open(&b, out, sizeof out, bad, (size_t)n);
    assert_true(r == IPOP_EAUTH || r == IPOP_EPARSE || r == IPOP_EREPLAY);
  }
  assert_true(b.auth_failed > 0);
  assert_int_equal(tc_rec_open(&b, out, sizeof out, rec, TC_REC_OVERHEAD - 1), IPOP_EPARSE);
  assert_int_equal(tc_rec_open(&b, out, sizeof out, rec, (size_t)n - 1), IPOP_EAUTH);
  assert_int_equal(tc_rec_open(&b, out, 10, rec, (size_t)n), IPOP_EPARSE); /* no room */
  static uint8_t huge[TC_REC_MAX + 100];
  memcpy(huge, rec, (size_t)n);
  assert_int_equal(tc_rec_open(&b, huge, sizeof huge, huge, sizeof huge), IPOP_EPARSE);
  /* the genuine record still opens: failures did not move the window */
  assert_int_equal(tc_rec_open(&b, out, sizeof out, rec, (size_t)n), sizeof msg);
  assert_memory_equal(out, msg, sizeof msg);
  tc_rec_free(&a);
  tc_rec_free(&b);
}

static void wrong_key(void **state)
{
  (void)state;
  struct tc_rec a, c;
  uint8_t rec[100], out[100];
  assert_int_equal(tc_rec_init(&a, k1, iv1, k2, iv2), 0);
  assert_int_equal(tc_rec_init(&c, k2, iv2, k2, iv1), 0); /* wrong rx key */
  int n = tc_rec_seal(&a, rec, sizeof rec, (const uint8_t *)"hello", 5, NULL, 0);
  assert_int_equal(tc_rec_open(&c, out, sizeof out, rec, (size_t)n), IPOP_EAUTH);
  assert_int_equal(c.auth_failed, 1);
  tc_rec_free(&c);
  assert_int_equal(tc_rec_init(&c, k2, iv2, k1, iv2), 0); /* wrong rx iv */
  assert_int_equal(tc_rec_open(&c, out, sizeof out, rec, (size_t)n), IPOP_EAUTH);
  tc_rec_free(&c);
  tc_rec_free(&a);
}

static void replay_duplicates_and_reorder(void **state)
{
  (void)state;
  struct tc_rec a, b;
  pair(&a, &b);
  uint8_t rec[5][64], out[64];
  int n[5];
  for (int i = 0; i < 5; i++)
    n[i] = tc_rec_seal(&a, rec[i], sizeof rec[i], (const uint8_t *)"x", 1, NULL, 0);
  /* out of order within the window is fine, each exactly once */
  int order[5] = { 2, 0, 4, 1, 3 };
  for (int k = 0; k < 5; k++)
    assert_int_equal(tc_rec_open(&b, out, sizeof out, rec[order[k]], (size_t)n[order[k]]), 1);
  for (int i = 0; i < 5; i++)
    assert_int_equal(tc_rec_open(&b, out, sizeof out, rec[i], (size_t)n[i]), IPOP_EREPLAY);
  assert_int_equal(b.replayed, 5);
  tc_rec_free(&a);
  tc_rec_free(&b);
}

static void window_old_ahead_wrap(void **state)
{
  (void)state;
  struct tc_rec_window w;
  memset(&w, 0, sizeof w);
  assert_true(tc_rec_window_check(&w, 0));
  tc_rec_window_update(&w, 0);
  assert_false(tc_rec_window_check(&w, 0));
  /* far ahead: accepted, and everything older than the window is gone */
  uint64_t far = 1000000;
  assert_true(tc_rec_window_check(&w, far));
  tc_rec_window_update(&w, far);
  assert_false(tc_rec_window_check(&w, far));
  assert_false(tc_rec_window_check(&w, 5));                       /* too old */
  assert_false(tc_rec_window_check(&w, far - TC_REC_WINDOW));     /* too old */
  assert_true(tc_rec_window_check(&w, far - (TC_REC_WINDOW - 64) + 1)); /* oldest kept */
  assert_true(tc_rec_window_check(&w, far - 1));
  /* slide through the ring many times, every counter once, some late */
  memset(&w, 0, sizeof w);
  for (uint64_t c = 0; c < 20 * TC_REC_WINDOW; c++) {
    if (c % 3 == 1)
      continue; /* deliver late, below */
    assert_true(tc_rec_window_check(&w, c));
    tc_rec_window_update(&w, c);
    assert_false(tc_rec_window_check(&w, c));
    if (c >= 100 && (c - 100) % 3 == 1) {
      assert_true(tc_rec_window_check(&w, c - 100));
      tc_rec_window_update(&w, c - 100);
      assert_false(tc_rec_window_check(&w, c - 100));
    }
  }
  /* beyond the counter limit: never */
  assert_false(tc_rec_window_check(&w, TC_REC_COUNTER_LIMIT));
  assert_false(tc_rec_window_check(&w, UINT64_MAX));
}

/* Real DTLS handshake in memory (as test_tc_dtls does), then exporter keys:
 * what one side seals the other opens. */
struct side {
  struct tc_dtls d;
  struct side *peer;
  uint8_t q[32][2048];
  size_t qlen[32];
  int qn, up;
};
static void s_send(void *arg, const uint8_t *p, size_t n)
{
  struct side *s = arg, *to = s->peer;
  assert_true(to->qn < 32 && n <= 2048);
  memcpy(to->q[to->qn], p, n);
  to->qlen[to->qn++] = n;
}
static void s_recv(void *arg, const uint8_t *p, size_t n) { (void)arg; (void)p; (void)n; }
static void s_up(void *arg) { ((struct side *)arg)->up++; }
static void s_failed(void *arg, const char *reason) { (void)arg; (void)reason; }
static const struct tc_dtls_ops ops = { s_send, s_recv, s_up, s_failed };

static void pump(struct side *a, struct side *b)
{
  static uint8_t tmp[32][2048];
  static size_t tl[32];
  for (int round = 0; round < 50 && (a->qn || b->qn); round++) {
    struct side *sides[2] = { a, b };
    for (int k = 0; k < 2; k++) {
      struct side *s = sides[k];
      int n = s->qn;
      for (int i = 0; i < n; i++) {
        memcpy(tmp[i], s->q[i], s->qlen[i]);
        tl[i] = s->qlen[i];
      }
      s->qn = 0;
      for (int i = 0; i < n; i++)
        tc_dtls_input(&s->d, tmp[i], tl[i]);
    }
  }
}

static void exporter_keys(void **state)
{
  (void)state;
  struct tc_identity ida, idb;
  assert_int_equal(tc_identity_generate(&ida), 0);
  assert_int_equal(tc_identity_generate(&idb), 0);
  SSL_CTX *ca = tc_dtls_ctx_new(&ida), *cb = tc_dtls_ctx_new(&idb);
  assert_non_null(ca);
  assert_non_null(cb);
  struct side *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
  a->peer = b;
  b->peer = a;
  assert_int_equal(tc_dtls_init(&a->d, ca, true, idb.fpr, &ops, a), 0);
  assert_int_equal(tc_dtls_init(&b->d, cb, false, ida.fpr, &ops, b), 0);
  tc_dtls_start(&a->d);
  tc_dtls_start(&b->d);
  pump(a, b);
  assert_int_equal(a->up + b->up, 2);
  struct tc_rec ra, rb;
  assert_int_equal(tc_rec_init_from_ssl(&ra, a->d.ssl, true), 0);
  assert_int_equal(tc_rec_init_from_ssl(&rb, b->d.ssl, false), 0);
  uint8_t rec[128], out[128];
  int n = tc_rec_seal(&ra, rec, sizeof rec, (const uint8_t *)"frame", 5, NULL, 0);
  assert_int_equal(tc_rec_open(&rb, out, sizeof out, rec, (size_t)n), 5);
  assert_memory_equal(out, "frame", 5);
  n = tc_rec_seal(&rb, rec, sizeof rec, (const uint8_t *)"back", 4, NULL, 0);
  assert_int_equal(tc_rec_open(&ra, out, sizeof out, rec, (size_t)n), 4);
  /* both ends using the same role would not interoperate */
  struct tc_rec rc;
  assert_int_equal(tc_rec_init_from_ssl(&rc, b->d.ssl, true), 0);
  n = tc_rec_seal(&ra, rec, sizeof rec, (const uint8_t *)"frame", 5, NULL, 0);
  assert_int_equal(tc_rec_open(&rc, out, sizeof out, rec, (size_t)n), IPOP_EAUTH);
  tc_rec_free(&rc);
  assert_int_equal(tc_rec_init_from_ssl(&rc, NULL, true), IPOP_ECRYPTO);
  tc_rec_free(&rc);
  tc_rec_free(&ra);
  tc_rec_free(&rb);
  tc_dtls_free(&a->d);
  tc_dtls_free(&b->d);
  free(a);
  free(b);
  SSL_CTX_free(ca);
  SSL_CTX_free(cb);
  tc_identity_free(&ida);
  tc_identity_free(&idb);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(round_trip),
    cmocka_unit_test(tampered_truncated_oversized),
    cmocka_unit_test(wrong_key),
    cmocka_unit_test(replay_duplicates_and_reorder),
    cmocka_unit_test(window_old_ahead_wrap),
    cmocka_unit_test(exporter_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
