#include "jbind.h"
#include "error.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FIELD_PTR(base, off) ((void *)((char *)(base) + (off)))
#define FIELD_CPTR(base, off) ((const void *)((const char *)(base) + (off)))

const char *jb_json_type_name(const json_t *v)
{
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "object";
  case JSON_ARRAY: return "array";
  case JSON_STRING: return "string";
  case JSON_INTEGER: return "integer";
  case JSON_REAL: return "number";
  case JSON_TRUE:
  case JSON_FALSE: return "boolean";
  case JSON_NULL: return "null";
  }
  return "?";
}

int jb_error_set(struct jb_error *err, int code, const char *path, const char *fmt, ...)
{
  if (!err)
    return code;
  char text[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  err->code = code;
  snprintf(err->path, sizeof err->path, "%s", path);
  if (path[0])
    snprintf(err->msg, sizeof err->msg, "%s: %s", path, text);
  else
    snprintf(err->msg, sizeof err->msg, "%s", text);
  return code;
}

/* Describe what was found, quoting short scalar values unless secret. */
static void describe_found(const json_t *v, unsigned flags, char *buf, size_t n)
{
  if (flags & JB_SECRET) {
    snprintf(buf, n, "%s", jb_json_type_name(v));
    return;
  }
  switch (json_typeof(v)) {
  case JSON_STRING: {
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len > 40)
      snprintf(buf, n, "string of %zu bytes", len);
    else
      snprintf(buf, n, "\"%.*s\"", (int)len, s);
    break;
  }
  case JSON_INTEGER:
    snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    break;
  default:
    snprintf(buf, n, "%s", jb_json_type_name(v));
  }
}

static void path_join(char *out, size_t n, const char *prefix, const char *key)
{
  if (!prefix || !prefix[0])
    snprintf(out, n, "%s", key);
  else
    snprintf(out, n, "%s.%s", prefix, key);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
  unsigned v[6];
  char tail;
  if (strlen(s) != 17 ||
      sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4],
             &v[5], &tail) != 6)
    return -1;
  for (int i = 0; i < 6; i++) {
    /* sscanf's %x accepts a sign or spaces; demand two hex digits each. */
    const char *d = s + 3 * i;
    if (!strchr("0123456789abcdefABCDEF", d[0]) || !d[0] ||
        !strchr("0123456789abcdefABCDEF", d[1]) || !d[1])
      return -1;
    mac[i] = (uint8_t)v[i];
  }
  return 0;
}

/* Valid UTF-8 and no control characters except none: strings we store may
 * end up in logs, interface names or file names. jansson already guarantees
 * UTF-8; we refuse embedded NUL and C0 controls. */
static bool str_clean(const char *s, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return false;
  return true;
}

static int decode_obj(const struct jb_schema *s, json_t *obj, void *out,
                      const char *path, struct jb_error *err);

static int decode_str(const struct jb_field *f, json_t *v, char *dst,
                      size_t size, const char *path, struct jb_error *err)
{
  char found[64];
  if (!json_is_string(v)) {
    describe_found(v, f->flags, found, sizeof found);
    return jb_error_set(err, IPOP_EFIELD, path, "expected string, found %s", found);
  }
  size_t len = json_string_length(v);
  if (len >= size)
    return jb_error_set(err, IPOP_EFIELD, path,
                   "string too long (%zu bytes, at most %zu)", len, size - 1);
  if (len < f->min)
    return jb_error_set(err, IPOP_EFIELD, path,
                   "string too short (%zu bytes, at least %llu)", len,
                   (unsigned long long)f->min);
  if (!str_clean(json_string_value(v), len))
    return jb_error_set(err, IPOP_EFIELD, path,
                   "string contains control characters or NUL");
  memcpy(dst, json_string_value(v), len);
  dst[len] = '\0';
  return 0;
}

