//! JSON bodies whose rejections say what is wrong: malformed JSON is 400 `invalid_json`, a body
//! of the wrong shape is 422 `validation_failed` with the field and what it must be, a body that
//! is not sent as JSON is 415 `unsupported_media_type`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use billing_domain::FieldError;
use serde::de::DeserializeOwned;

use crate::{Extra, error_response};

/// Why a JSON body was refused.
#[derive(Debug, thiserror::Error)]
pub enum BodyRejection {
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// A body of the wrong shape (a missing or unknown field, a wrong type), said of its field.
    #[error("{}: {}", .0.field, .0.message)]
    InvalidBody(FieldError),
    #[error("send the body as application/json")]
    UnsupportedMediaType,
}

impl IntoResponse for BodyRejection {
    fn into_response(self) -> Response {
        let (status, code, details) = match &self {
            Self::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json", &[][..]),
            Self::InvalidBody(field) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", std::slice::from_ref(field))
            }
            Self::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", &[][..]),
        };
        error_response(status, code, &self, Extra { details, ..Default::default() })
    }
}

/// A JSON body, refused with a [`BodyRejection`].
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = BodyRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, BodyRejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(BodyRejection::InvalidBody(body_error(&e.body_text()))),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(BodyRejection::InvalidJson(serde_message(&e.body_text()))),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(BodyRejection::UnsupportedMediaType),
            Err(other) => Err(BodyRejection::InvalidJson(other.body_text())),
        }
    }
}

/// A JSON body that may be left out: an empty body is `T::default()`; one that is sent is read
/// like [`JsonBody`].
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = BodyRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, BodyRejection> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.map_err(|e| BodyRejection::InvalidJson(e.to_string()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        JsonBody::<T>::from_request(req, state).await.map(|JsonBody(v)| Self(v))
    }
}

/// serde's own sentence (with the field path), without axum's prefix.
fn serde_message(text: &str) -> String {
    ["Failed to deserialize the JSON body into the target type: ", "Failed to parse the request body as JSON: "]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))
        .unwrap_or(text)
        .to_owned()
}

/// A body of the wrong shape as the field it is about and what that field must be, in words a
/// person (and a form) can use: serde's "invalid type: string \"five\", expected i64 at line 1
/// column 17" at `quantity` becomes `quantity`: "must be a whole number".
pub fn body_error(text: &str) -> FieldError {
    let text = serde_message(text);
    let text = text.rfind(" at line ").map_or(text.as_str(), |i| &text[..i]);
    // serde_path_to_error puts the field's path first ("billing_address.country: …").
    let (path, inner) = match text.split_once(": ") {
        Some((p, rest)) if !p.is_empty() && !p.contains(' ') && p != "." => (p, rest),
        _ => ("", text),
    };
    // A missing field's path is its parent's; an unknown field's path is the field itself.
    let join = |name: &str| match path {
        "" => name.to_owned(),
        p if p == name || p.ends_with(&format!(".{name}")) => p.to_owned(),
        p => format!("{p}.{name}"),
    };
    let quoted = |rest: &str| rest.split('`').nth(1).map(str::to_owned).unwrap_or_default();
    let one_of = |rest: &str| rest.split('`').skip(1).step_by(2).collect::<Vec<_>>().join(", ");
    if let Some(rest) = inner.strip_prefix("missing field ") {
        return FieldError::new(join(&quoted(rest)), "is required");
    }
    if let Some(rest) = inner.strip_prefix("unknown field ") {
        return FieldError::new(join(&quoted(rest)), "is not a field of this request");
    }
    if let Some(rest) = inner.strip_prefix("unknown variant ") {
        let allowed = rest.split_once("expected").map_or("", |(_, e)| e);
        return FieldError::new(path, format!("must be one of: {}", one_of(allowed)));
    }
    if inner.starts_with("invalid type") || inner.starts_with("invalid value") {
        let expected = inner.rsplit_once("expected ").map_or("", |(_, e)| e.trim());
        let message = match expected {
            "i8" | "i16" | "i32" | "i64" | "isize" | "an integer" => "must be a whole number".to_owned(),
            "u8" | "u16" | "u32" | "u64" | "usize" => "must be a whole number, zero or more".to_owned(),
            "f32" | "f64" | "a decimal" | "a number" => "must be a number".to_owned(),
            "a string" => "must be text".to_owned(),
            "a boolean" => "must be true or false".to_owned(),
            "a sequence" => "must be a list".to_owned(),
            e if e.starts_with("struct") || e == "a map" => "must be an object".to_owned(),
            e => format!("has the wrong type (expected {e})"),
        };
        return FieldError::new(path, message);
    }
    // A value that parsed as JSON but not as the field's type (an e-mail, a date): its own words.
    FieldError::new(path, inner)
}

#[cfg(test)]
mod body_error_tests {
    use super::body_error;

    fn said(text: &str) -> (String, String) {
        let e = body_error(&format!("Failed to deserialize the JSON body into the target type: {text}"));
        (e.field, e.message)
    }

    #[test]
    fn wrong_shapes_are_said_of_their_field_in_plain_words() {
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            said("quantity: invalid type: string \"five\", expected i64 at line 1 column 17"),
            pair("quantity", "must be a whole number")
        );
        assert_eq!(
            said("name: invalid type: integer `5`, expected a string at line 1 column 9"),
            pair("name", "must be text")
        );
        assert_eq!(
            said("unknown field `billing_mode`, expected one of `name`, `email`, `phone` at line 1 column 15"),
            pair("billing_mode", "is not a field of this request")
        );
        assert_eq!(said("missing field `email` at line 1 column 2"), pair("email", "is required"));
        assert_eq!(
            said("fax: unknown field `fax`, expected `name` or `email` at line 1 column 6"),
            pair("fax", "is not a field of this request")
        );
        assert_eq!(
            said("billing_address: missing field `city` at line 1 column 40"),
            pair("billing_address.city", "is required")
        );
        assert_eq!(
            said("role: unknown variant `owner`, expected one of `admin`, `billing`, `viewer` at line 1 column 30"),
            pair("role", "must be one of: admin, billing, viewer")
        );
        assert_eq!(
            said("recipients: invalid type: string \"a\", expected a sequence at line 1 column 18"),
            pair("recipients", "must be a list")
        );
        assert_eq!(
            said("proration_date: premature end of input at line 1 column 40"),
            pair("proration_date", "premature end of input")
        );
    }
}
