//! The Android binding (cargo feature `jni`): `org.dashnet.DashnetClient` over
//! [`crate::client`], with its Java classes in `java/org/dashnet`.
//!
//! The client's delivery thread attaches to the JVM once, as a daemon, and calls the
//! `DashnetListener`. Each event runs inside its own JNI local frame, so no local
//! reference outlives its event. A listener that throws does not take the library down:
//! the exception is described (logged by the JVM) and cleared. `close()` returns only
//! when no callback will run again.

use std::ffi::CString;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use jni::JNIEnv;
use jni::objects::{GlobalRef, JByteArray, JClass, JMethodID, JObject, JString, JValue};
use jni::signature::{Primitive, ReturnType};
use jni::sys::{jboolean, jbyteArray, jint, jlong, jlongArray, jvalue};

use crate::client::{Client, ClientError, ClientEvent, DeliveryThread, SyncStatus, Taken};
use crate::ffi::config::{DashnetConfig, DashnetNetwork};
use crate::ffi::event::reason_code;
use crate::ffi::status::{DashnetStatus, status_of};
use crate::wire::{Command, Hash256, PeerAddr};

// The status numbers are the C ABI's `DashnetStatus` (one table; the Java constants are
// checked against it by a test).
const OK: jint = DashnetStatus::Ok as jint;
const INVALID_ARGUMENT: jint = DashnetStatus::InvalidArgument as jint;

struct JniClient {
    client: Arc<Client>,
    delivery: DeliveryThread,
    /// What `nativeJoin` found, for `nativeFree`.
    report: parking_lot::Mutex<Option<[jlong; 6]>>,
}

fn status(e: &ClientError) -> jint {
    status_of(e) as jint
}

/// Runs `body`; a panic becomes a Java RuntimeException and `fallback`.
fn guarded<T>(env: &mut JNIEnv, fallback: T, body: impl FnOnce(&mut JNIEnv) -> T) -> T {
    match catch_unwind(AssertUnwindSafe(|| body(env))) {
        Ok(v) => v,
        Err(_) => {
            let _ = env.throw_new(
                "java/lang/RuntimeException",
                "dashnet: internal error (panic)",
            );
            fallback
        }
    }
}

/// The client behind a handle.
///
/// # Safety
/// `handle` is 0 or a value from `nativeNew` not yet passed to `nativeFree`.
unsafe fn client<'a>(handle: jlong) -> Option<&'a JniClient> {
    if handle == 0 {
        return None;
    }
    // SAFETY: the Java class only passes handles from nativeNew, and frees each once, after
    // every other call on it has returned (its read/write lock guarantees that).
    Some(unsafe { &*(handle as *const JniClient) })
}

/// The listener's methods, looked up once when the client is made (not per event).
#[derive(Clone, Copy)]
struct Methods {
    connected: JMethodID,
    disconnected: JMethodID,
    message: JMethodID,
    headers: JMethodID,
    failed: JMethodID,
    ready: JMethodID,
    best: JMethodID,
    log: JMethodID,
    sync_headers: JMethodID,
    sync_progress: JMethodID,
    sync_done: JMethodID,
}

impl Methods {
    fn look_up(env: &mut JNIEnv, listener: &JObject) -> jni::errors::Result<Methods> {
        let class = env.get_object_class(listener)?;
        let mut id = |name: &str, sig: &str| env.get_method_id(&class, name, sig);
        Ok(Methods {
            connected: id("onConnected", "(JLjava/lang/String;Ljava/lang/String;II)V")?,
            disconnected: id(
                "onDisconnected",
                "(JLjava/lang/String;ILjava/lang/String;[J)V",
            )?,
            message: id("onMessage", "(JLjava/lang/String;[B)V")?,
            headers: id("onHeaders", "(J[B[BI)V")?,
            failed: id("onPeerFailed", "(Ljava/lang/String;ILjava/lang/String;)V")?,
            ready: id("onQueueReady", "(J)V")?,
            best: id("onBestPeerChanged", "(JJLjava/lang/String;)V")?,
            log: id("onLog", "(ILjava/lang/String;)V")?,
            sync_headers: id("onSyncHeaders", "(I[B[BI)V")?,
            sync_progress: id("onSyncProgress", "(IIDII)V")?,
            sync_done: id("onSyncDone", "(II[B[BJJ)V")?,
        })
    }
}

