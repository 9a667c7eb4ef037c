#!/bin/sh
# capture.sh - regenerate the pgoutput golden captures from a real server.
#
# Starts a throwaway PostgreSQL 15 (wal_level=logical) in a fresh temporary
# directory on a free port, runs the scenarios below, and writes, for each,
# <name>.hex: the raw pgoutput messages as returned by
# pg_logical_slot_peek_binary_changes, one message per line in hex, after a
# "#proto N" header line that tells the unit test which protocol version the
# messages use. The server is stopped and its directory deleted on exit.
#
# The expected renderings (<name>.out) are produced by the unit test:
#   TB_PGO_GOLDEN_UPDATE=1 build/tests/unit/test_pgoutput
# and must be reviewed by hand (diff them) before they are committed.
#
# Usage (as root, from the repository root): tests/data/pgoutput/capture.sh
set -eu

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
OUT=$(cd "$(dirname "$0")" && pwd)
DIR=$(mktemp -d /tmp/tb-pgo-capture.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
chown postgres:postgres "$DIR"

cleanup() {
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop \
        >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

runuser -u postgres -- "$PGBIN/initdb" -D "$DIR/data" -A trust >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/data" -w -l "$DIR/log" -o \
    "-c wal_level=logical -c port=$PORT -c listen_addresses=127.0.0.1 \
     -c unix_socket_directories=$DIR -c max_prepared_transactions=10 \
     -c fsync=off" start >/dev/null

psql() {
    runuser -u postgres -- "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" \
        -p "$PORT" -d postgres "$@"
}

# peek NAME SLOT PROTO OPTIONS...: write NAME.hex from the slot's changes.
peek() {
    name=$1 slot=$2 proto=$3
    shift 3
    opts="'proto_version','$proto','publication_names','pub'"
    for o in "$@"; do opts="$opts,$o"; done
    {
        echo "#proto $proto"
        psql -At -c "SET logical_decoding_work_mem = '64kB'" -c \
            "SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('$slot', NULL, NULL, $opts)"
    } >"$OUT/$name.hex"
    echo "wrote $OUT/$name.hex ($(($(wc -l <"$OUT/$name.hex") - 1)) messages)"
}

psql >/dev/null <<'SQL'
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TABLE t (id int PRIMARY KEY, name text, m mood, big text);
ALTER TABLE t ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE TABLE full_t (a int, b text, c bytea);
ALTER TABLE full_t REPLICA IDENTITY FULL;
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id serial PRIMARY KEY, pid int REFERENCES parent);
CREATE TABLE s (id int PRIMARY KEY, v text);
CREATE TABLE p (id int PRIMARY KEY, v text);
CREATE PUBLICATION pub FOR ALL TABLES;
SELECT pg_replication_origin_create('upstream');
SQL

# --- basic: every plain DML kind, messages, origin, a replaced relation ---
psql -c "SELECT pg_create_logical_replication_slot('basic', 'pgoutput')" >/dev/null
psql >/dev/null <<'SQL'
INSERT INTO t VALUES (1, 'one', 'happy', repeat('x', 5000)),
                     (2, NULL, 'sad', NULL);
UPDATE t SET name = 'uno "quoted"' WHERE id = 1;  -- big stays unchanged TOAST
UPDATE t SET id = 3 WHERE id = 2;                 -- key change: old key 'K'
DELETE FROM t WHERE id = 3;                       -- old key 'K'
INSERT INTO full_t VALUES (1, 'a', '\x00ff'::bytea);
UPDATE full_t SET b = 'b';                        -- old row 'O'
DELETE FROM full_t;                               -- old row 'O'
BEGIN;
SELECT pg_logical_emit_message(true, 'tb', 'hello');
INSERT INTO t VALUES (4, E'tab\there', 'sad', 'small');
COMMIT;
SELECT pg_logical_emit_message(false, 'tb', 'not transactional');
INSERT INTO parent VALUES (1);
INSERT INTO child (pid) VALUES (1);
TRUNCATE parent, child RESTART IDENTITY CASCADE;
TRUNCATE full_t;
ALTER TABLE t ADD COLUMN extra int;               -- relation replaced
INSERT INTO t VALUES (5, 'five', 'sad', NULL, 42);
SELECT pg_replication_origin_session_setup('upstream');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/ABCDEF', '2020-01-02 03:04:05+00');
INSERT INTO t VALUES (6, 'from upstream', NULL, NULL, NULL);
COMMIT;
SQL
peek basic basic 1 "'messages','true'"
peek basic_binary basic 1 "'binary','true'"
psql -c "SELECT pg_drop_replication_slot('basic')" >/dev/null

# --- stream: large transactions streamed with protocol 2 ---
psql -c "SELECT pg_create_logical_replication_slot('stream', 'pgoutput')" >/dev/null
psql >/dev/null <<'SQL'
BEGIN;
INSERT INTO s SELECT g, 'row ' || g FROM generate_series(1, 500) g;
SAVEPOINT a;
INSERT INTO s SELECT g, 'sub ' || g FROM generate_series(1001, 1500) g;
ROLLBACK TO a;
ALTER TABLE s ADD COLUMN w int;                   -- relation replaced in stream
INSERT INTO s SELECT g, 'after', g FROM generate_series(2001, 2400) g;
SELECT pg_logical_emit_message(true, 'tb', 'in stream');
UPDATE s SET v = 'upd' WHERE id = 1;
DELETE FROM s WHERE id = 2;
COMMIT;
BEGIN;
INSERT INTO s SELECT g, 'doomed' FROM generate_series(5001, 5600) g;
ROLLBACK;
INSERT INTO s VALUES (9999, 'small', 1);
SQL
peek stream stream 2 "'streaming','on'" "'messages','true'"
psql -c "SELECT pg_drop_replication_slot('stream')" >/dev/null

# --- twophase: prepared transactions with protocol 3 (streamed one too) ---
psql -c "SELECT pg_create_logical_replication_slot('twophase', 'pgoutput', false, true)" >/dev/null
psql >/dev/null <<'SQL'
BEGIN; INSERT INTO p VALUES (1, 'one'); PREPARE TRANSACTION 'g1';
COMMIT PREPARED 'g1';
BEGIN; INSERT INTO p VALUES (2, 'two'); PREPARE TRANSACTION 'g2';
ROLLBACK PREPARED 'g2';
BEGIN;
INSERT INTO p SELECT g, 'big ' || g FROM generate_series(100, 700) g;
PREPARE TRANSACTION 'g3';
COMMIT PREPARED 'g3';
SQL
peek twophase twophase 3 "'two_phase','on'" "'streaming','on'"
psql -c "SELECT pg_drop_replication_slot('twophase')" >/dev/null
