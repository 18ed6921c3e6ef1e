/* STUN (RFC 8489) and TURN (RFC 8656) messages, as tincan's TURN client
 * needs them: requests built with long-term credentials, answers and
 * indications parsed and checked, ChannelData framed.  Pure code (no
 * sockets, no clock); fuzz_stun feeds tc_stun_parse everything a server or
 * an attacker could send.
 *
 *   message:     type (2) | length (2) | magic 0x2112A442 | transaction id (12)
 *                | attributes: type (2) | length (2) | value, padded to 4
 *   ChannelData: channel 0x4000..0x4FFF (2) | length (2) | data (padded to 4
 *                over TCP/TLS) */
#ifndef IPOP_TINCAN_STUN_H
#define IPOP_TINCAN_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
  TC_STUN_HDR = 20,
  TC_STUN_TXID = 12,
  TC_STUN_KEY = 16,                 /* MD5(user:realm:password) */
  TC_STUN_MAGIC = 0x2112A442,
  /* methods */
  TC_STUN_BINDING = 0x001,
  TC_STUN_ALLOCATE = 0x003,
  TC_STUN_REFRESH = 0x004,
  TC_STUN_SEND = 0x006,
  TC_STUN_DATA = 0x007,
  TC_STUN_CREATE_PERMISSION = 0x008,
  TC_STUN_CHANNEL_BIND = 0x009,
  /* classes */
  TC_STUN_REQUEST = 0x000,
  TC_STUN_INDICATION = 0x010,
  TC_STUN_SUCCESS = 0x100,
  TC_STUN_ERROR = 0x110,
  /* attributes */
  TC_STUN_A_USERNAME = 0x0006,
  TC_STUN_A_INTEGRITY = 0x0008,
  TC_STUN_A_ERROR_CODE = 0x0009,
  TC_STUN_A_CHANNEL = 0x000C,
  TC_STUN_A_LIFETIME = 0x000D,
  TC_STUN_A_XOR_PEER = 0x0012,
  TC_STUN_A_DATA = 0x0013,
  TC_STUN_A_REALM = 0x0014,
  TC_STUN_A_NONCE = 0x0015,
  TC_STUN_A_XOR_RELAYED = 0x0016,
  TC_STUN_A_TRANSPORT = 0x0019,
  TC_STUN_A_XOR_MAPPED = 0x0020,
  TC_STUN_A_SOFTWARE = 0x8022,
  TC_STUN_A_FINGERPRINT = 0x8028,
  /* ChannelData */
  TC_CHAN_HDR = 4,
  TC_CHAN_MIN = 0x4000,
  TC_CHAN_MAX = 0x4FFF,
  TC_STUN_TEXT = 128,               /* realm, nonce, reason: at most this - 1 bytes */
};

/* A parsed message.  Pointers (data) point into the parsed buffer. */
struct tc_stun_msg {
  uint16_t method, cls;
  uint8_t txid[TC_STUN_TXID];
  int error;                        /* ERROR-CODE (300..699), 0 if none */
  char reason[TC_STUN_TEXT];        /* its reason phrase, printable ASCII only */
  char realm[TC_STUN_TEXT], nonce[TC_STUN_TEXT];
  bool has_relayed, has_mapped, has_peer, has_lifetime, has_integrity;
  struct sockaddr_storage relayed, mapped, peer;
  uint32_t lifetime;
  const uint8_t *data;              /* DATA of a Data indication */
  size_t data_len;
  size_t integrity_at;              /* offset of MESSAGE-INTEGRITY */
};

/* First-byte test (RFC 7983): a STUN message starts with 0..3, ChannelData
 * with 0x40..0x4F. */
static inline bool tc_stun_is_stun(const uint8_t *p, size_t n)
{
  return n >= TC_STUN_HDR && p[0] < 4;
}
static inline bool tc_stun_is_chandata(const uint8_t *p, size_t n)
{
  return n >= TC_CHAN_HDR && p[0] >= 0x40 && p[0] <= 0x4F;
}

/* Parse and bounds-check one message of exactly n bytes.  0, or
 * IPOP_EPARSE (not STUN, bad lengths, an attribute overrunning, a bad
 * address family, text that is not printable). */
int tc_stun_parse(const uint8_t *p, size_t n, struct tc_stun_msg *m);
/* Does MESSAGE-INTEGRITY (HMAC-SHA1 with key) verify? */
bool tc_stun_integrity_ok(const uint8_t *p, size_t n, const struct tc_stun_msg *m,
                          const uint8_t key[TC_STUN_KEY]);
/* The long-term credential key, MD5(user ":" realm ":" password). */
void tc_stun_key(const char *user, const char *realm, const char *password,
                 uint8_t key[TC_STUN_KEY]);

/* Building a request: begin, add attributes, finish (which appends
 * USERNAME, REALM, NONCE and MESSAGE-INTEGRITY when key is given).  An
 * overflow is remembered and reported by finish. */
struct tc_stun_out {
  uint8_t *buf;
  size_t cap, len;
  bool overflow;
};
void tc_stun_begin(struct tc_stun_out *o, uint8_t *buf, size_t cap, uint16_t method,
                   uint16_t cls, const uint8_t txid[TC_STUN_TXID]);
void tc_stun_add(struct tc_stun_out *o, uint16_t type, const void *v, size_t n);
void tc_stun_add_u32(struct tc_stun_out *o, uint16_t type, uint32_t v);
void tc_stun_add_xaddr(struct tc_stun_out *o, uint16_t type, const struct sockaddr *sa);
/* Length of the message, or IPOP_ETOOBIG. */
int tc_stun_finish(struct tc_stun_out *o, const char *user, const char *realm,
                   const char *nonce, const uint8_t *key);

/* What an error code usually means for a TURN client (RFC 8656 and
 * coturn's habits): " (...)" or "". */
const char *tc_stun_hint(int code);

/* ChannelData: the 4-byte header for n bytes of data on channel ch. */
static inline void tc_chan_put(uint8_t *p, uint16_t ch, size_t n)
{
  p[0] = (uint8_t)(ch >> 8);
  p[1] = (uint8_t)ch;
  p[2] = (uint8_t)(n >> 8);
  p[3] = (uint8_t)n;
}
/* Channel and length of a ChannelData message starting at p (n bytes
 * available); the data length, or -1 if the header says more than n. */
int tc_chan_get(const uint8_t *p, size_t n, uint16_t *ch);

/* "ip:port" / "[ip6]:port" of an address (for logs and stats). */
void tc_addr_text(const struct sockaddr *sa, char *out, size_t n);
/* Same address and port (v4 or v6). */
bool tc_addr_eq(const struct sockaddr *a, const struct sockaddr *b);
/* Same address, any port. */
bool tc_addr_same_ip(const struct sockaddr *a, const struct sockaddr *b);
socklen_t tc_addr_len(const struct sockaddr *sa);

#endif
