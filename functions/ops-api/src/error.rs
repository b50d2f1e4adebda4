//! The ops API's one error type and the one place that maps errors to HTTP. Bodies are
//! `{"error": {"code", "message", "details"?}}` like the portal's; internal details are logged,
//! never returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use billing_domain::{Error as DomainError, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("these routes need IAM authorization (a SigV4-signed request)")]
    Unauthenticated,
    #[error("these routes are for the seller's staff, signed in to the staff console")]
    StaffOnly,
    #[error("your staff roles do not allow this (it needs `{0}`)")]
    Forbidden(billing_domain::staff::Permission),
    #[error("say why: a staff change needs a Reason-Code header (and Reason-Text for `other`)")]
    ReasonRequired,
    #[error("you asked for this credit note; another approver must decide it")]
    OwnRequest,
    #[error("you made these drafts; another approver must approve them")]
    OwnDrafts,
    #[error("this bill run {0}")]
    BillRunState(String),
    #[error("{0} is after today ({1}): bills are made for days that have come")]
    BillDateInFuture(chrono::NaiveDate, chrono::NaiveDate),
    #[error(
        "staff make, approve and finalize bills through the bill run's review (its drafts, approve and finalize routes)"
    )]
    ReviewRequired,
    #[error("the lockbox file is refused, nothing applied: {0}")]
    FileRefused(billing_domain::lockbox::FileError),
    #[error("this request was already {0}")]
    AlreadyDecided(&'static str),
    #[error("not found")]
    NotFound,
    #[error("this method is not allowed on this resource")]
    MethodNotAllowed,
    #[error("{0}")]
    InvalidParameter(String),
    #[error("the batch has {0} records; send at most {1}")]
    BatchTooLarge(usize, usize),
    #[error("invoice {0} is {1}; {2}")]
    InvoiceState(String, &'static str, &'static str),
    #[error("account {0} already exists")]
    AccountExists(String),
    #[error("no cohort `{0}`; create it first")]
    NoCohort(String),
    #[error("the account is not billed by contract here")]
    NotContractBilled,
    #[error(transparent)]
    Run(#[from] bill_run::RunError),
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl OpsError {
    fn classify(&self) -> (StatusCode, &'static str) {
        use DomainError as D;
        match self {
            Self::Unauthenticated => (StatusCode::FORBIDDEN, "iam_required"),
            Self::StaffOnly => (StatusCode::UNAUTHORIZED, "staff_only"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::ReasonRequired => (StatusCode::UNPROCESSABLE_ENTITY, "reason_required"),
            Self::OwnRequest => (StatusCode::FORBIDDEN, "own_request"),
            Self::AlreadyDecided(_) => (StatusCode::CONFLICT, "already_decided"),
            Self::OwnDrafts => (StatusCode::FORBIDDEN, "own_request"),
            Self::BillRunState(_) => (StatusCode::CONFLICT, "bill_run_state"),
            Self::BillDateInFuture(..) => (StatusCode::UNPROCESSABLE_ENTITY, "bill_date_in_future"),
            Self::ReviewRequired => (StatusCode::FORBIDDEN, "review_required"),
            Self::FileRefused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "file_refused"),
            Self::NotFound | Self::Domain(D::NotFound) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::InvalidParameter(_) => (StatusCode::BAD_REQUEST, "invalid_parameter"),
            Self::BatchTooLarge(..) => (StatusCode::PAYLOAD_TOO_LARGE, "batch_too_large"),
            Self::Domain(D::Invalid(_)) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Self::InvoiceState(..) => (StatusCode::CONFLICT, "invoice_state"),
            Self::AccountExists(_) => (StatusCode::CONFLICT, "account_exists"),
            Self::NoCohort(_) => (StatusCode::NOT_FOUND, "no_cohort"),
            Self::NotContractBilled => (StatusCode::CONFLICT, "not_contract_billed"),
            Self::Domain(D::Conflict) => (StatusCode::CONFLICT, "conflict"),
            Self::Domain(D::MemberExists) => (StatusCode::CONFLICT, "member_exists"),
            Self::Domain(D::LastAdmin) => (StatusCode::CONFLICT, "last_admin"),
            Self::Domain(D::Unavailable(_)) => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            Self::Run(e) if e.is_transient() => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            Self::Run(_) | Self::Domain(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for OpsError {
    fn into_response(self) -> Response {
        let (status, code) = self.classify();
        if status.is_server_error() {
            tracing::error!(error = %self, code, "request failed");
        }
        let details: &[FieldError] = match &self {
            Self::Domain(DomainError::Invalid(fields)) => fields,
            _ => &[],
        };
        billing_http::error_response(status, code, &self, billing_http::Extra { details, ..Default::default() })
    }
}

pub type OpsResult<T> = Result<T, OpsError>;

#[cfg(test)]
mod tests {
    use super::*;

    async fn render(e: OpsError) -> (StatusCode, serde_json::Value, Option<String>) {
        billing_http::testing::read(e.into_response()).await
    }

    #[tokio::test]
    async fn dependency_failures_ask_for_a_retry_and_hide_their_cause() {
        let io = std::io::Error::other("dispatch failure: 10.0.0.7:443 refused");
        let (status, body, retry) = render(DomainError::unavailable(io).into()).await;
        assert_eq!((status, retry.as_deref()), (StatusCode::SERVICE_UNAVAILABLE, Some("1")));
        assert_eq!(body["error"]["code"], "service_unavailable");
        assert!(!body.to_string().contains("10.0.0.7"));
        let (status, body, _) =
            render(DomainError::Corrupt("item CONTRACT of acct_x has no bill day".into()).into()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, serde_json::json!({"error": {"code": "internal", "message": "internal error"}}));
    }

    #[tokio::test]
    async fn client_errors_carry_a_stable_code_and_field_details() {
        let (status, body, _) = render(DomainError::invalid("amount", "must be positive").into()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
        );
        assert_eq!(body["error"]["details"][0]["field"], "amount");
        let (status, body, _) =
            render(OpsError::InvoiceState("bill_x".into(), "paid", "only open invoices take payments")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("invoice_state")));
        let (status, _, _) = render(OpsError::BatchTooLarge(1001, 1000)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let (status, body, _) = render(OpsError::Unauthenticated).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("iam_required")));
    }
}
