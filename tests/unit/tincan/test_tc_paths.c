/* In-band path messages (tincan/paths.h) as a hostile peer could send them
 * inside authenticated records: a wrong header (op, slot, relay policy, the
 * role of the sender), credentials or candidates that create_link would
 * refuse, a NUL inside, too long, a non-candidate line, an answer nobody
 * asked for.  Each is dropped (and counted) before any ICE agent is made:
 * both slots stay closed and the link's path does not change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "paths.h"

static struct tc_overlay ov;
static struct tc_link l;

static int setup(void **state)
{
  (void)state;
  memset(&ov, 0, sizeof ov);
  memset(&l, 0, sizeof l);
  snprintf(ov.cfg.overlay_id, sizeof ov.cfg.overlay_id, "ov");
  l.ov = &ov;
  snprintf(l.peer_id, sizeof l.peer_id, "peer");
  l.state = TC_LINK_UP;
  l.path.mode = l.alt.mode = TC_PATH_CLOSED;
  l.path.fd = l.alt.fd = -1;
  l.tx = &l.path;
  l.initiator = false; /* we answer: the peer offers */
  return 0;
}

static size_t msg(uint8_t *m, uint8_t op, uint8_t slot, uint8_t relay, const char *text)
{
  m[0] = TC_DP_PATHS;
  m[1] = op;
  m[2] = slot;
  m[3] = relay;
  m[4] = m[5] = m[6] = 0;
  m[7] = 1; /* generation 1 */
  size_t n = strlen(text);
  memcpy(m + TC_PATHS_HDR, text, n);
  return TC_PATHS_HDR + n;
}

#define UFRAG "abcd"
#define PWD "abcdefghijklmnopqrstuvwx"
#define CAND "candidate:1 1 UDP 2013266431 198.18.0.1 40000 typ host"

static void refused(const uint8_t *m, size_t n)
{
  uint64_t bad = l.pm.bad_msgs;
  tc_paths_msg(&l, m, n, 100000);
  assert_int_equal(l.pm.bad_msgs, bad + 1);
  assert_int_equal(l.path.mode, TC_PATH_CLOSED);
  assert_int_equal(l.alt.mode, TC_PATH_CLOSED);
  assert_ptr_equal(l.tx, &l.path);
  assert_int_equal(l.pm.flags, 0);
}

static void bad_headers(void **state)
{
  (void)state;
  uint8_t m[TC_PATHS_HDR + TC_PATHS_TEXT + 64];
  const char *ok = UFRAG "\n" PWD "\n" CAND;
  refused(m, msg(m, TC_PATHS_OFFER, 2, CTL_RELAY_NEVER, ok));      /* no slot 2 */
  refused(m, msg(m, TC_PATHS_OFFER, 1, CTL_RELAY_AUTO, ok));       /* auto is no path kind */
  refused(m, msg(m, TC_PATHS_OFFER, 1, 7, ok));
  refused(m, msg(m, 9, 1, CTL_RELAY_NEVER, ok));                   /* no such op */
  refused(m, msg(m, TC_PATHS_OFFER, 1, CTL_RELAY_NEVER, ok) - 100); /* cut */
  refused(m, 5);                                                    /* shorter than a header */
  l.initiator = true; /* an offer to the initiator: the peer has no right to */
  refused(m, msg(m, TC_PATHS_OFFER, 1, CTL_RELAY_NEVER, ok));
}

static void bad_text(void **state)
{
  (void)state;
  uint8_t m[TC_PATHS_HDR + TC_PATHS_TEXT + 512];
  refused(m, msg(m, TC_PATHS_OFFER, 1, CTL_RELAY_NEVER, ""));
  refused(m, msg(m, TC_PATHS_OFFER, 1, CTL_RELAY_NEVER, UFRAG "\n" PWD));  /* no candidate */
  refused(m, msg(m, TC_PATHS_OFFER, 1, CTL_RELAY_NEVER, "ab\n" PWD "\n" CAND)); /* ufrag short */
  refused(m, msg(m, TC_PATHS_OFFER, 1, CTL_RELAY_NEVER, UFRAG "\nshort\n" CAND));
  refused(m, msg(m, TC_PATHS_OFFER, 1, CTL_RELAY_NEVER, "ab;d\n" PWD "\n" CAND)); /* ICE chars */
  refused(m, msg(m, TC_PATHS_OFFER, 1, CTL_RELAY_NEVER, UFRAG "\n" PWD "\nrm -rf /"));
  /* A NUL inside the text. */
  size_t n = msg(m, TC_PATHS_OFFER, 1, CTL_RELAY_NEVER, UFRAG "\n" PWD "\n" CAND);
  m[TC_PATHS_HDR + 2] = '\0';
  refused(m, n);
  /* More text than a message may carry. */
  char big[TC_PATHS_TEXT + 100];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  refused(m, msg(m, TC_PATHS_OFFER, 1, CTL_RELAY_NEVER, big));
  /* More candidates than create_link takes. */
  char many[TC_PATHS_TEXT + 1];
  size_t k = (size_t)snprintf(many, sizeof many, "%s\n%s", UFRAG, PWD);
  for (int i = 0; i < CTL_MAX_CANDS + 1 && k + 12 < sizeof many; i++)
    k += (size_t)snprintf(many + k, sizeof many - k, "\ncandidate:");
  refused(m, msg(m, TC_PATHS_OFFER, 1, CTL_RELAY_NEVER, many));
}

/* An answer for a setup we never started is ignored (not even parsed). */
static void unsolicited_answer(void **state)
{
  (void)state;
  uint8_t m[TC_PATHS_HDR + TC_PATHS_TEXT];
  l.initiator = true;
  size_t n = msg(m, TC_PATHS_ANSWER, 1, CTL_RELAY_NEVER, UFRAG "\n" PWD "\n" CAND);
  tc_paths_msg(&l, m, n, 100000);
  assert_int_equal(l.alt.mode, TC_PATH_CLOSED);
  assert_int_equal(l.pm.flags, 0);
}

/* Against the link's own relay policy: a relayed standby offered to a
 * "never" link, a direct path to an "always" link. */
static void against_policy(void **state)
{
  (void)state;
  uint8_t m[TC_PATHS_HDR + TC_PATHS_TEXT];
  l.relay = CTL_RELAY_NEVER;
  tc_paths_msg(&l, m, msg(m, TC_PATHS_OFFER, 1, CTL_RELAY_ALWAYS, UFRAG "\n" PWD "\n" CAND),
               100000);
  assert_int_equal(l.alt.mode, TC_PATH_CLOSED);
  l.relay = CTL_RELAY_ALWAYS;
  tc_paths_msg(&l, m, msg(m, TC_PATHS_OFFER, 1, CTL_RELAY_NEVER, UFRAG "\n" PWD "\n" CAND),
               100000);
  assert_int_equal(l.alt.mode, TC_PATH_CLOSED);
  assert_int_equal(l.pm.flags, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(bad_headers, setup),
    cmocka_unit_test_setup(bad_text, setup),
    cmocka_unit_test_setup(unsolicited_answer, setup),
    cmocka_unit_test_setup(against_policy, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
