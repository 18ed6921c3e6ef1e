#!/usr/bin/env bash
# Who is who against Prosody (mod_pep): controller_identity_scenario.sh.
export CT_XMPP_KIND=prosody
. "$(dirname "$0")/controller_identity_scenario.sh"
