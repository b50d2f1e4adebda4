//! The customer portal, customers, payment methods and invoices (read, pay, hosted page).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use super::*;

pub(super) async fn create_portal(State(fake): State<FakeStripe>, headers: HeaderMap, body: String) -> Response {
    guard!(headers);
    let f = form(&body);
    let Some(customer) = f.get("customer").filter(|c| fake.get(c).is_some()) else {
        return respond(bad_param("customer", format!("No such customer: '{}'", f.get("customer").map_or("", |c| c))));
    };
    let id = fake.next_id("bps");
    let mut s = template("billing_portal_session");
    s["id"] = json!(id);
    s["customer"] = json!(customer);
    s["return_url"] = json!(f.get("return_url"));
    s["url"] = json!(format!("{}/billing_portal/{id}", fake.base_url()));
    s["created"] = json!(now());
    s["livemode"] = json!(false);
    fake.put(s.clone());
    axum::Json(s).into_response()
}

pub(super) async fn portal_page(State(fake): State<FakeStripe>, Path(id): Path<String>) -> Response {
    match fake.get(&id) {
        Some(s) => Html(format!(
            "<!doctype html><html lang=en><title>Fake customer portal</title><main><h1>Fake Stripe customer portal</h1>\
             <p>Customer <code>{}</code>: receipts, invoice PDFs and payment history would be here.</p>\
             <p><a href=\"{}\">Return to the billing portal</a></p></main></html>",
            html_escape(s["customer"].as_str().unwrap_or("")),
            html_escape(s["return_url"].as_str().unwrap_or(""))
        ))
        .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

pub(super) async fn hosted_invoice_page(State(fake): State<FakeStripe>, Path(id): Path<String>) -> Response {
    match fake.get(&id).filter(|i| i["object"] == "invoice") {
        Some(i) => Html(format!(
            "<!doctype html><title>Invoice {n}</title><h1>Invoice {n}</h1><p>Status {s}; amount due {d}.</p>",
            n = i["number"].as_str().unwrap_or(""),
            s = i["status"].as_str().unwrap_or(""),
            d = money(i["amount_remaining"].as_i64().unwrap_or(0), i["currency"].as_str().unwrap_or("usd")),
        ))
        .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

pub(super) async fn customer(State(fake): State<FakeStripe>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    super::objects::object("customer", fake, headers, id).await
}

pub(super) async fn update_customer(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    guard!(headers);
    let f = form(&body);
    let mut c = match fake.stored("customer", &id) {
        Ok(c) => c,
        Err(f) => return respond(f),
    };
    if let Some(pm) = f.get("invoice_settings[default_payment_method]") {
        if fake.get(pm).is_none_or(|p| p["customer"].as_str() != Some(id.as_str())) {
            return respond(bad_param(
                "invoice_settings[default_payment_method]",
                format!("No such PaymentMethod: '{pm}' attached to this customer"),
            ));
        }
        let previous = c["invoice_settings"]["default_payment_method"].clone();
        c["invoice_settings"]["default_payment_method"] = json!(pm);
        fake.put(c.clone());
        fake.emit("customer.updated", &c, Some(json!({"invoice_settings": {"default_payment_method": previous}})));
    }
    axum::Json(c).into_response()
}

pub(super) async fn detach(State(fake): State<FakeStripe>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    guard!(headers);
    let mut pm = match fake.stored("payment_method", &id) {
        Ok(pm) => pm,
        Err(f) => return respond(f),
    };
    let Some(customer) = pm["customer"].as_str().map(str::to_owned) else {
        return error(
            StatusCode::BAD_REQUEST,
            Some("payment_method_unexpected_state"),
            "The payment method is not attached to a customer.".into(),
        );
    };
    pm["customer"] = Value::Null;
    fake.put(pm.clone());
    fake.emit("payment_method.detached", &pm, Some(json!({"customer": customer})));
    if let Some(mut c) = fake.get(&customer)
        && c["invoice_settings"]["default_payment_method"].as_str() == Some(id.as_str())
    {
        c["invoice_settings"]["default_payment_method"] = Value::Null;
        fake.put(c.clone());
        fake.emit("customer.updated", &c, Some(json!({"invoice_settings": {"default_payment_method": id}})));
    }
    axum::Json(pm).into_response()
}

pub(super) async fn invoice(State(fake): State<FakeStripe>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    super::objects::object("invoice", fake, headers, id).await
}

pub(super) async fn pay(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    guard!(headers);
    let f = form(&body);
    once(&fake, &headers, || {
        reply((|| {
            let inv = fake.stored("invoice", &id)?;
            if inv["status"] != "open" {
                let message = format!("Invoice {id} is not open.");
                return Err(fail(StatusCode::BAD_REQUEST, "invalid_request_error", "invoice_not_open", message));
            }
            if f.get("paid_out_of_band").map(String::as_str) != Some("true") {
                let pm = f.get("payment_method").cloned().unwrap_or_default();
                if fake.billing.lock().expect("fake Stripe state").declining.contains(&pm) {
                    let mut f = fail(
                        StatusCode::PAYMENT_REQUIRED,
                        "card_error",
                        "card_declined",
                        "Your card was declined.".into(),
                    );
                    f.1["error"]["decline_code"] = json!("generic_decline");
                    return Err(f);
                }
            }
            Ok(fake.mark_paid(&id))
        })())
    })
}
