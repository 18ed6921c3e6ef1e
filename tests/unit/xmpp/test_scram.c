/* SCRAM-SHA-1 (RFC 5802 section 5) and SCRAM-SHA-256 (RFC 7677 section 3)
 * test vectors, plus the checks a client must make on server messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sasl.h"

struct vec {
  const char *mech, *cnonce, *client_first, *server_first, *client_final,
      *server_final;
};

static const struct vec rfc5802 = {
  "SCRAM-SHA-1", "fyko+d2lbbFgONRv9qkxdawL",
  "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
  "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
  "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
  "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
  "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
};

static const struct vec rfc7677 = {
  "SCRAM-SHA-256", "rOprNGfwEbeRWgbNEkqO",
  "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
  "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
  "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
  "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

static void run_vector(const struct vec *v)
{
  struct xmpp_scram s;
  struct sbuf b;
  sbuf_init(&b);
  assert_int_equal(xmpp_scram_init(&s, v->mech, "user", v->cnonce), 0);
  assert_int_equal(xmpp_scram_client_first(&s, &b), 0);
  assert_string_equal(b.data, v->client_first);
  sbuf_reset(&b);
  assert_int_equal(xmpp_scram_client_final(&s, "pencil", v->server_first,
                                           strlen(v->server_first), &b), 0);
  assert_string_equal(b.data, v->client_final);
  assert_int_equal(xmpp_scram_verify(&s, v->server_final,
                                     strlen(v->server_final)), 0);
  /* A wrong server signature is caught. */
  char bad[128];
  strcpy(bad, v->server_final);
  bad[3] = bad[3] == 'A' ? 'B' : 'A';
  assert_int_equal(xmpp_scram_verify(&s, bad, strlen(bad)), IPOP_EAUTH);
  xmpp_scram_clear(&s);
  sbuf_free(&b);
}

static void test_sha1_vector(void **state) { run_vector(&rfc5802); }
static void test_sha256_vector(void **state) { run_vector(&rfc7677); }

static int final_for(const char *server_first)
{
  struct xmpp_scram s;
  struct sbuf b;
  sbuf_init(&b);
  assert_int_equal(xmpp_scram_init(&s, "SCRAM-SHA-1", "user", "abc"), 0);
  assert_int_equal(xmpp_scram_client_first(&s, &b), 0);
  sbuf_reset(&b);
  int r = xmpp_scram_client_final(&s, "pencil", server_first,
                                  strlen(server_first), &b);
  xmpp_scram_clear(&s);
  sbuf_free(&b);
  return r;
}

static void test_bad_server_first(void **state)
{
  assert_int_equal(final_for("r=abcdef,s=QSXCR+Q6sek8bf92,i=4096"), 0);
  /* nonce must extend ours */
  assert_int_equal(final_for("r=xyzdef,s=QSXCR+Q6sek8bf92,i=4096"), IPOP_EAUTH);
  assert_int_equal(final_for("r=abc,s=QSXCR+Q6sek8bf92,i=4096"), IPOP_EAUTH);
  /* missing or bad fields */
  assert_int_equal(final_for("r=abcdef,i=4096"), IPOP_EAUTH);
  assert_int_equal(final_for("r=abcdef,s=QSXCR+Q6sek8bf92"), IPOP_EAUTH);
  assert_int_equal(final_for("r=abcdef,s=!!!,i=4096"), IPOP_EAUTH);
  assert_int_equal(final_for("r=abcdef,s=QSXCR+Q6sek8bf92,i=40x6"), IPOP_EAUTH);
  assert_int_equal(final_for("m=ext,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096"),
                   IPOP_EAUTH);
  /* iteration counts that would stall the loop or are meaningless */
  assert_int_equal(final_for("r=abcdef,s=QSXCR+Q6sek8bf92,i=0"), IPOP_ETOOBIG);
  assert_int_equal(final_for("r=abcdef,s=QSXCR+Q6sek8bf92,i=99999999"),
                   IPOP_ETOOBIG);
}

static void test_username_escaping(void **state)
{
  struct xmpp_scram s;
  struct sbuf b;
  sbuf_init(&b);
  assert_int_equal(xmpp_scram_init(&s, "SCRAM-SHA-256", "a=b,c", "n1"), 0);
  assert_int_equal(xmpp_scram_client_first(&s, &b), 0);
  assert_string_equal(b.data, "n,,n=a=3Db=2Cc,r=n1");
  xmpp_scram_clear(&s);
  sbuf_free(&b);
  assert_int_equal(xmpp_scram_init(&s, "DIGEST-MD5", "u", NULL), IPOP_ENOTSUP);
  /* random nonces differ */
  struct xmpp_scram s1, s2;
  assert_int_equal(xmpp_scram_init(&s1, "SCRAM-SHA-1", "u", NULL), 0);
  assert_int_equal(xmpp_scram_init(&s2, "SCRAM-SHA-1", "u", NULL), 0);
  assert_string_not_equal(s1.cnonce, s2.cnonce);
  assert_null(strchr(s1.cnonce, ','));
  xmpp_scram_clear(&s1);
  xmpp_scram_clear(&s2);
}

static void test_base64(void **state)
{
  struct sbuf b;
  sbuf_init(&b);
  xmpp_b64_encode("n,,", 3, &b);
  assert_string_equal(b.data, "biws");
  uint8_t *out;
  size_t n;
  assert_int_equal(xmpp_b64_decode("QQ==", 4, &out, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(out[0], 'A');
  free(out);
  assert_int_equal(xmpp_b64_decode("QUI=", 4, &out, &n), 0);
  assert_int_equal(n, 2);
  free(out);
  assert_int_equal(xmpp_b64_decode("QUI", 3, &out, &n), IPOP_EINVAL);
  assert_int_equal(xmpp_b64_decode("Q!I=", 4, &out, &n), IPOP_EINVAL);
  sbuf_free(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sha1_vector),
    cmocka_unit_test(test_sha256_vector),
    cmocka_unit_test(test_bad_server_first),
    cmocka_unit_test(test_username_escaping),
    cmocka_unit_test(test_base64),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
