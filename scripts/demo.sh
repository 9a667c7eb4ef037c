#!/usr/bin/env bash
# demo.sh - `make demo`: a throwaway PostgreSQL with a small shop schema
# (customers, orders, order items: numeric, timestamptz, jsonb, text), a short
# live workload, and tributary replicating it into a second database of the
# same server. Prints both sides and cleans everything up.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TB_BIN:-$PWD/build/tributary}

if [ -z "${TB_PG_PORT:-}" ]; then
  # Re-run ourselves inside a throwaway PostgreSQL (stopped and deleted at
  # the end, whatever happens).
  exec scripts/servers.sh run --pg -- "$0" "$@"
fi

export TB_DEMO_DIR
TB_DEMO_DIR=$(mktemp -d /tmp/tributary-demo.XXXXXX)
agent=
cleanup() {
  [ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
  rm -rf "$TB_DEMO_DIR"
}
trap cleanup EXIT
psql() { command psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TB_PG_PORT" -U postgres "$@"; }
cfg=scripts/demo/shop.json

echo "== source database 'shop' and warehouse 'dw' on 127.0.0.1:$TB_PG_PORT"
psql -d postgres -c "CREATE DATABASE shop" -c "CREATE DATABASE dw"
psql -d shop -f scripts/demo/shop.sql

echo "== tributary check-config -c $cfg"
"$BIN" check-config -c "$cfg" >/dev/null

echo "== tributary run (snapshot, then streaming) in the background"
"$BIN" run -c "$cfg" 2> "$TB_DEMO_DIR/agent.log" &
agent=$!

echo "== live workload: new orders, status changes, cancellations (5 s)"
for round in $(seq 1 10); do
  psql -d shop <<SQL
BEGIN;
INSERT INTO orders (customer_id, total, details)
SELECT 1 + (g * 7 + $round) % 200, (g * 3.17 + $round)::numeric(12,2),
       jsonb_build_object('channel', 'web', 'round', $round)
FROM generate_series(1, 50) g;
INSERT INTO order_items (order_id, line, sku, quantity, price)
SELECT o.id, 1, 'SKU-' || o.id % 97, 1, o.total
FROM orders o WHERE o.details->>'round' = '$round';
COMMIT;
UPDATE orders SET status = 'shipped' WHERE id % 10 = $round % 10 AND status = 'new';
DELETE FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE id % 50 = $round);
UPDATE orders SET status = 'cancelled' WHERE id % 50 = $round;
SQL
  sleep 0.5
done

echo "== waiting for the warehouse to catch up"
want=$(psql -d shop -Atc "SELECT pg_current_wal_insert_lsn()")
for _ in $(seq 1 100); do
  # The slot is confirmed only up to what the warehouse committed.
  done_=$(psql -d shop -Atc "SELECT coalesce(confirmed_flush_lsn >= '$want', false) FROM pg_replication_slots WHERE slot_name = 'tributary_shop'")
  [ "$done_" = t ] && break
  sleep 0.2
done
if ! kill -TERM "$agent" 2>/dev/null; then
  echo "tributary stopped on its own:" >&2
  cat "$TB_DEMO_DIR/agent.log" >&2
  exit 1
fi
wait "$agent" || true
agent=

echo
printf '%-12s %14s %14s %s\n' table "source rows" "target rows" "identical"
for t in customers orders order_items; do
  s=$(psql -d shop -Atc "SELECT count(*) FROM public.$t")
  d=$(psql -d dw -Atc "SELECT count(*) FROM shop.$t")
  hs=$(psql -d shop -Atc "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM public.$t x")
  hd=$(psql -d dw -Atc "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM shop.$t x")
  printf '%-12s %14s %14s %s\n' "$t" "$s" "$d" "$([ "$hs" = "$hd" ] && echo yes || echo NO)"
done

echo
echo "== tributary status -c $cfg"
"$BIN" status -c "$cfg"
echo
echo "== tributary schemas -c $cfg list"
"$BIN" schemas -c "$cfg" list
echo
echo "== a few replicated orders (psql -d dw -c 'SELECT ... FROM shop.orders')"
psql -d dw -c "SELECT id, customer_id, total, status, details FROM shop.orders ORDER BY id DESC LIMIT 5"
echo
echo "Everything ran in a throwaway server, now removed. To try it yourself:"
echo "  scripts/servers.sh start --pg    # prints how to connect"
echo "  then write a config like $cfg and run: $BIN run -c YOUR.json"
