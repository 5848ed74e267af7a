/* The edges of the four promises, measured from C:
 *   rss   RSS of a client whose 8 peers flood 3 MiB messages into a 50 ms callback,
 *         default config, sampled every second;
 *   free  how long dashnet_client_free takes with 8 busy peers (flooding us, data queued
 *         to them), a dial that never completes and a handshake that never completes.
 * Built against the current header, or with -DDASHNET_OLD_API against the header of the
 * first version (29a9f2b) as the baseline, by scripts/bench-edges.
 * Usage: edge_bench rss SECONDS | edge_bench free ROUNDS. Prints one line per figure. */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dashnet.h"
#include "../../tests/c/blackhole.h"
#include "../../tests/c/sim.h"

#ifdef DASHNET_OLD_API
#define CONFIG_INIT(c, net) dashnet_config_init((c), (net))
#define CALLBACKS_INIT(cb) dashnet_callbacks_init(cb)
#else
#define CONFIG_INIT(c, net) dashnet_config_init((c), sizeof *(c), (net))
#define CALLBACKS_INIT(cb) dashnet_callbacks_init((cb), sizeof *(cb))
#endif

#define PEERS 8

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void sleep_ms(int ms) {
  struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) v = strtol(line + 6, NULL, 10);
  if (f) fclose(f);
  return v;
}

typedef struct app {
  atomic_int connected;
  atomic_ullong messages, bytes;
  int slow_ms;
} app;

static void on_peer(void *ud, const DashnetPeerEvent *ev) {
  app *a = ud;
  if (ev->reason == DASHNET_DISCONNECT_REASON_NONE) atomic_fetch_add(&a->connected, 1);
}

static void on_message(void *ud, const DashnetMessage *m) {
  app *a = ud;
  atomic_fetch_add(&a->messages, 1);
  atomic_fetch_add(&a->bytes, m->payload_len);
  if (a->slow_ms) sleep_ms(a->slow_ms);
}

static DashnetClient *start(app *a, sim_process *sims, int n, int flush_ms) {
  DashnetConfig cfg;
  CONFIG_INIT(&cfg, DASHNET_NETWORK_REGTEST);
  cfg.dns_seeds = 0;
  cfg.exclusive = 1;
  if (flush_ms > 0) cfg.flush_deadline_ms = (uint32_t)flush_ms;
  DashnetCallbacks cb;
  CALLBACKS_INIT(&cb);
  cb.user_data = a;
  cb.on_peer = on_peer;
  cb.on_message = on_message;
  DashnetClient *c = dashnet_client_new(&cfg, &cb);
  if (!c) return NULL;
  for (int i = 0; i < n; i++) dashnet_client_connect(c, sims[i].address);
  double end = now_s() + 20;
  while (atomic_load(&a->connected) < n && now_s() < end) sleep_ms(10);
  return c;
}

static int start_sims(sim_process *sims, int n, const char *kind) {
  const char *args[] = {"--flood-headers2", "0", "--flood-kind", kind, NULL};
  for (int i = 0; i < n; i++)
    if (sim_start(&sims[i], args) != 0) return -1;
  return 0;
}

static void stop_sims(sim_process *sims, int n) {
  for (int i = 0; i < n; i++) sim_stop(&sims[i]);
}

/* RSS every second for `seconds` (stops early past 4 GiB); prints
 * "rss SECOND KIB" lines and a summary line. The client is not freed (the baseline's
 * free could take minutes here); the process exits. */
static int rss(int seconds) {
  sim_process sims[PEERS];
  if (start_sims(sims, PEERS, "big") != 0) return 1;
  app a = {0};
  a.slow_ms = 50;
  long before = rss_kib();
  DashnetClient *c = start(&a, sims, PEERS, 0);
  if (!c || atomic_load(&a.connected) < PEERS) {
    fprintf(stderr, "edge_bench: only %d peers connected\n", atomic_load(&a.connected));
    return 1;
  }
  long peak = 0;
  for (int s = 1; s <= seconds; s++) {
    sleep_ms(1000);
    long v = rss_kib();
    if (v > peak) peak = v;
    printf("rss %d %ld\n", s, v);
    fflush(stdout);
    if (v > 4L * 1024 * 1024) break;
  }
  printf("summary rss_before_kib=%ld rss_peak_kib=%ld messages=%llu bytes=%llu\n", before, peak,
         (unsigned long long)atomic_load(&a.messages), (unsigned long long)atomic_load(&a.bytes));
  fflush(stdout);
  stop_sims(sims, PEERS);
  _exit(0);
}

/* Time of free with 8 busy peers, a pending dial and a pending handshake (default
 * flush deadline, 2 s). Prints "free SECONDS" per round. */
static int free_time(int rounds) {
  for (int r = 0; r < rounds; r++) {
    sim_process sims[PEERS + 1];
    if (start_sims(sims, PEERS, "inv") != 0) return 1;
    const char *silent_args[] = {"--misbehave", "silent-handshake", NULL};
    if (sim_start(&sims[PEERS], silent_args) != 0) return 1;
    blackhole hole;
    if (blackhole_start(&hole) != 0) return 1;
    app a = {0};
    a.slow_ms = 20;
    DashnetClient *c = start(&a, sims, PEERS, 0);
    if (!c) return 1;
    static uint8_t payload[10000];
    for (int i = 0; i < 100; i++) dashnet_broadcast(c, "dntest", payload, sizeof payload, 1 + (uint64_t)i, NULL);
    dashnet_client_connect(c, hole.address);
    dashnet_client_connect(c, sims[PEERS].address);
    sleep_ms(1000); /* the dial and the handshake are under way, the queue is full */
    double t0 = now_s();
    dashnet_client_free(c);
    printf("free %.3f\n", now_s() - t0);
    fflush(stdout);
    blackhole_stop(&hole);
    stop_sims(sims, PEERS + 1);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "rss") == 0) return rss(atoi(argv[2]));
  if (argc == 3 && strcmp(argv[1], "free") == 0) return free_time(atoi(argv[2]));
  fprintf(stderr, "usage: edge_bench rss SECONDS | edge_bench free ROUNDS\n");
  return 2;
}
