//! From a verified Stripe event to the domain change it asks for. Pure: no I/O, so every rule
//! here is unit-tested and benchmarkable.

use billing_domain::AuditAction;
use billing_domain::billing::{
    CustomerLink, DefaultPaymentMethod, DisputeSummary, PaymentMethodSummary, PaymentRecord, Product, Projection,
    SeatCount, Stamp, Subscription, SubscriptionPrior,
};
use billing_domain::invoice::{ChargeKind, Invoice, InvoiceLine, InvoiceStatus, ServicePeriod};
use billing_domain::{AccountId, Currency, Money};
use billing_stripe::{metadata, time};
use rust_decimal::Decimal;
use stripe_events::EventObject;

use crate::verify::Event;

/// A subscription as Stripe reports it, before its account is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionDraft {
    /// From the subscription's `metadata.account_id`, when the portal set it.
    pub account_hint: Option<AccountId>,
    pub subscription: Subscription,
    /// What the event says the subscription was before it.
    pub prior: Prior,
}

/// What an event says a subscription was just before it, from its type and
/// `previous_attributes`: the stored state a one-write apply is conditioned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prior {
    /// Created: nothing was stored.
    Absent,
    /// Its seats and status before this change.
    Was(SubscriptionPrior),
    /// The event does not say (a deletion, which carries no previous attributes; an object
    /// re-read from Stripe; attributes this code cannot read): the stored state is read.
    Unknown,
}

/// The portal's invoices a paid payment-mode Checkout Session paid for (`metadata.invoice_ids`):
/// marked paid at Stripe (out of band: the money came through the session's payment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settlement {
    pub session_id: String,
    pub invoice_ids: Vec<String>,
    /// Our contract bills the session paid, with the amount paid for each.
    pub contract_bills: Vec<(String, billing_domain::Money)>,
    /// When the payment was made (the event's time).
    pub paid_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A completed checkout: its customer bills the account that started it; a paid
    /// payment-mode checkout also settles the invoices it was for.
    LinkCustomer(CustomerLink, Settlement),
    /// Subscription created, updated (seats, status, period) or deleted (status canceled).
    Subscription(Box<SubscriptionDraft>),
    /// An invoice's new state, and the follow-up its event calls for.
    Invoice(Box<InvoiceDraft>),
    /// A payment method attached or detached, the customer's default changed, or a payment
    /// refunded.
    Project(Box<ProjectionDraft>),
    /// A dispute on a charge: the event names only the charge, which is re-read from Stripe.
    Dispute(Box<DisputeDraft>),
    /// A product created, renamed, archived or deleted: bills name their lines' products.
    Product(Box<Product>),
    /// Nothing to do for this event; the reason is recorded.
    Ignore(&'static str),
}

/// What an invoice event asks the stream consumers to do, whatever the invoice's state by then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    BillReady,
    PaymentReceived,
    PaymentFailed,
}

/// An invoice as Stripe reports it, before its account is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceDraft {
    pub account_hint: Option<AccountId>,
    pub invoice: Invoice,
    pub follow_up: Option<FollowUp>,
}

/// A projection whose account is not known yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionDraft {
    pub account_hint: Option<AccountId>,
    pub customer_id: String,
    pub projection: Projection,
    /// Recorded in the account's audit trail with the change (payments).
    pub audit: Option<AuditAction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeDraft {
    pub charge_id: String,
    pub dispute: DisputeSummary,
    pub stamp: Stamp,
}

pub fn stamp(event: &Event) -> Stamp {
    Stamp { at: time(event.created), event_id: event.id.as_str().to_owned() }
}