/// Calls a void listener method by its cached id.
fn call(
    env: &mut JNIEnv,
    listener: &JObject,
    method: JMethodID,
    args: &[JValue],
) -> jni::errors::Result<()> {
    let args: Vec<jvalue> = args.iter().map(|a| a.as_jni()).collect();
    // SAFETY: `method` was looked up on this listener's class with the signature whose
    // argument types `args` follow (each call site below passes them in that order), and
    // it returns void.
    unsafe {
        env.call_method_unchecked(
            listener,
            method,
            ReturnType::Primitive(Primitive::Void),
            &args,
        )
    }
    .map(|_| ())
}

fn deliver(
    env: &mut JNIEnv,
    listener: &JObject,
    m: &Methods,
    item: Taken,
) -> jni::errors::Result<()> {
    let ev = match item {
        Taken::Event(ev) => ev,
        Taken::Log(level, text) => {
            let t = env.new_string(text)?;
            return call(
                env,
                listener,
                m.log,
                &[JValue::Int(level as jint), JValue::Object(&t)],
            );
        }
        Taken::Timeout | Taken::Closed => return Ok(()),
    };
    match ev {
        ClientEvent::PeerConnected { peer, info } => {
            let addr = env.new_string(info.addr.to_string())?;
            let ua = env.new_string(&info.user_agent)?;
            call(
                env,
                listener,
                m.connected,
                &[
                    JValue::Long(peer as jlong),
                    JValue::Object(&addr),
                    JValue::Object(&ua),
                    JValue::Int(info.version as jint),
                    JValue::Int(info.start_height),
                ],
            )?;
        }
        ClientEvent::PeerDisconnected {
            peer,
            addr,
            reason,
            undelivered,
            ..
        } => {
            let a = env.new_string(addr.to_string())?;
            let text = env.new_string(reason.to_string())?;
            let tags: Vec<jlong> = undelivered.iter().map(|m| m.tag as jlong).collect();
            let arr = env.new_long_array(tags.len() as jint)?;
            env.set_long_array_region(&arr, 0, &tags)?;
            call(
                env,
                listener,
                m.disconnected,
                &[
                    JValue::Long(peer as jlong),
                    JValue::Object(&a),
                    JValue::Int(reason_code(&reason) as jint),
                    JValue::Object(&text),
                    JValue::Object(&arr),
                ],
            )?;
        }
        ClientEvent::Message { peer, message } => {
            let cmd = env.new_string(message.command().as_str())?;
            let payload = env.byte_array_from_slice(&message.payload())?;
            call(
                env,
                listener,
                m.message,
                &[
                    JValue::Long(peer as jlong),
                    JValue::Object(&cmd),
                    JValue::Object(&payload),
                ],
            )?;
        }
        ClientEvent::Headers { peer, headers, .. } => {
            let (raw, hashes) = header_arrays(env, &headers)?;
            call(
                env,
                listener,
                m.headers,
                &[
                    JValue::Long(peer as jlong),
                    JValue::Object(&raw),
                    JValue::Object(&hashes),
                    JValue::Int(headers.len() as jint),
                ],
            )?;
        }
        ClientEvent::SyncHeaders {
            first_height,
            headers,
        } => {
            let (raw, hashes) = header_arrays(env, &headers)?;
            call(
                env,
                listener,
                m.sync_headers,
                &[
                    JValue::Int(first_height as jint),
                    JValue::Object(&raw),
                    JValue::Object(&hashes),
                    JValue::Int(headers.len() as jint),
                ],
            )?;
        }
        ClientEvent::SyncProgress(p) => {
            call(
                env,
                listener,
                m.sync_progress,
                &[
                    JValue::Int(p.height as jint),
                    JValue::Int(p.target as jint),
                    JValue::Double(p.headers_per_sec),
                    JValue::Int(p.peers as jint),
                    JValue::Int(p.in_flight as jint),
                ],
            )?;
        }
        ClientEvent::SyncDone(d) => {
            let (code, fork) = match d.status {
                SyncStatus::Complete => (1, None),
                SyncStatus::Fork { after } => (2, Some(after)),
                SyncStatus::Cancelled => (3, None),
                SyncStatus::ShuttingDown => (4, None),
                SyncStatus::CheckpointMismatch { .. } => (5, None),
            };
            let tip = env.byte_array_from_slice(&d.tip.0)?;
            let fork = match fork {
                Some(h) => JObject::from(env.byte_array_from_slice(&h.0)?),
                None => JObject::null(),
            };
            call(
                env,
                listener,
                m.sync_done,
                &[
                    JValue::Int(code),
                    JValue::Int(d.height as jint),
                    JValue::Object(&tip),
                    JValue::Object(&fork),
                    JValue::Long(d.headers as jlong),
                    JValue::Long(d.elapsed.as_millis() as jlong),
                ],
            )?;
        }
        ClientEvent::AddressBookChanged { .. } => {}
        ClientEvent::PeerFailed {
            addr,
            stage,
            reason,
        } => {
            let a = env.new_string(addr.to_string())?;
            let text = env.new_string(reason)?;
            call(
                env,
                listener,
                m.failed,
                &[
                    JValue::Object(&a),
                    JValue::Int(stage as jint),
                    JValue::Object(&text),
                ],
            )?;
        }
        ClientEvent::QueueReady { peer } => {
            call(env, listener, m.ready, &[JValue::Long(peer as jlong)])?;
        }
        ClientEvent::BestPeerChanged { old, new, reason } => {
            let text = env.new_string(reason)?;
            call(
                env,
                listener,
                m.best,
                &[
                    JValue::Long(old as jlong),
                    JValue::Long(new.unwrap_or(0) as jlong),
                    JValue::Object(&text),
                ],
            )?;
        }
    }
    Ok(())
}

