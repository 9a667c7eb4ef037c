#!/usr/bin/env bash
# run.sh BUILD_DIR... - run every test binary of each build dir and print
# "N passed, N failed" as the last line. Integration tests expect the
# environment of scripts/servers.sh (TB_PG_DSN, TB_MY_HOST, ...).
# Runs from the repository root. Exit status 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=23"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"

for build in "$@"; do
  export TB_BIN="$PWD/$build/tributary"
  # Sanitizers inflate memory use; tests skip their RSS bounds there.
  case "$build" in *asan*) export TB_SANITIZED=1 ;; *) unset TB_SANITIZED ;; esac
  for t in "$build"/tests/unit/test_* "$build"/tests/integration/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *.d|*.o) continue ;; esac
    log=$(mktemp)
    start=$(date +%s.%N)
    "$t" >"$log" 2>&1
    rc=$?
    secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n1)
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
      # Crashed, leaked (ASan exit 23) or died before cmocka's summary.
      f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" -ne 0 ]; then
      failures+=("$t")
      echo "FAIL $t ($p passed, $f failed, exit $rc, ${secs}s)"
      sed 's/^/    /' "$log" | tail -n 60
    else
      echo "ok   $t ($p passed, ${secs}s)"
    fi
    rm -f "$log"
  done
done

if [ ${#failures[@]} -gt 0 ]; then
  echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
