//! An invoice-mode account's billing state ([`ContractAccount`]), metered usage as it arrives
//! ([`UsageEvent`]), and the bulk import that moves accounts into a cohort ([`ImportLine`]).
//!
//! ## Usage buckets
//! Each usage record is stored in the *bucket* of the bill that will charge it: the bill date at
//! the end of its service date's billing cycle, or, when that bill has already been made (the
//! record is late), the next bill still open. The bill run first moves the account's open bucket
//! on (`usage_bucket`) and only then reads the old one; every usage write checks the bucket it
//! chose is still open, in the same transaction. So a record is either in the bucket the run
//! reads, or in the next one: never lost, never billed twice.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::account::{AddressInput, BillingContact, NewAccount};
use crate::catalog::{ChargeType, Metric, Price, PriceId};
use crate::error::{Error, Errors, FieldError, Result};
use crate::ids::AccountId;
use crate::ledger::{Cohort, PaymentTerms};
use crate::money::Money;
use crate::rating::{BillDay, BilledSegment, Contract, ContractItem, QuantityChange, add_months, cycle_containing};

/// An invoice-mode account's billing state: its contract and where its bills stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractAccount {
    pub account_id: AccountId,
    pub contract: Contract,
    #[serde(default)]
    pub terms: PaymentTerms,
    pub cohort: String,
    /// Bills from this system start here; earlier usage was billed by the previous system.
    pub go_live: NaiveDate,
    /// The next bill to make.
    pub next_bill_date: NaiveDate,
    /// The bill whose bucket takes usage that is late for a bill already made (see the module).
    pub usage_bucket: NaiveDate,
    /// Overpayments and excess credit notes, applied to the next bill.
    pub credit: Money,
    /// Payments and credit notes since the last bill, for the next bill's account summary
    /// (absent until the first payment, credit note or bill: nothing since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_last_bill: Option<crate::ledger::SinceLastBill>,
    /// The last bill made here, for the next bill run's preview to compare with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_bill: Option<crate::bill_runs::LastBill>,
    /// A draft invoice made for `next_bill_date`, waiting to be finalized or voided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<Draft>,
    /// Drafts for `next_bill_date` voided so far (names the next draft's id).
    #[serde(default)]
    pub bill_revision: u32,
    /// Ops paused the payment reminders of this account's bills.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reminders_paused: bool,
    /// The contract subscription's taxes: what its lines take when their price names none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tax_codes: Vec<crate::tax::TaxCode>,
    /// The customer's VAT number, exemption and account-level taxes.
    #[serde(default)]
    pub tax: crate::tax::TaxProfile,
    /// Every write is conditional on this and increments it.
    pub version: u64,
}

/// A draft bill and the contract as it was before rating it (restored if the draft is voided).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub invoice_id: String,
    pub bill_date: NaiveDate,
    pub contract_before: Contract,
}

/// Why a usage record was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageRejection {
    NotInvoiceBilled,
    BeforeGoLive(NaiveDate),
    NoSuchMetric(Metric),
    InTheFuture,
}

impl UsageRejection {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotInvoiceBilled => "account_not_contract_billed",
            Self::BeforeGoLive(_) => "before_go_live",
            Self::NoSuchMetric(_) => "unknown_metric",
            Self::InTheFuture => "timestamp_in_future",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::NotInvoiceBilled => "the account is not billed by contract here".into(),
            Self::BeforeGoLive(d) => {
                format!("usage before the account's go-live ({d}) was billed by the previous system")
            }
            Self::NoSuchMetric(m) => format!("the account has no usage price for `{m}` on that date"),
            Self::InTheFuture => "the timestamp is more than 5 minutes in the future".into(),
        }
    }
}

impl ContractAccount {
    /// Payments and credit notes since the last bill (nothing yet when never recorded).
    pub fn since_last_bill(&self) -> crate::ledger::SinceLastBill {
        self.since_last_bill.unwrap_or_else(|| crate::ledger::SinceLastBill::zero(self.contract.currency))
    }

    /// Counts a payment received (the whole amount, whatever part became credit).
    pub fn count_payment(&mut self, amount: Money) {
        let mut since = self.since_last_bill();
        since.paid(amount);
        self.since_last_bill = Some(since);
    }

    /// Counts a credit note issued.
    pub fn count_credit(&mut self, amount: Money) {
        let mut since = self.since_last_bill();
        since.credited(amount);
        self.since_last_bill = Some(since);
    }

