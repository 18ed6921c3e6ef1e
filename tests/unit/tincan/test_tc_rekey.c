/* Key rotation (tincan/rekey.h) between two sessions whose records travel
 * through in-memory queues, with the clock in the test's hands: epochs
 * advance in step over 20 rotations with no record lost, simultaneous
 * starts and lost INIT/RESP/DONE messages converge the same way every
 * time, forged, malformed, stale and low-order messages are refused and
 * counted, the record-count trigger and the overdue limit work, and the
 * old epoch's keys, chaining secret and ephemeral key are wiped (no
 * OpenSSL allocation is freed while still holding them, and the sessions
 * keep no copy). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "error.h"
#include "identity.h"
#include "rekey.h"
#include "session.h"

/* ---- OpenSSL's allocations, watched for secrets at free time ------------- */

enum { NEEDLES = 8 };
static struct { uint8_t b[32]; size_t n; } needle[NEEDLES];
static int n_needles;
static int leaked;            /* freed blocks that still held a needle */

struct mhdr { size_t n, pad; };

static void scan(const void *p, size_t n)
{
  for (int i = 0; i < n_needles; i++)
    if (needle[i].n && memmem(p, n, needle[i].b, needle[i].n))
      leaked++;
}

static void *m_malloc(size_t n, const char *file, int line)
{
  (void)file; (void)line;
  struct mhdr *h = malloc(sizeof *h + n);
  if (!h)
    return NULL;
  h->n = n;
  return h + 1;
}

static void m_free(void *p, const char *file, int line)
{
  (void)file; (void)line;
  if (!p)
    return;
  struct mhdr *h = (struct mhdr *)p - 1;
  scan(p, h->n);
  free(h);
}

static void *m_realloc(void *p, size_t n, const char *file, int line)
{
  if (!p)
    return m_malloc(n, file, line);
  struct mhdr *h = (struct mhdr *)p - 1;
  void *q = m_malloc(n, file, line);
  if (q) {
    memcpy(q, p, h->n < n ? h->n : n);
    m_free(p, file, line);
  }
  return q;
}

/* ---- two sessions and the wire between them ------------------------------ */

enum { QMAX = 64, REC = 512 };

struct side {
  struct tc_session s;
  struct tc_identity id;
  struct side *peer;
  uint8_t q[QMAX][REC];          /* records in flight towards this side */
  size_t ql[QMAX];
  int qn;
  int failed;
  char reason[128];
  uint64_t data_in, open_errors;
};

static uint64_t now;
static const uint64_t interval = 2000;

static void s_failed(void *arg, const char *reason)
{
  struct side *s = arg;
  s->failed++;
  snprintf(s->reason, sizeof s->reason, "%s", reason);
}

static const struct tc_session_ops ops = { NULL, NULL, s_failed };

/* Seal m as one record from `from` towards its peer. */
static void send_rec(struct side *from, const uint8_t *m, size_t n)
{
  struct side *to = from->peer;
  assert_true(to->qn < QMAX);
  int r = tc_session_seal(&from->s, to->q[to->qn], REC, m, n, NULL, 0);
  assert_true(r > 0);
  to->ql[to->qn++] = (size_t)r;
}

static void send_data(struct side *from)
{
  const uint8_t m[] = { 1, 'd', 'a', 't', 'a' };
  send_rec(from, m, sizeof m);
}

/* Open every record queued for s (as the dataplane does): rekey messages
 * go to the session and answers go back. */
static void deliver(struct side *s)
{
  int n = s->qn;
  static uint8_t q[QMAX][REC];
  size_t ql[QMAX];
  memcpy(q, s->q, sizeof q);
  memcpy(ql, s->ql, sizeof ql);
  s->qn = 0;
  for (int i = 0; i < n; i++) {
    uint8_t out[REC], reply[TC_REKEY_MSG_MAX];
    int r = tc_session_open(&s->s, out, sizeof out, q[i], ql[i], now);
    if (r < 0) {
      s->open_errors++;
      continue;
    }
    if (r > 0 && out[0] >= TC_REKEY_INIT && out[0] <= TC_REKEY_DONE) {
      int a = tc_session_rekey_input(&s->s, out, (size_t)r, now, reply, sizeof reply);
      if (a > 0)
        send_rec(s, reply, (size_t)a);
    } else {
      s->data_in++;
    }
  }
}

