// A thin Swift layer over dashnet's C ABI (include/dashnet.h).
//
// NOT COMPILED on the project's Linux machines (they have no Swift toolchain): keep it thin,
// and build it on macOS with scripts/build-xcframework then `swift build` in swift/.
//
// Threading: events arrive on dashnet's delivery thread and go into `events`, a bounded
// async sequence: when the app is `eventCapacity` events behind, the delivery thread waits
// for it, so dashnet's own queue fills and its readers stop reading (TCP pushes back on the
// peers). Nothing is dropped while the client runs. Every method may be called from any
// thread or task; `close()` waits until no callback runs and frees the client, and every
// call after it throws SHUTTING_DOWN instead of touching freed memory.
import CDashnet
import Foundation

public enum DashnetEvent {
    case connected(peer: UInt64, address: String, userAgent: String, startHeight: Int32)
    case disconnected(peer: UInt64, address: String, reason: String, undeliveredTags: [UInt64])
    case message(peer: UInt64, command: String, payload: Data)
    case headers(peer: UInt64, headers: [(header: Data, hash: Data)])
    /// A dial or handshake failed (stage: DASHNET_FAIL_STAGE_CONNECT or _HANDSHAKE).
    case peerFailed(address: String, stage: UInt32, reason: String)
    /// A peer whose send threw QUEUE_FULL has room again.
    case queueReady(peer: UInt64)
    /// The best peer stalled a header request (config `header_stall_timeout_ms`): `new`
    /// replaces it and got the request again, or nil when no other peer could.
    case bestPeerChanged(old: UInt64, new: UInt64?, reason: String)
    /// Headers from the sync service (`syncHeaders`), in chain order; the first is at
    /// `firstHeight`. Normally one above the last delivered; if lower, a segment failed
    /// its checkpoint: drop what you have from `firstHeight` up.
    case syncHeaders(firstHeight: UInt32, headers: [(header: Data, hash: Data)])
    /// How the sync is going (at most four a second).
    case syncProgress(height: UInt32, target: UInt32, headersPerSecond: Double, peers: UInt32, inFlight: UInt32)
    /// The sync ended: `status` is DASHNET_SYNC_STATUS_COMPLETE, _FORK (then `forkAfter` is
    /// the locator entry the peers' chain continues from), _CANCELLED, _SHUTTING_DOWN or
    /// _CHECKPOINT_MISMATCH (two peers disagreed with a checkpoint: check yours).
    case syncDone(status: DashnetSyncStatus, height: UInt32, tip: Data, forkAfter: Data?,
                  headers: UInt64, elapsedMs: UInt64)
}

// Compact filters and finality messages arrive as `.message` with their raw payload; read
// them with the C views (`dashnet_view_cfilter`, `dashnet_view_cfheaders`,
// `dashnet_view_cfcheckpt`, `dashnet_view_clsig`, `dashnet_view_isdlock`) inside
// `payload.withUnsafeBytes`, and check them with `dashnet_cfheaders_check` /
// `dashnet_cfilter_check`. Services a peer must have go in the config
// (`config.required_services = DASHNET_SERVICE_COMPACT_FILTERS`).

public struct DashnetError: Error, CustomStringConvertible {
    public let status: DashnetStatus
    public let description: String
    init(_ status: DashnetStatus) {
        self.status = status
        self.description = String(cString: dashnet_last_error())
    }
    init(_ status: DashnetStatus, _ text: String) {
        self.status = status
        self.description = text
    }
}

/// What closing left behind (see DashnetShutdownReport in dashnet.h).
public struct DashnetCloseReport {
    public let peersClosed: UInt64
    public let undeliveredMessages: UInt64
    public let eventsDiscarded: UInt64
    public let elapsedMs: UInt64
}

