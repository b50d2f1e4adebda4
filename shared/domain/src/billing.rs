//! What the payment processor tells us about an account's billing, as the domain keeps it:
//!
//! - the subscription (the seats it pays for: [`SeatCount`], [`PlanInterval`],
//!   [`SubscriptionStatus`]) and the [`CustomerLink`] between the account and its processor
//!   customer;
//! - the order guard of every projected object ([`Stamp`]);
//! - the exactly-once ledger of processor events ([`EventRecord`], [`EventOutcome`]), the events
//!   parked until their customer is linked ([`ParkedEvent`]), and the [`WorkItem`]s a change leaves for the stream consumers (mailer, seat provisioner);
//! - payment methods, the default one, card payments and their disputes, projected under the
//!   account ([`Projection`], [`ProjectionKey`]).
//!
//! Projected from processor events; this module has no processor types.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::ids::AccountId;

/// How many seats: a subscription's quantity. Zero is a valid quantity (a paused team).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = u32))]
pub struct SeatCount(u32);

impl SeatCount {
    /// Far above any real team; rejects garbage quantities before they reach the provisioner.
    pub const MAX: u32 = 100_000;

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for SeatCount {
    type Error = FieldError;
    fn try_from(n: i64) -> Result<Self, FieldError> {
        u32::try_from(n)
            .ok()
            .filter(|n| *n <= Self::MAX)
            .map(SeatCount)
            .ok_or_else(|| FieldError::new("quantity", format!("must be a whole number from 0 to {}", Self::MAX)))
    }
}

impl From<SeatCount> for i64 {
    fn from(s: SeatCount) -> i64 {
        i64::from(s.0)
    }
}

impl fmt::Display for SeatCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Which processor event last wrote a projected object. Events arrive out of order; a change is
/// applied only if its event is newer than the stamp already stored (see [`Stamp::supersedes`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// When the processor created the event (its clock, one-second resolution).
    pub at: DateTime<Utc>,
    pub event_id: String,
}

impl Stamp {
    /// Whether a change stamped `self` should replace state stamped `stored`. Only a strictly
    /// later event does: two events of the same second cannot be ordered from their payloads, so
    /// the later arrival does not overwrite (the caller re-reads the object from the processor
    /// to settle such ties).
    pub fn supersedes(&self, stored: &Stamp) -> bool {
        self.at > stored.at
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PlanInterval {
    Monthly,
    Annual,
}

/// The processor's subscription states (Stripe's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SubscriptionStatus {
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
}

impl SubscriptionStatus {
    /// Whether the subscription still runs (a new checkout would create a second one).
    pub fn is_live(self) -> bool {
        !matches!(self, Self::Canceled | Self::IncompleteExpired)
    }

    /// Whether the paid seats are usable: the provisioner keeps seats for these states.
    pub fn entitles(self) -> bool {
        matches!(self, Self::Trialing | Self::Active | Self::PastDue)
    }
}

/// An account's subscription to seats, as the processor last reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The processor's id (`sub_…`).
    pub id: String,
    pub account_id: AccountId,
    /// The processor's customer (`cus_…`).
    pub customer_id: String,
    pub status: SubscriptionStatus,
    pub interval: PlanInterval,
    pub seats: SeatCount,
    pub price_id: String,
    /// The subscription item that carries the seats (`si_…`): what a seat change updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// The price of one seat for one period, when the price is a flat per-seat amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_amount: Option<crate::money::Money>,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub cancel_at_period_end: bool,
    pub stamp: Stamp,
}

/// What an event says a subscription was just before it (Stripe's `previous_attributes`): the
/// seats and status its follow-up depends on. An event whose prior is the stored state applies
/// in one write conditioned on it; when the stored state is anything else (an event missed,
/// delayed or delivered twice), the write fails and the event is applied against what is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionPrior {
    pub seats: SeatCount,
    pub status: SubscriptionStatus,
}

impl SubscriptionPrior {
    /// `after` as it was under this prior: what the follow-up is decided against.
    pub fn before(&self, after: &Subscription) -> Subscription {
        Subscription { seats: self.seats, status: self.status, ..after.clone() }
    }
}

/// The account a processor customer bills, learnt when the account's checkout completes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerLink {
    pub customer_id: String,
    pub account_id: AccountId,
    pub stamp: Stamp,
}

