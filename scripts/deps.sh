#!/usr/bin/env bash
# deps.sh - make sure the Debian packages that tributary's build, tests and
# demo need are installed. As root it installs the missing ones with apt-get;
# otherwise it prints the exact command to run and fails.
set -euo pipefail

PACKAGES=(
  gcc make pkg-config git ca-certificates
  libpq-dev libmariadb-dev librdkafka-dev libavro-dev libjansson-dev
  libsqlite3-dev libmicrohttpd-dev libcmocka-dev zlib1g-dev libzstd-dev
  postgresql postgresql-client mariadb-server mariadb-client
  clang-format valgrind procps iproute2
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "tributary needs these Debian packages: ${missing[*]}" >&2
  echo "Install them with:" >&2
  echo "  sudo apt-get update && sudo $cmd" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Package scripts must not start system-wide database services: the tests
# and the demo start their own throwaway servers.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[ $created_policy -eq 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done" >&2
