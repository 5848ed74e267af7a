package org.dashnet;

/**
 * Receives a client's events. Every method runs on the client's one delivery thread,
 * one at a time, never on the caller's thread. A method may call any DashnetClient
 * method except close() (which throws IllegalStateException there). An exception thrown
 * here is logged and cleared; the client goes on. Arrays passed in are fresh copies.
 */
public interface DashnetListener {
    /** A peer finished its handshake. */
    void onConnected(long peer, String address, String userAgent, int version, int startHeight);

    /**
     * A peer's connection ended: its last event. {@code undeliveredTags} are the tags of
     * the messages it accepted but never wrote, in queue order.
     */
    void onDisconnected(long peer, String address, int reason, String reasonText, long[] undeliveredTags);

    /** An inbound message other than headers. */
    void onMessage(long peer, String command, byte[] payload);

    /**
     * Headers (from headers or headers2), proof-of-work checked and linked:
     * {@code count} 80-byte headers back to back, and their 32-byte X11 hashes (wire order).
     */
    void onHeaders(long peer, byte[] headers, byte[] hashes, int count);

    /**
     * A dial or handshake failed (no peer id was given out): {@code stage} is
     * {@link DashnetClient#STAGE_CONNECT} or {@link DashnetClient#STAGE_HANDSHAKE}.
     */
    default void onPeerFailed(String address, int stage, String reason) {}

    /** A peer whose send returned QUEUE_FULL has drained to half its queue bounds. */
    default void onQueueReady(long peer) {}

    /**
     * The best peer did not answer a header request within headerStallTimeoutMs:
     * newPeer (0 for none) replaces it, and the request was re-sent there.
     */
    default void onBestPeerChanged(long oldPeer, long newPeer, String reason) {}

    /**
     * Headers from the sync service ({@link DashnetClient#syncHeaders}), in chain order:
     * {@code count} 80-byte headers and their 32-byte hashes; the first is at
     * {@code firstHeight}. Normally one above the last delivered; if lower, a segment
     * failed its checkpoint: drop what you have from {@code firstHeight} up.
     */
    default void onSyncHeaders(int firstHeight, byte[] headers, byte[] hashes, int count) {}

    /** How the sync is going (at most four times a second). */
    default void onSyncProgress(int height, int targetHeight, double headersPerSec, int peers, int inFlight) {}

    /**
     * The sync ended ({@code status}: DashnetClient.SYNC_*): at {@code height}, whose hash
     * is {@code tipHash} (for SYNC_FORK, {@code forkAfter} is the locator entry the peers'
     * chain continues from, else null), after {@code headers} headers in {@code elapsedMs}.
     */
    default void onSyncDone(int status, int height, byte[] tipHash, byte[] forkAfter, long headers, long elapsedMs) {}

    /** A log line (level 1 error .. 4 debug; see DashnetClient.setLogLevel). */
    default void onLog(int level, String text) {}
}