pub fn decide(event: &Event) -> Decision {
    match &event.data.object {
        EventObject::CheckoutSessionAsyncPaymentFailed(_) => {
            Decision::Ignore("checkout's delayed payment failed: no customer to link")
        }
        EventObject::CheckoutSessionCompleted(session) | EventObject::CheckoutSessionAsyncPaymentSucceeded(session) => {
            let Some(account_id) = session.client_reference_id.as_deref().and_then(|r| r.parse().ok()) else {
                return Decision::Ignore("checkout session without an account reference");
            };
            let Some(customer) = &session.customer else {
                return Decision::Ignore("checkout session without a customer");
            };
            let paid = session.mode == stripe_shared::CheckoutSessionMode::Payment
                && session.payment_status == stripe_shared::CheckoutSessionPaymentStatus::Paid;
            let contract = if paid {
                metadata::contract_bills(
                    session.metadata.as_ref(),
                    session.currency.as_ref().and_then(billing_stripe::currency),
                )
            } else {
                Vec::new()
            };
            let invoice_ids = if paid { metadata::invoice_ids(session.metadata.as_ref()) } else { Vec::new() };
            Decision::LinkCustomer(
                CustomerLink { customer_id: customer.id().as_str().to_owned(), account_id, stamp: stamp(event) },
                Settlement {
                    session_id: session.id.as_str().to_owned(),
                    invoice_ids,
                    contract_bills: contract,
                    paid_at: time(event.created),
                },
            )
        }
        EventObject::CustomerSubscriptionCreated(sub)
        | EventObject::CustomerSubscriptionUpdated(sub)
        | EventObject::CustomerSubscriptionDeleted(sub)
        | EventObject::CustomerSubscriptionPaused(sub)
        | EventObject::CustomerSubscriptionResumed(sub) => subscription(event, sub),
        EventObject::InvoiceCreated(i)
        | EventObject::InvoiceUpdated(i)
        | EventObject::InvoiceVoided(i)
        | EventObject::InvoiceMarkedUncollectible(i)
        | EventObject::InvoicePaymentActionRequired(i) => invoice(event, i, None),
        EventObject::InvoiceFinalized(i) => invoice(event, i, Some(FollowUp::BillReady)),
        EventObject::InvoicePaid(i) => invoice(event, i, Some(FollowUp::PaymentReceived)),
        EventObject::InvoicePaymentFailed(i) => invoice(event, i, Some(FollowUp::PaymentFailed)),
        EventObject::PaymentMethodAttached(pm) => payment_method(event, pm, true),
        EventObject::PaymentMethodDetached(pm) => payment_method(event, pm, false),
        EventObject::CustomerUpdated(c) => Decision::Project(Box::new(ProjectionDraft {
            account_hint: metadata::account(c.metadata.as_ref()),
            customer_id: c.id.as_str().to_owned(),
            projection: Projection::DefaultPaymentMethod(DefaultPaymentMethod {
                account_id: AccountId::generate(),
                customer_id: c.id.as_str().to_owned(),
                payment_method_id: c
                    .invoice_settings
                    .as_ref()
                    .and_then(|s| s.default_payment_method.as_ref())
                    .map(|pm| pm.id().as_str().to_owned()),
                stamp: stamp(event),
            }),
            audit: None,
        })),
        EventObject::ChargeRefunded(charge) => {
            match payment_draft(stamp(event), charge, AuditAction::PaymentRefunded) {
                Some(d) => Decision::Project(Box::new(d)),
                None => Decision::Ignore("charge without a customer or in an unknown currency"),
            }
        }
        EventObject::ChargeDisputeCreated(dispute) => {
            let Ok(currency) = dispute.currency.to_string().parse::<Currency>() else {
                return Decision::Ignore("dispute in a currency this system does not know");
            };
            Decision::Dispute(Box::new(DisputeDraft {
                charge_id: dispute.charge.id().as_str().to_owned(),
                dispute: DisputeSummary {
                    id: dispute.id.as_str().to_owned(),
                    amount: Money::from_minor(dispute.amount, currency),
                    reason: dispute.reason.clone(),
                    status: dispute.status.as_str().to_owned(),
                },
                stamp: stamp(event),
            }))
        }
        EventObject::ProductCreated(p) | EventObject::ProductUpdated(p) => {
            Decision::Product(Box::new(product_at(stamp(event), p, p.active)))
        }
        EventObject::ProductDeleted(p) => Decision::Product(Box::new(product_at(stamp(event), p, false))),
        EventObject::Unknown(_) => Decision::Ignore("event type unknown to the pinned Stripe API version"),
        _ => Decision::Ignore("event type not handled"),
    }
}

