/*
 * tb_signals.h - graceful stop. Handlers only set tb_signals_stop; the
 * pipeline loop checks it between batches, commits or rolls back the batch in
 * flight, persists the position and exits 0.
 */
#ifndef TB_SIGNALS_H
#define TB_SIGNALS_H

#include <signal.h>

extern volatile sig_atomic_t tb_signals_stop; /* set by SIGINT / SIGTERM */

/* Install the handlers (and ignore SIGPIPE). */
void tb_signals_install(void);

#endif
