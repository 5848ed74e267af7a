/* dashnet-sync: sync block headers with dashnet's sync service, from the bundled
 * simulated node or any Dash node, with a live progress bar.
 *
 *   dashnet-sync                                   start dashnet-sim (200,000 regtest
 *                                                  headers) on a free loopback port
 *   dashnet-sync --connect HOST:PORT --network mainnet|testnet|regtest|devnet
 *                [--genesis HEX] [--max-headers N] [--follow SECONDS]
 *                [--proxy IP:PORT (SOCKS5, e.g. Tor's 127.0.0.1:9050)] [--onion-only]
 *                [--transport auto|v2|v1 (default auto: BIP324 v2, v1 with a v1 peer)]
 *                [--decode-threads N (default: the library's, cores - 1, 1 to 4)]
 *
 * The sync service (dashnet_sync_headers) cuts the chain at checkpoints (the network's
 * built-in ones; with the bundled node, its chain's every 20,000th block, which the node
 * prints) and asks for the segments at once; this program only takes the events.
 *
 * With --proxy every connection goes through the proxy and nothing is resolved locally:
 * --connect then takes IP:PORT or NAME.onion:PORT, not a host name.
 *
 * The last line on stdout is one JSON object:
 *   {"headers":N,"tip_height":H,"tip_hash":"...","seconds":S,"headers_per_sec":R,
 *    "decode_threads":T,"cores":C,"peer_user_agent":"...","transport":"v2"|"v1"}
 * On failure it exits non-zero and says why on stderr. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "dashnet.h"
#include "../../tests/c/sim.h"

typedef struct sync_state {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  DashnetClient *client;
  uint64_t peer;
  int connected, disconnected, done, failed;
  char failure[256];
  char user_agent[256];
  const char *transport; /* of the peer synced from: "v1" or "v2" */
  int32_t peer_height;
  uint32_t target;      /* the best height the peers claim (from progress events) */
  uint64_t headers;     /* synced so far (the height of the last one) */
  uint64_t max_headers; /* stop after this many (0: no limit) */
  uint8_t tip[32];      /* hash of the last header, wire order */
  int following;
  double started, last_draw;
} sync_state;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void display_hex(const uint8_t h[32], char out[65]) {
  for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", h[31 - i]);
}

static int parse_display_hex(const char *s, uint8_t out[32]) {
  if (strlen(s) != 64) return -1;
  for (int i = 0; i < 32; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
    out[31 - i] = (uint8_t)v;
  }
  return 0;
}

static void draw(sync_state *s, int final) {
  double t = now_s();
  if (!final && t - s->last_draw < 0.1) return;
  s->last_draw = t;
  double elapsed = t - s->started;
  double rate = elapsed > 0 ? s->headers / elapsed : 0;
  uint64_t target = s->target ? s->target : (uint64_t)(s->peer_height > 0 ? s->peer_height : 1);
  uint64_t goal = s->max_headers && s->max_headers < target ? s->max_headers : target;
  double pct = goal ? 100.0 * (double)s->headers / (double)goal : 0;
  if (pct > 100) pct = 100;
  char bar[31];
  int filled = (int)(pct * 30 / 100);
  for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
  bar[30] = 0;
  fprintf(stderr, "\r[%s] %5.1f%%  %llu/%llu headers  %.0f headers/s ", bar, pct,
          (unsigned long long)s->headers, (unsigned long long)goal, rate);
  if (final) fprintf(stderr, "\n");
  fflush(stderr);
}

static void fail_locked(sync_state *s, const char *why) {
  if (!s->failed) snprintf(s->failure, sizeof s->failure, "%s", why);
  s->failed = 1;
  pthread_cond_broadcast(&s->cv);
}

