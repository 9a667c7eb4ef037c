#!/usr/bin/env bash
# my_bench.sh - tributary's MySQL/MariaDB source against the usual tools, in
# one run on throwaway servers (everything shares them, so the comparison is
# fair on a noisy machine). Prints medians and ratios.
#
#   decode     W1 backlog on a 6-column table (1,000,000 inserts in 100
#              transactions, 1,000,000 single-column updates in 100
#              transactions, 500,000 deletes) in the binlog; then
#              `mariadb-binlog --read-from-remote-server
#              --base64-output=decode-rows -v` over all binlog files vs
#              build/bench/bench_my_decode (tributary's reader decoding the
#              same range into row changes and discarding them).
#              Goal: tributary >= 1.5x as fast as mariadb-binlog.
#   migration  a 1,000,000-row table of that shape, MariaDB -> a fresh
#              PostgreSQL database: `tributary run --once` (snapshot) with
#              source.snapshot_workers = 1 and = TB_BENCH_WORKERS (default
#              4; key ranges of source.snapshot_chunk_mb = TB_BENCH_CHUNK_MB,
#              default 16) vs pgloader; time and peak RSS of each.
#              Goal: tributary <= 1/3 of pgloader's time.
#
# Usage: bench/my_bench.sh [RUNS]   (default 3 runs of each; needs a build:
#        make -s build/tributary build/bench/bench_my_decode)
#        TB_BENCH_ONLY=decode|migration runs one part only.
# pgloader is optional (apt-get install -y pgloader); without it the
# migration comparison is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TB_BIN:-$PWD/build/tributary}
DECODE=${TB_DECODE_BIN:-$PWD/build/bench/bench_my_decode}
RUNS=${1:-3}
ROWS=${TB_BENCH_ROWS:-1000000}
ONLY=${TB_BENCH_ONLY:-all}
WORKERS=${TB_BENCH_WORKERS:-4}
CHUNK_MB=${TB_BENCH_CHUNK_MB:-16}

if [ -z "${TB_MY_PORT:-}" ] || [ -z "${TB_PG_PORT:-}" ]; then
  exec scripts/servers.sh run -- "$0" "$@"
