/* libFuzzer target for the control-message decoder.
 *
 * The input is treated three ways:
 *  1. as a JSON envelope (ctl_envelope_parse); when it parses, its body is
 *     decoded against every body and result schema of both message tables,
 *     and whatever decodes must re-encode and decode to the same struct;
 *     every error that the endpoint would send back must fit in a JSON
 *     answer (valid UTF-8, buildable);
 *  2. as a datagram for ctl_auth_open / the NAK parser;
 *  3. as a script of (sender, counter, clock skew) records, each sealed with
 *     the right key and opened by one receiver: the replay window must never
 *     accept the same (sender, counter) twice while the sender is tracked. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_auth.h"
#include "envelope.h"
#include "error.h"
#include "messages.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fuzz_key[IPOP_SECRET_LEN] = "0123456789abcdef0123456789abcdef";

#define FIXED_NOW 1700000000000ull
static uint64_t fixed_clock(void) { return FIXED_NOW; }
static uint64_t sender_ts;
static uint64_t sender_clock(void) { return sender_ts; }

static void *buf_a, *buf_b;
static size_t buf_size;

/* Errors this input has already shown to be answerable: decoding one body
 * against every schema gives the same (code, message) many times, and
 * building an envelope is deterministic, so each pair is built once per
 * input.  Emptied at the start of each input. */
static struct jb_error answered[8];
static unsigned n_answered;

static void check_answerable(const struct jb_error *err)
{
  for (unsigned i = 0; i < n_answered && i < 8; i++)
    if (answered[i].code == err->code && strcmp(answered[i].msg, err->msg) == 0)
      return;
  /* The endpoint sends err->msg back in an error response. */
  size_t len;
  char *text = ctl_envelope_build(CTL_KIND_RESPONSE, 1, "x", NULL, err->code, err->msg, &len);
  if (!text) {
    fprintf(stderr, "error message cannot be sent back: \"%s\"\n", err->msg);
    abort();
  }
  free(text);
  answered[n_answered++ % 8] = *err;
}

static void decode_against(const struct jb_schema *s, json_t *body)
{
  struct jb_error err;
  if (s->struct_size > buf_size)
    abort();
  if (jb_decode(s, body, buf_a, "body", &err) != 0) {
    check_answerable(&err);
    return;
  }
  /* Whatever decodes must round-trip exactly. */
  json_t *j = jb_encode(s, buf_a);
  if (!j)
    abort();
  if (jb_decode(s, j, buf_b, "body", &err) != 0) {
    fprintf(stderr, "%s: own encoding does not decode: %s\n", s->name, err.msg);
    abort();
  }
  if (memcmp(buf_a, buf_b, s->struct_size) != 0) {
    fprintf(stderr, "%s: round trip differs\n", s->name);
    abort();
  }
  json_decref(j);
}

static void decode_all(const struct ctl_msg_desc *t, unsigned n, json_t *body)
{
  for (unsigned i = 0; i < n; i++) {
    decode_against(t[i].body, body);
    if (t[i].result)
      decode_against(t[i].result, body);
  }
}

static void init_once(void)
{
  if (buf_a)
    return;
  const struct ctl_msg_desc *tables[] = { ctl_tincan_messages, ctl_controller_messages };
  unsigned counts[] = { ctl_tincan_messages_count, ctl_controller_messages_count };
  for (int k = 0; k < 2; k++)
    for (unsigned i = 0; i < counts[k]; i++) {
      if (tables[k][i].body->struct_size > buf_size)
        buf_size = tables[k][i].body->struct_size;
      if (tables[k][i].result && tables[k][i].result->struct_size > buf_size)
        buf_size = tables[k][i].result->struct_size;
    }
  buf_a = malloc(buf_size);
  buf_b = malloc(buf_size);
}

static void fuzz_envelope(const uint8_t *data, size_t size)
{
  struct ctl_envelope env;
  struct jb_error err;
  int rc = ctl_envelope_parse(data, size, &env, &err);
  if (rc == 0) {
    if (env.body) {
      decode_all(ctl_tincan_messages, ctl_tincan_messages_count, env.body);
      decode_all(ctl_controller_messages, ctl_controller_messages_count, env.body);
    }
  } else if (env.kind == CTL_KIND_REQUEST || env.kind < 0) {
    /* The endpoint answers this failure: the text must go into JSON. */
    check_answerable(&err);
  }
  ctl_envelope_free(&env);
}