static void on_peer(void *ud, const DashnetPeerEvent *ev) {
  sync_state *s = ud;
  pthread_mutex_lock(&s->mu);
  if (ev->reason == DASHNET_DISCONNECT_REASON_NONE) {
    s->connected = 1;
    s->peer = ev->peer;
    s->peer_height = ev->start_height;
    snprintf(s->user_agent, sizeof s->user_agent, "%s", ev->user_agent);
    /* The transport, and over v2 the session id (both ends compute the same one). */
    DashnetPeerStats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    s->transport = "?";
    char session[17] = "";
    if (dashnet_peer_stats(s->client, ev->peer, &st) == DASHNET_STATUS_OK) {
      s->transport = st.transport == DASHNET_TRANSPORT_IN_USE_V2 ? "v2" : "v1";
      for (int i = 0; i < 8 && st.transport == DASHNET_TRANSPORT_IN_USE_V2; i++)
        snprintf(session + 2 * i, 3, "%02x", st.session_id[i]);
    }
    fprintf(stderr, "connected to %s (%s, protocol %u, height %d, headers2 %s, transport %s%s%s)\n",
            ev->address, ev->user_agent, ev->version, ev->start_height, ev->headers2 ? "yes" : "no",
            s->transport, session[0] ? ", session " : "", session);
  } else if (ev->peer == s->peer && !s->done) {
    char why[200];
    snprintf(why, sizeof why, "peer disconnected: %s", ev->reason_text);
    fail_locked(s, why);
  }
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* New headers announced after the sync (--follow). */
static void on_headers(void *ud, const DashnetHeaders *h) {
  sync_state *s = ud;
  pthread_mutex_lock(&s->mu);
  if (!s->following || h->count == 0 || memcmp(h->headers[0].header + 4, s->tip, 32) != 0) {
    pthread_mutex_unlock(&s->mu);
    return;
  }
  for (size_t i = 0; i < h->count; i++) {
    char hex[65];
    display_hex(h->headers[i].hash, hex);
    printf("new header %llu %s\n", (unsigned long long)(s->headers + i + 1), hex);
  }
  s->headers += h->count;
  memcpy(s->tip, h->headers[h->count - 1].hash, 32);
  fflush(stdout);
  pthread_mutex_unlock(&s->mu);
}

/* The sync service's events: headers in chain order, progress, done. */
static void on_sync(void *ud, const DashnetSyncEvent *ev) {
  sync_state *s = ud;
  int cancel = 0;
  pthread_mutex_lock(&s->mu);
  if (ev->kind == DASHNET_EVENT_KIND_SYNC_HEADERS && ev->count > 0) {
    /* Normally the next height; lower after a segment failed its checkpoint (a real
       header store would drop its headers from first_height up). */
    uint64_t last = ev->first_height + ev->count - 1;
    if (s->max_headers && last > s->max_headers) {
      last = s->max_headers;
      cancel = !s->done;
    }
    if (last >= ev->first_height) {
      memcpy(s->tip, ev->headers[last - ev->first_height].hash, 32);
      s->headers = last;
    }
    draw(s, 0);
  } else if (ev->kind == DASHNET_EVENT_KIND_SYNC_PROGRESS) {
    s->target = ev->target_height;
    draw(s, 0);
  } else if (ev->kind == DASHNET_EVENT_KIND_SYNC_DONE) {
    int reached_max = s->max_headers && s->headers >= s->max_headers;
    if (ev->status == DASHNET_SYNC_STATUS_COMPLETE || (ev->status == DASHNET_SYNC_STATUS_CANCELLED && reached_max)) {
      s->done = 1;
      fprintf(stderr, "\nsync done: %u requests in flight at most, %u segments failed, %u peers stalled\n",
              ev->in_flight, ev->segments_failed, ev->peers_stalled);
    } else {
      char why[120];
      snprintf(why, sizeof why, "the sync ended with status %u", (unsigned)ev->status);
      fail_locked(s, why);
    }
  }
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  /* Allowed from a callback: every dashnet call but free. */
  if (cancel) dashnet_sync_cancel(s->client);
}

/* Sleeps until *flag is set, the sync fails or `seconds` pass: woken only by the
   callbacks' broadcasts (every event that changes something) and by the deadline itself,
   never by a timer of its own. */
static int wait_until(sync_state *s, int *flag, double seconds) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += (time_t)seconds;
  deadline.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
  if (deadline.tv_nsec >= 1000000000) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&s->mu);
  int timed_out = 0;
  while (!*flag && !s->failed && !timed_out)
    timed_out = pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT;
  int ok = *flag && !s->failed;
  pthread_mutex_unlock(&s->mu);
  return ok;
}

