/* The C ABI without a network: create/free cycles, config versions, and misuse
 * (NULLs, bad strings, unknown networks and peers, oversize payloads). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashnet.h"
#include "harness.h"

static void quiet_config(DashnetConfig *c) {
  dashnet_config_init(c, sizeof *c, DASHNET_NETWORK_REGTEST);
  c->dns_seeds = false;
  c->flush_deadline_ms = 100;
}

static void on_peer(void *ud, const DashnetPeerEvent *ev) {
  (void)ud;
  (void)ev;
}

int main(void) {
  CHECK(strlen(dashnet_version()) > 0, "version");
  CHECK(dashnet_config_init(NULL, sizeof(DashnetConfig), DASHNET_NETWORK_MAINNET) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL config");
  DashnetConfig cfg;
  CHECK(dashnet_config_init(&cfg, sizeof cfg, 9) == DASHNET_STATUS_INVALID_ARGUMENT, "unknown network");
  CHECK(strstr(dashnet_last_error(), "unknown network") != NULL, "last error names it");
  CHECK(dashnet_config_init(&cfg, sizeof cfg, DASHNET_NETWORK_TESTNET) == DASHNET_STATUS_OK, "init");
  CHECK(cfg.struct_size == sizeof(DashnetConfig), "struct_size set");
  CHECK(cfg.protocol_version == 70240 && cfg.min_protocol_version == 70221, "versions");
  CHECK(cfg.ping_interval_ms == 120000 && cfg.pong_timeout_ms == 60000, "keepalive defaults");
  CHECK(cfg.fixed_seeds == NULL && cfg.reseed_interval_ms == 60000, "seed defaults (NULL: built-in list)");

  /* client_new refuses bad configs with a reason. */
  CHECK(dashnet_client_new(NULL, NULL) == NULL, "NULL config refused");
  CHECK(strstr(dashnet_last_error(), "NULL") != NULL, "reason: %s", dashnet_last_error());
  quiet_config(&cfg);
  cfg.struct_size = 0;
  CHECK(dashnet_client_new(&cfg, NULL) == NULL, "struct_size 0 refused");
  quiet_config(&cfg);
  cfg.network = 42;
  CHECK(dashnet_client_new(&cfg, NULL) == NULL, "unknown network refused");
  quiet_config(&cfg);
  cfg.exclusive = 1; /* parse only: dial nothing */
  cfg.fixed_seeds = "127.0.0.1:1, nonsense";
  CHECK(dashnet_client_new(&cfg, NULL) == NULL, "a bad fixed seed refused");
  CHECK(strstr(dashnet_last_error(), "nonsense") != NULL, "reason: %s", dashnet_last_error());
  quiet_config(&cfg);
  cfg.exclusive = 1;
  cfg.fixed_seeds = "127.0.0.1:1,[::1]:1 127.0.0.2:1";
  DashnetClient *seeded = dashnet_client_new(&cfg, NULL);
  CHECK(seeded != NULL, "three fixed seeds accepted: %s", dashnet_last_error());
  if (seeded) dashnet_client_free(seeded);
  quiet_config(&cfg);
  cfg.user_agent = "\xff\xfe not utf-8";
  CHECK(dashnet_client_new(&cfg, NULL) == NULL, "invalid UTF-8 refused");
  CHECK(strstr(dashnet_last_error(), "UTF-8") != NULL, "reason: %s", dashnet_last_error());
  char long_ua[300];
  memset(long_ua, 'a', sizeof long_ua - 1);
  long_ua[sizeof long_ua - 1] = 0;
  quiet_config(&cfg);
  cfg.user_agent = long_ua;
  CHECK(dashnet_client_new(&cfg, NULL) == NULL, "257+ byte user agent refused");

  /* An older caller's shorter struct: the rest takes defaults. */
  quiet_config(&cfg);
  cfg.struct_size = offsetof(DashnetConfig, relay);
  DashnetClient *old = dashnet_client_new(&cfg, NULL);
  CHECK(old != NULL, "a shorter (older) config is accepted");
  CHECK(dashnet_client_free(old) == DASHNET_STATUS_OK, "free");

  /* 1000 create / free cycles, alternating poll and callback modes. */
  int created = 0;
  for (int i = 0; i < 1000; i++) {
    quiet_config(&cfg);
    DashnetCallbacks cb;
    dashnet_callbacks_init(&cb, sizeof cb);
    cb.on_peer = on_peer;
    DashnetClient *c = dashnet_client_new(&cfg, (i & 1) ? &cb : NULL);
    if (c) created++;
    if (dashnet_client_free(c) != DASHNET_STATUS_OK) break;
  }
  CHECK(created == 1000, "1000 cycles (%d)", created);

  /* Misuse against a live client in poll mode. */
  quiet_config(&cfg);
  DashnetClient *c = dashnet_client_new(&cfg, NULL);
  CHECK(c != NULL, "client");
  uint8_t small[8] = {0};
  CHECK(dashnet_send(NULL, 1, "ping", small, 8, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL client");
  CHECK(dashnet_send(c, 1, "ping", small, 8, 0) == DASHNET_STATUS_NOT_FOUND, "unknown peer");
  CHECK(dashnet_send(c, 12345, "tx", small, 8, 0) == DASHNET_STATUS_NOT_FOUND, "stale peer");
  CHECK(dashnet_send(c, 1, NULL, small, 8, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL command");
  CHECK(dashnet_send(c, 1, "thirteenchars", small, 8, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "long command");
  CHECK(dashnet_send(c, 1, "a b", small, 8, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "space in command");
  CHECK(dashnet_send(c, 1, "\xc3\x28", small, 8, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "invalid UTF-8 command");
  CHECK(dashnet_send(c, 1, "tx", NULL, 5, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL payload with length");
  CHECK(dashnet_send(c, 1, "tx", small, (size_t)3 * 1024 * 1024 + 1, 0) == DASHNET_STATUS_TOO_LARGE,
        "oversize payload refused at the call");
  CHECK(dashnet_send_tx(c, 0, small, (size_t)3 * 1024 * 1024 + 1, 0) == DASHNET_STATUS_TOO_LARGE,
        "oversize tx");
  size_t accepted = 99;
  CHECK(dashnet_broadcast(c, "tx", small, 8, 0, &accepted) == DASHNET_STATUS_OK && accepted == 0,
        "broadcast to nobody");
  uint64_t best = 0;
  CHECK(dashnet_send_best(c, "tx", small, 8, 0, &best) == DASHNET_STATUS_NO_PEER, "no best peer");
  CHECK(dashnet_request_headers(c, small, 0, NULL, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "empty locator");
  CHECK(dashnet_request_headers(c, NULL, 1, NULL, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL locator");
  CHECK(dashnet_send_getheaders(c, 0, small, 102, NULL, true) == DASHNET_STATUS_INVALID_ARGUMENT,
        "102 locator hashes");
  CHECK(dashnet_client_connect(c, "not an address") == DASHNET_STATUS_INVALID_ARGUMENT, "bad address");
  CHECK(dashnet_client_connect(c, "example.com:9999") == DASHNET_STATUS_INVALID_ARGUMENT, "host name");
  CHECK(dashnet_client_connect(c, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL address");
  CHECK(dashnet_client_connect(c, "0.0.0.0:9999") == DASHNET_STATUS_INVALID_ARGUMENT, "undialable");
  CHECK(dashnet_client_disconnect(c, 77) == DASHNET_STATUS_NOT_FOUND, "disconnect unknown");
  DashnetPeerStats ps = {.struct_size = sizeof(DashnetPeerStats)};
  CHECK(dashnet_peer_stats(c, 1, &ps) == DASHNET_STATUS_NOT_FOUND, "stats unknown");
  CHECK(dashnet_peer_stats(c, 1, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "stats NULL out");
  DashnetClientStats cs = {.struct_size = sizeof(DashnetClientStats)};
  CHECK(dashnet_client_stats(c, &cs) == DASHNET_STATUS_OK && cs.peers == 0, "client stats");
  CHECK(dashnet_client_set_log_level(c, 9) == DASHNET_STATUS_INVALID_ARGUMENT, "bad log level");
  DashnetEvent *ev = NULL;
  CHECK(dashnet_client_poll(c, 10, &ev) == DASHNET_STATUS_TIMEOUT && ev == NULL, "poll times out");
  CHECK(dashnet_client_poll(c, 10, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "poll NULL out");

  /* Address book: garbage refused, export / import round trip. */
  size_t added = 7;
  CHECK(dashnet_address_book_import(c, (const uint8_t *)"garbage", 7, &added) == DASHNET_STATUS_INVALID_ARGUMENT,
        "garbage book");
  CHECK(dashnet_client_connect(c, "127.0.0.1:1") == DASHNET_STATUS_OK, "connect a dead port");
  uint8_t *book = NULL;
  size_t book_len = 0;
  CHECK(dashnet_address_book_export(c, &book, &book_len) == DASHNET_STATUS_OK && book_len > 9, "export");
  CHECK(dashnet_address_book_export(c, NULL, &book_len) == DASHNET_STATUS_INVALID_ARGUMENT, "export NULL");
  CHECK(dashnet_network_changed(c) == DASHNET_STATUS_OK, "network changed");
  CHECK(dashnet_pause(c) == DASHNET_STATUS_OK && dashnet_resume(c) == DASHNET_STATUS_OK, "pause resume");
  CHECK(dashnet_client_free(c) == DASHNET_STATUS_OK, "free");

  quiet_config(&cfg);
  DashnetCallbacks cb;
  dashnet_callbacks_init(&cb, sizeof cb);
  cb.on_peer = on_peer;
  DashnetClient *d = dashnet_client_new(&cfg, &cb);
  CHECK(dashnet_address_book_import(d, book, book_len, &added) == DASHNET_STATUS_OK && added == 1, "import");
  CHECK(dashnet_client_poll(d, 1, &ev) == DASHNET_STATUS_WRONG_MODE, "poll with callbacks");
  dashnet_bytes_free(book, book_len);
  dashnet_bytes_free(NULL, 0);
  dashnet_event_free(NULL);
  CHECK(dashnet_client_free(d) == DASHNET_STATUS_OK, "free");
  CHECK(dashnet_client_free(NULL) == DASHNET_STATUS_OK, "free(NULL)");
  CHECK(strcmp(dashnet_status_name(DASHNET_STATUS_QUEUE_FULL), "queue full") == 0, "status name");

  /* X11 of the mainnet genesis header is the mainnet genesis hash; SHA256d of "" is known. */
  const char *header_hex =
      "010000000000000000000000000000000000000000000000000000000000000000000000c762a6567f3cc092"
      "f0684bb62b7e00a84890b990f07cc71a6bb58d64b98e02e0022ddb52f0ff0f1ec23fb901";
  uint8_t header[80], hash[32];
  for (int i = 0; i < 80; i++) {
    unsigned v;
    sscanf(header_hex + 2 * i, "%2x", &v);
    header[i] = (uint8_t)v;
  }
  CHECK(dashnet_x11(header, 80, hash) == DASHNET_STATUS_OK, "x11");
  char shown[65];
  for (int i = 0; i < 32; i++) sprintf(shown + 2 * i, "%02x", hash[31 - i]);
  CHECK(strcmp(shown, "00000ffd590b1485b3caadc19b22e6379c733355108f107a430458cdf3407ab6") == 0, "genesis %s", shown);
  CHECK(dashnet_x11(NULL, 80, hash) == DASHNET_STATUS_INVALID_ARGUMENT, "x11 NULL data");
  CHECK(dashnet_x11(header, 80, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "x11 NULL out");
  CHECK(dashnet_sha256d(NULL, 0, hash) == DASHNET_STATUS_OK && hash[0] == 0x5d && hash[3] == 0xe2, "sha256d of nothing");
  DONE();
}
