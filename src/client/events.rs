//! The app's side of the client: one queue of events and one of log lines.
//!
//! Producers (the router, dial tasks) are async and wait for room when the queue is at
//! its event bound; the app side (poll, the delivery thread) blocks on a condition
//! variable with its own timeout, so pollers never wait on each other and never on the
//! runtime. Inbound data counts against the byte budgets through the [`Charge`] it
//! carries, released when the app takes the event.
//!
//! A peer's `PeerDisconnected` is always admitted, whatever the bound: it carries the
//! tags of what was never written, and there is one per peer. At the shutdown deadline
//! the data events still queued (messages, headers, address-book changes) are discarded
//! and counted, so stopping never waits on a slow or absent consumer.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::Notify;

use super::ClientEvent;
use crate::peer::Charge;

/// How important a log line is (the C ABI's `DashnetLogLevel` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Errors.
    Error = 1,
    /// Warnings: misbehaving peers, failed dials.
    Warn = 2,
    /// Connections made and lost.
    Info = 3,
    /// Everything else.
    Debug = 4,
}

/// Most log lines kept for a slow reader; older ones are dropped and counted.
const LOG_LINES_MAX: usize = 256;

struct State {
    events: VecDeque<(ClientEvent, Option<Charge>)>,
    logs: VecDeque<(LogLevel, String)>,
    logs_dropped: u64,
    /// No more events will come: takers get what is left, then `Closed`.
    closed: bool,
    /// The shutdown deadline passed: data events are discarded.
    discarding: bool,
    /// When it passes (set when shutdown begins).
    discard_at: Option<Instant>,
    discarded_events: u64,
    discarded_bytes: u64,
}

/// What a taker got.
// Returned by value once per event and never stored: boxing the event would cost an
// allocation per event to save stack bytes on a log line.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Taken {
    /// An event.
    Event(ClientEvent),
    /// A log line.
    Log(LogLevel, String),
    /// Nothing before the timeout.
    Timeout,
    /// The client has shut down and everything has been taken.
    Closed,
}

pub(crate) struct EventQueue {
    state: Mutex<State>,
    ready: Condvar,
    room: Notify,
    max_events: usize,
    log_level: std::sync::atomic::AtomicU32,
}

fn is_data(ev: &ClientEvent) -> bool {
    matches!(
        ev,
        ClientEvent::Message { .. }
            | ClientEvent::Headers { .. }
            | ClientEvent::AddressBookChanged { .. }
            | ClientEvent::SyncHeaders { .. }
            | ClientEvent::SyncProgress(_)
    )
}

impl EventQueue {
    pub fn new(max_events: usize) -> EventQueue {
        EventQueue {
            state: Mutex::new(State {
                events: VecDeque::new(),
                logs: VecDeque::new(),
                logs_dropped: 0,
                closed: false,
                discarding: false,
                discard_at: None,
                discarded_events: 0,
                discarded_bytes: 0,
            }),
            ready: Condvar::new(),
            room: Notify::new(),
            max_events: max_events.max(1),
            log_level: std::sync::atomic::AtomicU32::new(LogLevel::Info as u32),
        }
    }

