//! The portal API's one error type and the one place that maps errors to HTTP.
//!
//! Every error body is `{"error": {"code": "...", "message": "..."}}`, with `details` for field
//! errors. `code` is stable; clients branch on it. Internal details (SDK errors, stored data) are
//! logged, never returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use billing_domain::{Error as DomainError, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication is required")]
    Unauthenticated,
    #[error("verify your e-mail address before creating an account")]
    EmailNotVerified,
    #[error("your role on this account does not allow this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("this method is not allowed on this resource")]
    MethodNotAllowed,
    /// A body of the wrong shape (a missing or unknown field, a wrong type), said of its field.
    #[error("{}: {}", .0.field, .0.message)]
    InvalidBody(FieldError),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{}", contact_sales_message(.0.as_ref()))]
    ContactSales(Option<billing_domain::Email>),
    #[error("this account already has a running subscription; change its seats instead")]
    SubscriptionExists,
    #[error("this account has no seat subscription")]
    SubscriptionNotFound,
    #[error(
        "this account is not billed by contract: its bills come from the card processor, with no usage to date or upcoming bill here"
    )]
    NotContractBilled,
    #[error(
        "this account is billed by invoice, but its contract has not been set up yet: usage to date and the upcoming bill show here once it is; your account manager can say when"
    )]
    ContractNotSetUp,
    #[error("this bill has no PDF")]
    NoPdf,
    #[error("the bill's PDF is being made; try again in a minute")]
    PdfNotReady,
    #[error("this account has no running seat subscription; buy seats first")]
    NoSubscription,
    #[error("this account has no billing customer yet; it gets one with its first purchase")]
    NoBillingCustomer,
    #[error("there is nothing to pay")]
    NothingToPay,
    #[error("{}", invoice_changed_message(.0))]
    InvoiceChanged(Box<ChangedInvoice>),
    #[error("{0} seats are assigned to people; unassign some before going below that")]
    SeatsInUse(u32),
    #[error("this is the account's only payment method and its subscription is billed to it; add another first")]
    PaymentMethodRequired,
    #[error("{0} already holds a seat on this account")]
    SeatAlreadyAssigned(String),
    #[error("this seat is not free; pick an unassigned seat (or buy more seats)")]
    SeatNotFree,
    #[error("this seat is not assigned")]
    SeatNotAssigned,
    #[error(transparent)]
    Domain(#[from] DomainError),
}

/// An invoice as the payment processor has it now, when it differs from what the customer was
/// shown: shown again (and paid only once confirmed, with `expected_amounts`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangedInvoice {
    pub id: String,
    pub status: billing_domain::invoice::InvoiceStatus,
    pub amount_remaining: billing_domain::Money,
}

fn invoice_changed_message(i: &ChangedInvoice) -> String {
    use billing_domain::invoice::InvoiceStatus as S;
    match i.status {
        S::Open => format!(
            "invoice {} changed at the payment processor: {} is left to pay on it now; confirm that amount to pay it",
            i.id, i.amount_remaining
        ),
        S::Paid => format!("invoice {} is already paid", i.id),
        status => format!("invoice {} is {} at the payment processor and cannot be paid", i.id, status.as_str()),
    }
}

fn contact_sales_message(contact: Option<&billing_domain::Email>) -> String {
    match contact {
        Some(c) => format!("this account is billed by invoice contract; contact sales at {c} to change seats"),
        None => "this account is billed by invoice contract; contact sales to change seats".to_owned(),
    }
}

/// Every error response's body, as documented: what [`Body`] serializes to.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// Stable; clients branch on it (`not_found`, `validation_failed`, `contact_sales`, …).
    pub code: String,
    /// For people; may change.
    pub message: String,
    /// The fields that failed validation.
    #[serde(default)]
    pub details: Option<Vec<FieldError>>,
    /// Whom to contact instead (`contact_sales`).
    #[serde(default)]
    pub contact: Option<String>,
    /// The invoice as the payment processor has it now (`invoice_changed`): show it again, and
    /// pay it by sending its `amount_remaining` in `expected_amounts`.
    #[serde(default)]
    pub invoice: Option<ChangedInvoice>,
}

/// What API Gateway's JWT authorizer answers, before the function is reached, for a request
/// without a valid token: `{"message": "Unauthorized"}` (its own body, not [`ErrorResponse`]).
/// The function's own `unauthenticated` (an event without the authorizer's claims) only happens
/// when the gateway is misconfigured.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayUnauthorized {
    /// `Unauthorized`.
    #[schema(example = "Unauthorized")]
    pub message: String,
}