/// Headers as two Java arrays: the 80-byte headers and the 32-byte hashes, back to back.
fn header_arrays<'l>(
    env: &mut JNIEnv<'l>,
    headers: &[crate::wire::HashedHeader],
) -> jni::errors::Result<(JByteArray<'l>, JByteArray<'l>)> {
    let mut raw = Vec::with_capacity(headers.len() * 80);
    let mut hashes = Vec::with_capacity(headers.len() * 32);
    for h in headers {
        raw.extend_from_slice(&h.header().to_bytes());
        hashes.extend_from_slice(&h.hash().0);
    }
    Ok((
        env.byte_array_from_slice(&raw)?,
        env.byte_array_from_slice(&hashes)?,
    ))
}

/// Starts the delivery thread: attached to the JVM as a daemon for its whole life,
/// calling the listener through the cached method ids, one JNI local frame per event.
fn start_delivery(
    vm: jni::JavaVM,
    listener: GlobalRef,
    methods: Methods,
    client: Arc<Client>,
) -> std::io::Result<DeliveryThread> {
    DeliveryThread::start(client, true, true, move || {
        let raw = vm
            .attach_current_thread_as_daemon()
            .map_err(|e| format!("cannot attach the delivery thread to the JVM: {e}"))?
            .get_raw();
        // SAFETY: the thread was just attached as a daemon, and stays attached until it
        // ends (jni-rs detaches it from a thread-local guard then); this env is used only
        // on this thread, by the handler below, which lives no longer than the thread.
        let mut env = unsafe { JNIEnv::from_raw(raw) }.map_err(|e| e.to_string())?;
        Ok(move |item: Taken| {
            let _ = env.with_local_frame(16, |env| deliver(env, listener.as_obj(), &methods, item));
            if env.exception_check().unwrap_or(false) {
                // A listener that throws: the JVM logs it, dashnet goes on.
                let _ = env.exception_describe();
                let _ = env.exception_clear();
            }
        })
    })
}

/// The strings a config read from Java points to: they must outlive its use.
type ConfigStrings = [Option<CString>; 5];

