/* One error namespace for the whole project: functions return 0 or a
 * negative IPOP_E* code; ipop_strerror() turns a code into text and
 * ipop_err_name() into the stable machine-readable name used on the wire. */
#ifndef IPOP_ERROR_H
#define IPOP_ERROR_H

/* X(NAME, value, wire-name, description) */
#define IPOP_ERRNO_MAP(X)                                                     \
  X(EINVAL,      -1,  "invalid",           "invalid argument")                \
  X(ENOMEM,      -2,  "no_memory",         "out of memory")                   \
  X(EIO,         -3,  "io",                "input/output error")              \
  X(ENOENT,      -4,  "not_found",         "no such object")                  \
  X(EEXIST,      -5,  "exists",            "object already exists")           \
  X(ETOOBIG,     -6,  "too_large",         "input exceeds the size limit")    \
  X(EPARSE,      -7,  "bad_json",          "malformed JSON")                  \
  X(EFIELD,      -8,  "bad_field",         "field has a wrong type or value") \
  X(EMISSING,    -9,  "missing_field",     "required field is missing")       \
  X(EUNKNOWN,    -10, "unknown_field",     "unknown field")                   \
  X(ENOCMD,      -11, "unknown_command",   "unknown command")                 \
  X(EVERSION,    -12, "version_mismatch",  "protocol version mismatch")       \
  X(EAUTH,       -13, "auth_failed",       "authentication failed")           \
  X(EREPLAY,     -14, "replayed",          "replayed or stale message")       \
  X(ETIMEDOUT,   -15, "timeout",           "timed out")                       \
  X(EPERM,       -16, "permission",        "operation not permitted")         \
  X(ESTATE,      -17, "bad_state",         "not allowed in the current state") \
  X(ENOTSUP,     -18, "not_supported",     "not supported")                   \
  X(ECRYPTO,     -19, "crypto",            "cryptographic failure")           \
  X(ESYS,        -20, "system",            "system call failed")              \
  X(EBUSY,       -21, "busy",              "resource busy")                   \
  X(ECONNREFUSED,-22, "unreachable",       "peer not reachable")              \
  X(EINTERNAL,   -23, "internal",          "internal error")

enum ipop_err {
  IPOP_OK = 0,
#define IPOP__ERR_ENUM(name, val, wire, desc) IPOP_##name = (val),
  IPOP_ERRNO_MAP(IPOP__ERR_ENUM)
#undef IPOP__ERR_ENUM
};

const char *ipop_strerror(int err);
const char *ipop_err_name(int err);
/* Reverse of ipop_err_name(); IPOP_EINTERNAL for names we do not know. */
int ipop_err_from_name(const char *name);

#include <stddef.h>

/* snprintf into why (a caller's explanation buffer) unless why is NULL or
 * whylen is 0. */
void ipop_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