/// The errors a read can answer with (documentation).
#[derive(utoipa::IntoResponses)]
pub enum ReadErrors {
    #[response(status = 400, description = "a malformed query parameter (`invalid_parameter`)")]
    BadRequest(ErrorResponse),
    #[response(
        status = 401,
        description = "no valid token: the gateway's JWT authorizer answers `{\"message\": \"Unauthorized\"}`"
    )]
    Unauthenticated(GatewayUnauthorized),
    #[response(status = 404, description = "no such account for this caller, or no such object (`not_found`)")]
    NotFound(ErrorResponse),
    #[response(status = 503, description = "a dependency failed; retry after `Retry-After` (`service_unavailable`)")]
    Unavailable(ErrorResponse),
}

/// The errors a read restricted by role can answer with (documentation).
#[derive(utoipa::IntoResponses)]
pub enum AdminReadErrors {
    #[response(status = 400, description = "a malformed query parameter (`invalid_parameter`)")]
    BadRequest(ErrorResponse),
    #[response(
        status = 401,
        description = "no valid token: the gateway's JWT authorizer answers `{\"message\": \"Unauthorized\"}`"
    )]
    Unauthenticated(GatewayUnauthorized),
    #[response(status = 403, description = "the caller's role does not allow this (`forbidden`)")]
    Forbidden(ErrorResponse),
    #[response(status = 404, description = "no such account for this caller (`not_found`)")]
    NotFound(ErrorResponse),
    #[response(status = 503, description = "a dependency failed; retry after `Retry-After` (`service_unavailable`)")]
    Unavailable(ErrorResponse),
}

/// The errors a change can answer with (documentation).
#[derive(utoipa::IntoResponses)]
pub enum WriteErrors {
    #[response(status = 400, description = "malformed JSON or header (`invalid_json`, `invalid_parameter`)")]
    BadRequest(ErrorResponse),
    #[response(
        status = 401,
        description = "no valid token: the gateway's JWT authorizer answers `{\"message\": \"Unauthorized\"}`"
    )]
    Unauthenticated(GatewayUnauthorized),
    #[response(status = 403, description = "the role does not allow this, or the e-mail is not verified")]
    Forbidden(ErrorResponse),
    #[response(status = 404, description = "no such account for this caller, or no such object (`not_found`)")]
    NotFound(ErrorResponse),
    #[response(status = 409, description = "conflicts with the current state; `code` says which")]
    Conflict(ErrorResponse),
    #[response(status = 415, description = "the body is not application/json (`unsupported_media_type`)")]
    UnsupportedMediaType(ErrorResponse),
    #[response(status = 422, description = "validation failed; `details` names the fields (`validation_failed`)")]
    Invalid(ErrorResponse),
    #[response(status = 503, description = "a dependency failed; retry after `Retry-After` (`service_unavailable`)")]
    Unavailable(ErrorResponse),
}

