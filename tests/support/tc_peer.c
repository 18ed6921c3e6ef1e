#include "tc_peer.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "route.h"

static const uint8_t k_chain0[TC_REKEY_CHAIN] = "tc_peer fixed chaining secret!!";
static const uint8_t k_local_mac[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t k_peer_mac[6] = { 2, 0, 0, 0, 0, 2 };

static void failed(void *arg, const char *reason)
{
  (void)arg; (void)reason;
}

static const struct tc_session_ops ops = { NULL, NULL, failed };

static int keyed(struct tc_session *s, const struct tc_identity *self,
                 const struct tc_identity *other, bool client, void *arg)
{
  memset(s, 0, sizeof *s);
  s->state = TC_SESSION_KEYED;
  s->ops = &ops;
  s->arg = arg;
  s->id = self;
  return tc_rekey_start(&s->rekey, &s->rec, client, k_chain0, self->key,
                        X509_get0_pubkey(other->cert), self->fpr, other->fpr, 120000, 0);
}

int tc_peer_init(struct tc_peer *t, uint32_t mtu, bool bridge)
{
  memset(t, 0, sizeof *t);
  int sv[2];
  if (tc_identity_generate(&t->id_local) || tc_identity_generate(&t->id_peer) ||
      socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
    return -1;
  int big = 4 << 20;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  t->tap_read_fd = sv[1];
  t->d.dp = calloc(1, sizeof *t->d.dp);
  t->ov.sw = malloc(sizeof *t->ov.sw);
  t->ov.am = malloc(sizeof *t->ov.am);
  if (!t->d.dp || !t->ov.sw || !t->ov.am)
    return -1;
  t->d.dp->deliver = tc_route_deliver;
  t->d.dp->deliver_routed = tc_route_routed_deliver;
  t->ov.d = &t->d;
  t->ov.tap_fd = sv[0];
  t->ov.cfg.mtu = mtu;
  memcpy(t->ov.cfg.mac, k_local_mac, 6);
  snprintf(t->ov.cfg.overlay_id, sizeof t->ov.cfg.overlay_id, "ov");
  struct tc_link *l = &t->link;
  l->ov = &t->ov;
  l->state = TC_LINK_UP;
  snprintf(l->peer_id, sizeof l->peer_id, "peer");
  l->path.mode = TC_PATH_CLOSED;
  l->path.fd = -1;
  l->alt.mode = TC_PATH_CLOSED;
  l->alt.fd = -1;
  l->tx = &l->path;
  if (keyed(&l->sess, &t->id_local, &t->id_peer, false, l) != 0 ||
      keyed(&t->peer, &t->id_peer, &t->id_local, true, t) != 0)
    return -1;
  tc_dp_init(&l->dp, t->d.dp, &l->sess, &l->path, l);
  t->ov.links = l;
  t->ov.n_links = 1;
  t->ov.slot[0] = l;
  if (switch_init(t->ov.sw, 0, 0, 42, t->ov.cfg.mac) != 0 ||
      addrmap_init(t->ov.am, t->ov.cfg.mac) != 0)
    return -1;
  tc_peer_reset(t, bridge);
  return 0;
}

void tc_peer_reset(struct tc_peer *t, bool bridge)
{
  struct tc_link *l = &t->link;
  tc_dp_free(&l->dp);
  tc_dp_init(&l->dp, t->d.dp, &l->sess, &l->path, l);
  l->spoofed = 0;
  l->flags = TC_LINK_HAS_PEER_MAC | (bridge ? TC_LINK_BRIDGE : 0u);
  memcpy(l->peer_mac, k_peer_mac, 6);
  /* Everything in the table is this one link's: cheaper than a new table. */
  switch_remove_link(t->ov.sw, 0);
  switch_bind(t->ov.sw, k_peer_mac, 0);
  t->ov.bad_frames = t->ov.tap_tx = t->ov.tap_drops = 0;
  uint8_t junk[256];
  while (read(t->tap_read_fd, junk, sizeof junk) > 0) {
  }
}

int tc_peer_rekey_reset(struct tc_peer *t)
{
  struct tc_session *s = &t->link.sess;
  tc_rekey_free(&s->rekey);
  tc_rec_free(&s->rec);
  s->state = TC_SESSION_KEYED;
  return tc_rekey_start(&s->rekey, &s->rec, false, k_chain0, t->id_local.key,
                        X509_get0_pubkey(t->id_peer.cert), t->id_local.fpr, t->id_peer.fpr,
                        120000, t->now);
}

void tc_peer_free(struct tc_peer *t)
{
  tc_dp_free(&t->link.dp);
  tc_session_free(&t->link.sess);
  tc_session_free(&t->peer);
  tc_identity_free(&t->id_local);
  tc_identity_free(&t->id_peer);
  close(t->ov.tap_fd);
  close(t->tap_read_fd);
  free(t->ov.sw);
  free(t->ov.am);
  free(t->d.dp);
}

void tc_peer_feed(struct tc_peer *t, const uint8_t *plain, size_t n)
{
  uint8_t rec[TC_PATH_DGRAM_MAX + 64];
  int r = tc_session_seal(&t->peer, rec, sizeof rec, plain, n, NULL, 0);
  if (r > 0)
    tc_dp_input(&t->link.dp, rec, (size_t)r, t->now);
}

void tc_peer_inner(struct tc_peer *t, uint8_t *plain, size_t n)
{
  tc_dp_inner(&t->link.dp, plain, n, t->now);
}

size_t tc_peer_tap_read(struct tc_peer *t, uint8_t *buf, size_t cap)
{
  ssize_t r = read(t->tap_read_fd, buf, cap);
  return r > 0 ? (size_t)r : 0;
}