    /// The bucket (bill date) a record served on `date` goes to, or why it is refused.
    pub fn bucket_for(&self, metric: &Metric, date: NaiveDate) -> std::result::Result<NaiveDate, UsageRejection> {
        if date < self.go_live {
            return Err(UsageRejection::BeforeGoLive(self.go_live));
        }
        let priced = self.contract.items.iter().any(|i| {
            matches!(&i.price.charge, ChargeType::Usage { metric: m } if m == metric)
                && i.start <= date
                && i.end.is_none_or(|e| date < e)
        });
        if !priced {
            return Err(UsageRejection::NoSuchMetric(metric.clone()));
        }
        Ok(self.bucket_of(date))
    }

    /// The bucket of usage served on `date`: the bill at the end of its billing cycle, or the
    /// next one still open.
    pub fn bucket_of(&self, date: NaiveDate) -> NaiveDate {
        let natural = self.contract.bill_day.on_or_after(date.checked_add_days(Days::new(1)).expect("in range"));
        natural.max(self.usage_bucket)
    }

    /// The bill for `bill_date` as the bill run makes it from `usage` (that bill's usage bucket):
    /// the rating (with the contract as it will stand after the bill) and the draft invoice, not
    /// yet numbered. The bill run's dry run, draft and finalize all start here, and so does the
    /// portal's upcoming bill.
    ///
    /// The lines are taxed at the rates in force on the bill date (its tax point); a bill whose
    /// tax cannot be worked out (a code not defined, or without a rate on that date) is not made.
    pub fn draft_bill(
        &self,
        bill_date: NaiveDate,
        usage: &[crate::rating::UsageRecord],
        taxes: &crate::tax::TaxSetup,
        now: DateTime<Utc>,
    ) -> std::result::Result<(crate::rating::Rated, crate::invoice::Invoice), crate::tax::TaxError> {
        let rated = crate::rating::rate(&self.contract, usage, bill_date);
        let mut lines = rated.lines.clone();
        let none: &[crate::tax::TaxCode] = &[];
        let price_codes: Vec<&[crate::tax::TaxCode]> = lines
            .iter()
            .map(|l| {
                let item = l.item.as_deref().and_then(|id| self.contract.items.iter().find(|i| i.id == id));
                item.map_or(none, |i| i.price.tax_codes.as_slice())
            })
            .collect();
        let ctx = crate::tax::TaxContext {
            rates: &taxes.rates,
            seller: &taxes.seller,
            customer: &self.tax,
            contract_codes: &self.tax_codes,
        };
        let tax = crate::tax::apply(&mut lines, &price_codes, &ctx, bill_date, self.contract.currency)?;
        let invoice = crate::ledger::draft(
            crate::ledger::bill_id(&self.account_id, bill_date, self.bill_revision),
            &self.account_id,
            self.contract.currency,
            crate::tax::Taxed { lines, tax },
            self.usage_period(bill_date),
            now,
            &format!("billrun:{bill_date}"),
        );
        Ok((rated, invoice))
    }

    /// The period a bill on `bill_date` charges usage for.
    pub fn usage_period(&self, bill_date: NaiveDate) -> crate::rating::DateRange {
        let anchor = self.contract.bill_day.on_or_before(bill_date);
        cycle_containing(anchor, 1, anchor.pred_opt().expect("in range"))
    }

    /// The bill after `bill_date`.
    pub fn following_bill(&self, bill_date: NaiveDate) -> NaiveDate {
        add_months(self.contract.bill_day.on_or_before(bill_date), 1)
    }
}

/// One usage record as a seller's service sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageEvent {
    pub account_id: AccountId,
    pub metric: Metric,
    pub quantity: u64,
    pub timestamp: DateTime<Utc>,
    /// Unique per account: a record sent again with the same key is ignored.
    pub idempotency_key: String,
}

impl UsageEvent {
    pub const KEY_MAX: usize = 128;
    /// Clock skew allowed on a sender's timestamp.
    pub const FUTURE_SKEW_SECS: i64 = 300;

    pub fn check_key(key: &str) -> std::result::Result<(), FieldError> {
        let ok = !key.is_empty()
            && key.len() <= Self::KEY_MAX
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        if ok {
            Ok(())
        } else {
            Err(FieldError::new(
                "idempotency_key",
                format!("must be 1 to {} characters of letters, digits, `-`, `_`, `.` or `:`", Self::KEY_MAX),
            ))
        }
    }
}

