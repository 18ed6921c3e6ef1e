/* promtext: the Prometheus text exposition format (version 0.0.4) written
 * into a growing buffer.  Pure: no controller state; unit-tested on its
 * own, including hostile label values (a peer's JID is outside input). */
#ifndef IPOP_PROMTEXT_H
#define IPOP_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct promtext {
  char *buf;
  size_t len, cap;
  bool failed;                  /* out of memory: the text is incomplete */
};

/* One label: name="value"; value is escaped (\\, \", \n). */
struct prom_label {
  const char *name;
  const char *value;
};

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge,
 * untyped).  Each family once, before its samples. */
void promtext_family(struct promtext *p, const char *name, const char *type, const char *help);
/* name{labels} value; integers are printed exactly, doubles with %.9g. */
void promtext_u64(struct promtext *p, const char *name, const struct prom_label *labels,
                  size_t n, uint64_t value);
void promtext_double(struct promtext *p, const char *name, const struct prom_label *labels,
                     size_t n, double value);
/* Append a label value escaped as the format wants. */
void promtext_escape(struct promtext *p, const char *value);
/* Take the text (NUL-terminated); NULL if anything failed.  The writer is
 * empty afterwards. */
char *promtext_take(struct promtext *p, size_t *len);
void promtext_free(struct promtext *p);

#endif
