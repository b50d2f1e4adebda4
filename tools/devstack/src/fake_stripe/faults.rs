//! Faults the fake injects into its API, for storms: for a seeded share of `/v1/…` requests it
//! answers as Stripe does when it fails (`500 api_error`), when it rate-limits (`429 rate_limit`
//! with `Retry-After`), or not in time: it holds the answer past the client's timeout, and for
//! a change (a POST) it makes the change first, so the caller cannot know it happened and must
//! retry with the same idempotency key.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::FakeStripe;
use crate::rng::Rng;

/// What the faults did, for the figures.
#[derive(Debug, Default)]
pub struct StripeFaultCounts {
    pub calls: AtomicU64,
    pub server_errors: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Held past the client's timeout without doing anything.
    pub timed_out: AtomicU64,
    /// Done (a change made), then held past the client's timeout.
    pub done_then_timed_out: AtomicU64,
}

impl StripeFaultCounts {
    pub fn faults(&self) -> u64 {
        [&self.server_errors, &self.rate_limited, &self.timed_out, &self.done_then_timed_out]
            .iter()
            .map(|c| c.load(Ordering::SeqCst))
            .sum()
    }
}

/// The faults' settings; `on` switches them.
#[derive(Debug)]
pub struct StripeFaults {
    pub percent: u64,
    /// How long a "timed out" answer is held: longer than the client waits.
    pub hold: Duration,
    pub on: AtomicBool,
    rng: Mutex<Rng>,
    pub counts: StripeFaultCounts,
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    ServerError,
    RateLimited,
    TimedOut,
}

impl StripeFaults {
    pub fn new(percent: u64, seed: u64, hold: Duration) -> Self {
        Self { percent, hold, on: AtomicBool::new(true), rng: Mutex::new(Rng::new(seed)), counts: Default::default() }
    }

    fn pick(&self) -> Option<Fault> {
        self.counts.calls.fetch_add(1, Ordering::SeqCst);
        if !self.on.load(Ordering::SeqCst) {
            return None;
        }
        let mut rng = self.rng.lock().expect("fault rng");
        if rng.below(100) >= self.percent {
            return None;
        }
        Some(match rng.below(3) {
            0 => Fault::ServerError,
            1 => Fault::RateLimited,
            _ => Fault::TimedOut,
        })
    }
}

/// The middleware: the API's requests through the faults, when the fake has them.
pub(super) async fn inject(State(fake): State<FakeStripe>, request: Request, next: Next) -> Response {
    let faults = fake.faults.lock().expect("fake Stripe state").clone();
    let Some(faults) = faults.filter(|_| request.uri().path().starts_with("/v1/")) else {
        return next.run(request).await;
    };
    let c = &faults.counts;
    match faults.pick() {
        None => next.run(request).await,
        Some(Fault::ServerError) => {
            c.server_errors.fetch_add(1, Ordering::SeqCst);
            let body =
                json!({"error": {"type": "api_error", "message": "Injected: something went wrong on Stripe's end."}});
            (StatusCode::INTERNAL_SERVER_ERROR, [("stripe-should-retry", "true")], axum::Json(body)).into_response()
        }
        Some(Fault::RateLimited) => {
            c.rate_limited.fetch_add(1, Ordering::SeqCst);
            let body = json!({"error": {"type": "invalid_request_error", "code": "rate_limit",
                "message": "Injected: too many requests hit the API too quickly."}});
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], axum::Json(body)).into_response()
        }
        Some(Fault::TimedOut) => {
            let answer = if request.method() == Method::POST {
                c.done_then_timed_out.fetch_add(1, Ordering::SeqCst);
                Some(next.run(request).await)
            } else {
                c.timed_out.fetch_add(1, Ordering::SeqCst);
                None
            };
            tokio::time::sleep(faults.hold).await;
            answer.unwrap_or_else(|| StatusCode::GATEWAY_TIMEOUT.into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn get(fake: &FakeStripe, path: &str) -> Response {
        let request = Request::get(path).header("authorization", "Bearer sk_test_faults").body(Body::empty()).unwrap();
        fake.router().oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn every_faulted_call_is_a_500_a_429_with_retry_after_or_held_and_switching_off_restores_answers() {
        let fake = FakeStripe::default();
        let faults = Arc::new(StripeFaults::new(100, 3, Duration::from_millis(5)));
        fake.inject_faults(faults.clone());
        let mut seen = std::collections::BTreeMap::new();
        for _ in 0..60 {
            let r = get(&fake, "/v1/subscriptions/sub_missing").await;
            if r.status() == StatusCode::TOO_MANY_REQUESTS {
                assert_eq!(r.headers()["retry-after"], "1");
            }
            *seen.entry(r.status().as_u16()).or_insert(0u64) += 1;
        }
        let c = &faults.counts;
        assert_eq!(c.calls.load(Ordering::SeqCst), 60);
        assert_eq!(c.faults(), 60, "every call faulted at 100 %");
        assert_eq!(seen.keys().copied().collect::<Vec<_>>(), [429, 500, 504], "{seen:?}");
        assert_eq!(seen[&429], c.rate_limited.load(Ordering::SeqCst));
        assert_eq!(seen[&504], c.timed_out.load(Ordering::SeqCst));
        // Pages outside the API are never failed; switched off, the API answers as before.
        assert_ne!(get(&fake, "/checkout/cs_missing").await.status(), StatusCode::INTERNAL_SERVER_ERROR);
        faults.on.store(false, Ordering::SeqCst);
        assert_eq!(get(&fake, "/v1/subscriptions/sub_missing").await.status(), StatusCode::NOT_FOUND);
    }
}
