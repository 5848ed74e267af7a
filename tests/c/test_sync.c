/* The header sync service from C (dashnet_sync_headers): two sims, segments between the
 * checkpoints they print, headers in chain order and linked, each checkpoint met, the
 * right height, progress and done; the same through poll; bad arguments, BUSY and
 * cancel; and free in the middle of a parallel sync: nothing is delivered after free
 * returns (valgrind runs this file too, for leaks). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dashnet.h"
#include "harness.h"
#include "sim.h"

#define TIP 60000
#define EVERY "10000"

static double slow_factor(void) {
  const char *s = getenv("DASHNET_TEST_SLOW");
  return s && *s ? 10.0 : 1.0;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void sleep_ms(int ms) {
  struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

typedef struct chain {
  pthread_mutex_t mu;
  const sim_process *sim; /* its checkpoints */
  uint32_t height;        /* of the last header taken */
  uint8_t tip[32];
  int unlinked, gaps, bad_checkpoints, progress, done, status;
  uint32_t done_height, in_flight;
  uint8_t done_tip[32];
  int freed, after_free; /* free in the middle: callbacks after it returned */
  uint32_t free_at;      /* stop taking (and let main free) from this height */
} chain;

/* Takes one SYNC_* event (from the callback or from poll). */
static void take(chain *c, const DashnetSyncEvent *ev) {
  pthread_mutex_lock(&c->mu);
  if (c->freed) c->after_free++;
  if (ev->kind == DASHNET_EVENT_KIND_SYNC_HEADERS) {
    if (ev->first_height != c->height + 1) c->gaps++;
    for (size_t i = 0; i < ev->count; i++) {
      const DashnetHeader *h = &ev->headers[i];
      if (memcmp(h->header + 4, c->tip, 32) != 0) c->unlinked++;
      memcpy(c->tip, h->hash, 32);
      c->height = ev->first_height + (uint32_t)i;
      for (int k = 0; k < c->sim->checkpoints; k++)
        if (c->sim->checkpoint_height[k] == c->height && memcmp(c->sim->checkpoint_hash[k], h->hash, 32) != 0)
          c->bad_checkpoints++;
    }
  } else if (ev->kind == DASHNET_EVENT_KIND_SYNC_PROGRESS) {
    c->progress++;
  } else if (ev->kind == DASHNET_EVENT_KIND_SYNC_DONE) {
    c->done++;
    c->status = (int)ev->status;
    c->done_height = ev->height;
    c->in_flight = ev->in_flight;
    memcpy(c->done_tip, ev->tip_hash, 32);
  }
  pthread_mutex_unlock(&c->mu);
}

static void on_sync(void *ud, const DashnetSyncEvent *ev) {
  chain *c = ud;
  take(c, ev);
  /* Free in the middle: hold the delivery thread a little so segments pile up. */
  if (c->free_at && c->height >= c->free_at) sleep_ms(20);
}

static int get_int(chain *c, const int *field) {
  pthread_mutex_lock(&c->mu);
  int v = *field;
  pthread_mutex_unlock(&c->mu);
  return v;
}

static uint32_t get_height(chain *c) {
  pthread_mutex_lock(&c->mu);
  uint32_t v = c->height;
  pthread_mutex_unlock(&c->mu);
  return v;
}

static void chain_init(chain *c, const sim_process *sim) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->mu, NULL);
  c->sim = sim;
  sim_regtest_genesis(c->tip);
}

static DashnetClient *client_for(sim_process *sims, int n, chain *c, int callbacks) {
  DashnetConfig cfg;
  dashnet_config_init(&cfg, sizeof cfg, DASHNET_NETWORK_REGTEST);
  cfg.dns_seeds = 0;
  cfg.exclusive = 1;
  cfg.flush_deadline_ms = 500;
  cfg.decode_threads = 2;
  DashnetCallbacks cb;
  dashnet_callbacks_init(&cb, sizeof cb);
  cb.user_data = c;
  if (callbacks) cb.on_sync = on_sync;
  DashnetClient *client = dashnet_client_new(&cfg, &cb);
  CHECK(client != NULL, "client");
  if (!client) return NULL;
  for (int i = 0; i < n; i++)
    CHECK(dashnet_client_connect(client, sims[i].address) == DASHNET_STATUS_OK, "connect %s", sims[i].address);
  double end = now_s() + 20 * slow_factor();
  DashnetClientStats st = {.struct_size = sizeof st};
  while (now_s() < end) {
    if (dashnet_client_stats(client, &st) == DASHNET_STATUS_OK && st.peers == (uint64_t)n) break;
    sleep_ms(20);
  }
  CHECK(st.peers == (uint64_t)n, "%d peers connected (%llu)", n, (unsigned long long)st.peers);
  for (int k = 0; k < sims[0].checkpoints; k++)
    CHECK(dashnet_add_checkpoint(client, sims[0].checkpoint_height[k], sims[0].checkpoint_hash[k]) ==
              DASHNET_STATUS_OK,
          "checkpoint %u", sims[0].checkpoint_height[k]);
  return client;
}

