/* procstat: this process's CPU time, memory and file descriptors from
 * /proc/self, the numbers Prometheus's process_* metrics carry.  Both
 * daemons use it: the controller for itself, ipop-tincan to answer
 * query_process. */
#ifndef IPOP_PROCSTAT_H
#define IPOP_PROCSTAT_H

#include <stdint.h>

struct ipop_procstat {
  uint32_t pid;
  uint64_t cpu_ms;              /* user + system */
  uint64_t rss_bytes;
  uint64_t vsize_bytes;
  uint32_t open_fds;
  uint32_t max_fds;             /* RLIMIT_NOFILE soft limit */
  uint64_t start_time_s;        /* since the Unix epoch */
};

/* Read /proc/self.  0, or IPOP_EIO when /proc is not readable (the fields
 * read so far are kept; the rest are 0). */
int ipop_procstat_self(struct ipop_procstat *out);

/* For tests: parse the text of a /proc/PID/stat file (clock ticks per
 * second, page size and boot time given).  0 or IPOP_EINVAL. */
int ipop_procstat_parse_stat(const char *text, long ticks, long page, uint64_t btime_s,
                             struct ipop_procstat *out);

#endif
