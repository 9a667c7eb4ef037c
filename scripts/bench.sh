#!/usr/bin/env bash
# bench.sh BUILD_DIR - run every benchmark: the compiled ones in
# BUILD_DIR/bench/ and the scripts in bench/*.sh (which start their own
# throwaway servers). Benchmarks print figures and ratios; they are not tests.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] || continue
  case "$b" in *.d|*.o) continue ;; esac
  echo "### $b"
  "$b"
done
for s in bench/*.sh; do
  [ -x "$s" ] || continue
  echo "### $s"
  TB_BIN="$PWD/$build/tributary" "$s"
done
