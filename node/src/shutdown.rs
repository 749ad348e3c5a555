//! Graceful shutdown in the mini-redis style: a broadcast tells tasks to stop, and drop guards tell the
//! controller when they all have.
//!
//! The controller owns a `broadcast::Sender<()>`; every task gets a [`Shutdown`] that holds a receiver
//! and a clone of an `mpsc::Sender<()>`.
//! Nothing is ever sent on that mpsc channel: it exists so that [`ShutdownController::shutdown`] can wait
//! for `recv()` to return `None`, which happens exactly when every [`Shutdown`] (and so every task) is gone.

use tokio::sync::{broadcast, mpsc};

/// Starts shutdown and waits for it to finish; create one per process (or per test node).
#[derive(Debug)]
pub struct ShutdownController {
    /// Sending on (or dropping) this wakes every [`Shutdown::recv`].
    notify: broadcast::Sender<()>,
    /// Cloned into every [`Shutdown`]; dropped by [`ShutdownController::shutdown`] before waiting.
    complete_sender: mpsc::Sender<()>,
    /// Yields `None` once every clone of `complete_sender` is dropped.
    complete_receiver: mpsc::Receiver<()>,
}

impl Default for ShutdownController {
    fn default() -> Self {
        Self::new()
    }
}

impl ShutdownController {
    /// Creates a controller with no listeners yet.
    pub fn new() -> ShutdownController {
        // One slot is enough: the only message ever sent is "stop".
        let (notify, _) = broadcast::channel(1);
        let (complete_sender, complete_receiver) = mpsc::channel(1);
        ShutdownController {
            notify,
            complete_sender,
            complete_receiver,
        }
    }

    /// Returns a listener for one task; the task must keep it until it has fully stopped.
    pub fn listener(&self) -> Shutdown {
        Shutdown {
            is_shutdown: false,
            notify: self.notify.subscribe(),
            _complete_guard: self.complete_sender.clone(),
        }
    }

    /// Tells every listener to stop and waits until all of them have been dropped.
    pub async fn shutdown(self) {
        let ShutdownController {
            notify,
            complete_sender,
            mut complete_receiver,
        } = self;
        // An error only means no listener is alive, which is fine.
        let _ = notify.send(());
        drop(complete_sender);
        let message = complete_receiver.recv().await;
        assert!(
            message.is_none(),
            "nothing is ever sent on the completion channel"
        );
    }
}

/// A task's view of the shutdown signal; dropping it tells the controller the task has finished.
#[derive(Debug)]
pub struct Shutdown {
    /// Set once the signal has been received, so later calls return at once.
    is_shutdown: bool,
    /// Receives the stop signal (or a closed channel, which means the same).
    notify: broadcast::Receiver<()>,
    /// Held only to be dropped: see the module docs.
    _complete_guard: mpsc::Sender<()>,
}

impl Shutdown {
    /// Whether the stop signal has been received.
    pub fn is_shutdown(&self) -> bool {
        self.is_shutdown
    }

    /// Waits for the stop signal; returns at once if it was already received.
    pub async fn recv(&mut self) {
        if self.is_shutdown {
            return;
        }
        // Lagged, closed and a real message all mean "stop".
        let _ = self.notify.recv().await;
        self.is_shutdown = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn shutdown_waits_for_every_listener() {
        let controller = ShutdownController::new();
        let (stopped_sender, mut stopped_receiver) = mpsc::channel::<usize>(4);
        for index in 0..3 {
            let mut shutdown = controller.listener();
            let stopped_sender = stopped_sender.clone();
            tokio::spawn(async move {
                shutdown.recv().await;
                assert!(shutdown.is_shutdown());
                stopped_sender.send(index).await.unwrap();
                // `shutdown` drops here, after the task's last action.
            });
        }
        drop(stopped_sender);
        tokio::time::timeout(Duration::from_secs(10), controller.shutdown())
            .await
            .expect("shutdown completes");
        let mut stopped = Vec::new();
        while let Some(index) = stopped_receiver.recv().await {
            stopped.push(index);
        }
        stopped.sort_unstable();
        assert_eq!(stopped, vec![0, 1, 2]);
    }
}
