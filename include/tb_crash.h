/*
 * tb_crash.h - fault injection for crash tests.
 *
 * tb_crash_point("name") kills the process with SIGKILL when the
 * environment variable TB_CRASH_AT names that point: "name" (first time
 * reached) or "name:N" (the N-th time). Tests use it to stop the agent at
 * exact instants (mid-batch, between the target commit and the source
 * acknowledgement) and check that a restart loses nothing and applies
 * nothing twice. TB_PAUSE_AT="name:MS" sleeps MS milliseconds the first
 * time that point is reached instead (a test changes the source meanwhile).
 * Costs one branch when neither is set.
 */
#ifndef TB_CRASH_H
#define TB_CRASH_H

void tb_crash_point(const char *name);

#endif
