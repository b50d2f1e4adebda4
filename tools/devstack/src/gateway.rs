//! The local API Gateway: an HTTP listener on loopback that does what the HTTP API with its JWT
//! authorizer does in AWS — reject requests without a valid bearer token with 401, put the
//! verified claims into the event's request context — and then hands the function the same event
//! Lambda would.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::apigw::{self, HttpCall};
use crate::token;

/// API Gateway's limit on a request payload.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// The route of the Stripe webhook: no authorizer (Stripe signs its deliveries instead).
pub const WEBHOOK_PATH: &str = "/webhooks/stripe";

/// The seller's own routes, authorized with IAM: usage ingestion and ops.
pub fn is_ops_path(path: &str) -> bool {
    path == "/v1/usage" || path.starts_with("/v1/ops/")
}

/// The IAM principal of a SigV4-signed request (`Authorization: AWS4-HMAC-SHA256
/// Credential=<access key>/<date>/<region>/execute-api/aws4_request, …`). The local gateway takes
/// the access key as the caller and does not check the signature; API Gateway does.
pub fn sigv4_access_key(authorization: &str) -> Option<&str> {
    let rest = authorization.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let credential = rest.split(',').map(str::trim).find_map(|p| p.strip_prefix("Credential="))?;
    let key = credential.split('/').next()?;
    (!key.is_empty() && credential.contains("/execute-api/")).then_some(key)
}

pub struct Gateway {
    /// The function behind the `ANY /v1/{proxy+}` route.
    pub portal: Router,
    /// The function behind `POST /webhooks/stripe`.
    pub webhook: Option<Router>,
    /// The function behind `POST /v1/usage` and `ANY /v1/ops/{proxy+}` (IAM authorization).
    pub ops: Option<Router>,
    pub jwt_secret: Vec<u8>,
    pub template: Value,
}

/// The listener's router: every path goes through the gateway.
pub fn app(gateway: Gateway) -> Router {
    Router::new().fallback(handle).with_state(Arc::new(gateway))
}

fn unauthorized() -> Response {
    // API Gateway's own answer when its JWT authorizer rejects a request.
    let mut r = (StatusCode::UNAUTHORIZED, axum::Json(json!({ "message": "Unauthorized" }))).into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

async fn handle(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    if is_ops_path(&path) {
        let Some(ops) = &gw.ops else { return not_found() };
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(sigv4_access_key)
            .map(str::to_owned);
        let Some(key) = key else {
            // API Gateway's answer to an unsigned request on an IAM-authorized route.
            return (StatusCode::FORBIDDEN, axum::Json(json!({ "message": "Forbidden" }))).into_response();
        };
        let Some(call) = http_call(&parts, body).await else { return too_large() };
        let arn = format!("arn:aws:iam::123456789012:user/{key}");
        let event = apigw::event_iam(&gw.template, &call, &arn, &key);
        return respond(apigw::invoke(ops.clone(), &event).await);
    }
    let (function, claims) = if path == WEBHOOK_PATH && parts.method == http::Method::POST {
        match &gw.webhook {
            Some(webhook) => (webhook.clone(), None),
            None => return not_found(),
        }
    } else if path.starts_with("/v1/") {
        let Some(token) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim())
        else {
            return unauthorized();
        };
        match token::verify(&gw.jwt_secret, token) {
            Ok(c) => (gw.portal.clone(), Some(c)),
            Err(e) => {
                tracing::info!(error = %e, "token rejected");
                return unauthorized();
            }
        }
    } else {
        return not_found();
    };
    let Some(call) = http_call(&parts, body).await else { return too_large() };
    let event = apigw::event(&gw.template, &call, claims.as_ref());
    respond(apigw::invoke(function, &event).await)
}

fn too_large() -> Response {
    (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(json!({ "message": "Request Entity Too Large" }))).into_response()
}

async fn http_call(parts: &http::request::Parts, body: Body) -> Option<HttpCall> {
    let body = axum::body::to_bytes(body, MAX_BODY).await.ok()?;
    Some(HttpCall {
        method: parts.method.to_string(),
        path_and_query: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.to_string(), v.to_owned())))
            .collect(),
        body: body.to_vec(),
    })
}

fn respond(result: anyhow::Result<http::Response<Body>>) -> Response {
    match result {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "invocation failed");
            // API Gateway's answer when the integration fails.
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({ "message": "Internal Server Error" })))
                .into_response()
        }
    }
    .map(Body::new)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, axum::Json(json!({ "message": "Not Found" }))).into_response()
}