static void pump(struct side *a, struct side *b)
{
  for (int i = 0; i < 20 && (a->qn || b->qn); i++) {
    deliver(b);
    deliver(a);
  }
  assert_int_equal(a->qn + b->qn, 0);
}

static int tick(struct side *s)
{
  uint8_t m[TC_REKEY_MSG_MAX];
  int n = tc_session_tick(&s->s, now, m, sizeof m);
  if (n > 0)
    send_rec(s, m, (size_t)n);
  return n;
}

static void side_start(struct side *s, bool client, const uint8_t chain0[32])
{
  memset(&s->s, 0, sizeof s->s);
  s->s.state = TC_SESSION_KEYED;
  s->s.ops = &ops;
  s->s.arg = s;
  s->s.id = &s->id;
  EVP_PKEY *peer = X509_get0_pubkey(s->peer->id.cert);
  assert_int_equal(tc_rekey_start(&s->s.rekey, &s->s.rec, client, chain0, s->id.key, peer,
                                  s->id.fpr, s->peer->id.fpr, interval, now),
                   0);
}

static struct side *A, *B;

static int setup(void **state)
{
  (void)state;
  A = calloc(1, sizeof *A);
  B = calloc(1, sizeof *B);
  A->peer = B;
  B->peer = A;
  assert_int_equal(tc_identity_generate(&A->id), 0);
  assert_int_equal(tc_identity_generate(&B->id), 0);
  uint8_t chain0[32];
  RAND_bytes(chain0, sizeof chain0);
  now = 1000;
  side_start(A, true, chain0);  /* A: DTLS client */
  side_start(B, false, chain0);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  tc_session_free(&A->s);
  tc_session_free(&B->s);
  tc_rekey_free(&A->s.rekey); /* keyed by hand: free what tc_session_free skips */
  tc_rekey_free(&B->s.rekey);
  tc_rec_free(&A->s.rec);
  tc_rec_free(&B->s.rec);
  tc_identity_free(&A->id);
  tc_identity_free(&B->id);
  free(A);
  free(B);
  return 0;
}

/* Both ends on epoch (once a record went each way: the initiator leaves
 * SWITCHED on the responder's first record of the new epoch), and records
 * pass both ways under its keys. */
static void in_step(uint64_t epoch)
{
  uint64_t a0 = A->data_in, b0 = B->data_in;
  send_data(B);
  send_data(A);
  pump(A, B);
  assert_int_equal(A->data_in, a0 + 1);
  assert_int_equal(B->data_in, b0 + 1);
  assert_int_equal(A->s.rekey.epoch, epoch);
  assert_int_equal(B->s.rekey.epoch, epoch);
  assert_int_equal(A->s.rekey.state, TC_REKEY_IDLE);
  assert_int_equal(B->s.rekey.state, TC_REKEY_IDLE);
  assert_int_equal(A->s.rec.tx.epoch, (uint8_t)epoch);
  assert_int_equal(B->s.rec.tx.epoch, (uint8_t)epoch);
}

/* 20 rotations at the interval; data flows both ways all along, including
 * records sealed under the old epoch and delivered after the switch. */
static void rotate_twenty(void **state)
{
  (void)state;
  for (uint64_t e = 1; e <= 20; e++) {
    now += interval;
    send_data(A); /* in flight under the old epoch while keys change */
    send_data(B);
    uint8_t late[REC];
    size_t late_n = 0;
    /* keep one of A's old-epoch records back, deliver it after the switch */
    late_n = B->ql[0];
    memcpy(late, B->q[0], late_n);
    B->qn = 0;
    uint64_t a0 = A->data_in, b0 = B->data_in;
    assert_true(tick(A) > 0);
    pump(A, B);
    assert_int_equal(A->data_in, a0 + 1);
    /* the late record, old epoch, still opens (grace) */
    memcpy(B->q[0], late, late_n);
    B->ql[0] = late_n;
    B->qn = 1;
    deliver(B);
    assert_int_equal(B->data_in, b0 + 1);
    assert_int_equal(B->open_errors, 0);
    in_step(e);
    assert_int_equal(A->s.rekey.rekeys, e);
    assert_int_equal(B->s.rekey.rekeys, e);
    /* after the grace period the old epoch's keys are gone */
    now += TC_REKEY_GRACE_MS;
    tick(A);
    tick(B);
    assert_false(tc_rec_has_rx(&A->s.rec, (uint8_t)(e - 1)));
    assert_false(tc_rec_has_rx(&B->s.rec, (uint8_t)(e - 1)));
    now -= TC_REKEY_GRACE_MS;
  }
  assert_int_equal(A->failed + B->failed, 0);
  assert_int_equal(A->open_errors + B->open_errors, 0);
}

