/* Leveled logging to stderr (for journald) and optionally a file.
 * One process-wide logger: the log is the one piece of state every module
 * shares, and it carries no session state. Never pass secrets to it. */
#ifndef IPOP_LOG_H
#define IPOP_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ipop_log_level {
  IPOP_LOG_ERROR = 0,
  IPOP_LOG_WARN,
  IPOP_LOG_INFO,
  IPOP_LOG_DEBUG,
  IPOP_LOG_TRACE,
};

/* ident: program name printed on every line. */
void ipop_log_init(const char *ident, enum ipop_log_level level);
void ipop_log_set_level(enum ipop_log_level level);
enum ipop_log_level ipop_log_get_level(void);
/* Also append to path (NULL closes the file).  The file must not be a
 * symbolic link or have other hard links, and must belong to the effective
 * user (it is created 0640 if missing).  Returns 0, or IPOP_ESYS with a
 * sentence naming the path in why. */
int ipop_log_set_file(const char *path, char *why, size_t whylen);
void ipop_log_close(void);

/* "error", "warn", "info", "debug", "trace" <-> level; -1 if unknown. */
int ipop_log_level_parse(const char *name);
const char *ipop_log_level_name(enum ipop_log_level level);

void ipop_log(enum ipop_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Rate limit: at most `burst` lines per `interval_ms`; the suppressed count
 * is reported with the next line that gets through. Embed one per call site. */
struct ipop_ratelimit {
  uint64_t window_start_ms;
  uint32_t interval_ms;
  uint32_t burst;
  uint32_t printed;
  uint32_t suppressed;
};
#define IPOP_RATELIMIT_INIT(interval_ms, burst) { 0, (interval_ms), (burst), 0, 0 }

void ipop_log_rl(struct ipop_ratelimit *rl, enum ipop_log_level level,
                 const char *module, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOG_ERROR(mod, ...) ipop_log(IPOP_LOG_ERROR, (mod), __VA_ARGS__)
#define LOG_WARN(mod, ...)  ipop_log(IPOP_LOG_WARN, (mod), __VA_ARGS__)
#define LOG_INFO(mod, ...)  ipop_log(IPOP_LOG_INFO, (mod), __VA_ARGS__)
#define LOG_DEBUG(mod, ...) ipop_log(IPOP_LOG_DEBUG, (mod), __VA_ARGS__)
#define LOG_TRACE(mod, ...) ipop_log(IPOP_LOG_TRACE, (mod), __VA_ARGS__)

/* Milliseconds on CLOCK_MONOTONIC / CLOCK_REALTIME. */
uint64_t ipop_now_ms(void);
uint64_t ipop_wallclock_ms(void);

#endif
