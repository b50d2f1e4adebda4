//! The single table's key layout. `docs/data-model.md` lists every access pattern and the key that
//! serves it; this module is the only place that spells keys.

use billing_domain::{AccountId, AuditId, Email, MemberId, UserId};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
/// The receivables index: only open invoices with money left to pay carry its keys.
pub const GSI2: &str = "gsi2";
pub const GSI2_PK: &str = "gsi2pk";
pub const GSI2_SK: &str = "gsi2sk";

pub const GSI3: &str = "gsi3";
pub const GSI3_PK: &str = "gsi3pk";
pub const GSI3_SK: &str = "gsi3sk";
/// A subscription's stamp time in epoch seconds (N), beside its `stamp`: what a write conditioned
/// on "older than this event" compares.
pub const STAMP_AT: &str = "stamp_at";
/// Epoch seconds after which DynamoDB's TTL deletes the item.
pub const EXPIRES_AT: &str = "expires_at";

pub const ACCOUNT_SK: &str = "ACCOUNT";
pub const MEMBER_PREFIX: &str = "MEMBER#";
pub const AUDIT_PREFIX: &str = "AUDIT#";
pub const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";

pub fn account_pk(id: &AccountId) -> String {
    format!("ACCOUNT#{id}")
}

pub fn member_sk(id: &MemberId) -> String {
    format!("{MEMBER_PREFIX}{id}")
}

/// The caller's membership ("grant"), keyed by their user id so authorization is one read.
pub fn grant_sk(user: &UserId) -> String {
    format!("GRANT#{user}")
}

/// Guards one membership per e-mail address per account.
pub fn email_sk(email: &Email) -> String {
    format!("EMAIL#{email}")
}

pub fn audit_sk(id: &AuditId) -> String {
    format!("{AUDIT_PREFIX}{id}")
}

pub fn user_gsi1pk(user: &UserId) -> String {
    format!("USER#{user}")
}

pub fn invite_gsi1pk(email: &Email) -> String {
    format!("INVITE#{email}")
}

pub fn idempotency_pk(scope: &str) -> String {
    format!("IDEMPOTENCY#{scope}")
}

pub const EVENT_SK: &str = "EVENT";
pub const LINK_SK: &str = "LINK";

/// The exactly-once ledger entry of one processor event.
pub fn stripe_event_pk(event_id: &str) -> String {
    format!("STRIPE_EVENT#{event_id}")
}

/// Which account a processor customer bills.
pub fn stripe_customer_pk(customer_id: &str) -> String {
    format!("STRIPE_CUSTOMER#{customer_id}")
}

/// An event parked under its customer until the customer is linked: sorted in Stripe's order.
pub fn parked_sk(created: i64, event_id: &str) -> String {
    format!("{PARKED_PREFIX}{}", parked_order(created, event_id))
}

pub const PARKED_PREFIX: &str = "PARKED#";

/// Every parked event, across customers, in the index: `gsi1pk` = [`PARKED_GSI1PK`], `gsi1sk`
/// = [`parked_order`].
pub const PARKED_GSI1PK: &str = "PARKED";

/// Stripe's order: `created` (zero-padded epoch seconds), then the event id.
pub fn parked_order(created: i64, event_id: &str) -> String {
    format!("{:012}#{event_id}", created.max(0))
}

pub fn subscription_sk(subscription_id: &str) -> String {
    format!("SUBSCRIPTION#{subscription_id}")
}

/// A follow-up work item, unique per causing event and kind.
pub fn work_sk(event_id: &str, kind: &str) -> String {
    format!("WORK#{event_id}#{kind}")
}

pub const INVOICE_PREFIX: &str = "INVOICE#";

pub fn invoice_sk(invoice_id: &str) -> String {
    format!("{INVOICE_PREFIX}{invoice_id}")
}

pub fn payment_method_sk(payment_method_id: &str) -> String {
    format!("PAYMENT_METHOD#{payment_method_id}")
}

pub const DEFAULT_PAYMENT_METHOD_SK: &str = "DEFAULT_PAYMENT_METHOD";

/// A processor product (its name, for bills), one item per product.
pub fn stripe_product_pk(product_id: &str) -> String {
    format!("STRIPE_PRODUCT#{product_id}")
}

