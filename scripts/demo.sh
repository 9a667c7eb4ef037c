#!/usr/bin/env bash
# demo.sh - `make demo`: a throwaway PostgreSQL with a small shop schema,
# replicated by tributary into a second database of the same server.
# Everything runs in a temp dir and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TB_BIN:-build/tributary}

if [ -z "${TB_PG_PORT:-}" ]; then
  # Re-run ourselves inside a throwaway PostgreSQL.
  exec scripts/servers.sh run --pg -- "$0" "$@"
fi

export TB_DEMO_DIR
TB_DEMO_DIR=$(mktemp -d /tmp/tributary-demo.XXXXXX)
trap 'rm -rf "$TB_DEMO_DIR"' EXIT
psql() { command psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TB_PG_PORT" -U postgres "$@"; }

echo "== source database 'shop' on 127.0.0.1:$TB_PG_PORT"
psql -d postgres -c "CREATE DATABASE shop" -c "CREATE DATABASE dw"
psql -d shop -f scripts/demo/shop.sql

echo "== tributary check-config"
"$BIN" check-config -c scripts/demo/shop.json

echo "== tributary run --once"
set +e
"$BIN" run --once -c scripts/demo/shop.json
rc=$?
set -e
if [ $rc -ne 0 ]; then
  echo
  echo "The demo stops here: tributary run exited with $rc (see above)."
  echo "PostgreSQL replication lands with the PostgreSQL reader and loader;"
  echo "until then 'make demo' only validates the demo configuration."
  exit 0
fi

for t in customers orders order_items; do
  s=$(psql -d shop -Atc "SELECT count(*) FROM public.$t")
  d=$(psql -d dw -Atc "SELECT count(*) FROM shop.$t")
  printf '%-12s source %6s rows   target %6s rows\n' "$t" "$s" "$d"
done