static void check_complete(chain *c, const char *what) {
  CHECK(c->done == 1, "%s: one SYNC_DONE (%d)", what, c->done);
  CHECK(c->status == DASHNET_SYNC_STATUS_COMPLETE, "%s: COMPLETE (%d)", what, c->status);
  CHECK(c->height == TIP && c->done_height == TIP, "%s: height %u / %u", what, c->height, c->done_height);
  CHECK(memcmp(c->done_tip, c->tip, 32) == 0, "%s: SYNC_DONE's tip is the last header", what);
  CHECK(c->unlinked == 0 && c->gaps == 0, "%s: in chain order and linked (%d, %d)", what, c->unlinked, c->gaps);
  CHECK(c->bad_checkpoints == 0, "%s: every checkpoint met", what);
  CHECK(c->in_flight >= 2, "%s: requests in flight at once (%u)", what, c->in_flight);
}

/* 1. Callbacks, two sims. */
static void sync_with_callbacks(sim_process *sims) {
  chain c;
  chain_init(&c, &sims[0]);
  CHECK(sims[0].checkpoints == TIP / 10000 - 1, "the sim printed its checkpoints (%d)", sims[0].checkpoints);
  DashnetClient *client = client_for(sims, 2, &c, 1);
  if (!client) return;
  uint8_t genesis[32];
  sim_regtest_genesis(genesis);
  CHECK(dashnet_sync_headers(client, genesis, 1, 0) == DASHNET_STATUS_OK, "sync");
  CHECK(dashnet_sync_headers(client, genesis, 1, 0) == DASHNET_STATUS_BUSY, "a second sync is BUSY");
  double end = now_s() + 120 * slow_factor();
  while (!get_int(&c, &c.done) && now_s() < end) sleep_ms(20);
  check_complete(&c, "callbacks");
  CHECK(c.progress >= 1, "progress events (%d)", c.progress);
  CHECK(dashnet_sync_cancel(client) == DASHNET_STATUS_NOT_FOUND, "nothing to cancel after done");
  CHECK(dashnet_client_free(client) == DASHNET_STATUS_OK, "free");
}

/* 2. Poll mode: the same events, as DashnetEvent.sync. */
static void sync_with_poll(sim_process *sims) {
  chain c;
  chain_init(&c, &sims[0]);
  DashnetClient *client = client_for(sims, 1, &c, 0);
  if (!client) return;
  uint8_t genesis[32];
  sim_regtest_genesis(genesis);
  CHECK(dashnet_sync_headers(client, genesis, 1, 0) == DASHNET_STATUS_OK, "sync");
  double end = now_s() + 120 * slow_factor();
  int kinds_ok = 1;
  while (!c.done && now_s() < end) {
    DashnetEvent *ev = NULL;
    if (dashnet_client_poll(client, 1000, &ev) != DASHNET_STATUS_OK) continue;
    if (ev->kind >= DASHNET_EVENT_KIND_SYNC_HEADERS && ev->kind <= DASHNET_EVENT_KIND_SYNC_DONE) {
      kinds_ok &= ev->sync.kind == ev->kind;
      take(&c, &ev->sync);
    }
    dashnet_event_free(ev);
  }
  CHECK(kinds_ok, "DashnetEvent.sync.kind is the event's kind");
  check_complete(&c, "poll");
  CHECK(dashnet_client_free(client) == DASHNET_STATUS_OK, "free");
}