/// A payment's record from its charge object, stamped `stamp`.
pub fn payment_draft(stamp: Stamp, charge: &stripe_shared::Charge, action: AuditAction) -> Option<ProjectionDraft> {
    let customer_id = charge.customer.as_ref()?.id().as_str().to_owned();
    let currency: Currency = charge.currency.to_string().parse().ok()?;
    Some(ProjectionDraft {
        account_hint: metadata::account(Some(&charge.metadata)),
        customer_id: customer_id.clone(),
        audit: Some(action),
        projection: Projection::Payment(PaymentRecord {
            charge_id: charge.id.as_str().to_owned(),
            account_id: AccountId::generate(),
            customer_id,
            payment_intent_id: charge.payment_intent.as_ref().map(|p| p.id().as_str().to_owned()),
            amount: Money::from_minor(charge.amount, currency),
            amount_refunded: Money::from_minor(charge.amount_refunded, currency),
            refunded: charge.refunded,
            dispute: None,
            receipt_url: charge.receipt_url.clone(),
            stamp,
        }),
    })
}

/// A product as this system keeps it, stamped `stamp`; `active` false once deleted (its name
/// still names old bills' lines).
pub fn product_at(stamp: Stamp, p: &stripe_shared::Product, active: bool) -> Product {
    Product { id: p.id.as_str().to_owned(), name: p.name.clone(), active, stamp }
}

fn payment_method(event: &Event, pm: &stripe_shared::PaymentMethod, attached: bool) -> Decision {
    // A detached method no longer names its customer; the event's previous attributes do.
    let previous_customer = || match &event.data.previous_attributes {
        Some(miniserde::json::Value::Object(o)) => match o.get("customer") {
            Some(miniserde::json::Value::String(c)) => Some(c.clone()),
            _ => None,
        },
        _ => None,
    };
    let Some(customer_id) = pm.customer.as_ref().map(|c| c.id().as_str().to_owned()).or_else(previous_customer) else {
        return Decision::Ignore("payment method of no customer");
    };
    let card = pm.card.as_ref();
    Decision::Project(Box::new(ProjectionDraft {
        account_hint: metadata::account(pm.metadata.as_ref()),
        customer_id: customer_id.clone(),
        projection: Projection::PaymentMethod(PaymentMethodSummary {
            id: pm.id.as_str().to_owned(),
            account_id: AccountId::generate(),
            customer_id,
            kind: pm.type_.as_str().to_owned(),
            brand: card.map(|c| c.display_brand.clone().unwrap_or_else(|| c.brand.clone())),
            last4: card.map(|c| c.last4.clone()),
            exp_month: card.and_then(|c| u8::try_from(c.exp_month).ok()),
            exp_year: card.and_then(|c| u16::try_from(c.exp_year).ok()),
            attached,
            stamp: stamp(event),
        }),
        audit: None,
    }))
}

fn subscription(event: &Event, sub: &stripe_shared::Subscription) -> Decision {
    let mut decision = subscription_at(stamp(event), sub);
    if let Decision::Subscription(draft) = &mut decision {
        draft.prior = prior(event, &draft.subscription);
    }
    decision
}

/// The subscription before `event` changed it into `after`: nothing for a creation; for an
/// update, pause or resume, the seats and status `previous_attributes` name (Stripe lists only
/// what changed, so the others are `after`'s).
fn prior(event: &Event, after: &Subscription) -> Prior {
    use miniserde::json::{Number, Value};
    match event.type_.as_str() {
        "customer.subscription.created" => return Prior::Absent,
        "customer.subscription.updated" | "customer.subscription.paused" | "customer.subscription.resumed" => {}
        _ => return Prior::Unknown,
    }
    let previous = match &event.data.previous_attributes {
        Some(Value::Object(o)) => Some(o),
        None => None,
        Some(_) => return Prior::Unknown,
    };
    let quantity = |v: &Value| match v {
        Value::Number(Number::U64(q)) => i64::try_from(*q).ok().and_then(|q| SeatCount::try_from(q).ok()),
        Value::Number(Number::I64(q)) => SeatCount::try_from(*q).ok(),
        _ => None,
    };
    // The seat item's quantity: the top-level `quantity` of a one-item subscription, or the item
    // in the previous `items` list.
    let item_quantity = |items: &Value| match items {
        Value::Object(list) => match list.get("data") {
            Some(Value::Array(data)) => data.iter().find_map(|i| match i {
                Value::Object(item)
                    if after
                        .item_id
                        .as_deref()
                        .is_some_and(|id| matches!(item.get("id"), Some(Value::String(s)) if s == id)) =>
                {
                    item.get("quantity").map(quantity)
                }
                _ => None,
            }),
            _ => None,
        },
        _ => None,
    };
    let seats = match previous
        .and_then(|p| p.get("quantity").map(quantity).or_else(|| p.get("items").and_then(item_quantity)))
    {
        None => after.seats,
        Some(Some(s)) => s,
        Some(None) => return Prior::Unknown,
    };
    let status = match previous.and_then(|p| p.get("status")) {
        None => after.status,
        Some(Value::String(s)) => match s
            .parse::<stripe_shared::SubscriptionStatus>()
            .ok()
            .as_ref()
            .and_then(billing_stripe::subscription_status)
        {
            Some(status) => status,
            None => return Prior::Unknown,
        },
        Some(_) => return Prior::Unknown,
    };
    Prior::Was(SubscriptionPrior { seats, status })
}

