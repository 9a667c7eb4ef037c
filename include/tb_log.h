/*
 * tb_log.h - leveled logging to stderr.
 *
 * TB_LOG checks the level before evaluating its arguments, so a disabled
 * debug line costs one comparison on the hot path. Lines carry structured
 * key=value fields after the message; never pass a secret (mask DSNs with
 * tb_dsn_mask first).
 */
#ifndef TB_LOG_H
#define TB_LOG_H

typedef enum tb_log_level {
    TB_LOG_ERROR = 0,
    TB_LOG_WARN = 1,
    TB_LOG_INFO = 2,
    TB_LOG_DEBUG = 3,
    TB_LOG_TRACE = 4
} tb_log_level;

/* Current threshold; lines above it are dropped. Default TB_LOG_INFO. */
extern tb_log_level tb_log_threshold;

/* Set the threshold from a name ("error".."trace"); returns -1 if unknown. */
int tb_log_set_level(const char *name);

/* Write one line: "2026-11-26T01:02:03.456Z INFO  message". Use TB_LOG. */
void tb_log_write(tb_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define TB_LOG(level, ...)                                                     \
    do {                                                                       \
        if ((level) <= tb_log_threshold) tb_log_write((level), __VA_ARGS__);   \
    } while (0)

#define tb_log_error(...) TB_LOG(TB_LOG_ERROR, __VA_ARGS__)
#define tb_log_warn(...)  TB_LOG(TB_LOG_WARN, __VA_ARGS__)
#define tb_log_info(...)  TB_LOG(TB_LOG_INFO, __VA_ARGS__)
#define tb_log_debug(...) TB_LOG(TB_LOG_DEBUG, __VA_ARGS__)

#endif
