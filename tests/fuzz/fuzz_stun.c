/* libFuzzer harness for the STUN/TURN parser (tincan/stun.c): every byte a
 * TURN server, or anyone spoofing one, can send.  Besides memory errors it
 * checks the parser's promises: a parsed message's text fields are
 * printable and terminated, an error code is 300..699, DATA lies inside the
 * input, and a message we build from the parsed fields parses again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tincan/stun.c"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void printable(const char *s)
{
  size_t n = strnlen(s, TC_STUN_TEXT);
  CHECK(n < TC_STUN_TEXT);
  for (size_t i = 0; i < n; i++)
    CHECK(s[i] >= 0x20 && s[i] <= 0x7e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct tc_stun_msg m;
  uint16_t ch;
  int dl = tc_chan_get(data, size, &ch);
  CHECK(dl < 0 || (size_t)dl <= size - TC_CHAN_HDR);
  if (tc_stun_parse(data, size, &m) != 0)
    return 0;
  printable(m.reason);
  printable(m.realm);
  printable(m.nonce);
  CHECK(m.error == 0 || (m.error >= 300 && m.error <= 699));
  if (m.data)
    CHECK(m.data >= data && m.data + m.data_len <= data + size);
  uint8_t key[TC_STUN_KEY] = {1};
  (void)tc_stun_integrity_ok(data, size, &m, key);
  /* Echo realm and nonce back as a client would. */
  uint8_t out[512];
  struct tc_stun_out o;
  tc_stun_begin(&o, out, sizeof out, TC_STUN_ALLOCATE, TC_STUN_REQUEST, m.txid);
  if (m.has_peer)
    tc_stun_add_xaddr(&o, TC_STUN_A_XOR_PEER, (const struct sockaddr *)&m.peer);
  int n = tc_stun_finish(&o, "u", m.realm, m.nonce, key);
  if (n > 0) {
    struct tc_stun_msg m2;
    CHECK(tc_stun_parse(out, (size_t)n, &m2) == 0);
    CHECK(tc_stun_integrity_ok(out, (size_t)n, &m2, key));
    CHECK(strcmp(m2.nonce, m.nonce) == 0 && strcmp(m2.realm, m.realm) == 0);
  }
  return 0;
}