/* Both timers fire together: the client's exchange wins, on both sides. */
static void simultaneous(void **state)
{
  (void)state;
  for (int round = 1; round <= 3; round++) {
    now += interval;
    assert_true(tick(A) > 0);
    assert_true(tick(B) > 0);
    assert_int_equal(A->s.rekey.state, TC_REKEY_INITIATED);
    assert_int_equal(B->s.rekey.state, TC_REKEY_INITIATED);
    pump(A, B);
    in_step((uint64_t)round);
    assert_int_equal(A->s.rekey.collisions, (uint64_t)round); /* ignored B's INIT */
    assert_int_equal(B->s.rekey.collisions, (uint64_t)round); /* dropped its own */
  }
  /* the server's INIT arrives before the client's timer runs: the client
   * answers it, and then starts nothing of its own */
  now += interval;
  assert_true(tick(B) > 0);
  deliver(A);
  assert_int_equal(A->s.rekey.state, TC_REKEY_RESPONDED);
  assert_int_equal(tick(A), 0);
  pump(A, B);
  in_step(4);
  assert_int_equal(A->s.rekey.bad_msgs + B->s.rekey.bad_msgs, 0);
}

/* Lost INIT, lost RESP, lost DONE: each exchange still completes. */
static void lost_messages(void **state)
{
  (void)state;
  /* INIT lost: resent unchanged after TC_REKEY_RETRY_MS */
  now += interval;
  assert_true(tick(A) > 0);
  B->qn = 0;
  uint8_t init1[TC_REKEY_MSG_MAX];
  memcpy(init1, A->s.rekey.msg, A->s.rekey.msg_len);
  now += TC_REKEY_RETRY_MS - 1;
  assert_int_equal(tick(A), 0);
  now += 1;
  assert_true(tick(A) > 0);
  assert_memory_equal(A->s.rekey.msg, init1, A->s.rekey.msg_len);
  pump(A, B);
  in_step(1);
  /* RESP lost: A resends INIT, B answers with the same RESP */
  now += interval;
  tick(A);
  deliver(B);
  uint8_t resp1[TC_REKEY_MSG_MAX];
  size_t resp1_len = B->s.rekey.msg_len;
  memcpy(resp1, B->s.rekey.msg, resp1_len);
  A->qn = 0;
  now += TC_REKEY_RETRY_MS;
  assert_true(tick(A) > 0);
  deliver(B);
  assert_int_equal(B->s.rekey.msg_len, resp1_len);
  assert_memory_equal(B->s.rekey.msg, resp1, resp1_len);
  pump(A, B);
  in_step(2);
  /* DONE lost: B switches on A's next record of the new epoch */
  now += interval;
  tick(A);
  deliver(B);
  deliver(A);                       /* A switches, DONE towards B */
  B->qn = 0;
  assert_int_equal(B->s.rekey.state, TC_REKEY_RESPONDED);
  assert_int_equal(B->s.rec.tx.epoch, 2);
  send_data(A);
  deliver(B);
  assert_int_equal(B->s.rekey.state, TC_REKEY_IDLE);
  assert_int_equal(B->s.rec.tx.epoch, 3);
  pump(A, B);
  in_step(3);
  assert_int_equal(A->open_errors + B->open_errors, 0);
}

