#!/usr/bin/env bash
# Who is who against ejabberd (mod_pubsub PEP): controller_identity_scenario.sh.
export CT_XMPP_KIND=ejabberd
. "$(dirname "$0")/controller_identity_scenario.sh"
