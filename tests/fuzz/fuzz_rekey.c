/* libFuzzer harness for the rekey messages a peer sends inside
 * authenticated records (tincan/rekey.c: INIT, RESP, DONE; exact lengths,
 * signatures over the exchange, epochs), on a keyed session
 * (tests/support/tc_peer.h), including retransmission timers.
 *
 * Input: messages, each a 1-byte length and that many bytes (the first
 * being the message type), interleaved with clock steps: a length byte of
 * 255 advances the clock by the next byte * 50 ms and runs the timers.
 * Besides memory errors it checks the promise that matters: nothing the
 * fuzzer can write (it cannot sign as the peer) moves the session to new
 * keys, so its epoch and sending keys stay as they were, and any answer
 * fits the message buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tc_peer.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static struct tc_peer *T;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!T) {
    T = calloc(1, sizeof *T);
    if (!T || tc_peer_init(T, 1280, false) != 0)
      abort();
  }
  struct tc_session *s = &T->link.sess;
  uint64_t epoch = s->rekey.epoch;
  uint8_t tx_epoch = s->rec.tx.epoch;
  uint8_t out[TC_REKEY_MSG_MAX];
  size_t i = 0;
  while (i < size) {
    size_t n = data[i++];
    if (n == 255) {
      if (i < size)
        T->now += (uint64_t)data[i++] * 50;
      int r = tc_session_tick(s, T->now, out, sizeof out);
      CHECK(r <= (int)sizeof out);
      continue;
    }
    if (n > size - i)
      n = size - i;
    int r = tc_session_rekey_input(s, data + i, n, T->now, out, sizeof out);
    CHECK(r <= (int)sizeof out);
    i += n;
  }
  CHECK(s->rekey.epoch == epoch && s->rec.tx.epoch == tx_epoch);
  /* Each input starts from idle epoch-0 keys (the timers may have started
   * an exchange or, after long clock steps, failed the session). */
  if ((s->state != TC_SESSION_KEYED || s->rekey.state != TC_REKEY_IDLE ||
       T->now - s->rekey.since_ms > 60000) && tc_peer_rekey_reset(T) != 0)
    abort();
  return 0;
}
