/* log.c - leveled, timestamped log lines on stderr. */
#include "tb_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

tb_log_level tb_log_threshold = TB_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug",
                                          "trace"};

int tb_log_set_level(const char *name)
{
    for (int i = 0; i <= TB_LOG_TRACE; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            tb_log_threshold = (tb_log_level)i;
            return 0;
        }
    }
    return -1;
}

void tb_log_write(tb_log_level level, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %-5s ",
                          ts.tv_nsec / 1000000L, level_names[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    /* One fputs per line keeps lines whole when threads log at once. */
    n = strlen(line);
    if (n + 1 < sizeof line) {
        line[n] = '\n';
        line[n + 1] = '\0';
    }
    fputs(line, stderr);
}
