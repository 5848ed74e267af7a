/* The C ABI against a careless or hostile caller: every exported function with NULL,
 * counts over their limits (checked before any byte is read: run it under ASan and
 * valgrind), integers that are not enum values, and every struct_size from 0 to
 * sizeof + 16 for each versioned struct. Needs no network. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashnet.h"
#include "harness.h"

#define CANARY 0xAB

/* Field ends of every version of a struct, computed from the header's layout. */
static int is_end(size_t size, const size_t *ends, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (ends[i] == size) return 1;
  return 0;
}

static void quiet_config(DashnetConfig *c) {
  dashnet_config_init(c, sizeof *c, DASHNET_NETWORK_REGTEST);
  c->dns_seeds = 0;
  c->flush_deadline_ms = 50;
}

static void on_peer(void *ud, const DashnetPeerEvent *ev) {
  (void)ud;
  (void)ev;
}

#define END(T, f) (offsetof(T, f) + sizeof(((T *)0)->f))

/* The payload of a vector file (one line of hex: a whole message) into `out`; its length,
 * or 0 if the file cannot be read. */
static size_t vector_payload(const char *name, uint8_t *out, size_t cap) {
  char path[256];
  snprintf(path, sizeof path, "tests/data/vectors/dashcore-tf-messages/%s", name);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  static char hex[8192];
  size_t n = fread(hex, 1, sizeof hex - 1, f);
  fclose(f);
  hex[n] = 0;
  size_t bytes = 0;
  for (size_t i = 48; i + 1 < n && hex[i] != '\n' && bytes < cap; i += 2) {
    unsigned v;
    if (sscanf(hex + i, "%2x", &v) != 1) return 0;
    out[bytes++] = (uint8_t)v;
  }
  return bytes;
}

