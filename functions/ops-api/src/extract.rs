//! The caller and path ids; JSON bodies are the shared edge's (`billing_http`).
//!
//! Two kinds of caller reach these routes, each on its own prefix and authorizer in the HTTP API:
//! an IAM principal (SigV4, `/v1/ops/…` and `/v1/usage`: the seller's scripts and services), and
//! a staff member signed in to the staff user pool (its JWT authorizer, `/v1/staff/…`: the back
//! office). A staff member may do what their roles' permissions allow
//! ([`billing_domain::staff`]); an IAM principal what its IAM policy allows.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use billing_domain::staff::{Permission, Reason, ReasonCode, StaffMember, roles_from_groups};
use billing_domain::{AccountId, Actor, UserId};
use lambda_http::request::RequestContext;

pub use billing_http::JsonBody;

use crate::error::OpsError;

/// The back office's routes.
pub const STAFF_PREFIX: &str = "/v1/staff/";

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// `arn:aws:iam::123456789012:user/ops-ann` (or the role session's ARN).
    Iam {
        arn: String,
    },
    Staff(StaffMember),
}

/// The caller, and the reason their write gives (`Reason-Code` and `Reason-Text` headers; the
/// text percent-encoded UTF-8).
#[derive(Debug, Clone)]
pub struct OpsCaller {
    pub principal: Principal,
    reason: Option<Reason>,
}

impl OpsCaller {
    /// A service of the seller's own (a function acting on an event), known by its role's name.
    pub fn service(name: &str) -> Self {
        Self { principal: Principal::Iam { arn: name.to_owned() }, reason: None }
    }

    /// For audit entries: `iam:<arn>`, or `staff:<sub>` with the staff member's e-mail.
    pub fn actor(&self) -> Actor {
        let (id, email) = match &self.principal {
            Principal::Iam { arn } => (format!("iam:{}", arn.replace('#', "_")), None),
            Principal::Staff(m) => (format!("staff:{}", m.id), m.email.parse().ok()),
        };
        let user_id = id.parse().unwrap_or_else(|_| "unknown".parse::<UserId>().expect("valid"));
        Actor { user_id, email }
    }

    /// Who, in words: the ARN, or the staff member's e-mail.
    pub fn name(&self) -> String {
        match &self.principal {
            Principal::Iam { arn } => arn.clone(),
            Principal::Staff(m) => m.email.clone(),
        }
    }

    pub fn staff(&self) -> Option<&StaffMember> {
        match &self.principal {
            Principal::Staff(m) => Some(m),
            Principal::Iam { .. } => None,
        }
    }

    /// Refuses (403 `forbidden`) a staff member whose roles do not give `p`.
    pub fn require(&self, p: Permission) -> Result<(), OpsError> {
        match &self.principal {
            Principal::Staff(m) if !m.can(p) => Err(OpsError::Forbidden(p)),
            _ => Ok(()),
        }
    }

    /// An entry of the seller's own audit trail (its setup, parked events, bill runs) for a
    /// change this caller made, with the reason they gave.
    pub fn seller_audit<B: serde::Serialize, A: serde::Serialize>(
        &self,
        action: billing_domain::AuditAction,
        target: Option<String>,
        before: Option<&B>,
        after: Option<&A>,
        reason: Option<&Reason>,
    ) -> billing_domain::AuditEntry {
        billing_domain::AuditEntry::record(
            &billing_domain::audit::seller_trail(),
            &self.actor(),
            action,
            target,
            before,
            after,
            chrono::Utc::now(),
        )
        .because(reason)
    }

    /// The reason the request gave (`Reason-Code`, `Reason-Text`), if any.
    pub fn given_reason(&self) -> Option<&Reason> {
        self.reason.as_ref()
    }

    /// [`Self::require`], and the reason a write gives: a staff member's write must give one
    /// (422 `reason_required`); a script's may.
    pub fn write(&self, p: Permission) -> Result<Option<Reason>, OpsError> {
        self.require(p)?;
        match (&self.principal, &self.reason) {
            (Principal::Staff(_), None) => Err(OpsError::ReasonRequired),
            (_, reason) => Ok(reason.clone()),
        }
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// The reason headers, parsed; a code that is not on the list, or text that is not
/// percent-encoded UTF-8, is refused.
fn reason(parts: &Parts) -> Result<Option<Reason>, OpsError> {
    let Some(code) = header(parts, "reason-code") else { return Ok(None) };
    let code: ReasonCode = serde_json::from_value(serde_json::Value::String(code.to_owned())).map_err(|_| {
        let names: Vec<String> = ReasonCode::ALL
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok().and_then(|v| v.as_str().map(str::to_owned)))
            .collect();
        OpsError::InvalidParameter(format!("Reason-Code must be one of {}", names.join(", ")))
    })?;
    let text = match header(parts, "reason-text") {
        None => None,
        Some(raw) => Some(
            percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| OpsError::InvalidParameter("Reason-Text must be percent-encoded UTF-8".into()))?
                .into_owned(),
        ),
    };
    Ok(Some(Reason::parse(code, text.as_deref())?))
}

impl<S: Send + Sync> FromRequestParts<S> for OpsCaller {
    type Rejection = OpsError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, OpsError> {
        // The path as asked for (a nested router sees it without its prefix).
        let path = parts.extensions.get::<axum::extract::OriginalUri>().map_or(parts.uri.path(), |o| o.0.path());
        let staff_route = path.starts_with(STAFF_PREFIX);
        let authorizer = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.authorizer.as_ref(),
            _ => None,
        };
        // Each prefix takes its own kind of caller only (the gateway routes them so; this holds
        // even if a route were misconfigured).
        let principal = if staff_route {
            let claims = authorizer.and_then(|a| a.jwt.as_ref()).map(|j| &j.claims).ok_or(OpsError::StaffOnly)?;
            let id = claims.get("sub").filter(|s| !s.is_empty()).ok_or(OpsError::StaffOnly)?.clone();
            let email = claims.get("email").cloned().unwrap_or_default();
            let roles = claims.get("cognito:groups").map(|g| roles_from_groups(g)).unwrap_or_default();
            Principal::Staff(StaffMember { id, email, roles })
        } else {
            let iam = authorizer.and_then(|a| a.iam.as_ref()).ok_or(OpsError::Unauthenticated)?;
            let arn = iam.user_arn.clone().or_else(|| iam.caller_id.clone()).ok_or(OpsError::Unauthenticated)?;
            Principal::Iam { arn }
        };
        Ok(Self { principal, reason: reason(parts)? })
    }
}

pub fn account_id(raw: &str) -> Result<AccountId, OpsError> {
    raw.parse().map_err(|_| OpsError::NotFound)
}
