package org.dashnet;

/**
 * Client settings, the same fields as the C ABI's DashnetConfig. {@code new
 * DashnetConfig(network)} fills every default from the library itself; change what you
 * need, then pass it to {@link DashnetClient#DashnetClient(DashnetConfig, DashnetListener)}.
 * The native side reads the fields by name: keep this class out of obfuscation (the
 * shipped consumer rules do).
 */
public final class DashnetConfig {
    static {
        System.loadLibrary("dashnet");
    }

    /** {@link DashnetClient#MAINNET}, TESTNET, REGTEST or DEVNET. */
    public int network;
    /** For DEVNET: its name (null: "devnet"). */
    public String devnetName;
    /** Our user agent (null: the library's). */
    public String userAgent;
    public long services;
    public boolean relay;
    public int protocolVersion;
    public int minProtocolVersion;
    public int startHeight;
    public int workerThreads;
    public int targetOutbound;
    public int maxOutbound;
    /** Dial only the peers given with connect(): no DNS, no learned addresses. */
    public boolean exclusive;
    public boolean dnsSeeds;
    public int connectTimeoutMs;
    public int handshakeTimeoutMs;
    public int pingIntervalMs;
    public int pongTimeoutMs;
    public int writeStallTimeoutMs;
    public int inactivityTimeoutMs;
    /** How long close() and a graceful disconnect flush queues. */
    public int flushDeadlineMs;
    public int queueMaxMessages;
    public long queueMaxBytes;
    public int banDurationS;
    public int eventQueue;
    /** Inbound bytes of one peer waiting for the app before its reader stops reading. */
    public long inboundPeerBytes;
    /** Inbound bytes of all peers together. */
    public long inboundClientBytes;
    /**
     * Seed nodes dialed when the address book is empty, DNS is off or finds nothing:
     * "IP:PORT" entries separated by commas or spaces. null (the default): Dash Core's
     * built-in list for the network; "": none.
     */
    public String fixedSeeds;
    /** When nothing is connected and nothing is left to dial, seeds are looked up again, at most this often. */
    public int reseedIntervalMs;
    /**
     * A header request the best peer leaves unanswered this long makes it stall: it is
     * replaced (onBestPeerChanged) and the request re-sent to the new best peer.
     */
    public int headerStallTimeoutMs;
    /**
     * Service bits every peer must advertise (for example 64, COMPACT_FILTERS): a peer
     * without them is replaced after its version, never banned. 0: none.
     */
    public long requiredServices;
    /**
     * A SOCKS5 proxy for every connection, "IP:PORT" (for example Orbot's Tor,
     * "127.0.0.1:9050"), or null. With a proxy, DNS seeds are never looked up: the built-in
     * seed nodes are used instead.
     */
    public String proxy;
    /** A SOCKS5 proxy for onion peers only, "IP:PORT"; null: proxy. */
    public String proxyOnion;
    /** A fresh random username and password per connection, so Tor isolates each peer. */
    public boolean proxyRandomizeCredentials;
    /** Dial nothing but onion peers (needs a proxy). */
    public boolean onionOnly;
    /**
     * Which transports to dial with: TRANSPORT_V2_PREFERRED (the default: BIP324 v2, falling
     * back to v1 at once with a v1 peer), TRANSPORT_V2_ONLY or TRANSPORT_V1_ONLY. Another
     * value is refused when the client is made.
     */
    public int transport;
    /**
     * Header messages decoded at once, on that many threads shared by all peers; each peer's
     * events still come in wire order (default: cores - 1, at most 4, at least 1; 0: the
     * default; more than 64 is refused).
     */
    public int decodeThreads;

    /** transport: v2 with peers that may speak it, v1 with the others. */
    public static final int TRANSPORT_V2_PREFERRED = 0;
    /** transport: v2 only; a v1 peer fails its handshake. */
    public static final int TRANSPORT_V2_ONLY = 1;
    /** transport: v1 only. */
    public static final int TRANSPORT_V1_ONLY = 2;

    /** The library's defaults for {@code network}. */
    public DashnetConfig(int network) {
        if (!nativeDefaults(network, this)) {
            throw new IllegalArgumentException("dashnet: unknown network " + network);
        }
    }

    private static native boolean nativeDefaults(int network, DashnetConfig out);
}
