/* C-side benchmark: how long dashnet_send() takes from C (p50 / p99.9 / max of every call,
 * with the share that returned OK and QUEUE_FULL; 1 and 4 threads; to a reading peer and
 * to a peer that stopped reading; default queue bounds and raised ones), and a headers2
 * sync through the C callback against bare X11 of the same headers. (The rate at which
 * messages reach a callback is not measured against the read rate: the bounded queue
 * makes the two equal by construction.)
 * Usage: send_bench [ROUNDS] [--quick]. Prints Markdown rows. */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dashnet.h"
#include "../../tests/c/sim.h"

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct peer_wait {
  pthread_mutex_t mu;
  uint64_t peer;
  atomic_ullong messages;
} peer_wait;

static void on_peer(void *ud, const DashnetPeerEvent *ev) {
  peer_wait *w = ud;
  pthread_mutex_lock(&w->mu);
  if (ev->reason == DASHNET_DISCONNECT_REASON_NONE) w->peer = ev->peer;
  pthread_mutex_unlock(&w->mu);
}

static void on_headers(void *ud, const DashnetHeaders *h) {
  peer_wait *w = ud;
  (void)h;
  atomic_fetch_add(&w->messages, 1);
}

/* Header sync through the C callback: requests the next batch from inside it. */
typedef struct sync_run {
  peer_wait w;
  DashnetClient *c;
  uint8_t *headers; /* 80 bytes each */
  size_t count, target;
  uint8_t tip[32];
  atomic_int done;
} sync_run;

static void on_sync_headers(void *ud, const DashnetHeaders *h) {
  sync_run *s = ud;
  for (size_t i = 0; i < h->count && s->count < s->target; i++) {
    memcpy(s->headers + 80 * s->count, h->headers[i].header, 80);
    memcpy(s->tip, h->headers[i].hash, 32);
    s->count++;
  }
  if (s->count < s->target && h->count > 0) dashnet_request_headers(s->c, s->tip, 1, NULL, NULL);
  else atomic_store(&s->done, 1);
}

static void on_sync_peer(void *ud, const DashnetPeerEvent *ev) { on_peer(&((sync_run *)ud)->w, ev); }

/* raised: queue bounds of 1M messages / 64 MiB instead of the defaults. */
static DashnetClient *connect_to(const char *address, peer_wait *w, int with_headers, int raised) {
  DashnetConfig cfg;
  dashnet_config_init(&cfg, sizeof cfg, DASHNET_NETWORK_REGTEST);
  cfg.exclusive = true;
  cfg.dns_seeds = false;
  cfg.flush_deadline_ms = 100;
  if (raised) {
    cfg.queue_max_messages = 1 << 20;
    cfg.queue_max_bytes = 64ull << 20;
  }
  DashnetCallbacks cb;
  dashnet_callbacks_init(&cb, sizeof cb);
  cb.user_data = w;
  cb.on_peer = on_peer;
  if (with_headers) cb.on_headers = on_headers;
  DashnetClient *c = dashnet_client_new(&cfg, &cb);
  dashnet_client_connect(c, address);
  for (int i = 0; i < 1000; i++) {
    pthread_mutex_lock(&w->mu);
    uint64_t p = w->peer;
    pthread_mutex_unlock(&w->mu);
    if (p) return c;
    usleep(10000);
  }
  fprintf(stderr, "no connection to %s\n", address);
  exit(1);
}

typedef struct job {
  DashnetClient *c;
  uint64_t peer;
  int n;
  double *times;
  long ok, full, other; /* what the calls returned: OK, QUEUE_FULL, anything else */
} job;

static void *sender(void *arg) {
  job *j = arg;
  uint8_t payload[32] = {0};
  for (int i = 0; i < j->n; i++) {
    double t = now_ns();
    DashnetStatus st = dashnet_send(j->c, j->peer, "dnbench", payload, sizeof payload, (uint64_t)i);
    j->times[i] = now_ns() - t;
    if (st == DASHNET_STATUS_OK) j->ok++;
    else if (st == DASHNET_STATUS_QUEUE_FULL) j->full++;
    else j->other++;
    if ((i & 255) == 255) usleep(200); /* a paced producer, as an app is */
  }
  return NULL;
}

