/* Compact filters, services and the best peer through the C ABI, against dashnet-sim:
 * a client that requires COMPACT_FILTERS keeps only the sim that serves them (the other is
 * replaced with PEER_FAILED, never banned); getcfcheckpt / getcfheaders / getcfilters go
 * there, their replies are read through the zero-copy views and checked against each
 * other (the cfheaders chain ends at the checkpoint, the filter hashes to its header, one
 * wrong byte is a MISMATCH); without a serving peer the builders say NO_PEER; a peer that
 * claims 10,000,000 blocks and stalls a header request is replaced with BEST_PEER_CHANGED
 * and the request re-sent. Every sim must report no violation of what Dash Core accepts
 * (a filter request to a sim that does not serve filters is one). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dashnet.h"
#include "harness.h"
#include "sim.h"

/* Polls until an event of `kind` (others are freed and skipped), or NULL after `ms`. */
static DashnetEvent *poll_for(DashnetClient *c, DashnetEventKind kind, const char *command, int ms) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    long left = ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
    if (left <= 0) return NULL;
    DashnetEvent *ev = NULL;
    if (dashnet_client_poll(c, (uint32_t)left, &ev) != DASHNET_STATUS_OK || !ev) continue;
    if (ev->kind == kind && (!command || strcmp(ev->message.command, command) == 0)) return ev;
    dashnet_event_free(ev);
  }
}

static void config(DashnetConfig *c) {
  dashnet_config_init(c, sizeof *c, DASHNET_NETWORK_REGTEST);
  c->dns_seeds = false;
  c->flush_deadline_ms = 300;
}

