#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ipop_strerror(int err)
{
  switch (err) {
  case 0: return "success";
#define IPOP__ERR_STR(name, val, wire, desc) case (val): return desc;
  IPOP_ERRNO_MAP(IPOP__ERR_STR)
#undef IPOP__ERR_STR
  }
  return "unknown error";
}

const char *ipop_err_name(int err)
{
  switch (err) {
  case 0: return "ok";
#define IPOP__ERR_NAME(name, val, wire, desc) case (val): return wire;
  IPOP_ERRNO_MAP(IPOP__ERR_NAME)
#undef IPOP__ERR_NAME
  }
  return "unknown";
}

int ipop_err_from_name(const char *name)
{
#define IPOP__ERR_FROM(n, val, wire, desc) if (strcmp(name, wire) == 0) return (val);
  IPOP_ERRNO_MAP(IPOP__ERR_FROM)
#undef IPOP__ERR_FROM
  return IPOP_EINTERNAL;
}

void ipop_why(char *why, size_t whylen, const char *fmt, ...)
{
  if (!why || whylen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, whylen, fmt, ap);
  va_end(ap);
}
