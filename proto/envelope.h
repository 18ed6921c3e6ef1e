/* The JSON envelope every control message travels in:
 *   {"version":1,"txid":7,"kind":"request","name":"echo","body":{...}}
 *   {"version":1,"txid":7,"kind":"response","name":"echo","result":{...}}
 *   {"version":1,"txid":7,"kind":"response","name":"echo",
 *    "error":{"code":"bad_field","message":"body.mtu: expected ..."}}
 *   {"version":1,"txid":9,"kind":"event","name":"link_state","body":{...}} */
#ifndef IPOP_PROTO_ENVELOPE_H
#define IPOP_PROTO_ENVELOPE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "jbind.h"
#include "messages.h"

#define CTL_NAME_LEN 64
#define CTL_TXID_MAX ((uint64_t)1 << 53) /* exact in every JSON implementation */

struct ctl_envelope {
  json_t *root;            /* owned; free with ctl_envelope_free */
  uint32_t version;
  bool has_txid;
  uint64_t txid;
  int kind;                /* enum ctl_kind, -1 if not parsed */
  char name[CTL_NAME_LEN];
  json_t *body;            /* borrowed from root: body (request/event) or result */
  int err_code;            /* response with "error": its IPOP_E* code, else 0 */
  char err_message[512];
};

/* Parse and validate an envelope.  On failure err names what was wrong and
 * env keeps whatever was parsed before the failure (txid, kind, name), so the
 * caller can still address an error response. */
int ctl_envelope_parse(const uint8_t *buf, size_t len, struct ctl_envelope *env,
                       struct jb_error *err);
void ctl_envelope_free(struct ctl_envelope *env);

/* Serialize.  payload (stolen) is the body/result object; for an error
 * response pass payload NULL and err_code/err_msg.  Returns a malloc'ed
 * compact JSON string or NULL (too large or out of memory). */
char *ctl_envelope_build(int kind, uint64_t txid, const char *name, json_t *payload,
                         int err_code, const char *err_msg, size_t *len);

extern const char *const ctl_kind_names[];

#endif
