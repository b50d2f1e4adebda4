//! The caller (an IAM principal, from API Gateway's IAM authorization) and JSON bodies.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use billing_domain::{AccountId, Actor, UserId};
use lambda_http::request::RequestContext;
use serde::de::DeserializeOwned;

use crate::error::OpsError;

/// The IAM principal API Gateway authorized (`requestContext.authorizer.iam`).
#[derive(Debug, Clone)]
pub struct OpsCaller {
    /// `arn:aws:iam::123456789012:user/ops-ann` (or the role session's ARN).
    pub arn: String,
}

impl OpsCaller {
    /// For audit entries: the principal, as `iam:<arn>`.
    pub fn actor(&self) -> Actor {
        let id = format!("iam:{}", self.arn.replace('#', "_"));
        let user_id = id.parse().unwrap_or_else(|_| "iam:unknown".parse::<UserId>().expect("valid"));
        Actor { user_id, email: None }
    }

    pub fn name(&self) -> String {
        self.arn.clone()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for OpsCaller {
    type Rejection = OpsError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, OpsError> {
        let iam = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.authorizer.as_ref().and_then(|a| a.iam.as_ref()),
            _ => None,
        }
        .ok_or(OpsError::Unauthenticated)?;
        let arn = iam.user_arn.clone().or_else(|| iam.caller_id.clone()).ok_or(OpsError::Unauthenticated)?;
        Ok(Self { arn })
    }
}

/// A JSON body: malformed JSON is 400 `invalid_json`; the wrong shape is 422 `validation_failed`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = OpsError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OpsError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(OpsError::InvalidBody(serde_message(&e.body_text()))),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(OpsError::InvalidJson(serde_message(&e.body_text()))),
            Err(other) => Err(OpsError::InvalidJson(other.body_text())),
        }
    }
}

fn serde_message(text: &str) -> String {
    ["Failed to deserialize the JSON body into the target type: ", "Failed to parse the request body as JSON: "]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))
        .unwrap_or(text)
        .to_owned()
}

pub fn account_id(raw: &str) -> Result<AccountId, OpsError> {
    raw.parse().map_err(|_| OpsError::NotFound)
}
