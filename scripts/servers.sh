#!/usr/bin/env bash
#
# servers.sh - throwaway PostgreSQL and MariaDB servers for tributary's tests.
#
#   scripts/servers.sh start [--pg] [--mariadb] [--dir DIR]
#   scripts/servers.sh stop DIR
#   scripts/servers.sh env DIR
#   scripts/servers.sh run [--pg] [--mariadb] [--dir DIR] -- CMD [ARGS...]
#
# `start` creates a fresh directory (mktemp -d /tmp/tributary-servers.XXXXXX
# unless --dir is given), initialises PostgreSQL (logical decoding on) and/or
# MariaDB (row binlog with full metadata) in it, starts both in parallel on
# random free loopback ports and waits until they accept connections. It
# writes DIR/env (shell-sourceable TB_* variables) and prints how to connect.
# Without --pg / --mariadb both servers are started.
#
# `stop` shuts the servers in DIR down (fast shutdown) and deletes DIR.
# `env` prints DIR/env. `run` starts the servers, exports their variables,
# runs CMD, and always stops them and deletes the directory at the end,
# exiting with CMD's exit status.
#
# Two runs at once never collide: each has its own directory (data, sockets,
# pid files) and picks a random TCP port; a port somebody else bound in the
# meantime makes the server fail with "Address already in use", which is
# detected in its log and retried with another random port.
#
# Environment knobs:
#   TB_SERVERS_TIMEOUT   seconds to wait for a server to accept connections (30)
#   TB_PG_BINDIR         PostgreSQL bin directory (default: newest of
#                        /usr/lib/postgresql/15/bin, /usr/lib/postgresql/*/bin)
#   TB_SERVERS_PORT_MIN  lowest port to draw from (15000)
#   TB_SERVERS_PORT_SPAN how many ports to draw from (17000)

set -euo pipefail

