/* XMPP client: JID and text syntax helpers (the bottom of the library: no
 * state, no I/O). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client_internal.h"

void xmpp__jid_bare(const char *jid, char *out, size_t outlen)
{
  size_t n = strcspn(jid, "/");
  if (n >= outlen)
    n = 0;
  memcpy(out, jid, n);
  out[n] = '\0';
}

bool xmpp__jid_bare_eq(const char *a, const char *b)
{
  size_t na = strcspn(a, "/"), nb = strcspn(b, "/");
  return na == nb && strncasecmp(a, b, na) == 0;
}

static bool jid_chars_ok(const char *jid)
{
  if (!jid || !*jid || strlen(jid) >= XMPP_JID_MAX)
    return false;
  for (const unsigned char *p = (const unsigned char *)jid; *p; p++)
    if (*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '\'' || *p == '<' ||
        *p == '>' || *p == '&')
      return false;
  return true;
}

bool xmpp__jid_ok(const char *jid)
{
  if (!jid_chars_ok(jid))
    return false;
  const char *slash = strchr(jid, '/');
  size_t barelen = slash ? (size_t)(slash - jid) : strlen(jid);
  const char *at = memchr(jid, '@', barelen);
  if (barelen == 0 || (at && (at == jid || at + 1 == jid + barelen)))
    return false;
  if (at && memchr(at + 1, '@', (size_t)(jid + barelen - at - 1)))
    return false;
  return !slash || slash[1];
}

bool xmpp__jid_is_bare(const char *jid)
{
  return xmpp__jid_ok(jid) && strchr(jid, '@') && !strchr(jid, '/');
}

bool xmpp__jid_is_full(const char *jid)
{
  const char *slash = jid ? strchr(jid, '/') : NULL;
  return xmpp__jid_ok(jid) && slash && memchr(jid, '@', (size_t)(slash - jid));
}

bool xmpp__text_ok(const char *s, size_t max)
{
  if (!s)
    return true;
  size_t n = strlen(s);
  if (n > max)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f)
      return false;
  }
  return true;
}

bool xmpp__attr_ok(const char *v, size_t max)
{
  return v && *v && strlen(v) <= max;
}
