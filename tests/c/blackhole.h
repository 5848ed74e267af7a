/* A listener on 127.0.0.1 whose accept queue is full, so a new connect to it is never
 * answered (the kernel drops the SYN): a dial that stays pending, on loopback only.
 * Used by the lifecycle test and the edge benchmark (POSIX). */
#ifndef DASHNET_BLACKHOLE_H
#define DASHNET_BLACKHOLE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct blackhole {
  int listener;
  int fillers[8];
  char address[64];
} blackhole;

static int blackhole_start(blackhole *b) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  b->listener = socket(AF_INET, SOCK_STREAM, 0);
  if (b->listener < 0 || bind(b->listener, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(b->listener, 0) != 0)
    return -1;
  socklen_t len = sizeof a;
  getsockname(b->listener, (struct sockaddr *)&a, &len);
  snprintf(b->address, sizeof b->address, "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
  /* Fill the accept queue (never accepted). */
  for (int i = 0; i < 8; i++) {
    b->fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(b->fillers[i], (struct sockaddr *)&a, sizeof a);
  }
  struct timespec t = {0, 100 * 1000000L};
  nanosleep(&t, NULL);
  return 0;
}

static void blackhole_stop(blackhole *b) {
  for (int i = 0; i < 8; i++) close(b->fillers[i]);
  close(b->listener);
}

#endif
