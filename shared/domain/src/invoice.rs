//! Invoices as the processor issues them, itemized: each line with its charge kind, its service
//! period (partial periods marked) and the logical element it belongs to, so statements and bill
//! e-mails can group lines with subtotals.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::billing::Stamp;
use crate::ids::AccountId;
use crate::money::{Currency, Money};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum InvoiceStatus {
    Draft,
    Open,
    Paid,
    Uncollectible,
    Void,
}

impl InvoiceStatus {
    /// Its name, as the API and the store spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Open => "open",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Uncollectible => "uncollectible",
            InvoiceStatus::Void => "void",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChargeKind {
    Recurring,
    OneTime,
    Usage,
    Overage,
    /// A credit or charge for part of a period after a change (e.g. seats added mid-period).
    Proration,
}

/// The time a line's charge covers. `partial` marks a line that covers only part of its billing
/// period (prorations), so a statement can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServicePeriod {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub id: String,
    pub description: String,
    pub kind: ChargeKind,
    /// The logical element the line belongs to (a product, site or subscription): lines are
    /// grouped by it, with subtotals.
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_amount: Option<Money>,
    pub amount: Money,
    pub period: ServicePeriod,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// The processor's id (`in_…`).
    pub id: String,
    pub account_id: AccountId,
    pub customer_id: String,
    /// Assigned when finalized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub status: InvoiceStatus,
    pub currency: Currency,
    pub subtotal: Money,
    pub tax: Money,
    pub total: Money,
    pub amount_due: Money,
    pub amount_paid: Money,
    pub amount_remaining: Money,
    pub created: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<DateTime<Utc>>,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_invoice_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf_url: Option<String>,
    pub lines: Vec<InvoiceLine>,
    /// False when the event carried only the first page of lines (the rest are fetched later).
    pub lines_complete: bool,
    pub stamp: Stamp,
}

impl Invoice {
    /// What this invoice adds to the account's balance due: the unpaid remainder of an open
    /// invoice; nothing for drafts, paid, void or uncollectible ones.
    pub fn outstanding(&self) -> Money {
        match self.status {
            InvoiceStatus::Open => self.amount_remaining,
            _ => Money::zero(self.currency),
        }
    }
}

#[cfg(test)]
mod status_tests {
    use super::InvoiceStatus;

    #[test]
    fn a_status_name_is_its_serde_name() {
        use InvoiceStatus as S;
        for status in [S::Draft, S::Open, S::Paid, S::Uncollectible, S::Void] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }
}
