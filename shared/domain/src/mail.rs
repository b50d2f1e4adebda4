//! Mail to an account's people: which kinds there are, who gets them, and the key that makes
//! each send happen once.

use serde::{Deserialize, Serialize};

use crate::account::Account;
use crate::ids::Email;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// A finalized bill, itemized, with the REMIT-TO address and a payment stub.
    BillReady,
    /// A receipt for a paid bill.
    PaymentReceived,
    /// A failed payment attempt, with a link to pay in the portal.
    PaymentFailed,
    /// A check the bank returned: the bills it paid are owed again.
    PaymentReturned,
    /// The account's seats were provisioned to the paid number.
    SeatsReady,
    /// An invitation to join an account.
    MemberInvitation,
    /// The account's bills move to a new format (cohort migration), a month ahead.
    BillFormatNotice,
    /// A contract bill is coming due or past due: one per step of the reminder schedule.
    PaymentReminder,
    /// A credit note on a contract bill, with its PDF.
    CreditNote,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::BillReady => "bill_ready",
            MailKind::PaymentReceived => "payment_received",
            MailKind::PaymentFailed => "payment_failed",
            MailKind::PaymentReturned => "payment_returned",
            MailKind::SeatsReady => "seats_ready",
            MailKind::MemberInvitation => "member_invitation",
            MailKind::BillFormatNotice => "bill_format_notice",
            MailKind::PaymentReminder => "payment_reminder",
            MailKind::CreditNote => "credit_note",
        }
    }
}

/// One send: a kind of mail about one thing (an invoice, an event) to one recipient. A send is
/// claimed under this key before the mail goes out, so it goes out once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MailKey {
    pub kind: MailKind,
    /// What the mail is about: the invoice id, or the event that caused it.
    pub subject: String,
    pub recipient: Email,
}

impl MailKey {
    pub fn id(&self) -> String {
        format!("{}#{}#{}", self.kind.as_str(), self.subject, self.recipient)
    }
}

/// Who gets an account's bills: the billing contact, then the bill recipients, each once
/// (addresses compare case-insensitively; [`Email`] is stored lower-cased). Addresses that
/// bounced or complained are left out when each mail is claimed.
pub fn bill_recipients(account: &Account) -> Vec<Email> {
    let mut out: Vec<Email> = Vec::new();
    let all = std::iter::once(&account.billing_contact.email).chain(account.bill_recipients.as_slice());
    for e in all {
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    out
}