static int decode_value(const struct jb_field *f, json_t *v, void *out,
                        const char *path, struct jb_error *err)
{
  char found[64];
  void *dst = FIELD_PTR(out, f->off);

  switch (f->type) {
  case JB_STR:
    return decode_str(f, v, dst, f->size, path, err);

  case JB_U32:
  case JB_U64: {
    if (!json_is_integer(v)) {
      describe_found(v, f->flags, found, sizeof found);
      return jb_error_set(err, IPOP_EFIELD, path, "expected integer in %llu..%llu, found %s",
                     (unsigned long long)f->min, (unsigned long long)f->max, found);
    }
    json_int_t iv = json_integer_value(v);
    if (iv < 0 || (uint64_t)iv < f->min || (uint64_t)iv > f->max)
      return jb_error_set(err, IPOP_EFIELD, path, "expected integer in %llu..%llu, found %lld",
                     (unsigned long long)f->min, (unsigned long long)f->max,
                     (long long)iv);
    if (f->type == JB_U32)
      *(uint32_t *)dst = (uint32_t)iv;
    else
      *(uint64_t *)dst = (uint64_t)iv;
    return 0;
  }

  case JB_BOOL:
    if (!json_is_boolean(v)) {
      describe_found(v, f->flags, found, sizeof found);
      return jb_error_set(err, IPOP_EFIELD, path, "expected true or false, found %s", found);
    }
    *(bool *)dst = json_is_true(v);
    return 0;

  case JB_ENUM: {
    char expected[200] = "";
    size_t used = 0;
    for (int i = 0; f->names[i]; i++) {
      if (json_is_string(v) && strcmp(json_string_value(v), f->names[i]) == 0 &&
          strlen(f->names[i]) == json_string_length(v)) {
        *(int *)dst = i;
        return 0;
      }
      int w = snprintf(expected + used, sizeof expected - used, "%s\"%s\"",
                       i ? ", " : "", f->names[i]);
      if (w > 0 && (size_t)w < sizeof expected - used)
        used += (size_t)w;
    }
    describe_found(v, f->flags, found, sizeof found);
    return jb_error_set(err, IPOP_EFIELD, path, "expected one of %s, found %s", expected,
                   found);
  }

  case JB_MAC:
  case JB_IP4:
  case JB_IP6: {
    static const char *const what[] = {
        [JB_MAC] = "a MAC address like \"02:00:5e:10:00:01\"",
        [JB_IP4] = "an IPv4 address like \"10.254.0.1\"",
        [JB_IP6] = "an IPv6 address like \"fd00::1\"",
    };
    int ok = -1;
    if (json_is_string(v) && json_string_length(v) < 64 &&
        strlen(json_string_value(v)) == json_string_length(v)) {
      const char *sv = json_string_value(v);
      if (f->type == JB_MAC)
        ok = parse_mac(sv, dst);
      else if (f->type == JB_IP4)
        ok = inet_pton(AF_INET, sv, dst) == 1 ? 0 : -1;
      else
        ok = inet_pton(AF_INET6, sv, dst) == 1 ? 0 : -1;
    }
    if (ok != 0) {
      describe_found(v, f->flags, found, sizeof found);
      return jb_error_set(err, IPOP_EFIELD, path, "expected %s, found %s", what[f->type],
                     found);
    }
    return 0;
  }

  case JB_OBJ:
    return decode_obj(f->sub, v, dst, path, err);

  case JB_FOREIGN:
    if (!json_is_object(v)) {
      describe_found(v, f->flags, found, sizeof found);
      return jb_error_set(err, IPOP_EFIELD, path, "expected object, found %s", found);
    }
    return 0;

  case JB_STR_ARR:
  case JB_OBJ_ARR: {
    if (!json_is_array(v)) {
      describe_found(v, f->flags, found, sizeof found);
      return jb_error_set(err, IPOP_EFIELD, path, "expected array, found %s", found);
    }
    size_t n = json_array_size(v);
    if (n > f->max_count)
      return jb_error_set(err, IPOP_ETOOBIG, path, "too many elements (%zu, at most %u)", n,
                     f->max_count);
    for (size_t i = 0; i < n; i++) {
      char ipath[sizeof err->path];
      snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
      void *elem = (char *)dst + i * f->size;
      int r = f->type == JB_STR_ARR
                  ? decode_str(f, json_array_get(v, i), elem, f->size, ipath, err)
                  : decode_obj(f->sub, json_array_get(v, i), elem, ipath, err);
      if (r)
        return r;
    }
    *(uint32_t *)FIELD_PTR(out, f->count_off) = (uint32_t)n;
    return 0;
  }
  }
  return jb_error_set(err, IPOP_EINTERNAL, path, "bad schema");
}

static void default_field(const struct jb_field *f, void *out)
{
  void *dst = FIELD_PTR(out, f->off);
  switch (f->type) {
  case JB_STR:
    if (f->def_str)
      snprintf(dst, f->size, "%s", f->def_str);
    break;
  case JB_U32: *(uint32_t *)dst = (uint32_t)f->def_num; break;
  case JB_U64: *(uint64_t *)dst = f->def_num; break;
  case JB_BOOL: *(bool *)dst = f->def_num != 0; break;
  case JB_ENUM:
    *(int *)dst = 0;
    for (int i = 0; f->def_str && f->names[i]; i++)
      if (strcmp(f->names[i], f->def_str) == 0)
        *(int *)dst = i;
    break;
  case JB_OBJ:
    jb_defaults(f->sub, dst);
    break;
  default:
    break;
  }
}

void jb_defaults(const struct jb_schema *s, void *out)
{
  for (size_t i = 0; i < s->nfields; i++)
    default_field(&s->fields[i], out);
}