/* "host:port" or "[v6]:port" to a numeric "ip:port" dashnet accepts. */
static int resolve(const char *hostport, char *out, size_t outlen) {
  char host[256];
  const char *port;
  if (hostport[0] == '[') {
    const char *end = strchr(hostport, ']');
    if (!end || end[1] != ':') return -1;
    snprintf(host, sizeof host, "%.*s", (int)(end - hostport - 1), hostport + 1);
    port = end + 2;
  } else {
    const char *colon = strrchr(hostport, ':');
    if (!colon) return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
    port = colon + 1;
  }
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port, &hints, &res) != 0 || !res) return -1;
  char ip[128];
  int rc = getnameinfo(res->ai_addr, res->ai_addrlen, ip, sizeof ip, NULL, 0, NI_NUMERICHOST);
  int v6 = res->ai_family == AF_INET6;
  freeaddrinfo(res);
  if (rc != 0) return -1;
  snprintf(out, outlen, v6 ? "[%s]:%s" : "%s:%s", ip, port);
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: dashnet-sync [--connect HOST:PORT --network mainnet|testnet|regtest|devnet]\n"
          "                    [--genesis HEX] [--max-headers N] [--follow SECONDS]\n"
          "                    [--proxy IP:PORT] [--onion-only] [--transport auto|v2|v1]\n"
          "                    [--decode-threads N]\n"
          "With no --connect it starts the bundled dashnet-sim serving 200,000 regtest headers.\n");
}

