/* libFuzzer harness for the dataplane record (tincan/record.c).
 *
 * The input is a script of steps; each step is one control byte and, for
 * "seal", a length byte and that many plaintext bytes:
 *   ctl & 3 == 0  seal the plaintext with the next counter (kept, up to 16)
 *   ctl & 3 == 1  jump the sender's counter ahead by (ctl >> 2) * 97
 *   ctl & 3 == 2  open kept record (ctl >> 2) % kept as sent
 *   ctl & 3 == 3  open it with one byte flipped (position from the next byte)
 *                 or truncated (odd ctl >> 2)
 * Besides memory errors it checks the record's promises against a model:
 * a genuine record opens exactly once (and to its plaintext) while its
 * counter is inside the window and fresh; a flipped or truncated one never
 * opens; failures leave the window as it was. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The record module alone (it needs only libcrypto/libssl, which the
 * fuzz targets get through ipop_proto). */
#include "../../tincan/record.c"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

enum { KEEP = 16, PMAX = 255 };

struct kept {
  uint8_t rec[PMAX + TC_REC_OVERHEAD];
  size_t n;
  uint8_t plain[PMAX];
  size_t pn;
  uint64_t ctr;
  bool opened;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const uint8_t key[16] = "fuzz-key-0123456", iv[12] = "fuzz-iv-abcd";
  static struct kept k[KEEP];
  /* The cipher contexts are keyed once (EVP_CIPHER_CTX_new and the key
   * schedule cost more than a short input); every input starts from a
   * copy of the fresh state: counter 0, empty windows, zero counts.  Each
   * seal and open sets its own IV, so nothing else carries over. */
  static struct tc_rec tx0, rx0;
  if (!tx0.tx.ctx && (tc_rec_init(&tx0, key, iv, key, iv) || tc_rec_init(&rx0, key, iv, key, iv)))
    abort();
  struct tc_rec tx = tx0, rx = rx0;
  unsigned nk = 0;
  uint64_t top = 0; /* model: highest opened counter + 1 */
  size_t i = 0;
  while (i < size) {
    uint8_t ctl = data[i++], arg = ctl >> 2;
    switch (ctl & 3) {
    case 0: {
      if (i >= size)
        goto out;
      size_t pn = data[i++];
      if (pn > size - i)
        pn = size - i;
      struct kept *s = &k[nk % KEEP];
      s->ctr = tx.tx_counter;
      int n = tc_rec_seal(&tx, s->rec, sizeof s->rec, data + i, pn, NULL, 0);
      CHECK(n == (int)(pn + TC_REC_OVERHEAD));
      memcpy(s->plain, data + i, pn);
      s->pn = pn;
      s->n = (size_t)n;
      s->opened = false;
      i += pn;
      nk++;
      break;
    }
    case 1:
      tx.tx_counter += (uint64_t)arg * 97;
      break;
    case 2: {
      if (!nk)
        break;
      struct kept *s = &k[arg % (nk < KEEP ? nk : KEEP)];
      uint8_t out[PMAX];
      uint64_t c = s->ctr + 1;
      bool fresh = c > top || (top - c < TC_REC_WINDOW - 64 && !s->opened);
      uint8_t ep;
      int r = tc_rec_open(&rx, out, sizeof out, s->rec, s->n, &ep);
      CHECK((r >= 0) == fresh);
      if (r >= 0) {
        CHECK((size_t)r == s->pn && memcmp(out, s->plain, s->pn) == 0);
        s->opened = true;
        if (c > top)
          top = c;
      } else {
        CHECK(r == IPOP_EREPLAY);
      }
      break;
    }
    case 3: {
      if (!nk || i >= size)
        break;
      struct kept *s = &k[arg % (nk < KEEP ? nk : KEEP)];
      uint8_t bad[sizeof s->rec], out[PMAX];
      size_t n = s->n;
      memcpy(bad, s->rec, n);
      if (arg & 1)
        n = data[i++] % n;
      else
        bad[data[i++] % n] ^= 0x5a;
      uint64_t before = rx.rx[0].win.top;
      uint8_t ep;
      CHECK(tc_rec_open(&rx, out, sizeof out, bad, n, &ep) < 0);
      CHECK(rx.rx[0].win.top == before);
      break;
    }
    }
  }
out:
  return 0;
}