/// A product in the processor's catalog (Stripe's `prod_…`). Bills group a card account's lines
/// under their product's name; the name is kept from `product.*` events, or read from the
/// processor when an invoice names a product no event has told of yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    pub name: String,
    /// False once archived or deleted: old bills still name it.
    pub active: bool,
    /// The event that told of this state; a product read from the processor is stamped with its
    /// own `updated` time.
    pub stamp: Stamp,
}

/// What became of one processor event, recorded once per event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventOutcome {
    /// Its change was projected.
    Applied,
    /// Older than the state already stored: nothing changed.
    Stale,
    /// A type this system does not act on.
    Ignored,
    /// About a customer no account was linked to (recorded before parking existed): nothing
    /// changed.
    Unattributed,
    /// About a customer no account is linked to yet: kept as it was delivered ([`ParkedEvent`])
    /// and applied through the same path, in Stripe's order, when the customer is linked.
    Parked,
    /// A parked event ops discarded (its customer will never be linked here): never applied.
    Discarded,
    /// Signed, but its object could not be read: nothing changed (logged as an error).
    Unparseable,
}

/// The ledger entry of one processor event: the exactly-once claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    pub event_id: String,
    pub kind: String,
    pub created: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub outcome: EventOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<AccountId>,
}

/// An event kept until its customer is linked to an account: the verified payload as Stripe
/// delivered it, so that its replay takes exactly the path a delivery takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedEvent {
    pub event_id: String,
    pub kind: String,
    /// Stripe's `created` (epoch seconds): parked events are replayed in this order.
    pub created: i64,
    pub customer_id: String,
    /// The event's JSON, verified when it was delivered.
    pub payload: String,
    pub parked_at: DateTime<Utc>,
}

/// A parked event ops discarded, and why (kept on its ledger entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discard {
    pub event_id: String,
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Follow-up work a projected change leaves for the stream consumers (mailer, seat provisioner),
/// written in the same transaction as the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkItem {
    SeatsChanged {
        account_id: AccountId,
        subscription_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<SeatCount>,
        to: SeatCount,
        status: SubscriptionStatus,
        /// The event that caused it: the work item's id.
        event_id: String,
    },
    /// A finalized invoice to send to the account's bill recipients.
    BillReady { account_id: AccountId, invoice_id: String, event_id: String },
    /// A paid invoice: the receipt.
    PaymentReceived { account_id: AccountId, invoice_id: String, amount_paid: crate::money::Money, event_id: String },
    /// A failed payment attempt: a notice with a link to pay in the portal.
    PaymentFailed { account_id: AccountId, invoice_id: String, amount_due: crate::money::Money, event_id: String },
    /// The bank returned a check (NSF, stopped…): the customer is told which bills are open
    /// again and what a fee adds.
    PaymentReturned {
        account_id: AccountId,
        /// The first bill it had paid (the notice shows it and its stub).
        invoice_id: String,
        /// `check:1042`, `lockbox:<key>`.
        reference: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        check_number: Option<String>,
        /// The whole check.
        amount: crate::money::Money,
        /// The numbers of every bill it had paid, now owed again.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        bills: Vec<String>,
        reason: crate::ledger::ReturnReason,
        /// The returned-check fee added to the next bill, when the seller charges one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fee: Option<crate::money::Money>,
        /// `returned:<account>:<reference>`: one notice per returned check (check numbers are
        /// the payer's, so two accounts' may be alike).
        event_id: String,
    },
    /// Someone was invited to an account: mail them the invitation.
    MemberInvited {
        account_id: AccountId,
        member_id: crate::ids::MemberId,
        email: crate::ids::Email,
        role: crate::member::Role,
        /// The invitation's own id (the member id): one mail per invitation.
        event_id: String,
    },
    /// The account's cohort moves to bills from this system: the "new bill format" notice, sent
    /// once, a month before go-live.
    BillFormatNotice {
        account_id: AccountId,
        cohort: String,
        go_live: chrono::NaiveDate,
        first_bill_date: chrono::NaiveDate,
        /// `cohort:<id>`: one notice per account and cohort.
        event_id: String,
    },
    /// A contract bill reached a step of the reminder schedule unpaid: remind its recipients.
    PaymentReminder {
        account_id: AccountId,
        invoice_id: String,
        /// Days relative to the due date (negative: before it).
        step: i32,
        /// The day the bill run queued it: the mail counts the days past due from then or from
        /// the day it is sent, whichever is later.
        as_of: chrono::NaiveDate,
        /// `reminder:<invoice>:<step>`: one reminder per bill and step.
        event_id: String,
    },
    /// Ops issued a credit note on a contract bill: its document goes to the bill's recipients.
    CreditNoteIssued {
        account_id: AccountId,
        credit_note_id: String,
        /// The credit note's id: one mail per credit note.
        event_id: String,
    },
    /// The seat provisioner made the account's seats match what is paid: tell its admins.
    SeatsReady {
        account_id: AccountId,
        /// Usable seats now.
        seats: SeatCount,
        /// Assigned seats beyond what is paid, waiting for an admin to unassign someone.
        pending_removal: u32,
        /// False when the subscription no longer entitles seats (they are suspended).
        entitled: bool,
        event_id: String,
    },
}