fi
NEED=("$BIN")
[ "$ONLY" = migration ] || NEED+=("$DECODE")
for b in "${NEED[@]}"; do
  [ -x "$b" ] || { echo "$b missing: make -s build/tributary build/bench/bench_my_decode" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/tributary-mybench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
my() { mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$TB_MY_PORT" -u root "$@"; }
myval() { my -N -B "$@"; }
q() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TB_PG_PORT" -U postgres "$@"; }
val() { q -At "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }
median() { tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

# Run a command, leaving its wall time in $WORK/secs and its peak RSS (KiB)
# in $WORK/rss: /usr/bin/time -v when present, else /proc sampling of the
# process tree's largest member.
measure() {
  local t0 t1
  t0=$(now)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v -o "$WORK/time.txt" "$@"
    awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt" > "$WORK/rss"
  else
    "$@" & local pid=$! peak=0 r
    while kill -0 "$pid" 2>/dev/null; do
      for p in $pid $(pgrep -P "$pid" || true); do
        r=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        [ "${r:-0}" -gt "$peak" ] && peak=$r
      done
      sleep 0.05
    done
    wait "$pid"
    echo "$peak" > "$WORK/rss"
  fi
  t1=$(now)
  elapsed "$t0" "$t1" > "$WORK/secs"
}

TABLE_DDL="(id bigint PRIMARY KEY, qty int, label varchar(48), amount decimal(12,2),
  at timestamp(6) NULL, flag bool)"
ROW_SQL="seq, seq % 1000, CONCAT(MD5(seq), 'abcdefgh'), (seq % 100000) / 7,
  TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND, seq % 2 = 0"

# ---- decode ----------------------------------------------------------------
if [ "$ONLY" != migration ]; then
echo "== decode: building W1 in the binlog ($ROWS rows)"
my -e "SET GLOBAL max_binlog_size = 1073741824; DROP DATABASE IF EXISTS w1; DROP DATABASE IF EXISTS mig; RESET MASTER"
my -e "CREATE DATABASE w1; CREATE TABLE w1.w1 $TABLE_DDL"
per=$((ROWS / 100))
for i in $(seq 0 99); do
  echo "SET time_zone = '+00:00'; INSERT INTO w1.w1 SELECT $ROW_SQL FROM seq_$((i * per + 1))_to_$(((i + 1) * per));"
done | my w1
for i in $(seq 0 99); do
  echo "UPDATE w1.w1 SET qty = qty + 1 WHERE id BETWEEN $((i * per + 1)) AND $(((i + 1) * per));"
done | my w1
my -e "DELETE FROM w1.w1 WHERE id % 2 = 0"
mapfile -t FILES < <(myval -e "SHOW BINARY LOGS" | awk '{print $1}')
FIRST=${FILES[0]}
BYTES=$(myval -e "SHOW BINARY LOGS" | awk '{s += $2} END {print s}')
echo "   W1 done: ${#FILES[@]} binlog file(s), $BYTES bytes"

mb_times=() ; tb_times=()
for run in $(seq 1 "$RUNS"); do
  t0=$(now)
  mariadb-binlog --no-defaults --read-from-remote-server --base64-output=decode-rows -v \
    --host=127.0.0.1 --port="$TB_MY_PORT" --user=root "${FILES[@]}" > /dev/null
  t1=$(now)
  mb_times+=("$(elapsed "$t0" "$t1")")
  t0=$(now)
  out=$("$DECODE" "mysql://root@127.0.0.1:$TB_MY_PORT/w1" 'w1.w1' "file=$FIRST;pos=4")
  t1=$(now)
  tb_times+=("$(elapsed "$t0" "$t1")")
  changes=$(echo "$out" | awk '{print $2}')
  want=$((ROWS + ROWS + ROWS / 2))
  [ "$changes" = "$want" ] || { echo "bench_my_decode saw $changes changes, expected $want" >&2; exit 1; }
  echo "   run $run: mariadb-binlog ${mb_times[-1]} s, tributary ${tb_times[-1]} s ($out)"
done
mb=$(echo "${mb_times[*]}" | median)
tb=$(echo "${tb_times[*]}" | median)
echo "decode W1 ($BYTES binlog bytes): mariadb-binlog ${mb} s, tributary ${tb} s (medians of $RUNS)"
echo "decode speed-up tributary vs mariadb-binlog: $(ratio "$mb" "$tb")x (goal >= 1.50)"
fi
[ "$ONLY" = decode ] && exit 0

# ---- migration -------------------------------------------------------------
echo "== migration: $ROWS rows"
my -e "DROP DATABASE IF EXISTS w1; RESET MASTER; DROP DATABASE IF EXISTS mig; CREATE DATABASE mig; CREATE TABLE mig.w1 $TABLE_DDL"
my mig -e "SET time_zone = '+00:00'; INSERT INTO mig.w1 SELECT $ROW_SQL FROM seq_1_to_$ROWS; ANALYZE TABLE mig.w1" > /dev/null
SRC_SUM=$(myval mig -e "SELECT COUNT(*), SUM(qty), SUM(amount) FROM w1" | tr '\t' '|')

config() { # name db workers
  cat > "$WORK/$1.json" <<JSON
{"name": "$1",
 "source": {"type": "mysql", "dsn": "mysql://root@127.0.0.1:$TB_MY_PORT/mig",
            "server_id": 777002, "tables": ["mig.w1"], "snapshot": "initial",
            "snapshot_workers": $3, "snapshot_chunk_mb": $CHUNK_MB},
 "target": {"type": "postgres", "dsn": "host=127.0.0.1 port=$TB_PG_PORT user=postgres dbname=$2",
            "schema": "public"},
 "registry": {"path": "$WORK/registry-$1"},
 "batch": {"spill_dir": "$WORK/spill", "max_rows": 50000},
 "log": {"level": "warn"}}
JSON
}

HAVE_PGLOADER=1
if ! command -v pgloader > /dev/null; then
  HAVE_PGLOADER=0
  echo "   pgloader not installed (apt-get install -y pgloader): comparison skipped"
fi
trib_times=() ; trib_rss=() ; pgl_times=() ; pgl_rss=() ; one_times=() ; one_rss=()
# One migration by tributary with $1 snapshot workers; leaves secs and rss.
trib_migrate() {
  q -d postgres -c "DROP DATABASE IF EXISTS mtrib" -c "CREATE DATABASE mtrib"
  rm -rf "$WORK/registry-mig"
  config mig mtrib "$1"
  measure "$BIN" run --once -c "$WORK/mig.json"
  got=$(val -d mtrib -c "SELECT count(*), sum(qty), sum(amount) FROM public.w1")
  [ "$got" = "$SRC_SUM" ] || { echo "tributary target $got, source $SRC_SUM" >&2; exit 1; }
}
for run in $(seq 1 "$RUNS"); do
  trib_migrate 1
  one_times+=("$(cat "$WORK/secs")") ; one_rss+=("$(cat "$WORK/rss")")
  trib_migrate "$WORKERS"
  trib_times+=("$(cat "$WORK/secs")") ; trib_rss+=("$(cat "$WORK/rss")")
  line="   run $run: tributary 1 worker ${one_times[-1]} s ${one_rss[-1]} KiB, $WORKERS workers ${trib_times[-1]} s ${trib_rss[-1]} KiB"
  if [ "$HAVE_PGLOADER" = 1 ]; then
    q -d postgres -c "DROP DATABASE IF EXISTS mpgl" -c "CREATE DATABASE mpgl"
    measure pgloader --quiet "mysql://root@127.0.0.1:$TB_MY_PORT/mig" \
      "postgresql://postgres@127.0.0.1:$TB_PG_PORT/mpgl" > "$WORK/pgloader.log" 2>&1 ||
      { cat "$WORK/pgloader.log" >&2; exit 1; }
    pgl_times+=("$(cat "$WORK/secs")") ; pgl_rss+=("$(cat "$WORK/rss")")
    got=$(val -d mpgl -c "SELECT count(*), sum(qty), sum(amount) FROM mig.w1")
    [ "$got" = "$SRC_SUM" ] || { echo "pgloader target $got, source $SRC_SUM" >&2; exit 1; }
    line="$line, pgloader ${pgl_times[-1]} s ${pgl_rss[-1]} KiB"
  fi
  echo "$line"
done
tt=$(echo "${trib_times[*]}" | median) ; tr_=$(echo "${trib_rss[*]}" | median)
ot=$(echo "${one_times[*]}" | median) ; or_=$(echo "${one_rss[*]}" | median)
echo "migration $ROWS rows, tributary: 1 worker ${ot} s / ${or_} KiB, $WORKERS workers ${tt} s / ${tr_} KiB (medians of $RUNS)"
echo "migration speed-up $WORKERS workers vs 1: $(ratio "$ot" "$tt")x"
if [ "$HAVE_PGLOADER" = 1 ]; then
  pt=$(echo "${pgl_times[*]}" | median) ; pr=$(echo "${pgl_rss[*]}" | median)
  echo "migration $ROWS rows: pgloader ${pt} s / ${pr} KiB peak RSS, tributary ($WORKERS workers) ${tt} s / ${tr_} KiB (medians of $RUNS)"
  echo "migration time ratio tributary/pgloader: $(ratio "$tt" "$pt") (goal <= 0.33)"
  echo "migration memory ratio tributary/pgloader: $(ratio "$tr_" "$pr")"
else
  echo "migration $ROWS rows: tributary ${tt} s / ${tr_} KiB peak RSS (median of $RUNS)"
fi
