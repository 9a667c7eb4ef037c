/* crash.c - named crash points for fault-injection tests. */
#include "tb_crash.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int armed = -1;   /* -1 unknown, 0 off, 1 on */
static char point[128];  /* name from TB_CRASH_AT */
static long target = 1;  /* crash on this hit */
static atomic_long hits; /* hits so far (snapshot workers are threads) */

void tb_crash_point(const char *name)
{
    if (armed == 0) return;
    if (armed < 0) {
        const char *v = getenv("TB_CRASH_AT");
        armed = v && *v;
        if (!armed) return;
        size_t n = strcspn(v, ":");
        if (n >= sizeof point) n = sizeof point - 1;
        memcpy(point, v, n);
        point[n] = '\0';
        if (v[n] == ':') target = strtol(v + n + 1, NULL, 10);
        if (target < 1) target = 1;
    }
    if (strcmp(point, name) != 0) return;
    if (atomic_fetch_add(&hits, 1) + 1 < target) return;
    static const char msg[] = "tb_crash_point: SIGKILL\n";
    (void)!write(2, msg, sizeof msg - 1);
    kill(getpid(), SIGKILL);
}
