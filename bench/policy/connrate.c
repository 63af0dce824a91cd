/*
 * bench-policy per-packet cost: a tight TCP connect/close loop and the server it talks to.
 *
 *   connrate serve PORT             accept and close, forever (one thread, blocking accept)
 *   connrate connect IP PORT MS     sequential connect + RST-close for MS milliseconds;
 *                                   prints "<connections> <failures> <elapsed ms>"
 *
 * The client closes with SO_LINGER {1, 0} (a RST, no TIME_WAIT), so ephemeral ports never run out
 * and every SYN opens a NEW conntrack entry: each connection's SYN walks the whole policy path once.
 * Sequential on purpose: the rate is 1 / (per-connection latency), so any per-SYN cost in the
 * forward hook shows up in it directly instead of being hidden behind parallelism.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int serve(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 4096) != 0) {
    fprintf(stderr, "connrate serve: cannot listen on port %d: %s\n", port, strerror(errno));
    return 1;
  }
  fprintf(stdout, "listening\n");
  fflush(stdout);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c >= 0) close(c);
  }
}

static int client(const char *ip, int port, double ms) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
    fprintf(stderr, "connrate connect: bad address \"%s\"\n", ip);
    return 2;
  }
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  /* A dropped SYN would stall for the 1 s retransmit: give up after 200 ms and count a failure. */
  struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
  long ok = 0, failed = 0;
  double t0 = now_ms(), t = t0;
  while (t - t0 < ms) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
      fprintf(stderr, "connrate connect: socket: %s\n", strerror(errno));
      return 1;
    }
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) ok++;
    else failed++;
    close(s);
    t = now_ms();
  }
  printf("%ld %ld %.1f\n", ok, failed, t - t0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "serve") == 0) return serve(atoi(argv[2]));
  if (argc == 5 && strcmp(argv[1], "connect") == 0) return client(argv[2], atoi(argv[3]), atof(argv[4]));
  fprintf(stderr, "usage: connrate serve PORT | connrate connect IP PORT MS\n");
  return 2;
}
