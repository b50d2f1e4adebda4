//! One policy for optimistic concurrency. Every write that depends on what was read (a version, a
//! stamp, a sequence number) is conditioned on it and fails with [`Error::Conflict`] when another
//! writer got there first; the writer then reads again, decides again and writes again:
//!
//! ```ignore
//! let mut retry = Retry::on_conflict();
//! while retry.attempt().await {
//!     let before = store.read().await?;
//!     match store.write_if_unchanged(&before, &decide(&before)).await {
//!         Err(Error::Conflict) => continue,
//!         other => return other,
//!     }
//! }
//! Err(Error::Conflict)
//! ```
//!
//! [`CONFLICT_ATTEMPTS`] and [`backoff`] are chosen once, here, for every such loop (the webhook,
//! the seat provisioner, the portal's account and seat writes, ops' payments, credit notes and
//! voids, receipts, the bill run).
//!
//! [`Error::Conflict`]: crate::Error::Conflict

use std::time::Duration;

/// How many times one read-decide-write is tried. Each round of contenders has one winner, so
/// `n` writers racing on one item all succeed within `n` attempts; no path here puts more than a
/// handful on one item (Stripe's concurrent deliveries for one account, an admin beside the seat
/// provisioner, two bill runs). Past that, the conflict goes to the caller, whose own retry is
/// slower and safe: 503 with `Retry-After` (APIs), Stripe's redelivery (webhook), the stream's
/// retry (provisioner), the next run (bill run).
pub const CONFLICT_ATTEMPTS: u32 = 6;

/// The wait after the `attempt`th try lost (1-based): 5 ms × attempt², so contenders that read
/// the same version spread out instead of colliding again: 5, 20, 45, 80, 125 ms, at most
/// 275 ms in all, well inside an API request's and a Lambda invocation's time.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(5 * u64::from(attempt).pow(2))
}

/// The attempts of one read-decide-write: `while retry.attempt().await { … }`.
#[derive(Debug, Default)]
pub struct Retry {
    made: u32,
}

impl Retry {
    pub fn on_conflict() -> Self {
        Self::default()
    }

    /// The same attempts, for recording an effect that has already happened outside (a mail SES
    /// took): a record given up on means a retry repeats the effect, so it is not given up after
    /// one failure.
    pub fn to_record_an_effect() -> Self {
        Self::default()
    }

    /// The same attempts, for what a store left undone under load (a batch read's unprocessed
    /// keys): asked for again after the same backoff.
    pub fn on_throttling() -> Self {
        Self::default()
    }

    /// Whether to make another attempt: at once the first time, after [`backoff`] the next
    /// times, and no more once [`CONFLICT_ATTEMPTS`] were made.
    pub async fn attempt(&mut self) -> bool {
        if self.made >= CONFLICT_ATTEMPTS {
            return false;
        }
        if self.made > 0 {
            tokio::time::sleep(backoff(self.made)).await;
        }
        self.made += 1;
        true
    }

    /// How many attempts were made so far.
    pub fn made(&self) -> u32 {
        self.made
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn every_attempt_is_made_once_with_a_growing_wait_between() {
        let start = tokio::time::Instant::now();
        let mut retry = Retry::on_conflict();
        let mut waits = Vec::new();
        let mut last = start;
        while retry.attempt().await {
            waits.push(last.elapsed());
            last = tokio::time::Instant::now();
        }
        assert_eq!(retry.made(), CONFLICT_ATTEMPTS);
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 5, 20, 45, 80, 125]);
        assert_eq!(start.elapsed(), Duration::from_millis(275));
        assert!(!retry.attempt().await, "spent attempts stay spent");
    }
}