static void fuzz_datagram(const uint8_t *data, size_t size)
{
  static struct ctl_auth rx;
  static int ready;
  if (!ready) {
    ctl_auth_init(&rx, fuzz_key);
    rx.clock_ms = fixed_clock;
    ready = 1;
  }
  /* ctl_auth_open decrypts in place: work on a copy of exactly size bytes
   * (ASan then sees any read past the end). */
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy)
    return;
  memcpy(copy, data, size);
  const uint8_t *payload;
  size_t plen;
  if (ctl_auth_open(&rx, copy, size, &payload, &plen) == 0 &&
      (payload != copy + CTL_AUTH_HDR_LEN || plen != size - CTL_AUTH_OVERHEAD))
    abort();
  if (memcmp(copy, data, size < CTL_AUTH_HDR_LEN ? size : CTL_AUTH_HDR_LEN) != 0)
    abort(); /* the header must stay intact for the NAK */
  free(copy);
  uint64_t ctr;
  enum ctl_nak_reason why;
  ctl_auth_is_nak(&rx, data, size, &ctr, &why);
  uint8_t nak[CTL_NAK_LEN];
  size_t n = ctl_auth_nak(data, size, CTL_NAK_AUTH, nak);
  if (n != 0 && n != CTL_NAK_LEN)
    abort();
}

static uint64_t get_u64(const uint8_t *p)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

/* Records of 12 bytes: sender index (1), counter delta (8, small values
 * matter most), clock skew in seconds (1, signed), payload length (2). */
static void fuzz_replay(const uint8_t *data, size_t size)
{
  enum { MAXS = 8, MAXREC = 16 }; /* each record costs two AES-GCM operations */
  static struct ctl_auth rx0, tx0[MAXS];
  static struct ctl_auth rx, tx[MAXS];
  static int ready;
  struct { uint64_t sender, ctr; } seen[MAXREC];
  size_t nseen = 0;
  if (!ready) {
    ctl_auth_init(&rx0, fuzz_key);
    rx0.clock_ms = fixed_clock;
    for (int i = 0; i < MAXS; i++) {
      ctl_auth_init(&tx0[i], fuzz_key);
      tx0[i].sender_id = (uint64_t)i * 0x0101010101010101ull + 1;
      tx0[i].clock_ms = sender_clock;
    }
    ready = 1;
  }
  rx = rx0; /* fresh receiver state for every input */
  memcpy(tx, tx0, sizeof tx);
  uint8_t dg[CTL_AUTH_OVERHEAD + 64];
  for (size_t off = 0; off + 12 <= size && nseen < MAXREC; off += 12) {
    const uint8_t *r = data + off;
    struct ctl_auth *s = &tx[r[0] % MAXS];
    uint64_t ctr = get_u64(r + 1) % 200;         /* counter to use, 0..199 */
    int skew = (int8_t)r[9];                     /* seconds */
    size_t plen = (size_t)(r[10] | r[11] << 8) % 64;
    sender_ts = FIXED_NOW + (uint64_t)((int64_t)skew * 1000);
    s->counter = ctr ? ctr - 1 : 0;             /* seal uses ++counter */
    size_t n;
    if (ctl_auth_seal(s, data, plen < size ? plen : size, dg, sizeof dg, &n, NULL) != 0)
      abort();
    const uint8_t *payload;
    size_t got;
    int rc = ctl_auth_open(&rx, dg, n, &payload, &got);
    bool fresh = skew >= -30 && skew <= 30;
    if (rc == 0) {
      if (!fresh)
        abort(); /* outside the timestamp window */
      uint64_t c = ctr ? ctr : 1;
      for (size_t k = 0; k < nseen; k++)
        if (seen[k].sender == s->sender_id && seen[k].ctr == c)
          abort(); /* accepted twice: replay not caught */
      seen[nseen].sender = s->sender_id;
      seen[nseen].ctr = c;
      nseen++;
    } else if (rc != IPOP_EREPLAY) {
      abort(); /* a correctly sealed datagram never fails the MAC */
    } else if (fresh) {
      /* refused as replay: it must have been seen or be too old */
      uint64_t c = ctr ? ctr : 1, top = 0;
      bool dup = false;
      for (size_t k = 0; k < nseen; k++)
        if (seen[k].sender == s->sender_id) {
          if (seen[k].ctr > top)
            top = seen[k].ctr;
          if (seen[k].ctr == c)
            dup = true;
        }
      if (!dup && !(top >= c + 64))
        abort(); /* a fresh counter inside the window was refused */
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  init_once();
  n_answered = 0;
  fuzz_envelope(data, size);
  fuzz_datagram(data, size);
  fuzz_replay(data, size);
  return 0;
}
