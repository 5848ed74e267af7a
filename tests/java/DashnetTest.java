import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.dashnet.DashnetClient;
import org.dashnet.DashnetConfig;
import org.dashnet.DashnetListener;

/** The Android binding on this machine's JVM, against dashnet-sim. Prints "N passed, N failed". */
public final class DashnetTest {
    static int passed, failed;

    static void check(boolean ok, String what) {
        if (ok) {
            passed++;
        } else {
            failed++;
            System.err.println("FAIL: " + what);
        }
    }

    /**
     * dashnet-sim in its own process. close() stops it, reads its report and fails the test
     * if it saw anything Dash Core would not accept from a client; {@link #received} then
     * says how many messages of a command arrived.
     */
    static final class Sim implements AutoCloseable {
        final Process process;
        final String address;
        final BufferedReader out;
        final String args;
        final java.util.Map<String, Long> received = new java.util.HashMap<>();
        /** With --print-checkpoints: height to hash (wire order). */
        final java.util.TreeMap<Integer, byte[]> checkpoints = new java.util.TreeMap<>();

        Sim(String... args) throws Exception {
            List<String> cmd = new ArrayList<>();
            cmd.add(System.getenv().getOrDefault("DASHNET_SIM", "target/debug/dashnet-sim"));
            cmd.addAll(Arrays.asList(args));
            cmd.add("--timeout");
            cmd.add("300");
            process = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream()));
            out = r;
            this.args = String.join(" ", args);
            String line = r.readLine();
            while (line != null && line.startsWith("dashnet-sim checkpoint ")) {
                String[] f = line.split(" ");
                byte[] hash = new byte[32];
                for (int i = 0; i < 32; i++) hash[31 - i] = (byte) Integer.parseInt(f[3].substring(2 * i, 2 * i + 2), 16);
                checkpoints.put(Integer.parseInt(f[2]), hash);
                line = r.readLine();
            }
            if (line == null) throw new IllegalStateException("dashnet-sim did not start");
            address = line.substring(line.lastIndexOf(' ') + 1);
        }

        @Override
        public void close() throws java.io.IOException {
            process.getOutputStream().close(); // the sim exits when its stdin closes
            boolean exited;
            try {
                exited = process.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                exited = false;
            }
            if (!exited) process.destroyForcibly();
            int violations = -1;
            for (String line; (line = out.readLine()) != null; ) {
                String[] f = line.split(" ");
                if (line.startsWith("dashnet-sim received ") && f.length == 4) {
                    received.put(f[2], Long.parseLong(f[3]));
                } else if (line.startsWith("dashnet-sim violation ")) {
                    System.err.println("sim (" + args + "): " + line);
                } else if (line.startsWith("dashnet-sim done violations=")) {
                    violations = Integer.parseInt(line.substring(line.indexOf('=') + 1));
                }
            }
            check(exited && process.exitValue() == 0 && violations == 0,
                    "sim (" + args + ") saw nothing Dash Core would refuse (violations " + violations + ")");
        }

        long received(String command) {
            return received.getOrDefault(command, 0L);
        }
    }

    static int count(String dir) {
        String[] names = new java.io.File(dir).list();
        return names == null ? -1 : names.length;
    }

    static byte[] genesis() {
        String hex = "000008ca1832a4baf228eb1553c03d3a2c8e02399550dd6ea8d65cec3ef23d2e";
        byte[] out = new byte[32];
        for (int i = 0; i < 32; i++) out[31 - i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
        return out;
    }

    /** Records events; optionally misbehaves. */
    static class Recorder implements DashnetListener {
        final CountDownLatch connected = new CountDownLatch(1);
        final AtomicLong peer = new AtomicLong();
        final AtomicInteger headers = new AtomicInteger();
        final AtomicInteger events = new AtomicInteger();
        final AtomicBoolean linked = new AtomicBoolean(true);
        final AtomicInteger afterClose = new AtomicInteger();
        final AtomicInteger requests = new AtomicInteger();
        final List<String> commands = java.util.Collections.synchronizedList(new ArrayList<>());
        volatile boolean closed;
        volatile DashnetClient client;
        volatile int syncTarget;
        volatile String closeInCallback = "not tried";
        byte[] tip = genesis();

        public void onConnected(long p, String address, String ua, int version, int height) {
            if (closed) afterClose.incrementAndGet();
            events.incrementAndGet();
            peer.set(p);
            connected.countDown();
        }

        public void onDisconnected(long p, String address, int reason, String text, long[] tags) {
            if (closed) afterClose.incrementAndGet();
            events.incrementAndGet();
        }

        public void onMessage(long p, String command, byte[] payload) {
            if (closed) afterClose.incrementAndGet();
            events.incrementAndGet();
            commands.add(command + ":" + payload.length);
        }

        public void onHeaders(long p, byte[] raw, byte[] hashes, int count) {
            if (closed) afterClose.incrementAndGet();
            events.incrementAndGet();
            if (closeInCallback.equals("not tried") && client != null) {
                try {
                    client.close();
                    closeInCallback = "closed!";
                } catch (IllegalStateException e) {
                    closeInCallback = "refused";
                }
            }
            for (int i = 0; i < count; i++) {
                if (!Arrays.equals(Arrays.copyOfRange(raw, 80 * i + 4, 80 * i + 36), tip)) linked.set(false);
                tip = Arrays.copyOfRange(hashes, 32 * i, 32 * i + 32);
            }
            int have = headers.addAndGet(count);
            if (syncTarget > 0 && have < syncTarget && count > 0 && client != null) {
                if (client.requestHeaders(tip) > 0) requests.incrementAndGet(); // from inside the listener
            }
        }
    }

    /** Counts lifecycle events; data callbacks are slow on purpose. */
    static final class Life implements DashnetListener {
        final java.util.Map<String, Long> peers = new java.util.concurrent.ConcurrentHashMap<>();
        final AtomicInteger connected = new AtomicInteger(), disconnected = new AtomicInteger(),
                failed = new AtomicInteger(), ready = new AtomicInteger(), logs = new AtomicInteger();
        final AtomicLong undelivered = new AtomicLong();
        volatile int failedStage;
        volatile DashnetClient client;
        volatile int notFoundAfterDisconnect;

        public void onConnected(long p, String address, String ua, int version, int height) {
            peers.put(address, p);
            connected.incrementAndGet();
        }

        public void onDisconnected(long p, String address, int reason, String text, long[] tags) {
            // From this moment the id is unknown to every call.
            if (client != null && client.stats(p) == null) notFoundAfterDisconnect++;
            undelivered.addAndGet(tags.length);
            disconnected.incrementAndGet();
        }

        public void onMessage(long p, String command, byte[] payload) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        public void onHeaders(long p, byte[] raw, byte[] hashes, int count) {}

        @Override
        public void onPeerFailed(String address, int stage, String reason) {
            failedStage = stage;
            failed.incrementAndGet();
        }

        @Override
        public void onQueueReady(long p) {
            ready.incrementAndGet();
        }

        @Override
        public void onLog(int level, String text) {
            logs.incrementAndGet();
        }
    }

    static boolean waitFor(java.util.function.BooleanSupplier cond, long ms) throws InterruptedException {
        long end = System.currentTimeMillis() + ms;
        while (!cond.getAsBoolean() && System.currentTimeMillis() < end) Thread.sleep(10);
        return cond.getAsBoolean();
    }

    /**
     * requiredServices: a peer without COMPACT_FILTERS is replaced (onPeerFailed names the
     * service); a peer that claims 10,000,000 blocks and stalls a header request is
     * replaced (onBestPeerChanged) and the request re-sent to the other peer.
     */
    static void servicesAndBestPeer() throws Exception {
        DashnetConfig cfg = new DashnetConfig(DashnetClient.REGTEST);
        check(cfg.headerStallTimeoutMs == 20000 && cfg.requiredServices == 0,
                "stall timeout and required services defaults from the library");
        check(cfg.proxy == null && cfg.proxyOnion == null && cfg.proxyRandomizeCredentials && !cfg.onionOnly,
                "proxy defaults from the library");
        DashnetConfig badProxy = new DashnetConfig(DashnetClient.REGTEST);
        badProxy.exclusive = true;
        badProxy.proxy = "localhost:9050";
        String proxyWhy = "";
        try {
            new DashnetClient(badProxy, new Life()).close();
        } catch (IllegalArgumentException e) {
            proxyWhy = String.valueOf(e.getMessage());
        }
        check(proxyWhy.contains("proxy"), "a proxy that is not IP:PORT is refused: " + proxyWhy);
        DashnetConfig onionOnly = new DashnetConfig(DashnetClient.REGTEST);
        onionOnly.exclusive = true;
        onionOnly.onionOnly = true;
        onionOnly.proxy = "127.0.0.1:1";
        Life proxyLife = new Life();
        try (DashnetClient oc = new DashnetClient(onionOnly, proxyLife)) {
            check(oc.connect("pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:9999")
                    == DashnetClient.OK, "an onion address through the proxy");
            check(oc.connect("127.0.0.1:9999") == DashnetClient.INVALID_ARGUMENT, "onion_only refuses an IP");
            // Nothing listens on the proxy's port: the dial fails at the proxy.
            check(waitFor(() -> proxyLife.failed.get() >= 1, 10000)
                    && proxyLife.failedStage == DashnetClient.STAGE_PROXY,
                    "a dead proxy is onPeerFailed with STAGE_PROXY (" + proxyLife.failedStage + ")");
        }
        cfg.dnsSeeds = false;
        cfg.exclusive = true;
        cfg.requiredServices = 64; // COMPACT_FILTERS
        cfg.headerStallTimeoutMs = 2000;
        try (Sim cf = new Sim("--compact-filters");
             Sim plain = new Sim();
             Sim liar = new Sim("--claim-height", "10000000", "--stall-headers", "--compact-filters")) {
            AtomicInteger connected = new AtomicInteger();
            AtomicReference<String> failedWhy = new AtomicReference<>("");
            AtomicReference<long[]> changed = new AtomicReference<>(null);
            AtomicLong headersFrom = new AtomicLong();
            AtomicLong firstPeer = new AtomicLong();
            DashnetListener l = new DashnetListener() {
                @Override
                public void onConnected(long p, String a, String ua, int v, int h) {
                    firstPeer.compareAndSet(0, p);
                    connected.incrementAndGet();
                }

                @Override
                public void onDisconnected(long p, String a, int r, String t, long[] tags) {}

                @Override
                public void onMessage(long p, String c, byte[] payload) {}

                @Override
                public void onHeaders(long p, byte[] raw, byte[] hashes, int count) {
                    headersFrom.compareAndSet(0, p);
                }

                @Override
                public void onPeerFailed(String address, int stage, String reason) {
                    failedWhy.set(reason);
                }

                @Override
                public void onBestPeerChanged(long oldPeer, long newPeer, String reason) {
                    changed.set(new long[] {oldPeer, newPeer});
                }
            };
            try (DashnetClient client = new DashnetClient(cfg, l)) {
                client.connect(plain.address);
                check(waitFor(() -> failedWhy.get().contains("COMPACT_FILTERS"), 10000),
                        "the peer without compact filters is replaced: " + failedWhy.get());
                client.connect(liar.address);
                check(waitFor(() -> connected.get() == 1, 10000), "the liar connected");
                long liarId = firstPeer.get();
                check(client.requestHeaders(genesis()) == liarId, "the request goes to the liar");
                client.connect(cf.address);
                check(waitFor(() -> connected.get() == 2, 10000), "the honest peer connected");
                check(waitFor(() -> changed.get() != null, 10000), "onBestPeerChanged");
                long[] c = changed.get();
                check(c != null && c[0] == liarId && c[1] != liarId && c[1] > 0,
                        "the stalled liar is replaced by the other peer");
                check(waitFor(() -> headersFrom.get() == (c == null ? -1 : c[1]), 10000),
                        "headers came from the replacement");
            }
        }
    }

    /**
     * Every config field through JNI, PEER_FAILED, QUEUE_READY, shutdown() stopping a
     * sending thread, and a bounded close() with a slow listener in which every
     * onDisconnected arrives and the report reaches Java.
     */
    static void lifecycle() throws Exception {
        DashnetConfig cfg = new DashnetConfig(DashnetClient.REGTEST);
        check(cfg.flushDeadlineMs == 2000 && cfg.eventQueue == 1024 && cfg.pingIntervalMs == 120000
                && cfg.inboundPeerBytes == 4L << 20 && cfg.inboundClientBytes == 16L << 20
                && cfg.protocolVersion == 70240 && cfg.dnsSeeds && !cfg.exclusive
                && cfg.fixedSeeds == null && cfg.reseedIntervalMs == 60000,
                "defaults come from the library");
        boolean refused = false;
        try {
            new DashnetConfig(9);
        } catch (IllegalArgumentException e) {
            refused = true;
        }
        check(refused, "unknown network refused");
        cfg.dnsSeeds = false;
        cfg.exclusive = true;
        cfg.flushDeadlineMs = 500;
        cfg.eventQueue = 4;
        cfg.queueMaxMessages = 16;
        cfg.userAgent = "/dashnet-java-test:1/";
        DashnetConfig bad = new DashnetConfig(DashnetClient.REGTEST);
        bad.connectTimeoutMs = -1;
        refused = false;
        try {
            new DashnetClient(bad, new Life()).close();
        } catch (IllegalArgumentException e) {
            refused = true;
        }
        check(refused, "a negative timeout is refused");
        DashnetConfig badSeeds = new DashnetConfig(DashnetClient.REGTEST);
        badSeeds.exclusive = true;
        badSeeds.fixedSeeds = "127.0.0.1:1, nonsense";
        String why = "";
        try {
            new DashnetClient(badSeeds, new Life()).close();
        } catch (IllegalArgumentException e) {
            why = String.valueOf(e.getMessage());
        }
        check(why.contains("nonsense"), "a bad fixed seed is refused, named: " + why);

        try (Sim flood = new Sim("--flood-headers2", "0", "--flood-kind", "inv");
             Sim stalled = new Sim("--stop-reading-after", "0")) {
            Life life = new Life();
            DashnetClient client = new DashnetClient(cfg, life);
            life.client = client;
            check(client.connect(flood.address) == DashnetClient.OK, "connect flood");
            check(client.connect(stalled.address) == DashnetClient.OK, "connect stalled");
            check(client.connect("127.0.0.1:1") == DashnetClient.OK, "connect a dead port");
            check(waitFor(() -> life.connected.get() == 2 && life.failed.get() >= 1, 10000),
                    "two connected, one failed");
            check(life.failedStage == DashnetClient.STAGE_CONNECT, "failed at connect");
            long floodPeer = life.peers.getOrDefault(flood.address, 0L);
            long stalledPeer = life.peers.getOrDefault(stalled.address, 0L);
            check(floodPeer > 0 && stalledPeer > 0, "both ids known");
            byte[] big = new byte[200000];
            boolean full = false;
            for (int i = 0; i < 1000 && !full; i++) {
                full = client.send(floodPeer, "dntest", big, 10 + i) == DashnetClient.QUEUE_FULL;
            }
            check(full, "QUEUE_FULL reached");
            check(waitFor(() -> life.ready.get() >= 1, 10000), "onQueueReady arrived");
            // Fill the socket buffers of the peer that never reads, then its queue: keep
            // offering until its queue has stayed non-empty for 300 ms (the writer is stuck),
            // so what is queued at shutdown must come back by tag.
            long stuckSince = 0, giveUp = System.currentTimeMillis() + 10000;
            for (int i = 0; System.currentTimeMillis() < giveUp; i++) {
                client.send(stalledPeer, "dntest", new byte[60000], 5000 + i);
                long[] st = client.stats(stalledPeer);
                if (st != null && st[4] > 0) {
                    if (stuckSince == 0) stuckSince = System.currentTimeMillis();
                    if (System.currentTimeMillis() - stuckSince > 300) break;
                } else {
                    stuckSince = 0;
                }
                Thread.sleep(5);
            }
            check(stuckSince > 0, "the never-reading peer's queue is stuck");
            AtomicInteger senderLast = new AtomicInteger(-1);
            Thread sender = new Thread(() -> {
                int st;
                while ((st = client.broadcast("dntest", new byte[100], 7)) >= 0) {
                    Thread.onSpinWait();
                }
                senderLast.set(-st);
            });
            sender.start();
            Thread.sleep(200);
            check(client.shutdown() == DashnetClient.OK, "shutdown returns at once");
            sender.join(10000);
            check(!sender.isAlive() && senderLast.get() == DashnetClient.SHUTTING_DOWN,
                    "the sending thread saw SHUTTING_DOWN (" + senderLast.get() + ")");
            long t0 = System.nanoTime();
            DashnetClient.ShutdownReport r = client.closeAndReport();
            double took = (System.nanoTime() - t0) / 1e9;
            System.out.printf("close() with a slow listener, a flood and a peer that never reads: %.3f s%n", took);
            check(took < 0.5 + 2.5, "close() bounded (" + took + " s)");
            check(r != null && r.peersClosed == 2, "report: 2 peers closed");
            check(life.disconnected.get() == 2, "every onDisconnected arrived (" + life.disconnected.get() + ")");
            check(r != null && r.undeliveredMessages == life.undelivered.get() && life.undelivered.get() > 0,
                    "report and listener agree on undelivered (" + life.undelivered.get() + ")");
            check(life.notFoundAfterDisconnect == 2, "ids unknown inside onDisconnected");
            check(life.logs.get() > 0, "onLog called");
            check(client.closeAndReport() == null, "second close: no report");
        }
    }

    /** The header sync service: segments at the sim's checkpoints, in order, to its tip. */
    static void syncService() throws Exception {
        try (Sim sim = new Sim("--tip", "10000", "--print-checkpoints", "2500")) {
            check(sim.checkpoints.size() == 3, "the sim printed 3 checkpoints (" + sim.checkpoints.size() + ")");
            final int[] height = {0};
            final byte[] last = genesis(); // (Recorder has a field named tip)
            AtomicInteger progress = new AtomicInteger(), unlinked = new AtomicInteger();
            java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
            final int[] doneStatus = {0}, doneHeight = {0};
            final byte[][] doneTip = {null};
            Recorder rec = new Recorder() {
                @Override
                public void onSyncHeaders(int firstHeight, byte[] raw, byte[] hashes, int count) {
                    if (firstHeight != height[0] + 1) unlinked.incrementAndGet();
                    for (int i = 0; i < count; i++) {
                        if (!Arrays.equals(Arrays.copyOfRange(raw, 80 * i + 4, 80 * i + 36), last)) unlinked.incrementAndGet();
                        System.arraycopy(hashes, 32 * i, last, 0, 32);
                        height[0] = firstHeight + i;
                        byte[] cp = sim.checkpoints.get(height[0]);
                        if (cp != null && !Arrays.equals(cp, last)) unlinked.incrementAndGet();
                    }
                }

                @Override
                public void onSyncProgress(int h, int target, double rate, int peers, int inFlight) {
                    progress.incrementAndGet();
                }

                @Override
                public void onSyncDone(int status, int h, byte[] tipHash, byte[] forkAfter, long headers, long ms) {
                    doneStatus[0] = status;
                    doneHeight[0] = h;
                    doneTip[0] = tipHash;
                    done.countDown();
                }
            };
            rec.closeInCallback = "skip";
            DashnetClient client = new DashnetClient(DashnetClient.REGTEST, false, rec);
            check(client.connect(sim.address) == DashnetClient.OK, "connect");
            check(rec.connected.await(10, TimeUnit.SECONDS), "connected");
            for (java.util.Map.Entry<Integer, byte[]> e : sim.checkpoints.entrySet()) {
                check(client.addCheckpoint(e.getKey(), e.getValue()) == DashnetClient.OK, "checkpoint " + e.getKey());
            }
            check(client.addCheckpoint(2500, new byte[32]) == DashnetClient.INVALID_ARGUMENT, "a conflicting checkpoint");
            check(client.addCheckpoint(-1, new byte[32]) == DashnetClient.INVALID_ARGUMENT, "a negative height");
            check(client.addCheckpoint(1, new byte[31]) == DashnetClient.INVALID_ARGUMENT, "a 31-byte hash");
            check(client.syncHeaders(new byte[0], 0) == DashnetClient.INVALID_ARGUMENT, "an empty locator");
            check(client.cancelSync() == DashnetClient.NOT_FOUND, "no sync to cancel");
            check(client.syncHeaders(genesis(), 0) == DashnetClient.OK, "sync");
            check(client.syncHeaders(genesis(), 0) == DashnetClient.BUSY, "a second sync is BUSY");
            check(done.await(30, TimeUnit.SECONDS), "onSyncDone");
            check(doneStatus[0] == DashnetClient.SYNC_COMPLETE, "complete (" + doneStatus[0] + ")");
            check(height[0] == 10000 && doneHeight[0] == 10000, "height 10,000 (" + height[0] + ")");
            check(Arrays.equals(doneTip[0], last), "the done event's tip is the last header");
            check(unlinked.get() == 0, "in chain order, linked, every checkpoint met");
            check(progress.get() >= 1, "onSyncProgress");
            client.close();
        }
    }

    public static void main(String[] args) throws Exception {
        Sim sim = new Sim("--tip", "10000");
        Recorder thrower;
        int mainRequests = 0;
        try {
            // Sync 10,000 headers; 4 Java threads send meanwhile; close() inside a listener is refused.
            Recorder rec = new Recorder();
            DashnetClient client = new DashnetClient(DashnetClient.REGTEST, false, rec);
            rec.client = client;
            rec.syncTarget = 10000;
            check(client.connect(sim.address) == DashnetClient.OK, "connect");
            check(rec.connected.await(10, TimeUnit.SECONDS), "connected");
            check(client.requestHeaders(genesis()) == rec.peer.get(), "request headers");
            mainRequests++;
            Thread[] senders = new Thread[4];
            AtomicInteger sent = new AtomicInteger(), errors = new AtomicInteger();
            for (int t = 0; t < 4; t++) {
                final int id = t;
                senders[t] = new Thread(() -> {
                    for (int i = 0; i < 2000; i++) {
                        byte[] payload = {(byte) id, (byte) i, (byte) (i >> 8)};
                        int st;
                        while ((st = client.send(rec.peer.get(), "dnjava", payload, i)) == DashnetClient.QUEUE_FULL) {
                            Thread.onSpinWait();
                        }
                        if (st == DashnetClient.OK) sent.incrementAndGet(); else errors.incrementAndGet();
                    }
                });
                senders[t].start();
            }
            for (Thread t : senders) t.join();
            long end = System.currentTimeMillis() + 30000;
            while (rec.headers.get() < 10000 && System.currentTimeMillis() < end) Thread.sleep(10);
            check(rec.headers.get() == 10000, "synced 10,000 headers (" + rec.headers.get() + ")");
            check(rec.linked.get(), "every header links to the one before");
            check(sent.get() == 8000 && errors.get() == 0, "4 threads sent " + sent + " (errors " + errors + ")");
            long[] stats = null;
            end = System.currentTimeMillis() + 10000;
            while (System.currentTimeMillis() < end) {
                stats = client.stats(rec.peer.get());
                if (stats != null && stats[3] >= 8000) break;
                Thread.sleep(10);
            }
            check(stats != null && stats[3] >= 8000, "all written (exact count below, at the sim)");
            // The sync above ran over BIP324 v2 (the default, and the sim speaks it).
            check(stats != null && stats.length == 11 && stats[10] == 2, "the sync ran over v2");
            byte[] session = client.sessionId(rec.peer.get());
            check(session != null && session.length == 32, "a v2 session id");
            // What the node sends after the handshake reaches onMessage, with its payload.
            check(waitFor(() -> rec.commands.size() >= 3, 5000)
                    && rec.commands.subList(0, 3).equals(List.of("sendheaders2:0", "sendcmpct:9", "senddsq:1")),
                    "onMessage: sendheaders2, sendcmpct, senddsq (" + rec.commands + ")");
            check(rec.closeInCallback.equals("refused"), "close() inside a listener refused: " + rec.closeInCallback);
            client.close();
            client.close(); // twice is fine
            check(client.send(1, "ping", new byte[8], 0) == DashnetClient.SHUTTING_DOWN, "send after close");

            // The transport setting: v1 only gives v1 (no session id); an unknown value is refused.
            DashnetConfig v1 = new DashnetConfig(DashnetClient.REGTEST);
            check(v1.transport == DashnetConfig.TRANSPORT_V2_PREFERRED, "v2 preferred by default");
            check(v1.decodeThreads >= 1 && v1.decodeThreads <= 4, "decode threads default " + v1.decodeThreads);
            v1.exclusive = true;
            v1.transport = DashnetConfig.TRANSPORT_V1_ONLY;
            Recorder v1rec = new Recorder();
            try (DashnetClient v1client = new DashnetClient(v1, v1rec)) {
                check(v1client.connect(sim.address) == DashnetClient.OK, "connect over v1");
                check(v1rec.connected.await(10, TimeUnit.SECONDS), "connected over v1");
                long[] v1stats = v1client.stats(v1rec.peer.get());
                check(v1stats != null && v1stats[10] == 1, "v1 only speaks v1");
                check(v1client.sessionId(v1rec.peer.get()) == null, "no session id over v1");
            }
            DashnetConfig badTransport = new DashnetConfig(DashnetClient.REGTEST);
            badTransport.transport = 7;
            String transportWhy = "";
            try (DashnetClient bad = new DashnetClient(badTransport, new Recorder())) {
                transportWhy = "accepted " + bad;
            } catch (RuntimeException e) {
                transportWhy = String.valueOf(e.getMessage());
            }
            check(transportWhy.contains("transport"), "an unknown transport is refused: " + transportWhy);

            // A listener that throws does not take the library down.
            thrower = new Recorder() {
                @Override
                public void onConnected(long p, String a, String ua, int v, int h) {
                    super.onConnected(p, a, ua, v, h);
                    throw new RuntimeException("listener failure on purpose (expected in this test)");
                }
            };
            thrower.closeInCallback = "skip";
            DashnetClient c2 = new DashnetClient(DashnetClient.REGTEST, false, thrower);
            c2.connect(sim.address);
            // (The latch counts down before the throw, so waiting on it checks nothing;
            // what shows the library survived is what follows.)
            thrower.connected.await(10, TimeUnit.SECONDS);
            check(c2.requestHeaders(genesis()) > 0, "still usable after the listener threw");
            mainRequests++;
            end = System.currentTimeMillis() + 10000;
            while (thrower.headers.get() == 0 && System.currentTimeMillis() < end) Thread.sleep(10);
            check(thrower.headers.get() > 0, "events keep flowing after a listener threw");
            c2.close();
            check(thrower.requests.get() == 0, "the thrower did not request more");
            sim.close();
            // Exactly what was sent, counted by the node.
            check(sim.received("dnjava") == 8000, "the node got 8000 dnjava (" + sim.received("dnjava") + ")");
            long wantRequests = mainRequests + rec.requests.get();
            check(sim.received("getheaders2") == wantRequests,
                    "getheaders2: " + sim.received("getheaders2") + " = " + wantRequests + " requests made");
        } finally {
            if (sim.process.isAlive()) sim.process.destroyForcibly();
        }

        // close() from another thread while events flow: none after it returns.
        try (Sim flood = new Sim("--tip", "4000", "--flood-headers2", "0", "--flood-batch", "50")) {
            Recorder rec = new Recorder();
            rec.closeInCallback = "skip";
            DashnetClient client = new DashnetClient(DashnetClient.REGTEST, false, rec);
            client.connect(flood.address);
            check(rec.connected.await(10, TimeUnit.SECONDS), "flood connected");
            long end = System.currentTimeMillis() + 10000;
            while (rec.events.get() < 50 && System.currentTimeMillis() < end) Thread.sleep(5);
            Thread closer = new Thread(() -> {
                client.close();
                rec.closed = true;
            });
            closer.start();
            closer.join();
            int before = rec.events.get();
            Thread.sleep(300);
            check(rec.events.get() == before && rec.afterClose.get() == 0, "no callback after close() returned");
            check(before >= 50, "events were flowing (" + before + ")");
        }

        lifecycle();
        servicesAndBestPeer();
        syncService();

        // 100 open / close cycles leave no thread or file descriptor behind.
        int threadsBefore = count("/proc/self/task"), fdsBefore = count("/proc/self/fd");
        for (int i = 0; i < 100; i++) {
            DashnetClient c = new DashnetClient(DashnetClient.REGTEST, false, new Recorder());
            c.close();
        }
        int threadsAfter = count("/proc/self/task"), fdsAfter = count("/proc/self/fd");
        // A few threads of the JVM's own may come and go; a leak would be 100 or more.
        check(threadsBefore > 0 && threadsAfter <= threadsBefore + 5 && fdsAfter <= fdsBefore + 5,
                "100 open/close cycles: threads " + threadsBefore + " -> " + threadsAfter
                        + ", fds " + fdsBefore + " -> " + fdsAfter);
        System.out.println(passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
