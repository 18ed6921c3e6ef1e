/* grow: make room in a dynamic array (pointer + capacity), doubling it. */
#ifndef IPOP_GROW_H
#define IPOP_GROW_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* arrp points to the array's pointer (any element type), *cap is its
 * capacity in elements, n the elements in use.  With n < *cap nothing
 * happens; else the array grows to twice its capacity (first for an empty
 * one).  0, or IPOP_ENOMEM with the array unchanged. */
static inline int ipop_grow(void *arrp, size_t *cap, size_t n, size_t elem, size_t first)
{
  if (n < *cap)
    return 0;
  size_t c = *cap ? 2 * *cap : first;
  if (c <= n || c > SIZE_MAX / elem)
    return IPOP_ENOMEM;
  void *old, *v;
  memcpy(&old, arrp, sizeof old);
  if (!(v = realloc(old, c * elem)))
    return IPOP_ENOMEM;
  memcpy(arrp, &v, sizeof v);
  *cap = c;
  return 0;
}

#endif
