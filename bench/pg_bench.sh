#!/usr/bin/env bash
# pg_bench.sh - tributary vs PostgreSQL's own logical replication, in one run
# on one throwaway server (both replicators share it, so the comparison is
# fair on a noisy machine). Prints medians and ratios.
#
#   catch-up  W1 backlog on a 6-column table (1,000,000 inserts in 100
#             transactions, 1,000,000 single-column updates in 100
#             transactions, 500,000 deletes), built while neither replicator
#             runs; each replays it from its own copy of a slot made before
#             W1 (pg_copy_logical_replication_slot). Goal: tributary <= 0.8x
#             the native subscription's time.
#   snapshot  1,000,000 rows of that table: tributary's initial copy vs a
#             `\copy (binary) | \copy` pipe and vs CREATE SUBSCRIPTION with
#             copy_data. Goal: <= 1.1x the pipe, faster than copy_data.
#
# Usage: bench/pg_bench.sh [RUNS]   (default 3 runs of each; needs a build)
#        TB_BENCH_PART=catchup|snapshot runs one half only.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TB_BIN:-$PWD/build/tributary}
RUNS=${1:-3}
ROWS=${TB_BENCH_ROWS:-1000000}

if [ -z "${TB_PG_PORT:-}" ]; then
  exec scripts/servers.sh run --pg -- "$0" "$@"
fi

