//! The portal API's OpenAPI 3.1 document, generated from the handlers' annotations and the
//! types they take and return. Served at `GET /v1/openapi.json`; `docs/openapi.json` is the
//! checked-in copy, which a test keeps equal to this.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{accounts, audit, me, members, payments, seat_assignments, seats, statements, usage};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Billing portal API",
        version = "1",
        description = "What a customer's users do in the billing portal: accounts, members, \
statements, payments, payment methods and seats. Every route needs `Authorization: Bearer` with \
a Cognito ID token (API Gateway's JWT authorizer checks it). Amounts are strings in the \
currency's units (`\"12.50\"`), never floats. Errors are `{\"error\": {\"code\", \"message\"}}` \
with a stable `code`."
    ),
    paths(
        me::me,
        accounts::create,
        accounts::get,
        accounts::patch_contact,
        accounts::patch_address,
        accounts::get_recipients,
        accounts::put_recipients,
        members::list,
        members::get,
        members::invite,
        members::change_role,
        members::remove,
        audit::list,
        statements::statement,
        statements::statement_pdf,
        statements::list,
        statements::get,
        statements::pdf,
        statements::billing_portal,
        usage::upcoming,
        usage::usage,
        payments::pay,
        payments::list_methods,
        payments::setup_method,
        payments::set_default,
        payments::remove_method,
        seats::get,
        seats::checkout,
        seats::preview,
        seats::apply,
        seat_assignments::list,
        seat_assignments::assign,
        seat_assignments::unassign,
    ),
    components(schemas(
        crate::error::ErrorResponse,
        crate::error::ErrorDetail,
        crate::error::GatewayUnauthorized,
        billing_domain::FieldError
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "The account's profile, contacts and audit trail"),
        (name = "members", description = "Who on the customer's side has access, with which role"),
        (name = "statements", description = "Invoices, itemized and grouped, and the balance due"),
        (name = "payments", description = "Paying the balance and managing payment methods"),
        (name = "seats", description = "Buying seats and changing their total"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        scheme.description = Some("A Cognito ID token (carries `email` and `email_verified`)".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document as pretty JSON (what `docs/openapi.json` holds).
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serializes") + "\n"
}

/// `GET /v1/openapi.json`
pub async fn serve() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], document())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/openapi.json` is what the code generates. After changing the API, regenerate it:
    /// `UPDATE_OPENAPI=1 cargo test -p portal-api openapi`.
    #[test]
    fn the_checked_in_openapi_document_matches_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        let generated = document();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &generated).expect("write docs/openapi.json");
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            stored == generated,
            "docs/openapi.json differs from the API; regenerate it with \
             `UPDATE_OPENAPI=1 cargo test -p portal-api openapi` and review the diff"
        );
    }

    /// A generated client is only as good as the document: every `$ref` names a schema the
    /// document defines.
    #[test]
    fn every_schema_reference_is_defined() {
        let doc: serde_json::Value = serde_json::from_str(&document()).unwrap();
        let (found, missing) = billing_http::testing::schema_refs(&doc);
        assert!(found.len() > 100, "the document references its schemas");
        assert!(missing.is_empty(), "undefined references: {missing:?}");
    }

    #[test]
    fn every_route_is_documented() {
        let doc = ApiDoc::openapi();
        let operations: usize = doc
            .paths
            .paths
            .values()
            .map(|item| {
                [&item.get, &item.put, &item.post, &item.delete, &item.patch].iter().filter(|o| o.is_some()).count()
            })
            .sum();
        assert_eq!(operations, 33, "one documented operation per route in lib.rs (bar /v1/openapi.json)");
    }
}
