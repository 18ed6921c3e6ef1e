#!/usr/bin/env bash
# ipop-controller against a hostile peer, on Prosody: test_controller_hostile.sh.
export CT_XMPP_KIND=prosody
. "$(dirname "$0")/test_controller_hostile.sh"