/* Fills p50, p99.9, max (ns) of every send() call (accepted or refused) with `threads`
   threads, and the share of calls that returned OK and QUEUE_FULL. Any other status fails
   the benchmark. */
static void send_times(const char *address, int threads, int n, int raised, double out[3], double *ok_share,
                       double *full_share) {
  peer_wait w = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
  DashnetClient *c = connect_to(address, &w, 0, raised);
  pthread_t t[8];
  job jobs[8];
  double *all = malloc(sizeof(double) * n * threads);
  for (int i = 0; i < threads; i++) {
    jobs[i] = (job){c, w.peer, n, all + (size_t)i * n, 0, 0, 0};
    pthread_create(&t[i], NULL, sender, &jobs[i]);
  }
  long ok = 0, full = 0, other = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(t[i], NULL);
    ok += jobs[i].ok;
    full += jobs[i].full;
    other += jobs[i].other;
  }
  size_t total = (size_t)n * threads;
  if (other) {
    fprintf(stderr, "send_bench: %ld calls returned neither OK nor QUEUE_FULL\n", other);
    exit(1);
  }
  *ok_share = (double)ok / (double)total;
  *full_share = (double)full / (double)total;
  qsort(all, total, sizeof(double), cmp);
  out[0] = all[total / 2];
  out[1] = all[(size_t)(total * 0.999)];
  out[2] = all[total - 1];
  free(all);
  dashnet_client_free(c);
}