/* Every view refuses every truncation of a valid payload, and NULL / bad sizes. */
static void views(void) {
  static uint8_t p[4096];
  size_t len = vector_payload("isdlock.hex", p, sizeof p);
  CHECK(len == 234, "isdlock vector (%zu bytes; run from the project root)", len);
  DashnetIsDLockView l = {.struct_size = sizeof l};
  CHECK(dashnet_view_isdlock(p, len, &l) == DASHNET_STATUS_OK, "isdlock view");
  CHECK(l.version == 1 && l.input_count == 2 && l.inputs == p + 2, "version 1, 2 inputs right after the count");
  CHECK(l.inputs[0] == 1 && l.inputs[36] == 2 && l.inputs[36 + 32] == 7, "input txids and the second's index 7");
  CHECK(l.txid[0] == 3 && l.cycle_hash[31] == 4 && l.signature[95] == 5, "txid, cycle hash, signature");
  for (size_t cut = 0; cut < len; cut++)
    CHECK(dashnet_view_isdlock(p, cut, &l) == DASHNET_STATUS_INVALID_ARGUMENT, "isdlock cut at %zu", cut);
  CHECK(dashnet_view_isdlock(NULL, len, &l) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL payload");
  CHECK(dashnet_view_isdlock(p, len, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL out");
  l.struct_size = sizeof l + 8;
  CHECK(dashnet_view_isdlock(p, len, &l) == DASHNET_STATUS_INVALID_ARGUMENT, "struct_size from the future");
  l.struct_size = 3;
  CHECK(dashnet_view_isdlock(p, len, &l) == DASHNET_STATUS_INVALID_ARGUMENT, "struct_size off a field end");
  /* An older, shorter view: only its own bytes are written. */
  {
    unsigned char buf[sizeof(DashnetIsDLockView) + 16];
    memset(buf, 0xee, sizeof buf);
    size_t older = offsetof(DashnetIsDLockView, input_count) + sizeof(size_t);
    memcpy(buf, &older, sizeof older);
    CHECK(dashnet_view_isdlock(p, len, (DashnetIsDLockView *)(void *)buf) == DASHNET_STATUS_OK, "older size");
    int intact = 1;
    for (size_t i = older; i < sizeof buf; i++)
      if (buf[i] != 0xee) intact = 0;
    CHECK(intact, "nothing past the older size written");
  }

  len = vector_payload("clsig.hex", p, sizeof p);
  DashnetClSigView c = {.struct_size = sizeof c};
  CHECK(len == 132 && dashnet_view_clsig(p, len, &c) == DASHNET_STATUS_OK, "clsig view");
  CHECK(c.height == 1000 && c.block_hash[0] == 0xab && c.signature[0] == 0 && c.signature[95] == 95,
        "clsig fields");
  for (size_t cut = 0; cut < len; cut++)
    CHECK(dashnet_view_clsig(p, cut, &c) == DASHNET_STATUS_INVALID_ARGUMENT, "clsig cut at %zu", cut);
  p[len] = 0;
  CHECK(dashnet_view_clsig(p, len + 1, &c) == DASHNET_STATUS_INVALID_ARGUMENT, "a trailing byte is refused");

  len = vector_payload("cfheaders.hex", p, sizeof p);
  DashnetCFHeadersView h = {.struct_size = sizeof h};
  CHECK(len == 162 && dashnet_view_cfheaders(p, len, &h) == DASHNET_STATUS_OK, "cfheaders view");
  CHECK(h.count == 3 && h.filter_hashes == p + 66, "3 hashes after the count");
  /* BIP158's filter header of testnet block 2, wire order. */
  const char *want_hex = "186afd11ef2b5e7e3504f2e8cbf8df28a1fd251fe53d60dff8b1467d1b386cf0";
  uint8_t want[32], got[32];
  for (int i = 0; i < 32; i++) {
    unsigned v;
    sscanf(want_hex + 2 * i, "%2x", &v);
    want[31 - i] = (uint8_t)v;
  }
  CHECK(dashnet_cfheaders_check(p, len, want, got) == DASHNET_STATUS_OK && memcmp(got, want, 32) == 0,
        "chains to BIP158's header of block 2");
  for (size_t cut = 0; cut < len; cut++)
    CHECK(dashnet_view_cfheaders(p, cut, &h) == DASHNET_STATUS_INVALID_ARGUMENT &&
              dashnet_cfheaders_check(p, cut, want, NULL) == DASHNET_STATUS_INVALID_ARGUMENT,
          "cfheaders cut at %zu", cut);
  p[70] ^= 0x40;
  CHECK(dashnet_cfheaders_check(p, len, want, NULL) == DASHNET_STATUS_MISMATCH, "a wrong hash");

  len = vector_payload("cfilter.hex", p, sizeof p);
  DashnetCFilterView f = {.struct_size = sizeof f};
  CHECK(len == 38 && dashnet_view_cfilter(p, len, &f) == DASHNET_STATUS_OK, "cfilter view");
  CHECK(f.filter_len == 4 && f.filter == p + 34 && f.filter[0] == 0x01 && f.filter[3] == 0xa8, "filter 019dfca8");
  for (size_t cut = 0; cut < len; cut++)
    CHECK(dashnet_view_cfilter(p, cut, &f) == DASHNET_STATUS_INVALID_ARGUMENT, "cfilter cut at %zu", cut);

  len = vector_payload("cfcheckpt.hex", p, sizeof p);
  DashnetCFCheckptView k = {.struct_size = sizeof k};
  CHECK(len == 98 && dashnet_view_cfcheckpt(p, len, &k) == DASHNET_STATUS_OK, "cfcheckpt view");
  CHECK(k.count == 2 && k.filter_headers[0] == 0 && k.filter_headers[63] == 63, "two headers");
  /* A view of the wrong message: decodes as that message or is refused, never read past. */
  CHECK(dashnet_view_cfilter(p, len, &f) != DASHNET_STATUS_INTERNAL, "cfcheckpt bytes as a cfilter");
}

int main(void) {
  views();
  /* Status names: every integer is safe; unknown values get a name too. */
  for (uint32_t s = 0; s <= 13; s++)
    CHECK(strcmp(dashnet_status_name(s), "unknown status") != 0, "status %u has a name", s);
  uint32_t odd[] = {14, 15, 255, 0x7fffffffu, 0x80000000u, 0xffffffffu};
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
    CHECK(strcmp(dashnet_status_name(odd[i]), "unknown status") == 0, "status %u is unknown", odd[i]);

  /* BIP157 filter headers from C, against BIP158's vectors (Bitcoin Core's
   * src/test/data/blockfilters.json: testnet blocks 0 and 2, headers in display hex). */
  {
    const uint8_t f0[] = {0x01, 0x9d, 0xfc, 0xa8}, f2[] = {0x01, 0x74, 0xa1, 0x70};
    const char *prev2 = "d7bdac13a59d745b1add0d2ce852f1a0442e8945fc1bf3848d3cbffd88c24fe1";
    const char *want0 = "21584579b7eb08997773e5aeff3a7f932700042d0ed2a6129012b7d7ae81b750";
    const char *want2 = "186afd11ef2b5e7e3504f2e8cbf8df28a1fd251fe53d60dff8b1467d1b386cf0";
    uint8_t zero[32] = {0}, p2[32], w0[32], w2[32], fh[32], out[32];
    for (int i = 0; i < 32; i++) {
      unsigned a, b, c;
      sscanf(prev2 + 2 * i, "%2x", &a);
      sscanf(want0 + 2 * i, "%2x", &b);
      sscanf(want2 + 2 * i, "%2x", &c);
      p2[31 - i] = (uint8_t)a;
      w0[31 - i] = (uint8_t)b;
      w2[31 - i] = (uint8_t)c;
    }
    CHECK(dashnet_sha256d(f0, sizeof f0, fh) == DASHNET_STATUS_OK, "filter hash 0");
    CHECK(dashnet_filter_header(fh, zero, out) == DASHNET_STATUS_OK && memcmp(out, w0, 32) == 0,
          "filter header of block 0");
    CHECK(dashnet_sha256d(f2, sizeof f2, fh) == DASHNET_STATUS_OK, "filter hash 2");
    CHECK(dashnet_filter_header(fh, p2, out) == DASHNET_STATUS_OK && memcmp(out, w2, 32) == 0,
          "filter header of block 2");
    CHECK(dashnet_filter_header(NULL, zero, out) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL hash");
    CHECK(dashnet_filter_header(fh, NULL, out) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL previous");
    CHECK(dashnet_filter_header(fh, zero, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "NULL out");
  }

  /* dashnet_config_init: every size from 0 to sizeof + 16; only field ends (from the
   * network field on) are accepted, and nothing past the size is ever written. */
  const size_t cfg_ends[] = {
      END(DashnetConfig, network), END(DashnetConfig, devnet_name), END(DashnetConfig, user_agent),
      END(DashnetConfig, services), END(DashnetConfig, relay), END(DashnetConfig, protocol_version),
      END(DashnetConfig, min_protocol_version), END(DashnetConfig, start_height),
      END(DashnetConfig, worker_threads), END(DashnetConfig, target_outbound),
      END(DashnetConfig, max_outbound), END(DashnetConfig, exclusive), END(DashnetConfig, dns_seeds),
      END(DashnetConfig, connect_timeout_ms), END(DashnetConfig, handshake_timeout_ms),
      END(DashnetConfig, ping_interval_ms), END(DashnetConfig, pong_timeout_ms),
      END(DashnetConfig, write_stall_timeout_ms), END(DashnetConfig, inactivity_timeout_ms),
      END(DashnetConfig, flush_deadline_ms), END(DashnetConfig, queue_max_messages),
      END(DashnetConfig, queue_max_bytes), END(DashnetConfig, ban_duration_s),
      END(DashnetConfig, event_queue), END(DashnetConfig, inbound_peer_bytes),
      END(DashnetConfig, inbound_client_bytes), END(DashnetConfig, fixed_seeds),
      END(DashnetConfig, reseed_interval_ms), END(DashnetConfig, reserved0),
      END(DashnetConfig, header_stall_timeout_ms),
      END(DashnetConfig, required_services), END(DashnetConfig, proxy), END(DashnetConfig, proxy_onion),
      END(DashnetConfig, proxy_randomize_credentials), END(DashnetConfig, onion_only),
      END(DashnetConfig, reserved1), END(DashnetConfig, reserved2), END(DashnetConfig, transport),
      END(DashnetConfig, reserved3), END(DashnetConfig, decode_threads), END(DashnetConfig, reserved4),
      sizeof(DashnetConfig)};
  const size_t n_cfg_ends = sizeof cfg_ends / sizeof cfg_ends[0];
  int accepted_sizes = 0;
  for (size_t size = 0; size <= sizeof(DashnetConfig) + 16; size++) {
    unsigned char buf[sizeof(DashnetConfig) + 64];
    memset(buf, CANARY, sizeof buf);
    DashnetStatus st = dashnet_config_init((DashnetConfig *)(void *)buf, size, DASHNET_NETWORK_REGTEST);
    int want = is_end(size, cfg_ends, n_cfg_ends);
    CHECK((st == DASHNET_STATUS_OK) == want, "config_init size %zu: %s", size, dashnet_status_name(st));
    int intact = 1;
    for (size_t i = (st == DASHNET_STATUS_OK ? size : 0); i < sizeof buf; i++)
      if (buf[i] != CANARY) intact = 0;
    CHECK(intact, "config_init size %zu wrote only its own bytes", size);
    if (st == DASHNET_STATUS_OK) {
      size_t written;
      memcpy(&written, buf, sizeof written);
      CHECK(written == size, "struct_size is the caller's (%zu, not %zu)", size, written);
      accepted_sizes++;
    }
  }
  CHECK(accepted_sizes == (int)n_cfg_ends - (sizeof(DashnetConfig) == END(DashnetConfig, reserved4)),
        "every version's size is accepted (%d)", accepted_sizes);

  /* dashnet_client_new with a config of every struct_size: only field ends create a client. */
  for (size_t size = 0; size <= sizeof(DashnetConfig) + 16; size++) {
    DashnetConfig cfg;
    quiet_config(&cfg);
    cfg.struct_size = size;
    DashnetClient *c = dashnet_client_new(&cfg, NULL);
    int want = is_end(size, cfg_ends, n_cfg_ends);
    CHECK((c != NULL) == want, "client_new with config struct_size %zu", size);
    CHECK(dashnet_client_free(c) == DASHNET_STATUS_OK, "free");
  }

  /* The transport: v2 preferred by default; a value that is not a DashnetTransport is
     refused with the field named; the version before it (struct_size ending at onion_only's
     padding) gets the default. */
  {
    DashnetConfig cfg;
    quiet_config(&cfg);
    CHECK(cfg.transport == DASHNET_TRANSPORT_V2_PREFERRED, "transport defaults to V2_PREFERRED");
    for (uint32_t t = 0; t <= 3; t++) {
      quiet_config(&cfg);
      cfg.transport = t;
      DashnetClient *c = dashnet_client_new(&cfg, NULL);
      CHECK((c != NULL) == (t <= DASHNET_TRANSPORT_V1_ONLY), "transport %u", t);
      if (!c) CHECK(strstr(dashnet_last_error(), "transport") != NULL, "names the field: %s",
                    dashnet_last_error());
      CHECK(dashnet_client_free(c) == DASHNET_STATUS_OK, "free");
    }
    /* decode_threads: 0 is the default, 1 to 64 taken, more refused by name. */
    quiet_config(&cfg);
    CHECK(cfg.decode_threads >= 1 && cfg.decode_threads <= 4, "decode_threads default %u", cfg.decode_threads);
    for (uint32_t t = 0; t <= 65; t += 13) {
      quiet_config(&cfg);
      cfg.decode_threads = t;
      DashnetClient *c = dashnet_client_new(&cfg, NULL);
      CHECK((c != NULL) == (t <= 64), "decode_threads %u", t);
      if (!c) CHECK(strstr(dashnet_last_error(), "decode_threads") != NULL, "names the field: %s",
                    dashnet_last_error());
      CHECK(dashnet_client_free(c) == DASHNET_STATUS_OK, "free");
    }
    quiet_config(&cfg);
    cfg.transport = 0xdeadbeef;
    cfg.struct_size = END(DashnetConfig, reserved2);
    DashnetClient *c = dashnet_client_new(&cfg, NULL);
    CHECK(c != NULL, "an older config never reads the transport field");
    CHECK(dashnet_client_free(c) == DASHNET_STATUS_OK, "free");
  }

  /* Proxy settings: IP:PORT or refused with the field named; onion_only needs a proxy;
     connect takes onion names (checksum checked) only when a proxy can reach them. */
  {
    const char *onion = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:9999";
    const char *bad_onion = "qg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:9999";
    DashnetConfig cfg;
    quiet_config(&cfg);
    CHECK(cfg.proxy == NULL && cfg.proxy_onion == NULL && cfg.proxy_randomize_credentials == 1 &&
              cfg.onion_only == 0,
          "proxy defaults");
    cfg.proxy = "localhost:9050";
    CHECK(dashnet_client_new(&cfg, NULL) == NULL && strstr(dashnet_last_error(), "proxy") != NULL,
          "a proxy host name is refused (%s)", dashnet_last_error());
    quiet_config(&cfg);
    cfg.proxy_onion = "127.0.0.1";
    CHECK(dashnet_client_new(&cfg, NULL) == NULL && strstr(dashnet_last_error(), "proxy_onion") != NULL,
          "proxy_onion without a port is refused");
    quiet_config(&cfg);
    cfg.onion_only = 1;
    CHECK(dashnet_client_new(&cfg, NULL) == NULL, "onion_only without a proxy is refused");
    quiet_config(&cfg);
    DashnetClient *c = dashnet_client_new(&cfg, NULL);
    CHECK(dashnet_client_connect(c, bad_onion) == DASHNET_STATUS_INVALID_ARGUMENT &&
              strstr(dashnet_last_error(), "checksum") != NULL,
          "an onion name with a wrong checksum (%s)", dashnet_last_error());
    CHECK(dashnet_client_connect(c, onion) == DASHNET_STATUS_INVALID_ARGUMENT &&
              strstr(dashnet_last_error(), "unreachable") != NULL,
          "an onion peer without a proxy (%s)", dashnet_last_error());
    CHECK(dashnet_client_free(c) == DASHNET_STATUS_OK, "free");
    quiet_config(&cfg);
    cfg.proxy = "127.0.0.1:1"; /* nothing listens: the dial fails at the proxy, later */
    cfg.onion_only = 1;
    c = dashnet_client_new(&cfg, NULL);
    CHECK(c != NULL, "a proxy and onion_only");
    CHECK(dashnet_client_connect(c, onion) == DASHNET_STATUS_OK, "an onion peer through the proxy");
    CHECK(dashnet_client_connect(c, "127.0.0.1:9999") == DASHNET_STATUS_INVALID_ARGUMENT,
          "onion_only refuses an IP peer");
    CHECK(dashnet_client_free(c) == DASHNET_STATUS_OK, "free");
  }

  /* Flags with any byte value are read as "nonzero is true", never as a Rust bool. */
  {
    DashnetConfig cfg;
    quiet_config(&cfg);
    memset(&cfg.relay, 0xff, sizeof cfg.relay);
    memset(&cfg.exclusive, 0x7f, sizeof cfg.exclusive);
    memset(&cfg.dns_seeds, 0xfe, sizeof cfg.dns_seeds);
    DashnetClient *c = dashnet_client_new(&cfg, NULL);
    CHECK(c != NULL, "flags of 0xff / 0x7f / 0xfe accepted");
    CHECK(dashnet_client_free(c) == DASHNET_STATUS_OK, "free");
    quiet_config(&cfg);
    cfg.network = 0xffffffffu;
    CHECK(dashnet_client_new(&cfg, NULL) == NULL, "network 0xffffffff refused");
    CHECK(dashnet_config_init(&cfg, sizeof cfg, 0xffffffffu) == DASHNET_STATUS_INVALID_ARGUMENT,
          "config_init with network 0xffffffff");
    CHECK(dashnet_config_init(&cfg, sizeof cfg, 4) == DASHNET_STATUS_INVALID_ARGUMENT,
          "config_init with network 4");
  }

  /* Callbacks: every struct_size, for init and for client_new. */
  const size_t cb_ends[] = {END(DashnetCallbacks, user_data), END(DashnetCallbacks, on_peer),
                            END(DashnetCallbacks, on_message), END(DashnetCallbacks, on_headers),
                            END(DashnetCallbacks, on_address_book), END(DashnetCallbacks, on_log),
                            END(DashnetCallbacks, on_peer_failed), END(DashnetCallbacks, on_queue_ready),
                            END(DashnetCallbacks, on_best_peer_changed), sizeof(DashnetCallbacks)};
  const size_t n_cb_ends = sizeof cb_ends / sizeof cb_ends[0];
  for (size_t size = 0; size <= sizeof(DashnetCallbacks) + 16; size++) {
    unsigned char buf[sizeof(DashnetCallbacks) + 64];
    memset(buf, CANARY, sizeof buf);
    DashnetStatus st = dashnet_callbacks_init((DashnetCallbacks *)(void *)buf, size);
    int want = is_end(size, cb_ends, n_cb_ends);
    CHECK((st == DASHNET_STATUS_OK) == want, "callbacks_init size %zu", size);
    int intact = 1;
    for (size_t i = (st == DASHNET_STATUS_OK ? size : 0); i < sizeof buf; i++)
      if (buf[i] != CANARY) intact = 0;
    CHECK(intact, "callbacks_init size %zu wrote only its own bytes", size);

    DashnetConfig cfg;
    quiet_config(&cfg);
    DashnetCallbacks cb;
    dashnet_callbacks_init(&cb, sizeof cb);
    cb.on_peer = on_peer;
    cb.struct_size = size;
    DashnetClient *c = dashnet_client_new(&cfg, &cb);
    CHECK((c != NULL) == want, "client_new with callbacks struct_size %zu", size);
    CHECK(dashnet_client_free(c) == DASHNET_STATUS_OK, "free");
  }
  CHECK(dashnet_callbacks_init(NULL, sizeof(DashnetCallbacks)) == DASHNET_STATUS_INVALID_ARGUMENT,
        "callbacks_init NULL");

  DashnetConfig cfg;
  quiet_config(&cfg);
  DashnetClient *c = dashnet_client_new(&cfg, NULL);
  CHECK(c != NULL, "a poll-mode client");

  /* Stats out-structs: every struct_size; only field ends are filled, nothing past them. */
  const size_t cs_ends[] = {END(DashnetClientStats, struct_size), END(DashnetClientStats, peers),
                            END(DashnetClientStats, dialing), END(DashnetClientStats, dials),
                            END(DashnetClientStats, address_book), END(DashnetClientStats, banned),
                            END(DashnetClientStats, bytes_in), END(DashnetClientStats, bytes_out),
                            END(DashnetClientStats, inbound_bytes), END(DashnetClientStats, inbound_budget),
                            END(DashnetClientStats, events_queued), END(DashnetClientStats, events_discarded),
                            END(DashnetClientStats, bytes_discarded), END(DashnetClientStats, seed_lookups),
                            sizeof(DashnetClientStats)};
  for (size_t size = 0; size <= sizeof(DashnetClientStats) + 16; size++) {
    unsigned char buf[sizeof(DashnetClientStats) + 64];
    memset(buf, CANARY, sizeof buf);
    memcpy(buf, &size, sizeof size);
    DashnetStatus st = dashnet_client_stats(c, (DashnetClientStats *)(void *)buf);
    int want = is_end(size, cs_ends, sizeof cs_ends / sizeof cs_ends[0]);
    CHECK((st == DASHNET_STATUS_OK) == want, "client_stats struct_size %zu", size);
    int intact = 1;
    for (size_t i = (st == DASHNET_STATUS_OK ? size : sizeof size); i < sizeof buf; i++)
      if (buf[i] != CANARY) intact = 0;
    CHECK(intact, "client_stats struct_size %zu wrote only its own bytes", size);
  }
  for (size_t size = 0; size <= sizeof(DashnetPeerStats) + 16; size++) {
    unsigned char buf[sizeof(DashnetPeerStats) + 64];
    memset(buf, CANARY, sizeof buf);
    memcpy(buf, &size, sizeof size);
    DashnetStatus st = dashnet_peer_stats(c, 1, (DashnetPeerStats *)(void *)buf);
    /* No peer 1: a good size gets NOT_FOUND, a bad one INVALID_ARGUMENT; nothing written. */
    CHECK(st == DASHNET_STATUS_NOT_FOUND || st == DASHNET_STATUS_INVALID_ARGUMENT, "peer_stats %zu", size);
    int intact = 1;
    for (size_t i = sizeof size; i < sizeof buf; i++)
      if (buf[i] != CANARY) intact = 0;
    CHECK(intact, "peer_stats struct_size %zu wrote nothing", size);
  }

  /* Counts over their limits are refused before the buffer is read: a 32-byte buffer
   * with counts of 102, 2^40 and SIZE_MAX (ASan / valgrind would see any over-read). */
  uint8_t *one = malloc(32);
  memset(one, 1, 32);
  size_t counts[] = {102, (size_t)1 << 40, SIZE_MAX, SIZE_MAX / 32 + 1};
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    size_t n = counts[i];
    CHECK(dashnet_request_headers(c, one, n, NULL, NULL) == DASHNET_STATUS_INVALID_ARGUMENT,
          "request_headers count %zu", n);
    CHECK(dashnet_sync_headers(c, one, n, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "sync_headers count %zu", n);
    CHECK(dashnet_send_getheaders(c, 0, one, n, NULL, 1) == DASHNET_STATUS_INVALID_ARGUMENT,
          "getheaders count %zu", n);
    if (n > 50000)
      CHECK(dashnet_send_getdata(c, 0, (const DashnetInventory *)(const void *)one, n) ==
                DASHNET_STATUS_INVALID_ARGUMENT,
            "getdata count %zu", n);
  }
  size_t big_counts[] = {(size_t)1 << 40, SIZE_MAX, (3u << 20) / 32};
  for (size_t i = 0; i < sizeof big_counts / sizeof big_counts[0]; i++)
    CHECK(dashnet_send_getqrinfo(c, 0, one, big_counts[i], one, 0) == DASHNET_STATUS_TOO_LARGE,
          "getqrinfo count %zu", big_counts[i]);
  CHECK(dashnet_send_getdata(c, 0, (const DashnetInventory *)(const void *)one, 50001) ==
            DASHNET_STATUS_INVALID_ARGUMENT, "getdata 50,001");
  CHECK(dashnet_send_getdata(c, 0, NULL, 1) == DASHNET_STATUS_INVALID_ARGUMENT, "getdata NULL");

  /* Oversize payloads: TOO_LARGE everywhere, never read. */
  size_t over = (size_t)3 * 1024 * 1024 + 1;
  CHECK(dashnet_send(c, 1, "tx", one, over, 0) == DASHNET_STATUS_TOO_LARGE, "send");
  CHECK(dashnet_send(c, 1, "tx", one, SIZE_MAX, 0) == DASHNET_STATUS_TOO_LARGE, "send SIZE_MAX");
  CHECK(dashnet_send_tx(c, 0, one, over, 0) == DASHNET_STATUS_TOO_LARGE, "send_tx");
  CHECK(dashnet_send_tx(c, 0, one, SIZE_MAX, 0) == DASHNET_STATUS_TOO_LARGE, "send_tx SIZE_MAX");
  CHECK(dashnet_broadcast(c, "tx", one, over, 0, NULL) == DASHNET_STATUS_TOO_LARGE, "broadcast");
  CHECK(dashnet_send_best(c, "tx", one, over, 0, NULL) == DASHNET_STATUS_TOO_LARGE, "send_best");
  CHECK(dashnet_send_filterload(c, 0, one, 36001, 1, 0, 0) == DASHNET_STATUS_TOO_LARGE, "filterload");
  CHECK(dashnet_send_filteradd(c, 0, one, 521) == DASHNET_STATUS_TOO_LARGE, "filteradd");
  CHECK(dashnet_address_book_import(c, one, SIZE_MAX, NULL) == DASHNET_STATUS_INVALID_ARGUMENT,
        "import SIZE_MAX");
  CHECK(dashnet_x11(one, SIZE_MAX, one) == DASHNET_STATUS_INVALID_ARGUMENT, "x11 SIZE_MAX");

  /* Integers that are not enum values. */
  CHECK(dashnet_client_set_log_level(c, 5) == DASHNET_STATUS_INVALID_ARGUMENT, "log level 5");
  CHECK(dashnet_client_set_log_level(c, 0xffffffffu) == DASHNET_STATUS_INVALID_ARGUMENT, "log level max");

  /* NULL for every pointer of every function. */
  CHECK(dashnet_client_connect(NULL, "127.0.0.1:1") == DASHNET_STATUS_INVALID_ARGUMENT, "connect NULL");
  CHECK(dashnet_client_disconnect(NULL, 1) == DASHNET_STATUS_INVALID_ARGUMENT, "disconnect NULL");
  CHECK(dashnet_send(NULL, 1, "tx", one, 1, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "send NULL client");
  CHECK(dashnet_send(c, 1, NULL, one, 1, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "send NULL command");
  CHECK(dashnet_send(c, 1, "tx", NULL, 1, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "send NULL payload");
  CHECK(dashnet_broadcast(NULL, "tx", one, 1, 0, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "broadcast NULL");
  CHECK(dashnet_send_best(NULL, "tx", one, 1, 0, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "send_best NULL");
  CHECK(dashnet_request_headers(NULL, one, 1, NULL, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "rh NULL");
  CHECK(dashnet_request_headers(c, NULL, 1, NULL, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "rh NULL loc");
  CHECK(dashnet_sync_headers(NULL, one, 1, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "sync NULL");
  CHECK(dashnet_sync_headers(c, NULL, 1, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "sync NULL locator");
  CHECK(dashnet_sync_headers(c, one, 0, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "sync 0 hashes");
  CHECK(dashnet_sync_cancel(NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "sync_cancel NULL");
  CHECK(dashnet_sync_cancel(c) == DASHNET_STATUS_NOT_FOUND, "sync_cancel with no sync");
  CHECK(dashnet_add_checkpoint(NULL, 1, one) == DASHNET_STATUS_INVALID_ARGUMENT, "add_checkpoint NULL");
  CHECK(dashnet_add_checkpoint(c, 1, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "add_checkpoint NULL hash");
  CHECK(dashnet_add_checkpoint(c, 0xffffffffu, one) == DASHNET_STATUS_OK, "add_checkpoint at the top height");
  CHECK(dashnet_peer_stats(NULL, 1, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "peer_stats NULL");
  CHECK(dashnet_client_stats(c, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "client_stats NULL");
  CHECK(dashnet_client_stats(NULL, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "client_stats NULL");
  CHECK(dashnet_address_book_export(NULL, NULL, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "export NULL");
  CHECK(dashnet_address_book_import(NULL, one, 1, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "import NULL");
  CHECK(dashnet_address_book_import(c, NULL, 5, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "import NULL bytes");
  CHECK(dashnet_network_changed(NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "network_changed NULL");
  CHECK(dashnet_pause(NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "pause NULL");
  CHECK(dashnet_resume(NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "resume NULL");
  CHECK(dashnet_client_set_log_level(NULL, 1) == DASHNET_STATUS_INVALID_ARGUMENT, "log level NULL");
  CHECK(dashnet_client_poll(NULL, 0, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "poll NULL");
  CHECK(dashnet_client_shutdown(NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "shutdown NULL");
  CHECK(dashnet_send_getheaders(NULL, 0, one, 1, NULL, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "gh NULL");
  CHECK(dashnet_send_getheaders(c, 0, NULL, 1, NULL, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "gh NULL loc");
  CHECK(dashnet_send_getdata(NULL, 0, NULL, 1) == DASHNET_STATUS_INVALID_ARGUMENT, "getdata NULL");
  CHECK(dashnet_send_filterload(NULL, 0, one, 1, 1, 0, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "fl NULL");
  CHECK(dashnet_send_filterload(c, 0, NULL, 1, 1, 0, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "fl NULL data");
  CHECK(dashnet_send_filteradd(NULL, 0, one, 1) == DASHNET_STATUS_INVALID_ARGUMENT, "fa NULL");
  CHECK(dashnet_send_filteradd(c, 0, NULL, 1) == DASHNET_STATUS_INVALID_ARGUMENT, "fa NULL data");
  CHECK(dashnet_send_filterclear(NULL, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "fc NULL");
  CHECK(dashnet_send_tx(NULL, 0, one, 1, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "tx NULL");
  CHECK(dashnet_send_tx(c, 0, NULL, 1, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "tx NULL data");
  CHECK(dashnet_send_mempool(NULL, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "mempool NULL");
  CHECK(dashnet_send_getmnlistd(NULL, 0, one, one) == DASHNET_STATUS_INVALID_ARGUMENT, "mnlistd NULL");
  CHECK(dashnet_send_getmnlistd(c, 0, NULL, one) == DASHNET_STATUS_INVALID_ARGUMENT, "mnlistd NULL base");
  CHECK(dashnet_send_getmnlistd(c, 0, one, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "mnlistd NULL block");
  CHECK(dashnet_send_getqrinfo(NULL, 0, one, 1, one, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "qrinfo NULL");
  CHECK(dashnet_send_getqrinfo(c, 0, NULL, 1, one, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "qrinfo NULL bases");
  CHECK(dashnet_send_getqrinfo(c, 0, one, 1, NULL, 0) == DASHNET_STATUS_INVALID_ARGUMENT, "qrinfo NULL req");
  CHECK(dashnet_x11(NULL, 1, one) == DASHNET_STATUS_INVALID_ARGUMENT, "x11 NULL data");
  CHECK(dashnet_x11(one, 1, NULL) == DASHNET_STATUS_INVALID_ARGUMENT, "x11 NULL out");
  CHECK(dashnet_sha256d(NULL, 1, one) == DASHNET_STATUS_INVALID_ARGUMENT, "sha256d NULL");
  CHECK(dashnet_config_init(NULL, sizeof(DashnetConfig), 0) == DASHNET_STATUS_INVALID_ARGUMENT, "init NULL");
  dashnet_event_free(NULL);
  dashnet_bytes_free(NULL, 5);
  CHECK(dashnet_client_free(NULL) == DASHNET_STATUS_OK, "free NULL");

  free(one);
  CHECK(dashnet_client_free(c) == DASHNET_STATUS_OK, "free");
  DONE();
}