/// The decision for a subscription object stamped `stamp`: the event's own object, or the one
/// re-read from Stripe when the event's payload could not be ordered.
pub fn subscription_at(stamp: Stamp, sub: &stripe_shared::Subscription) -> Decision {
    // The seat subscription has one recurring, per-seat price.
    let Some(item) = sub.items.data.iter().find(|i| i.price.recurring.is_some()) else {
        return Decision::Ignore("subscription without a recurring item");
    };
    let Some(interval) = billing_stripe::interval(&item.price) else {
        return Decision::Ignore("subscription interval is neither monthly nor annual");
    };
    let Some(status) = billing_stripe::subscription_status(&sub.status) else {
        return Decision::Ignore("subscription status unknown to this system");
    };
    // Stripe omits the quantity of a licensed item only when it is 1.
    let quantity = item.quantity.unwrap_or(1);
    let Ok(seats) = i64::try_from(quantity).map_err(|_| ()).and_then(|q| SeatCount::try_from(q).map_err(|_| ())) else {
        return Decision::Ignore("subscription quantity out of range");
    };
    Decision::Subscription(Box::new(SubscriptionDraft {
        account_hint: metadata::account(Some(&sub.metadata)),
        subscription: Subscription {
            id: sub.id.as_str().to_owned(),
            // Replaced by the resolved account before anything is stored.
            account_id: AccountId::generate(),
            customer_id: sub.customer.id().as_str().to_owned(),
            status,
            interval,
            seats,
            price_id: item.price.id.as_str().to_owned(),
            item_id: Some(item.id.as_str().to_owned()),
            unit_amount: billing_stripe::unit_amount(&item.price),
            current_period_start: time(item.current_period_start),
            current_period_end: time(item.current_period_end),
            cancel_at_period_end: sub.cancel_at_period_end,
            stamp,
        },
        prior: Prior::Unknown,
    }))
}

fn invoice(event: &Event, inv: &stripe_shared::Invoice, follow_up: Option<FollowUp>) -> Decision {
    use stripe_shared::InvoiceStatus as S;
    let Some(id) = &inv.id else { return Decision::Ignore("invoice without an id") };
    let Some(customer) = &inv.customer else { return Decision::Ignore("invoice without a customer") };
    let Ok(currency) = inv.currency.to_string().parse::<Currency>() else {
        return Decision::Ignore("invoice in a currency this system does not know");
    };
    let status = match &inv.status {
        Some(S::Draft) => InvoiceStatus::Draft,
        Some(S::Open) => InvoiceStatus::Open,
        Some(S::Paid) => InvoiceStatus::Paid,
        Some(S::Uncollectible) => InvoiceStatus::Uncollectible,
        Some(S::Void) => InvoiceStatus::Void,
        _ => return Decision::Ignore("invoice status unknown to this system"),
    };
    let money = |minor: i64| Money::from_minor(minor, currency);
    let tax: i64 = inv.total_taxes.iter().flatten().map(|t| t.amount).sum();
    let account_hint = inv
        .metadata
        .as_ref()
        .filter(|m| m.contains_key(metadata::ACCOUNT_KEY))
        .or_else(|| inv.parent.as_ref()?.subscription_details.as_ref()?.metadata.as_ref())
        .and_then(|m| metadata::account(Some(m)));
    Decision::Invoice(Box::new(InvoiceDraft {
        account_hint,
        follow_up,
        invoice: Invoice {
            id: id.as_str().to_owned(),
            // Replaced by the resolved account before anything is stored.
            account_id: AccountId::generate(),
            customer_id: customer.id().as_str().to_owned(),
            number: inv.number.clone(),
            status,
            currency,
            // Net of tax (and after discounts), so subtotal + tax = total as on our own bills.
            subtotal: money(inv.total_excluding_tax.unwrap_or(inv.subtotal)),
            tax: money(tax),
            total: money(inv.total),
            amount_due: money(inv.amount_due),
            amount_paid: money(inv.amount_paid),
            amount_remaining: money(inv.amount_remaining),
            created: time(inv.created),
            due_date: inv.due_date.map(time),
            period_start: time(inv.period_start),
            period_end: time(inv.period_end),
            hosted_invoice_url: inv.hosted_invoice_url.clone(),
            pdf_url: inv.invoice_pdf.clone(),
            lines: inv.lines.data.iter().map(|l| line(l, currency)).collect(),
            lines_complete: !inv.lines.has_more,
            stamp: stamp(event),
            tax_detail: billing_domain::tax::InvoiceTax {
                groups: tax_groups(inv.total_taxes.as_deref().unwrap_or_default(), currency),
                ..Default::default()
            },
            account_summary: None,
        },
    }))
}

