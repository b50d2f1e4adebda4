//! The local API Gateway: an HTTP listener on loopback that does what the HTTP API with its JWT
//! authorizer does in AWS — reject requests without a valid bearer token with 401, put the
//! verified claims into the event's request context — and then hands the function the same event
//! Lambda would. Like the CloudFront distribution in front of the API in AWS, it also serves the
//! portal web app on the same origin (every other GET, with the SPA fallback and the same
//! security headers), and passes `/cognito` on to the stand-in's Cognito (the app's
//! `userPoolEndpoint` locally).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::apigw::{self, HttpCall};
use crate::cognito::Verifier;
use crate::token;

/// API Gateway's limit on a request payload.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// The route of the Stripe webhook: no authorizer (Stripe signs its deliveries instead).
pub const WEBHOOK_PATH: &str = "/webhooks/stripe";

/// The back office's routes: the ops function, behind the staff pool's JWT authorizer.
pub const STAFF_PREFIX: &str = "/v1/staff/";

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
    /// How bearer tokens on the portal's routes are checked.
    pub authorizer: Authorizer,
    /// How bearer tokens on the back office's routes (`/v1/staff/…`, to the ops function) are
    /// checked: the staff pool's, so a customer's token is refused here; none: no such routes.
    pub staff_authorizer: Option<Authorizer>,
    pub template: Value,
    /// The built web app and its runtime settings, served for every other GET.
    pub web: Option<WebApp>,
    /// The stand-in's Cognito, where `POST /cognito` goes.
    pub cognito_endpoint: Option<String>,
}

/// The JWT authorizer's configuration.
pub enum Authorizer {
    /// The Cognito pool's RS256 ID tokens (`make dev`).
    Cognito(Verifier),
    /// HS256 tokens signed with a shared secret ([`token::mint`]; tests).
    Secret(Vec<u8>),
}

impl Authorizer {
    fn verify(&self, token: &str) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
        match self {
            Self::Cognito(v) => v.verify(token),
            Self::Secret(secret) => token::verify(secret, token),
        }
    }
}

/// The portal web app: the files of a Vite build and the `/config.json` it reads at start.
pub struct WebApp {
    pub dist: std::path::PathBuf,
    pub config: Value,
}

/// What CloudFront's response-headers policy adds in AWS (infra/template.yaml), so that the app is
/// tested under the same Content-Security-Policy locally (where Cognito is on the same origin; in
/// AWS `connect-src` also names the region's Cognito endpoint).
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
         connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; \
         form-action 'self'; object-src 'none'",
    ),
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
];

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
    let bearer = || {
        parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().to_owned())
    };
    let (function, claims) = if path.starts_with(STAFF_PREFIX) {
        let (Some(ops), Some(authorizer)) = (&gw.ops, &gw.staff_authorizer) else { return not_found() };
        let Some(token) = bearer() else { return unauthorized() };
        match authorizer.verify(&token) {
            Ok(c) => (ops.clone(), Some(c)),
            Err(e) => {
                tracing::info!(error = %e, "staff token rejected");
                return unauthorized();
            }
        }
    } else if path == WEBHOOK_PATH && parts.method == http::Method::POST {
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
        match gw.authorizer.verify(token) {
            Ok(c) => (gw.portal.clone(), Some(c)),
            Err(e) => {
                tracing::info!(error = %e, "token rejected");
                return unauthorized();
            }
        }
    } else if path == "/cognito" || path.starts_with("/cognito/") {
        let Some(endpoint) = &gw.cognito_endpoint else { return not_found() };
        let Some(call) = http_call(&parts, body).await else { return too_large() };
        return forward_cognito(endpoint, &call).await;
    } else if let Some(web) = &gw.web
        && (parts.method == http::Method::GET || parts.method == http::Method::HEAD)
    {
        return serve_web(web, &path).await;
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

/// A file of the web app, `/config.json`, or `index.html` for any other path (the app routes it;
/// `staff.html` under `/staff`).
async fn serve_web(web: &WebApp, path: &str) -> Response {
    let mut response = if path == "/config.json" {
        let mut r = axum::Json(web.config.clone()).into_response();
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    } else {
        let relative = path.trim_start_matches('/');
        let safe = !relative.is_empty() && relative.split('/').all(|p| !p.is_empty() && p != "." && p != "..");
        let file = safe.then(|| web.dist.join(relative)).filter(|f| f.is_file());
        let (file, cache) = match file {
            Some(f) if relative.starts_with("assets/") => (f, "public, max-age=31536000, immutable"),
            Some(f) => (f, "no-cache"),
            // A missing asset is a 404; any other path is a page of the app.
            None if relative.starts_with("assets/") => return not_found(),
            // The back office's pages are staff.html's, the portal's index.html's.
            None if relative == "staff" || relative.starts_with("staff/") => (web.dist.join("staff.html"), "no-cache"),
            None => (web.dist.join("index.html"), "no-cache"),
        };
        match tokio::fs::read(&file).await {
            Ok(bytes) => {
                let mut r = bytes.into_response();
                let h = r.headers_mut();
                h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&file)));
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
                r
            }
            Err(e) => {
                tracing::error!(file = %file.display(), error = %e, "web app file unreadable (run `npm run build` in web/)");
                return not_found();
            }
        }
    };
    for (name, value) in SECURITY_HEADERS {
        response.headers_mut().insert(name, HeaderValue::from_static(value));
    }
    response
}

fn content_type(file: &std::path::Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Passes a Cognito API call (`POST` with `X-Amz-Target`) to the stand-in and its answer back.
async fn forward_cognito(endpoint: &str, call: &HttpCall) -> Response {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let header = |name: &str| call.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let Some(target) = header("x-amz-target").filter(|t| t.starts_with("AWSCognitoIdentityProviderService.")) else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "message": "not a Cognito call" }))).into_response();
    };
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let request = format!(
        "POST / HTTP/1.0\r\nHost: cognito-idp.us-east-1.amazonaws.com\r\nX-Amz-Target: {target}\r\n\
         Content-Type: {}\r\nContent-Length: {}\r\n\r\n",
        header("content-type").unwrap_or("application/x-amz-json-1.1"),
        call.body.len()
    );
    let answer = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(request.as_bytes()).await?;
        s.write_all(&call.body).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        anyhow::Ok(out)
    };
    let raw = match tokio::time::timeout(std::time::Duration::from_secs(30), answer).await {
        Ok(Ok(raw)) => raw,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the stand-in's Cognito did not answer");
            return (StatusCode::BAD_GATEWAY, axum::Json(json!({ "message": "Bad Gateway" }))).into_response();
        }
        Err(_) => {
            return (StatusCode::GATEWAY_TIMEOUT, axum::Json(json!({ "message": "Gateway Timeout" }))).into_response();
        }
    };
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse::<u16>().ok()).unwrap_or(502);
    let mut r = Response::new(Body::from(raw[split..].to_vec()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    for line in head.lines().skip(1) {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            // The error type and request id are what Cognito's clients read; moto's own extras stay.
            if (k == "content-type" || k == "x-amzn-errortype" || k == "x-amzn-requestid")
                && let (Ok(name), Ok(value)) =
                    (http::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v.trim()))
            {
                r.headers_mut().insert(name, value);
            }
        }
    }
    r
}