/// The bounded hand-off between the delivery thread and the app's tasks. `slots` counts
/// free places; the delivery thread takes one before yielding a data event and the
/// consumer gives it back as it takes the event. Once closing, the delivery thread no
/// longer waits: peer lifecycle events still go through (one or two per peer), data
/// events are dropped and counted, as dashnet itself does after the flush deadline.
private final class Box {
    let continuation: AsyncStream<DashnetEvent>.Continuation
    let slots: DispatchSemaphore
    private let lock = NSLock()
    private var closing = false
    private(set) var dropped: UInt64 = 0

    init(_ c: AsyncStream<DashnetEvent>.Continuation, capacity: Int) {
        continuation = c
        slots = DispatchSemaphore(value: capacity)
    }

    func setClosing() {
        lock.lock()
        closing = true
        lock.unlock()
    }

    private var isClosing: Bool {
        lock.lock()
        defer { lock.unlock() }
        return closing
    }

    /// On the delivery thread: wait for room (backpressure), then yield.
    func deliver(_ event: DashnetEvent, lifecycle: Bool) {
        while slots.wait(timeout: .now() + .milliseconds(50)) == .timedOut {
            if isClosing {
                if lifecycle {
                    continuation.yield(event)  // over the bound, once per peer at most
                } else {
                    lock.lock()
                    dropped += 1
                    lock.unlock()
                }
                return
            }
        }
        continuation.yield(event)
    }
}

/// The app's view of the events: an async sequence that gives each taken event's place
/// back to the delivery thread.
public struct DashnetEvents: AsyncSequence {
    public typealias Element = DashnetEvent
    fileprivate let stream: AsyncStream<DashnetEvent>
    fileprivate let slots: DispatchSemaphore

    public struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate var inner: AsyncStream<DashnetEvent>.AsyncIterator
        fileprivate let slots: DispatchSemaphore
        public mutating func next() async -> DashnetEvent? {
            let e = await inner.next()
            if e != nil { slots.signal() }
            return e
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(inner: stream.makeAsyncIterator(), slots: slots)
    }
}

/// A read/write lock: calls share it, close() takes it alone, so the handle is never
/// freed while a call is using it.
private final class HandleLock {
    private var rw = pthread_rwlock_t()
    init() { pthread_rwlock_init(&rw, nil) }
    deinit { pthread_rwlock_destroy(&rw) }
    func read<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_rdlock(&rw)
        defer { pthread_rwlock_unlock(&rw) }
        return try body()
    }
    func write<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_wrlock(&rw)
        defer { pthread_rwlock_unlock(&rw) }
        return try body()
    }
}

public final class DashnetClient {
    private var handle: OpaquePointer?
    private let lock = HandleLock()
    private let box: Unmanaged<Box>
    private var released = false
    public let events: DashnetEvents

