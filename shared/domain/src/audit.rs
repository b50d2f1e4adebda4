//! The append-only audit trail: who changed what on an account, with the values before and after.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, AuditId, Email, UserId};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AuditAction {
    #[serde(rename = "account.created")]
    AccountCreated,
    #[serde(rename = "account.billing_contact_updated")]
    BillingContactUpdated,
    #[serde(rename = "account.billing_address_updated")]
    BillingAddressUpdated,
    #[serde(rename = "account.bill_recipients_updated")]
    BillRecipientsUpdated,
    #[serde(rename = "member.invited")]
    MemberInvited,
    #[serde(rename = "member.activated")]
    MemberActivated,
    #[serde(rename = "member.role_changed")]
    MemberRoleChanged,
    #[serde(rename = "member.removed")]
    MemberRemoved,
    #[serde(rename = "payment.refunded")]
    PaymentRefunded,
    #[serde(rename = "payment.disputed")]
    PaymentDisputed,
    #[serde(rename = "payment.requested")]
    PaymentRequested,
    #[serde(rename = "payment_method.default_set")]
    DefaultPaymentMethodSet,
    #[serde(rename = "payment_method.removed")]
    PaymentMethodRemoved,
    #[serde(rename = "subscription.checkout_started")]
    SeatCheckoutStarted,
    #[serde(rename = "subscription.seats_changed")]
    SeatsChanged,
    #[serde(rename = "seat.assigned")]
    SeatAssigned,
    #[serde(rename = "seat.unassigned")]
    SeatUnassigned,
    #[serde(rename = "account.imported")]
    AccountImported,
    #[serde(rename = "invoice.payment_recorded")]
    InvoicePaymentRecorded,
    /// The bank returned a check: the payment taken back, its bills owed again.
    #[serde(rename = "invoice.payment_returned")]
    InvoicePaymentReturned,
    #[serde(rename = "invoice.credit_note_issued")]
    CreditNoteIssued,
    #[serde(rename = "invoice.voided")]
    InvoiceVoided,
    #[serde(rename = "invoice.credit_note_requested")]
    CreditNoteRequested,
    #[serde(rename = "invoice.credit_note_approved")]
    CreditNoteApproved,
    #[serde(rename = "invoice.credit_note_rejected")]
    CreditNoteRejected,
    #[serde(rename = "account.reminders_paused")]
    RemindersPaused,
    #[serde(rename = "account.reminders_resumed")]
    RemindersResumed,
    #[serde(rename = "account.tax_changed")]
    TaxProfileChanged,
    // The seller's own trail (see [`seller_trail`]): its setup and its bill runs.
    #[serde(rename = "catalog.price_saved")]
    PriceSaved,
    #[serde(rename = "catalog.cohort_saved")]
    CohortSaved,
    #[serde(rename = "settings.tax_rate_saved")]
    TaxRateSaved,
    #[serde(rename = "settings.tax_saved")]
    SellerTaxSaved,
    #[serde(rename = "settings.reminders_saved")]
    ReminderScheduleSaved,
    #[serde(rename = "stripe.parked_event_discarded")]
    ParkedEventDiscarded,
    #[serde(rename = "bill_run.drafted")]
    BillRunDrafted,
    #[serde(rename = "bill_run.approved")]
    BillRunApproved,
    #[serde(rename = "bill_run.finalized")]
    BillRunFinalized,
    /// Staff applied a lockbox check that waited in the exceptions queue.
    #[serde(rename = "lockbox.check_applied")]
    LockboxCheckApplied,
    #[serde(rename = "lockbox.check_returned")]
    LockboxCheckReturned,
}

/// The seller's own audit trail (catalog, settings, parked events, bill runs) is kept as the
/// trail of this reserved account id, which no customer account may take (ids made here are
/// random; an import naming it is refused).
pub fn seller_trail() -> AccountId {
    "acct_seller".parse().expect("a valid account id")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: AuditId,
    pub account_id: AccountId,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: AuditAction,
    /// The id of what changed (a member id), when it is not the account itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    /// Why, when staff made the change: a documented code and their words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<crate::staff::Reason>,
}

impl AuditEntry {
    pub fn record<B: Serialize, A: Serialize>(
        account_id: &AccountId,
        actor: &Actor,
        action: AuditAction,
        target: Option<String>,
        before: Option<&B>,
        after: Option<&A>,
        now: DateTime<Utc>,
    ) -> Self {
        // Domain values always serialize; a failure here would be a bug, recorded as null.
        fn snapshot<T: Serialize>(v: &T) -> serde_json::Value {
            serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
        }
        Self {
            id: AuditId::generate(),
            account_id: account_id.clone(),
            at: now,
            actor: actor.clone(),
            action,
            target,
            before: before.map(|b| snapshot(b)),
            after: after.map(|a| snapshot(a)),
            reason: None,
        }
    }

    /// The entry with the reason the change was made for.
    pub fn because(mut self, reason: Option<&crate::staff::Reason>) -> Self {
        self.reason = reason.cloned();
        self
    }
}
