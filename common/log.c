#include "log.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };

static struct {
  char ident[32];
  enum ipop_log_level level;
  FILE *file;
} logger = { "ipop", IPOP_LOG_INFO, NULL };

void ipop_log_init(const char *ident, enum ipop_log_level level)
{
  snprintf(logger.ident, sizeof logger.ident, "%s", ident ? ident : "ipop");
  logger.level = level;
}

void ipop_log_set_level(enum ipop_log_level level) { logger.level = level; }
enum ipop_log_level ipop_log_get_level(void) { return logger.level; }

/* Open a log file for appending without being tricked into writing
 * somewhere else: no symbolic link as the last component (O_NOFOLLOW), a
 * regular file with one link (not a hard link to, say, /etc/shadow), owned
 * by the user we run as (a file we created, or our own). */
static FILE *log_open(const char *path, char *why, size_t whylen)
{
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0640);
  struct stat st;
  if (fd < 0) {
    snprintf(why, whylen, "cannot open %s: %s", path,
             errno == ELOOP ? "it is a symbolic link" : strerror(errno));
    return NULL;
  }
  const char *bad = NULL;
  if (fstat(fd, &st) != 0)
    bad = strerror(errno);
  else if (!S_ISREG(st.st_mode))
    bad = "not a regular file";
  else if (st.st_nlink != 1)
    bad = "it has more than one hard link";
  else if (st.st_uid != geteuid())
    bad = "owned by another user";
  FILE *f = bad ? NULL : fdopen(fd, "a");
  if (!f) {
    snprintf(why, whylen, "refusing %s: %s", path, bad ? bad : strerror(errno));
    close(fd);
  }
  return f;
}

int ipop_log_set_file(const char *path, char *why, size_t whylen)
{
  FILE *f = NULL;
  if (path) {
    f = log_open(path, why, whylen);
    if (!f)
      return IPOP_ESYS;
    setvbuf(f, NULL, _IOLBF, 0);
  }
  if (logger.file)
    fclose(logger.file);
  logger.file = f;
  return 0;
}

void ipop_log_close(void) { ipop_log_set_file(NULL, NULL, 0); }

int ipop_log_level_parse(const char *name)
{
  for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
    if (name && strcmp(name, level_names[i]) == 0)
      return (int)i;
  return -1;
}

const char *ipop_log_level_name(enum ipop_log_level level)
{
  return (unsigned)level < sizeof level_names / sizeof level_names[0]
             ? level_names[level] : "?";
}

uint64_t ipop_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t ipop_wallclock_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void log_emit(enum ipop_log_level level, const char *module,
                     const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

static void log_emit(enum ipop_log_level level, const char *module,
                     const char *fmt, va_list ap)
{
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  /* Keep one record per line: a peer-supplied string must not forge lines. */
  for (char *p = msg; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';

  int saved = errno;
  /* stderr: journald adds its own timestamp; the level word stays readable. */
  fprintf(stderr, "%s[%d]: %-5s %s: %s\n", logger.ident, (int)getpid(),
          level_names[level], module, msg);
  if (logger.file) {
    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(logger.file, "%s.%03ldZ %s %-5s %s: %s\n", when,
            ts.tv_nsec / 1000000, logger.ident, level_names[level], module, msg);
  }
  errno = saved;
}

void ipop_log(enum ipop_log_level level, const char *module, const char *fmt, ...)
{
  if (level > logger.level)
    return;
  va_list ap;
  va_start(ap, fmt);
  log_emit(level, module, fmt, ap);
  va_end(ap);
}

void ipop_log_rl(struct ipop_ratelimit *rl, enum ipop_log_level level,
                 const char *module, const char *fmt, ...)
{
  if (level > logger.level)
    return;
  uint64_t now = ipop_now_ms();
  if (rl->window_start_ms == 0 || now - rl->window_start_ms >= rl->interval_ms) {
    if (rl->suppressed)
      ipop_log(level, module, "(%u similar messages suppressed)", rl->suppressed);
    rl->window_start_ms = now;
    rl->printed = 0;
    rl->suppressed = 0;
  }
  if (rl->printed >= rl->burst) {
    rl->suppressed++;
    return;
  }
  rl->printed++;
  va_list ap;
  va_start(ap, fmt);
  log_emit(level, module, fmt, ap);
  va_end(ap);
}
