//! Request extractors: the caller (from API Gateway's JWT authorizer claims), JSON bodies and path
//! ids, each failing with an [`ApiError`].

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use billing_domain::{AccountId, Actor, Email, MemberId, UserId};
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
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::InvalidBody(serde_message(&e.body_text()))),
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