impl WorkItem {
    pub fn account_id(&self) -> &AccountId {
        match self {
            WorkItem::SeatsChanged { account_id, .. }
            | WorkItem::BillReady { account_id, .. }
            | WorkItem::PaymentReceived { account_id, .. }
            | WorkItem::PaymentFailed { account_id, .. }
            | WorkItem::PaymentReturned { account_id, .. }
            | WorkItem::SeatsReady { account_id, .. }
            | WorkItem::BillFormatNotice { account_id, .. }
            | WorkItem::PaymentReminder { account_id, .. }
            | WorkItem::CreditNoteIssued { account_id, .. }
            | WorkItem::MemberInvited { account_id, .. } => account_id,
        }
    }

    pub fn event_id(&self) -> &str {
        match self {
            WorkItem::SeatsChanged { event_id, .. }
            | WorkItem::BillReady { event_id, .. }
            | WorkItem::PaymentReceived { event_id, .. }
            | WorkItem::PaymentFailed { event_id, .. }
            | WorkItem::PaymentReturned { event_id, .. }
            | WorkItem::SeatsReady { event_id, .. }
            | WorkItem::BillFormatNotice { event_id, .. }
            | WorkItem::PaymentReminder { event_id, .. }
            | WorkItem::CreditNoteIssued { event_id, .. }
            | WorkItem::MemberInvited { event_id, .. } => event_id,
        }
    }

    /// The stable name of the kind (also its `kind` attribute).
    pub fn kind(&self) -> &'static str {
        match self {
            WorkItem::SeatsChanged { .. } => "seats_changed",
            WorkItem::BillReady { .. } => "bill_ready",
            WorkItem::PaymentReceived { .. } => "payment_received",
            WorkItem::PaymentFailed { .. } => "payment_failed",
            WorkItem::PaymentReturned { .. } => "payment_returned",
            WorkItem::SeatsReady { .. } => "seats_ready",
            WorkItem::BillFormatNotice { .. } => "bill_format_notice",
            WorkItem::PaymentReminder { .. } => "payment_reminder",
            WorkItem::CreditNoteIssued { .. } => "credit_note_issued",
            WorkItem::MemberInvited { .. } => "member_invited",
        }
    }

    /// The follow-up a subscription change calls for: seats changed when the quantity or
    /// whether it entitles seats changed.
    pub fn for_subscription(before: Option<&Subscription>, after: &Subscription) -> Option<WorkItem> {
        let changed = match before {
            None => true,
            Some(b) => b.seats != after.seats || b.status.entitles() != after.status.entitles(),
        };
        changed.then(|| WorkItem::SeatsChanged {
            account_id: after.account_id.clone(),
            subscription_id: after.id.clone(),
            from: before.map(|b| b.seats),
            to: after.seats,
            status: after.status,
            event_id: after.stamp.event_id.clone(),
        })
    }
}

/// A saved payment method as the portal shows it: never a card number, only what identifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethodSummary {
    /// The processor's id (`pm_…`).
    pub id: String,
    pub account_id: AccountId,
    pub customer_id: String,
    /// The processor's method type (`card`, `us_bank_account`, `sepa_debit`, …).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp_month: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp_year: Option<u16>,
    /// False once detached from the customer (kept, so an older `attached` cannot revive it).
    pub attached: bool,
    pub stamp: Stamp,
}

/// Which payment method the account's customer pays invoices with by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultPaymentMethod {
    pub account_id: AccountId,
    pub customer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_id: Option<String>,
    pub stamp: Stamp,
}

/// A dispute (chargeback) opened on a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeSummary {
    pub id: String,
    pub amount: crate::money::Money,
    pub reason: String,
    pub status: String,
}

