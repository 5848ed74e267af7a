// A thin Swift layer over dashnet's C ABI (include/dashnet.h).
//
// NOT COMPILED on the project's Linux machines (they have no Swift toolchain): keep it thin,
// and build it on macOS with scripts/build-xcframework then `swift build` in swift/.
//
// Threading: events arrive on dashnet's delivery thread and are yielded into an
// AsyncStream; consume them from any task. close() waits until no callback runs.
import CDashnet
import Foundation

public enum DashnetEvent {
    case connected(peer: UInt64, address: String, userAgent: String, startHeight: Int32)
    case disconnected(peer: UInt64, address: String, reason: String, undeliveredTags: [UInt64])
    case message(peer: UInt64, command: String, payload: Data)
    case headers(peer: UInt64, headers: [(header: Data, hash: Data)])
}

public struct DashnetError: Error, CustomStringConvertible {
    public let status: DashnetStatus
    public let description: String
    init(_ status: DashnetStatus) {
        self.status = status
        self.description = String(cString: dashnet_last_error())
    }
}

/// Owns the stream's continuation; passed to C as user_data through Unmanaged.
private final class Box {
    let continuation: AsyncStream<DashnetEvent>.Continuation
    init(_ c: AsyncStream<DashnetEvent>.Continuation) { continuation = c }
}

public final class DashnetClient {
    private var handle: OpaquePointer?
    private let box: Unmanaged<Box>
    public let events: AsyncStream<DashnetEvent>

    public init(network: DashnetNetwork, configure: (inout DashnetConfig) -> Void = { _ in }) throws {
        var continuation: AsyncStream<DashnetEvent>.Continuation!
        events = AsyncStream { continuation = $0 }
        box = Unmanaged.passRetained(Box(continuation))
        var config = DashnetConfig()
        dashnet_config_init(&config, network.rawValue)
        configure(&config)
        var callbacks = DashnetCallbacks()
        dashnet_callbacks_init(&callbacks)
        callbacks.user_data = box.toOpaque()
        callbacks.on_peer = { ud, ev in
            guard let ud = ud, let ev = ev?.pointee else { return }
            let box = Unmanaged<Box>.fromOpaque(ud).takeUnretainedValue()
            let address = String(cString: ev.address)
            if ev.reason == DASHNET_DISCONNECT_REASON_NONE {
                box.continuation.yield(.connected(peer: ev.peer, address: address,
                    userAgent: String(cString: ev.user_agent), startHeight: ev.start_height))
            } else {
                let tags = Array(UnsafeBufferPointer(start: ev.undelivered_tags, count: ev.undelivered_count))
                box.continuation.yield(.disconnected(peer: ev.peer, address: address,
                    reason: String(cString: ev.reason_text), undeliveredTags: tags))
            }
        }
        callbacks.on_message = { ud, m in
            guard let ud = ud, let m = m?.pointee else { return }
            let box = Unmanaged<Box>.fromOpaque(ud).takeUnretainedValue()
            let payload = m.payload_len > 0 ? Data(bytes: m.payload, count: m.payload_len) : Data()
            box.continuation.yield(.message(peer: m.peer, command: String(cString: m.command), payload: payload))
        }
        callbacks.on_headers = { ud, h in
            guard let ud = ud, let h = h?.pointee else { return }
            let box = Unmanaged<Box>.fromOpaque(ud).takeUnretainedValue()
            var list: [(header: Data, hash: Data)] = []
            for i in 0..<h.count {
                var item = h.headers[i]
                let header = withUnsafeBytes(of: &item.header) { Data($0) }
                let hash = withUnsafeBytes(of: &item.hash) { Data($0) }
                list.append((header, hash))
            }
            box.continuation.yield(.headers(peer: h.peer, headers: list))
        }
        guard let h = dashnet_client_new(&config, &callbacks) else {
            box.release()
            throw DashnetError(DASHNET_STATUS_INVALID_ARGUMENT)
        }
        handle = h
    }

    public func connect(_ address: String) throws {
        let st = dashnet_client_connect(handle, address)
        if st != DASHNET_STATUS_OK { throw DashnetError(st) }
    }

    /// Queues a message; never blocks. Throws with status QUEUE_FULL when the queue is full.
    public func send(peer: UInt64, command: String, payload: Data, tag: UInt64 = 0) throws {
        let st = payload.withUnsafeBytes { buf in
            dashnet_send(handle, peer, command, buf.bindMemory(to: UInt8.self).baseAddress, buf.count, tag)
        }
        if st != DASHNET_STATUS_OK { throw DashnetError(st) }
    }

    /// Asks the best peer for headers after `locator` (32-byte hashes, wire order).
    @discardableResult
    public func requestHeaders(locator: [Data]) throws -> UInt64 {
        var flat = Data()
        locator.forEach { flat.append($0) }
        var peer: UInt64 = 0
        let st = flat.withUnsafeBytes { buf in
            dashnet_request_headers(handle, buf.bindMemory(to: UInt8.self).baseAddress, locator.count, nil, &peer)
        }
        if st != DASHNET_STATUS_OK { throw DashnetError(st) }
        return peer
    }

    public func networkChanged() { dashnet_network_changed(handle) }
    public func pause() { dashnet_pause(handle) }
    public func resume() { dashnet_resume(handle) }

    /// Flushes, shuts down, and returns once no callback runs or will run. Do not call it
    /// from code that runs inside a dashnet callback.
    public func close() {
        guard let h = handle else { return }
        handle = nil
        dashnet_client_free(h)
        box.takeUnretainedValue().continuation.finish()
        box.release()
    }

    deinit { close() }
}
