/* What the udp-stall sender and receiver share: a monotonic clock and real-time priority. */
#ifndef UDP_STALL_COMMON_H
#define UDP_STALL_COMMON_H
#include <sched.h>
#include <time.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* SCHED_FIFO where permitted, so other work on the machine neither changes the sender's
 * rate nor adds receiver stalls beyond the ones taken on purpose. Returns "fifo" or "other". */
static const char *realtime(void) {
  struct sched_param prio = {.sched_priority = 10};
  return sched_setscheduler(0, SCHED_FIFO, &prio) == 0 ? "fifo" : "other";
}
#endif
