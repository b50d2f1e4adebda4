//! Request extractors: the caller (from API Gateway's JWT authorizer claims) and path ids, each
//! failing with an [`ApiError`]; JSON bodies are the shared edge's (`billing_http`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use billing_domain::{AccountId, Actor, Email, MemberId, UserId};
use lambda_http::request::RequestContext;

pub use billing_http::{JsonBody, OptionalJson};

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