    /// Queues an event, waiting while the queue is at its bound (backpressure). A
    /// `PeerDisconnected` never waits; after the shutdown deadline a data event is
    /// discarded and counted instead.
    pub async fn push(&self, ev: ClientEvent, charge: Option<Charge>) {
        let mut item = Some((ev, charge));
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut s = self.state.lock();
                check_deadline(&mut s);
                let (ev, charge) = item.take().expect("the event is pushed once");
                if s.discarding && is_data(&ev) {
                    s.discarded_events += 1;
                    s.discarded_bytes += charge.as_ref().map_or(0, |c| c.bytes() as u64);
                    return;
                }
                // After the deadline, no event that is not data waits either: there is
                // at most one of each kind per peer, and no app is obliged to take them.
                let always = matches!(ev, ClientEvent::PeerDisconnected { .. }) || s.discarding;
                if always || s.events.len() < self.max_events {
                    s.events.push_back((ev, charge));
                    drop(s);
                    self.ready.notify_all();
                    return;
                }
                item = Some((ev, charge));
            }
            room.await;
        }
    }

    /// Queues an event at once, whatever the bound (one per sync: its SyncDone, queued
    /// under the sync's registration lock so that no later sync's events precede it).
    pub fn push_now(&self, ev: ClientEvent) {
        self.state.lock().events.push_back((ev, None));
        self.ready.notify_all();
    }

    /// Adds a log line if `level` is enabled (never waits: the oldest line goes when full).
    pub fn log(&self, level: LogLevel, text: impl FnOnce() -> String) {
        if level as u32 > self.log_level.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut s = self.state.lock();
        if s.logs.len() >= LOG_LINES_MAX {
            s.logs.pop_front();
            s.logs_dropped += 1;
        }
        s.logs.push_back((level, text()));
        drop(s);
        self.ready.notify_all();
    }

    /// The most verbose level passed on (0 turns logging off).
    pub fn set_log_level(&self, level: u32) {
        self.log_level
            .store(level, std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes the next event (and, with `logs`, log lines first), waiting up to `timeout`
    /// (`None`: until there is one or the queue is closed).
    pub fn take(&self, events: bool, logs: bool, timeout: Option<Duration>) -> Taken {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut s = self.state.lock();
        loop {
            check_deadline(&mut s);
            if logs {
                if s.logs_dropped > 0 {
                    let n = std::mem::take(&mut s.logs_dropped);
                    return Taken::Log(
                        LogLevel::Warn,
                        format!("{n} log lines dropped: the log callback is slow"),
                    );
                }
                if let Some((level, text)) = s.logs.pop_front() {
                    return Taken::Log(level, text);
                }
            }
            if events && let Some((ev, charge)) = s.events.pop_front() {
                drop(s);
                // The app has it now: its bytes leave the budgets.
                drop(charge);
                self.room.notify_waiters();
                return Taken::Event(ev);
            }
            if s.closed {
                return Taken::Closed;
            }
            match deadline {
                None => self.ready.wait(&mut s),
                Some(d) => {
                    if self.ready.wait_until(&mut s, d).timed_out() {
                        // One last look, then give up.
                        if (events && !s.events.is_empty()) || (logs && !s.logs.is_empty()) {
                            continue;
                        }
                        return if s.closed {
                            Taken::Closed
                        } else {
                            Taken::Timeout
                        };
                    }
                }
            }
        }
    }

    /// Sets the shutdown deadline: from `at` on, data events are discarded (checked by
    /// every push and take; [`EventQueue::discard_data`] at `at` wakes waiting pushers).
    pub fn set_deadline(&self, at: Instant) {
        self.state.lock().discard_at = Some(at);
    }

    /// The shutdown deadline: discard the data events still queued and any that come.
    pub fn discard_data(&self) {
        discard(&mut self.state.lock());
        self.room.notify_waiters();
    }

    /// No more events will be pushed: takers get the rest, then `Closed`.
    pub fn close(&self) {
        self.state.lock().closed = true;
        self.ready.notify_all();
        self.room.notify_waiters();
    }

    /// Events waiting, and the bound on them.
    pub fn backlog(&self) -> (usize, usize) {
        (self.state.lock().events.len(), self.max_events)
    }

    /// Events waiting, and (events, bytes) discarded at the shutdown deadline.
    pub fn counts(&self) -> (usize, u64, u64) {
        let s = self.state.lock();
        (s.events.len(), s.discarded_events, s.discarded_bytes)
    }
}

fn check_deadline(s: &mut State) {
    if !s.discarding && s.discard_at.is_some_and(|d| Instant::now() >= d) {
        discard(s);
    }
}

fn discard(s: &mut State) {
    s.discarding = true;
    let before = s.events.len();
    let mut bytes = 0u64;
    s.events.retain(|(ev, charge)| {
        let data = is_data(ev);
        if data {
            bytes += charge.as_ref().map_or(0, |c| c.bytes() as u64);
        }
        !data
    });
    s.discarded_events += (before - s.events.len()) as u64;
    s.discarded_bytes += bytes;
}
