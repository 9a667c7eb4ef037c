/* crash.c - named crash (and pause) points for fault-injection tests. */
#include "tb_crash.h"

#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int armed = -1;     /* -1 unknown, 0 off, 1 on */
static char point[128];    /* name from TB_CRASH_AT, "" none */
static long target = 1;    /* crash on this hit */
static atomic_long hits;   /* hits so far (snapshot workers are threads) */
static char pause_at[128]; /* name from TB_PAUSE_AT, "" none */
static long pause_ms;      /* how long */
static atomic_bool paused; /* the pause happened (once) */

/* "name" or "name:N" into name (cut to fit) and *n (def when absent). */
static void parse(const char *v, char *name, size_t cap, long *n, long def)
{
    size_t len = strcspn(v, ":");
    if (len >= cap) len = cap - 1;
    memcpy(name, v, len);
    name[len] = '\0';
    *n = v[len] == ':' ? strtol(v + len + 1, NULL, 10) : def;
}

void tb_crash_point(const char *name)
{
    if (armed == 0) return;
    if (armed < 0) {
        const char *c = getenv("TB_CRASH_AT"), *p = getenv("TB_PAUSE_AT");
        if (c && *c) parse(c, point, sizeof point, &target, 1);
        if (p && *p) parse(p, pause_at, sizeof pause_at, &pause_ms, 1000);
        if (target < 1) target = 1;
        armed = point[0] || pause_at[0];
        if (!armed) return;
    }
    if (pause_at[0] && strcmp(pause_at, name) == 0 &&
        !atomic_exchange(&paused, true)) {
        static const char msg[] = "tb_crash_point: pausing\n";
        (void)!write(2, msg, sizeof msg - 1);
        struct timespec ts = {pause_ms / 1000, (pause_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!point[0] || strcmp(point, name) != 0) return;
    if (atomic_fetch_add(&hits, 1) + 1 < target) return;
    static const char msg[] = "tb_crash_point: SIGKILL\n";
    (void)!write(2, msg, sizeof msg - 1);
    kill(getpid(), SIGKILL);
}