impl ApiError {
    /// Status, stable code, and whether the client should retry later.
    fn classify(&self) -> (StatusCode, &'static str) {
        use DomainError as D;
        match self {
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::EmailNotVerified => (StatusCode::FORBIDDEN, "email_not_verified"),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound | ApiError::Domain(D::NotFound) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::InvalidParameter(_) => (StatusCode::BAD_REQUEST, "invalid_parameter"),
            ApiError::InvalidBody(_) | ApiError::Domain(D::Invalid(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
            }
            ApiError::ContactSales(_) => (StatusCode::CONFLICT, "contact_sales"),
            ApiError::SubscriptionExists => (StatusCode::CONFLICT, "subscription_exists"),
            ApiError::SubscriptionNotFound => (StatusCode::NOT_FOUND, "no_subscription"),
            ApiError::NotContractBilled => (StatusCode::NOT_FOUND, "not_contract_billed"),
            ApiError::ContractNotSetUp => (StatusCode::NOT_FOUND, "contract_not_set_up"),
            ApiError::NoPdf => (StatusCode::NOT_FOUND, "no_pdf"),
            ApiError::PdfNotReady => (StatusCode::CONFLICT, "pdf_not_ready"),
            ApiError::NoSubscription => (StatusCode::CONFLICT, "no_subscription"),
            ApiError::NoBillingCustomer => (StatusCode::CONFLICT, "no_billing_customer"),
            ApiError::NothingToPay => (StatusCode::CONFLICT, "nothing_to_pay"),
            ApiError::InvoiceChanged(_) => (StatusCode::CONFLICT, "invoice_changed"),
            ApiError::SeatsInUse(_) => (StatusCode::CONFLICT, "seats_in_use"),
            ApiError::PaymentMethodRequired => (StatusCode::CONFLICT, "payment_method_required"),
            ApiError::SeatAlreadyAssigned(_) => (StatusCode::CONFLICT, "already_assigned"),
            ApiError::SeatNotFree => (StatusCode::CONFLICT, "seat_not_free"),
            ApiError::SeatNotAssigned => (StatusCode::CONFLICT, "seat_not_assigned"),
            ApiError::Domain(D::LastAdmin) => (StatusCode::CONFLICT, "last_admin"),
            ApiError::Domain(D::MemberExists) => (StatusCode::CONFLICT, "member_exists"),
            ApiError::Domain(D::AlreadyMember) => (StatusCode::CONFLICT, "already_member"),
            ApiError::Domain(D::Conflict) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Domain(D::IdempotencyKeyReused) => (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
            ApiError::Domain(D::RequestInProgress) => (StatusCode::CONFLICT, "request_in_progress"),
            ApiError::Domain(D::Unavailable(_)) => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            ApiError::Domain(D::Corrupt(_)) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.classify();
        if status.is_server_error() {
            tracing::error!(error = %self, source = ?std::error::Error::source(&self), code, "request failed");
        }
        let details: &[FieldError] = match &self {
            ApiError::Domain(DomainError::Invalid(fields)) => fields,
            ApiError::InvalidBody(field) => std::slice::from_ref(field),
            _ => &[],
        };
        let contact = match &self {
            ApiError::ContactSales(c) => c.as_ref().map(|c| c.as_str()),
            _ => None,
        };
        let invoice = match &self {
            ApiError::InvoiceChanged(i) => serde_json::to_value(i).ok(),
            _ => None,
        };
        billing_http::error_response(
            status,
            code,
            &self,
            billing_http::Extra { details, contact, invoice: invoice.as_ref() },
        )
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    async fn render(e: ApiError) -> (StatusCode, serde_json::Value, Option<String>) {
        billing_http::testing::read(e.into_response()).await
    }

    #[tokio::test]
    async fn server_errors_hide_their_cause() {
        let (status, body, retry) = render(DomainError::Corrupt("item ACCOUNT#acct_1 has no name".into()).into()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, serde_json::json!({"error": {"code": "internal", "message": "internal error"}}));
        assert_eq!(retry, None);

        let io = std::io::Error::other("dispatch failure: connection refused 10.0.0.1:443");
        let (status, body, retry) = render(DomainError::unavailable(io).into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], "service_unavailable");
        assert!(!body.to_string().contains("10.0.0.1"));
        assert_eq!(retry.as_deref(), Some("1"));
    }

    #[tokio::test]
    async fn the_documented_error_shape_is_the_one_sent() {
        let sales: billing_domain::Email = "sales@seller.example".parse().unwrap();
        for e in [
            ApiError::ContactSales(Some(sales)),
            DomainError::Invalid(vec![FieldError::new("quantity", "must be 1 to 500")]).into(),
            ApiError::NotFound,
        ] {
            let (_, body, _) = render(e).await;
            let parsed: ErrorResponse = serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert!(!parsed.error.code.is_empty());
        }
    }

    #[tokio::test]
    async fn field_errors_come_with_details() {
        let e = DomainError::Invalid(vec![FieldError::new("billing_contact.email", "is not a valid e-mail address")]);
        let (status, body, _) = render(e.into()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(
            body["error"]["details"],
            serde_json::json!([{"field": "billing_contact.email", "message": "is not a valid e-mail address"}])
        );
    }

    #[test]
    fn every_domain_error_has_a_client_or_server_status() {
        use DomainError as D;
        for (e, code) in [
            (D::NotFound, "not_found"),
            (D::LastAdmin, "last_admin"),
            (D::MemberExists, "member_exists"),
            (D::AlreadyMember, "already_member"),
            (D::Conflict, "conflict"),
            (D::IdempotencyKeyReused, "idempotency_key_reused"),
            (D::RequestInProgress, "request_in_progress"),
        ] {
            let (status, got) = ApiError::from(e).classify();
            assert_eq!(got, code);
            assert!(status.is_client_error());
        }
    }
}
