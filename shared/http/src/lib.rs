//! The HTTP edge every API function shares, so that a client meets one shape of error whichever
//! function answers:
//!
//! - [`error_response`]: the one error body, `{"error": {"code", "message", "details"?,
//!   "contact"?, "invoice"?}}`, where a server error's message never carries its cause and a 503 carries
//!   `Retry-After`;
//! - [`JsonBody`] and [`OptionalJson`]: JSON bodies whose rejections ([`BodyRejection`]) say which
//!   field is wrong, in words a person and a form can use ([`body_error`]).
//!
//! Each function keeps its own error enum and the one `classify` that gives each variant its
//! status and stable code; this crate only renders.

mod body;

/// For the API crates' tests: what a response says.
#[cfg(feature = "testing")]
pub mod testing {
    use axum::http::{StatusCode, header};
    use axum::response::Response;
    use http_body_util::BodyExt;

    /// The status, JSON body and `Retry-After` of `response`.
    pub async fn read(response: Response) -> (StatusCode, serde_json::Value, Option<String>) {
        let status = response.status();
        let retry = response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap_or_default().to_owned());
        let bytes = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or_default(), retry)
    }

    /// Every `$ref` of an OpenAPI document, and those that name no schema it defines (a
    /// generated client is only as good as its document).
    pub fn schema_refs(doc: &serde_json::Value) -> (Vec<String>, Vec<String>) {
        fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(serde_json::Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|v| refs(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let defined = doc["components"]["schemas"].as_object().cloned().unwrap_or_default();
        let mut found = Vec::new();
        refs(doc, &mut found);
        let missing = found
            .iter()
            .filter(|r| r.strip_prefix("#/components/schemas/").is_none_or(|name| !defined.contains_key(name)))
            .cloned()
            .collect();
        (found, missing)
    }
}

pub use body::{BodyRejection, JsonBody, OptionalJson, body_error};

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use billing_domain::FieldError;
use serde::Serialize;

/// What a server error says instead of its cause.
pub const UNAVAILABLE_MESSAGE: &str = "a service this API depends on is unavailable; retry shortly";
/// What any other server error says.
pub const INTERNAL_MESSAGE: &str = "internal error";
/// The `Retry-After` of a 503, in seconds: the dependencies that fail (DynamoDB throttling, SES,
/// Stripe) usually recover within one.
pub const RETRY_AFTER_SECS: &str = "1";

#[derive(Serialize)]
struct Body<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    details: &'a [FieldError],
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invoice: Option<&'a serde_json::Value>,
}

/// What an error response says besides its status and message.
#[derive(Debug, Default, Clone, Copy)]
pub struct Extra<'a> {
    /// The fields that failed validation.
    pub details: &'a [FieldError],
    /// Whom to contact instead (the portal's `contact_sales`).
    pub contact: Option<&'a str>,
    /// The invoice as it is now, for a conflict the client resolves by showing it again (the
    /// portal's `invoice_changed`).
    pub invoice: Option<&'a serde_json::Value>,
}

/// The error response for `error`, classified as `status` and `code`. A client error says the
/// error's own words; a server error says only [`UNAVAILABLE_MESSAGE`] (503, with
/// `Retry-After`) or [`INTERNAL_MESSAGE`]: the caller logs the cause, this never returns it.
/// Whether the request's `Accept` header names `media` (`text/csv`) among its media ranges
/// (parameters such as `;q=0.9` allowed).
pub fn accepts(headers: &axum::http::HeaderMap, media: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| range.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case(media)))
}

pub fn error_response(status: StatusCode, code: &str, error: &dyn std::fmt::Display, extra: Extra<'_>) -> Response {
    let message = match status {
        StatusCode::SERVICE_UNAVAILABLE => UNAVAILABLE_MESSAGE.to_owned(),
        s if s.is_server_error() => INTERNAL_MESSAGE.to_owned(),
        _ => error.to_string(),
    };
    let body = Body {
        error: ErrorBody { code, message, details: extra.details, contact: extra.contact, invoice: extra.invoice },
    };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_names_a_media_type_among_its_ranges() {
        let with = |v: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(accepts(&with("text/csv"), "text/csv"));
        assert!(accepts(&with("text/html, Text/CSV;q=0.9"), "text/csv"));
        assert!(accepts(&with("application/json; charset=utf-8"), "application/json"));
        assert!(!accepts(&with("*/*"), "text/csv"));
        assert!(!accepts(&with("application/jsonl"), "application/json"));
        assert!(!accepts(&axum::http::HeaderMap::new(), "text/csv"));
    }
    use http_body_util::BodyExt;

    async fn render(status: StatusCode, said: &str, extra: Extra<'_>) -> (serde_json::Value, Option<String>) {
        let r = error_response(status, "some_code", &said, extra);
        assert_eq!(r.status(), status);
        let retry = r.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        (serde_json::from_slice(&bytes).unwrap(), retry)
    }

    #[tokio::test]
    async fn server_errors_say_nothing_of_their_cause_and_a_503_asks_for_a_retry() {
        let cause = "dispatch failure: 10.0.0.1:443 refused";
        let (body, retry) = render(StatusCode::SERVICE_UNAVAILABLE, cause, Extra::default()).await;
        assert_eq!(body, serde_json::json!({"error": {"code": "some_code", "message": UNAVAILABLE_MESSAGE}}));
        assert_eq!(retry.as_deref(), Some("1"));
        let (body, retry) = render(StatusCode::INTERNAL_SERVER_ERROR, cause, Extra::default()).await;
        assert_eq!(body, serde_json::json!({"error": {"code": "some_code", "message": INTERNAL_MESSAGE}}));
        assert_eq!(retry, None);
    }

    #[tokio::test]
    async fn client_errors_say_their_own_words_with_details_and_contact() {
        let details = [FieldError::new("quantity", "must be 1 to 500")];
        let extra = Extra { details: &details, contact: Some("sales@seller.example"), invoice: None };
        let (body, retry) = render(StatusCode::UNPROCESSABLE_ENTITY, "quantity: must be 1 to 500", extra).await;
        assert_eq!(
            body,
            serde_json::json!({"error": {
                "code": "some_code",
                "message": "quantity: must be 1 to 500",
                "details": [{"field": "quantity", "message": "must be 1 to 500"}],
                "contact": "sales@seller.example",
            }})
        );
        assert_eq!(retry, None);
    }
}
