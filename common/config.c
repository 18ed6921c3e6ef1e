#include "config.h"
#include "error.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cfg_fail(struct jb_error *err, int code, const char *name, const char *what)
{
  err->code = code;
  err->path[0] = '\0';
  snprintf(err->msg, sizeof err->msg, "%s: %s", name, what);
  return code;
}

/* Config files may carry comments as keys starting with "//" (JSON has no
 * comments); drop them before strict validation. */
static void strip_comments(json_t *v)
{
  if (json_is_object(v)) {
    const char *key;
    json_t *child;
    void *tmp;
    json_object_foreach_safe(v, tmp, key, child) {
      if (strncmp(key, "//", 2) == 0)
        json_object_del(v, key);
      else
        strip_comments(child);
    }
  } else if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v); i++)
      strip_comments(json_array_get(v, i));
  }
}

int ipop_config_parse(const char *name, const char *text, size_t len,
                      const struct jb_schema *schema, void *out, struct jb_error *err)
{
  char what[256];
  memset(err, 0, sizeof *err);
  if (len > IPOP_CONFIG_MAX_BYTES) {
    snprintf(what, sizeof what, "file is %zu bytes, more than the limit of %d", len,
             IPOP_CONFIG_MAX_BYTES);
    return cfg_fail(err, IPOP_ETOOBIG, name, what);
  }
  if (jb_check_depth(text, len, IPOP_CONFIG_MAX_DEPTH) != 0) {
    snprintf(what, sizeof what, "JSON nested deeper than %d levels", IPOP_CONFIG_MAX_DEPTH);
    return cfg_fail(err, IPOP_ETOOBIG, name, what);
  }
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    snprintf(what, sizeof what, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    return cfg_fail(err, IPOP_EPARSE, name, what);
  }
  strip_comments(root);
  int rc = jb_decode(schema, root, out, "", err);
  json_decref(root);
  if (rc) {
    char inner[sizeof err->msg];
    snprintf(inner, sizeof inner, "%s", err->msg);
    snprintf(err->msg, sizeof err->msg, "%s: %s", name, inner);
  }
  return rc;
}

int ipop_config_load(const char *path, const struct jb_schema *schema, void *out,
                     struct jb_error *err)
{
  char what[256];
  memset(err, 0, sizeof *err);
  FILE *f = fopen(path, "re");
  if (!f) {
    int e = errno;
    snprintf(what, sizeof what, "cannot open: %s", strerror(e));
    return cfg_fail(err, e == ENOENT ? IPOP_ENOENT : IPOP_ESYS, path, what);
  }
  char *buf = malloc(IPOP_CONFIG_MAX_BYTES + 1);
  size_t n = buf ? fread(buf, 1, IPOP_CONFIG_MAX_BYTES + 1, f) : 0;
  int rc;
  if (!buf)
    rc = cfg_fail(err, IPOP_ENOMEM, path, "out of memory");
  else if (ferror(f))
    rc = cfg_fail(err, IPOP_ESYS, path, "read error");
  else
    rc = ipop_config_parse(path, buf, n, schema, out, err);
  free(buf);
  fclose(f);
  return rc;
}

static const char *const log_level_names[] = { "error", "warn", "info", "debug", "trace", NULL };

#define T struct ipop_log_config
static const struct jb_field log_f[] = {
  JB_F_ENUM(T, level, "Level", 0, log_level_names, "info"),
  JB_F_STR(T, file, "File", 0, 0, ""),
};
const struct jb_schema ipop_log_config_schema = JB_SCHEMA("Log", T, log_f);
#undef T

int ipop_log_config_apply(const struct ipop_log_config *lc, char *why, size_t whylen)
{
  ipop_log_set_level((enum ipop_log_level)lc->level);
  return ipop_log_set_file(lc->file[0] ? lc->file : NULL, why, whylen);
}