/// A subscription item in an import line: a catalog price, a quantity, dates, a grouping key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportItem {
    pub id: String,
    pub price_id: PriceId,
    pub group: String,
    #[serde(default)]
    pub description: Option<String>,
    pub start: NaiveDate,
    #[serde(default)]
    pub end: Option<NaiveDate>,
    /// For recurring and one-time prices.
    #[serde(default)]
    pub quantity: Option<u64>,
    /// Later quantity changes.
    #[serde(default)]
    pub changes: Vec<QuantityChange>,
    /// Up to which day (exclusive) the previous system billed this recurring item; default: the
    /// account's first bill date here. An annual contract billed for its whole year names the
    /// year's end, so the first bill here does not charge the rest of that year again.
    #[serde(default)]
    pub billed_through: Option<NaiveDate>,
}

/// One account in a cohort import (one JSON line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportLine {
    pub account_id: AccountId,
    pub name: String,
    pub currency: crate::money::Currency,
    pub contact: ImportContact,
    pub address: ImportAddress,
    /// Must be `invoice`: cohorts move contract accounts.
    pub billing_mode: crate::account::BillingMode,
    pub bill_day: BillDay,
    #[serde(default)]
    pub terms_days: Option<u16>,
    #[serde(default)]
    pub bill_recipients: Vec<String>,
    pub subscriptions: Vec<ImportItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportContact {
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportAddress {
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    pub country: String,
}

/// An import line checked against the catalog: the account to create and its contract state.
#[derive(Debug, Clone)]
pub struct Imported {
    pub account: NewAccount,
    pub bill_recipients: crate::account::BillRecipients,
    pub contract: ContractAccount,
}

impl ImportLine {
    pub const MAX_ITEMS: usize = 200;

    /// Checks the line and builds the account and its contract in `cohort`. Recurring items are
    /// taken as billed by the previous system up to the account's first bill here; usage counts
    /// from go-live.
    pub fn parse(self, cohort: &Cohort, catalog: &BTreeMap<PriceId, Price>) -> Result<Imported> {
        let mut errors = Errors::default();
        if self.account_id == crate::audit::seller_trail() {
            errors.push(FieldError::new("account_id", "is reserved for the seller's own audit trail"));
        }
        if self.billing_mode != crate::account::BillingMode::Invoice {
            errors.push(FieldError::new("billing_mode", "cohorts move invoice-billed accounts: must be `invoice`"));
        }
        let name = errors.take("name", NewAccount::parse_name(&self.name));
        let contact = errors.take_all(
            "contact",
            BillingContact::parse(&self.contact.name, &self.contact.email, self.contact.phone.as_deref()),
        );
        let a = &self.address;
        let address = errors.take_all(
            "address",
            crate::account::Address::parse(AddressInput {
                line1: &a.line1,
                line2: a.line2.as_deref(),
                city: &a.city,
                region: a.region.as_deref(),
                postal_code: a.postal_code.as_deref(),
                country: &a.country,
            }),
        );
        let recipients =
            errors.take_all("bill_recipients", crate::account::BillRecipients::parse(&self.bill_recipients));
        let terms = match self.terms_days {
            None => Some(PaymentTerms::default()),
            Some(days) => errors.take("terms_days", PaymentTerms::try_from(days)),
        };
        if self.subscriptions.len() > Self::MAX_ITEMS {
            errors.push(FieldError::new("subscriptions", format!("at most {} items", Self::MAX_ITEMS)));
        }
        let first_bill = cohort.first_bill_date(self.bill_day);
        let mut items = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, it) in self.subscriptions.into_iter().enumerate() {
            let field = format!("subscriptions[{i}]");
            if !seen.insert(it.id.clone()) {
                errors.push(FieldError::new(&field, format!("duplicate item id `{}`", it.id)));
                continue;
            }
            let Some(price) = catalog.get(&it.price_id) else {
                errors
                    .push(FieldError::new(format!("{field}.price_id"), format!("no catalog price `{}`", it.price_id)));
                continue;
            };
            let usage = matches!(price.charge, ChargeType::Usage { .. });
            let quantities = if usage {
                vec![]
            } else {
                let Some(q) = it.quantity else {
                    errors.push(FieldError::new(format!("{field}.quantity"), "is required for this price"));
                    continue;
                };
                std::iter::once(QuantityChange { from: it.start, quantity: q }).chain(it.changes).collect()
            };
            let mut item = ContractItem {
                id: it.id,
                price: price.clone(),
                group: it.group.trim().to_owned(),
                description: it.description,
                start: it.start,
                end: it.end,
                quantities,
                billed: vec![],
                usage_billed: BTreeMap::new(),
            };
            errors.take_all(&field, item.check(self.currency));
            // The previous system billed what ran before this system's first bill (or up to the
            // date the line names).
            let through = it.billed_through.unwrap_or(first_bill);
            match price.charge {
                ChargeType::Recurring { .. } | ChargeType::OneTime if item.start < through => {
                    let end = item.end.map_or(through, |e| e.min(through));
                    let q = item.quantity_on(item.start);
                    if end > item.start {
                        item.billed = vec![BilledSegment { start: item.start, end, quantity: q }];
                    }
                }
                _ => {}
            }
            items.push(item);
        }
        errors.finish()?;
        let (name, contact, address, recipients, terms) = (
            name.expect("checked"),
            contact.expect("checked"),
            address.expect("checked"),
            recipients.expect("checked"),
            terms.expect("checked"),
        );
        Ok(Imported {
            account: NewAccount { name, currency: self.currency, billing_contact: contact, billing_address: address },
            bill_recipients: recipients,
            contract: ContractAccount {
                account_id: self.account_id,
                contract: Contract { bill_day: self.bill_day, currency: self.currency, items },
                terms,
                cohort: cohort.id.clone(),
                go_live: cohort.go_live,
                next_bill_date: first_bill,
                usage_bucket: first_bill,
                credit: Money::zero(self.currency),
                since_last_bill: None,
                last_bill: None,
                draft: None,
                bill_revision: 0,
                reminders_paused: false,
                tax_codes: vec![],
                tax: crate::tax::TaxProfile::default(),
                version: 0,
            },
        })
    }
}

