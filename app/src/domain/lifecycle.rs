//! A node's life: serving, then draining once it has been asked to stop (SIGTERM). A draining
//! node reports not-ready at once so that the load balancer sends it nothing new, and its
//! long-lived connections (video signaling) close with a "go elsewhere" code.

use std::sync::Arc;

use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct Lifecycle {
    draining: Arc<watch::Sender<bool>>,
    /// How many long-lived connections are open: shutdown waits for them to close.
    open: Arc<watch::Sender<usize>>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self { draining: Arc::new(watch::channel(false).0), open: Arc::new(watch::channel(0).0) }
    }
}

/// Held by a long-lived connection while it is open.
#[derive(Debug)]
pub struct Open(Arc<watch::Sender<usize>>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.send_modify(|open| *open = open.saturating_sub(1));
    }
}

impl Lifecycle {
    /// Starts draining; idempotent.
    pub fn begin_draining(&self) {
        self.draining.send_replace(true);
    }

    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// Counts a long-lived connection (a signaling socket) until the guard is dropped.
    pub fn open(&self) -> Open {
        self.open.send_modify(|open| *open += 1);
        Open(self.open.clone())
    }

    /// Resolves once no long-lived connection is open.
    pub async fn all_closed(&self) {
        let mut watch = self.open.subscribe();
        let _ = watch.wait_for(|open| *open == 0).await;
    }

    /// Resolves once draining has begun (at once if it has).
    pub async fn draining(&self) {
        let mut watch = self.draining.subscribe();
        // The sender lives as long as `self`, so this only ends by draining.
        let _ = watch.wait_for(|draining| *draining).await;
    }
}
