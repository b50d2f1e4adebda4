//! A local fake of the Stripe API: the endpoints this project calls, answering with objects shaped
//! like Stripe's published fixtures (the sample events' objects, or what a test stores), and
//! Stripe's own error shapes. Bound to loopback; for tests and `make dev`, never production.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// The objects the fake holds, by id (`sub_…`).
#[derive(Clone, Default)]
pub struct FakeStripe {
    objects: Arc<Mutex<HashMap<String, Value>>>,
}

fn error(status: StatusCode, code: Option<&str>, message: String) -> Response {
    let body = json!({"error": {"type": "invalid_request_error", "code": code, "message": message}});
    (status, axum::Json(body)).into_response()
}

async fn subscription(State(fake): State<FakeStripe>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let authorized =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("Bearer sk_"));
    if !authorized {
        return error(StatusCode::UNAUTHORIZED, None, "You did not provide an API key.".into());
    }
    match fake.objects.lock().expect("fake Stripe state").get(&id) {
        Some(obj) if obj["object"] == "subscription" => axum::Json(obj.clone()).into_response(),
        _ => error(StatusCode::NOT_FOUND, Some("resource_missing"), format!("No such subscription: '{id}'")),
    }
}

impl FakeStripe {
    /// Stores (or replaces) an object, as Stripe would after a change.
    pub fn put(&self, object: Value) {
        if let Some(id) = object["id"].as_str() {
            self.objects.lock().expect("fake Stripe state").insert(id.to_owned(), object);
        }
    }

    /// Holds the newest object of each sample event in `dir` (what Stripe would return now).
    pub fn load_events(&self, dir: &std::path::Path) -> Result<()> {
        let mut newest: HashMap<String, (i64, Value)> = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let event: Value = serde_json::from_str(&std::fs::read_to_string(entry?.path())?)?;
            let object = event["data"]["object"].clone();
            let (Some(id), Some(created)) = (object["id"].as_str(), event["created"].as_i64()) else { continue };
            if newest.get(id).is_none_or(|(t, _)| *t < created) {
                newest.insert(id.to_owned(), (created, object));
            }
        }
        newest.into_values().for_each(|(_, o)| self.put(o));
        Ok(())
    }

    pub fn router(&self) -> Router {
        Router::new().route("/v1/subscriptions/{id}", get(subscription)).with_state(self.clone())
    }

    /// Serves on `127.0.0.1:port` (0: a free one) in the background; returns the base URL.
    pub async fn serve(&self, port: u16) -> Result<String> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = self.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(url)
    }
}
