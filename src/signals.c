/* signals.c - SIGINT/SIGTERM only set a flag; the main loop looks at it. */
#include "tb_signals.h"

#include <signal.h>
#include <string.h>

volatile sig_atomic_t tb_signals_stop = 0;

static void on_stop(int sig)
{
    (void)sig;
    tb_signals_stop = 1;
}

void tb_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
