package org.dashnet;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A dashnet client: connections to Dash nodes, events to a {@link DashnetListener}.
 * Every method returns at once (sends only queue) and is safe from any thread,
 * including from inside the listener, except {@link #close()}.
 */
public final class DashnetClient implements AutoCloseable {
    static {
        System.loadLibrary("dashnet");
    }

    public static final int MAINNET = 0, TESTNET = 1, REGTEST = 2, DEVNET = 3;
    /** Where a dial failed ({@link DashnetListener#onPeerFailed}). */
    public static final int STAGE_CONNECT = 1, STAGE_HANDSHAKE = 2, STAGE_PROXY = 3;
    /** How a header sync ended ({@link DashnetListener#onSyncDone}). */
    public static final int SYNC_COMPLETE = 1, SYNC_FORK = 2, SYNC_CANCELLED = 3, SYNC_SHUTTING_DOWN = 4,
            SYNC_CHECKPOINT_MISMATCH = 5;

    /** Status codes: the C ABI's DashnetStatus numbers (a Rust test checks they match). */
    public static final int OK = 0, INVALID_ARGUMENT = 1, NOT_FOUND = 2, QUEUE_FULL = 3,
            DISCONNECTED = 4, TOO_LARGE = 5, NO_PEER = 6, TIMEOUT = 7, IN_CALLBACK = 8,
            SHUTTING_DOWN = 9, INTERNAL = 10, WRONG_MODE = 11,
            MISMATCH = 12,
            BUSY = 13;

    /** What closing left behind (see DashnetShutdownReport in dashnet.h). */
    public static final class ShutdownReport {
        public final long peersClosed, undeliveredMessages, eventsDiscarded, bytesDiscarded,
                elapsedMs, tasksLeft;

        ShutdownReport(long[] v) {
            peersClosed = v[0];
            undeliveredMessages = v[1];
            eventsDiscarded = v[2];
            bytesDiscarded = v[3];
            elapsedMs = v[4];
            tasksLeft = v[5];
        }
    }

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private long handle;

    /** Starts a client on {@code network} that reports to {@code listener}. */
    public DashnetClient(int network, boolean dnsSeeds, DashnetListener listener) {
        this(withSeeds(new DashnetConfig(network), dnsSeeds), listener);
    }

    /** Starts a client with every setting of {@code config}. */
    public DashnetClient(DashnetConfig config, DashnetListener listener) {
        if (config == null || listener == null) throw new NullPointerException("config and listener");
        handle = nativeNew(config, listener);
        if (handle == 0) {
            throw new IllegalStateException("dashnet: cannot create the client");
        }
    }

    private static DashnetConfig withSeeds(DashnetConfig c, boolean dnsSeeds) {
        c.dnsSeeds = dnsSeeds;
        return c;
    }

    private long acquire() {
        lock.readLock().lock();
        if (handle == 0) {
            lock.readLock().unlock();
            return 0;
        }
        return handle;
    }

    private void release() {
        lock.readLock().unlock();
    }

    /** Keeps the node at "ip:port" connected, dialing it now. */
    public int connect(String address) {
        long h = acquire();
        if (h == 0) return SHUTTING_DOWN;
        try { return nativeConnect(h, address); } finally { release(); }
    }

    /** Queues a message to one peer: OK, QUEUE_FULL, DISCONNECTED, NOT_FOUND, TOO_LARGE. */
    public int send(long peer, String command, byte[] payload, long tag) {
        long h = acquire();
        if (h == 0) return SHUTTING_DOWN;
        try { return nativeSend(h, peer, command, payload, tag); } finally { release(); }
    }

    /** Queues a message to every connected peer: how many took it, or -status. */
    public int broadcast(String command, byte[] payload, long tag) {
        long h = acquire();
        if (h == 0) return -SHUTTING_DOWN;
        try { return nativeBroadcast(h, command, payload, tag); } finally { release(); }
    }

    /** Queues a message to the best peer: its id, or -status. */
    public long sendBest(String command, byte[] payload, long tag) {
        long h = acquire();
        if (h == 0) return -SHUTTING_DOWN;
        try { return nativeSendBest(h, command, payload, tag); } finally { release(); }
    }

    /** Asks the best peer for headers after {@code locator} (32-byte hashes, newest first): its id, or -status. */
    public long requestHeaders(byte[] locator) {
        long h = acquire();
        if (h == 0) return -SHUTTING_DOWN;
        try { return nativeRequestHeaders(h, locator); } finally { release(); }
    }

    /**
     * Starts the header sync service from the app's tip ({@code locator}: 32-byte hashes,
     * newest first, the first one at {@code tipHeight}) to the peers' tip: headers come to
     * {@link DashnetListener#onSyncHeaders} in chain order, with onSyncProgress along the
     * way and one onSyncDone. Segments between checkpoints are asked of several peers at
     * once and checked at each checkpoint. OK, or BUSY while a sync runs, or another status.
     */
    public int syncHeaders(byte[] locator, int tipHeight) {
        long h = acquire();
        if (h == 0) return SHUTTING_DOWN;
        try { return nativeSyncHeaders(h, locator, tipHeight); } finally { release(); }
    }

    /** Cancels the running sync (onSyncDone follows with SYNC_CANCELLED): OK or NOT_FOUND. */
    public int cancelSync() {
        long h = acquire();
        if (h == 0) return SHUTTING_DOWN;
        try { return nativeCancelSync(h); } finally { release(); }
    }

    /**
     * Adds a checkpoint for the next sync: block {@code hash} (32 bytes, wire order) at
     * {@code height}. INVALID_ARGUMENT if another hash is the checkpoint there.
     */
    public int addCheckpoint(int height, byte[] hash) {
        long h = acquire();
        if (h == 0) return SHUTTING_DOWN;
        try { return nativeAddCheckpoint(h, height, hash); } finally { release(); }
    }

    /**
     * A peer's statistics: bytes in, bytes out, messages in, messages out, queued messages,
     * queued bytes, last / min / average ping in microseconds, inbound bytes waiting for
     * the app, the transport (1: v1, 2: BIP324 v2); null if unknown (never existed, or its
     * onDisconnected has been called).
     */
    public long[] stats(long peer) {
        long h = acquire();
        if (h == 0) return null;
        try { return nativeStats(h, peer); } finally { release(); }
    }

    /**
     * A v2 peer's session id (32 bytes; both ends compute the same, so an app may show it
     * for comparison out of band); null over v1 or if the peer is unknown.
     */
    public byte[] sessionId(long peer) {
        long h = acquire();
        if (h == 0) return null;
        try { return nativeSessionId(h, peer); } finally { release(); }
    }

    /**
     * Client-wide statistics: peers, dialing, dials, address book, banned, bytes in, bytes
     * out, inbound bytes waiting, inbound budget, events queued, events discarded, bytes
     * discarded; null once closed.
     */
    public long[] clientStats() {
        long h = acquire();
        if (h == 0) return null;
        try { return nativeClientStats(h); } finally { release(); }
    }

    /** The network changed: check every connection now, reset backoff. */
    public int networkChanged() { return lifecycle(0); }

    /** Going to the background: close connections gracefully, stop dialing. */
    public int pause() { return lifecycle(1); }

    /** Back in the foreground: reconnect at once. */
    public int resume() { return lifecycle(2); }

    /** The most verbose level passed to onLog (0 off .. 4 debug; default 3). */
    public int setLogLevel(int level) { return lifecycle(level < 0 || level > 4 ? -1 : 10 + level); }

    private int lifecycle(int what) {
        long h = acquire();
        if (h == 0) return SHUTTING_DOWN;
        try { return nativeLifecycle(h, what); } finally { release(); }
    }

    /**
     * Starts shutting down and returns at once (never blocks, so it is fine on the main
     * thread and inside listener methods): calls then return SHUTTING_DOWN, pending dials
     * are abandoned, queues flush up to the flush deadline, and every peer's
     * onDisconnected (with its undelivered tags) still arrives. Tell other threads to stop
     * with it before {@link #close()}.
     */
    public int shutdown() {
        long h = acquire();
        if (h == 0) return OK;
        try { return nativeShutdown(h); } finally { release(); }
    }

    /**
     * Shuts down (queues flush up to the flush deadline, the listener gets the last
     * events) and frees the client. Returns within about the flush deadline plus the
     * listener's own time for the last events; when it returns no listener method runs or
     * will run. It blocks: on Android call it off the main thread, or call
     * {@link #shutdown()} there and close later. Throws IllegalStateException from inside
     * a listener method. Closing twice is fine.
     */
    @Override
    public void close() {
        closeAndReport();
    }

    /** {@link #close()}, returning what the shutdown left behind (null if already closed). */
    public ShutdownReport closeAndReport() {
        long h = acquire();
        if (h == 0) return null;
        try {
            if (nativeIsDeliveryThread(h)) {
                throw new IllegalStateException("dashnet: close() cannot be called from a listener method");
            }
            // Under the shared lock: listener methods that call the client meanwhile get
            // SHUTTING_DOWN instead of waiting for us (which would deadlock).
            nativeJoin(h);
        } finally {
            release();
        }
        synchronized (this) {
            if (handle == 0) return null;
            lock.writeLock().lock();
            try {
                long[] report = nativeFree(handle);
                handle = 0;
                return report == null ? null : new ShutdownReport(report);
            } finally {
                lock.writeLock().unlock();
            }
        }
    }

    private static native long nativeNew(DashnetConfig config, DashnetListener listener);
    private static native int nativeConnect(long handle, String address);
    private static native int nativeSyncHeaders(long handle, byte[] locator, int tipHeight);
    private static native int nativeCancelSync(long handle);
    private static native int nativeAddCheckpoint(long handle, int height, byte[] hash);
    private static native int nativeSend(long handle, long peer, String command, byte[] payload, long tag);
    private static native int nativeBroadcast(long handle, String command, byte[] payload, long tag);
    private static native long nativeSendBest(long handle, String command, byte[] payload, long tag);
    private static native long nativeRequestHeaders(long handle, byte[] locator);
    private static native long[] nativeStats(long handle, long peer);
    private static native byte[] nativeSessionId(long handle, long peer);
    private static native long[] nativeClientStats(long handle);
    private static native int nativeLifecycle(long handle, int what);
    private static native int nativeShutdown(long handle);
    private static native boolean nativeIsDeliveryThread(long handle);
    private static native int nativeJoin(long handle);
    private static native long[] nativeFree(long handle);
}