/// Reads a Java `DashnetConfig` into the C ABI's struct (the one conversion and
/// validation path for both bindings); the strings live in the returned CStrings.
fn read_config(env: &mut JNIEnv, obj: &JObject) -> Result<(DashnetConfig, ConfigStrings), String> {
    macro_rules! int {
        ($name:literal) => {{
            let v = env
                .get_field(obj, $name, "I")
                .and_then(|v| v.i())
                .map_err(|e| format!("{}: {e}", $name))?;
            u32::try_from(v).map_err(|_| format!("{} is negative", $name))?
        }};
    }
    macro_rules! long {
        ($name:literal) => {{
            let v = env
                .get_field(obj, $name, "J")
                .and_then(|v| v.j())
                .map_err(|e| format!("{}: {e}", $name))?;
            u64::try_from(v).map_err(|_| format!("{} is negative", $name))?
        }};
    }
    macro_rules! flag {
        ($name:literal) => {{
            let v = env
                .get_field(obj, $name, "Z")
                .and_then(|v| v.z())
                .map_err(|e| format!("{}: {e}", $name))?;
            u8::from(v)
        }};
    }
    macro_rules! string {
        ($name:literal) => {{
            let o = env
                .get_field(obj, $name, "Ljava/lang/String;")
                .and_then(|v| v.l())
                .map_err(|e| format!("{}: {e}", $name))?;
            if o.is_null() {
                None
            } else {
                let s: String = env
                    .get_string(&JString::from(o))
                    .map_err(|e| format!("{}: {e}", $name))?
                    .into();
                Some(CString::new(s).map_err(|_| format!("{} holds a NUL", $name))?)
            }
        }};
    }
    let network =
        DashnetNetwork::from_raw(int!("network")).map_err(|_| "unknown network".to_string())?;
    let mut c = DashnetConfig::defaults(network);
    let devnet = string!("devnetName");
    let ua = string!("userAgent");
    c.devnet_name = devnet.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    c.user_agent = ua.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    c.services = long!("services");
    c.relay = flag!("relay");
    c.protocol_version = int!("protocolVersion");
    c.min_protocol_version = int!("minProtocolVersion");
    c.start_height = int!("startHeight") as i32;
    c.worker_threads = int!("workerThreads");
    c.target_outbound = int!("targetOutbound");
    c.max_outbound = int!("maxOutbound");
    c.exclusive = flag!("exclusive");
    c.dns_seeds = flag!("dnsSeeds");
    c.connect_timeout_ms = int!("connectTimeoutMs");
    c.handshake_timeout_ms = int!("handshakeTimeoutMs");
    c.ping_interval_ms = int!("pingIntervalMs");
    c.pong_timeout_ms = int!("pongTimeoutMs");
    c.write_stall_timeout_ms = int!("writeStallTimeoutMs");
    c.inactivity_timeout_ms = int!("inactivityTimeoutMs");
    c.flush_deadline_ms = int!("flushDeadlineMs");
    c.queue_max_messages = int!("queueMaxMessages");
    c.queue_max_bytes = long!("queueMaxBytes");
    c.ban_duration_s = int!("banDurationS");
    c.event_queue = int!("eventQueue");
    c.inbound_peer_bytes = long!("inboundPeerBytes");
    c.inbound_client_bytes = long!("inboundClientBytes");
    let seeds = string!("fixedSeeds");
    c.fixed_seeds = seeds.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    c.reseed_interval_ms = int!("reseedIntervalMs");
    c.header_stall_timeout_ms = int!("headerStallTimeoutMs");
    c.required_services = long!("requiredServices");
    let proxy = string!("proxy");
    let proxy_onion = string!("proxyOnion");
    c.proxy = proxy.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    c.proxy_onion = proxy_onion
        .as_ref()
        .map_or(std::ptr::null(), |s| s.as_ptr());
    c.proxy_randomize_credentials = flag!("proxyRandomizeCredentials");
    c.onion_only = flag!("onionOnly");
    // An unknown value is refused by name when the client is made.
    c.transport = int!("transport");
    c.decode_threads = int!("decodeThreads");
    Ok((c, [devnet, ua, seeds, proxy, proxy_onion]))
}

