//! `Stripe-Signature` verification on the raw body, before anything is parsed or written.
//!
//! The signature is Stripe's scheme, checked here: HMAC-SHA256 (aws-lc-rs) over `t.body` with
//! each configured secret (any of several, for rotation), every `v1` signature in the header
//! compared in constant time, the timestamp within a configurable tolerance (async-stripe's is
//! fixed at 300 s). Only then is the body parsed, once: the envelope with serde_json, the
//! event's object straight from its text into async-stripe's type for the event types this
//! system acts on ([`parse_event`]). Any other type, and any payload that does not parse that
//! way, is handed to async-stripe's `Webhook`, whose answer is then the answer: it builds a
//! JSON tree of the whole payload and converts the tree into the typed object, which was about
//! 60% of the webhook's CPU per event (docs/performance.md).

use billing_aws::config::{ExposeSecret, SecretString};
use serde::Deserialize;
use stripe_events::{EventData, EventType, Webhook, WebhookError};

/// Why a delivery was refused. Each is a 400: nothing is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the Stripe-Signature header is missing")]
    MissingSignature,
    #[error("the Stripe-Signature header is malformed")]
    MalformedSignature,
    #[error("no signature matches a configured signing secret")]
    BadSignature,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("the body is not a Stripe event")]
    MalformedBody,
}

impl Rejection {
    pub fn code(self) -> &'static str {
        match self {
            Rejection::MissingSignature => "missing_signature",
            Rejection::MalformedSignature => "malformed_signature",
            Rejection::BadSignature => "bad_signature",
            Rejection::Stale => "stale_signature",
            Rejection::MalformedBody => "malformed_body",
        }
    }
}

/// The part of an event readable without its typed object: enough to ledger it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EventHead {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
}

/// A Stripe event as this system reads it: what `decide` and `apply` use of async-stripe's
/// `Event` (the same field names and types), whichever way it was parsed.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: stripe_shared::EventId,
    pub type_: EventType,
    /// Epoch seconds.
    pub created: i64,
    pub data: EventData,
}

impl From<stripe_events::Event> for Event {
    fn from(e: stripe_events::Event) -> Self {
        Self { id: e.id, type_: e.type_, created: e.created, data: e.data }
    }
}

/// A delivery whose signature is valid.
#[derive(Debug)]
pub enum Verified {
    Event(Box<Event>),
    /// Signed by Stripe, but its object does not parse with the pinned types (a field this API
    /// version should have is missing): acknowledged and recorded, never retried forever.
    Unparseable(EventHead),
}

/// Stripe's own default, and the default here (`STRIPE_WEBHOOK_TOLERANCE_SECS`).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// The signing time in the header: its last `t=` (the one the signature is checked against).
fn signed_at(header: &str) -> Result<i64, Rejection> {
    header
        .split(',')
        .filter_map(|pair| pair.trim().strip_prefix("t="))
        .next_back()
        .ok_or(Rejection::MalformedSignature)?
        .parse()
        .map_err(|_| Rejection::MalformedSignature)
}

/// The header's `v1` signatures, decoded, read the way async-stripe reads them (so a header
/// either accepts or refuses both): pairs split on `,`, each `key=value`; a pair without `=` or
/// no `v1` at all is a bad signature; a `t` that is not a number, a malformed header.
fn v1_signatures(header: &str) -> Result<Vec<Vec<u8>>, Rejection> {
    let mut v1 = Vec::new();
    for pair in header.split(',') {
        match pair.split_once('=').ok_or(Rejection::BadSignature)? {
            ("t", t) => {
                t.parse::<i64>().map_err(|_| Rejection::MalformedSignature)?;
            }
            // Not hex: can match no secret.
            ("v1", sig) => v1.extend(hex::decode(sig).ok()),
            _ => {}
        }
    }
    if v1.is_empty() {
        return Err(Rejection::BadSignature);
    }
    Ok(v1)
}

/// Whether one of `signatures` is the HMAC-SHA256 of `t.payload` under `secret`.
fn signed_with(secret: &str, t: i64, payload: &str, signatures: &[Vec<u8>]) -> bool {
    use aws_lc_rs::{constant_time, hmac};
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut mac = hmac::Context::with_key(&key);
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    let tag = mac.sign();
    signatures.iter().any(|sig| constant_time::verify_slices_are_equal(tag.as_ref(), sig).is_ok())
}

