//! The caller (an IAM principal, from API Gateway's IAM authorization) and path ids; JSON bodies
//! are the shared edge's (`billing_http`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use billing_domain::{AccountId, Actor, UserId};
use lambda_http::request::RequestContext;

pub use billing_http::JsonBody;

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

pub fn account_id(raw: &str) -> Result<AccountId, OpsError> {
    raw.parse().map_err(|_| OpsError::NotFound)
}
