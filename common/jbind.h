/* jbind: table-driven binding between JSON objects and flat C structs.
 *
 * Every parser of outside JSON (control messages, config files) describes its
 * struct once, as a table of fields; jbind decodes with full validation and
 * errors that name the key path ("Overlays[0].Turn[1].Password: expected
 * string, found integer"), and encodes back.  Structs hold only fixed-size
 * arrays, so a decoded message owns no heap memory and needs no free. */
#ifndef IPOP_JBIND_H
#define IPOP_JBIND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jb_type {
  JB_STR,      /* char[size], length 0..size-1 (min_len via .min), UTF-8 */
  JB_U32,      /* uint32_t in [min, max] */
  JB_U64,      /* uint64_t in [min, max] (JSON integers stop at 2^63-1) */
  JB_BOOL,     /* bool */
  JB_ENUM,     /* int index into .names; JSON is one of the names */
  JB_MAC,      /* uint8_t[6], "02:00:5e:10:00:01" */
  JB_IP4,      /* struct in_addr, dotted quad */
  JB_IP6,      /* struct in6_addr, RFC 4291 text */
  JB_OBJ,      /* nested struct described by .sub */
  JB_STR_ARR,  /* char[max_count][size] with a uint32_t count at .count_off */
  JB_OBJ_ARR,  /* sub-struct[max_count] with a uint32_t count at .count_off */
  JB_FOREIGN,  /* an object owned by another program's schema: checked to be an
                  object, contents not looked at, nothing stored, not encoded */
};

enum {
  JB_REQUIRED = 1u << 0, /* absent -> error */
  JB_SECRET   = 1u << 1, /* value never appears in error messages */
};

struct jb_schema;

struct jb_field {
  const char *name;
  enum jb_type type;
  unsigned flags;
  size_t off;                   /* offset of the value in the struct */
  size_t size;                  /* JB_STR/JB_STR_ARR: buffer size per string;
                                   JB_OBJ_ARR: element size */
  size_t has_off;               /* offset+1 of a bool set when present (0: none) */
  size_t count_off;             /* arrays: offset of uint32_t element count */
  uint32_t max_count;           /* arrays: capacity */
  uint64_t min, max;            /* numbers: range; strings: .min = min length */
  const struct jb_schema *sub;  /* JB_OBJ, JB_OBJ_ARR */
  const char *const *names;     /* JB_ENUM, NULL-terminated */
  const char *def_str;          /* default for absent JB_STR / JB_ENUM name */
  uint64_t def_num;             /* default for absent numbers / bools */
};

struct jb_schema {
  const char *name;
  const struct jb_field *fields;
  size_t nfields;
  size_t struct_size;
};

#define JB_NFIELDS(arr) (sizeof(arr) / sizeof((arr)[0]))
#define JB_SCHEMA(sname, type, fieldarr) \
  { (sname), (fieldarr), JB_NFIELDS(fieldarr), sizeof(type) }

/* Field constructors.  T is the struct type, m the member name. */
#define JB_F_STR(T, m, key, fl, minlen, def, ...) \
  { .name = (key), .type = JB_STR, .flags = (fl), .off = offsetof(T, m), \
    .size = sizeof(((T *)0)->m), .min = (minlen), .def_str = (def), __VA_ARGS__ }
#define JB_F_U32(T, m, key, fl, lo, hi, def, ...) \
  { .name = (key), .type = JB_U32, .flags = (fl), .off = offsetof(T, m), \
    .min = (lo), .max = (hi), .def_num = (def), __VA_ARGS__ }
#define JB_F_U64(T, m, key, fl, lo, hi, def, ...) \
  { .name = (key), .type = JB_U64, .flags = (fl), .off = offsetof(T, m), \
    .min = (lo), .max = (hi), .def_num = (def), __VA_ARGS__ }
#define JB_F_BOOL(T, m, key, fl, def, ...) \
  { .name = (key), .type = JB_BOOL, .flags = (fl), .off = offsetof(T, m), \
    .def_num = (def), __VA_ARGS__ }
#define JB_F_ENUM(T, m, key, fl, namearr, def, ...) \
  { .name = (key), .type = JB_ENUM, .flags = (fl), .off = offsetof(T, m), \
    .names = (namearr), .def_str = (def), __VA_ARGS__ }
#define JB_F_MAC(T, m, key, fl, ...) \
  { .name = (key), .type = JB_MAC, .flags = (fl), .off = offsetof(T, m), __VA_ARGS__ }
#define JB_F_IP4(T, m, key, fl, ...) \
  { .name = (key), .type = JB_IP4, .flags = (fl), .off = offsetof(T, m), __VA_ARGS__ }
#define JB_F_IP6(T, m, key, fl, ...) \
  { .name = (key), .type = JB_IP6, .flags = (fl), .off = offsetof(T, m), __VA_ARGS__ }
#define JB_F_OBJ(T, m, key, fl, schema, ...) \
  { .name = (key), .type = JB_OBJ, .flags = (fl), .off = offsetof(T, m), \
    .sub = (schema), __VA_ARGS__ }
#define JB_F_STR_ARR(T, m, cnt, key, fl, minlen, ...) \
  { .name = (key), .type = JB_STR_ARR, .flags = (fl), .off = offsetof(T, m), \
    .size = sizeof(((T *)0)->m[0]), .count_off = offsetof(T, cnt), \
    .max_count = sizeof(((T *)0)->m) / sizeof(((T *)0)->m[0]), .min = (minlen), __VA_ARGS__ }
#define JB_F_OBJ_ARR(T, m, cnt, key, fl, schema, ...) \
  { .name = (key), .type = JB_OBJ_ARR, .flags = (fl), .off = offsetof(T, m), \
    .size = sizeof(((T *)0)->m[0]), .count_off = offsetof(T, cnt), \
    .max_count = sizeof(((T *)0)->m) / sizeof(((T *)0)->m[0]), .sub = (schema), __VA_ARGS__ }
#define JB_F_FOREIGN(key) { .name = (key), .type = JB_FOREIGN }
/* Extra designator for any constructor: record presence in a bool member,
 * e.g. JB_F_IP6(T, ip6, "ip6", 0, JB_PRESENCE(T, has_ip6)). */
#define JB_PRESENCE(T, hasm) .has_off = offsetof(T, hasm) + 1

struct jb_error {
  int code;          /* IPOP_E* */
  char path[160];    /* "Overlays[0].Turn[1].Password" ("" for the root) */
  char msg[320];     /* complete human text, path included */
};

/* Fill err (if not NULL) with code, path and "path: text"; returns code.
 * For parsers built on jbind that report their own errors the same way. */
int jb_error_set(struct jb_error *err, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Decode obj into out (memset to 0 first, then defaults applied).
 * Unknown keys are rejected (strict), so a typo is an error, not a silent
 * default.  prefix is prepended to error paths (may be NULL). */
int jb_decode(const struct jb_schema *s, json_t *obj, void *out,
              const char *prefix, struct jb_error *err);

/* Encode in into a new JSON object; NULL on out-of-memory.  Optional fields
 * with a presence flag are emitted only when present. */
json_t *jb_encode(const struct jb_schema *s, const void *in);

/* Fill in defaults only (what jb_decode does with an empty object). */
void jb_defaults(const struct jb_schema *s, void *out);

/* Reject JSON text nested deeper than max_depth before a parser recurses
 * into it.  Returns 0 or IPOP_ETOOBIG. */
int jb_check_depth(const char *buf, size_t len, unsigned max_depth);

/* JSON type name for messages: "string", "integer", "object", ... */
const char *jb_json_type_name(const json_t *v);

#endif
