#include "envelope.h"
#include "ctl.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ctl_kind_names[] = { "request", "response", "event", NULL };

static bool name_valid(const char *s, size_t len)
{
  if (len == 0 || len >= CTL_NAME_LEN)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
      return false;
  return true;
}

int ctl_envelope_parse(const uint8_t *buf, size_t len, struct ctl_envelope *env,
                       struct jb_error *err)
{
  memset(env, 0, sizeof *env);
  memset(err, 0, sizeof *err);
  env->kind = -1;

  if (len > CTL_MAX_PAYLOAD)
    return jb_error_set(err, IPOP_ETOOBIG, "", "message of %zu bytes exceeds %d", len,
                   CTL_MAX_PAYLOAD);
  if (jb_check_depth((const char *)buf, len, CTL_MAX_JSON_DEPTH) != 0)
    return jb_error_set(err, IPOP_ETOOBIG, "", "JSON nested deeper than %d levels",
                   CTL_MAX_JSON_DEPTH);
  json_error_t jerr;
  /* jansson rejects invalid UTF-8 and, with this flag, duplicate keys. */
  env->root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!env->root) {
    /* jansson may quote half a UTF-8 character near the error; the text
     * goes back in a JSON answer, so keep it ASCII. */
    for (char *p = jerr.text; *p; p++)
      if ((unsigned char)*p >= 0x80)
        *p = '?';
    return jb_error_set(err, IPOP_EPARSE, "", "malformed JSON at line %d column %d: %s",
                   jerr.line, jerr.column, jerr.text);
  }
  if (!json_is_object(env->root))
    return jb_error_set(err, IPOP_EFIELD, "", "expected a JSON object, found %s",
                   jb_json_type_name(env->root));

  const char *key;
  json_t *v;

  /* txid and kind first: they are what an error answer needs. */
  v = json_object_get(env->root, "txid");
  if (v) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > CTL_TXID_MAX)
      return jb_error_set(err, IPOP_EFIELD, "txid", "expected integer in 0..2^53");
    env->txid = (uint64_t)json_integer_value(v);
    env->has_txid = true;
  }
  v = json_object_get(env->root, "kind");
  if (v && json_is_string(v))
    for (int i = 0; ctl_kind_names[i]; i++)
      if (strcmp(json_string_value(v), ctl_kind_names[i]) == 0)
        env->kind = i;
  v = json_object_get(env->root, "name");
  if (v && json_is_string(v) && name_valid(json_string_value(v), json_string_length(v)))
    snprintf(env->name, sizeof env->name, "%s", json_string_value(v));

  /* Unknown keys are checked after txid, kind and name so that the error
   * can still be answered. */
  json_object_foreach(env->root, key, v) {
    static const char *const known[] = { "version", "txid", "kind", "name",
                                         "body", "result", "error" };
    bool ok = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0] && !ok; i++)
      ok = strcmp(key, known[i]) == 0;
    if (!ok) {
      size_t cut = strlen(key) > 40 ? 40 : strlen(key);
      while (cut > 0 && ((unsigned char)key[cut] & 0xc0) == 0x80)
        cut--; /* not inside a UTF-8 character: the message goes into JSON */
      return jb_error_set(err, IPOP_EUNKNOWN, "", "unknown envelope key \"%.*s\"", (int)cut, key);
    }
  }

  v = json_object_get(env->root, "version");
  if (!v)
    return jb_error_set(err, IPOP_EMISSING, "version", "required key is missing");
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0xffff)
    return jb_error_set(err, IPOP_EFIELD, "version", "expected integer");
  env->version = (uint32_t)json_integer_value(v);
  if (env->version != CTL_PROTOCOL_VERSION)
    return jb_error_set(err, IPOP_EVERSION, "version",
                   "protocol version %u is not supported (this side speaks %d)",
                   env->version, CTL_PROTOCOL_VERSION);
  if (!env->has_txid)
    return jb_error_set(err, IPOP_EMISSING, "txid", "required key is missing");
  if (env->kind < 0)
    return jb_error_set(err, json_object_get(env->root, "kind") ? IPOP_EFIELD : IPOP_EMISSING,
                   "kind", "expected \"request\", \"response\" or \"event\"");
  if (!env->name[0])
    return jb_error_set(err, json_object_get(env->root, "name") ? IPOP_EFIELD : IPOP_EMISSING,
                   "name", "expected a command name of 1..63 characters [a-z0-9_]");

  json_t *body = json_object_get(env->root, "body");
  json_t *result = json_object_get(env->root, "result");
  json_t *error = json_object_get(env->root, "error");
  if (env->kind != CTL_KIND_RESPONSE) {
    if (result || error)
      return jb_error_set(err, IPOP_EUNKNOWN, "", "a %s carries \"body\", not \"result\"/\"error\"",
                     ctl_kind_names[env->kind]);
    if (body && !json_is_object(body))
      return jb_error_set(err, IPOP_EFIELD, "body", "expected object, found %s",
                     jb_json_type_name(body));
    env->body = body;
    return 0;
  }
  if (body)
    return jb_error_set(err, IPOP_EUNKNOWN, "body", "a response carries \"result\" or \"error\"");
  if (!!result == !!error)
    return jb_error_set(err, IPOP_EMISSING, "", "a response carries exactly one of \"result\" and \"error\"");
  if (result) {
    if (!json_is_object(result))
      return jb_error_set(err, IPOP_EFIELD, "result", "expected object, found %s",
                     jb_json_type_name(result));
    env->body = result;
    return 0;
  }
  json_t *code = json_object_get(error, "code"), *msg = json_object_get(error, "message");
  if (!json_is_object(error) || !json_is_string(code) || (msg && !json_is_string(msg)))
    return jb_error_set(err, IPOP_EFIELD, "error",
                   "expected {\"code\": string, \"message\": string}");
  env->err_code = ipop_err_from_name(json_string_value(code));
  snprintf(env->err_message, sizeof env->err_message, "%s",
           msg ? json_string_value(msg) : ipop_strerror(env->err_code));
  return 0;
}

void ctl_envelope_free(struct ctl_envelope *env)
{
  json_decref(env->root);
  env->root = NULL;
  env->body = NULL;
}

char *ctl_envelope_build(int kind, uint64_t txid, const char *name, json_t *payload,
                         int err_code, const char *err_msg, size_t *len)
{
  json_t *root = json_pack("{s:i, s:I, s:s, s:s}", "version", CTL_PROTOCOL_VERSION,
                           "txid", (json_int_t)txid, "kind", ctl_kind_names[kind],
                           "name", name);
  if (!root) {
    json_decref(payload);
    return NULL;
  }
  if (kind == CTL_KIND_RESPONSE && !payload) {
    json_t *e = json_pack("{s:s, s:s}", "code", ipop_err_name(err_code), "message",
                          err_msg ? err_msg : ipop_strerror(err_code));
    if (!e || json_object_set_new(root, "error", e)) {
      json_decref(root);
      return NULL;
    }
  } else if (json_object_set_new(root, kind == CTL_KIND_RESPONSE ? "result" : "body",
                                 payload ? payload : json_object())) {
    json_decref(root);
    return NULL;
  }
  char *text = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  if (!text)
    return NULL;
  *len = strlen(text);
  if (*len > CTL_MAX_PAYLOAD) {
    free(text);
    return NULL;
  }
  return text;
}
