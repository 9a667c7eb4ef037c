#!/usr/bin/env bash
# check.sh - the whole test suite, as `make check` runs it:
#   1. build the normal tree (build/) and the sanitizer tree (build-asan/,
#      ASan + UBSan, leak detection on);
#   2. start throwaway PostgreSQL and MariaDB servers (scripts/servers.sh);
#   3. run every unit and integration test against both builds;
#   4. print one summary line last: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)
make -s -j"$jobs" BUILD=build tests
make -s -j"$jobs" BUILD=build-asan OPT="-O1 -g" \
  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" tests

exec scripts/servers.sh run -- tests/run.sh build build-asan