/// The processor's tax rate id of one of Stripe Tax's amounts, as a tax code (`stripe:txr_…`).
fn tax_code(t: &stripe_shared::BillingBillResourceInvoicingTaxesTax) -> Option<billing_domain::tax::TaxCode> {
    billing_domain::tax::TaxCode::processor(t.tax_rate_details.as_ref()?.tax_rate.id().as_str())
}

fn inclusive(t: &stripe_shared::BillingBillResourceInvoicingTaxesTax) -> bool {
    matches!(t.tax_behavior, stripe_shared::BillingBillResourceInvoicingTaxesTaxTaxBehavior::Inclusive)
}

/// Stripe Tax's amounts per rate (an invoice's `total_taxes`), one group per rate with its
/// taxable base. The rate's name and percentage are not in the event: the group is named by its
/// rate's id at 0 % until the apply step reads the rate.
pub fn tax_groups(
    taxes: &[stripe_shared::BillingBillResourceInvoicingTaxesTax],
    currency: Currency,
) -> Vec<billing_domain::tax::TaxGroup> {
    let mut groups: Vec<billing_domain::tax::TaxGroup> = Vec::new();
    for t in taxes {
        let Some(code) = tax_code(t) else { continue };
        let (amount, base) =
            (Money::from_minor(t.amount, currency), Money::from_minor(t.taxable_amount.unwrap_or(0), currency));
        match groups.iter_mut().find(|g| g.code == code) {
            Some(g) => {
                g.amount = Money::new(g.amount.amount() + amount.amount(), currency);
                g.taxable_base = Money::new(g.taxable_base.amount() + base.amount(), currency);
            }
            None => groups.push(billing_domain::tax::TaxGroup {
                name: code.processor_rate().unwrap_or_default().to_owned(),
                code,
                jurisdiction: String::new(),
                rate: billing_domain::tax::Percent::ZERO,
                inclusive: inclusive(t),
                taxable_base: base,
                amount,
            }),
        }
    }
    groups
}

