#!/bin/bash
# Capture seed corpora for the XMPP fuzz targets from real servers: runs the
# XMPP tests against ejabberd and Prosody with the probes logging what they
# read (IPOP_LOG=trace) and keeping their logs (XS_KEEP=1), then writes
# tests/fuzz/corpus/{xmpp_stanza,xmpp_stream}/cap-SERVER-PROBE (see
# scripts/capture-xmpp-seeds.py).  Needs root and a build (IPOP_BUILD_DIR,
# default build/).  Review the seeds, then commit them.
#
#   scripts/capture-xmpp-seeds.sh
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
export IPOP_SRC_DIR=$src
export IPOP_BUILD_DIR=${IPOP_BUILD_DIR:-$src/build}
for server in ejabberd prosody; do
  before=$(ls -d /tmp/ipop-xmpp.* 2>/dev/null | sort)
  IPOP_LOG=trace XS_KEEP=1 bash "$src/tests/integration/test_xmpp_$server.sh" >/dev/null 2>&1 ||
    echo "capture: test_xmpp_$server failed; seeds taken from what it read" >&2
  after=$(ls -d /tmp/ipop-xmpp.* 2>/dev/null | sort)
  dir=$(comm -13 <(echo "$before") <(echo "$after") | tail -n 1)
  [ -n "$dir" ] || { echo "capture: no kept directory for $server" >&2; exit 1; }
  python3 "$src/scripts/capture-xmpp-seeds.py" "$server" "$dir" "$src/tests/fuzz/corpus"
  rm -rf "$dir"
done
