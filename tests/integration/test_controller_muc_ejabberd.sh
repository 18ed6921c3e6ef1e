#!/usr/bin/env bash
# Groups over an XMPP room against ejabberd (mod_muc): controller_muc_scenario.sh.
export CT_XMPP_KIND=ejabberd
. "$(dirname "$0")/controller_muc_scenario.sh"
