//! The Android binding (cargo feature `jni`): `org.dashnet.DashnetClient` over
//! [`crate::client`], with its Java classes in `java/org/dashnet`.
//!
//! The client's delivery thread attaches to the JVM once, as a daemon, and calls the
//! `DashnetListener`. Each event runs inside its own JNI local frame, so no local
//! reference outlives its event. A listener that throws does not take the library down:
//! the exception is described (logged by the JVM) and cleared. `close()` returns only
//! when no callback will run again.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::ThreadId;

use jni::JNIEnv;
use jni::objects::{GlobalRef, JByteArray, JClass, JObject, JString, JValue};
use jni::sys::{jboolean, jint, jlong, jlongArray};
use parking_lot::Mutex;

use crate::client::{Client, ClientConfig, ClientError, ClientEvent};
use crate::peer::{DisconnectReason, SendError};
use crate::wire::{Command, Hash256, Network};

/// Status codes, the same numbers as the C ABI's `DashnetStatus`.
const OK: jint = 0;
const INVALID_ARGUMENT: jint = 1;
const NOT_FOUND: jint = 2;
const QUEUE_FULL: jint = 3;
const DISCONNECTED: jint = 4;
const TOO_LARGE: jint = 5;
const NO_PEER: jint = 6;
const IN_CALLBACK: jint = 8;
const SHUTTING_DOWN: jint = 9;

struct JniClient {
    client: Arc<Client>,
    delivery: Mutex<Option<std::thread::JoinHandle<()>>>,
    delivery_thread: Mutex<Option<ThreadId>>,
}

fn status(e: &ClientError) -> jint {
    match e {
        ClientError::NotFound => NOT_FOUND,
        ClientError::NoPeer => NO_PEER,
        ClientError::Send(SendError::QueueFull) => QUEUE_FULL,
        ClientError::Send(SendError::Disconnected) => DISCONNECTED,
        ClientError::Send(SendError::TooLarge) => TOO_LARGE,
        ClientError::ShuttingDown => SHUTTING_DOWN,
        ClientError::Invalid(_) => INVALID_ARGUMENT,
    }
}

