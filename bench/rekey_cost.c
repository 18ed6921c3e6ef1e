/* CPU cost of one key rotation (tincan/rekey.h), each side, in process:
 * two rekey states with real identities run N exchanges (INIT, RESP, DONE,
 * confirmation) back to back.  Prints
 *   rekey_cpu_us_initiator X
 *   rekey_cpu_us_responder X
 * Built as build/tests/unit/tincan/rekey_cost; bench/rekey.sh runs it. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "identity.h"
#include "rekey.h"

static double now_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
  int n = argc > 1 ? atoi(argv[1]) : 2000;
  struct tc_identity a, b;
  struct tc_rekey ka, kb;
  struct tc_rec ra, rb;
  uint8_t c0[TC_REKEY_CHAIN], m[TC_REKEY_MSG_MAX], r[TC_REKEY_MSG_MAX], d[TC_REKEY_MSG_MAX];
  if (n < 1 || tc_identity_generate(&a) || tc_identity_generate(&b) || RAND_bytes(c0, 32) != 1 ||
      tc_rekey_start(&ka, &ra, true, c0, a.key, X509_get0_pubkey(b.cert), a.fpr, b.fpr, 1000, 0) ||
      tc_rekey_start(&kb, &rb, false, c0, b.key, X509_get0_pubkey(a.cert), b.fpr, a.fpr, 1000, 0))
    return 1;
  double ti = 0, tr = 0, s;
  uint64_t t = 0;
  for (int i = 0; i < n; i++) {
    t += 1000;
    s = now_s();
    int mn = tc_rekey_tick(&ka, &ra, t, m, sizeof m);
    ti += now_s() - s;
    s = now_s();
    int rn = tc_rekey_input(&kb, &rb, m, (size_t)mn, t, r, sizeof r);
    tr += now_s() - s;
    s = now_s();
    int dn = tc_rekey_input(&ka, &ra, r, (size_t)rn, t, d, sizeof d);
    ti += now_s() - s;
    s = now_s();
    tc_rekey_confirm(&kb, &rb, t);
    tr += now_s() - s;
    s = now_s();
    tc_rekey_confirm(&ka, &ra, t);
    ti += now_s() - s;
    if (mn <= 0 || rn <= 0 || dn <= 0)
      return 1;
  }
  if (ka.epoch != (uint64_t)n || kb.epoch != (uint64_t)n)
    return 1;
  printf("rekey_cpu_us_initiator %.0f\nrekey_cpu_us_responder %.0f\n", ti / n * 1e6, tr / n * 1e6);
  tc_rekey_free(&ka);
  tc_rekey_free(&kb);
  tc_rec_free(&ra);
  tc_rec_free(&rb);
  tc_identity_free(&a);
  tc_identity_free(&b);
  return 0;
}
