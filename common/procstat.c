/* procstat.h: /proc/self/stat, /proc/self/fd and the NOFILE limit. */
#include "procstat.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

/* Fields of /proc/PID/stat after the command name, which is in
 * parentheses and may itself hold spaces and ')': parse from the last ')'.
 * Field 3 is the state; we need 14 utime, 15 stime, 22 starttime,
 * 23 vsize, 24 rss (pages). */
int ipop_procstat_parse_stat(const char *text, long ticks, long page, uint64_t btime_s,
                             struct ipop_procstat *out)
{
  const char *p = strrchr(text, ')');
  if (!p || ticks <= 0 || page <= 0)
    return IPOP_EINVAL;
  p++;
  unsigned long long v[25] = { 0 };
  int field = 2;
  while (*p && field < 24) {
    while (*p == ' ')
      p++;
    if (!*p)
      break;
    field++;
    char *end;
    unsigned long long x = strtoull(p, &end, 10);
    if (end == p) { /* the state letter or a negative number */
      while (*p && *p != ' ')
        p++;
      continue;
    }
    v[field] = x;
    p = end;
  }
  if (field < 24)
    return IPOP_EINVAL;
  out->cpu_ms = (uint64_t)((v[14] + v[15]) * 1000ull / (unsigned long long)ticks);
  out->start_time_s = btime_s + (uint64_t)(v[22] / (unsigned long long)ticks);
  out->vsize_bytes = v[23];
  out->rss_bytes = v[24] * (uint64_t)page;
  return 0;
}

/* When the machine booted, in Unix time: the real-time clock less the
 * time since boot (no /proc/stat needed: systemd's ProcSubset=pid hides
 * it). */
static uint64_t boot_time_s(void)
{
  struct timespec rt, bt;
  if (clock_gettime(CLOCK_REALTIME, &rt) != 0 || clock_gettime(CLOCK_BOOTTIME, &bt) != 0 ||
      rt.tv_sec < bt.tv_sec)
    return 0;
  return (uint64_t)(rt.tv_sec - bt.tv_sec);
}

static uint32_t count_fds(void)
{
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return 0;
  uint32_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += e->d_name[0] != '.';
  closedir(d);
  return n ? n - 1 : 0; /* not the directory's own descriptor */
}

int ipop_procstat_self(struct ipop_procstat *out)
{
  memset(out, 0, sizeof *out);
  out->pid = (uint32_t)getpid();
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    out->max_fds = rl.rlim_cur > UINT32_MAX ? UINT32_MAX : (uint32_t)rl.rlim_cur;
  out->open_fds = count_fds();
  char buf[1024];
  FILE *f = fopen("/proc/self/stat", "re");
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f)
    fclose(f);
  buf[n] = '\0';
  if (!n || ipop_procstat_parse_stat(buf, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE),
                                     boot_time_s(), out) != 0)
    return IPOP_EIO;
  return 0;
}