int main(void) {
  sim_process cf, plain;
  const char *cf_args[] = {"--compact-filters", NULL};
  const char *plain_args[] = {NULL};
  if (sim_start(&cf, cf_args) != 0 || sim_start(&plain, plain_args) != 0) {
    fprintf(stderr, "cannot start dashnet-sim (%s): build it with cargo build --bins\n", sim_binary());
    printf("0 passed, 1 failed\n");
    return 1;
  }
  uint8_t g[32];
  sim_regtest_genesis(g);

  /* A client that needs compact filters, given both sims as seeds. */
  DashnetConfig cfg;
  config(&cfg);
  char seeds[160];
  snprintf(seeds, sizeof seeds, "%s,%s", cf.address, plain.address);
  cfg.fixed_seeds = seeds;
  cfg.required_services = DASHNET_SERVICE_COMPACT_FILTERS;
  DashnetClient *c = dashnet_client_new(&cfg, NULL);
  CHECK(c != NULL, "client");
  DashnetEvent *ev = poll_for(c, DASHNET_EVENT_KIND_PEER_FAILED, NULL, 10000);
  CHECK(ev && strcmp(ev->peer_failed.address, plain.address) == 0 &&
            ev->peer_failed.stage == DASHNET_FAIL_STAGE_HANDSHAKE &&
            strstr(ev->peer_failed.reason_text, "COMPACT_FILTERS") != NULL,
        "the sim without filters is replaced (%s)", ev ? ev->peer_failed.reason_text : "no event");
  dashnet_event_free(ev);
  DashnetClientStats cs = {.struct_size = sizeof cs};
  for (int i = 0; i < 500; i++) {
    dashnet_client_stats(c, &cs);
    if (cs.peers == 1) break;
    usleep(10000);
  }
  CHECK(cs.peers == 1 && cs.banned == 0, "one peer (%llu), nobody banned (%llu)", (unsigned long long)cs.peers,
        (unsigned long long)cs.banned);

  /* The chain's hashes at heights 1000 and 2000. */
  CHECK(dashnet_send_getheaders(c, DASHNET_PEER_BEST, g, 1, NULL, true) == DASHNET_STATUS_OK, "getheaders2");
  ev = poll_for(c, DASHNET_EVENT_KIND_HEADERS, NULL, 10000);
  uint8_t h1000[32] = {0}, h2000[32] = {0};
  CHECK(ev && ev->headers.count == 2000, "2000 headers");
  if (ev && ev->headers.count == 2000) {
    memcpy(h1000, ev->headers.headers[999].hash, 32);
    memcpy(h2000, ev->headers.headers[1999].hash, 32);
  }
  dashnet_event_free(ev);

  /* cfcheckpt: the filter headers at 1000 and 2000. */
  CHECK(dashnet_send_getcfcheckpt(c, DASHNET_PEER_BEST, 0, h2000) == DASHNET_STATUS_OK, "getcfcheckpt");
  CHECK(dashnet_send_getcfcheckpt(c, DASHNET_PEER_BEST, 1, h2000) == DASHNET_STATUS_INVALID_ARGUMENT,
        "filter type 1 refused");
  CHECK(dashnet_send_getcfcheckpt(c, DASHNET_PEER_BEST, 0, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL stop");
  ev = poll_for(c, DASHNET_EVENT_KIND_MESSAGE, "cfcheckpt", 10000);
  uint8_t cp1000[32] = {0}, cp2000[32] = {0};
  CHECK(ev != NULL, "cfcheckpt arrived");
  if (ev) {
    DashnetCFCheckptView v = {.struct_size = sizeof v};
    CHECK(dashnet_view_cfcheckpt(ev->message.payload, ev->message.payload_len, &v) == DASHNET_STATUS_OK, "view");
    CHECK(v.count == 2 && memcmp(v.stop_hash, h2000, 32) == 0, "2 checkpoints up to 2000 (%zu)", v.count);
    CHECK(v.filter_headers >= ev->message.payload &&
              v.filter_headers + 64 == ev->message.payload + ev->message.payload_len,
          "zero copy: the headers are the payload's last bytes");
    if (v.count == 2) {
      memcpy(cp1000, v.filter_headers, 32);
      memcpy(cp2000, v.filter_headers + 32, 32);
    }
  }
  dashnet_event_free(ev);

  /* cfheaders 1001..2000: chains from the checkpoint at 1000 to the one at 2000. */
  CHECK(dashnet_send_getcfheaders(c, DASHNET_PEER_BEST, 0, 1001, h2000) == DASHNET_STATUS_OK, "getcfheaders");
  ev = poll_for(c, DASHNET_EVENT_KIND_MESSAGE, "cfheaders", 10000);
  uint8_t h1999[32] = {0};
  CHECK(ev != NULL, "cfheaders arrived");
  if (ev) {
    const uint8_t *pl = ev->message.payload;
    size_t len = ev->message.payload_len;
    DashnetCFHeadersView v = {.struct_size = sizeof v};
    CHECK(dashnet_view_cfheaders(pl, len, &v) == DASHNET_STATUS_OK, "view");
    CHECK(v.count == 1000 && v.filter_type == 0, "1000 filter hashes (%zu)", v.count);
    CHECK(memcmp(v.previous_filter_header, cp1000, 32) == 0, "starts at the checkpoint of 1000");
    uint8_t last[32];
    CHECK(dashnet_cfheaders_check(pl, len, cp2000, last) == DASHNET_STATUS_OK, "chains to the checkpoint of 2000");
    CHECK(memcmp(last, cp2000, 32) == 0, "computed end is the checkpoint");
    CHECK(dashnet_cfheaders_check(pl, len, cp1000, NULL) == DASHNET_STATUS_MISMATCH, "not to another header");
    /* The header of block 1999 (for the filter of 2000), chained by hand. */
    uint8_t prev[32];
    memcpy(prev, v.previous_filter_header, 32);
    for (size_t i = 0; i + 1 < v.count; i++) dashnet_filter_header(v.filter_hashes + 32 * i, prev, prev);
    memcpy(h1999, prev, 32);
    /* One wrong byte in one hash anywhere: caught. */
    uint8_t *copy = malloc(len);
    memcpy(copy, pl, len);
    copy[len - 32 * 500 + 3] ^= 1;
    CHECK(dashnet_cfheaders_check(copy, len, cp2000, NULL) == DASHNET_STATUS_MISMATCH, "a flipped byte is caught");
    free(copy);
  }
  dashnet_event_free(ev);

  /* cfilter of block 2000: hashes to its header. */
  CHECK(dashnet_send_getcfilters(c, DASHNET_PEER_BEST, 0, 2000, h2000) == DASHNET_STATUS_OK, "getcfilters");
  ev = poll_for(c, DASHNET_EVENT_KIND_MESSAGE, "cfilter", 10000);
  CHECK(ev != NULL, "cfilter arrived");
  if (ev) {
    const uint8_t *pl = ev->message.payload;
    size_t len = ev->message.payload_len;
    DashnetCFilterView v = {.struct_size = sizeof v};
    CHECK(dashnet_view_cfilter(pl, len, &v) == DASHNET_STATUS_OK, "view");
    CHECK(memcmp(v.block_hash, h2000, 32) == 0 && v.filter_len > 0 && v.filter + v.filter_len == pl + len,
          "the filter of block 2000, inside the payload");
    CHECK(dashnet_cfilter_check(pl, len, h1999, cp2000) == DASHNET_STATUS_OK, "filter matches its header");
    CHECK(dashnet_cfilter_check(pl, len, cp1000, cp2000) == DASHNET_STATUS_MISMATCH, "not with another previous");
    CHECK(dashnet_cfilter_check(pl, len, NULL, cp2000) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL previous");
  }
  dashnet_event_free(ev);
  (void)h1000;
  CHECK(dashnet_client_free(c) == DASHNET_STATUS_OK, "free");

  /* A client that needs nothing, with only the sim that serves no filters: the filter
     builders refuse at once, naming the service. */
  config(&cfg);
  cfg.exclusive = 1;
  DashnetClient *d = dashnet_client_new(&cfg, NULL);
  CHECK(dashnet_client_connect(d, plain.address) == DASHNET_STATUS_OK, "connect");
  ev = poll_for(d, DASHNET_EVENT_KIND_PEER_CONNECTED, NULL, 10000);
  uint64_t id = ev ? ev->peer_event.peer : 0;
  CHECK(ev != NULL, "connected");
  dashnet_event_free(ev);
  CHECK(dashnet_send_getcfilters(d, DASHNET_PEER_BEST, 0, 1, h2000) == DASHNET_STATUS_NO_PEER, "best: NO_PEER");
  CHECK(strstr(dashnet_last_error(), "COMPACT_FILTERS") != NULL, "names the service: %s", dashnet_last_error());
  CHECK(dashnet_send_getcfheaders(d, id, 0, 1, h2000) == DASHNET_STATUS_NO_PEER, "that peer: NO_PEER");
  CHECK(dashnet_send(d, id, "getcfcheckpt", h2000, 32, 0) == DASHNET_STATUS_NO_PEER, "raw send: NO_PEER");
  CHECK(dashnet_client_free(d) == DASHNET_STATUS_OK, "free");

  /* A peer that claims 10,000,000 blocks and never answers a header request. */
  sim_process liar;
  const char *liar_args[] = {"--claim-height", "10000000", "--stall-headers", NULL};
  CHECK(sim_start(&liar, liar_args) == 0, "liar sim");
  config(&cfg);
  cfg.exclusive = 1;
  cfg.header_stall_timeout_ms = 2000; /* generous: under valgrind an answer takes a while */
  DashnetClient *e = dashnet_client_new(&cfg, NULL);
  dashnet_client_connect(e, liar.address);
  ev = poll_for(e, DASHNET_EVENT_KIND_PEER_CONNECTED, NULL, 10000);
  uint64_t liar_id = ev ? ev->peer_event.peer : 0;
  CHECK(ev && ev->peer_event.start_height == 10000000, "the liar's claim");
  dashnet_event_free(ev);
  uint64_t asked = 0;
  CHECK(dashnet_request_headers(e, g, 1, NULL, &asked) == DASHNET_STATUS_OK && asked == liar_id, "asked the liar");
  dashnet_client_connect(e, cf.address);
  ev = poll_for(e, DASHNET_EVENT_KIND_PEER_CONNECTED, NULL, 10000);
  uint64_t honest_id = ev ? ev->peer_event.peer : 0;
  dashnet_event_free(ev);
  ev = poll_for(e, DASHNET_EVENT_KIND_BEST_PEER_CHANGED, NULL, 10000);
  CHECK(ev && ev->best_peer_changed.old_peer == liar_id && ev->best_peer_changed.new_peer == honest_id,
        "BEST_PEER_CHANGED names the replacement (%s)", ev ? ev->best_peer_changed.reason_text : "no event");
  dashnet_event_free(ev);
  ev = poll_for(e, DASHNET_EVENT_KIND_HEADERS, NULL, 10000);
  CHECK(ev && ev->headers.peer == honest_id && ev->headers.count == 2000, "the request was re-sent there");
  dashnet_event_free(ev);
  CHECK(dashnet_client_free(e) == DASHNET_STATUS_OK, "free");

  CHECK(sim_stop(&liar) == 0, "liar sim: no violation");
  CHECK(sim_stop(&plain) == 0, "plain sim: no violation (no filter request reached it)");
  CHECK(sim_stop(&cf) == 0, "filter sim: no violation");
  CHECK(sim_received(&cf, "getcfcheckpt") == 1 && sim_received(&cf, "getcfheaders") == 1 &&
            sim_received(&cf, "getcfilters") == 1,
        "each filter request arrived once");
  CHECK(sim_received(&plain, "getcfilters") + sim_received(&plain, "getcfheaders") +
                sim_received(&plain, "getcfcheckpt") ==
            0,
        "none at the sim without filters");
  CHECK(sim_received(&liar, "getheaders2") == 1, "the liar was asked once (%lu)", sim_received(&liar, "getheaders2"));
  DONE();
}