    /// `eventCapacity`: how many events may wait in `events` before dashnet's delivery
    /// thread waits for the app (and, behind it, dashnet stops reading from peers).
    /// `proxy` / `proxyOnion`: SOCKS5 proxies as "IP:PORT" (an embedded Tor's, say); the
    /// C strings live until the client is made. `transport`: BIP324 v2 preferred (the
    /// default, falling back to v1 with a v1 peer), v2 only, or v1 only. Other settings go
    /// through `configure` (`config.proxy_randomize_credentials`, `config.onion_only`, ...).
    public init(network: DashnetNetwork, eventCapacity: Int = 256,
                proxy: String? = nil, proxyOnion: String? = nil,
                transport: DashnetTransport = DASHNET_TRANSPORT_V2_PREFERRED,
                configure: (inout DashnetConfig) -> Void = { _ in }) throws {
        var continuation: AsyncStream<DashnetEvent>.Continuation!
        // Unbounded here, but never more than `eventCapacity` data events: the semaphore
        // in Box is the bound (a buffering policy would drop events instead of waiting).
        let stream = AsyncStream<DashnetEvent> { continuation = $0 }
        let b = Box(continuation, capacity: max(1, eventCapacity))
        events = DashnetEvents(stream: stream, slots: b.slots)
        box = Unmanaged.passRetained(b)
        var config = DashnetConfig()
        var st = dashnet_config_init(&config, MemoryLayout<DashnetConfig>.size, network.rawValue)
        guard st == DASHNET_STATUS_OK else { box.release(); throw DashnetError(st) }
        config.transport = transport.rawValue
        configure(&config)
        let proxyC: UnsafeMutablePointer<CChar>? = proxy.flatMap { strdup($0) }
        let proxyOnionC: UnsafeMutablePointer<CChar>? = proxyOnion.flatMap { strdup($0) }
        defer {
            free(proxyC)
            free(proxyOnionC)
        }
        if let p = proxyC { config.proxy = UnsafePointer(p) }
        if let p = proxyOnionC { config.proxy_onion = UnsafePointer(p) }
        var callbacks = DashnetCallbacks()
        st = dashnet_callbacks_init(&callbacks, MemoryLayout<DashnetCallbacks>.size)
        guard st == DASHNET_STATUS_OK else { box.release(); throw DashnetError(st) }
        callbacks.user_data = box.toOpaque()
        callbacks.on_peer = { ud, ev in
            guard let ud = ud, let ev = ev?.pointee else { return }
            let box = Unmanaged<Box>.fromOpaque(ud).takeUnretainedValue()
            let address = String(cString: ev.address)
            if ev.reason == DASHNET_DISCONNECT_REASON_NONE {
                box.deliver(.connected(peer: ev.peer, address: address,
                    userAgent: String(cString: ev.user_agent), startHeight: ev.start_height),
                    lifecycle: true)
            } else {
                let tags = ev.undelivered_count > 0
                    ? Array(UnsafeBufferPointer(start: ev.undelivered_tags, count: ev.undelivered_count))
                    : []
                box.deliver(.disconnected(peer: ev.peer, address: address,
                    reason: String(cString: ev.reason_text), undeliveredTags: tags), lifecycle: true)
            }
        }
        callbacks.on_message = { ud, m in
            guard let ud = ud, let m = m?.pointee else { return }
            let box = Unmanaged<Box>.fromOpaque(ud).takeUnretainedValue()
            let payload = m.payload_len > 0 ? Data(bytes: m.payload, count: m.payload_len) : Data()
            box.deliver(.message(peer: m.peer, command: String(cString: m.command), payload: payload),
                        lifecycle: false)
        }
        callbacks.on_headers = { ud, h in
            guard let ud = ud, let h = h?.pointee else { return }
            let box = Unmanaged<Box>.fromOpaque(ud).takeUnretainedValue()
            var list: [(header: Data, hash: Data)] = []
            list.reserveCapacity(h.count)
            for i in 0..<h.count {
                var item = h.headers[i]
                let header = withUnsafeBytes(of: &item.header) { Data($0) }
                let hash = withUnsafeBytes(of: &item.hash) { Data($0) }
                list.append((header, hash))
            }
            box.deliver(.headers(peer: h.peer, headers: list), lifecycle: false)
        }
        callbacks.on_sync = { ud, e in
            guard let ud = ud, let e = e?.pointee else { return }
            let box = Unmanaged<Box>.fromOpaque(ud).takeUnretainedValue()
            switch e.kind {
            case DASHNET_EVENT_KIND_SYNC_HEADERS:
                var list: [(header: Data, hash: Data)] = []
                list.reserveCapacity(e.count)
                for i in 0..<e.count {
                    var item = e.headers[i]
                    let header = withUnsafeBytes(of: &item.header) { Data($0) }
                    let hash = withUnsafeBytes(of: &item.hash) { Data($0) }
                    list.append((header, hash))
                }
                box.deliver(.syncHeaders(firstHeight: e.first_height, headers: list), lifecycle: false)
            case DASHNET_EVENT_KIND_SYNC_PROGRESS:
                box.deliver(.syncProgress(height: e.height, target: e.target_height,
                                          headersPerSecond: e.headers_per_sec, peers: e.peers,
                                          inFlight: e.in_flight), lifecycle: false)
            default:
                var tip = e.tip_hash
                var fork = e.fork_after
                let tipData = withUnsafeBytes(of: &tip) { Data($0) }
                let forkData = e.status == DASHNET_SYNC_STATUS_FORK
                    ? withUnsafeBytes(of: &fork) { Data($0) } : nil
                box.deliver(.syncDone(status: e.status, height: e.height, tip: tipData, forkAfter: forkData,
                                      headers: e.total_headers, elapsedMs: e.elapsed_ms), lifecycle: true)
            }
        }
        callbacks.on_peer_failed = { ud, f in
            guard let ud = ud, let f = f?.pointee else { return }
            let box = Unmanaged<Box>.fromOpaque(ud).takeUnretainedValue()
            box.deliver(.peerFailed(address: String(cString: f.address), stage: f.stage,
                                    reason: String(cString: f.reason_text)), lifecycle: true)
        }
        callbacks.on_queue_ready = { ud, peer in
            guard let ud = ud else { return }
            let box = Unmanaged<Box>.fromOpaque(ud).takeUnretainedValue()
            box.deliver(.queueReady(peer: peer), lifecycle: true)
        }
        callbacks.on_best_peer_changed = { ud, c in
            guard let ud = ud, let c = c?.pointee else { return }
            let box = Unmanaged<Box>.fromOpaque(ud).takeUnretainedValue()
            box.deliver(.bestPeerChanged(old: c.old_peer, new: c.new_peer == 0 ? nil : c.new_peer,
                                         reason: String(cString: c.reason_text)), lifecycle: true)
        }
        guard let h = dashnet_client_new(&config, &callbacks) else {
            let error = DashnetError(DASHNET_STATUS_INVALID_ARGUMENT)
            box.release()
            throw error
        }
        handle = h
    }