/// `boolean nativeDefaults(int network, DashnetConfig out)`: fills `out` with the
/// library's defaults; false for an unknown network.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetConfig_nativeDefaults<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    network: jint,
    out: JObject<'l>,
) -> jboolean {
    guarded(&mut env, 0, |env| {
        let Ok(n) = u32::try_from(network)
            .map_err(|_| ())
            .and_then(|n| DashnetNetwork::from_raw(n).map_err(|_| ()))
        else {
            return 0;
        };
        if out.is_null() {
            return 0;
        }
        let c = DashnetConfig::defaults(n);
        let int = |v: u32| JValue::Int(v.min(i32::MAX as u32) as jint);
        let long = |v: u64| JValue::Long(v.min(i64::MAX as u64) as jlong);
        let fields: [(&str, &str, JValue); 31] = [
            ("network", "I", int(c.network)),
            ("services", "J", long(c.services)),
            ("relay", "Z", JValue::Bool(c.relay)),
            ("protocolVersion", "I", int(c.protocol_version)),
            ("minProtocolVersion", "I", int(c.min_protocol_version)),
            ("startHeight", "I", JValue::Int(c.start_height)),
            ("workerThreads", "I", int(c.worker_threads)),
            ("targetOutbound", "I", int(c.target_outbound)),
            ("maxOutbound", "I", int(c.max_outbound)),
            ("exclusive", "Z", JValue::Bool(c.exclusive)),
            ("dnsSeeds", "Z", JValue::Bool(c.dns_seeds)),
            ("connectTimeoutMs", "I", int(c.connect_timeout_ms)),
            ("handshakeTimeoutMs", "I", int(c.handshake_timeout_ms)),
            ("pingIntervalMs", "I", int(c.ping_interval_ms)),
            ("pongTimeoutMs", "I", int(c.pong_timeout_ms)),
            ("writeStallTimeoutMs", "I", int(c.write_stall_timeout_ms)),
            ("inactivityTimeoutMs", "I", int(c.inactivity_timeout_ms)),
            ("flushDeadlineMs", "I", int(c.flush_deadline_ms)),
            ("queueMaxMessages", "I", int(c.queue_max_messages)),
            ("queueMaxBytes", "J", long(c.queue_max_bytes)),
            ("banDurationS", "I", int(c.ban_duration_s)),
            ("eventQueue", "I", int(c.event_queue)),
            ("inboundPeerBytes", "J", long(c.inbound_peer_bytes)),
            ("inboundClientBytes", "J", long(c.inbound_client_bytes)),
            ("reseedIntervalMs", "I", int(c.reseed_interval_ms)),
            ("headerStallTimeoutMs", "I", int(c.header_stall_timeout_ms)),
            ("requiredServices", "J", long(c.required_services)),
            (
                "proxyRandomizeCredentials",
                "Z",
                JValue::Bool(c.proxy_randomize_credentials),
            ),
            ("onionOnly", "Z", JValue::Bool(c.onion_only)),
            ("transport", "I", int(c.transport)),
            ("decodeThreads", "I", int(c.decode_threads)),
        ];
        for (name, sig, v) in fields {
            if env.set_field(&out, name, sig, v).is_err() {
                return 0;
            }
        }
        1
    })
}

/// `long nativeNew(DashnetConfig config, DashnetListener listener)`: 0 on failure (with an
/// exception thrown).
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeNew<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    config: JObject<'l>,
    listener: JObject<'l>,
) -> jlong {
    guarded(&mut env, 0, |env| {
        if listener.is_null() || config.is_null() {
            let _ = env.throw_new(
                "java/lang/NullPointerException",
                "config and listener must not be null",
            );
            return 0;
        }
        let client_config = match read_config(env, &config) {
            Ok((c, _strings)) => {
                // SAFETY: the strings the struct points to (`_strings`) live until the end
                // of this arm, past the call.
                match unsafe { c.client_config() } {
                    Ok(cc) => cc,
                    Err(_) => {
                        let text = crate::ffi::status::last_error_text();
                        let _ = env.throw_new("java/lang/IllegalArgumentException", text);
                        return 0;
                    }
                }
            }
            Err(text) => {
                if !env.exception_check().unwrap_or(false) {
                    let _ = env.throw_new("java/lang/IllegalArgumentException", text);
                }
                return 0;
            }
        };
        let methods = match Methods::look_up(env, &listener) {
            Ok(m) => m,
            Err(_) => return 0, // NoSuchMethodError is pending
        };
        let (vm, global) = match (env.get_java_vm(), env.new_global_ref(&listener)) {
            (Ok(vm), Ok(g)) => (vm, g),
            _ => return 0,
        };
        let client = match Client::new(client_config) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                let _ = env.throw_new("java/lang/IllegalStateException", format!("dashnet: {e}"));
                return 0;
            }
        };
        client.set_log_level(crate::client::LogLevel::Info as u32);
        let delivery = match start_delivery(vm, global, methods, client.clone()) {
            Ok(d) => d,
            Err(e) => {
                client.shutdown();
                let _ = env.throw_new("java/lang/IllegalStateException", format!("dashnet: {e}"));
                return 0;
            }
        };
        Box::into_raw(Box::new(JniClient {
            client,
            delivery,
            report: parking_lot::Mutex::new(None),
        })) as jlong
    })
}

fn jstring(env: &mut JNIEnv, s: &JString) -> Option<String> {
    if s.is_null() {
        return None;
    }
    env.get_string(s).ok().map(Into::into)
}