/// Verifies `body` against each secret in turn (Stripe signs with every active secret while one
/// is being rotated), then that it was signed within `tolerance_secs` of `now` (epoch seconds).
///
/// The secrets are `SecretString`s: never printed (`Debug` says `[REDACTED]`), zeroed when
/// dropped.
pub fn verify(
    secrets: &[SecretString],
    body: &[u8],
    header: Option<&str>,
    now: i64,
    tolerance_secs: i64,
) -> Result<Verified, Rejection> {
    let header = header.ok_or(Rejection::MissingSignature)?;
    let t = signed_at(header)?;
    // Stripe's payloads are UTF-8 JSON; anything else cannot be a genuine event.
    let payload = std::str::from_utf8(body).map_err(|_| Rejection::MalformedBody)?;
    let signatures = v1_signatures(header)?;
    let Some(secret) = secrets.iter().find(|s| signed_with(s.expose_secret(), t, payload, &signatures)) else {
        return Err(Rejection::BadSignature);
    };
    if (now - t).abs() > tolerance_secs {
        return Err(Rejection::Stale);
    }
    if let Some(event) = parse_event(payload) {
        return Ok(Verified::Event(Box::new(event)));
    }
    // async-stripe's own parse, for the event types read no other way and for whatever did not
    // parse in one pass; it checks the signature again (it has matched) and is given the signing
    // time as "now", so its fixed window passes.
    match Webhook::construct_event_with_timestamp(payload, header, secret.expose_secret(), t) {
        Ok(event) => Ok(Verified::Event(Box::new(event.into()))),
        Err(WebhookError::BadParse(_)) => {
            serde_json::from_str::<EventHead>(payload).map(Verified::Unparseable).map_err(|_| Rejection::MalformedBody)
        }
        Err(WebhookError::BadSignature) => Err(Rejection::BadSignature),
        Err(_) => Err(Rejection::MalformedSignature),
    }
}

/// The event's envelope, its object left as text. Every field async-stripe requires is required
/// here, and the optional ones are read with its types, so an envelope it refuses is refused.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Envelope<'a> {
    account: Option<String>,
    api_version: Option<String>,
    created: i64,
    #[serde(borrow)]
    data: Data<'a>,
    id: String,
    livemode: bool,
    pending_webhooks: i64,
    request: Option<Request>,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    object: &'a serde_json::value::RawValue,
    #[serde(borrow, default)]
    previous_attributes: Option<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Request {
    id: Option<String>,
    idempotency_key: Option<String>,
}

