//! Counting what costs: a loopback proxy in front of the AWS stand-in that forwards every request
//! and records which call it was (service and operation) and when it started and ended, as the
//! function saw it. The integration tests and `lambda-bench` point a function's AWS endpoint at
//! it to count its store, SES and Secrets Manager calls, and how many of them were serial.
//!
//! Start and end are taken at the proxy, before forwarding and after the answer: two calls the
//! function made together overlap here even when the stand-in serves them one after the other.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Result;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// One call the proxy forwarded.
#[derive(Debug, Clone)]
pub struct Call {
    /// `DynamoDB`, `SES`, `SecretsManager`, `S3` or `other`.
    pub service: &'static str,
    /// The API operation (`GetItem`, `TransactWriteItems`, `SendEmail`, …).
    pub operation: String,
    pub start: Instant,
    pub end: Instant,
}

/// The calls one piece of work made, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Every call, in the order they started: `DynamoDB.GetItem`, …
    pub calls: Vec<String>,
    /// The same calls in rounds one after another; the calls of a round overlapped.
    pub rounds: Vec<Vec<String>>,
    /// Calls to the store (DynamoDB).
    pub store: usize,
    /// Rounds of store calls one after another: calls that overlap count once.
    pub store_serial: usize,
    pub ses: usize,
    /// Calls to anything else (Secrets Manager, S3).
    pub other: usize,
    /// The store calls' time, summed (as the function waited on them, overlaps counted twice).
    pub store_time: std::time::Duration,
}

impl Tally {
    pub fn of(mut calls: Vec<Call>) -> Self {
        calls.sort_by_key(|c| c.start);
        let name = |c: &Call| format!("{}.{}", c.service, c.operation);
        let store: Vec<&Call> = calls.iter().filter(|c| c.service == "DynamoDB").collect();
        Tally {
            calls: calls.iter().map(name).collect(),
            rounds: rounds(calls.iter()).into_iter().map(|r| r.into_iter().map(name).collect()).collect(),
            store_serial: rounds(store.iter().copied()).len(),
            ses: calls.iter().filter(|c| c.service == "SES").count(),
            other: calls.iter().filter(|c| !matches!(c.service, "DynamoDB" | "SES")).count(),
            store_time: store.iter().map(|c| c.end - c.start).sum(),
            store: store.len(),
        }
    }

    /// Round trips one after another, all services.
    pub fn serial(&self) -> usize {
        self.rounds.len()
    }

    /// The critical path as text: calls of one round joined by ` ∥ `, rounds by ` → `, service
    /// names dropped (`GetItem ∥ GetItem → TransactWriteItems → SendEmail`).
    pub fn path(&self) -> String {
        let op = |c: &String| c.split_once('.').map_or(c.clone(), |(_, o)| o.to_owned());
        let rounds: Vec<String> =
            self.rounds.iter().map(|r| r.iter().map(op).collect::<Vec<_>>().join(" ∥ ")).collect();
        if rounds.is_empty() { "none".into() } else { rounds.join(" → ") }
    }
}

/// The calls in rounds one after another, in start order: a call that starts before every call
/// of the current round has ended joins it; one that starts later opens the next.
fn rounds<'a>(calls: impl Iterator<Item = &'a Call>) -> Vec<Vec<&'a Call>> {
    let mut out: Vec<Vec<&Call>> = Vec::new();
    let mut first_end: Option<Instant> = None;
    for c in calls {
        match (first_end, out.last_mut()) {
            (Some(end), Some(round)) if c.start < end => {
                round.push(c);
                first_end = Some(end.min(c.end));
            }
            _ => {
                out.push(vec![c]);
                first_end = Some(c.end);
            }
        }
    }
    out
}

/// The proxy and what it has seen.
#[derive(Clone)]
pub struct CallLog {
    pub url: String,
    seen: Arc<Mutex<Vec<Call>>>,
}

#[derive(Clone)]
struct Forward {
    upstream: Uri,
    client: Client<HttpConnector, Body>,
    seen: Arc<Mutex<Vec<Call>>>,
}

impl CallLog {
    /// A proxy on a free loopback port forwarding to `upstream` (`http://127.0.0.1:port`).
    pub async fn start(upstream: &str) -> Result<Self> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let forward = Forward {
            upstream: upstream.parse()?,
            client: Client::builder(TokioExecutor::new()).build_http(),
            seen: seen.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = Router::new().fallback(forward_one).with_state(forward);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url, seen })
    }

    /// The calls seen since the last take, and forgets them.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.seen.lock().expect("call log"))
    }

    /// The calls seen since the last take, counted.
    pub fn tally(&self) -> Tally {
        Tally::of(self.take())
    }
}

/// Which call a request to the stand-in is: the JSON protocols name it in `X-Amz-Target`
/// (`DynamoDB_20120810.GetItem`, `secretsmanager.GetSecretValue`); SES v2 is REST under `/v2/email`.
fn identify(req: &Request) -> (&'static str, String) {
    if let Some(target) = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
        let service = if prefix.starts_with("DynamoDB") {
            "DynamoDB"
        } else if prefix.eq_ignore_ascii_case("secretsmanager") {
            "SecretsManager"
        } else {
            "other"
        };
        return (service, op.to_owned());
    }
    let path = req.uri().path();
    if path.starts_with("/v2/email/outbound-emails") {
        ("SES", "SendEmail".into())
    } else if path.starts_with("/v2/email") {
        ("SES", format!("{} {path}", req.method()))
    } else {
        ("S3", req.method().to_string())
    }
}

async fn forward_one(State(f): State<Forward>, mut req: Request) -> Response {
    let (service, operation) = identify(&req);
    let start = Instant::now();
    let path = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
    let mut parts = f.upstream.clone().into_parts();
    parts.path_and_query = path.parse().ok();
    let Ok(uri) = Uri::from_parts(parts) else {
        return (StatusCode::BAD_GATEWAY, "bad upstream URI").into_response();
    };
    *req.uri_mut() = uri;
    let answer = f.client.request(req).await;
    let end = Instant::now();
    f.seen.lock().expect("call log").push(Call { service, operation, start, end });
    match answer {
        Ok(r) => r.map(Body::new).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, format!("stand-in unreachable: {e}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn call(service: &'static str, start_ms: u64, end_ms: u64) -> Call {
        let t0 = Instant::now();
        Call {
            service,
            operation: "X".into(),
            start: t0 + Duration::from_millis(start_ms),
            end: t0 + Duration::from_millis(end_ms),
        }
    }

    #[test]
    fn overlapping_calls_count_as_one_round() {
        // Two reads together, then a write, then a send.
        let t = Tally::of(vec![
            call("DynamoDB", 0, 5),
            call("DynamoDB", 1, 9),
            call("DynamoDB", 10, 12),
            call("SES", 13, 20),
        ]);
        assert_eq!((t.store, t.store_serial, t.ses, t.serial()), (3, 2, 1, 3));
        assert_eq!(t.path(), "X ∥ X → X → X");
        // One after another: every call is a round.
        let t = Tally::of(vec![call("DynamoDB", 0, 2), call("DynamoDB", 2, 4), call("DynamoDB", 4, 6)]);
        assert_eq!((t.store, t.store_serial), (3, 3));
    }
}
