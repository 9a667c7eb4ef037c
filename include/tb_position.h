/*
 * tb_position.h - an opaque source position.
 *
 * Each source defines what its text means (PostgreSQL: "LSN" such as
 * "0/16B3748"; MySQL: GTID set and/or "file:pos"). The core only stores,
 * compares through the source's ops, and hands positions back. Positions
 * are value types: copy them freely.
 */
#ifndef TB_POSITION_H
#define TB_POSITION_H

#define TB_POSITION_MAX 512

typedef struct tb_position {
    char text[TB_POSITION_MAX]; /* NUL-terminated; "" means "none" */
    long long commit_us; /* source commit time of the last transaction up to
                            here, microseconds since the epoch; 0 unknown */
} tb_position;

#endif
