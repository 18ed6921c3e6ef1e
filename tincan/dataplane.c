/* A link's dataplane (see dataplane.h for the format). */
#include "dataplane.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bytes.h"
#include "error.h"
#include "log.h"

static struct ipop_ratelimit rl_bad = IPOP_RATELIMIT_INIT(5000, 5);

static void put_be32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static uint32_t get_be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct tc_dp_slot {
  bool used;
  uint32_t id, total, got;
  uint64_t seq;                   /* age: the oldest slot is reused first */
  uint8_t *buf;                   /* TC_DP_SUPER_MAX bytes, zeroed once */
};

struct tc_dp_reasm {
  struct tc_dp_slot s[TC_DP_REASM_SLOTS];
  uint64_t seq;
};

void tc_dp_init(struct tc_dp *dp, struct tc_dp_ctx *ctx, struct tc_session *sess,
                struct tc_path *path, void *owner)
{
  memset(dp, 0, sizeof *dp);
  dp->ctx = ctx;
  dp->sess = sess;
  dp->path = path;
  dp->owner = owner;
}

void tc_dp_free(struct tc_dp *dp)
{
  if (dp->reasm) {
    for (int i = 0; i < TC_DP_REASM_SLOTS; i++)
      free(dp->reasm->s[i].buf);
    free(dp->reasm);
    dp->reasm = NULL;
  }
}

/* ---- sending -------------------------------------------------------------- */

/* Seal a || b as one record: into the path's batch (own socket), or into
 * the context's scratch and out at once (libnice). */
static int seal_out(struct tc_dp *dp, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
  uint8_t *slot = tc_path_tx_slot(dp->path);
  uint8_t *out = slot ? slot : dp->ctx->seal;
  int n = tc_session_seal(dp->sess, out, TC_PATH_DGRAM_MAX, a, an, b, bn);
  if (n < 0) {
    dp->st.drops++;
    return n;
  }
  if (slot)
    tc_path_tx_commit(dp->path, (size_t)n);
  else
    tc_path_send(dp->path, out, (size_t)n);
  return 0;
}

int tc_dp_send_frame(struct tc_dp *dp, const struct virtio_net_hdr *vh, uint8_t *p, size_t n)
{
  /* No frame before the handshake completed and the pin was verified: the
   * keys exist only from then on. */
  if (!tc_session_keyed(dp->sess)) {
    dp->st.drops++;
    return IPOP_ESTATE;
  }
  bool gso = vh && vh->gso_type != VIRTIO_NET_HDR_GSO_NONE;
  dp->st.tx_packets++;
  dp->st.tx_bytes += n;
  if (!gso && 1 + n + TC_REC_OVERHEAD <= TC_PATH_DGRAM_MAX) {
    const uint8_t kind = TC_DP_FRAME;
    return seal_out(dp, &kind, 1, p, n);
  }
  /* Split: [vnet | frame] in chunks, the vnet header written into the
   * headroom before the frame so that the content is contiguous. */
  uint8_t *c = p - TC_VNET_LEN;
  tc_vnet_put(c, gso ? vh : NULL);
  size_t total = TC_VNET_LEN + n;
  const size_t chunk = TC_PATH_DGRAM_MAX - TC_REC_OVERHEAD - TC_DP_FRAG_HDR;
  uint32_t id = ++dp->frag_id;
  for (size_t off = 0; off < total; off += chunk) {
    uint8_t h[TC_DP_FRAG_HDR];
    h[0] = TC_DP_FRAG;
    put_be32(h + 1, id);
    put_be32(h + 5, (uint32_t)total);
    put_be32(h + 9, (uint32_t)off);
    size_t len = total - off < chunk ? total - off : chunk;
    int rc = seal_out(dp, h, sizeof h, c + off, len);
    if (rc)
      return rc;
  }
  return 0;
}

int tc_dp_send_routed(struct tc_dp *dp, const uint8_t *hdr, size_t hn, const uint8_t *p,
                      size_t n)
{
  if (!tc_session_keyed(dp->sess)) {
    dp->st.drops++;
    return IPOP_ESTATE;
  }
  if (hn + n + TC_REC_OVERHEAD > TC_PATH_DGRAM_MAX) {
    dp->st.drops++;
    return IPOP_ETOOBIG;
  }
  dp->st.tx_packets++;
  dp->st.tx_bytes += n;
  return seal_out(dp, hdr, hn, p, n);
}

void tc_dp_send_msg(struct tc_dp *dp, const uint8_t *m, size_t n)
{
  if (!tc_session_keyed(dp->sess))
    return;
  seal_out(dp, m, n, NULL, 0);
  tc_path_flush(dp->path);
}

static void send_stamp(struct tc_dp *dp, uint8_t kind, uint64_t stamp)
{
  uint8_t m[9];
  m[0] = kind;
  ipop_put_be64(m + 1, stamp);
  tc_dp_send_msg(dp, m, sizeof m);
}

void tc_dp_send_ping(struct tc_dp *dp, uint64_t now_us)
{
  send_stamp(dp, TC_DP_PING, now_us);
}

/* ---- receiving ------------------------------------------------------------ */

static void deliver(struct tc_dp *dp, uint8_t *content, size_t total)
{
  struct virtio_net_hdr vh;
  tc_vnet_get(&vh, content);
  size_t n = total - TC_VNET_LEN;
  dp->st.rx_packets++;
  dp->st.rx_bytes += n;
  dp->ctx->deliver(dp->owner, tc_vnet_none(&vh) ? NULL : &vh, content + TC_VNET_LEN, n);
}

/* The reassembly slot for message id (total bytes): the one collecting it,
 * else the oldest, whose unfinished frame is lost. */