fn reason_code(r: &DisconnectReason) -> jint {
    match r {
        DisconnectReason::Requested => 1,
        DisconnectReason::RemoteClosed => 2,
        DisconnectReason::Io(_) => 3,
        DisconnectReason::Protocol(_) => 4,
        DisconnectReason::InvalidHeaders(_) => 5,
        DisconnectReason::HandshakeTimeout => 6,
        DisconnectReason::PingTimeout => 7,
        DisconnectReason::WriteStalled => 8,
        DisconnectReason::Inactive => 9,
        DisconnectReason::VersionTooOld(_) => 10,
        DisconnectReason::Shutdown => 11,
    }
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

fn deliver(env: &mut JNIEnv, listener: &JObject, ev: ClientEvent) -> jni::errors::Result<()> {
    match ev {
        ClientEvent::PeerConnected { peer, info } => {
            let addr = env.new_string(info.addr.to_string())?;
            let ua = env.new_string(&info.user_agent)?;
            env.call_method(
                listener,
                "onConnected",
                "(JLjava/lang/String;Ljava/lang/String;II)V",
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
            env.call_method(
                listener,
                "onDisconnected",
                "(JLjava/lang/String;ILjava/lang/String;[J)V",
                &[
                    JValue::Long(peer as jlong),
                    JValue::Object(&a),
                    JValue::Int(reason_code(&reason)),
                    JValue::Object(&text),
                    JValue::Object(&arr),
                ],
            )?;
        }
        ClientEvent::Message { peer, message } => {
            let cmd = env.new_string(message.command().as_str())?;
            let payload = env.byte_array_from_slice(&message.payload())?;
            env.call_method(
                listener,
                "onMessage",
                "(JLjava/lang/String;[B)V",
                &[
                    JValue::Long(peer as jlong),
                    JValue::Object(&cmd),
                    JValue::Object(&payload),
                ],
            )?;
        }
        ClientEvent::Headers { peer, headers, .. } => {
            let mut raw = Vec::with_capacity(headers.len() * 80);
            let mut hashes = Vec::with_capacity(headers.len() * 32);
            for h in &headers {
                raw.extend_from_slice(&h.header().to_bytes());
                hashes.extend_from_slice(&h.hash().0);
            }
            let raw = env.byte_array_from_slice(&raw)?;
            let hashes = env.byte_array_from_slice(&hashes)?;
            env.call_method(
                listener,
                "onHeaders",
                "(J[B[BI)V",
                &[
                    JValue::Long(peer as jlong),
                    JValue::Object(&raw),
                    JValue::Object(&hashes),
                    JValue::Int(headers.len() as jint),
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
            env.call_method(
                listener,
                "onPeerFailed",
                "(Ljava/lang/String;ILjava/lang/String;)V",
                &[
                    JValue::Object(&a),
                    JValue::Int(stage as jint),
                    JValue::Object(&text),
                ],
            )?;
        }
        ClientEvent::QueueReady { peer } => {
            env.call_method(
                listener,
                "onQueueReady",
                "(J)V",
                &[JValue::Long(peer as jlong)],
            )?;
        }
    }
    Ok(())
}

fn delivery_loop(vm: jni::JavaVM, listener: GlobalRef, client: Arc<Client>) {
    let Ok(mut env) = vm.attach_current_thread_as_daemon() else {
        return;
    };
    while let Some(ev) = client.wait_event() {
        let _ = env.with_local_frame(16, |env| deliver(env, listener.as_obj(), ev));
        if env.exception_check().unwrap_or(false) {
            // A listener that throws: the JVM logs it, dashnet goes on.
            let _ = env.exception_describe();
            let _ = env.exception_clear();
        }
    }
}

/// `long nativeNew(int network, boolean dnsSeeds, DashnetListener listener)`: 0 on failure
/// (with an exception thrown).
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeNew<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    network: jint,
    dns_seeds: jboolean,
    listener: JObject<'l>,
) -> jlong {
    guarded(&mut env, 0, |env| {
        let network = match network {
            0 => Network::Mainnet,
            1 => Network::Testnet,
            2 => Network::Regtest,
            3 => Network::Devnet {
                name: "devnet".into(),
                genesis: None,
            },
            _ => {
                let _ = env.throw_new("java/lang/IllegalArgumentException", "unknown network");
                return 0;
            }
        };
        if listener.is_null() {
            let _ = env.throw_new("java/lang/NullPointerException", "listener is null");
            return 0;
        }
        let mut config = ClientConfig::new(network);
        config.dns_seeds = dns_seeds != 0;
        let (vm, global) = match (env.get_java_vm(), env.new_global_ref(&listener)) {
            (Ok(vm), Ok(g)) => (vm, g),
            _ => return 0,
        };
        let client = match Client::new(config) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                let _ = env.throw_new("java/lang/IllegalStateException", format!("dashnet: {e}"));
                return 0;
            }
        };
        let c = client.clone();
        let thread = std::thread::Builder::new()
            .name("dashnet-delivery".into())
            .spawn(move || delivery_loop(vm, global, c));
        let Ok(thread) = thread else {
            let _ = env.throw_new(
                "java/lang/IllegalStateException",
                "dashnet: no delivery thread",
            );
            return 0;
        };
        let id = thread.thread().id();
        Box::into_raw(Box::new(JniClient {
            client,
            delivery: Mutex::new(Some(thread)),
            delivery_thread: Mutex::new(Some(id)),
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
        let Some(addr) = jstring(env, &address).and_then(|a| a.parse().ok()) else {
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
        // SAFETY: see `client`.
        let Some(c) = (unsafe { client(handle) }) else {
            return std::ptr::null_mut();
        };
        let Ok(s) = c.client.peer_stats(peer as u64) else {
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
        ]
        .map(|x| x as jlong);
        match env.new_long_array(v.len() as jint) {
            Ok(arr) if env.set_long_array_region(&arr, 0, &v).is_ok() => arr.into_raw(),
            _ => std::ptr::null_mut(),
        }
    })
}

/// `void nativeLifecycle(long handle, int what)`: 0 network changed, 1 pause, 2 resume.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeLifecycle<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    what: jint,
) {
    guarded(&mut env, (), |_| {
        // SAFETY: see `client`.
        if let Some(c) = unsafe { client(handle) } {
            let _ = match what {
                0 => c.client.network_changed(),
                1 => c.client.pause(),
                2 => c.client.resume(),
                _ => Ok(()),
            };
        }
    })
}

/// `int nativeShutdown(long handle)`: shuts down and waits until no callback will run
/// again; IN_CALLBACK (and nothing done) when called from a callback.
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
        if *c.delivery_thread.lock() == Some(std::thread::current().id()) {
            return IN_CALLBACK;
        }
        c.client.shutdown();
        if let Some(t) = c.delivery.lock().take() {
            let _ = t.join();
        }
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
        u8::from(*c.delivery_thread.lock() == Some(std::thread::current().id()))
    })
}

/// `void nativeFree(long handle)`: after `nativeShutdown`, releases the handle.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dashnet_DashnetClient_nativeFree<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) {
    guarded(&mut env, (), |_| {
        if handle != 0 {
            // SAFETY: the handle came from Box::into_raw in nativeNew; the Java class calls
            // this once, after nativeShutdown returned and while no other native call runs.
            drop(unsafe { Box::from_raw(handle as *mut JniClient) });
        }
    })
}
