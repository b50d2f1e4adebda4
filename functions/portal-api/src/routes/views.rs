//! Response bodies: what the API shows of domain values.

use billing_domain::{
    Account, Address, BillingContact, BillingMode, Currency, Email, Member, MemberStatus, Money, Role,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::state::RemitTo;

#[derive(Debug, Serialize)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    pub billing_mode: BillingMode,
    pub currency: Currency,
    pub billing_contact: BillingContact,
    pub billing_address: Address,
    /// The seller's address for mailed payments; null until the seller configures it.
    pub remit_to: Option<RemitTo>,
    pub balance_due: Money,
    pub bill_recipients: Vec<Email>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AccountView {
    pub fn new(a: Account, remit_to: Option<RemitTo>) -> Self {
        Self {
            id: a.id.to_string(),
            name: a.name,
            billing_mode: a.billing_mode,
            currency: a.currency,
            billing_contact: a.billing_contact,
            billing_address: a.billing_address,
            remit_to,
            balance_due: a.balance_due,
            bill_recipients: a.bill_recipients.into(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct MemberView {
    pub id: String,
    pub email: Email,
    pub role: Role,
    pub status: MemberStatus,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<DateTime<Utc>>,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        Self {
            id: m.id.to_string(),
            email: m.email,
            role: m.role,
            status: m.status,
            created_at: m.created_at,
            activated_at: m.activated_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RecipientsView {
    pub recipients: Vec<Email>,
}