PROG=${0##*/}
MARKER=.tributary-servers # marks a directory this script may delete
TIMEOUT=${TB_SERVERS_TIMEOUT:-30}
PORT_TRIES=20
# Ports are drawn below Linux's default ephemeral range (32768-60999) so an
# outgoing connection of some client cannot be holding the port we pick. The
# range can be narrowed (tests do, to force collisions).
PORT_MIN=${TB_SERVERS_PORT_MIN:-15000}
PORT_SPAN=${TB_SERVERS_PORT_SPAN:-17000}

die() {
    echo "$PROG: $*" >&2
    exit 1
}

usage() {
    cat >&2 <<EOF
usage: $PROG start [--pg] [--mariadb] [--dir DIR]
       $PROG stop DIR
       $PROG env DIR
       $PROG run [--pg] [--mariadb] [--dir DIR] -- CMD [ARGS...]
EOF
    exit 2
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# PostgreSQL refuses to run as root: as root we run initdb, pg_ctl and the
# server as the postgres OS user; otherwise as ourselves. The cd makes sure
# the postgres user does not start in a directory it cannot read.
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

pg_bindir() {
    if [ -n "${TB_PG_BINDIR:-}" ]; then
        echo "$TB_PG_BINDIR"
        return
    fi
    if [ -x /usr/lib/postgresql/15/bin/postgres ]; then
        echo /usr/lib/postgresql/15/bin
        return
    fi
    local d
    d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    [ -x "$d/postgres" ] || d=
    [ -n "$d" ] || die "PostgreSQL binaries not found under /usr/lib/postgresql"
    echo "$d"
}

random_port() {
    # SRANDOM (bash >= 5.1) is seeded from the kernel, so two runs started in
    # the same second still draw different ports; RANDOM is the fallback.
    local r=${SRANDOM:-$((RANDOM * 32768 + RANDOM))}
    echo $((PORT_MIN + r % PORT_SPAN))
}

# Print the last lines of a server log to stderr, for failures.
show_log() {
    local name=$1 log=$2
    echo "---- last lines of $name log ($log) ----" >&2
    if [ -f "$log" ]; then tail -n 30 "$log" >&2; fi
    echo "---- end of $name log ----" >&2
}

# ---------------------------------------------------------------- PostgreSQL

# pg_start DIR: init and start PostgreSQL in DIR/pg; writes the port to
# DIR/pg.port. Runs in a subshell in parallel with my_start.
pg_start() {
    local dir=$1 bin pg=$1/pg port try
    bin=$(pg_bindir)
    mkdir -p "$pg"
    if is_root; then chown postgres: "$pg"; fi
    if ! as_pg "$bin/initdb" -A trust -U postgres --no-sync -E UTF8 \
        --locale=C -D "$pg/data" >"$dir/pg-initdb.log" 2>&1; then
        show_log initdb "$dir/pg-initdb.log"
        die "PostgreSQL initdb failed"
    fi
    # fsync stays on: synchronous_commit=off already removes the per-commit
    # wait, and a test server that loses data on a crash would hide bugs in
    # our own crash-recovery tests.
    cat >>"$pg/data/postgresql.conf" <<EOF

# ---- tributary test server (scripts/servers.sh) ----
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pg'
wal_level = logical
max_replication_slots = 40
max_wal_senders = 20
max_connections = 200
shared_buffers = 128MB
synchronous_commit = off
log_min_messages = warning
include_if_exists = 'port.conf'
EOF
    for ((try = 1; try <= PORT_TRIES; try++)); do
        port=$(random_port)
        echo "port = $port" | as_pg tee "$pg/data/port.conf" >/dev/null
        : >"$pg/server.log"
        if is_root; then chown postgres: "$pg/server.log"; fi
        if as_pg "$bin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w \
            -t "$TIMEOUT" start >"$dir/pg-ctl.log" 2>&1; then
            if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t "$TIMEOUT"; then
                echo "$port" >"$dir/pg.port"
                return 0
            fi
            show_log PostgreSQL "$pg/server.log"
            as_pg "$bin/pg_ctl" -D "$pg/data" -m immediate -w stop \
                >/dev/null 2>&1 || true
            die "PostgreSQL started but does not accept connections on $port"
        fi
        if grep -q "Address already in use" "$pg/server.log"; then
            # Somebody else owns this port: draw another one.
            echo "$PROG: PostgreSQL: port $port in use, retrying" >&2
            continue
        fi
        cat "$dir/pg-ctl.log" >&2
        show_log PostgreSQL "$pg/server.log"
        die "PostgreSQL failed to start"
    done
    die "PostgreSQL: no free port after $PORT_TRIES tries"
}

pg_stop() {
    local dir=$1 bin
    [ -f "$dir/pg/data/postmaster.pid" ] || return 0
    bin=$(pg_bindir)
    if ! as_pg "$bin/pg_ctl" -D "$dir/pg/data" -m fast -w -t "$TIMEOUT" \
        stop >/dev/null 2>&1; then
        echo "$PROG: PostgreSQL fast shutdown failed, trying immediate" >&2
        as_pg "$bin/pg_ctl" -D "$dir/pg/data" -m immediate -w stop \
            >/dev/null 2>&1 || true
    fi
}

# ------------------------------------------------------------------- MariaDB

# my_start DIR: init and start MariaDB in DIR/my; writes the port to
# DIR/my.port.
my_start() {
    local dir=$1 my=$1/my port try pid waited user=()
    # mariadbd insists on --user when started as root; as anybody else the
    # server simply runs as the current user.
    if is_root; then user=(--user=root); fi
    # Its own tmpdir: two bootstraps at once must not share temp files.
    mkdir -p "$my" "$my/tmp"
    # normal: root@localhost, root@127.0.0.1 and root@::1 get no password
    # (instead of unix_socket auth), so tests can log in over TCP as root.
    # No native AIO (io_uring/libaio): several throwaway servers starting at
    # once can exhaust the kernel's AIO limits and fail InnoDB's start.
    if ! mariadb-install-db --no-defaults "${user[@]}" --datadir="$my/data" \
        --auth-root-authentication-method=normal --skip-test-db \
        --skip-name-resolve --innodb-use-native-aio=0 --tmpdir="$my/tmp" \
        >"$dir/my-install.log" 2>&1; then
        show_log mariadb-install-db "$dir/my-install.log"
        # The cause is usually an [ERROR] line far above the tail.
        grep -m 5 'ERROR' "$dir/my-install.log" >&2 || true
        die "mariadb-install-db failed"
    fi
    for ((try = 1; try <= PORT_TRIES; try++)); do
        port=$(random_port)
        : >"$my/server.log"
        # setsid + redirections: the server must not hold the caller's
        # terminal or stdout pipe open after `start` returns.
        setsid mariadbd --no-defaults "${user[@]}" --datadir="$my/data" \
            --bind-address=127.0.0.1 --port="$port" \
            --socket="$my/mysqld.sock" --pid-file="$my/mysqld.pid" \
            --log-error="$my/server.log" --skip-name-resolve \
            --log-bin="$my/data/binlog" --server-id=1 \
            --binlog-format=ROW --binlog-row-image=FULL \
            --binlog-row-metadata=FULL --max-connections=200 \
            --innodb-buffer-pool-size=64M \
            --innodb-flush-log-at-trx-commit=2 \
            --innodb-use-native-aio=0 --tmpdir="$my/tmp" \
            </dev/null >/dev/null 2>&1 &
        pid=$!
        waited=0
        while :; do
            # Ping through our own unix socket first: a server answering on
            # the TCP port might be somebody else's that won the race for it.
            if mariadb-admin --no-defaults -S "$my/mysqld.sock" -u root \
                ping >/dev/null 2>&1; then
                if ! mariadb --no-defaults --protocol=tcp -h 127.0.0.1 \
                    -P "$port" -u root --connect-timeout="$TIMEOUT" \
                    -e 'CREATE DATABASE IF NOT EXISTS tributary_test' \
                    >"$dir/my-create.log" 2>&1; then
                    cat "$dir/my-create.log" >&2
                    my_stop "$dir"
                    die "MariaDB: cannot log in as root over TCP on $port"
                fi
                echo "$port" >"$dir/my.port"
                return 0
            fi
            if ! kill -0 "$pid" 2>/dev/null; then break; fi
            if ((waited >= TIMEOUT * 10)); then
                kill -KILL "$pid" 2>/dev/null || true
                show_log MariaDB "$my/server.log"
                die "MariaDB did not accept connections within ${TIMEOUT}s"
            fi
            sleep 0.1
            waited=$((waited + 1))
        done
        wait "$pid" 2>/dev/null || true
        if grep -q "Address already in use" "$my/server.log"; then
            echo "$PROG: MariaDB: port $port in use, retrying" >&2
            continue
        fi
        show_log MariaDB "$my/server.log"
        die "MariaDB failed to start"
    done
    die "MariaDB: no free port after $PORT_TRIES tries"
}

my_stop() {
    local dir=$1 pid i
    [ -f "$dir/my/mysqld.pid" ] || return 0
    pid=$(cat "$dir/my/mysqld.pid")
    kill -0 "$pid" 2>/dev/null || return 0
    # SIGTERM is MariaDB's normal shutdown and needs no credentials.
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < TIMEOUT * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "$PROG: MariaDB (pid $pid) ignored SIGTERM, killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

# ------------------------------------------------------------------ commands

# Refuse anything that is not a directory made by this script: `stop` runs
# rm -rf on it.
check_dir() {
    local dir=$1
    [ -d "$dir" ] || die "$dir: no such directory"
    [ -f "$dir/$MARKER" ] || die "$dir: not a servers.sh directory"
}

write_env() {
    local dir=$1 f=$1/env.tmp vars=TB_TEST_DIR
    {
        echo "# tributary test servers: source this file (scripts/servers.sh)"
        echo "TB_TEST_DIR=\"$dir\""
        if [ -f "$dir/pg.port" ]; then
            local pp
            pp=$(cat "$dir/pg.port")
            echo "TB_PG_HOST=\"127.0.0.1\""
            echo "TB_PG_PORT=\"$pp\""
            echo "TB_PG_USER=\"postgres\""
            echo "TB_PG_SOCKET_DIR=\"$dir/pg\""
            echo "TB_PG_DSN=\"host=127.0.0.1 port=$pp user=postgres" \
                "dbname=postgres\""
            vars="$vars TB_PG_HOST TB_PG_PORT TB_PG_USER TB_PG_SOCKET_DIR"
            vars="$vars TB_PG_DSN"
        fi
        if [ -f "$dir/my.port" ]; then
            local mp
            mp=$(cat "$dir/my.port")
            echo "TB_MY_HOST=\"127.0.0.1\""
            echo "TB_MY_PORT=\"$mp\""
            echo "TB_MY_USER=\"root\""
            echo "TB_MY_SOCKET=\"$dir/my/mysqld.sock\""
            echo "TB_MY_DATABASE=\"tributary_test\""
            echo "TB_MY_URI=\"mysql://root@127.0.0.1:$mp/\""
            vars="$vars TB_MY_HOST TB_MY_PORT TB_MY_USER TB_MY_SOCKET"
            vars="$vars TB_MY_DATABASE TB_MY_URI"
        fi
        # One export line keeps the KEY="value" lines greppable while a
        # plain `. DIR/env` still hands the variables to child processes.
        echo "export $vars"
    } >"$f"
    mv "$f" "$dir/env"
}

stop_dir() {
    local dir=$1
    # Stop both even when one of them fails to stop.
    pg_stop "$dir" || true
    my_stop "$dir" || true
    rm -rf -- "$dir"
}

# parse_start_opts ARGS...: sets WANT_PG, WANT_MY, DIR; leaves the number of
# consumed arguments in NSHIFT.
parse_start_opts() {
    WANT_PG=0
    WANT_MY=0
    DIR=
    NSHIFT=0
    while [ $# -gt 0 ]; do
        case $1 in
        --pg) WANT_PG=1 ;;
        --mariadb) WANT_MY=1 ;;
        --dir)
            [ $# -ge 2 ] || usage
            DIR=$2
            shift
            NSHIFT=$((NSHIFT + 1))
            ;;
        --dir=*) DIR=${1#--dir=} ;;
        --) break ;;
        *) usage ;;
        esac
        shift
        NSHIFT=$((NSHIFT + 1))
    done
    if [ "$WANT_PG" = 0 ] && [ "$WANT_MY" = 0 ]; then
        WANT_PG=1
        WANT_MY=1
    fi
}

