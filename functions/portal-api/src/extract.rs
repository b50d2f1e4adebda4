//! Request extractors: the caller (from API Gateway's JWT authorizer claims), JSON bodies and path
//! ids, each failing with an [`ApiError`].

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use billing_domain::{AccountId, Actor, Email, FieldError, MemberId, UserId};
use lambda_http::request::RequestContext;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The signed-in user, as API Gateway's JWT authorizer vouches for them.
///
/// API Gateway (HTTP API) verifies the token and puts its claims, as strings, in
/// `requestContext.authorizer.jwt.claims`; lambda_http hands that context to the router as a
/// request extension. The local stack plays the same part, so this is the only way in.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub email: Option<Email>,
    pub email_verified: bool,
}

impl Caller {
    /// The e-mail address if the identity provider verified it.
    pub fn verified_email(&self) -> Option<&Email> {
        self.email.as_ref().filter(|_| self.email_verified)
    }

    pub fn actor(&self) -> Actor {
        Actor { user_id: self.user_id.clone(), email: self.email.clone() }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let claims = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => {
                ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|jwt| &jwt.claims)
            }
            _ => None,
        }
        .ok_or(ApiError::Unauthenticated)?;
        let user_id = claims.get("sub").and_then(|s| s.parse().ok()).ok_or(ApiError::Unauthenticated)?;
        Ok(Caller {
            user_id,
            email: claims.get("email").and_then(|e| e.parse().ok()),
            email_verified: claims.get("email_verified").is_some_and(|v| v == "true"),
        })
    }
}

/// A JSON body whose rejections are API errors: malformed JSON is 400 `invalid_json`, a body of
/// the wrong shape (unknown or missing fields, wrong types) is 422 `validation_failed`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::InvalidBody(body_error(&e.body_text()))),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::InvalidJson(serde_message(&e.body_text()))),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType),
            Err(other) => Err(ApiError::InvalidJson(other.body_text())),
        }
    }
}

/// A JSON body that may be left out: an empty body is `T::default()`; one that is sent is read
/// like [`JsonBody`].
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.map_err(|e| ApiError::InvalidJson(e.to_string()))?;
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

/// A path id that does not parse names nothing that exists: 404, like an unknown id.
pub fn account_id(raw: &str) -> Result<AccountId, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

pub fn member_id(raw: &str) -> Result<MemberId, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// A page size from the `limit` query parameter: `default` when absent, else 1 to `max`.
pub fn limit(raw: Option<&str>, default: u16, max: u16) -> Result<u16, ApiError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u16>()
            .ok()
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| ApiError::InvalidParameter(format!("limit must be a whole number from 1 to {max}"))),
    }
}

/// The `Idempotency-Key` request header: absent, or 1 to 255 printable ASCII characters; anything
/// else is a 400, never silently ignored.
pub fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(raw) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    raw.to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(Some)
        .ok_or_else(|| ApiError::InvalidParameter("Idempotency-Key must be 1 to 255 printable ASCII characters".into()))
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
