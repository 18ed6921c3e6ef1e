/* The node's DTLS identity: an ECDSA P-256 key and a self-signed certificate
 * kept together in one mode-0600 PEM file, and its RFC 8122 fingerprint
 * ("sha-256 AB:CD:..."), which is what peers pin. */
#ifndef IPOP_TINCAN_IDENTITY_H
#define IPOP_TINCAN_IDENTITY_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TC_FPR_BYTES 32                       /* SHA-256 */
#define TC_FPR_TEXT_LEN (8 + 3 * TC_FPR_BYTES) /* "sha-256 " + "AB:" * 32 - 1 + NUL */

struct tc_identity {
  EVP_PKEY *key;
  X509 *cert;
  uint8_t fpr[TC_FPR_BYTES];
  char fpr_text[TC_FPR_TEXT_LEN];
};

/* Load the identity at path; if the file does not exist and create is set,
 * generate a new key and certificate and write them (O_EXCL, 0600, owned by
 * owner/group unless (uid_t)-1).  A file readable by group or others is
 * refused.  Returns 0 or IPOP_ENOENT/IPOP_EPERM/IPOP_ECRYPTO/IPOP_ESYS with a
 * sentence in why. */
int tc_identity_load(struct tc_identity *id, const char *path, int create,
                     uid_t owner, gid_t group, char *why, size_t whylen);
/* In-memory identity (tests). */
int tc_identity_generate(struct tc_identity *id);
void tc_identity_free(struct tc_identity *id);

/* SHA-256 of the certificate's DER encoding. */
int tc_cert_fingerprint(X509 *cert, uint8_t out[TC_FPR_BYTES]);
/* "sha-256 AB:CD:..." (upper-case hex, RFC 8122).  out: TC_FPR_TEXT_LEN. */
void tc_fpr_format(const uint8_t fpr[TC_FPR_BYTES], char *out);
/* Parse the RFC 8122 form; the hash name is case-insensitive and must be
 * sha-256, hex digits may be either case.  Returns 0 or IPOP_EINVAL. */
int tc_fpr_parse(const char *text, uint8_t out[TC_FPR_BYTES]);

#endif