    /// Runs `body` with the live handle, or throws SHUTTING_DOWN once closed.
    private func call(_ body: (OpaquePointer) -> DashnetStatus) throws {
        let st: DashnetStatus = lock.read {
            guard let h = handle else { return DASHNET_STATUS_SHUTTING_DOWN }
            return body(h)
        }
        if st != DASHNET_STATUS_OK { throw DashnetError(st) }
    }

    public func connect(_ address: String) throws {
        try call { dashnet_client_connect($0, address) }
    }

    /// Queues a message; never blocks. Throws with status QUEUE_FULL when the queue is
    /// full: wait for `.queueReady(peer)` instead of retrying in a loop.
    public func send(peer: UInt64, command: String, payload: Data, tag: UInt64 = 0) throws {
        try call { h in
            payload.withUnsafeBytes { buf in
                dashnet_send(h, peer, command, buf.bindMemory(to: UInt8.self).baseAddress, buf.count, tag)
            }
        }
    }

    /// Whether `peer` speaks BIP324 v2, and its session id (nil over v1): both ends compute
    /// the same 32 bytes, so an app may show them for comparison out of band.
    public func transport(peer: UInt64) throws -> (v2: Bool, sessionId: [UInt8]?) {
        var stats = DashnetPeerStats()
        stats.struct_size = MemoryLayout<DashnetPeerStats>.size
        try call { h in dashnet_peer_stats(h, peer, &stats) }
        guard stats.transport == UInt32(DASHNET_TRANSPORT_IN_USE_V2) else { return (false, nil) }
        let id = withUnsafeBytes(of: stats.session_id) { Array($0) }
        return (true, id)
    }