/* Sign like the protocol does (rekey.h), with any key: for hostile tests. */
static size_t signed_init(const struct side *as, EVP_PKEY *key, uint64_t epoch,
                          const uint8_t pub[32], uint8_t *out)
{
  uint8_t tbs[256], *p = tbs;
  memcpy(p, "ipop rekey v1", 13);
  p += 13;
  *p++ = TC_REKEY_INIT;
  memcpy(p, as->id.fpr, 32);
  memcpy(p + 32, as->peer->id.fpr, 32);
  p += 64;
  ipop_put_be64(p, epoch);
  memcpy(p + 8, pub, 32);
  p += 40;
  size_t siglen = TC_REKEY_SIG_MAX;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  assert_int_equal(EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, key), 1);
  assert_int_equal(EVP_DigestSign(c, out + 42, &siglen, tbs, (size_t)(p - tbs)), 1);
  EVP_MD_CTX_free(c);
  out[0] = TC_REKEY_INIT;
  ipop_put_be64(out + 1, epoch);
  memcpy(out + 9, pub, 32);
  out[41] = (uint8_t)siglen;
  return 42 + siglen;
}

static int b_input(const uint8_t *m, size_t n)
{
  uint8_t reply[TC_REKEY_MSG_MAX];
  return tc_session_rekey_input(&B->s, m, n, now, reply, sizeof reply);
}

/* What an authenticated but hostile (or broken) peer could send. */
static void hostile_messages(void **state)
{
  (void)state;
  uint8_t pub[32], m[TC_REKEY_MSG_MAX + 8];
  RAND_bytes(pub, sizeof pub);
  size_t n = signed_init(A, A->id.key, 1, pub, m);
  uint8_t bad[sizeof m];
  /* signed by someone else (right format, wrong identity) */
  struct tc_identity mallory;
  assert_int_equal(tc_identity_generate(&mallory), 0);
  size_t mn = signed_init(A, mallory.key, 1, pub, bad);
  assert_int_equal(b_input(bad, mn), IPOP_EAUTH);
  tc_identity_free(&mallory);
  /* a flipped bit anywhere: signature, public key or epoch */
  for (size_t pos = 1; pos < n; pos += 5) {
    memcpy(bad, m, n);
    bad[pos] ^= 0x10;
    int r = b_input(bad, n);
    assert_true(r == IPOP_EAUTH || r == IPOP_EPARSE || r == IPOP_EREPLAY);
  }
  /* truncated, one byte too many, absurd signature lengths, unknown type */
  assert_int_equal(b_input(m, n - 1), IPOP_EPARSE);
  memcpy(bad, m, n);
  bad[n] = 0;
  assert_int_equal(b_input(bad, n + 1), IPOP_EPARSE);
  bad[41] = 0;
  assert_int_equal(b_input(bad, 42), IPOP_EPARSE);
  bad[41] = TC_REKEY_SIG_MAX + 1;
  assert_int_equal(b_input(bad, 42 + TC_REKEY_SIG_MAX + 1), IPOP_EPARSE);
  assert_int_equal(b_input(m, 8), IPOP_EPARSE);
  bad[0] = TC_REKEY_DONE;
  assert_int_equal(b_input(bad, 10), IPOP_EPARSE);
  /* a stale or future epoch (validly signed): ignored, not counted */
  uint64_t bad_before = B->s.rekey.bad_msgs;
  n = signed_init(A, A->id.key, 5, pub, m);
  assert_int_equal(b_input(m, n), IPOP_EREPLAY);
  n = signed_init(A, A->id.key, 0, pub, m);
  assert_int_equal(b_input(m, n), IPOP_EREPLAY);
  assert_int_equal(B->s.rekey.bad_msgs, bad_before);
  /* a RESP nobody asked for */
  m[0] = TC_REKEY_RESP;
  assert_true(b_input(m, n) < 0);
  /* a low-order X25519 point, validly signed: no shared secret, refused */
  memset(pub, 0, sizeof pub);
  n = signed_init(A, A->id.key, 1, pub, m);
  assert_int_equal(b_input(m, n), IPOP_ECRYPTO);
  assert_int_equal(B->s.rekey.state, TC_REKEY_IDLE);
  assert_false(tc_rec_has_rx(&B->s.rec, 1));
  assert_true(B->s.rekey.bad_msgs > bad_before);
  /* none of it moved anything: a genuine rotation still works */
  now += interval;
  tick(A);
  pump(A, B);
  in_step(1);
}

