/* The dataplane record (tincan/record.h): seal/open round trip, the replay
 * window (duplicates, too old, far ahead, ring wrap), tampered, truncated,
 * oversized and wrong-key records refused and counted, and key epochs
 * (keys per epoch byte, separate windows, counter limit).  Keys from a real
 * DTLS handshake and their rotation: test_tc_session.c, test_tc_rekey.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "record.h"

static uint8_t ep; /* epoch of the last opened record */
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
  assert_int_equal(tc_rec_open(&b, out, sizeof out, rec, (size_t)n, &ep), sizeof msg);
  assert_memory_equal(out, msg, sizeof msg);
  /* other direction, and an empty record (a keepalive could be one) */
  n = tc_rec_seal(&b, rec, sizeof rec, NULL, 0, NULL, 0);
  assert_int_equal(n, TC_REC_OVERHEAD);
  assert_int_equal(tc_rec_open(&a, out, sizeof out, rec, (size_t)n, &ep), 0);
  /* a record is not accepted by its own sender (direction keys differ) */
  n = tc_rec_seal(&a, rec, sizeof rec, msg, 100, NULL, 0);
  assert_int_equal(tc_rec_open(&a, out, sizeof out, rec, (size_t)n, &ep), IPOP_EAUTH);
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
    int r = tc_rec_open(&b, out, sizeof out, bad, (size_t)n, &ep);
    assert_true(r == IPOP_EAUTH || r == IPOP_EPARSE || r == IPOP_EREPLAY);
  }
  assert_true(b.auth_failed > 0);
  assert_int_equal(tc_rec_open(&b, out, sizeof out, rec, TC_REC_OVERHEAD - 1, &ep), IPOP_EPARSE);
  assert_int_equal(tc_rec_open(&b, out, sizeof out, rec, (size_t)n - 1, &ep), IPOP_EAUTH);
  assert_int_equal(tc_rec_open(&b, out, 10, rec, (size_t)n, &ep), IPOP_EPARSE); /* no room */
  static uint8_t huge[TC_REC_MAX + 100];
  memcpy(huge, rec, (size_t)n);
  assert_int_equal(tc_rec_open(&b, huge, sizeof huge, huge, sizeof huge, &ep), IPOP_EPARSE);
  /* the genuine record still opens: failures did not move the window */
  assert_int_equal(tc_rec_open(&b, out, sizeof out, rec, (size_t)n, &ep), sizeof msg);
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
  assert_int_equal(tc_rec_open(&c, out, sizeof out, rec, (size_t)n, &ep), IPOP_EAUTH);
  assert_int_equal(c.auth_failed, 1);
  tc_rec_free(&c);
  assert_int_equal(tc_rec_init(&c, k2, iv2, k1, iv2), 0); /* wrong rx iv */
  assert_int_equal(tc_rec_open(&c, out, sizeof out, rec, (size_t)n, &ep), IPOP_EAUTH);
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
    assert_int_equal(tc_rec_open(&b, out, sizeof out, rec[order[k]], (size_t)n[order[k]], &ep), 1);
  for (int i = 0; i < 5; i++)
    assert_int_equal(tc_rec_open(&b, out, sizeof out, rec[i], (size_t)n[i], &ep), IPOP_EREPLAY);
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

/* Keys of two epochs side by side: each record opens with the keys of its
 * epoch byte, a record of an epoch we have no keys for is refused (and
 * counted), dropped keys are gone, counters restart per epoch, and no
 * epoch seals beyond its counter limit. */
static void epochs(void **state)
{
  (void)state;
  struct tc_rec a, b;
  pair(&a, &b);
  uint8_t rec0[64], rec0b[64], rec1[64], out[64];
  int n0 = tc_rec_seal(&a, rec0, sizeof rec0, (const uint8_t *)"zero", 4, NULL, 0);
  int n0b = tc_rec_seal(&a, rec0b, sizeof rec0b, (const uint8_t *)"zero", 4, NULL, 0);
  assert_int_equal(rec0[1], 0);
  /* epoch 1: a sends with new keys, b receives both */
  assert_int_equal(tc_rec_set_tx(&a, 1, k2, iv2), 0);
  assert_int_equal(a.tx_counter, 0);
  int n1 = tc_rec_seal(&a, rec1, sizeof rec1, (const uint8_t *)"one", 3, NULL, 0);
  assert_int_equal(rec1[1], 1);
  assert_int_equal(tc_rec_open(&b, out, sizeof out, rec1, (size_t)n1, &ep), IPOP_ENOENT);
  assert_int_equal(b.no_keys, 1);
  assert_int_equal(tc_rec_add_rx(&b, 1, k2, iv2), 0);
  assert_true(tc_rec_has_rx(&b, 0) && tc_rec_has_rx(&b, 1));
  assert_int_equal(tc_rec_add_rx(&b, 2, k1, iv1), IPOP_EBUSY); /* two at most */
  assert_int_equal(tc_rec_open(&b, out, sizeof out, rec1, (size_t)n1, &ep), 3);
  assert_int_equal(ep, 1);
  assert_int_equal(tc_rec_open(&b, out, sizeof out, rec0, (size_t)n0, &ep), 4);
  assert_int_equal(ep, 0);
  /* the same counter (0) in both epochs: separate windows */
  assert_int_equal(tc_rec_open(&b, out, sizeof out, rec1, (size_t)n1, &ep), IPOP_EREPLAY);
  /* the epoch byte is authenticated: moving a record to another epoch fails */
  rec0b[1] = 1;
  assert_int_equal(tc_rec_open(&b, out, sizeof out, rec0b, (size_t)n0b, &ep), IPOP_EAUTH);
  tc_rec_drop_rx(&b, 0);
  assert_false(tc_rec_has_rx(&b, 0));
  rec0b[1] = 0;
  assert_int_equal(tc_rec_open(&b, out, sizeof out, rec0b, (size_t)n0b, &ep), IPOP_ENOENT);
  /* counter limit: the epoch is used up, nothing more is sealed */
  a.tx_counter = TC_REC_COUNTER_LIMIT;
  assert_int_equal(tc_rec_seal(&a, rec1, sizeof rec1, (const uint8_t *)"x", 1, NULL, 0),
                   IPOP_ESTATE);
  a.tx_counter = TC_REC_COUNTER_LIMIT - 1;
  assert_true(tc_rec_seal(&a, rec1, sizeof rec1, (const uint8_t *)"x", 1, NULL, 0) > 0);
  /* the 56-bit counter field carries it */
  assert_int_equal(rec1[2], 0);
  assert_int_equal(rec1[4], 0);
  assert_int_equal(rec1[5], 0xff);
  assert_int_equal(rec1[8], 0xff);
  tc_rec_free(&a);
  tc_rec_free(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(round_trip),
    cmocka_unit_test(tampered_truncated_oversized),
    cmocka_unit_test(wrong_key),
    cmocka_unit_test(replay_duplicates_and_reorder),
    cmocka_unit_test(window_old_ahead_wrap),
    cmocka_unit_test(epochs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
