//! Invoices as the processor issues them, itemized: each line with its charge kind, its service
//! period (partial periods marked) and the logical element it belongs to, so statements and bill
//! e-mails can group lines with subtotals.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
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

impl ServicePeriod {
    /// The first day the period covers.
    pub fn first_day(&self) -> NaiveDate {
        self.start.date_naive()
    }

    /// The last day the period covers, as people read it. The stored `end` is exclusive: the
    /// processor and the bill run end a period where the next one starts (Dec 1 – Jan 1 is
    /// December), so a period ending at midnight UTC ends on the day before. A period ending
    /// within a day (a proration to the second) ends on that day.
    pub fn last_day(&self) -> NaiveDate {
        let day = self.end.date_naive();
        if self.end.time() == NaiveTime::MIN && self.end > self.start {
            day.checked_sub_days(Days::new(1)).unwrap_or(day)
        } else {
            day
        }
    }

    /// The span from the earliest start to the latest end of `periods`; `None` for none.
    pub fn span<'a>(periods: impl IntoIterator<Item = &'a ServicePeriod>) -> Option<ServicePeriod> {
        periods.into_iter().fold(None, |acc, p| {
            Some(match acc {
                None => ServicePeriod { partial: false, ..*p },
                Some(a) => ServicePeriod { start: a.start.min(p.start), end: a.end.max(p.end), partial: false },
            })
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub id: String,
    pub description: String,
    pub kind: ChargeKind,
    /// The logical element the line belongs to (a product's name, a site, a subscription): lines
    /// are grouped by it, with subtotals.
    pub group: String,
    /// The processor's product the line bills (`prod_…`), when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The contract item the line bills (contract bills).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_amount: Option<Money>,
    pub amount: Money,
    pub period: ServicePeriod,
    /// What the line was taxed at (a snapshot: a later rate change never alters it). Empty when no
    /// tax applies, and on processor invoices, whose tax is on the invoice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<crate::tax::AppliedTax>,
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
    /// Net of tax.
    pub subtotal: Money,
    pub tax: Money,
    pub total: Money,
    /// The tax per (code, rate) with its taxable base, and what made it 0 % (exemption, reverse
    /// charge); empty where no tax was worked out.
    #[serde(default, skip_serializing_if = "crate::tax::InvoiceTax::is_empty")]
    pub tax_detail: crate::tax::InvoiceTax,
    /// A contract bill's account summary (previous balance, payments, credits, balance forward,
    /// new charges, total due), set when it is finalized; processor invoices have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_summary: Option<crate::ledger::AccountSummary>,
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
    /// The service the bill's lines cover, from the earliest line's start to the latest line's
    /// end: what a reader takes the bill to be for. It is wider than the invoice's own period
    /// when recurring charges are billed in advance beside usage in arrears (a contract bill of
    /// Dec 1 charges December's rack and November's bandwidth). An invoice without lines covers
    /// its own period.
    pub fn service_span(&self) -> ServicePeriod {
        ServicePeriod::span(self.lines.iter().map(|l| &l.period)).unwrap_or(ServicePeriod {
            start: self.period_start,
            end: self.period_end,
            partial: false,
        })
    }

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
mod period_tests {
    use super::ServicePeriod;
    use chrono::{NaiveDate, TimeZone, Utc};

    fn period(start: (i32, u32, u32, u32), end: (i32, u32, u32, u32)) -> ServicePeriod {
        let t = |(y, m, d, h): (i32, u32, u32, u32)| Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap();
        ServicePeriod { start: t(start), end: t(end), partial: false }
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_period_ending_at_midnight_ends_the_day_before() {
        let december = period((2026, 12, 1, 0), (2027, 1, 1, 0));
        assert_eq!((december.first_day(), december.last_day()), (day(2026, 12, 1), day(2026, 12, 31)));
        let to_the_second = period((2026, 11, 12, 10), (2026, 12, 12, 10));
        assert_eq!(to_the_second.last_day(), day(2026, 12, 12), "ends within that day");
        let empty = period((2026, 12, 1, 0), (2026, 12, 1, 0));
        assert_eq!(empty.last_day(), day(2026, 12, 1), "never before its first day");
    }

    #[test]
    fn the_span_of_lines_billed_in_advance_and_in_arrears() {
        let usage = period((2026, 11, 1, 0), (2026, 12, 1, 0));
        let rack = ServicePeriod { partial: true, ..period((2026, 12, 1, 0), (2027, 1, 1, 0)) };
        let span = ServicePeriod::span([&usage, &rack]).unwrap();
        assert_eq!((span.first_day(), span.last_day(), span.partial), (day(2026, 11, 1), day(2026, 12, 31), false));
        assert_eq!(ServicePeriod::span([]), None);
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
