/* promtext.h: a small appending writer for the Prometheus text format. */
#include "promtext.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(struct promtext *p, const char *s, size_t n)
{
  if (p->failed)
    return;
  if (p->len + n + 1 > p->cap) {
    size_t c = p->cap ? p->cap : 4096;
    while (c < p->len + n + 1)
      c *= 2;
    char *b = realloc(p->buf, c);
    if (!b) {
      p->failed = true;
      return;
    }
    p->buf = b;
    p->cap = c;
  }
  memcpy(p->buf + p->len, s, n);
  p->len += n;
  p->buf[p->len] = '\0';
}

__attribute__((format(printf, 2, 3))) static void putf(struct promtext *p, const char *fmt, ...)
{
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0)
    put(p, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void puts_(struct promtext *p, const char *s)
{
  put(p, s, strlen(s));
}

void promtext_escape(struct promtext *p, const char *v)
{
  const char *run = v;
  for (; *v; v++) {
    const char *rep = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n" : NULL;
    if (!rep)
      continue;
    put(p, run, (size_t)(v - run));
    puts_(p, rep);
    run = v + 1;
  }
  put(p, run, (size_t)(v - run));
}

/* HELP text escapes only backslash and newline. */
static void help_escape(struct promtext *p, const char *v)
{
  for (; *v; v++)
    if (*v == '\\')
      puts_(p, "\\\\");
    else if (*v == '\n')
      puts_(p, "\\n");
    else
      put(p, v, 1);
}

void promtext_family(struct promtext *p, const char *name, const char *type, const char *help)
{
  puts_(p, "# HELP ");
  puts_(p, name);
  put(p, " ", 1);
  help_escape(p, help);
  puts_(p, "\n# TYPE ");
  puts_(p, name);
  put(p, " ", 1);
  puts_(p, type);
  put(p, "\n", 1);
}

static void head(struct promtext *p, const char *name, const struct prom_label *l, size_t n)
{
  puts_(p, name);
  if (!n)
    return;
  put(p, "{", 1);
  for (size_t i = 0; i < n; i++) {
    if (i)
      put(p, ",", 1);
    puts_(p, l[i].name);
    put(p, "=\"", 2);
    promtext_escape(p, l[i].value ? l[i].value : "");
    put(p, "\"", 1);
  }
  put(p, "}", 1);
}

void promtext_u64(struct promtext *p, const char *name, const struct prom_label *labels,
                  size_t n, uint64_t value)
{
  head(p, name, labels, n);
  putf(p, " %" PRIu64 "\n", value);
}

void promtext_double(struct promtext *p, const char *name, const struct prom_label *labels,
                     size_t n, double value)
{
  head(p, name, labels, n);
  putf(p, " %.9g\n", value);
}

char *promtext_take(struct promtext *p, size_t *len)
{
  if (p->failed || !p->buf) {
    promtext_free(p);
    return NULL;
  }
  char *b = p->buf;
  *len = p->len;
  memset(p, 0, sizeof *p);
  return b;
}

void promtext_free(struct promtext *p)
{
  free(p->buf);
  memset(p, 0, sizeof *p);
}