/// The event in one pass over the payload, for the types `decide` acts on: the envelope by
/// serde_json (the object only delimited), the object by async-stripe's own miniserde
/// deserializer for its type, straight from its text. `None` for any other type, or when any
/// part does not parse this way: the caller then asks async-stripe, whose answer stands.
pub fn parse_event(payload: &str) -> Option<Event> {
    use std::str::FromStr;
    use stripe_events::EventObject as O;

    fn typed<T: miniserde::Deserialize>(raw: &serde_json::value::RawValue) -> Option<Box<T>> {
        miniserde::json::from_str(raw.get()).ok().map(Box::new)
    }

    let envelope: Envelope = serde_json::from_str(payload).ok()?;
    let raw = envelope.data.object;
    let object = match envelope.kind.as_str() {
        "customer.subscription.created" => O::CustomerSubscriptionCreated(typed(raw)?),
        "customer.subscription.updated" => O::CustomerSubscriptionUpdated(typed(raw)?),
        "customer.subscription.deleted" => O::CustomerSubscriptionDeleted(typed(raw)?),
        "customer.subscription.paused" => O::CustomerSubscriptionPaused(typed(raw)?),
        "customer.subscription.resumed" => O::CustomerSubscriptionResumed(typed(raw)?),
        "invoice.created" => O::InvoiceCreated(typed(raw)?),
        "invoice.updated" => O::InvoiceUpdated(typed(raw)?),
        "invoice.finalized" => O::InvoiceFinalized(typed(raw)?),
        "invoice.paid" => O::InvoicePaid(typed(raw)?),
        "invoice.payment_failed" => O::InvoicePaymentFailed(typed(raw)?),
        "invoice.payment_action_required" => O::InvoicePaymentActionRequired(typed(raw)?),
        "invoice.voided" => O::InvoiceVoided(typed(raw)?),
        "invoice.marked_uncollectible" => O::InvoiceMarkedUncollectible(typed(raw)?),
        "payment_method.attached" => O::PaymentMethodAttached(typed(raw)?),
        "payment_method.detached" => O::PaymentMethodDetached(typed(raw)?),
        "customer.updated" => O::CustomerUpdated(typed(raw)?),
        "checkout.session.completed" => O::CheckoutSessionCompleted(typed(raw)?),
        "checkout.session.async_payment_succeeded" => O::CheckoutSessionAsyncPaymentSucceeded(typed(raw)?),
        "checkout.session.async_payment_failed" => O::CheckoutSessionAsyncPaymentFailed(typed(raw)?),
        "charge.refunded" => O::ChargeRefunded(typed(raw)?),
        "charge.dispute.created" => O::ChargeDisputeCreated(typed(raw)?),
        "product.created" => O::ProductCreated(typed(raw)?),
        "product.updated" => O::ProductUpdated(typed(raw)?),
        "product.deleted" => O::ProductDeleted(typed(raw)?),
        _ => return None,
    };
    let api_version = envelope.api_version.map(|v| stripe_shared::ApiVersion::from_str(&v).expect("infallible"));
    if let Some(version) = api_version.as_ref().filter(|v| **v != stripe_shared::version::VERSION) {
        // As async-stripe warns: the endpoint sends another version than the types are pinned to.
        tracing::warn!(event_version = ?version, sdk_version = ?stripe_shared::version::VERSION,
            "event rendered with another Stripe API version than the one pinned");
    }
    let previous_attributes = match envelope.data.previous_attributes {
        Some(raw) => Some(miniserde::json::from_str(raw.get()).ok()?),
        None => None,
    };
    Some(Event {
        id: stripe_shared::EventId::from(envelope.id),
        type_: EventType::from_str(&envelope.kind).expect("infallible"),
        created: envelope.created,
        data: EventData { object, previous_attributes },
    })
}