fn jbytes(env: &mut JNIEnv, b: &JByteArray) -> Option<Vec<u8>> {
    if b.is_null() {
        return Some(Vec::new());
    }
    env.convert_byte_array(b).ok()
}

/// The client, command and payload of a send-like call; None for any bad argument.
fn message_args<'a>(
    env: &mut JNIEnv,
    handle: jlong,
    command: &JString,
    payload: &JByteArray,
) -> Option<(&'a JniClient, Command, Vec<u8>)> {
    // SAFETY: see `client`.
    let c = unsafe { client(handle) }?;
    let cmd = jstring(env, command).and_then(|s| Command::new(&s))?;
    let bytes = jbytes(env, payload)?;
    Some((c, cmd, bytes))
}

/// `int nativeConnect(long handle, String address)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeConnect<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    address: JString<'l>,
) -> jint {
    guarded(&mut env, INVALID_ARGUMENT, |env| {
        // SAFETY: see `client`.
        let Some(c) = (unsafe { client(handle) }) else {
            return INVALID_ARGUMENT;
        };
        let Some(addr) = jstring(env, &address).and_then(|a| a.parse::<PeerAddr>().ok()) else {
            return INVALID_ARGUMENT;
        };
        c.client.connect(addr).map_or_else(|e| status(&e), |_| OK)
    })
}

/// `int nativeSend(long handle, long peer, String command, byte[] payload, long tag)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeSend<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    peer: jlong,
    command: JString<'l>,
    payload: JByteArray<'l>,
    tag: jlong,
) -> jint {
    guarded(&mut env, INVALID_ARGUMENT, |env| {
        let Some((c, cmd, bytes)) = message_args(env, handle, &command, &payload) else {
            return INVALID_ARGUMENT;
        };
        c.client
            .send(peer as u64, cmd, bytes, tag as u64)
            .map_or_else(|e| status(&e), |_| OK)
    })
}

/// `long nativeRequestHeaders(long handle, byte[] locator)`: the peer asked, or -status.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeRequestHeaders<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    locator: JByteArray<'l>,
) -> jlong {
    guarded(&mut env, -(INVALID_ARGUMENT as jlong), |env| {
        // SAFETY: see `client`.
        let Some(c) = (unsafe { client(handle) }) else {
            return -(INVALID_ARGUMENT as jlong);
        };
        let Some(bytes) = jbytes(env, &locator) else {
            return -(INVALID_ARGUMENT as jlong);
        };
        let Some(hashes) = Hash256::list_from_bytes(&bytes).filter(|h| !h.is_empty()) else {
            return -(INVALID_ARGUMENT as jlong);
        };
        match c.client.request_headers(hashes, Hash256::ZERO) {
            Ok(id) => id as jlong,
            Err(e) => -(status(&e) as jlong),
        }
    })
}

/// `int nativeSyncHeaders(long handle, byte[] locator, int tipHeight)`: a status.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeSyncHeaders<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    locator: JByteArray<'l>,
    tip_height: jint,
) -> jint {
    guarded(&mut env, INVALID_ARGUMENT, |env| {
        // SAFETY: see `client`.
        let Some(c) = (unsafe { client(handle) }) else {
            return INVALID_ARGUMENT;
        };
        let Some(bytes) = jbytes(env, &locator) else {
            return INVALID_ARGUMENT;
        };
        let Some(hashes) = Hash256::list_from_bytes(&bytes).filter(|h| !h.is_empty()) else {
            return INVALID_ARGUMENT;
        };
        let Ok(tip) = u32::try_from(tip_height) else {
            return INVALID_ARGUMENT;
        };
        c.client
            .sync_headers(hashes, tip)
            .map_or_else(|e| status(&e), |_| OK)
    })
}

/// `int nativeCancelSync(long handle)`: a status.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeCancelSync<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) -> jint {
    guarded(&mut env, INVALID_ARGUMENT, |_| {
        // SAFETY: see `client`.
        let Some(c) = (unsafe { client(handle) }) else {
            return INVALID_ARGUMENT;
        };
        c.client.cancel_sync().map_or_else(|e| status(&e), |_| OK)
    })
}

