/* Shared pieces of the controller's policy modules (nodeid, addrpool,
 * groupaddr, sigmsg, negotiate, topology).
 *
 * The modules do no I/O of their own beyond their small state files: time
 * comes in as now_ms (monotonic milliseconds), randomness through a
 * policy_rand_fn, and decisions go out as structs the caller executes.  So
 * every rule can be tested deterministically. */
#ifndef IPOP_POLICY_H
#define IPOP_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Size of the `why` buffers the modules fill with a complete human-readable
 * explanation of a failure (file name, key path, offending value). */
enum { POLICY_WHY_LEN = 320 };

/* Fill buf with len random bytes.  Returns 0 or IPOP_E*. */
typedef int (*policy_rand_fn)(void *ctx, void *buf, size_t len);

/* The production source: OpenSSL's RAND_bytes (ctx unused). */
int policy_rand_os(void *ctx, void *buf, size_t len);

/* A uniformly distributed 32-bit value from fn (0 if fn fails). */
uint32_t policy_rand_u32(policy_rand_fn fn, void *ctx);

/* Replace path atomically: write a temporary file in the same directory,
 * fsync it, chmod to mode, rename over path, fsync the directory.  Readers
 * see either the old or the new contents, never a mix. */
int policy_file_write_atomic(const char *path, const void *data, size_t len,
                             mode_t mode, char *why, size_t whylen);

/* Like policy_file_write_atomic, but never replaces an existing path:
 * IPOP_EEXIST if it exists (another process won the race). */
int policy_file_create_atomic(const char *path, const void *data, size_t len,
                              mode_t mode, char *why, size_t whylen);

/* Read a whole regular file of at most max bytes into a NUL-terminated heap
 * buffer (*out, caller frees).  IPOP_ENOENT if it does not exist,
 * IPOP_ETOOBIG above max, IPOP_ESYS otherwise. */
int policy_file_read(const char *path, size_t max, char **out, size_t *len,
                     char *why, size_t whylen);

/* Internal: snprintf into why if why is not NULL. */
void policy__why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
