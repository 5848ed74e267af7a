//! Inbound byte budgets: every inbound byte waiting between a socket and the app is
//! charged to its peer's budget and, when the peer belongs to a client, to the client's.
//!
//! The reader charges a frame's declared length as soon as its header is in, before any
//! of the payload is buffered, and waits (does not read) while a budget is full, so TCP
//! pushes back on the remote. The charge travels with the message through the
//! dispatcher, the router and the app's queue, and is released when the app takes the
//! event. A charge never exceeds a budget's size, so one maximum-size message always
//! gets through, alone.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A byte budget shared by readers (a client's, across its peers).
#[derive(Debug, Clone)]
pub struct InboundBudget {
    sem: Arc<Semaphore>,
    size: usize,
}

impl InboundBudget {
    /// A budget of `bytes` (at least 1).
    pub fn new(bytes: usize) -> InboundBudget {
        let size = bytes.clamp(1, u32::MAX as usize);
        InboundBudget {
            sem: Arc::new(Semaphore::new(size)),
            size,
        }
    }

    /// Its size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Bytes charged to it right now.
    pub fn in_use(&self) -> usize {
        self.size.saturating_sub(self.sem.available_permits())
    }

    /// Stops every wait on it (a closing peer's own budget).
    pub(crate) fn close(&self) {
        self.sem.close();
    }

    fn cost(&self, bytes: usize) -> u32 {
        bytes.clamp(1, self.size) as u32
    }

    fn try_take(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        self.sem
            .clone()
            .try_acquire_many_owned(self.cost(bytes))
            .ok()
    }

    async fn take(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        self.sem
            .clone()
            .acquire_many_owned(self.cost(bytes))
            .await
            .ok()
    }
}

/// Inbound bytes charged to the budgets; released when dropped.
#[derive(Debug)]
pub struct Charge {
    // Held only for their Drop, which gives the bytes back.
    _peer: Option<OwnedSemaphorePermit>,
    _client: Option<OwnedSemaphorePermit>,
    bytes: usize,
}

impl Charge {
    /// The bytes this charge stands for.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Gives back what this charge holds beyond `bytes` (a charge taken for the most a
    /// message could cost, once its real cost is known). Never waits.
    pub(crate) fn shrink_to(&mut self, bytes: usize) {
        if bytes >= self.bytes {
            return;
        }
        for permit in [self._peer.as_mut(), self._client.as_mut()]
            .into_iter()
            .flatten()
        {
            let keep = bytes.max(1);
            let held = permit.num_permits();
            if held > keep {
                // Dropping the split-off part returns it to the semaphore.
                drop(permit.split(held - keep));
            }
        }
        self.bytes = bytes;
    }

    /// Gives the peer's budget its bytes back and keeps the client's: for a message held
    /// by the client (the header sync's segments waiting for delivery), so the peer reads on.
    pub(crate) fn release_peer(&mut self) {
        self._peer = None;
    }

    /// Charges `bytes` to `peer` and then `client` without waiting, or `None`.
    pub(crate) fn try_new(
        peer: &InboundBudget,
        client: Option<&InboundBudget>,
        bytes: usize,
    ) -> Option<Charge> {
        let p = peer.try_take(bytes)?;
        let c = match client {
            Some(c) => Some(c.try_take(bytes)?),
            None => None,
        };
        Some(Charge {
            _peer: Some(p),
            _client: c,
            bytes,
        })
    }

    /// Charges `bytes`, waiting for room in each budget in turn. `None` once the peer's
    /// budget is closed (the connection is closing).
    pub(crate) async fn new(
        peer: &InboundBudget,
        client: Option<&InboundBudget>,
        bytes: usize,
    ) -> Option<Charge> {
        let p = peer.take(bytes).await?;
        let c = match client {
            Some(c) => Some(c.take(bytes).await?),
            None => None,
        };
        Some(Charge {
            _peer: Some(p),
            _client: c,
            bytes,
        })
    }
}