/// Verifies a payload this system received before and kept (a parked event) or read from
/// Stripe's API (recovery): it is signed with a key made for this call, so it takes exactly the
/// parse a delivery takes.
pub fn reverify(payload: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Verified, Rejection> {
    let key = format!("whsec_reverify_{}{}", now.timestamp_nanos_opt().unwrap_or_default(), std::process::id());
    let header = Webhook::generate_test_header(payload, &key, Some(now.timestamp()));
    verify(&[SecretString::from(key)], payload.as_bytes(), Some(&header), now.timestamp(), 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stripe_events::Webhook;

    const NOW: i64 = 1_795_000_000;

    fn body() -> String {
        crate::decide::tests::sample("customer.subscription.created.json")
    }

    fn check(secrets: &[&str], body: &str, header: Option<&str>, now: i64) -> Result<Verified, Rejection> {
        let secrets: Vec<SecretString> = secrets.iter().map(|s| SecretString::from(*s)).collect();
        verify(&secrets, body.as_bytes(), header, now, DEFAULT_TOLERANCE_SECS)
    }

    #[test]
    fn a_valid_signature_from_any_configured_secret_is_accepted() {
        let b = body();
        let header = Webhook::generate_test_header(&b, "whsec_new", Some(NOW));
        assert!(matches!(check(&["whsec_old", "whsec_new"], &b, Some(&header), NOW), Ok(Verified::Event(_))));
        // Stripe sends one v1 per active secret during a rotation.
        let old = Webhook::generate_test_header(&b, "whsec_old", Some(NOW));
        let both = format!("{header},{}", old.split(',').nth(1).unwrap());
        assert!(check(&["whsec_old"], &b, Some(&both), NOW).is_ok());
    }

    #[test]
    fn forged_stale_and_malformed_deliveries_are_rejected() {
        let b = body();
        let header = Webhook::generate_test_header(&b, "whsec_a", Some(NOW));
        assert_eq!(check(&["whsec_b"], &b, Some(&header), NOW).unwrap_err(), Rejection::BadSignature);
        assert_eq!(check(&["whsec_a"], &b, None, NOW).unwrap_err(), Rejection::MissingSignature);
        assert_eq!(check(&["whsec_a"], &b, Some(&header), NOW + 301).unwrap_err(), Rejection::Stale);
        assert!(check(&["whsec_a"], &b, Some(&header), NOW + 300).is_ok());
        let mut flipped = b.clone().into_bytes();
        let i = flipped.iter().position(|c| *c == b'5').unwrap();
        flipped[i] = b'6';
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(check(&["whsec_a"], &flipped, Some(&header), NOW).unwrap_err(), Rejection::BadSignature);
        assert!(check(&["whsec_a"], &b, Some("t=abc,v1=00"), NOW).is_err());
        assert!(check(&["whsec_a"], &b, Some("garbage"), NOW).is_err());
        assert_eq!(
            verify(&["whsec_a".into()], &[0xff, 0xfe], Some(&header), NOW, DEFAULT_TOLERANCE_SECS).unwrap_err(),
            Rejection::MalformedBody
        );
        // A stale header that is also forged reports the forgery.
        let old_foreign = Webhook::generate_test_header(&b, "whsec_x", Some(NOW - 1000));
        assert_eq!(check(&["whsec_a"], &b, Some(&old_foreign), NOW).unwrap_err(), Rejection::BadSignature);
    }

    #[test]
    fn the_tolerance_is_configurable() {
        let b = body();
        let header = Webhook::generate_test_header(&b, "whsec_a", Some(NOW - 100));
        let secrets = [SecretString::from("whsec_a")];
        assert!(verify(&secrets, b.as_bytes(), Some(&header), NOW, 120).is_ok());
        assert_eq!(verify(&secrets, b.as_bytes(), Some(&header), NOW, 60).unwrap_err(), Rejection::Stale);
        // Signed in the future by more than the tolerance (a skewed clock) is refused too.
        let ahead = Webhook::generate_test_header(&b, "whsec_a", Some(NOW + 100));
        assert_eq!(verify(&secrets, b.as_bytes(), Some(&ahead), NOW, 60).unwrap_err(), Rejection::Stale);
    }

    /// async-stripe's reading of a payload, as this system's `Event`.
    pub(super) fn by_async_stripe(payload: &str) -> Option<Event> {
        let header = Webhook::generate_test_header(payload, "whsec_a", Some(NOW));
        Webhook::construct_event_with_timestamp(payload, &header, "whsec_a", NOW).ok().map(Event::from)
    }

    #[test]
    fn every_sample_event_of_a_type_acted_on_is_read_in_one_pass_exactly_as_async_stripe_reads_it() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/stripe");
        let mut one_pass = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let body = crate::decide::tests::sample(&name);
            let theirs = by_async_stripe(&body).unwrap_or_else(|| panic!("{name}: async-stripe parses it"));
            match parse_event(&body) {
                Some(ours) => {
                    assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{name}");
                    one_pass += 1;
                }
                None => assert_eq!(name, "unknown.event.json", "{name} is a type decide acts on"),
            }
            // Either way, `verify` answers with async-stripe's reading.
            let header = Webhook::generate_test_header(&body, "whsec_a", Some(NOW));
            match check(&["whsec_a"], &body, Some(&header), NOW) {
                Ok(Verified::Event(e)) => assert_eq!(format!("{e:?}"), format!("{theirs:?}"), "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(one_pass >= 24, "{one_pass}");
    }

    #[test]
    fn what_one_pass_refuses_is_left_to_async_stripe() {
        // A known type whose object lacks required fields: refused by both, kept as unparseable.
        let b = r#"{"id":"evt_x","object":"event","type":"invoice.paid","created":1,"livemode":false,"pending_webhooks":0,"data":{"object":{"id":"in_1"}}}"#;
        assert!(parse_event(b).is_none());
        // An envelope without `livemode` (async-stripe requires it).
        let sub = crate::decide::tests::sample("customer.subscription.updated.json");
        let no_livemode = sub.replacen("\"livemode\":", "\"livemode_\":", 1);
        assert!(parse_event(&no_livemode).is_none() && by_async_stripe(&no_livemode).is_none());
        // The same key twice: serde refuses, async-stripe takes the last; its reading stands.
        let twice = sub.replacen("{", "{\"type\":\"product.created\",", 1);
        assert!(parse_event(&twice).is_none());
        let header = Webhook::generate_test_header(&twice, "whsec_a", Some(NOW));
        match check(&["whsec_a"], &twice, Some(&header), NOW) {
            Ok(Verified::Event(e)) => assert_eq!(e.type_.as_str(), "customer.subscription.updated"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_signed_event_whose_object_does_not_parse_is_kept_as_unparseable() {
        let b = r#"{"id":"evt_x","object":"event","type":"customer.subscription.updated","created":1795000000,"data":{"object":{"id":"sub_1"}}}"#;
        let header = Webhook::generate_test_header(b, "whsec_a", Some(NOW));
        match check(&["whsec_a"], b, Some(&header), NOW) {
            Ok(Verified::Unparseable(head)) => assert_eq!(head.id, "evt_x"),
            other => panic!("{other:?}"),
        }
        let not_json = "hello";
        let header = Webhook::generate_test_header(not_json, "whsec_a", Some(NOW));
        assert_eq!(check(&["whsec_a"], not_json, Some(&header), NOW).unwrap_err(), Rejection::MalformedBody);
    }
}

#[cfg(test)]
mod never_panics {
    //! Whatever arrives at the endpoint, verification and parsing answer; they never panic.
    //!
    //! 512 cases of each in `make test`; the fuzzing run sets `WEBHOOK_FUZZ_CASES`:
    //! `WEBHOOK_FUZZ_CASES=1000000 cargo test -p stripe-webhook --lib never_panics` (the figures
    //! are in `docs/reliability.md`).

    use proptest::prelude::*;
    use stripe_events::Webhook;

    use super::*;

    const NOW: i64 = 1_795_000_000;

    fn cases() -> u32 {
        std::env::var("WEBHOOK_FUZZ_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
    }

    /// The names of the sample events in `events/stripe/`.
    fn samples() -> &'static [String] {
        static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        NAMES.get_or_init(|| {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/stripe");
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .expect("events/stripe")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_headers_and_bodies(header in ".{0,200}", body in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = verify(&["whsec_a".into()], &body, Some(&header), NOW, DEFAULT_TOLERANCE_SECS);
        }

        #[test]
        fn header_shaped_noise(t in any::<i64>(), v1 in "[0-9a-f]{0,70}", extra in "[a-z0-9=,]{0,40}") {
            let header = format!("t={t},v1={v1},{extra}");
            let _ = verify(&["whsec_a".into()], b"{}", Some(&header), NOW, DEFAULT_TOLERANCE_SECS);
        }

        #[test]
        fn validly_signed_mutations_of_a_real_event(which in 0usize..64, cut in 0usize..7000, byte in any::<u8>()) {
            // Signed after mutating, so parsing (not the signature) meets the damage. Every
            // sample event in turn.
            let names = samples();
            let mut body = crate::decide::tests::sample(&names[which % names.len()]).into_bytes();
            let at = cut % body.len();
            body[at] = byte;
            body.truncate(at + 1 + (cut % 3) * 1000);
            if let Ok(text) = std::str::from_utf8(&body) {
                let header = Webhook::generate_test_header(text, "whsec_a", Some(NOW));
                if let Ok(Verified::Event(e)) =
                    verify(&["whsec_a".into()], text.as_bytes(), Some(&header), NOW, DEFAULT_TOLERANCE_SECS)
                {
                    let _ = crate::decide::decide(&e);
                }
                // What is read in one pass is read as async-stripe reads it, or not at all.
                if let Some(ours) = parse_event(text) {
                    let theirs = super::tests::by_async_stripe(text);
                    prop_assert_eq!(Some(format!("{ours:?}")), theirs.map(|e| format!("{e:?}")));
                }
            }
        }
    }
}
