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


#endif
