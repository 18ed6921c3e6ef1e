#!/usr/bin/env bash
# Groups and blocking in ipop_xmpp against a throwaway prosody on loopback:
# room created and configured (members-only, persistent, non-anonymous,
# hidden, settings in the description), membership, invitations, occupants
# with real JIDs and node ids, non-member refused, removal (321), blocking
# pushes and dropped signals, forged room stanzas ignored, rejoin after a
# server restart.  Scenario: xmpp_muc_scenario.sh.
set -uo pipefail
: "${IPOP_SRC_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${IPOP_BUILD_DIR:?set IPOP_BUILD_DIR to the build directory}"
source "$IPOP_SRC_DIR/tests/integration/xmpp_muc_scenario.sh"
xm_scenario prosody