/// Parses a cohort import file: JSON lines, one account a line (blank lines and `#` comments
/// skipped). Each line is parsed on its own; a bad line does not stop the others.
pub fn parse_import(body: &str) -> Vec<(usize, std::result::Result<ImportLine, String>)> {
    body.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| (i + 1, serde_json::from_str::<ImportLine>(l).map_err(|e| e.to_string())))
        .collect()
}

/// Sum of a list of amounts in one currency.
pub fn sum(amounts: impl IntoIterator<Item = Money>, currency: crate::money::Currency) -> Result<Money> {
    amounts
        .into_iter()
        .try_fold(Money::zero(currency), |acc, m| acc.checked_add(&m).map_err(|e| Error::Corrupt(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::PlanInterval;
    use crate::catalog::ChargeModel;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn catalog() -> BTreeMap<PriceId, Price> {
        let usd = "USD".parse().unwrap();
        let rack = Price {
            id: "rack".parse().unwrap(),
            name: "Rack".into(),
            currency: usd,
            charge: ChargeType::Recurring { interval: PlanInterval::Monthly },
            pricing: ChargeModel::PerUnit { unit_amount: "500".parse().unwrap() },
            unit: None,
            tax_codes: vec![],
        };
        let bw = Price {
            id: "bw".parse().unwrap(),
            name: "Bandwidth".into(),
            currency: usd,
            charge: ChargeType::Usage { metric: "bandwidth_gb".parse().unwrap() },
            pricing: ChargeModel::Overage { included: 1000, unit_amount: "0.05".parse().unwrap() },
            unit: Some("GB".into()),
            tax_codes: vec![],
        };
        [(rack.id.clone(), rack), (bw.id.clone(), bw)].into_iter().collect()
    }

    const LINE: &str = r#"{"account_id":"acct_dc1a","name":"Acme","currency":"USD","contact":{"name":"Ann","email":"ann@acme.example"},"address":{"line1":"1 Main St","city":"Springfield","postal_code":"12345","country":"US"},"billing_mode":"invoice","bill_day":1,"subscriptions":[{"id":"rack-a12","price_id":"rack","group":"DC1","start":"2025-06-10","quantity":2},{"id":"bw","price_id":"bw","group":"DC1","start":"2025-06-10"}]}"#;

    #[test]
    fn import_marks_the_previous_systems_billing_and_sets_the_first_bill() {
        let cohort = Cohort::parse("dc1", "DC1 colocation", d("2027-01-15")).unwrap();
        let parsed = parse_import(LINE);
        let line = parsed[0].1.clone().unwrap();
        let imported = line.parse(&cohort, &catalog()).unwrap();
        let c = &imported.contract;
        assert_eq!(c.next_bill_date, d("2027-02-01"));
        assert_eq!(
            c.contract.items[0].billed,
            vec![BilledSegment { start: d("2025-06-10"), end: d("2027-02-01"), quantity: 2 }]
        );
        // The first bill charges February in advance and usage from go-live only.
        assert_eq!(c.bucket_for(&"bandwidth_gb".parse().unwrap(), d("2027-01-20")), Ok(d("2027-02-01")));
        assert_eq!(
            c.bucket_for(&"bandwidth_gb".parse().unwrap(), d("2027-01-10")),
            Err(UsageRejection::BeforeGoLive(d("2027-01-15")))
        );
        assert!(matches!(c.bucket_for(&"cpu".parse().unwrap(), d("2027-01-20")), Err(UsageRejection::NoSuchMetric(_))));
        let rated = crate::rating::rate(&c.contract, &[], c.next_bill_date);
        assert_eq!(rated.lines.len(), 1);
        assert_eq!(rated.lines[0].amount.amount(), "1000.00".parse().unwrap());
    }

    #[test]
    fn an_annual_item_billed_for_its_year_by_the_previous_system() {
        let mut catalog = catalog();
        let support = Price {
            id: "support".parse().unwrap(),
            name: "Premium support".into(),
            currency: "USD".parse().unwrap(),
            charge: ChargeType::Recurring { interval: PlanInterval::Annual },
            pricing: ChargeModel::Flat { amount: "1200".parse().unwrap() },
            unit: None,
            tax_codes: vec![],
        };
        catalog.insert(support.id.clone(), support);
        let cohort = Cohort::parse("dc1", "DC1", d("2027-01-15")).unwrap();
        let with = |billed_through: &str| {
            LINE.replace(
                r#""subscriptions":["#,
                &format!(r#""subscriptions":[{{"id":"sup","price_id":"support","group":"DC1","start":"2026-06-01","quantity":1{billed_through}}},"#),
            )
        };
        let parse = |l: String| parse_import(&l)[0].1.clone().unwrap().parse(&cohort, &catalog).unwrap().contract;
        // Without a date: the previous system billed up to the first bill, so the first bill
        // charges the rest of the contract year (Feb 1 to Jun 1: 120 of 365 days).
        let c = parse(with(""));
        let first = crate::rating::rate(&c.contract, &[], c.next_bill_date);
        let sup = first.lines.iter().find(|l| l.id.starts_with("sup")).unwrap();
        assert_eq!(sup.amount.amount(), "394.52".parse().unwrap());
        // Billed for the whole year already: nothing until the renewal.
        let c = parse(with(r#","billed_through":"2027-06-01""#));
        let first = crate::rating::rate(&c.contract, &[], c.next_bill_date);
        assert!(first.lines.iter().all(|l| !l.id.starts_with("sup")));
        let renewal = crate::rating::rate(&first.contract, &[], d("2027-06-01"));
        let sup = renewal.lines.iter().find(|l| l.id.starts_with("sup")).unwrap();
        assert_eq!(sup.amount.amount(), "1200.00".parse().unwrap());
    }

    #[test]
    fn late_usage_goes_to_the_open_bucket() {
        let cohort = Cohort::parse("dc1", "DC1", d("2026-10-01")).unwrap();
        let mut c = parse_import(LINE)[0].1.clone().unwrap().parse(&cohort, &catalog()).unwrap().contract;
        let bw: Metric = "bandwidth_gb".parse().unwrap();
        assert_eq!(c.bucket_for(&bw, d("2026-10-31")), Ok(d("2026-11-01")));
        c.usage_bucket = d("2026-12-01"); // November 1's bill was made
        assert_eq!(c.bucket_for(&bw, d("2026-10-31")), Ok(d("2026-12-01")), "late: next bill");
        assert_eq!(c.bucket_for(&bw, d("2026-12-01")), Ok(d("2027-01-01")));
        assert_eq!(c.usage_period(d("2026-12-01")), crate::rating::DateRange::new(d("2026-11-01"), d("2026-12-01")));
    }

    #[test]
    fn bad_import_lines_say_what_is_wrong() {
        let cohort = Cohort::parse("dc1", "DC1", d("2026-10-01")).unwrap();
        let bad =
            LINE.replace("\"rack\"", "\"nope\"").replace("\"invoice\"", "\"card\"").replace("ann@acme.example", "ann");
        let err = parse_import(&bad)[0].1.clone().unwrap().parse(&cohort, &catalog()).unwrap_err();
        let Error::Invalid(fields) = err else { panic!() };
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert!(names.contains(&"billing_mode"), "{names:?}");
        assert!(names.contains(&"subscriptions[0].price_id"), "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("contact")), "{names:?}");
        assert!(parse_import("{not json")[0].1.is_err());
    }
}
