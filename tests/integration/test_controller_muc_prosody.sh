#!/usr/bin/env bash
# Groups over an XMPP room against Prosody (muc component): controller_muc_scenario.sh.
export CT_XMPP_KIND=prosody
. "$(dirname "$0")/controller_muc_scenario.sh"
