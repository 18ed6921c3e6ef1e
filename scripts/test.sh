#!/usr/bin/env bash
# Run every test: builds the normal and the sanitizer (ASan+UBSan) build with
# -Werror, runs the whole ctest suite (unit + integration) in both, then a
# short bounded fuzz run.  Exits non-zero on any failure.
#
#   scripts/test.sh                   # everything (installs dependencies first)
#   scripts/test.sh --no-install      # skip apt
#   scripts/test.sh --as-user         # no root: no apt, integration tests skip
#   IPOP_TEST_FILTER=unit scripts/test.sh   # only tests with this ctest label
# Run as root (no sudo needed); run by a user it runs itself again through
# sudo if there is sudo, else (or with --as-user) as that user.
set -uo pipefail
IPOP_SELF=$(realpath "$0")   # for as_root, after the cd below
cd "$(dirname "$0")/.."
top=$(pwd)
IPOP_SCRIPT=test.sh
# shellcheck source=scripts/lib/common.sh
. scripts/lib/common.sh

install=1 as_user=0
for a in "$@"; do
  case "$a" in
    --no-install) install=0 ;;
    --as-user) as_user=1 install=0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" != 0 ] && [ "$as_user" = 0 ] && command -v sudo >/dev/null 2>&1; then
  as_root "$@"
fi

if [ "$install" = 1 ]; then
  if [ "$(id -u)" = 0 ]; then
    bash scripts/install-deps.sh || exit 1
  else
    echo "test.sh: not root, not installing dependencies (integration tests will skip)"
  fi
fi

jobs=$(nproc 2>/dev/null || echo 2)
label_args=()
[ -n "${IPOP_TEST_FILTER:-}" ] && label_args=(-L "$IPOP_TEST_FILTER")

# LeakSanitizer: GLib and libnice keep some allocations for the life of the
# process on purpose; their suppressions live in tests/lsan.supp.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

passed=0; failed=0; status=0
summary=()

run_suite() { # name builddir ctest-label-regex cmake-args...
  local name=$1 dir=$2 labels=$3; shift 3
  local largs=("${label_args[@]}")
  [ ${#largs[@]} -gt 0 ] || [ -z "$labels" ] || largs=(-L "$labels")
  echo "=== [$name] configure and build in $dir"
  if ! cmake -S . -B "$dir" -DIPOP_WERROR=ON "$@" >"$dir.cmake.log" 2>&1; then
    cat "$dir.cmake.log"; echo "=== [$name] configure FAILED"; status=1; failed=$((failed+1)); return
  fi
  cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1
  local brc=$?
  tail -n 5 "$dir.build.log"
  if [ "$brc" != 0 ]; then
    grep -E 'error|Error' "$dir.build.log" | head -n 40
    echo "=== [$name] build FAILED"; status=1; failed=$((failed+1)); return
  fi
  echo "=== [$name] ctest"
  local log="$dir/ctest.log"
  (cd "$dir" && ctest --output-on-failure --timeout 600 "${largs[@]}") 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  # ctest's closing line: "97% tests passed, 1 tests failed out of 34"
  local line total nfail
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n1)
  if [ -n "$line" ]; then
    nfail=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* tests failed out of ([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + total - nfail)); failed=$((failed + nfail))
    summary+=("[$name] $line")
  elif [ "$rc" != 0 ]; then
    failed=$((failed+1)); summary+=("[$name] ctest failed to run")
  fi
  [ "$rc" = 0 ] || status=1
}

# The sanitizer build runs the unit tests and the integration tests labelled
# "asan" (tests/CMakeLists.txt says which and why); IPOP_TEST_FILTER
# overrides this for both builds.
run_suite normal build ""
run_suite sanitize build-asan "^(unit|asan)$" -DIPOP_SANITIZE=ON

if [ -x scripts/fuzz.sh ] && [ -z "${IPOP_TEST_FILTER:-}" ]; then
  echo "=== [fuzz] bounded libFuzzer run"
  # A short run per target (seconds; scripts/fuzz.sh --long is the deep one).
  if bash scripts/fuzz.sh "${IPOP_FUZZ_TIME:-8}"; then
    passed=$((passed+1)); summary+=("[fuzz] no crash")
  else
    failed=$((failed+1)); status=1; summary+=("[fuzz] FAILED")
  fi
fi

echo
echo "=== summary"
for s in "${summary[@]}"; do echo "$s"; done
echo "test.sh: $passed passed, $failed failed"
exit $status
