//! The delivery core shared by the C ABI and the JNI binding: one thread per client that
//! takes events and log lines and hands them to the app, a panic boundary around each
//! one, the "am I on the delivery thread" check, and the join.
//!
//! Bindings differ only in what they do with one event (call a C function pointer, call
//! a Java method); everything about the thread lives here, once.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};

use parking_lot::Mutex;

use super::{Client, LogLevel, Taken};

/// A client's delivery thread.
pub struct DeliveryThread {
    handle: Mutex<Option<JoinHandle<()>>>,
    id: ThreadId,
}

impl DeliveryThread {
    /// Starts the thread. It first runs `setup` (for example attaching to a JVM), which
    /// returns the handler or says why it cannot (then `start` fails with that reason and
    /// no thread is left running), then takes what it is asked for (`events`, `logs`)
    /// until the client has shut down and everything has been taken. Each call of the handler runs
    /// behind a panic boundary: a panic loses that one item (it is reported to the
    /// handler as an Error log line) and delivery goes on, so the queue never stalls
    /// behind a dead thread.
    pub fn start<S, H>(
        client: Arc<Client>,
        events: bool,
        logs: bool,
        setup: S,
    ) -> std::io::Result<DeliveryThread>
    where
        S: FnOnce() -> Result<H, String> + Send + 'static,
        H: FnMut(Taken),
    {
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), String>>(1);
        let handle = std::thread::Builder::new()
            .name("dashnet-delivery".into())
            .spawn(move || {
                let mut handler = match setup() {
                    Ok(h) => {
                        let _ = ready_tx.send(Ok(()));
                        h
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                loop {
                    match client.take(events, logs, None) {
                        Taken::Closed => return,
                        Taken::Timeout => {}
                        item => {
                            let r = catch_unwind(AssertUnwindSafe(|| handler(item)));
                            if r.is_err() && logs {
                                let text = "internal error: an event was lost to a panic".into();
                                let _ = catch_unwind(AssertUnwindSafe(|| {
                                    handler(Taken::Log(LogLevel::Error, text))
                                }));
                            }
                        }
                    }
                }
            })?;
        let ready = ready_rx
            .recv()
            .unwrap_or_else(|_| Err("the delivery thread ended during setup".into()));
        if let Err(e) = ready {
            let _ = handle.join();
            return Err(std::io::Error::other(e));
        }
        let id = handle.thread().id();
        Ok(DeliveryThread {
            handle: Mutex::new(Some(handle)),
            id,
        })
    }

    /// True on the delivery thread itself (inside a callback).
    pub fn is_current(&self) -> bool {
        std::thread::current().id() == self.id
    }

    /// Waits for the thread to end (after the client's shutdown). A second caller waits
    /// until the first one's join is over. Never call it from the delivery thread.
    pub fn join(&self) {
        let mut handle = self.handle.lock();
        if let Some(t) = handle.take() {
            let _ = t.join();
        }
    }
}