# make_dir: create (or adopt an empty) DIR, or a fresh mktemp directory;
# prints its absolute path.
make_dir() {
    local dir=$1
    if [ -z "$dir" ]; then
        dir=$(mktemp -d /tmp/tributary-servers.XXXXXX)
    else
        mkdir -p -- "$dir"
        [ -z "$(ls -A -- "$dir")" ] || die "$dir: directory is not empty"
        dir=$(cd -- "$dir" && pwd -P)
    fi
    case $dir in
    *[\"\$\`\\\ ]*) die "$dir: directory name must not contain quotes, \$, \`, \\ or spaces" ;;
    esac
    # The MariaDB socket path must fit in sockaddr_un (108 bytes).
    [ ${#dir} -le 80 ] || die "$dir: path too long for a unix socket"
    : >"$dir/$MARKER"
    # As root, the postgres user must be able to reach DIR/pg.
    if is_root; then chmod 711 "$dir"; fi
    echo "$dir"
}

# wait_child PID: wait for a background job, returning its exit status.
# A trapped signal makes `wait` return early (status > 128) while the job
# still runs; then wait again.
wait_child() {
    local pid=$1 st
    while :; do
        st=0
        wait "$pid" || st=$?
        if [ "$st" -gt 128 ] && kill -0 "$pid" 2>/dev/null; then continue; fi
        return "$st"
    done
}

start_servers() {
    local dir=$1 pgpid='' mypid='' rc=0 saved
    # An interrupt during the start must not leave servers behind: note it,
    # let both starters finish (they ignore SIGINT, being background jobs),
    # then stop whatever came up.
    saved=$(trap -p INT TERM)
    START_INTERRUPTED=0
    trap 'START_INTERRUPTED=1' INT TERM
    if [ "$WANT_PG" = 1 ]; then
        pg_start "$dir" &
        pgpid=$!
    fi
    if [ "$WANT_MY" = 1 ]; then
        my_start "$dir" &
        mypid=$!
    fi
    if [ -n "$pgpid" ]; then wait_child "$pgpid" || rc=1; fi
    if [ -n "$mypid" ]; then wait_child "$mypid" || rc=1; fi
    trap - INT TERM
    if [ -n "$saved" ]; then eval "$saved"; fi
    if [ "$START_INTERRUPTED" = 1 ]; then
        stop_dir "$dir"
        die "interrupted; servers stopped and $dir deleted"
    fi
    if [ "$rc" != 0 ]; then
        stop_dir "$dir"
        die "could not start the test servers"
    fi
    write_env "$dir"
}

print_info() {
    local dir=$1
    echo "tributary test servers are running in $dir"
    if [ -f "$dir/pg.port" ]; then
        echo "  PostgreSQL: psql \"host=127.0.0.1 port=$(cat "$dir/pg.port")" \
            "user=postgres dbname=postgres\""
    fi
    if [ -f "$dir/my.port" ]; then
        echo "  MariaDB:    mariadb -h 127.0.0.1 -P $(cat "$dir/my.port")" \
            "-u root tributary_test"
    fi
    echo "  variables:  . $dir/env"
    echo "  stop:       $0 stop $dir"
    grep -v '^#' "$dir/env"
}

cmd_start() {
    local dir
    parse_start_opts "$@"
    shift "$NSHIFT"
    [ $# -eq 0 ] || usage
    dir=$(make_dir "$DIR")
    start_servers "$dir"
    print_info "$dir"
}

cmd_run() {
    local dir rc
    parse_start_opts "$@"
    shift "$NSHIFT"
    [ "${1:-}" = "--" ] || usage
    shift
    [ $# -gt 0 ] || usage
    dir=$(make_dir "$DIR")
    # Installed before the servers start, so an interrupted start cleans up
    # too. INT/TERM are passed on to CMD and then become a normal exit, which
    # runs the EXIT trap (and so the cleanup) exactly once.
    RUN_DIR=$dir
    RUN_CHILD=
    trap 'stop_dir "$RUN_DIR"' EXIT
    trap 'on_signal INT 130' INT
    trap 'on_signal TERM 143' TERM
    start_servers "$dir"
    set -a
    # shellcheck source=/dev/null
    . "$dir/env"
    set +a
    # CMD runs asynchronously because bash delays traps until a foreground
    # child exits; `wait` returns as soon as a signal arrives. The explicit
    # <&0 keeps CMD's stdin (bash gives async commands /dev/null otherwise).
    "$@" <&0 &
    RUN_CHILD=$!
    rc=0
    wait "$RUN_CHILD" || rc=$?
    RUN_CHILD=
    exit "$rc"
}

on_signal() {
    local sig=$1 code=$2
    if [ -n "${RUN_CHILD:-}" ]; then
        kill -"$sig" "$RUN_CHILD" 2>/dev/null || true
        wait "$RUN_CHILD" 2>/dev/null || true
    fi
    exit "$code"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
start) cmd_start "$@" ;;
stop)
    [ $# -eq 1 ] || usage
    check_dir "$1"
    stop_dir "$1"
    ;;
env)
    [ $# -eq 1 ] || usage
    check_dir "$1"
    [ -f "$1/env" ] || die "$1: no env file (servers not started?)"
    cat "$1/env"
    ;;
run) cmd_run "$@" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
