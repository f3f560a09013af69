/*
 * udp-stall sender: DATAGRAM_BYTES-byte datagrams to ADDR:PORT at a fixed rate, paced
 * every millisecond against an absolute clock so a slow tick is made up, not lost.
 * Usage: sender ADDR PORT PPS SECONDS BYTES.  Prints: sent=<n>
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define BATCH 256

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: sender ADDR PORT PPS SECONDS BYTES\n");
    return 2;
  }
  realtime();
  long long pps = atoll(argv[3]);
  long long total = pps * atoll(argv[4]);
  size_t bytes = (size_t)atol(argv[5]);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) return 2;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to) < 0) {
    perror("sender socket");
    return 3;
  }
  char *payload = calloc(1, bytes);
  struct mmsghdr msgs[BATCH];
  struct iovec iov = {.iov_base = payload, .iov_len = bytes};
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    msgs[i].msg_hdr.msg_iov = &iov;
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  long long start = now_ns(), sent = 0, errors = 0;
  for (long long tick = 1; sent < total; tick++) {
    long long due = pps * tick / 1000;
    if (due > total) due = total;
    while (sent < due) {
      int n = due - sent > BATCH ? BATCH : (int)(due - sent);
      int done = sendmmsg(fd, msgs, n, 0);
      if (done < 0) {
        if (errno != ENOBUFS && errno != EAGAIN) break;
        errors++;
        done = n; /* counted as sent and lost: the rate stays fixed */
      }
      sent += done;
    }
    long long wake = start + tick * 1000000LL;
    struct timespec ts = {.tv_sec = wake / 1000000000LL, .tv_nsec = wake % 1000000000LL};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
  }
  double seconds = (now_ns() - start) / 1e9;
  printf("sent=%lld send_errors=%lld seconds=%.3f\n", sent, errors, seconds);
  return 0;
}