/// One invoice line in the domain's terms.
pub fn line(l: &stripe_shared::InvoiceLineItem, currency: Currency) -> InvoiceLine {
    let parent = l.parent.as_ref();
    let sub_item = parent.and_then(|p| p.subscription_item_details.as_ref());
    let inv_item = parent.and_then(|p| p.invoice_item_details.as_ref());
    let proration = sub_item.is_some_and(|s| s.proration) || inv_item.is_some_and(|i| i.proration);
    let kind = match (proration, sub_item) {
        (true, _) => ChargeKind::Proration,
        (false, Some(_)) => ChargeKind::Recurring,
        (false, None) => ChargeKind::OneTime,
    };
    let product = l.pricing.as_ref().and_then(|p| p.price_details.as_ref()).map(|d| d.product.clone());
    // Grouped under the product's id until its name is known (the apply step names it).
    let group = product
        .clone()
        .or_else(|| sub_item.and_then(|s| s.subscription.clone()))
        .unwrap_or_else(|| "one-time charges".to_owned());
    // Stripe gives the unit price in minor units, possibly fractional ("1250.5").
    let unit_amount =
        l.pricing.as_ref().and_then(|p| p.unit_amount_decimal.as_deref()).and_then(|d| d.parse::<Decimal>().ok()).map(
            |minor| Money::new(minor / Decimal::from(10_i64.pow(currency.exponent())), currency).at_currency_scale(),
        );
    InvoiceLine {
        id: l.id.as_str().to_owned(),
        description: l.description.clone().unwrap_or_default(),
        kind,
        group,
        product,
        quantity: l.quantity,
        unit_amount,
        amount: Money::from_minor(l.amount, currency),
        period: ServicePeriod { start: time(l.period.start), end: time(l.period.end), partial: proration },
        item: None,
        // The rates Stripe Tax applied to the line, named by the apply step with the invoice's.
        taxes: l
            .taxes
            .iter()
            .flatten()
            .filter_map(|t| {
                let code = tax_code(t)?;
                Some(billing_domain::tax::AppliedTax {
                    name: code.processor_rate().unwrap_or_default().to_owned(),
                    code,
                    jurisdiction: String::new(),
                    rate: billing_domain::tax::Percent::ZERO,
                    inclusive: inclusive(t),
                })
            })
            .collect(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::verify::{Verified, verify};
    use billing_domain::billing::{PlanInterval, SubscriptionStatus};

    pub(crate) fn sample(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/stripe").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub(crate) fn parsed(name: &str) -> Event {
        let body = sample(name);
        let header = stripe_events::Webhook::generate_test_header(&body, "whsec_test", Some(1_000));
        match verify(
            &["whsec_test".into()],
            body.as_bytes(),
            Some(&header),
            1_000,
            crate::verify::DEFAULT_TOLERANCE_SECS,
        )
        .unwrap()
        {
            Verified::Event(e) => *e,
            Verified::Unparseable(head) => panic!("{name} does not parse: {head:?}"),
        }
    }

    #[test]
    fn checkout_completion_links_the_customer_to_the_account() {
        let Decision::LinkCustomer(link, settle) = decide(&parsed("checkout.session.completed.json")) else { panic!() };
        assert!(settle.invoice_ids.is_empty(), "a subscription checkout settles no invoices");
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

    fn invoice_of(name: &str) -> InvoiceDraft {
        match decide(&parsed(name)) {
            Decision::Invoice(d) => *d,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn a_finalized_invoice_is_itemized_in_money_not_minor_units() {
        let d = invoice_of("invoice.finalized.json");
        assert_eq!(d.follow_up, Some(FollowUp::BillReady));
        assert_eq!(d.account_hint.as_ref().map(AccountId::as_str), Some("acct_demo"));
        let i = &d.invoice;
        assert_eq!((i.status, i.number.as_deref()), (InvoiceStatus::Open, Some("DEMO-0001")));
        assert_eq!(i.total.to_string(), "60.00 USD");
        assert_eq!(i.outstanding().to_string(), "60.00 USD");
        assert!(i.lines_complete);
        let line = &i.lines[0];
        assert_eq!(
            (line.kind, line.quantity, line.group.as_str()),
            (ChargeKind::Recurring, Some(5), "prod_DemoSeats0001")
        );
        assert_eq!(line.product.as_deref(), Some("prod_DemoSeats0001"), "named when applied");
        assert_eq!(line.unit_amount.unwrap().to_string(), "12.00 USD");
        assert_eq!(serde_json::to_value(line.unit_amount.unwrap()).unwrap()["amount"], "12.00");
        assert!(!line.period.partial);
        assert!(i.hosted_invoice_url.is_some() && i.pdf_url.is_some());
    }

    #[test]
    fn product_events_keep_the_name_bills_show() {
        let Decision::Product(made) = decide(&parsed("product.created.json")) else { panic!() };
        assert_eq!((made.id.as_str(), made.name.as_str(), made.active), ("prod_DemoSeats0001", "Seats", true));
        let Decision::Product(renamed) = decide(&parsed("product.updated.json")) else { panic!() };
        assert_eq!(renamed.name, "Team seats");
        assert!(renamed.stamp.supersedes(&made.stamp));

        let mut deleted: serde_json::Value = serde_json::from_str(&sample("product.updated.json")).unwrap();
        deleted["type"] = "product.deleted".into();
        let body = deleted.to_string();
        let header = stripe_events::Webhook::generate_test_header(&body, "whsec_test", Some(1_000));
        let Ok(Verified::Event(e)) = verify(
            &["whsec_test".into()],
            body.as_bytes(),
            Some(&header),
            1_000,
            crate::verify::DEFAULT_TOLERANCE_SECS,
        ) else {
            panic!()
        };
        let Decision::Product(gone) = decide(&e) else { panic!() };
        assert_eq!((gone.name.as_str(), gone.active), ("Team seats", false), "old bills still name it");
    }

    #[test]
    fn prorations_are_marked_partial_and_credits_stay_negative() {
        let d = invoice_of("invoice.proration.finalized.json");
        let amounts: Vec<String> = d.invoice.lines.iter().map(|l| l.amount.to_string()).collect();
        assert_eq!(amounts, ["-40.00 USD", "64.00 USD"]);
        assert!(d.invoice.lines.iter().all(|l| l.kind == ChargeKind::Proration && l.period.partial));
        assert_eq!(d.invoice.total.to_string(), "24.00 USD");
        assert_eq!(invoice_of("invoice.payment_failed.json").follow_up, Some(FollowUp::PaymentFailed));
        let paid = invoice_of("invoice.paid.json");
        assert_eq!((paid.follow_up, paid.invoice.status), (Some(FollowUp::PaymentReceived), InvoiceStatus::Paid));
        assert!(paid.invoice.outstanding().is_zero());
    }

    fn projection_of(name: &str) -> ProjectionDraft {
        match decide(&parsed(name)) {
            Decision::Project(d) => *d,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn payment_methods_are_summarised_without_card_numbers() {
        let d = projection_of("payment_method.attached.json");
        let Projection::PaymentMethod(pm) = &d.projection else { panic!() };
        assert_eq!(
            (pm.kind.as_str(), pm.brand.as_deref(), pm.last4.as_deref(), pm.exp_month, pm.exp_year, pm.attached),
            ("card", Some("visa"), Some("4242"), Some(12), Some(2030), true)
        );
        // Detached: the object has no customer any more; the previous attributes name it.
        let d = projection_of("payment_method.detached.json");
        assert_eq!(d.customer_id, "cus_DemoCustomer0001");
        assert!(matches!(&d.projection, Projection::PaymentMethod(pm) if !pm.attached));
        let d = projection_of("customer.updated.json");
        assert_eq!(d.account_hint.as_ref().map(AccountId::as_str), Some("acct_demo"));
        let Projection::DefaultPaymentMethod(def) = &d.projection else { panic!() };
        assert_eq!(def.payment_method_id.as_deref(), Some("pm_DemoVisa00000001"));
    }

    #[test]
    fn a_refund_is_a_payment_record_to_audit_and_a_dispute_names_its_charge() {
        let d = projection_of("charge.refunded.json");
        assert_eq!(d.audit, Some(AuditAction::PaymentRefunded));
        let Projection::Payment(p) = &d.projection else { panic!() };
        assert_eq!((p.amount.to_string().as_str(), p.amount_refunded.to_string().as_str()), ("60.00 USD", "12.00 USD"));
        assert_eq!((p.refunded, p.payment_intent_id.as_deref()), (false, Some("pi_DemoFirstPayment1")));
        let Decision::Dispute(dispute) = decide(&parsed("charge.dispute.created.json")) else { panic!() };
        assert_eq!(dispute.charge_id, "ch_DemoFirstPayment1");
        assert_eq!(
            (dispute.dispute.reason.as_str(), dispute.dispute.status.as_str()),
            ("fraudulent", "needs_response")
        );
    }

    /// Every sample in `events/stripe/` parses with the pinned types, and each type this function
    /// handles leads to a change (only the unknown type and a failed async payment are ignored).
    #[test]
    fn every_sample_parses_and_every_handled_type_is_acted_on() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/stripe");
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert!(names.len() >= 20, "{names:?}");
        for name in names {
            let decision = decide(&parsed(&name));
            let expect_ignored = name == "unknown.event.json" || name == "checkout.session.async_payment_failed.json";
            assert_eq!(matches!(decision, Decision::Ignore(_)), expect_ignored, "{name}: {decision:?}");
        }
    }

    #[test]
    fn unknown_event_types_are_ignored_not_failed() {
        assert!(matches!(decide(&parsed("unknown.event.json")), Decision::Ignore(_)));
    }
}