static struct tc_dp_slot *frag_slot(struct tc_dp *dp, uint32_t id, uint32_t total)
{
  if (!dp->reasm && !(dp->reasm = calloc(1, sizeof *dp->reasm)))
    return NULL;
  struct tc_dp_reasm *r = dp->reasm;
  struct tc_dp_slot *victim = &r->s[0];
  for (int i = 0; i < TC_DP_REASM_SLOTS; i++) {
    struct tc_dp_slot *t = &r->s[i];
    if (t->used && t->id == id)
      return t->total == total ? t : NULL;
    if (!t->used ? victim->used : (victim->used && t->seq < victim->seq))
      victim = t;
  }
  if (victim->used)
    dp->st.drops++; /* an older frame never completed (a piece was lost) */
  if (!victim->buf && !(victim->buf = calloc(1, TC_DP_SUPER_MAX)))
    return NULL;
  victim->used = true;
  victim->id = id;
  victim->total = total;
  victim->got = 0;
  victim->seq = ++r->seq;
  return victim;
}

static void frag_in(struct tc_dp *dp, const uint8_t *p, size_t n)
{
  if (n <= TC_DP_FRAG_HDR) {
    dp->st.drops++;
    return;
  }
  uint32_t id = get_be32(p + 1), total = get_be32(p + 5), off = get_be32(p + 9);
  const uint8_t *chunk = p + TC_DP_FRAG_HDR;
  size_t cl = n - TC_DP_FRAG_HDR;
  if (total < TC_VNET_LEN + 14 || total > TC_DP_SUPER_MAX || off >= total ||
      cl > total - off) {
    dp->st.drops++;
    return;
  }
  struct tc_dp_slot *s = frag_slot(dp, id, total);
  if (!s) {
    dp->st.drops++;
    return;
  }
  /* Each record is unique (replay window), so pieces add up exactly for
   * an honest peer; a dishonest one only garbles its own frame. */
  memcpy(s->buf + off, chunk, cl);
  s->got += (uint32_t)cl;
  if (s->got >= s->total) {
    s->used = false;
    deliver(dp, s->buf, s->total);
  }
}

static uint64_t now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void rekey_in(struct tc_dp *dp, const uint8_t *p, size_t n, uint64_t now_ms)
{
  uint8_t reply[TC_REKEY_MSG_MAX];
  int r = tc_session_rekey_input(dp->sess, p, n, now_ms, reply, sizeof reply);
  if (r > 0)
    tc_dp_send_msg(dp, reply, (size_t)r);
}

void tc_dp_inner(struct tc_dp *dp, uint8_t *p, size_t n, uint64_t now_ms)
{
  if (n == 0)
    return;
  switch (p[0]) {
  case TC_DP_FRAME:
    if (n < 1 + 14) {
      dp->st.drops++;
      return;
    }
    dp->st.rx_packets++;
    dp->st.rx_bytes += n - 1;
    dp->ctx->deliver(dp->owner, NULL, p + 1, n - 1);
    return;
  case TC_DP_FRAG:
    frag_in(dp, p, n);
    return;
  case TC_DP_ROUTED:
    if (n < 1 + TC_DP_ROUTED_HDR + 14 || !dp->ctx->deliver_routed) {
      dp->st.drops++;
      return;
    }
    dp->st.rx_packets++;
    dp->st.rx_bytes += n - 1 - TC_DP_ROUTED_HDR;
    dp->ctx->deliver_routed(dp->owner, p + 1, p + 1 + TC_DP_ROUTED_HDR,
                            n - 1 - TC_DP_ROUTED_HDR);
    return;
  case TC_DP_PING:
    if (n == 9)
      send_stamp(dp, TC_DP_PONG, ipop_get_be64(p + 1));
    return;
  case TC_DP_PONG:
    if (n == 9) {
      uint64_t sent = ipop_get_be64(p + 1), now = now_us();
      if (sent <= now && now - sent < 60u * 1000000u) {
        dp->rtt_us = (uint32_t)(now - sent);
        dp->pongs++;
      }
    }
    return;
  case TC_REKEY_INIT:
  case TC_REKEY_RESP:
  case TC_REKEY_DONE:
    rekey_in(dp, p, n, now_ms);
    return;
  case TC_DP_PATHS:
    if (dp->ctx->path_msg)
      dp->ctx->path_msg(dp->owner, p, n);
    return;
  default:
    return; /* from a newer peer */
  }
}

bool tc_dp_input(struct tc_dp *dp, const uint8_t *p, size_t n, uint64_t now_ms)
{
  if (tc_rec_is_record(p, n)) {
    if (!tc_session_keyed(dp->sess)) { /* the peer finished the handshake first */
      dp->st.drops++;
      return false;
    }
    uint8_t *plain = dp->ctx->plain;
    int r = tc_session_open(dp->sess, plain, sizeof dp->ctx->plain, p, n, now_ms);
    if (r < 0) {
      ipop_log_rl(&rl_bad, IPOP_LOG_DEBUG, "tincan", "record dropped: %s", ipop_strerror(r));
      return false;
    }
    dp->last_rx_ms = now_ms;
    tc_dp_inner(dp, plain, (size_t)r, now_ms);
    return true;
  }
  if (tc_dtls_is_record(p, n)) {
    /* Handshake retransmissions and alerts (authenticated by DTLS). */
    if (dp->sess->state == TC_SESSION_HANDSHAKE || dp->sess->state == TC_SESSION_KEYED)
      tc_session_dtls_input(dp->sess, p, n);
    else
      dp->st.drops++;
    return false;
  }
  if (n >= 20 && p[0] < 4)
    return false; /* STUN from the peer's ICE agent (keepalives) */
  dp->st.drops++;
  return false;
}
