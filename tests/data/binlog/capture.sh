#!/bin/sh
# capture.sh - record golden binlog files from a throwaway MariaDB.
#
# Starts mariadbd in its own temporary directory on a free loopback port,
# creates tables covering every column type, runs inserts / updates /
# deletes with row-based logging and full row metadata, then copies the
# binlog into this directory as mariadb-rows.bin. The server and its
# directory are removed on exit, whatever happens.
#
# After a new capture, regenerate the expected rendering with
#   TB_BINLOG_GOLDEN_WRITE=1 build/tests/unit/test_binlog_rows
# and review the diff (compare with `mariadb-binlog -vv --base64-output=
# decode-rows` of the same file) before committing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/tb-binlog-capture.XXXXXX)
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

port=""
for p in $(seq 23306 23399); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        port=$p
        break
    fi
done
[ -n "$port" ] || { echo "no free port" >&2; exit 1; }

mariadb-install-db --no-defaults --user=root --datadir="$dir/data" \
    --auth-root-authentication-method=normal >"$dir/install.log" 2>&1

mariadbd --no-defaults --user=root --datadir="$dir/data" --port="$port" \
    --bind-address=127.0.0.1 --socket="$dir/sock" --pid-file="$dir/pid" \
    --log-bin="$dir/bin" --binlog-format=ROW --binlog-row-image=FULL \
    --binlog-row-metadata=FULL --server-id=1 --default-time-zone=+00:00 \
    --skip-name-resolve --log-error="$dir/err.log" &
pid=$!

i=0
until mariadb --no-defaults -uroot --socket="$dir/sock" -e 'SELECT 1' \
    >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 60 ] || { cat "$dir/err.log" >&2; exit 1; }
    sleep 0.5
done

sql() {
    mariadb --no-defaults -uroot --socket="$dir/sock" \
        --default-character-set=utf8mb4 "$@"
}

sql -e 'RESET MASTER'
sql <<'EOF'
SET sql_mode = '';
SET time_zone = '+00:00';
CREATE DATABASE tb;
USE tb;

CREATE TABLE ints (
  id INT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
  bi BIGINT, biu BIGINT UNSIGNED, y YEAR
);
INSERT INTO ints VALUES
  (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0,
   -9223372036854775808, 0, 1901),
  (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
   9223372036854775807, 18446744073709551615, 2155),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0);

CREATE TABLE nums (
  id INT PRIMARY KEY,
  d65 DECIMAL(65,30), d10 DECIMAL(10,2), d5 DECIMAL(5,0) UNSIGNED,
  d18 DECIMAL(18,9), f FLOAT, dbl DOUBLE,
  b1 BIT(1), b10 BIT(10), b64 BIT(64)
);
INSERT INTO nums VALUES
  (1, 99999999999999999999999999999999999.999999999999999999999999999999,
   12345678.90, 99999, 123456789.123456789, 1.5, 3.141592653589793,
   b'1', b'1000000001', b'1111111111111111111111111111111111111111111111111111111111111111'),
  (2, -99999999999999999999999999999999999.999999999999999999999999999999,
   -0.01, 0, -0.000000001, -2.5e-10, -1.7976931348623157e308,
   b'0', b'0000000000', b'0'),
  (3, 0, 0.5, 1, 1, 0, 0, NULL, NULL, NULL),
  (4, -1.5, -99999999.99, 42, -999999999.999999999, 3.4e38, 2.2250738585072014e-308,
   b'1', b'0101010101', b'1000000000000000000000000000000000000000000000000000000000000001');

CREATE TABLE times (
  id INT PRIMARY KEY,
  d DATE, t0 TIME, t1 TIME(1), t3 TIME(3), t6 TIME(6),
  dt0 DATETIME, dt2 DATETIME(2), dt4 DATETIME(4), dt6 DATETIME(6),
  ts0 TIMESTAMP NULL, ts3 TIMESTAMP(3) NULL, ts6 TIMESTAMP(6) NULL
);
INSERT INTO times VALUES
  (1, '2024-02-29', '12:34:56', '-00:00:00.5', '838:59:59.999', '-838:59:59.000001',
   '1000-01-01 00:00:00', '9999-12-31 23:59:59.99', '2024-02-29 12:00:00.1234',
   '2038-01-19 03:14:07.999999',
   '1970-01-01 00:00:01', '2038-01-19 03:14:07.999', '2024-06-01 10:20:30.000001'),
  (2, '0000-00-00', '-12:00:00', '25:00:00.1', '-01:02:03.456', '100:00:00.000001',
   '0000-00-00 00:00:00', '2024-00-15 00:00:00', '2024-05-00 00:00:00',
   '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', NULL, NULL),
  (3, '9999-12-31', '00:00:00', '-00:00:01.1', '00:00:00.001', '-00:00:00.000001',
   NULL, NULL, NULL, NULL, NULL, NULL, NULL);