pub const PRODUCT_SK: &str = "PRODUCT";

/// Missed-event recovery's progress through Stripe's event list.
pub const RECOVERY_PK: &str = "STRIPE_RECOVERY";
pub const RECOVERY_SK: &str = "WATERMARK";

/// A card payment (charge) and its refunds and dispute.
pub fn payment_sk(charge_id: &str) -> String {
    format!("PAYMENT#{charge_id}")
}

/// The account's side of its customer link: which processor customer pays for it.
pub const CUSTOMER_SK: &str = "STRIPE_CUSTOMER";

/// The account's invoices on the index, newest first by `invoice_gsi1sk`.
pub fn invoices_gsi1pk(account: &AccountId) -> String {
    format!("INVOICES#{account}")
}

/// Orders invoices by creation time (zero-padded epoch seconds), then id.
pub fn invoice_gsi1sk(created: chrono::DateTime<chrono::Utc>, invoice_id: &str) -> String {
    format!("{:012}#{invoice_id}", created.timestamp().max(0))
}

pub const SEAT_PREFIX: &str = "SEAT#";
/// The version of an account's seats: every seat change is conditional on it.
pub const SEATS_SK: &str = "SEATS";

pub fn seat_sk(id: &billing_domain::SeatId) -> String {
    format!("{SEAT_PREFIX}{id}")
}

/// One send of one mail (kind, subject, recipient): claimed before sending.
pub fn mail_pk(id: &str) -> String {
    format!("MAIL#{id}")
}
pub const MAIL_SK: &str = "SEND";

/// An address not to mail (bounced, complained).
pub fn suppressed_pk(email: &Email) -> String {
    format!("SUPPRESSED#{email}")
}
pub const SUPPRESSED_SK: &str = "EMAIL";

// ---- contract (invoice-mode) billing ----

/// An invoice-mode account's contract state, on the bill-due index by next bill date.
pub const CONTRACT_SK: &str = "CONTRACT";
pub const BILL_DUE_GSI1PK: &str = "BILL_DUE";

pub fn bill_due_gsi1sk(next_bill_date: chrono::NaiveDate, account: &AccountId) -> String {
    format!("{next_bill_date}#{account}")
}

/// The usage records of one account's bill (its bucket).
pub fn usage_pk(account: &AccountId, bucket: chrono::NaiveDate) -> String {
    format!("USAGE#{account}#{bucket}")
}

pub fn usage_sk(timestamp: chrono::DateTime<chrono::Utc>, key: &str) -> String {
    format!("{:013}#{key}", timestamp.timestamp_millis().max(0))
}

/// One usage idempotency key of an account: its own partition, so millions spread out.
pub fn usage_key_pk(account: &AccountId, key: &str) -> String {
    format!("USAGE_KEY#{account}#{key}")
}
pub const USAGE_KEY_SK: &str = "KEY";

/// A gap-free sequence of the seller (invoice and credit-note numbers).
pub fn sequence_pk(name: &str) -> String {
    format!("SEQUENCE#{name}")
}
pub const SEQUENCE_SK: &str = "SEQUENCE";

pub const CATALOG_PK: &str = "CATALOG";
pub const PRICE_PREFIX: &str = "PRICE#";

pub fn price_sk(id: &billing_domain::catalog::PriceId) -> String {
    format!("{PRICE_PREFIX}{id}")
}

pub const TAX_RATE_PREFIX: &str = "TAX_RATE#";

pub fn tax_rate_sk(code: &billing_domain::tax::TaxCode) -> String {
    format!("{TAX_RATE_PREFIX}{code}")
}

pub const COHORTS_PK: &str = "COHORTS";
pub const COHORT_PREFIX: &str = "COHORT#";

pub fn cohort_sk(id: &str) -> String {
    format!("{COHORT_PREFIX}{id}")
}

/// A cohort's members: one item per account under the cohort.
pub fn cohort_pk(id: &str) -> String {
    format!("{COHORT_PREFIX}{id}")
}

pub const RECEIVED_PAYMENT_PREFIX: &str = "RECEIVED_PAYMENT#";

/// A payment received outside the processor (a check), by its reference.
pub fn received_payment_sk(reference: &str) -> String {
    format!("{RECEIVED_PAYMENT_PREFIX}{reference}")
}