/// `int nativeAddCheckpoint(long handle, int height, byte[] hash)`: a status.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeAddCheckpoint<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    height: jint,
    hash: JByteArray<'l>,
) -> jint {
    guarded(&mut env, INVALID_ARGUMENT, |env| {
        // SAFETY: see `client`.
        let Some(c) = (unsafe { client(handle) }) else {
            return INVALID_ARGUMENT;
        };
        let Some(bytes) = jbytes(env, &hash) else {
            return INVALID_ARGUMENT;
        };
        let (Ok(height), Ok(hash)) = (u32::try_from(height), <[u8; 32]>::try_from(&bytes[..]))
        else {
            return INVALID_ARGUMENT;
        };
        c.client
            .add_checkpoint(height, Hash256(hash))
            .map_or_else(|e| status(&e), |_| OK)
    })
}

/// `long nativeSendBest(long handle, String command, byte[] payload, long tag)`: the peer, or -status.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeSendBest<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    command: JString<'l>,
    payload: JByteArray<'l>,
    tag: jlong,
) -> jlong {
    guarded(&mut env, -(INVALID_ARGUMENT as jlong), |env| {
        let Some((c, cmd, bytes)) = message_args(env, handle, &command, &payload) else {
            return -(INVALID_ARGUMENT as jlong);
        };
        match c.client.send_best(cmd, bytes, tag as u64) {
            Ok(id) => id as jlong,
            Err(e) => -(status(&e) as jlong),
        }
    })
}

/// `int nativeBroadcast(long handle, String command, byte[] payload, long tag)`: peers that
/// took it, or -status.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeBroadcast<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    command: JString<'l>,
    payload: JByteArray<'l>,
    tag: jlong,
) -> jint {
    guarded(&mut env, -INVALID_ARGUMENT, |env| {
        let Some((c, cmd, bytes)) = message_args(env, handle, &command, &payload) else {
            return -INVALID_ARGUMENT;
        };
        match c.client.broadcast(cmd, bytes, tag as u64) {
            Ok(n) => n as jint,
            Err(e) => -status(&e),
        }
    })
}

/// `long[] nativeStats(long handle, long peer)`: bytes in, bytes out, messages in, messages
/// out, queued messages, queued bytes, last / min / average ping (us); null if unknown.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeStats<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    peer: jlong,
) -> jlongArray {
    guarded(&mut env, std::ptr::null_mut(), |env| {
        let Some(s) = peer_stats(handle, peer) else {
            return std::ptr::null_mut();
        };
        let v = [
            s.bytes_in,
            s.bytes_out,
            s.messages_in,
            s.messages_out,
            s.queued_messages,
            s.queued_bytes,
            s.ping_last_us,
            s.ping_min_us,
            s.ping_avg_us,
            s.inbound_bytes,
            match s.transport {
                crate::peer::Transport::V1 => 1,
                crate::peer::Transport::V2 => 2,
            },
        ]
        .map(|x| x as jlong);
        match env.new_long_array(v.len() as jint) {
            Ok(arr) if env.set_long_array_region(&arr, 0, &v).is_ok() => arr.into_raw(),
            _ => std::ptr::null_mut(),
        }
    })
}

/// A peer's statistics through a Java handle (`None`: no such client or peer). Called
/// only from native methods, whose `handle` comes from the Java class (see `client`).
fn peer_stats(handle: jlong, peer: jlong) -> Option<crate::peer::PeerStats> {
    // SAFETY: `handle` is what the Java class passed to a native method: 0 or a live
    // handle from nativeNew, never a freed one (see `client`).
    let c = unsafe { client(handle) }?;
    c.client.peer_stats(peer as u64).ok()
}

/// `byte[] nativeSessionId(long handle, long peer)`: see `DashnetClient.sessionId`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeSessionId<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    peer: jlong,
) -> jbyteArray {
    guarded(&mut env, std::ptr::null_mut(), |env| {
        let Some(s) = peer_stats(handle, peer) else {
            return std::ptr::null_mut();
        };
        let Some(id) = s.session_id else {
            return std::ptr::null_mut();
        };
        env.byte_array_from_slice(&id)
            .map_or(std::ptr::null_mut(), |a| a.into_raw())
    })
}

