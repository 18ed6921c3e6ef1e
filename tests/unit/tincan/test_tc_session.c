/* The session (tincan/session.h) over a real in-memory DTLS handshake:
 * both ends get epoch-0 keys from the exporter and what one seals the
 * other opens; the DTLS session is gone once the peer's first record
 * arrived (nothing left to recompute epoch 0 from); keys then rotate
 * through the session's own timer; a wrong pin never yields keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "session.h"

enum { QMAX = 32, DG = 2048 };

struct side {
  struct tc_session s;
  struct tc_identity id;
  struct side *peer;
  uint8_t q[QMAX][DG];            /* DTLS datagrams towards this side */
  size_t ql[QMAX];
  int qn, keyed, failed;
};

static void s_send(void *arg, const uint8_t *p, size_t n)
{
  struct side *s = arg, *to = s->peer;
  assert_true(to->qn < QMAX && n <= DG);
  memcpy(to->q[to->qn], p, n);
  to->ql[to->qn++] = n;
}
static void s_keyed(void *arg) { ((struct side *)arg)->keyed++; }
static void s_failed(void *arg, const char *reason)
{
  (void)reason;
  ((struct side *)arg)->failed++;
}
static const struct tc_session_ops ops = { s_send, s_keyed, s_failed };

static void pump(struct side *a, struct side *b)
{
  static uint8_t tmp[QMAX][DG];
  static size_t tl[QMAX];
  for (int round = 0; round < 50 && (a->qn || b->qn); round++) {
    struct side *sides[2] = { a, b };
    for (int k = 0; k < 2; k++) {
      struct side *s = sides[k];
      int n = s->qn;
      memcpy(tmp, s->q, sizeof tmp);
      memcpy(tl, s->ql, sizeof tl);
      s->qn = 0;
      for (int i = 0; i < n; i++)
        tc_session_dtls_input(&s->s, tmp[i], tl[i]);
    }
  }
}

static struct side *A, *B;
static SSL_CTX *ca, *cb;

static int setup(void **state)
{
  (void)state;
  A = calloc(1, sizeof *A);
  B = calloc(1, sizeof *B);
  A->peer = B;
  B->peer = A;
  assert_int_equal(tc_identity_generate(&A->id), 0);
  assert_int_equal(tc_identity_generate(&B->id), 0);
  ca = tc_dtls_ctx_new(&A->id);
  cb = tc_dtls_ctx_new(&B->id);
  assert_non_null(ca);
  assert_non_null(cb);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  tc_session_free(&A->s);
  tc_session_free(&B->s);
  SSL_CTX_free(ca);
  SSL_CTX_free(cb);
  tc_identity_free(&A->id);
  tc_identity_free(&B->id);
  free(A);
  free(B);
  return 0;
}

/* Seal under a's keys, open at b; returns the open result. */
static int one_record(struct side *a, struct side *b, uint64_t now)
{
  uint8_t rec[128], out[128];
  int n = tc_session_seal(&a->s, rec, sizeof rec, (const uint8_t *)"\x01frame", 6, NULL, 0);
  assert_true(n > 0);
  return tc_session_open(&b->s, out, sizeof out, rec, (size_t)n, now);
}

static void keys_from_the_handshake(void **state)
{
  (void)state;
  assert_int_equal(tc_session_init(&A->s, ca, &A->id, true, B->id.fpr, 2000, &ops, A), 0);
  assert_int_equal(tc_session_init(&B->s, cb, &B->id, false, A->id.fpr, 2000, &ops, B), 0);
  tc_session_start(&A->s);
  tc_session_start(&B->s);
  pump(A, B);
  assert_int_equal(A->keyed + B->keyed, 2);
  assert_true(tc_session_keyed(&A->s) && tc_session_keyed(&B->s));
  assert_non_null(A->s.dtls.ssl);
  /* epoch 0 keys agree both ways; the first record ends DTLS there */
  assert_int_equal(one_record(A, B, 10), 6);
  assert_null(B->s.dtls.ssl);
  assert_non_null(A->s.dtls.ssl);
  assert_int_equal(one_record(B, A, 10), 6);
  assert_null(A->s.dtls.ssl);
  /* a late DTLS datagram is now ignored, not fatal */
  uint8_t alert[13] = { 21, 0xfe, 0xfd };
  tc_session_dtls_input(&A->s, alert, sizeof alert);
  assert_true(tc_session_keyed(&A->s));
  /* the session's timer rotates the keys; both follow */
  uint8_t m[TC_REKEY_MSG_MAX], out[TC_REKEY_MSG_MAX], rec[256], plain[256];
  uint64_t t0 = ipop_now_ms();  /* the sessions' clock (keys made just now) */
  assert_int_equal(tc_session_tick(&A->s, t0 + 100, m, sizeof m), 0);
  int n = tc_session_tick(&A->s, t0 + 2500, m, sizeof m); /* past the interval */
  assert_true(n > 0);
  for (int step = 0; step < 3 && n > 0; step++) {
    struct side *from = step % 2 ? B : A, *to = step % 2 ? A : B;
    int r = tc_session_seal(&from->s, rec, sizeof rec, m, (size_t)n, NULL, 0);
    r = tc_session_open(&to->s, plain, sizeof plain, rec, (size_t)r, t0 + 2500);
    assert_true(r > 0);
    n = tc_session_rekey_input(&to->s, plain, (size_t)r, t0 + 2500, out, sizeof out);
    memcpy(m, out, sizeof m);
  }
  assert_int_equal(one_record(A, B, t0 + 2600), 6);
  assert_int_equal(one_record(B, A, t0 + 2600), 6);
  assert_int_equal(tc_session_rekeys(&A->s), 1);
  assert_int_equal(tc_session_rekeys(&B->s), 1);
  assert_int_equal(A->s.rec.tx.epoch, 1);
  assert_int_equal(B->s.rec.tx.epoch, 1);
  assert_int_equal(A->failed + B->failed, 0);
}

static void wrong_pin_no_keys(void **state)
{
  (void)state;
  assert_int_equal(tc_session_init(&A->s, ca, &A->id, true, A->id.fpr, 2000, &ops, A), 0);
  assert_int_equal(tc_session_init(&B->s, cb, &B->id, false, A->id.fpr, 2000, &ops, B), 0);
  tc_session_start(&A->s);
  pump(A, B);
  assert_int_equal(A->keyed + B->keyed, 0);
  assert_true(A->failed > 0);
  assert_int_equal(A->s.state, TC_SESSION_FAILED);
  uint8_t rec[64];
  assert_int_equal(tc_session_seal(&A->s, rec, sizeof rec, rec, 1, NULL, 0), IPOP_ESTATE);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(keys_from_the_handshake, setup, teardown),
    cmocka_unit_test_setup_teardown(wrong_pin_no_keys, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
