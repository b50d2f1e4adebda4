//! The back office's OpenAPI 3.1 document (the `/v1/staff` routes the console calls), generated
//! from the handlers' annotations and the types they take and return. `docs/staff-openapi.json`
//! is the checked-in copy, which a test keeps equal to this; the console's client is generated
//! from it.

use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

/// The error body every refusal has: a stable `code`, a sentence, and the fields at fault.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// `forbidden`, `reason_required`, `own_request`, `already_decided`, `validation_failed`, …
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub details: Vec<billing_domain::FieldError>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Billing back office API",
        version = "1",
        description = "What the seller's staff do in the back office. Every route needs \
`Authorization: Bearer` with an ID token of the staff user pool (API Gateway's StaffJwt authorizer \
checks it); the caller's `cognito:groups` are their roles, each route needs one permission \
(`resource:action`) and answers 403 `forbidden` without it. Writes say why: a `Reason-Code` header \
from the documented list and `Reason-Text` (percent-encoded), else 422 `reason_required`. Amounts \
are strings in the currency's units (`\"12.50\"`)."
    ),
    paths(
        crate::staff::me,
        crate::staff::search,
        crate::ops::account,
        crate::staff::audit,
        crate::staff::seller_audit,
        crate::ops::members,
        crate::ops::invite,
        crate::ops::remove_member,
        crate::ledger::record_payment,
        crate::ledger::record_check,
        crate::returns::return_payment,
        crate::ledger::credit_note,
        crate::ledger::write_off,
        crate::staff::approvals,
        crate::staff::approve,
        crate::staff::reject,
        crate::receivables::report,
        crate::billruns::list,
        crate::billruns::preview,
        crate::billruns::draft,
        crate::billruns::approve,
        crate::billruns::finalize,
        crate::ops::list_prices,
        crate::ops::put_price,
        crate::ops::list_cohorts,
        crate::ops::put_cohort,
        crate::ops::import,
        crate::reminders::get_schedule,
        crate::reminders::put_schedule,
        crate::reminders::pause,
        crate::parked::list,
        crate::parked::discard,
        crate::lockbox::import,
        crate::lockbox::files,
        crate::lockbox::exceptions,
        crate::lockbox::resolve,
        crate::lockbox::return_check,
    ),
    modifiers(&StaffAuth),
    tags((name = "staff", description = "The signed-in staff member, the four-eyes queue, audit"),
        (name = "bill runs", description = "A bill date's preview, its drafts, a second person's approval, finalizing"),
        (name = "catalog", description = "Prices, cohorts and their import"),
        (name = "settings", description = "The seller's reminder schedule"),
        (name = "parked events", description = "Stripe events linked to no account, and discarding them"),
        (name = "lockbox", description = "The bank's lockbox files, their checks applied, and the exceptions queue")),
)]
pub struct StaffApiDoc;

struct StaffAuth;

impl utoipa::Modify for StaffAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("staff", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The document as checked in: pretty JSON, one trailing newline.
pub fn document() -> String {
    let mut text = StaffApiDoc::openapi().to_pretty_json().expect("the document serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/staff-openapi.json` is what the code generates. After changing these routes,
    /// regenerate it: `UPDATE_OPENAPI=1 cargo test -p ops-api openapi`.
    #[test]
    fn the_checked_in_openapi_document_matches_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/staff-openapi.json");
        let generated = document();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &generated).expect("write docs/staff-openapi.json");
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            stored == generated,
            "docs/staff-openapi.json differs from the API; regenerate it with \
             `UPDATE_OPENAPI=1 cargo test -p ops-api openapi` and review the diff"
        );
    }

    /// Every `$ref` names a schema the document defines, and every route it documents exists.
    #[test]
    fn every_schema_reference_is_defined_and_every_path_is_routed() {
        let doc: serde_json::Value = serde_json::from_str(&document()).unwrap();
        let (found, missing) = billing_http::testing::schema_refs(&doc);
        assert!(found.len() > 20, "the document references its schemas");
        assert!(missing.is_empty(), "undefined references: {missing:?}");
        let lib = include_str!("lib.rs");
        for path in doc["paths"].as_object().unwrap().keys() {
            let relative = path.strip_prefix("/v1/staff").unwrap();
            assert!(lib.contains(&format!("\"{relative}\"")), "{path} is not routed");
        }
    }

    /// Two types of one name would share one schema (the last wins): the staff roles and a
    /// customer member's role are told apart.
    #[test]
    fn staff_roles_and_customer_roles_are_different_schemas() {
        let doc: serde_json::Value = serde_json::from_str(&document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["StaffRole"]["enum"], serde_json::json!(["clerk", "approver", "admin"]));
        assert_eq!(schemas["Role"]["enum"], serde_json::json!(["admin", "billing", "viewer"]));
        assert_eq!(schemas["StaffMember"]["properties"]["roles"]["items"]["$ref"], "#/components/schemas/StaffRole");
    }
}