/* 3. Bad arguments. */
static void bad_arguments(sim_process *sims) {
  chain c;
  chain_init(&c, &sims[0]);
  DashnetClient *client = client_for(sims, 1, &c, 1);
  if (!client) return;
  uint8_t genesis[32], other[32];
  sim_regtest_genesis(genesis);
  memset(other, 7, sizeof other);
  CHECK(dashnet_sync_headers(NULL, genesis, 1, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL client");
  CHECK(dashnet_sync_headers(client, NULL, 1, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL locator");
  CHECK(dashnet_sync_headers(client, genesis, 0, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "0 hashes");
  CHECK(dashnet_sync_headers(client, genesis, 102, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "102 hashes");
  CHECK(dashnet_sync_headers(client, genesis, SIZE_MAX, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "SIZE_MAX hashes");
  CHECK(dashnet_sync_headers(client, other, 1, 0) == DASHNET_STATUS_INVALID_ARGUMENT,
        "a tip at the genesis height that is not the genesis");
  CHECK(dashnet_add_checkpoint(client, 5, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL hash");
  CHECK(dashnet_add_checkpoint(NULL, 5, other) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL client");
  CHECK(dashnet_add_checkpoint(client, 0, other) == DASHNET_STATUS_INVALID_ARGUMENT, "conflicts with genesis");
  CHECK(dashnet_sync_cancel(NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "cancel NULL");
  CHECK(dashnet_sync_cancel(client) == DASHNET_STATUS_NOT_FOUND, "cancel with no sync");
  CHECK(strcmp(dashnet_status_name(DASHNET_STATUS_BUSY), "busy") == 0, "BUSY's name");
  /* Cancel: SYNC_DONE says CANCELLED. */
  CHECK(dashnet_sync_headers(client, genesis, 1, 0) == DASHNET_STATUS_OK, "sync");
  CHECK(dashnet_sync_cancel(client) == DASHNET_STATUS_OK, "cancel");
  double end = now_s() + 30 * slow_factor();
  while (!get_int(&c, &c.done) && now_s() < end) sleep_ms(10);
  CHECK(c.done == 1 && c.status == DASHNET_SYNC_STATUS_CANCELLED, "CANCELLED (%d, %d)", c.done, c.status);
  CHECK(dashnet_client_free(client) == DASHNET_STATUS_OK, "free");
}

/* 4. Free in the middle of a parallel sync from two sims. */
static void free_mid_sync(sim_process *sims) {
  chain c;
  chain_init(&c, &sims[0]);
  c.free_at = 10000;
  DashnetClient *client = client_for(sims, 2, &c, 1);
  if (!client) return;
  uint8_t genesis[32];
  sim_regtest_genesis(genesis);
  CHECK(dashnet_sync_headers(client, genesis, 1, 0) == DASHNET_STATUS_OK, "sync");
  double end = now_s() + 60 * slow_factor();
  while (get_height(&c) < c.free_at && now_s() < end) sleep_ms(5);
  CHECK(get_height(&c) >= c.free_at, "headers before free (%u)", get_height(&c));
  double t0 = now_s();
  CHECK(dashnet_client_free(client) == DASHNET_STATUS_OK, "free");
  double took = now_s() - t0;
  pthread_mutex_lock(&c.mu);
  c.freed = 1;
  pthread_mutex_unlock(&c.mu);
  CHECK(took < 3.0 * slow_factor(), "free returned in %.2f s", took);
  sleep_ms(300);
  CHECK(get_int(&c, &c.after_free) == 0, "nothing delivered after free returned (%d)", c.after_free);
  CHECK(get_height(&c) < TIP, "stopped in the middle (%u)", get_height(&c));
  CHECK(c.unlinked == 0 && c.gaps == 0, "what came was in order");
}

int main(void) {
  sim_process sims[2];
  char tip[16];
  snprintf(tip, sizeof tip, "%d", TIP);
  const char *args[] = {"--tip", tip, "--print-checkpoints", EVERY, "--ping-interval", "0", NULL};
  for (int i = 0; i < 2; i++) CHECK(sim_start(&sims[i], args) == 0, "sim %d", i);
  sync_with_callbacks(sims);
  sync_with_poll(sims);
  bad_arguments(sims);
  free_mid_sync(sims);
  for (int i = 0; i < 2; i++) CHECK(sim_stop(&sims[i]) == 0, "sim %d clean", i);
  DONE();
}
