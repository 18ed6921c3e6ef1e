#!/usr/bin/env bash
# Both daemons under valgrind's memcheck through a 3-node scenario
# (scripts/valgrind.sh, docs/testing.md): no invalid access, no definite
# leak.  In the normal build only: memcheck cannot run sanitizer binaries,
# which find the same errors themselves.  ~4-5 minutes on 2 loaded cores.
set -euo pipefail
IPOP_SRC_DIR=${IPOP_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
IPOP_BUILD_DIR=${IPOP_BUILD_DIR:-$IPOP_SRC_DIR/build}
if ldd "$IPOP_BUILD_DIR/tincan/ipop-tincan" 2>/dev/null | grep -Eq 'lib(a|ub)san'; then
  echo "skip: a sanitizer build (memcheck runs on the normal build)"; exit 77
fi
exec bash "$IPOP_SRC_DIR/scripts/valgrind.sh"
