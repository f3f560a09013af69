/*
 * udp-stall receiver: binds PORT, optionally forces its receive buffer (SO_RCVBUFFORCE
 * passes net.core.rmem_max, which a child netns cannot change), then reads as fast as it
 * can except for a STALL_MS sleep every PERIOD_MS: the worst receiver stall of the rule.
 * Usage: receiver PORT SK_RCVBUF_BYTES|0 STALL_MS PERIOD_MS SECONDS
 * Prints: ready rcvbuf=<bytes> sched=<fifo|other>, then received=<n> max_queued_bytes=<n>
 * stall_us=<n>: the socket's largest receive queue (/proc/net/udp) as a stall ended, and
 * how long that stall really lasted.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define BATCH 64
#define MAX_BYTES 2048

/* sk_rmem_alloc of the socket bound to PORT: /proc/net/udp's rx_queue, in hex. */
static long queued_bytes(int port) {
  FILE *f = fopen("/proc/net/udp", "r");
  char line[512];
  long found = -1;
  unsigned local_port, tx, rx;
  if (!f) return -1;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, " %*d: %*8x:%4x %*8x:%*4x %*2x %8x:%8x", &local_port, &tx, &rx) == 3 &&
        (int)local_port == port) {
      found = (long)rx;
      break;
    }
  }
  fclose(f);
  return found;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: receiver PORT SK_RCVBUF_BYTES|0 STALL_MS PERIOD_MS SECONDS\n");
    return 2;
  }
  const char *sched = realtime();
  int port = atoi(argv[1]);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    perror("receiver socket");
    return 3;
  }
  int wanted = atoi(argv[2]);
  /* The kernel doubles the value set; halve it so the socket's buffer is what was asked. */
  int half = wanted / 2;
  if (wanted > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &half, sizeof half) < 0) {
    perror("SO_RCVBUFFORCE");
    return 3;
  }
  int actual = 0;
  socklen_t len = sizeof actual;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &actual, &len);
  struct timeval timeout = {.tv_sec = 0, .tv_usec = 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  printf("ready rcvbuf=%d sched=%s\n", actual, sched);
  fflush(stdout);

  static char bufs[BATCH][MAX_BYTES];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = MAX_BYTES;
    msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
  }
  long long stall = atoll(argv[3]) * 1000000LL, period = atoll(argv[4]) * 1000000LL;
  long long start = now_ns(), end = start + atoll(argv[5]) * 1000000000LL;
  long long next_stall = start + period, received = 0;
  long max_queued = 0;
  long long max_stall = 0;
  while (now_ns() < end) {
    long long stall_start = now_ns();
    if (stall_start >= next_stall) {
      struct timespec ts = {.tv_sec = stall / 1000000000LL, .tv_nsec = stall % 1000000000LL};
      nanosleep(&ts, NULL);
      next_stall += period;
      long queued = queued_bytes(port);
      if (queued > max_queued) {
        max_queued = queued;
        max_stall = now_ns() - stall_start;
      }
    }
    int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
    if (n > 0) received += n;
  }
  printf("received=%lld max_queued_bytes=%ld stall_us=%lld\n", received, max_queued,
         max_stall / 1000);
  return 0;
}