    /// Asks the best peer for headers after `locator` (1 to 101 32-byte hashes, wire order).
    @discardableResult
    public func requestHeaders(locator: [Data]) throws -> UInt64 {
        guard (1...101).contains(locator.count), locator.allSatisfy({ $0.count == 32 }) else {
            throw DashnetError(DASHNET_STATUS_INVALID_ARGUMENT, "a locator is 1 to 101 hashes of 32 bytes")
        }
        var flat = Data()
        locator.forEach { flat.append($0) }
        var peer: UInt64 = 0
        try call { h in
            flat.withUnsafeBytes { buf in
                dashnet_request_headers(h, buf.bindMemory(to: UInt8.self).baseAddress, locator.count, nil, &peer)
            }
        }
        return peer
    }

    /// Starts the header sync service from the app's tip (`locator[0]`, at `tipHeight`;
    /// 1 to 101 32-byte hashes, wire order, newest first) to the peers' tip: `.syncHeaders`
    /// in chain order, `.syncProgress`, then one `.syncDone`. Throws BUSY while one runs.
    public func syncHeaders(locator: [Data], tipHeight: UInt32) throws {
        guard (1...101).contains(locator.count), locator.allSatisfy({ $0.count == 32 }) else {
            throw DashnetError(DASHNET_STATUS_INVALID_ARGUMENT, "a locator is 1 to 101 hashes of 32 bytes")
        }
        var flat = Data()
        locator.forEach { flat.append($0) }
        try call { h in
            flat.withUnsafeBytes { buf in
                dashnet_sync_headers(h, buf.bindMemory(to: UInt8.self).baseAddress, locator.count, tipHeight)
            }
        }
    }

    /// Cancels the running sync (`.syncDone` with CANCELLED follows); NOT_FOUND if none runs.
    public func cancelSync() throws { try call { dashnet_sync_cancel($0) } }

    /// Adds a checkpoint for the next sync: block `hash` (32 bytes, wire order) at `height`.
    public func addCheckpoint(height: UInt32, hash: Data) throws {
        guard hash.count == 32 else {
            throw DashnetError(DASHNET_STATUS_INVALID_ARGUMENT, "a hash is 32 bytes")
        }
        try call { h in
            hash.withUnsafeBytes { buf in
                dashnet_add_checkpoint(h, height, buf.bindMemory(to: UInt8.self).baseAddress)
            }
        }
    }

    public func networkChanged() throws { try call { dashnet_network_changed($0) } }
    public func pause() throws { try call { dashnet_pause($0) } }
    public func resume() throws { try call { dashnet_resume($0) } }

    /// Starts shutting down and returns at once: the remaining events (every peer's
    /// `.disconnected` with its undelivered tags) still arrive, then `events` ends.
    public func shutdown() throws {
        try call { dashnet_client_shutdown($0) }
    }

    /// Shuts down if needed, waits until no callback runs or will run, and frees the
    /// client. Returns within about the flush deadline. Throws IN_CALLBACK (and does
    /// nothing) when called from code running inside a dashnet callback; a second close
    /// returns nil.
    @discardableResult
    public func close() throws -> DashnetCloseReport? {
        // Let a delivery thread blocked on a full `events` go on, then stop it.
        _ = lock.read { handle.map { dashnet_client_shutdown($0) } }
        box.takeUnretainedValue().setClosing()
        return try lock.write {
            guard let h = handle else { return nil }
            var report = DashnetShutdownReport()
            report.struct_size = MemoryLayout<DashnetShutdownReport>.size
            let st = dashnet_client_free_with_report(h, &report)
            if st != DASHNET_STATUS_OK {
                // IN_CALLBACK: the client still runs and still uses user_data; keep both.
                throw DashnetError(st)
            }
            handle = nil
            let b = box.takeUnretainedValue()
            b.continuation.finish()
            if !released {
                released = true
                box.release()
            }
            return DashnetCloseReport(peersClosed: report.peers_closed,
                                      undeliveredMessages: report.undelivered_messages,
                                      eventsDiscarded: report.events_discarded + b.dropped,
                                      elapsedMs: report.elapsed_ms)
        }
    }

    deinit { _ = try? close() }
}
