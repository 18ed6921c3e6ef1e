/* The /dev/net/tun opener: a small process that stays root so that tincan
 * can create TAP devices for its whole life without staying root itself.
 *
 * /dev/net/tun is often root-only (mode 0600), and every TAP needs a fresh
 * descriptor of it: one cannot be re-attached to a second device.  Before
 * dropping root, tincan forks this process (OpenSSH's monitor, cut down to
 * one request).  It keeps uid 0, which owns the device, and nothing else:
 *
 *   capabilities   none, in every set (bounding included); NOROOT locked;
 *                  no_new_privs
 *   root dir       /dev/net (chroot), where that is permitted: started as
 *                  plain root, yes; under the systemd unit, no (no
 *                  CAP_SYS_CHROOT, and chroot is outside @system-service),
 *                  where ProtectSystem=strict and DevicePolicy=closed fence
 *                  it instead
 *   descriptors    stdin/stdout on /dev/null, stderr, and its end of a
 *                  SOCK_SEQPACKET socketpair to tincan
 *
 * Its one request: a one-byte datagram 'T'.  Its answer: a 4-byte errno (0
 * on success) and, on success, one descriptor of /dev/net/tun by
 * SCM_RIGHTS.  Anything else ends it.  It reads with recv(), so descriptors
 * sent to it are discarded by the kernel, never installed.  It exits when
 * tincan's end closes (tincan exits, or is killed).
 *
 * tincan checks what comes back as it checks everything: exactly one
 * descriptor, a character device 10:200 (/dev/net/tun), else it is closed. */
#ifndef IPOP_TINCAN_TUNOPEN_H
#define IPOP_TINCAN_TUNOPEN_H

#include <stddef.h>
#include <sys/types.h>

/* Fork the opener (root only; call while single-threaded).  0, or a
 * negative IPOP_E* with a sentence in why. */
int tc_tunopen_start(char *why, size_t whylen);
/* Its pid, or 0 if it was never started. */
pid_t tc_tunopen_pid(void);
/* A new O_NONBLOCK|O_CLOEXEC descriptor of /dev/net/tun from the opener:
 * >= 0, or a negative IPOP_E* with a sentence in why. */
int tc_tunopen_get(char *why, size_t whylen);
/* Close our end and reap it. */
void tc_tunopen_stop(void);

#endif