/// A card payment (the processor's charge) and what happened to it after: refunds, a dispute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    /// The processor's charge id (`ch_…`).
    pub charge_id: String,
    pub account_id: AccountId,
    pub customer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent_id: Option<String>,
    pub amount: crate::money::Money,
    pub amount_refunded: crate::money::Money,
    /// Refunded in full.
    pub refunded: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute: Option<DisputeSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_url: Option<String>,
    pub stamp: Stamp,
}

/// A processor object projected under an account and replaced only by a newer event: the shape
/// every such projection shares (subscriptions and invoices have richer writes of their own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "projection", rename_all = "snake_case")]
pub enum Projection {
    PaymentMethod(PaymentMethodSummary),
    DefaultPaymentMethod(DefaultPaymentMethod),
    Payment(PaymentRecord),
}

/// Which projection: the key a [`Projection`] is stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectionKey {
    PaymentMethod { account_id: AccountId, payment_method_id: String },
    DefaultPaymentMethod { account_id: AccountId },
    Payment { account_id: AccountId, charge_id: String },
}

impl Projection {
    pub fn key(&self) -> ProjectionKey {
        match self {
            Projection::PaymentMethod(pm) => {
                ProjectionKey::PaymentMethod { account_id: pm.account_id.clone(), payment_method_id: pm.id.clone() }
            }
            Projection::DefaultPaymentMethod(d) => {
                ProjectionKey::DefaultPaymentMethod { account_id: d.account_id.clone() }
            }
            Projection::Payment(p) => {
                ProjectionKey::Payment { account_id: p.account_id.clone(), charge_id: p.charge_id.clone() }
            }
        }
    }

    pub fn stamp(&self) -> &Stamp {
        match self {
            Projection::PaymentMethod(pm) => &pm.stamp,
            Projection::DefaultPaymentMethod(d) => &d.stamp,
            Projection::Payment(p) => &p.stamp,
        }
    }

    /// What to store over `before`: a payment keeps the dispute it has on record when the new
    /// state (a charge event, which carries no dispute details) has none.
    pub fn carried_over(self, before: Option<&Projection>) -> Projection {
        match (self, before) {
            (Projection::Payment(mut after), Some(Projection::Payment(b))) if after.dispute.is_none() => {
                after.dispute = b.dispute.clone();
                Projection::Payment(after)
            }
            (after, _) => after,
        }
    }

    /// The same projection for another account (the account is resolved after deciding).
    pub fn for_account(mut self, account: AccountId) -> Self {
        match &mut self {
            Projection::PaymentMethod(pm) => pm.account_id = account,
            Projection::DefaultPaymentMethod(d) => d.account_id = account,
            Projection::Payment(p) => p.account_id = account,
        }
        self
    }
}

impl ProjectionKey {
    pub fn account_id(&self) -> &AccountId {
        match self {
            ProjectionKey::PaymentMethod { account_id, .. }
            | ProjectionKey::DefaultPaymentMethod { account_id }
            | ProjectionKey::Payment { account_id, .. } => account_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn stamp(secs: i64, id: &str) -> Stamp {
        Stamp { at: Utc.timestamp_opt(secs, 0).unwrap(), event_id: id.into() }
    }

    #[test]
    fn only_a_strictly_later_event_supersedes() {
        assert!(stamp(11, "evt_b").supersedes(&stamp(10, "evt_a")));
        assert!(!stamp(10, "evt_a").supersedes(&stamp(11, "evt_b")));
        assert!(!stamp(10, "evt_b").supersedes(&stamp(10, "evt_a")), "same second: cannot order");
    }

    #[test]
    fn seat_counts_are_bounded() {
        assert_eq!(SeatCount::try_from(0).unwrap().get(), 0);
        assert_eq!(SeatCount::try_from(8).unwrap().get(), 8);
        assert!(SeatCount::try_from(-1).is_err());
        assert!(SeatCount::try_from(i64::from(SeatCount::MAX) + 1).is_err());
    }

    #[test]
    fn only_live_states_entitle_seats() {
        use SubscriptionStatus::*;
        let entitled: Vec<_> = [Incomplete, IncompleteExpired, Trialing, Active, PastDue, Canceled, Unpaid, Paused]
            .into_iter()
            .filter(|s| s.entitles())
            .collect();
        assert_eq!(entitled, [Trialing, Active, PastDue]);
    }
}
