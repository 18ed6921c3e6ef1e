#!/usr/bin/env bash
# XMPP client against a throwaway ejabberd on loopback: STARTTLS + SCRAM
# login, presence with node ids, signaling both ways, non-friend drop,
# wrong password, server restart, plaintext server refused.
set -uo pipefail
: "${IPOP_SRC_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${IPOP_BUILD_DIR:?set IPOP_BUILD_DIR to the build directory}"
source "$IPOP_SRC_DIR/tests/lib/xmpp_servers.sh"
xs_scenario ejabberd