static void median3(double *v, int rounds, double out[3]) {
  qsort(v, rounds, sizeof(double), cmp);
  out[0] = v[rounds / 2];
  out[1] = v[0];
  out[2] = v[rounds - 1];
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 3;
  int quick = argc > 2 && !strcmp(argv[2], "--quick");
  if (rounds < 1) rounds = 1;
  int n = quick ? 5000 : 100000;
  sim_process sink, stalled;
  const char *sink_args[] = {"--sink", NULL};
  const char *stall_args[] = {"--stop-reading-after", "0", NULL};
  if (sim_start(&sink, sink_args) || sim_start(&stalled, stall_args)) {
    fprintf(stderr, "cannot start dashnet-sim (%s)\n", sim_binary());
    return 1;
  }
  printf("| figure (send() from C, 32-byte payload, %d calls per thread; every call timed, "
         "accepted or refused) | median | min..max |\n",
         n);
  printf("|---|---|---|\n");
  const char *names[2] = {"reading peer", "peer stopped reading"};
  const char *addrs[2] = {sink.address, stalled.address};
  const char *bounds[2] = {"default queue bounds", "queue bounds raised to 1M msgs / 64 MiB"};
  for (int raised = 0; raised < 2; raised++) {
    for (int which = 0; which < 2; which++) {
      for (int threads = 1; threads <= 4; threads += 3) {
        double p50[16], p999[16], mx[16], oks[16], fulls[16];
        for (int r = 0; r < rounds; r++) {
          double o[3];
          send_times(addrs[which], threads, n, raised, o, &oks[r], &fulls[r]);
          p50[r] = o[0];
          p999[r] = o[1];
          mx[r] = o[2];
        }
        double a[3], b[3], c[3], d[3], e[3];
        median3(p50, rounds, a);
        median3(p999, rounds, b);
        median3(mx, rounds, c);
        median3(oks, rounds, d);
        median3(fulls, rounds, e);
        const char *nm = names[which], *bd = bounds[raised];
        printf("| send() p50, %d thread(s), %s, %s | %.0f ns | %.0f..%.0f |\n", threads, nm, bd, a[0], a[1], a[2]);
        printf("| send() p99.9, %d thread(s), %s, %s | %.0f ns | %.0f..%.0f |\n", threads, nm, bd, b[0], b[1], b[2]);
        printf("| send() max, %d thread(s), %s, %s | %.1f us | %.1f..%.1f |\n", threads, nm, bd, c[0] / 1e3,
               c[1] / 1e3, c[2] / 1e3);
        printf("| send() returned OK / QUEUE_FULL, %d thread(s), %s, %s | %.1f %% / %.1f %% | OK %.1f..%.1f |\n",
               threads, nm, bd, d[0] * 100, e[0] * 100, d[1] * 100, d[2] * 100);
      }
    }
  }
  /* headers2 sync through the C callback, against bare X11 (dashnet_x11) of the same headers. */
  size_t target = quick ? 20000 : 200000;
  char tip_arg[16];
  snprintf(tip_arg, sizeof tip_arg, "%zu", target);
  sim_process chain;
  const char *chain_args[] = {"--tip", tip_arg, NULL};
  if (sim_start(&chain, chain_args)) return 1;
  double ours[16], bare[16], rel[16];
  for (int r = 0; r < rounds; r++) {
    sync_run *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->w.mu, NULL);
    s->headers = malloc(80 * target);
    s->target = target;
    const char *g = "000008ca1832a4baf228eb1553c03d3a2c8e02399550dd6ea8d65cec3ef23d2e";
    for (int i = 0; i < 32; i++) {
      unsigned v;
      sscanf(g + 2 * i, "%2x", &v);
      s->tip[31 - i] = (uint8_t)v;
    }
    DashnetConfig cfg;
    dashnet_config_init(&cfg, sizeof cfg, DASHNET_NETWORK_REGTEST);
    cfg.exclusive = true;
    cfg.dns_seeds = false;
    DashnetCallbacks cb;
    dashnet_callbacks_init(&cb, sizeof cb);
    cb.user_data = s;
    cb.on_peer = on_sync_peer;
    cb.on_headers = on_sync_headers;
    s->c = dashnet_client_new(&cfg, &cb);
    dashnet_client_connect(s->c, chain.address);
    /* Bounded waits: a lost callback fails the benchmark instead of hanging it. */
    double give_up = now_ns() + 30e9;
    for (;;) {
      pthread_mutex_lock(&s->w.mu);
      uint64_t p = s->w.peer;
      pthread_mutex_unlock(&s->w.mu);
      if (p) break;
      if (now_ns() > give_up) {
        fprintf(stderr, "send_bench: no connection to the sim in 30 s\n");
        exit(1);
      }
      usleep(1000);
    }
    double t0 = now_ns();
    dashnet_request_headers(s->c, s->tip, 1, NULL, NULL);
    give_up = now_ns() + 300e9;
    while (!atomic_load(&s->done)) {
      if (now_ns() > give_up) {
        fprintf(stderr, "send_bench: the sync did not finish in 300 s (%zu headers)\n", s->count);
        exit(1);
      }
      usleep(500);
    }
    ours[r] = s->count / ((now_ns() - t0) / 1e9);
    dashnet_client_free(s->c);
    uint8_t out[32];
    t0 = now_ns();
    for (size_t i = 0; i < s->count; i++) dashnet_x11(s->headers + 80 * i, 80, out);
    bare[r] = s->count / ((now_ns() - t0) / 1e9);
    rel[r] = ours[r] / bare[r];
    free(s->headers);
    free(s);
  }
  double a[3], b[3], c[3];
  median3(ours, rounds, a);
  median3(bare, rounds, b);
  median3(rel, rounds, c);
  printf("| headers2 sync through the C callback, %zu headers | %.1f k headers/s | %.1f..%.1f |\n", target, a[0] / 1e3,
         a[1] / 1e3, a[2] / 1e3);
  printf("| bare X11 of the same headers, dashnet_x11 from C (baseline) | %.1f k headers/s | %.1f..%.1f |\n",
         b[0] / 1e3, b[1] / 1e3, b[2] / 1e3);
  printf("| C callback sync rate / bare X11 rate | %.3f | %.3f..%.3f |\n", c[0], c[1], c[2]);
  sim_stop(&chain);
  sim_stop(&sink);
  sim_stop(&stalled);
  return 0;
}
