/* Secret files: 32 random bytes stored as hex in a mode-0600 file. */
#ifndef IPOP_SECRET_H
#define IPOP_SECRET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IPOP_SECRET_LEN 32

/* Read the key at path.  If it does not exist and create is non-zero, make
 * a new random one (O_EXCL, mode 0600, owned by owner/group unless they are
 * (uid_t)-1).  A file readable by group or others is refused: the key would
 * no longer be secret.  Returns 0 or IPOP_ENOENT/IPOP_EPERM/IPOP_EFIELD/IPOP_ESYS;
 * on error, why (if not NULL) gets a sentence for the log. */
int ipop_secret_load(const char *path, int create, uid_t owner, gid_t group,
                     uint8_t key[IPOP_SECRET_LEN], char *why, size_t whylen);

/* Fill buf with cryptographically random bytes (OpenSSL RAND_bytes). */
int ipop_random_bytes(void *buf, size_t len);

/* Lower-case hex; out must hold 2*len+1 bytes. */
void ipop_hex_encode(const uint8_t *in, size_t len, char *out);
/* Returns 0, or IPOP_EINVAL if hex is not exactly 2*len hex digits. */
int ipop_hex_decode(const char *hex, uint8_t *out, size_t len);

#endif
