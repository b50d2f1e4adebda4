//! Structured logs: one JSON object per line on stdout, which CloudWatch Logs (with the function's
//! JSON log format) indexes field by field. Level from `RUST_LOG`, default `info`.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time() // Lambda stamps every line itself.
        .try_init();
}
