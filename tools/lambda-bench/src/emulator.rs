//! A Lambda Runtime API of our own: serves `next`, `response` and `error` (and `init/error`)
//! at `/2018-06-01/runtime/…` exactly as Lambda's does, to one function process, and timestamps
//! what the function does.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Mutex, mpsc};

/// What the function did, with when.
#[derive(Debug)]
pub enum Seen {
    /// It asked for its next event (the first one ends its init).
    Next(Instant),
    /// It answered the invocation `id`.
    Response {
        id: String,
        at: Instant,
        body: Bytes,
    },
    Error {
        id: String,
        body: Bytes,
    },
    InitError(Bytes),
}

#[derive(Clone)]
struct Emu {
    events: Arc<Mutex<mpsc::Receiver<(String, serde_json::Value)>>>,
    seen: mpsc::UnboundedSender<Seen>,
}

async fn next(State(emu): State<Emu>) -> Response {
    let _ = emu.seen.send(Seen::Next(Instant::now()));
    let Some((id, event)) = emu.events.lock().await.recv().await else {
        // No more events: the process is about to be stopped.
        return StatusCode::GONE.into_response();
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    let mut headers = HeaderMap::new();
    let h = |v: &str| HeaderValue::from_str(v).expect("header value");
    headers.insert("lambda-runtime-aws-request-id", h(&id));
    headers.insert("lambda-runtime-deadline-ms", h(&deadline.to_string()));
    headers.insert("lambda-runtime-invoked-function-arn", h("arn:aws:lambda:us-east-1:123456789012:function:bench"));
    headers.insert("lambda-runtime-trace-id", h("Root=1-00000000-000000000000000000000000;Sampled=0"));
    headers.insert("content-type", h("application/json"));
    (headers, event.to_string()).into_response()
}

async fn response(State(emu): State<Emu>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let _ = emu.seen.send(Seen::Response { id, at: Instant::now(), body });
    StatusCode::ACCEPTED
}

async fn error(State(emu): State<Emu>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let _ = emu.seen.send(Seen::Error { id, body });
    StatusCode::ACCEPTED
}

async fn init_error(State(emu): State<Emu>, body: Bytes) -> StatusCode {
    let _ = emu.seen.send(Seen::InitError(body));
    StatusCode::ACCEPTED
}

/// A running emulator: its address, where to queue events, and what the function did.
pub struct Emulator {
    pub addr: String,
    pub events: mpsc::Sender<(String, serde_json::Value)>,
    pub seen: mpsc::UnboundedReceiver<Seen>,
}

pub async fn start() -> anyhow::Result<Emulator> {
    let (events_tx, events_rx) = mpsc::channel(1);
    let (seen_tx, seen_rx) = mpsc::unbounded_channel();
    let emu = Emu { events: Arc::new(Mutex::new(events_rx)), seen: seen_tx };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(emu);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?.to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Emulator { addr, events: events_tx, seen: seen_rx })
}