/* TC_REKEY_AFTER_RECORDS sealed: a new epoch before the interval. */
static void record_count_trigger(void **state)
{
  (void)state;
  now += 10;
  assert_int_equal(tick(A), 0);
  A->s.rec.tx_counter = TC_REKEY_AFTER_RECORDS;
  assert_true(tick(A) > 0);
  pump(A, B);
  in_step(1);
  assert_int_equal(A->s.rec.tx_counter < 10, 1); /* counters start again */
}

/* A peer that never answers: the keys are refused after 3 intervals. */
static void overdue(void **state)
{
  (void)state;
  now += interval;
  tick(A);
  for (int i = 0; i < 4; i++) {
    B->qn = 0; /* every INIT lost */
    now += TC_REKEY_RETRY_MS;
    tick(A);
  }
  assert_int_equal(A->failed, 0);
  now += TC_REKEY_REJECT_FACTOR * interval;
  assert_int_equal(tick(A), IPOP_ETIMEDOUT);
  assert_int_equal(A->failed, 1);
  assert_non_null(strstr(A->reason, "rekey: no new keys"));
  assert_int_equal(A->s.state, TC_SESSION_FAILED);
  uint8_t out[64];
  assert_true(tc_session_seal(&A->s, out, sizeof out, out, 1, NULL, 0) < 0);
}

/* HKDF-Expand(chain, "ipop keys v1", 56): the four keys of an epoch. */
static void epoch_keys(const uint8_t chain[32], uint8_t km[56])
{
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *c = EVP_KDF_CTX_new(kdf);
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM p[] = {
    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
    OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)chain, 32),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)"ipop keys v1", 12),
    OSSL_PARAM_construct_end(),
  };
  assert_int_equal(EVP_KDF_derive(c, km, 56, p), 1);
  EVP_KDF_CTX_free(c);
  EVP_KDF_free(kdf);
}

static void add_needle(const uint8_t *b, size_t n)
{
  assert_true(n_needles < NEEDLES && n <= 32);
  memcpy(needle[n_needles].b, b, n);
  needle[n_needles++].n = n;
}

/* After a rotation and the grace period, epoch 0's keys, its chaining
 * secret and the ephemeral private key exist nowhere: not in any OpenSSL
 * allocation freed meanwhile, not in either session. */
static void old_keys_wiped(void **state)
{
  (void)state;
  uint8_t km[56];
  epoch_keys(A->s.rekey.chain, km);
  /* the derivation is the one the sessions use: A's sending key seals */
  add_needle(A->s.rekey.chain, 32);
  add_needle(km, 16);               /* client key */
  add_needle(km + 16, 16);          /* server key */
  add_needle(km + 32, 12);          /* client iv */
  add_needle(km + 44, 12);          /* server iv */
  now += interval;
  assert_true(tick(A) > 0);
  uint8_t priv[32];
  size_t pl = sizeof priv;
  assert_int_equal(EVP_PKEY_get_raw_private_key(A->s.rekey.eph, priv, &pl), 1);
  add_needle(priv, 32);
  /* the needles are live right now (the scan would see them) */
  scan(&A->s, sizeof A->s);
  assert_true(leaked > 0);
  leaked = 0;
  pump(A, B);
  in_step(1);
  now += TC_REKEY_GRACE_MS;
  tick(A);
  tick(B);
  assert_int_equal(leaked, 0);      /* nothing freed with a secret in it */
  scan(&A->s, sizeof A->s);
  scan(&B->s, sizeof B->s);
  assert_int_equal(leaked, 0);      /* and no copy left in the sessions */
  n_needles = 0;
  OPENSSL_cleanse(km, sizeof km);
  OPENSSL_cleanse(priv, sizeof priv);
}

int main(void)
{
  /* Before OpenSSL allocates anything. */
  if (!CRYPTO_set_mem_functions(m_malloc, m_realloc, m_free))
    return 1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(rotate_twenty, setup, teardown),
    cmocka_unit_test_setup_teardown(simultaneous, setup, teardown),
    cmocka_unit_test_setup_teardown(lost_messages, setup, teardown),
    cmocka_unit_test_setup_teardown(hostile_messages, setup, teardown),
    cmocka_unit_test_setup_teardown(record_count_trigger, setup, teardown),
    cmocka_unit_test_setup_teardown(overdue, setup, teardown),
    cmocka_unit_test_setup_teardown(old_keys_wiped, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