WORK=$(mktemp -d /tmp/tributary-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
q() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TB_PG_PORT" -U postgres "$@"; }
val() { q -At "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }
median() { tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

TABLE_DDL="CREATE TABLE public.w1 (id bigint PRIMARY KEY, qty int, label text,
  amount numeric(12,2), at timestamptz, flag bool)"

q -d postgres -c "ALTER SYSTEM SET max_wal_size = '4GB'" -c "SELECT pg_reload_conf()" >/dev/null
q -d postgres -c "CREATE DATABASE bsrc"
q -d bsrc -c "$TABLE_DDL" -c "CREATE PUBLICATION bpub FOR TABLE public.w1"

config() { # name slot db snapshot
  cat > "$WORK/$1.json" <<JSON
{"name": "$1",
 "source": {"type": "postgres", "dsn": "host=127.0.0.1 port=$TB_PG_PORT user=postgres dbname=bsrc",
            "tables": ["public.w1"], "slot": "$2", "publication": "bpub", "snapshot": "$4"},
 "target": {"type": "postgres", "dsn": "host=127.0.0.1 port=$TB_PG_PORT user=postgres dbname=$3",
            "schema": "public"},
 "registry": {"path": "$WORK/registry-$1"},
 "batch": {"spill_dir": "$WORK/spill", "max_rows": 50000},
 "log": {"level": "warn"}}
JSON
}

PART=${TB_BENCH_PART:-all}
# ---- catch-up --------------------------------------------------------------
if [ "$PART" != snapshot ]; then
echo "== catch-up: building W1 (slot made before it)"
q -d bsrc -c "SELECT pg_create_logical_replication_slot('w1_base', 'pgoutput')" >/dev/null
per=$((ROWS / 100))
for i in $(seq 0 99); do
  echo "INSERT INTO public.w1 SELECT g, g % 1000, md5(g::text) || 'abcdefgh',
        (g % 100000) / 7.0, '2024-01-01'::timestamptz + g * interval '1 second',
        g % 2 = 0 FROM generate_series($((i * per + 1)), $(((i + 1) * per))) g;"
done | q -d bsrc
for i in $(seq 0 99); do
  echo "UPDATE public.w1 SET qty = qty + 1 WHERE id BETWEEN $((i * per + 1)) AND $(((i + 1) * per));"
done | q -d bsrc
q -d bsrc -c "DELETE FROM public.w1 WHERE id % 2 = 0"
END_LSN=$(val -d bsrc -c "SELECT pg_current_wal_lsn()")
SRC_MD5=$(val -d bsrc -c "SELECT md5(string_agg(x::text, ',' ORDER BY id)) FROM public.w1 x")
echo "   W1 done, end LSN $END_LSN"

native_times=() ; trib_times=()
for run in $(seq 1 "$RUNS"); do
  # native subscription
  q -d postgres -c "DROP DATABASE IF EXISTS bnat" -c "CREATE DATABASE bnat"
  q -d bnat -c "$TABLE_DDL"
  q -d bsrc -c "SELECT pg_copy_logical_replication_slot('w1_base', 'w1_nat')" >/dev/null
  t0=$(now)
  q -d bnat -c "CREATE SUBSCRIPTION bsub CONNECTION 'host=127.0.0.1 port=$TB_PG_PORT user=postgres dbname=bsrc'
                PUBLICATION bpub WITH (create_slot = false, slot_name = 'w1_nat', copy_data = false)"
  until [ "$(val -d bsrc -c "SELECT confirmed_flush_lsn >= '$END_LSN' FROM pg_replication_slots WHERE slot_name = 'w1_nat'")" = t ]; do
    sleep 0.05
  done
  t1=$(now)
  native_times+=("$(elapsed "$t0" "$t1")")
  got=$(val -d bnat -c "SELECT md5(string_agg(x::text, ',' ORDER BY id)) FROM public.w1 x")
  [ "$got" = "$SRC_MD5" ] || { echo "native target differs from source" >&2; exit 1; }
  q -d bnat -c "ALTER SUBSCRIPTION bsub DISABLE" -c "ALTER SUBSCRIPTION bsub SET (slot_name = NONE)" -c "DROP SUBSCRIPTION bsub"
  q -d bsrc -c "SELECT pg_drop_replication_slot('w1_nat')" >/dev/null

  # tributary
  q -d postgres -c "DROP DATABASE IF EXISTS btrib" -c "CREATE DATABASE btrib"
  q -d bsrc -c "SELECT pg_copy_logical_replication_slot('w1_base', 'w1_trib')" >/dev/null
  rm -rf "$WORK/registry-catchup"
  config catchup w1_trib btrib never
  # Same finish line as the subscription: the slot confirmed past the end of
  # W1. (--once would also wait for the WAL the earlier runs' targets wrote
  # into this same cluster after W1.)
  t0=$(now)
  "$BIN" run -c "$WORK/catchup.json" &
  agent=$!
  until [ "$(val -d bsrc -c "SELECT confirmed_flush_lsn >= '$END_LSN' FROM pg_replication_slots WHERE slot_name = 'w1_trib'")" = t ]; do
    kill -0 "$agent" 2>/dev/null || { echo "tributary stopped early" >&2; exit 1; }
    sleep 0.05
  done
  t1=$(now)
  kill -TERM "$agent"; wait "$agent"
  trib_times+=("$(elapsed "$t0" "$t1")")
  got=$(val -d btrib -c "SELECT md5(string_agg(x::text, ',' ORDER BY id)) FROM public.w1 x")
  [ "$got" = "$SRC_MD5" ] || { echo "tributary target differs from source" >&2; exit 1; }
  q -d bsrc -c "SELECT pg_drop_replication_slot('w1_trib')" >/dev/null
  echo "   run $run: native ${native_times[-1]} s, tributary ${trib_times[-1]} s"
done
q -d bsrc -c "SELECT pg_drop_replication_slot('w1_base')" >/dev/null
nat=$(echo "${native_times[*]}" | median)
trib=$(echo "${trib_times[*]}" | median)
echo "catch-up W1: native subscription ${nat} s, tributary ${trib} s (medians of $RUNS)"
echo "catch-up ratio tributary/native: $(awk -v a="$trib" -v b="$nat" 'BEGIN{printf "%.2f", a/b}') (goal <= 0.80)"

fi
# ---- snapshot --------------------------------------------------------------
if [ "$PART" != catchup ]; then
echo "== snapshot: $ROWS rows"
q -d bsrc -c "TRUNCATE public.w1" -c "INSERT INTO public.w1 SELECT g, g % 1000, md5(g::text) || 'abcdefgh',
        (g % 100000) / 7.0, '2024-01-01'::timestamptz + g * interval '1 second', g % 2 = 0
        FROM generate_series(1, $ROWS) g" -c "VACUUM ANALYZE public.w1"
pipe_times=() ; sub_times=() ; snap_times=()
for run in $(seq 1 "$RUNS"); do
  q -d postgres -c "DROP DATABASE IF EXISTS bpipe" -c "CREATE DATABASE bpipe"
  q -d bpipe -c "$TABLE_DDL"
  t0=$(now)
  q -d bsrc -c "\\copy (SELECT * FROM public.w1) TO STDOUT (FORMAT binary)" |
    q -d bpipe -c "\\copy public.w1 FROM STDIN (FORMAT binary)"
  t1=$(now)
  pipe_times+=("$(elapsed "$t0" "$t1")")

  q -d postgres -c "DROP DATABASE IF EXISTS bsub" -c "CREATE DATABASE bsub"
  q -d bsub -c "$TABLE_DDL"
  q -d bsrc -c "SELECT pg_create_logical_replication_slot('w1_sub', 'pgoutput')" >/dev/null
  t0=$(now)
  q -d bsub -c "CREATE SUBSCRIPTION ssub CONNECTION 'host=127.0.0.1 port=$TB_PG_PORT user=postgres dbname=bsrc'
                PUBLICATION bpub WITH (create_slot = false, slot_name = 'w1_sub', copy_data = true)"
  until [ "$(val -d bsub -c "SELECT bool_and(srsubstate IN ('r', 's')) FROM pg_subscription_rel")" = t ]; do
    sleep 0.05
  done
  t1=$(now)
  sub_times+=("$(elapsed "$t0" "$t1")")
  q -d bsub -c "ALTER SUBSCRIPTION ssub DISABLE" -c "ALTER SUBSCRIPTION ssub SET (slot_name = NONE)" -c "DROP SUBSCRIPTION ssub"
  q -d bsrc -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'w1_sub%' OR slot_name LIKE 'pg_%_sync_%'" >/dev/null

  q -d postgres -c "DROP DATABASE IF EXISTS bsnap" -c "CREATE DATABASE bsnap"
  rm -rf "$WORK/registry-snap"
  config snap tributary_snap bsnap initial
  t0=$(now)
  "$BIN" run --once -c "$WORK/snap.json"
  t1=$(now)
  snap_times+=("$(elapsed "$t0" "$t1")")
  n=$(val -d bsnap -c "SELECT count(*) FROM public.w1")
  [ "$n" = "$ROWS" ] || { echo "tributary snapshot copied $n rows, expected $ROWS" >&2; exit 1; }
  q -d bsrc -c "SELECT pg_drop_replication_slot('tributary_snap')" >/dev/null
  echo "   run $run: pipe ${pipe_times[-1]} s, copy_data ${sub_times[-1]} s, tributary ${snap_times[-1]} s"
done
pipe=$(echo "${pipe_times[*]}" | median)
sub=$(echo "${sub_times[*]}" | median)
snap=$(echo "${snap_times[*]}" | median)
echo "snapshot $ROWS rows: binary copy pipe ${pipe} s, copy_data subscription ${sub} s, tributary ${snap} s (medians of $RUNS)"
echo "snapshot ratio tributary/pipe: $(awk -v a="$snap" -v b="$pipe" 'BEGIN{printf "%.2f", a/b}') (goal <= 1.10)"
echo "snapshot ratio tributary/copy_data: $(awk -v a="$snap" -v b="$sub" 'BEGIN{printf "%.2f", a/b}') (goal < 1.00)"
fi
