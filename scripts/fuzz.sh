#!/bin/bash
# Build the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang in their own
# build directory and run each one for a bounded time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 20, or $IPOP_FUZZ_TIME)
#   scripts/fuzz.sh --long [--jobs N]         deep run: each target until it
#                                             has run 10 M inputs (no time
#                                             limit; $IPOP_FUZZ_RUNS changes
#                                             the count), N targets at a time
#                                             (default 1), at nice 19.  Not
#                                             for CI: hours on 2 cores.
#
# Environment:
#   IPOP_FUZZ_BUILD_DIR  build directory (default: <repo>/build-fuzz)
#   IPOP_SRC_DIR         source tree (default: this script's repository)
#   IPOP_FUZZ_TARGETS    space-separated target names (default: all)
#   IPOP_FUZZ_RUNS       stop each target after this many executions (or at
#                        the time limit, whichever comes first), e.g. a deep
#                        run:  IPOP_FUZZ_RUNS=10000000 scripts/fuzz.sh 7200
#   IPOP_FUZZ_MAX_LEN    libFuzzer's -max_len (default: libFuzzer's, 4096 or
#                        the largest seed).  libFuzzer lets inputs grow to it
#                        over a long run, and the targets that read a script
#                        of steps (record, rekey, peer_frame, pep,
#                        ctl_message) cost in proportion to the length: a
#                        smaller cap trades the longest scripts for
#                        executions.  Unset: nothing is capped.
#
# Each target starts from a scratch copy of its seed corpus
# (tests/fuzz/corpus/<name without fuzz_>/), so the seeds in the repository
# stay small.  A crash leaves its reproducer in the build directory, and the
# script exits non-zero.  One summary line per target, e.g.
#   fuzz_config: ok, 1234567 execs (limit 20 s, 61728/s), corpus 312 inputs
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
src=${IPOP_SRC_DIR:-$here}
build=${IPOP_FUZZ_BUILD_DIR:-$here/build-fuzz}
long=0
jobs=1
while [ $# -gt 0 ]; do
  case $1 in
    --long) long=1; shift ;;
    --jobs) jobs=${2:-}; shift 2 ;;
    *) break ;;
  esac
done
secs=${1:-${IPOP_FUZZ_TIME:-20}}
if [ $long = 1 ]; then
  secs=${1:-0}                       # 0: no time limit
  : "${IPOP_FUZZ_RUNS:=10000000}"
fi
case $jobs in
  ''|*[!0-9]*|0) echo "usage: $0 [--long] [--jobs N] [seconds-per-target]" >&2; exit 2 ;;
esac

case $secs in
  ''|*[!0-9]*) echo "usage: $0 [seconds-per-target]" >&2; exit 2 ;;
esac
if ! command -v clang >/dev/null; then
  echo "fuzz: clang not found (apt-get install clang)" >&2
  exit 2
fi

targets=${IPOP_FUZZ_TARGETS:-}
if [ -z "$targets" ]; then
  for f in "$src"/tests/fuzz/fuzz_*.c; do
    [ -e "$f" ] || continue
    targets="$targets $(basename "$f" .c)"
  done
fi
if [ -z "$targets" ]; then
  echo "fuzz: no targets in $src/tests/fuzz" >&2
  exit 2
fi

mkdir -p "$build"
log=$build/fuzz-build.log
# The libraries get coverage instrumentation and sanitizers too
# (-fsanitize=fuzzer-no-link), so libFuzzer sees their branches.
if ! CC=clang cmake -S "$src" -B "$build" -DIPOP_FUZZ=ON -DIPOP_TESTS=ON \
      -DIPOP_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
      -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >"$log" 2>&1; then
  echo "fuzz: cmake failed, see $log" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
status=0
built=
for t in $targets; do
  # Built one by one: a target that does not compile fails alone.
  if ! make -C "$build" -j2 "$t" >>"$log" 2>&1; then
    echo "$t: FAILED (build error, see $log)"
    grep -E 'error' "$log" | tail -n 5 | sed 's/^/    /'
    status=1
    continue
  fi
  built="$built $t"
done

# run_one TARGET: one summary line; non-zero on a crash.
run_one() {
  local t=$1
  local bin
  bin=$(find "$build" -type f -name "$t" -perm -u+x | head -n 1)
  if [ -z "$bin" ]; then
    echo "$t: FAILED (not built)"
    return 1
  fi
  local seeds=$src/tests/fuzz/corpus/${t#fuzz_}
  local work=$build/corpus-$t
  rm -rf "$work"
  mkdir -p "$work"
  [ -d "$seeds" ] && cp "$seeds"/* "$work"/ 2>/dev/null
  local out=$build/$t.log
  rm -f "$build/$t-"*   # reproducers of earlier runs
  local runs=()
  [ -n "${IPOP_FUZZ_RUNS:-}" ] && runs=(-runs="$IPOP_FUZZ_RUNS")
  [ -n "${IPOP_FUZZ_MAX_LEN:-}" ] && runs+=(-max_len="$IPOP_FUZZ_MAX_LEN")
  local nice=()
  [ $long = 1 ] && nice=(nice -n 19)
  (cd "$build" && "${nice[@]}" "$bin" -max_total_time="$secs" "${runs[@]}" -print_final_stats=1 \
     -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$build/$t-" "$work") >"$out" 2>&1
  local rc=$?
  local execs rate ninputs cov
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out" | tail -n 1)
  ninputs=$(find "$work" -type f | wc -l)
  # libFuzzer's last status line: edges covered (cov) and features (ft).
  cov=$(grep -E '^#[0-9]+' "$out" | grep -oE 'cov: [0-9]+ ft: [0-9]+' | tail -n 1)
  if [ $rc -eq 0 ]; then
    echo "$t: ok, ${execs:-?} execs (limit $secs s${IPOP_FUZZ_RUNS:+ or $IPOP_FUZZ_RUNS runs}, ${rate:-?}/s), ${cov:-cov ?}, corpus $ninputs inputs"
  else
    local artifact
    artifact=$(ls -t "$build/$t-"* 2>/dev/null | head -n 1)
    echo "$t: CRASH (exit $rc) after ${execs:-?} execs; reproducer ${artifact:-none}; log $out"
    grep -m 3 -E 'ERROR|SUMMARY|abort|deadly' "$out" | sed 's/^/    /'
    return 1
  fi
}

# --jobs N: N targets at a time; each leaves its exit code in a file.
for t in $built; do
  if [ "$jobs" -gt 1 ]; then
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
      wait -n
    done
    (run_one "$t"; echo $? >"$build/$t.rc") &
  else
    run_one "$t" || status=1
  fi
done
wait
if [ "$jobs" -gt 1 ]; then
  for t in $built; do
    [ "$(cat "$build/$t.rc" 2>/dev/null)" = 0 ] || status=1
    rm -f "$build/$t.rc"
  done
fi
exit $status
