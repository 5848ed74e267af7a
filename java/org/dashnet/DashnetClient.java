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
    public static final int STAGE_CONNECT = 1, STAGE_HANDSHAKE = 2;

    /** Status codes (the C ABI's numbers). */
    public static final int OK = 0, INVALID_ARGUMENT = 1, NOT_FOUND = 2, QUEUE_FULL = 3,
            DISCONNECTED = 4, TOO_LARGE = 5, NO_PEER = 6, IN_CALLBACK = 8, SHUTTING_DOWN = 9;

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private long handle;

    /** Starts a client on {@code network} that reports to {@code listener}. */
    public DashnetClient(int network, boolean dnsSeeds, DashnetListener listener) {
        handle = nativeNew(network, dnsSeeds, listener);
        if (handle == 0) {
            throw new IllegalStateException("dashnet: cannot create the client");
        }
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
     * A peer's statistics: bytes in, bytes out, messages in, messages out, queued messages,
     * queued bytes, last / min / average ping in microseconds; null if unknown.
     */
    public long[] stats(long peer) {
        long h = acquire();
        if (h == 0) return null;
        try { return nativeStats(h, peer); } finally { release(); }
    }

    /** The network changed: check every connection now, reset backoff. */
    public void networkChanged() { lifecycle(0); }

    /** Going to the background: close connections gracefully, stop dialing. */
    public void pause() { lifecycle(1); }

    /** Back in the foreground: reconnect at once. */
    public void resume() { lifecycle(2); }

    private void lifecycle(int what) {
        long h = acquire();
        if (h == 0) return;
        try { nativeLifecycle(h, what); } finally { release(); }
    }

    /**
     * Shuts down (queues flush up to the flush deadline, the listener gets the last
     * events) and frees the client. When it returns no listener method runs or will run.
     * Throws IllegalStateException from inside a listener method. Closing twice is fine.
     */
    @Override
    public void close() {
        long h = acquire();
        if (h == 0) return;
        boolean inCallback;
        try {
            inCallback = nativeIsDeliveryThread(h);
        } finally {
            release();
        }
        if (inCallback) {
            throw new IllegalStateException("dashnet: close() cannot be called from a listener method");
        }
        synchronized (this) {
            if (handle == 0) return;
            nativeShutdown(handle);
            lock.writeLock().lock();
            try {
                nativeFree(handle);
                handle = 0;
            } finally {
                lock.writeLock().unlock();
            }
        }
    }

    private static native long nativeNew(int network, boolean dnsSeeds, DashnetListener listener);
    private static native int nativeConnect(long handle, String address);
    private static native int nativeSend(long handle, long peer, String command, byte[] payload, long tag);
    private static native int nativeBroadcast(long handle, String command, byte[] payload, long tag);
    private static native long nativeSendBest(long handle, String command, byte[] payload, long tag);
    private static native long nativeRequestHeaders(long handle, byte[] locator);
    private static native long[] nativeStats(long handle, long peer);
    private static native void nativeLifecycle(long handle, int what);
    private static native int nativeShutdown(long handle);
    private static native boolean nativeIsDeliveryThread(long handle);
    private static native void nativeFree(long handle);
}