int main(int argc, char **argv) {
  const char *connect_to = NULL, *network_name = "regtest", *genesis_hex = NULL;
  unsigned long long max_headers = 0;
  int follow = 0, onion_only = 0;
  const char *proxy = NULL, *transport_name = "auto";
  int decode_threads = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--connect") && i + 1 < argc) connect_to = argv[++i];
    else if (!strcmp(argv[i], "--network") && i + 1 < argc) network_name = argv[++i];
    else if (!strcmp(argv[i], "--genesis") && i + 1 < argc) genesis_hex = argv[++i];
    else if (!strcmp(argv[i], "--max-headers") && i + 1 < argc) max_headers = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--follow") && i + 1 < argc) follow = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--proxy") && i + 1 < argc) proxy = argv[++i];
    else if (!strcmp(argv[i], "--onion-only")) onion_only = 1;
    else if (!strcmp(argv[i], "--transport") && i + 1 < argc) transport_name = argv[++i];
    else if (!strcmp(argv[i], "--decode-threads") && i + 1 < argc) decode_threads = atoi(argv[++i]);
    else {
      usage();
      return 2;
    }
  }
  uint32_t network;
  const char *genesis = NULL;
  if (!strcmp(network_name, "mainnet")) {
    network = DASHNET_NETWORK_MAINNET;
    genesis = "00000ffd590b1485b3caadc19b22e6379c733355108f107a430458cdf3407ab6";
  } else if (!strcmp(network_name, "testnet")) {
    network = DASHNET_NETWORK_TESTNET;
    genesis = "00000bafbc94add76cb75e2ec92894837288a481e5c005f6563d91623bf8bc2c";
  } else if (!strcmp(network_name, "regtest")) {
    network = DASHNET_NETWORK_REGTEST;
    genesis = "000008ca1832a4baf228eb1553c03d3a2c8e02399550dd6ea8d65cec3ef23d2e";
  } else if (!strcmp(network_name, "devnet")) {
    network = DASHNET_NETWORK_DEVNET;
  } else {
    fprintf(stderr, "unknown network %s\n", network_name);
    return 2;
  }
  uint32_t transport;
  if (!strcmp(transport_name, "auto")) transport = DASHNET_TRANSPORT_V2_PREFERRED;
  else if (!strcmp(transport_name, "v2")) transport = DASHNET_TRANSPORT_V2_ONLY;
  else if (!strcmp(transport_name, "v1")) transport = DASHNET_TRANSPORT_V1_ONLY;
  else {
    fprintf(stderr, "unknown transport %s (auto, v2 or v1)\n", transport_name);
    return 2;
  }
  if (genesis_hex) genesis = genesis_hex;
  if (!genesis) {
    fprintf(stderr, "a devnet needs --genesis <its genesis hash in hex>\n");
    return 2;
  }

  sim_process sim = {0};
  char address[160];
  if (connect_to && proxy) {
    /* Through a proxy nothing is resolved here: the library takes IP:PORT or an onion. */
    snprintf(address, sizeof address, "%s", connect_to);
  } else if (connect_to) {
    if (resolve(connect_to, address, sizeof address) != 0) {
      fprintf(stderr, "cannot resolve %s\n", connect_to);
      return 1;
    }
  } else {
    fprintf(stderr, "starting dashnet-sim with 200,000 regtest headers (mined once, then cached)...\n");
    const char *args[] = {"--tip", "200000", "--print-checkpoints", "20000", NULL};
    if (sim_start(&sim, args) != 0) {
      fprintf(stderr, "cannot start dashnet-sim (%s); set DASHNET_SIM to its path\n", sim_binary());
      return 1;
    }
    snprintf(address, sizeof address, "%s", sim.address);
  }

  sync_state s;
  memset(&s, 0, sizeof s);
  pthread_mutex_init(&s.mu, NULL);
  pthread_cond_init(&s.cv, NULL);
  s.max_headers = max_headers;
  if (parse_display_hex(genesis, s.tip) != 0) {
    fprintf(stderr, "bad genesis hash %s\n", genesis);
    sim_stop(&sim);
    return 2;
  }
  DashnetConfig cfg;
  dashnet_config_init(&cfg, sizeof cfg, network);
  cfg.exclusive = true;
  cfg.dns_seeds = false;
  cfg.proxy = proxy;
  cfg.onion_only = (uint8_t)onion_only;
  cfg.transport = transport;
  /* dashnet_config_init filled in the library's default (cores - 1, 1 to 4). */
  if (decode_threads > 0) cfg.decode_threads = (uint32_t)decode_threads;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  fprintf(stderr, "%ld cores: %u decode threads beside the network thread\n", cores, (unsigned)cfg.decode_threads);
  if (proxy) fprintf(stderr, "every connection goes through the SOCKS5 proxy %s%s\n", proxy,
                     onion_only ? " (onion peers only)" : "");
  DashnetCallbacks cb;
  dashnet_callbacks_init(&cb, sizeof cb);
  cb.user_data = &s;
  cb.on_peer = on_peer;
  cb.on_headers = on_headers;
  cb.on_sync = on_sync;
  s.client = dashnet_client_new(&cfg, &cb);
  int rc = 1;
  if (!s.client) {
    fprintf(stderr, "dashnet_client_new: %s\n", dashnet_last_error());
    goto out;
  }
  if (dashnet_client_connect(s.client, address) != DASHNET_STATUS_OK) {
    fprintf(stderr, "connect %s: %s\n", address, dashnet_last_error());
    goto out;
  }
  if (!wait_until(&s, &s.connected, 30)) {
    fprintf(stderr, "could not connect to %s%s%s\n", address, s.failed ? ": " : "", s.failure);
    goto out;
  }
  for (int i = 0; i < sim.checkpoints; i++) {
    if (dashnet_add_checkpoint(s.client, sim.checkpoint_height[i], sim.checkpoint_hash[i]) != DASHNET_STATUS_OK) {
      fprintf(stderr, "checkpoint %u: %s\n", sim.checkpoint_height[i], dashnet_last_error());
      goto out;
    }
  }
  s.started = now_s();
  uint8_t tip[32];
  memcpy(tip, s.tip, 32);
  if (dashnet_sync_headers(s.client, tip, 1, 0) != DASHNET_STATUS_OK) {
    fprintf(stderr, "sync headers: %s\n", dashnet_last_error());
    goto out;
  }
  if (!wait_until(&s, &s.done, 3600)) {
    fprintf(stderr, "\nsync failed: %s\n", s.failed ? s.failure : "timed out");
    goto out;
  }
  double seconds = now_s() - s.started;
  draw(&s, 1);
  if (follow > 0) {
    pthread_mutex_lock(&s.mu);
    s.following = 1;
    pthread_mutex_unlock(&s.mu);
    fprintf(stderr, "following new headers for %d s...\n", follow);
    int never = 0;
    wait_until(&s, &never, follow);
  }
  char hex[65];
  pthread_mutex_lock(&s.mu);
  display_hex(s.tip, hex);
  fprintf(stderr, "synced %llu headers in %.2f s (%.0f headers/s)\n", (unsigned long long)s.headers, seconds,
          seconds > 0 ? s.headers / seconds : 0);
  printf("{\"headers\":%llu,\"tip_height\":%llu,\"tip_hash\":\"%s\",\"seconds\":%.3f,"
         "\"headers_per_sec\":%.0f,\"decode_threads\":%u,\"cores\":%ld,\"peer_user_agent\":\"",
         (unsigned long long)s.headers, (unsigned long long)s.headers, hex, seconds,
         seconds > 0 ? s.headers / seconds : 0, (unsigned)cfg.decode_threads, cores);
  for (const char *p = s.user_agent; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if ((unsigned char)*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
  printf("\",\"transport\":\"%s\"}\n", s.transport ? s.transport : "?");
  pthread_mutex_unlock(&s.mu);
  rc = 0;
out:
  if (s.client) dashnet_client_free(s.client);
  sim_stop(&sim);
  return rc;
}
