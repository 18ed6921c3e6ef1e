#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"

#define WHY(...) do { if (why) snprintf(why, whylen, __VA_ARGS__); } while (0)

int tc_cert_fingerprint(X509 *cert, uint8_t out[TC_FPR_BYTES])
{
  unsigned n = 0;
  if (X509_digest(cert, EVP_sha256(), out, &n) != 1 || n != TC_FPR_BYTES)
    return IPOP_ECRYPTO;
  return 0;
}

void tc_fpr_format(const uint8_t fpr[TC_FPR_BYTES], char *out)
{
  static const char digits[] = "0123456789ABCDEF";
  char *p = out;
  memcpy(p, "sha-256 ", 8);
  p += 8;
  for (int i = 0; i < TC_FPR_BYTES; i++) {
    if (i)
      *p++ = ':';
    *p++ = digits[fpr[i] >> 4];
    *p++ = digits[fpr[i] & 15];
  }
  *p = '\0';
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int tc_fpr_parse(const char *text, uint8_t out[TC_FPR_BYTES])
{
  if (strncasecmp(text, "sha-256 ", 8) != 0)
    return IPOP_EINVAL;
  const char *p = text + 8;
  if (strlen(p) != 3 * TC_FPR_BYTES - 1)
    return IPOP_EINVAL;
  for (int i = 0; i < TC_FPR_BYTES; i++, p += 3) {
    int hi = hexval(p[0]), lo = hexval(p[1]);
    if (hi < 0 || lo < 0 || (i < TC_FPR_BYTES - 1 && p[2] != ':'))
      return IPOP_EINVAL;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

static int finish(struct tc_identity *id)
{
  if (tc_cert_fingerprint(id->cert, id->fpr))
    return IPOP_ECRYPTO;
  tc_fpr_format(id->fpr, id->fpr_text);
  return 0;
}

int tc_identity_generate(struct tc_identity *id)
{
  memset(id, 0, sizeof *id);
  uint8_t serial[16];
  BIGNUM *bn = NULL;
  X509_NAME *name = NULL;

  id->key = EVP_EC_gen("P-256");
  id->cert = X509_new();
  if (!id->key || !id->cert || RAND_bytes(serial, sizeof serial) != 1)
    goto fail;
  serial[0] &= 0x7f; /* positive */
  bn = BN_bin2bn(serial, sizeof serial, NULL);
  if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(id->cert)))
    goto fail;
  name = X509_NAME_new();
  if (!name ||
      !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                  (const unsigned char *)"ipop-tincan", -1, -1, 0))
    goto fail;
  if (X509_set_version(id->cert, 2) != 1 || X509_set_subject_name(id->cert, name) != 1 ||
      X509_set_issuer_name(id->cert, name) != 1 ||
      !X509_gmtime_adj(X509_getm_notBefore(id->cert), -24 * 3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(id->cert), 20L * 365 * 24 * 3600) ||
      X509_set_pubkey(id->cert, id->key) != 1 ||
      X509_sign(id->cert, id->key, EVP_sha256()) <= 0)
    goto fail;
  BN_free(bn);
  X509_NAME_free(name);
  return finish(id);
fail:
  BN_free(bn);
  X509_NAME_free(name);
  tc_identity_free(id);
  return IPOP_ECRYPTO;
}

void tc_identity_free(struct tc_identity *id)
{
  EVP_PKEY_free(id->key);
  X509_free(id->cert);
  memset(id, 0, sizeof *id);
}

/* A new identity, written atomically (common/fileio.c: a crash leaves no
 * file or a whole one, never half a key) and never over an existing file. */
static int identity_create(struct tc_identity *id, const char *path, uid_t owner,
                           gid_t group, char *why, size_t whylen)
{
  int rc = tc_identity_generate(id);
  if (rc) {
    WHY("cannot generate an ECDSA P-256 identity");
    return rc;
  }
  BIO *b = BIO_new(BIO_s_mem());
  char *pem = NULL;
  long n = 0;
  if (!b || PEM_write_bio_PrivateKey(b, id->key, NULL, NULL, 0, NULL, NULL) != 1 ||
      PEM_write_bio_X509(b, id->cert) != 1 || (n = BIO_get_mem_data(b, &pem)) <= 0) {
    WHY("cannot encode the identity for %s", path);
    rc = IPOP_ECRYPTO;
  } else {
    char w[512];
    rc = ipop_file_create_atomic(path, pem, (size_t)n, 0600, w, sizeof w);
    if (rc)
      WHY("identity file: %s", w);
    else if ((owner != (uid_t)-1 || group != (gid_t)-1) &&
             fchownat(AT_FDCWD, path, owner, group, AT_SYMLINK_NOFOLLOW) != 0) {
      WHY("cannot chown identity file %s: %s", path, strerror(errno));
      unlink(path);
      rc = IPOP_ESYS;
    }
  }
  if (pem)
    OPENSSL_cleanse(pem, (size_t)n);
  BIO_free(b);
  if (rc)
    tc_identity_free(id);
  return rc;
}

int tc_identity_load(struct tc_identity *id, const char *path, int create,
                     uid_t owner, gid_t group, char *why, size_t whylen)
{
  memset(id, 0, sizeof *id);
  /* A crash while the identity was being created may have left its
   * temporary file (a whole or partial private key) next to it. */
  ipop_file_remove_temps(path, NULL);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT && create)
      return identity_create(id, path, owner, group, why, whylen);
    WHY("cannot open identity file %s: %s", path, strerror(errno));
    return errno == ENOENT ? IPOP_ENOENT : IPOP_ESYS;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    WHY("identity file %s is not a regular file", path);
    close(fd);
    return IPOP_ESYS;
  }
  if (st.st_mode & 077) {
    WHY("identity file %s is accessible by group or others (mode %03o); "
        "refusing to use a private key that is not private",
        path, (unsigned)(st.st_mode & 0777));
    close(fd);
    return IPOP_EPERM;
  }
  FILE *f = fdopen(fd, "r");
  if (!f) {
    close(fd);
    WHY("fdopen %s: %s", path, strerror(errno));
    return IPOP_ESYS;
  }
  id->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  id->cert = id->key ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
  fclose(f);
  if (!id->key || !id->cert || X509_check_private_key(id->cert, id->key) != 1) {
    WHY("identity file %s does not hold a private key followed by its certificate",
        path);
    tc_identity_free(id);
    return IPOP_ECRYPTO;
  }
  return finish(id);
}