static int decode_obj(const struct jb_schema *s, json_t *obj, void *out,
                      const char *path, struct jb_error *err)
{
  if (!json_is_object(obj))
    return jb_error_set(err, IPOP_EFIELD, path, "expected object, found %s",
                   jb_json_type_name(obj));

  /* Strict: every key must be known.  Look them up first so that a typo is
   * reported as the unknown key rather than as a missing required one. */
  const char *key;
  json_t *val;
  json_object_foreach(obj, key, val) {
    bool known = false;
    for (size_t i = 0; i < s->nfields && !known; i++)
      known = strcmp(s->fields[i].name, key) == 0;
    if (!known) {
      char kpath[sizeof err->path], shown[48];
      size_t klen = strlen(key), cut = klen > 40 ? 40 : klen;
      while (cut < klen && cut > 0 && ((unsigned char)key[cut] & 0xc0) == 0x80)
        cut--; /* never cut a UTF-8 sequence: the text may go into JSON */
      snprintf(shown, sizeof shown, "%.*s%s", (int)cut, key, cut < klen ? "..." : "");
      for (char *p = shown; *p; p++)
        if ((unsigned char)*p < 0x20)
          *p = '?';
      path_join(kpath, sizeof kpath, path, shown);
      return jb_error_set(err, IPOP_EUNKNOWN, kpath, "unknown key (not part of %s)",
                     s->name);
    }
  }

  for (size_t i = 0; i < s->nfields; i++) {
    const struct jb_field *f = &s->fields[i];
    char fpath[sizeof err->path];
    path_join(fpath, sizeof fpath, path, f->name);
    json_t *v = json_object_get(obj, f->name);
    if (!v) {
      if (f->flags & JB_REQUIRED)
        return jb_error_set(err, IPOP_EMISSING, fpath, "required key is missing");
      default_field(f, out);
      continue;
    }
    int r = decode_value(f, v, out, fpath, err);
    if (r)
      return r;
    if (f->has_off)
      *(bool *)FIELD_PTR(out, f->has_off - 1) = true;
  }
  return 0;
}

int jb_decode(const struct jb_schema *s, json_t *obj, void *out,
              const char *prefix, struct jb_error *err)
{
  if (err)
    memset(err, 0, sizeof *err);
  memset(out, 0, s->struct_size);
  if (!obj)
    return jb_error_set(err, IPOP_EMISSING, prefix ? prefix : "", "missing object");
  return decode_obj(s, obj, out, prefix ? prefix : "", err);
}

static json_t *encode_value(const struct jb_field *f, const void *in)
{
  const void *src = FIELD_CPTR(in, f->off);
  char text[INET6_ADDRSTRLEN];

  switch (f->type) {
  case JB_STR: return json_string(src);
  case JB_U32: return json_integer(*(const uint32_t *)src);
  case JB_U64: return json_integer((json_int_t)*(const uint64_t *)src);
  case JB_BOOL: return json_boolean(*(const bool *)src);
  case JB_ENUM: {
    int idx = *(const int *)src;
    for (int i = 0; f->names[i]; i++)
      if (i == idx)
        return json_string(f->names[i]);
    return json_null();
  }
  case JB_MAC: {
    const uint8_t *m = src;
    snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
             m[3], m[4], m[5]);
    return json_string(text);
  }
  case JB_IP4:
    inet_ntop(AF_INET, src, text, sizeof text);
    return json_string(text);
  case JB_IP6:
    inet_ntop(AF_INET6, src, text, sizeof text);
    return json_string(text);
  case JB_OBJ:
    return jb_encode(f->sub, src);
  case JB_FOREIGN:
    return NULL;
  case JB_STR_ARR:
  case JB_OBJ_ARR: {
    json_t *arr = json_array();
    uint32_t n = *(const uint32_t *)FIELD_CPTR(in, f->count_off);
    if (n > f->max_count)
      n = f->max_count;
    for (uint32_t i = 0; arr && i < n; i++) {
      const void *elem = (const char *)src + i * f->size;
      json_t *e = f->type == JB_STR_ARR ? json_string(elem) : jb_encode(f->sub, elem);
      if (!e || json_array_append_new(arr, e)) {
        json_decref(arr);
        return NULL;
      }
    }
    return arr;
  }
  }
  return NULL;
}

json_t *jb_encode(const struct jb_schema *s, const void *in)
{
  json_t *obj = json_object();
  if (!obj)
    return NULL;
  for (size_t i = 0; i < s->nfields; i++) {
    const struct jb_field *f = &s->fields[i];
    if (f->type == JB_FOREIGN ||
        (f->has_off && !*(const bool *)FIELD_CPTR(in, f->has_off - 1)))
      continue;
    json_t *v = encode_value(f, in);
    if (!v || json_object_set_new(obj, f->name, v)) {
      json_decref(obj);
      return NULL;
    }
  }
  return obj;
}

int jb_check_depth(const char *buf, size_t len, unsigned max_depth)
{
  unsigned depth = 0;
  bool in_str = false, esc = false;
  for (size_t i = 0; i < len; i++) {
    char c = buf[i];
    if (in_str) {
      if (esc)
        esc = false;
      else if (c == '\\')
        esc = true;
      else if (c == '"')
        in_str = false;
      continue;
    }
    if (c == '"')
      in_str = true;
    else if (c == '{' || c == '[') {
      if (++depth > max_depth)
        return IPOP_ETOOBIG;
    } else if ((c == '}' || c == ']') && depth > 0)
      depth--;
  }
  return 0;
}
