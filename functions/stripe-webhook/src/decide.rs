//! From a verified Stripe event to the domain change it asks for. Pure: no I/O, so every rule
//! here is unit-tested and benchmarkable.

use billing_domain::AccountId;
use billing_domain::billing::{CustomerLink, PlanInterval, SeatCount, Stamp, Subscription, SubscriptionStatus};
use chrono::{DateTime, Utc};
use stripe_shared::{RecurringInterval, SubscriptionStatus as StripeStatus};
use stripe_webhook::{Event, EventObject};

/// The metadata key the portal sets on the Checkout Session's subscription and customer.
pub const ACCOUNT_METADATA_KEY: &str = "account_id";

/// A subscription as Stripe reports it, before its account is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionDraft {
    /// From the subscription's `metadata.account_id`, when the portal set it.
    pub account_hint: Option<AccountId>,
    pub subscription: Subscription,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A completed checkout: its customer bills the account that started it.
    LinkCustomer(CustomerLink),
    /// Subscription created, updated (seats, status, period) or deleted (status canceled).
    Subscription(Box<SubscriptionDraft>),
    /// Nothing to do for this event; the reason is recorded.
    Ignore(&'static str),
}

pub fn stamp(event: &Event) -> Stamp {
    Stamp { at: time(event.created), event_id: event.id.as_str().to_owned() }
}

fn time(epoch_secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(epoch_secs, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

pub fn decide(event: &Event) -> Decision {
    match &event.data.object {
        EventObject::CheckoutSessionCompleted(session) => {
            let Some(account_id) = session.client_reference_id.as_deref().and_then(|r| r.parse().ok()) else {
                return Decision::Ignore("checkout session without an account reference");
            };
            let Some(customer) = &session.customer else {
                return Decision::Ignore("checkout session without a customer");
            };
            Decision::LinkCustomer(CustomerLink {
                customer_id: customer.id().as_str().to_owned(),
                account_id,
                stamp: stamp(event),
            })
        }
        EventObject::CustomerSubscriptionCreated(sub)
        | EventObject::CustomerSubscriptionUpdated(sub)
        | EventObject::CustomerSubscriptionDeleted(sub)
        | EventObject::CustomerSubscriptionPaused(sub)
        | EventObject::CustomerSubscriptionResumed(sub) => subscription(event, sub),
        EventObject::Unknown(_) => Decision::Ignore("event type unknown to the pinned Stripe API version"),
        _ => Decision::Ignore("event type not handled"),
    }
}

fn subscription(event: &Event, sub: &stripe_shared::Subscription) -> Decision {
    // The seat subscription has one recurring, per-seat price.
    let Some(item) = sub.items.data.iter().find(|i| i.price.recurring.is_some()) else {
        return Decision::Ignore("subscription without a recurring item");
    };
    let interval = match item.price.recurring.as_ref().map(|r| &r.interval) {
        Some(RecurringInterval::Month) => PlanInterval::Monthly,
        Some(RecurringInterval::Year) => PlanInterval::Annual,
        _ => return Decision::Ignore("subscription interval is neither monthly nor annual"),
    };
    let status = match &sub.status {
        StripeStatus::Active => SubscriptionStatus::Active,
        StripeStatus::Canceled => SubscriptionStatus::Canceled,
        StripeStatus::Incomplete => SubscriptionStatus::Incomplete,
        StripeStatus::IncompleteExpired => SubscriptionStatus::IncompleteExpired,
        StripeStatus::PastDue => SubscriptionStatus::PastDue,
        StripeStatus::Paused => SubscriptionStatus::Paused,
        StripeStatus::Trialing => SubscriptionStatus::Trialing,
        StripeStatus::Unpaid => SubscriptionStatus::Unpaid,
        _ => return Decision::Ignore("subscription status unknown to this system"),
    };
    // Stripe omits the quantity of a licensed item only when it is 1.
    let quantity = item.quantity.unwrap_or(1);
    let Ok(seats) = i64::try_from(quantity).map_err(|_| ()).and_then(|q| SeatCount::try_from(q).map_err(|_| ())) else {
        return Decision::Ignore("subscription quantity out of range");
    };
    Decision::Subscription(Box::new(SubscriptionDraft {
        account_hint: sub.metadata.get(ACCOUNT_METADATA_KEY).and_then(|a| a.parse().ok()),
        subscription: Subscription {
            id: sub.id.as_str().to_owned(),
            // Replaced by the resolved account before anything is stored.
            account_id: AccountId::generate(),
            customer_id: sub.customer.id().as_str().to_owned(),
            status,
            interval,
            seats,
            price_id: item.price.id.as_str().to_owned(),
            current_period_start: time(item.current_period_start),
            current_period_end: time(item.current_period_end),
            cancel_at_period_end: sub.cancel_at_period_end,
            stamp: stamp(event),
        },
    }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::verify::{Verified, verify};

    pub(crate) fn sample(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/stripe").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub(crate) fn parsed(name: &str) -> Event {
        let body = sample(name);
        let header = stripe_webhook::Webhook::generate_test_header(&body, "whsec_test", Some(1_000));
        match verify(&["whsec_test".into()], body.as_bytes(), Some(&header), 1_000).unwrap() {
            Verified::Event(e) => *e,
            Verified::Unparseable(head) => panic!("{name} does not parse: {head:?}"),
        }
    }

    #[test]
    fn checkout_completion_links_the_customer_to_the_account() {
        let Decision::LinkCustomer(link) = decide(&parsed("checkout.session.completed.json")) else { panic!() };
        assert_eq!(link.account_id.as_str(), "acct_demo");
        assert_eq!(link.customer_id, "cus_DemoCustomer0001");
        assert_eq!(link.stamp.event_id, "evt_DemoCheckoutDone01");
    }

    #[test]
    fn subscription_events_become_seat_subscriptions() {
        let Decision::Subscription(d) = decide(&parsed("customer.subscription.created.json")) else { panic!() };
        assert_eq!(d.account_hint.as_ref().map(AccountId::as_str), Some("acct_demo"));
        let s = &d.subscription;
        assert_eq!((s.id.as_str(), s.customer_id.as_str()), ("sub_DemoSeats00000001", "cus_DemoCustomer0001"));
        assert_eq!((s.seats.get(), s.interval, s.status), (5, PlanInterval::Monthly, SubscriptionStatus::Active));
        assert_eq!(s.current_period_end - s.current_period_start, chrono::Duration::days(30));

        let Decision::Subscription(u) = decide(&parsed("customer.subscription.updated.json")) else { panic!() };
        assert_eq!(u.subscription.seats.get(), 8);
        assert!(u.subscription.stamp.supersedes(&s.stamp));

        let Decision::Subscription(del) = decide(&parsed("customer.subscription.deleted.json")) else { panic!() };
        assert_eq!(del.subscription.status, SubscriptionStatus::Canceled);
    }

    #[test]
    fn unknown_event_types_are_ignored_not_failed() {
        assert!(matches!(decide(&parsed("unknown.event.json")), Decision::Ignore(_)));
    }
}