SET GLOBAL mysql56_temporal_format = OFF;
CREATE TABLE oldtimes (id INT PRIMARY KEY, t TIME, dt DATETIME, ts TIMESTAMP NULL);
INSERT INTO oldtimes VALUES
  (1, '-838:59:59', '2024-02-29 23:59:59', '2024-02-29 23:59:59'),
  (2, '123:45:06', '0000-00-00 00:00:00', '0000-00-00 00:00:00');
SET GLOBAL mysql56_temporal_format = ON;

CREATE TABLE strs (
  id INT PRIMARY KEY,
  c CHAR(10), cw CHAR(100) CHARACTER SET utf8mb4,
  vc VARCHAR(20) CHARACTER SET latin1, vcl VARCHAR(300) CHARACTER SET utf8mb4,
  bn BINARY(4), vb VARBINARY(10),
  tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT,
  tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB,
  e ENUM('a','b','c'), e2 ENUM('v1','v2','v3','v4','v5','v6','v7','v8','v9','v10','v11','v12','v13','v14','v15','v16','v17','v18','v19','v20','v21','v22','v23','v24','v25','v26','v27','v28','v29','v30','v31','v32','v33','v34','v35','v36','v37','v38','v39','v40','v41','v42','v43','v44','v45','v46','v47','v48','v49','v50','v51','v52','v53','v54','v55','v56','v57','v58','v59','v60','v61','v62','v63','v64','v65','v66','v67','v68','v69','v70','v71','v72','v73','v74','v75','v76','v77','v78','v79','v80','v81','v82','v83','v84','v85','v86','v87','v88','v89','v90','v91','v92','v93','v94','v95','v96','v97','v98','v99','v100','v101','v102','v103','v104','v105','v106','v107','v108','v109','v110','v111','v112','v113','v114','v115','v116','v117','v118','v119','v120','v121','v122','v123','v124','v125','v126','v127','v128','v129','v130','v131','v132','v133','v134','v135','v136','v137','v138','v139','v140','v141','v142','v143','v144','v145','v146','v147','v148','v149','v150','v151','v152','v153','v154','v155','v156','v157','v158','v159','v160','v161','v162','v163','v164','v165','v166','v167','v168','v169','v170','v171','v172','v173','v174','v175','v176','v177','v178','v179','v180','v181','v182','v183','v184','v185','v186','v187','v188','v189','v190','v191','v192','v193','v194','v195','v196','v197','v198','v199','v200','v201','v202','v203','v204','v205','v206','v207','v208','v209','v210','v211','v212','v213','v214','v215','v216','v217','v218','v219','v220','v221','v222','v223','v224','v225','v226','v227','v228','v229','v230','v231','v232','v233','v234','v235','v236','v237','v238','v239','v240','v241','v242','v243','v244','v245','v246','v247','v248','v249','v250','v251','v252','v253','v254','v255','v256','v257','v258','v259','v260'),
  s SET('x','y','z'),
  j JSON, g GEOMETRY, pt POINT
) DEFAULT CHARSET utf8mb4;
INSERT INTO strs VALUES
  (1, 'abc', 'héllo wörld 🎉', 'latin é', REPEAT('ü', 300),
   0x00010203, 0x00ff00, 'tiny', 'text', 'medium', 'long',
   0x00, 0x0000ff, 0x616200, 0x00,
   'b', 'v260', 'x,z', '{"a": [1, 2.5, "x"], "b": null}',
   ST_GeomFromText('LINESTRING(0 0,1 1)'), ST_GeomFromText('POINT(1 2)')),
  (2, '', '', '', '', 0x00000000, X'', '', '', '', '', X'', X'', X'', X'',
   '', 'v1', '', '[]', NULL, NULL),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

BEGIN;
UPDATE ints SET ti = ti + 1, biu = 1 WHERE id = 1;
UPDATE strs SET e = 'c', s = 'x,y,z', vc = 'changed' WHERE id = 2;
DELETE FROM times WHERE id = 3;
COMMIT;
DELETE FROM nums WHERE id IN (3, 4);
ALTER TABLE ints ADD COLUMN extra INT DEFAULT 7;
UPDATE ints SET extra = NULL WHERE id = 2;
EOF

sql -e 'FLUSH BINARY LOGS'
cp "$dir/bin.000001" "$here/mariadb-rows.bin"
echo "captured $here/mariadb-rows.bin ($(wc -c <"$here/mariadb-rows.bin") bytes)"