pub const CREDIT_NOTE_PREFIX: &str = "CREDIT_NOTE#";

pub fn credit_note_sk(id: &str) -> String {
    format!("{CREDIT_NOTE_PREFIX}{id}")
}

/// The seller's settings: one item each under this partition.
pub const SETTINGS_PK: &str = "SETTINGS";
pub const REMINDER_SCHEDULE_SK: &str = "REMINDER_SCHEDULE";
/// The seller's tax settings (country, VAT number, default codes).
pub const SELLER_TAX_SK: &str = "SELLER_TAX";

/// The reminder steps queued for one bill (`steps`, a number set).
pub fn reminders_sk(invoice_id: &str) -> String {
    format!("REMINDERS#{invoice_id}")
}

/// Every open invoice with money left to pay, across accounts, in the receivables index:
/// `gsi2pk` = [`RECEIVABLE_GSI2PK`], `gsi2sk` = [`receivable_gsi2sk`] (due date first).
pub const RECEIVABLE_GSI2PK: &str = "RECEIVABLE";

pub fn receivable_gsi2sk(due: chrono::NaiveDate, account: &AccountId, invoice_id: &str) -> String {
    format!("{due}#{account}#{invoice_id}")
}

/// The account and invoice of a [`receivable_gsi2sk`].
pub fn parse_receivable_gsi2sk(sk: &str) -> Option<(AccountId, &str)> {
    let mut parts = sk.splitn(3, '#');
    let (_due, account, invoice) = (parts.next()?, parts.next()?, parts.next()?);
    Some((account.parse().ok()?, invoice))
}

/// Four-eyes requests: one partition, listed whole (a queue staff work through, small).
pub const APPROVALS_PK: &str = "APPROVALS";
pub const APPROVAL_PREFIX: &str = "APPROVAL#";

pub fn approval_sk(id: &str) -> String {
    format!("{APPROVAL_PREFIX}{id}")
}

/// The reviewed bill runs: one record per bill date, newest read first.
pub const BILL_RUNS_PK: &str = "BILLRUNS";
pub const BILL_RUN_PREFIX: &str = "RUN#";

pub fn bill_run_sk(date: chrono::NaiveDate) -> String {
    format!("{BILL_RUN_PREFIX}{date}")
}

/// A name as the search compares it: lower case, letters and digits, one space between words.
pub fn search_text(name: &str) -> String {
    let lowered: String =
        name.chars().flat_map(char::to_lowercase).map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
    lowered.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The name search's partition: its first two characters (a one-letter name pads with `_`).
pub fn name_search_gsi3pk(normalized: &str) -> String {
    let head: String = normalized.chars().chain(std::iter::repeat('_')).take(2).collect();
    format!("NAME#{head}")
}

pub fn name_search_gsi3sk(normalized: &str, account: &AccountId) -> String {
    format!("{normalized}#{account}")
}

/// An e-mail address as the search compares it (the whole address, any case).
pub fn email_gsi3pk(email: &str) -> String {
    format!("EMAIL#{}", email.trim().to_lowercase())
}

/// An account by its number (the stub's scan line).
pub fn account_number_pk(number: u64) -> String {
    format!("ACCOUNTNO#{number}")
}

/// The account's billing contact e-mail, searchable: one small item beside the account (whose
/// own search entry is its name).
pub const CONTACT_SK: &str = "CONTACT";

/// An invoice by its number (numbers are unique per seller).
pub fn number_gsi3pk(number: &str) -> String {
    format!("NUMBER#{number}")
}

/// The checks received under one check number, across accounts: one item per check (its first
/// share's reference), for the bank's returned items to find.
pub fn check_number_pk(number: &str) -> String {
    format!("CHECKNO#{number}")
}

pub fn check_number_item(
    number: &str,
    account: &AccountId,
    reference: &str,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue;
    std::collections::HashMap::from([
        (PK.to_owned(), AttributeValue::S(check_number_pk(number))),
        (SK.to_owned(), AttributeValue::S(format!("{}#{reference}", account.as_str()))),
        ("entity".to_owned(), AttributeValue::S("check_number".into())),
        ("account_id".to_owned(), AttributeValue::S(account.as_str().to_owned())),
        ("reference".to_owned(), AttributeValue::S(reference.to_owned())),
    ])
}
