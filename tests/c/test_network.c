/* The C ABI against dashnet-sim: the handshake event, a header sync driven from inside
 * callbacks, 8 C threads sending while headers arrive, every request builder (the sim
 * counts what arrived, exactly), inbound messages and address-book changes reaching
 * on_message / on_address_book, free from inside a callback, poll mode, and shutdown with
 * queued messages reporting exactly what was not sent. Every sim must report no
 * violation of what Dash Core accepts. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dashnet.h"
#include "harness.h"
#include "sim.h"

#define SYNC_TARGET 20000

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

typedef struct state {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  DashnetClient *client;
  uint64_t peer;
  int connected;
  int disconnected;
  char user_agent[128];
  size_t headers;
  int linked;
  uint8_t last_hash[32];
  int free_status; /* what dashnet_client_free returned inside a callback */
  int request_status;
  size_t undelivered;
  uint64_t undelivered_first_tag, undelivered_last_tag;
  uint64_t final_messages_out;
  DashnetDisconnectReason reason;
  int requests_ok; /* header requests made from inside the callback that were accepted */
  char commands[256]; /* inbound message commands, space-separated, in arrival order */
  size_t book_size;   /* the last on_address_book size */
} state;

static void on_message(void *ud, const DashnetMessage *m) {
  state *s = ud;
  pthread_mutex_lock(&s->mu);
  size_t used = strlen(s->commands);
  if (used + strlen(m->command) + 2 < sizeof s->commands)
    snprintf(s->commands + used, sizeof s->commands - used, "%s%s", used ? " " : "", m->command);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static void on_address_book(void *ud, size_t size) {
  state *s = ud;
  pthread_mutex_lock(&s->mu);
  s->book_size = size;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static void on_peer(void *ud, const DashnetPeerEvent *ev) {
  state *s = ud;
  pthread_mutex_lock(&s->mu);
  if (ev->reason == DASHNET_DISCONNECT_REASON_NONE) {
    s->connected++;
    s->peer = ev->peer;
    snprintf(s->user_agent, sizeof s->user_agent, "%s", ev->user_agent);
  } else {
    s->disconnected++;
    s->reason = ev->reason;
    s->undelivered = ev->undelivered_count;
    s->final_messages_out = ev->messages_out;
    if (ev->undelivered_count > 0) {
      s->undelivered_first_tag = ev->undelivered_tags[0];
      s->undelivered_last_tag = ev->undelivered_tags[ev->undelivered_count - 1];
    }
  }
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static void on_headers(void *ud, const DashnetHeaders *h) {
  state *s = ud;
  if (s->free_status < 0) {
    /* Freeing the client from inside a callback is refused. */
    s->free_status = (int)dashnet_client_free(s->client);
  }
  for (size_t i = 0; i < h->count; i++) {
    if (memcmp(h->headers[i].header + 4, s->last_hash, 32) != 0) s->linked = 0;
    memcpy(s->last_hash, h->headers[i].hash, 32);
  }
  pthread_mutex_lock(&s->mu);
  s->headers += h->count;
  size_t have = s->headers;
  pthread_mutex_unlock(&s->mu);
  if (have < SYNC_TARGET && h->count > 0) {
    /* Ask for the next batch from inside the callback. */
    s->request_status = (int)dashnet_request_headers(s->client, s->last_hash, 1, NULL, NULL);
    if (s->request_status == DASHNET_STATUS_OK) s->requests_ok++;
  }
  pthread_mutex_lock(&s->mu);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static int wait_for(state *s, int (*cond)(state *), double seconds) {
  double end = now_s() + seconds;
  pthread_mutex_lock(&s->mu);
  while (!cond(s) && now_s() < end) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += 20 * 1000 * 1000;
    if (t.tv_nsec >= 1000000000) {
      t.tv_sec++;
      t.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&s->cv, &s->mu, &t);
  }
  int ok = cond(s);
  pthread_mutex_unlock(&s->mu);
  return ok;
}

static int is_connected(state *s) { return s->connected > 0; }
static int is_synced(state *s) { return s->headers >= SYNC_TARGET; }
static int is_disconnected(state *s) { return s->disconnected > 0; }
/* What Dash Core sends after the handshake, as the sim does. */
static int has_post_verack(state *s) { return strcmp(s->commands, "sendheaders2 sendcmpct senddsq") == 0; }
static int has_book(state *s) { return s->book_size >= 2; }

typedef struct sender {
  DashnetClient *client;
  uint64_t peer;
  int index;
  int sent;
  int errors;
} sender;

static void *send_thread(void *arg) {
  sender *t = arg;
  for (int seq = 0; seq < 2000; seq++) {
    uint8_t payload[5] = {(uint8_t)t->index, (uint8_t)seq, (uint8_t)(seq >> 8), 0, 0};
    for (;;) {
      DashnetStatus st = dashnet_send(t->client, t->peer, "dnc", payload, sizeof payload, 0);
      if (st == DASHNET_STATUS_OK) {
        t->sent++;
        break;
      }
      if (st != DASHNET_STATUS_QUEUE_FULL) {
        t->errors++;
        break;
      }
      usleep(200);
    }
  }
  return NULL;
}

static void config(DashnetConfig *c) {
  dashnet_config_init(c, sizeof *c, DASHNET_NETWORK_REGTEST);
  c->dns_seeds = false;
  c->exclusive = true;
  c->flush_deadline_ms = 300;
}

/* A fresh sync state: nothing seen yet, the tip at the regtest genesis. */
static void state_init(state *s) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->linked = 1;
  s->free_status = -1;
  sim_regtest_genesis(s->last_hash);
}

int main(void) {
  sim_process sim;
  /* It gossips one more address on getaddr (as addrv2 to us). */
  const char *args[] = {"--tip", "20000", "--addr", "127.0.0.9:19999", NULL};
  if (sim_start(&sim, args) != 0) {
    fprintf(stderr, "cannot start dashnet-sim (%s): build it with cargo build --bins\n", sim_binary());
    printf("0 passed, 1 failed\n");
    return 1;
  }

  /* Callbacks: connect, sync 20,000 headers from inside callbacks, 8 senders meanwhile. */
  state s;
  state_init(&s);
  DashnetConfig cfg;
  config(&cfg);
  DashnetCallbacks cb;
  dashnet_callbacks_init(&cb, sizeof cb);
  cb.user_data = &s;
  cb.on_peer = on_peer;
  cb.on_headers = on_headers;
  cb.on_message = on_message;
  cb.on_address_book = on_address_book;
  s.client = dashnet_client_new(&cfg, &cb);
  CHECK(s.client != NULL, "client");
  CHECK(dashnet_client_connect(s.client, sim.address) == DASHNET_STATUS_OK, "connect %s", sim.address);
  CHECK(wait_for(&s, is_connected, 10), "connected event");
  CHECK(strncmp(s.user_agent, "/dashnet-sim:", 13) == 0, "user agent %s", s.user_agent);
  CHECK(wait_for(&s, has_post_verack, 10), "on_message: what the node sent after the handshake (%s)", s.commands);
  CHECK(dashnet_send(s.client, s.peer, "getaddr", NULL, 0, 0) == DASHNET_STATUS_OK, "getaddr");
  CHECK(wait_for(&s, has_book, 10), "on_address_book: the gossiped address (size %zu)", s.book_size);
  uint8_t g[32];
  sim_regtest_genesis(g);
  uint64_t synced_from = 0;
  CHECK(dashnet_request_headers(s.client, g, 1, NULL, &synced_from) == DASHNET_STATUS_OK, "request");
  CHECK(synced_from == s.peer, "best peer is the only peer");
  pthread_t threads[8];
  sender senders[8];
  for (int i = 0; i < 8; i++) {
    senders[i] = (sender){s.client, s.peer, i, 0, 0};
    pthread_create(&threads[i], NULL, send_thread, &senders[i]);
  }
  CHECK(wait_for(&s, is_synced, 60), "synced %zu headers", s.headers);
  int sent = 0, errors = 0;
  for (int i = 0; i < 8; i++) {
    pthread_join(threads[i], NULL);
    sent += senders[i].sent;
    errors += senders[i].errors;
  }
  CHECK(s.headers == SYNC_TARGET, "exactly %d headers (%zu)", SYNC_TARGET, s.headers);
  CHECK(s.linked, "every header links to the one before");
  CHECK(s.request_status == DASHNET_STATUS_OK, "requests from inside the callback");
  CHECK(s.free_status == DASHNET_STATUS_IN_CALLBACK, "free inside a callback refused (%d)", s.free_status);
  CHECK(sent == 16000 && errors == 0, "8 threads sent %d (errors %d)", sent, errors);
  DashnetPeerStats ps = {.struct_size = sizeof(DashnetPeerStats)};
  double end = now_s() + 10;
  do {
    dashnet_peer_stats(s.client, s.peer, &ps);
  } while (ps.messages_out < 16000 && now_s() < end && usleep(10000) == 0);
  CHECK(ps.messages_out >= 16000, "all written (%llu)", (unsigned long long)ps.messages_out);
  /* That sync ran over BIP324 v2 (the default; the sim speaks it), with a session id. */
  int session_set = 0;
  for (int i = 0; i < 32; i++) session_set |= ps.session_id[i];
  CHECK(ps.transport == DASHNET_TRANSPORT_IN_USE_V2 && session_set, "synced over v2 (transport %u)",
        ps.transport);

  /* Every request builder, once; the sim decodes each (a malformed one is a violation)
     and counts it. */
  DashnetInventory inv[2] = {{1, {1}}, {2, {2}}};
  static const uint8_t filter[64] = {0xff}, element[20] = {7};
  uint8_t h1[32] = {1}, h2[32] = {2};
  CHECK(dashnet_send_getdata(s.client, s.peer, inv, 2) == DASHNET_STATUS_OK, "getdata");
  CHECK(dashnet_send_filterload(s.client, s.peer, filter, sizeof filter, 11, 5, 1) == DASHNET_STATUS_OK,
        "filterload");
  CHECK(dashnet_send_filteradd(s.client, s.peer, element, sizeof element) == DASHNET_STATUS_OK, "filteradd");
  CHECK(dashnet_send_filterclear(s.client, s.peer) == DASHNET_STATUS_OK, "filterclear");
  CHECK(dashnet_send_mempool(s.client, s.peer) == DASHNET_STATUS_OK, "mempool");
  CHECK(dashnet_send_getmnlistd(s.client, s.peer, h1, h2) == DASHNET_STATUS_OK, "getmnlistd");
  CHECK(dashnet_send_getqrinfo(s.client, s.peer, h1, 1, h2, 1) == DASHNET_STATUS_OK, "getqrinfo");
  CHECK(dashnet_send_tx(s.client, s.peer, element, sizeof element, 77) == DASHNET_STATUS_OK, "tx");
  CHECK(dashnet_client_free(s.client) == DASHNET_STATUS_OK, "free");
  CHECK(s.disconnected == 1 && s.reason == DASHNET_DISCONNECT_REASON_SHUTDOWN, "disconnect event before free returned");

  /* The same sync over v1 (DASHNET_TRANSPORT_V1_ONLY). */
  state s1;
  state_init(&s1);
  config(&cfg);
  cfg.transport = DASHNET_TRANSPORT_V1_ONLY;
  cb.user_data = &s1;
  s1.client = dashnet_client_new(&cfg, &cb);
  CHECK(s1.client != NULL, "v1 client");
  CHECK(dashnet_client_connect(s1.client, sim.address) == DASHNET_STATUS_OK, "connect over v1");
  CHECK(wait_for(&s1, is_connected, 10), "connected over v1");
  CHECK(dashnet_request_headers(s1.client, g, 1, NULL, NULL) == DASHNET_STATUS_OK, "request over v1");
  CHECK(wait_for(&s1, is_synced, 60), "synced %zu headers over v1", s1.headers);
  CHECK(s1.headers == SYNC_TARGET && s1.linked, "exactly %d linked headers over v1 (%zu)", SYNC_TARGET,
        s1.headers);
  DashnetPeerStats ps1 = {.struct_size = sizeof(DashnetPeerStats)};
  CHECK(dashnet_peer_stats(s1.client, s1.peer, &ps1) == DASHNET_STATUS_OK &&
            ps1.transport == DASHNET_TRANSPORT_IN_USE_V1 && ps1.session_id[0] == 0,
        "v1 only speaks v1 (transport %u)", ps1.transport);
  CHECK(dashnet_client_free(s1.client) == DASHNET_STATUS_OK, "free the v1 client");
  pthread_mutex_destroy(&s1.mu);
  pthread_cond_destroy(&s1.cv);

  /* Poll mode, and a peer found through fixed_seeds (the book is empty, DNS is off): no
     dashnet_client_connect. */
  config(&cfg);
  cfg.exclusive = 0;
  cfg.fixed_seeds = sim.address;
  DashnetClient *p = dashnet_client_new(&cfg, NULL);
  CHECK(p != NULL, "poll client with fixed_seeds %s", sim.address);
  DashnetEvent *ev = NULL;
  DashnetStatus st = dashnet_client_poll(p, 10000, &ev);
  CHECK(st == DASHNET_STATUS_OK && ev && ev->kind == DASHNET_EVENT_KIND_PEER_CONNECTED, "poll: connected");
  dashnet_event_free(ev);
  CHECK(dashnet_send_getheaders(p, DASHNET_PEER_BEST, g, 1, NULL, true) == DASHNET_STATUS_OK, "getheaders2");
  /* The node's post-handshake messages come first, as MESSAGE events. */
  const char *post[] = {"sendheaders2", "sendcmpct", "senddsq"};
  for (int i = 0; i < 3; i++) {
    ev = NULL;
    st = dashnet_client_poll(p, 10000, &ev);
    CHECK(st == DASHNET_STATUS_OK && ev && ev->kind == DASHNET_EVENT_KIND_MESSAGE &&
              strcmp(ev->message.command, post[i]) == 0,
          "poll: %s", post[i]);
    dashnet_event_free(ev);
  }
  ev = NULL;
  st = dashnet_client_poll(p, 10000, &ev);
  CHECK(st == DASHNET_STATUS_OK && ev && ev->kind == DASHNET_EVENT_KIND_HEADERS, "poll: headers");
  if (ev && ev->kind == DASHNET_EVENT_KIND_HEADERS) {
    CHECK(ev->headers.count == 8000 && ev->headers.compressed, "8000 via headers2 (%zu)", ev->headers.count);
    CHECK(memcmp(ev->headers.headers[0].header + 4, g, 32) == 0, "first links to genesis");
  }
  dashnet_event_free(ev);
  CHECK(dashnet_client_free(p) == DASHNET_STATUS_OK, "free poll client");

  /* Shutdown with queued messages, to a sim that stopped reading. */
  sim_process stalled;
  /* No pings from this sim: messages_out counts every frame written (a pong too), and the
     accounting below must hold exactly. */
  const char *stall_args[] = {"--stop-reading-after", "0", "--ping-interval", "0", NULL};
  CHECK(sim_start(&stalled, stall_args) == 0, "stalled sim");
  state q;
  memset(&q, 0, sizeof q);
  pthread_mutex_init(&q.mu, NULL);
  pthread_cond_init(&q.cv, NULL);
  cb.user_data = &q;
  cb.on_headers = NULL;
  config(&cfg);
  q.client = dashnet_client_new(&cfg, &cb);
  dashnet_client_connect(q.client, stalled.address);
  CHECK(wait_for(&q, is_connected, 10), "connected to the stalled sim");
  uint64_t accepted = 0;
  static uint8_t block[16 * 1024];
  int full_in_a_row = 0;
  while (full_in_a_row < 20) {
    st = dashnet_send(q.client, q.peer, "dnbulk", block, sizeof block, accepted);
    if (st == DASHNET_STATUS_OK) {
      accepted++;
      full_in_a_row = 0;
    } else {
      CHECK(st == DASHNET_STATUS_QUEUE_FULL, "only QUEUE_FULL (%d)", st);
      full_in_a_row++;
      usleep(10000);
    }
  }
  CHECK(dashnet_client_free(q.client) == DASHNET_STATUS_OK, "free with a full queue");
  CHECK(is_disconnected(&q), "disconnect event delivered before free returned");
  CHECK(q.undelivered > 0, "some not sent");
  CHECK(q.final_messages_out + q.undelivered == accepted, "written %llu + undelivered %zu == accepted %llu",
        (unsigned long long)q.final_messages_out, q.undelivered, (unsigned long long)accepted);
  CHECK(q.undelivered_first_tag == q.final_messages_out && q.undelivered_last_tag == accepted - 1,
        "the undelivered are exactly the last ones, by tag");
  CHECK(sim_stop(&stalled) == 0, "stalled sim: no violation");
  CHECK(sim_stop(&sim) == 0, "sim: no violation");
  /* Exactly what was sent, counted by the node: the 16,000 from 8 threads, one header
     request per batch (the first, those from the callback, the poll client's, the v1
     client's), and one of each builder. */
  CHECK(sim_received(&sim, "dnc") == 16000, "dnc: %lu", sim_received(&sim, "dnc"));
  CHECK(sim_received(&sim, "getheaders2") == (unsigned long)(1 + s.requests_ok + 1 + 1 + s1.requests_ok),
        "getheaders2: %lu (%d + 2, and %d + 1 over v1)", sim_received(&sim, "getheaders2"), s.requests_ok,
        s1.requests_ok);
  const char *each[] = {"getdata", "filterload", "filteradd", "filterclear", "mempool",
                        "getmnlistd", "getqrinfo", "tx", "getaddr"};
  for (size_t i = 0; i < sizeof each / sizeof each[0]; i++)
    CHECK(sim_received(&sim, each[i]) == 1, "%s: %lu", each[i], sim_received(&sim, each[i]));
  DONE();
}
