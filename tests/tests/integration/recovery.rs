//! Missed-event recovery: events the webhook never received (an outage longer than Stripe's
//! retries) are read from Stripe's event list — here the fake, through async-stripe — and applied
//! through the webhook's own path; nothing twice, and the watermark moves only on success.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use billing_domain::AccountId;
use billing_domain::ports::{ProcessorEvents, RecoveryWatermark};
use devstack::fake_stripe::FakeStripe;
use integration_tests::Stack;
use integration_tests::faults::FailingWrites;
use integration_tests::stripe::sample;
use stripe_webhook::recover::{OVERLAP_SECS, recover};
use stripe_webhook::stripe_api::StripeApi;

/// "Now" for these runs: two days after the sample story began, inside Stripe's retry window.
fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_795_000_000 + 2 * 86_400, 0).unwrap()
}

async fn stripe_with_missed_events() -> (FakeStripe, StripeApi) {
    let fake = FakeStripe::default();
    for name in [
        "checkout.session.completed.json",
        "customer.subscription.created.json",
        "customer.subscription.updated.json",
        "invoice.finalized.json",
        "invoice.paid.json",
    ] {
        fake.add_event(sample(name));
    }
    let url = fake.serve(0).await.unwrap();
    (fake, StripeApi::new("sk_test_fake", Some(&url)).unwrap())
}

#[tokio::test]
async fn missed_events_are_applied_once_and_the_watermark_follows() {
    let s = Stack::new().await;
    devstack::seed::seed(&s.store()).await.unwrap();
    let (_fake, stripe) = stripe_with_missed_events().await;
    let store = s.store();

    let first = recover(&store, &store, &stripe, None, now()).await.unwrap();
    assert_eq!((first.listed, first.recorded, first.duplicates), (5, 5, 0));
    let account: AccountId = "acct_demo".parse().unwrap();
    assert_eq!(store.subscription(&account, "sub_DemoSeats00000001").await.unwrap().unwrap().seats.get(), 8);
    assert!(store.invoice(&account, "in_DemoFirst0000001").await.unwrap().is_some());
    let newest = 1_795_000_000 + 3600;
    assert_eq!(store.watermark().await.unwrap(), Some(newest));
    let work = s.items_of("work_item").await.len();

    // The next run re-reads only the overlap, and everything in it is a duplicate.
    let second = recover(&store, &store, &stripe, None, now()).await.unwrap();
    assert_eq!(second.since, newest - OVERLAP_SECS);
    assert_eq!((second.listed, second.recorded, second.duplicates), (1, 0, 1));
    assert_eq!(s.items_of("work_item").await.len(), work, "no work twice");
}

#[tokio::test]
async fn a_failed_run_leaves_the_watermark_and_the_next_run_completes() {
    let s = Stack::new().await;
    devstack::seed::seed(&s.store()).await.unwrap();
    let (_fake, stripe) = stripe_with_missed_events().await;
    let failing = Arc::new(AtomicBool::new(true));
    let flaky = FailingWrites { inner: s.store(), failing: failing.clone() };
    let store = s.store();

    assert!(recover(&flaky, &store, &stripe, None, now()).await.is_err());
    assert_eq!(store.watermark().await.unwrap(), None, "not advanced past unapplied events");

    failing.store(false, Ordering::SeqCst);
    let report = recover(&flaky, &store, &stripe, None, now()).await.unwrap();
    assert_eq!(report.recorded + report.duplicates, 5);
    assert_eq!(s.items_of("stripe_event").await.len(), 5);
}