/// `long[] nativeClientStats(long handle)`: see `DashnetClient.clientStats`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeClientStats<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) -> jlongArray {
    guarded(&mut env, std::ptr::null_mut(), |env| {
        // SAFETY: see `client`.
        let Some(c) = (unsafe { client(handle) }) else {
            return std::ptr::null_mut();
        };
        let s = c.client.stats();
        let v = [
            s.peers,
            s.dialing,
            s.dials,
            s.address_book,
            s.banned,
            s.bytes_in,
            s.bytes_out,
            s.inbound_bytes,
            s.inbound_budget,
            s.events_queued,
            s.events_discarded,
            s.bytes_discarded,
        ]
        .map(|x| x as jlong);
        long_array(env, &v)
    })
}

fn long_array(env: &mut JNIEnv, v: &[jlong]) -> jlongArray {
    match env.new_long_array(v.len() as jint) {
        Ok(arr) if env.set_long_array_region(&arr, 0, v).is_ok() => arr.into_raw(),
        _ => std::ptr::null_mut(),
    }
}

/// `int nativeLifecycle(long handle, int what)`: 0 network changed, 1 pause, 2 resume,
/// 10 + level: set the log level.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeLifecycle<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    what: jint,
) -> jint {
    guarded(&mut env, INVALID_ARGUMENT, |_| {
        // SAFETY: see `client`.
        let Some(c) = (unsafe { client(handle) }) else {
            return INVALID_ARGUMENT;
        };
        let r = match what {
            0 => c.client.network_changed(),
            1 => c.client.pause(),
            2 => c.client.resume(),
            10..=14 => {
                c.client.set_log_level((what - 10) as u32);
                Ok(())
            }
            _ => return INVALID_ARGUMENT,
        };
        r.map_or_else(|e| status(&e), |_| OK)
    })
}

/// `int nativeShutdown(long handle)`: starts shutting down and returns at once.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeShutdown<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) -> jint {
    guarded(&mut env, INVALID_ARGUMENT, |_| {
        // SAFETY: see `client`.
        let Some(c) = (unsafe { client(handle) }) else {
            return INVALID_ARGUMENT;
        };
        c.client.begin_shutdown();
        OK
    })
}

/// `boolean nativeIsDeliveryThread(long handle)`: true inside a listener method.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeIsDeliveryThread<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) -> jboolean {
    guarded(&mut env, 0, |_| {
        // SAFETY: see `client`.
        let Some(c) = (unsafe { client(handle) }) else {
            return 0;
        };
        u8::from(c.delivery.is_current())
    })
}

/// `int nativeJoin(long handle)`: shuts down and waits until the delivery thread has
/// ended (every last event delivered). The Java class calls it under its read lock, so
/// listener methods that call back into the client during shutdown do not deadlock; they
/// get SHUTTING_DOWN. IN_CALLBACK from the delivery thread itself.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeJoin<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) -> jint {
    guarded(&mut env, INVALID_ARGUMENT, |_| {
        // SAFETY: see `client`.
        let Some(c) = (unsafe { client(handle) }) else {
            return INVALID_ARGUMENT;
        };
        if c.delivery.is_current() {
            return DashnetStatus::InCallback as jint;
        }
        let r = c.client.shutdown();
        c.delivery.join();
        let mut report = c.report.lock();
        if report.is_none() {
            let s = c.client.stats();
            let elapsed = c
                .client
                .shutdown_started()
                .map_or(r.elapsed, |t| t.elapsed());
            *report = Some(
                [
                    r.peers_closed as u64,
                    r.undelivered.iter().map(|(_, m)| m.len() as u64).sum(),
                    s.events_discarded,
                    s.bytes_discarded,
                    elapsed.as_millis() as u64,
                    r.tasks_left as u64,
                ]
                .map(|x| x as jlong),
            );
        }
        OK
    })
}

/// `long[] nativeFree(long handle)`: after `nativeJoin`, frees the handle and returns the
/// report (peers closed, undelivered messages, events discarded, bytes discarded,
/// elapsed ms, tasks left).
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeFree<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) -> jlongArray {
    guarded(&mut env, std::ptr::null_mut(), |env| {
        if handle == 0 {
            return std::ptr::null_mut();
        }
        // SAFETY: the handle came from Box::into_raw in nativeNew; the Java class calls
        // this once, after nativeJoin returned, while no other native call on it runs
        // (its write lock).
        let c = unsafe { Box::from_raw(handle as *mut JniClient) };
        // nativeJoin has run; this is a no-op then, and a safety net otherwise.
        c.client.shutdown();
        c.delivery.join();
        let report = c.report.lock().take();
        drop(c);
        report.map_or(std::ptr::null_mut(), |v| long_array(env, &v))
    })
}
