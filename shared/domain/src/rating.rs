//! Rating for contract (invoice-mode) accounts: a contract's priced items and the account's metered
//! usage become invoice lines for a bill date.
//!
//! ## Periods
//! An account has a bill day (1–28). Its billing cycles run from one bill day to the next:
//! `[Mar 5, Apr 5)`. A recurring item's cycles are anchored on the first bill day on or after
//! its start (monthly: every month from there; annual: every twelve). Dates are calendar dates
//! (UTC); a day is the unit of proration.
//!
//! ## What a bill on date `D` holds
//! - **Recurring** items, billed in advance: every day up to the end of the item's cycle that
//!   contains `D`, that has not been billed at the quantity now in force. Each item remembers what
//!   it was billed for ([`ContractItem::billed`]); rating compares that with the quantity schedule
//!   and bills the difference: new days as recurring lines; days billed at another quantity (a
//!   change with an earlier effective date, an end before the billed-through date) as proration
//!   lines, negative for a credit. A piece of a cycle costs `price(quantity) × days / cycle days`.
//! - **One-time** items not billed yet whose start is before that same date.
//! - **Usage** in arrears: the records handed in (the bill's usage bucket, which includes late usage
//!   for closed periods), grouped by the billing cycle of their own service date. Included units
//!   and tiers apply per cycle: late usage for a cycle is rated on top of what that cycle was
//!   already billed for ([`ContractItem::usage_billed`]), so it never gets the allowance twice.
//!
//! ## Rounding
//! Each line is rounded once, to the currency's exponent, half-up (half away from zero, so a credit
//! mirrors its charge). Subtotals and totals are sums of rounded lines, so they always add up. Rating
//! a range in two pieces can therefore differ from rating it whole by at most half a minor unit per
//! line; unrounded, it is exactly equal (see the property tests).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Months, NaiveDate, NaiveTime};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::catalog::{ChargeModel, ChargeType, Metric, Price};
use crate::error::{Errors, FieldError, Result};
use crate::invoice::{ChargeKind, InvoiceLine, ServicePeriod};
use crate::money::{Currency, Money};

/// The day of the month an account is billed on, 1 to 28 (so every month has it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = u8, minimum = 1, maximum = 28))]
pub struct BillDay(u8);

impl BillDay {
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }

    /// The first date on or after `date` that falls on this bill day.
    pub fn on_or_after(self, date: NaiveDate) -> NaiveDate {
        let this_month = date.with_day(self.get()).expect("bill days exist in every month");
        if this_month >= date { this_month } else { add_months(this_month, 1) }
    }

    /// The last date on or before `date` that falls on this bill day.
    pub fn on_or_before(self, date: NaiveDate) -> NaiveDate {
        let this_month = date.with_day(self.get()).expect("bill days exist in every month");
        if this_month <= date { this_month } else { sub_months(this_month, 1) }
    }
}

impl TryFrom<u8> for BillDay {
    type Error = FieldError;
    fn try_from(day: u8) -> std::result::Result<Self, FieldError> {
        if (1..=28).contains(&day) { Ok(Self(day)) } else { Err(FieldError::new("", "must be a day from 1 to 28")) }
    }
}

impl From<BillDay> for u8 {
    fn from(day: BillDay) -> u8 {
        day.0
    }
}

pub(crate) fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months)).expect("dates stay in chrono's range")
}

fn sub_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_sub_months(Months::new(months)).expect("dates stay in chrono's range")
}

/// A half-open range of days, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DateRange {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl DateRange {
    pub fn new(start: NaiveDate, end: NaiveDate) -> Self {
        debug_assert!(start <= end);
        Self { start, end }
    }

    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days()
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date < self.end
    }

    /// As an invoice line's service period (midnight UTC to midnight UTC).
    pub fn service_period(&self, partial: bool) -> ServicePeriod {
        ServicePeriod {
            start: self.start.and_time(NaiveTime::MIN).and_utc(),
            end: self.end.and_time(NaiveTime::MIN).and_utc(),
            partial,
        }
    }
}

/// The cycle of `months` months, anchored at `anchor`, that contains `date`.
pub fn cycle_containing(anchor: NaiveDate, months: u32, date: NaiveDate) -> DateRange {
    let mut diff = (date.year() - anchor.year()) * 12 + date.month() as i32 - anchor.month() as i32;
    if date.day() < anchor.day() {
        diff -= 1;
    }
    let k = diff.div_euclid(months as i32);
    let start =
        if k >= 0 { add_months(anchor, k as u32 * months) } else { sub_months(anchor, k.unsigned_abs() * months) };
    DateRange::new(start, add_months(start, months))
}

/// The account's billing cycle (monthly from the bill day) that ends on `bill_date`'s cycle start:
/// the period a bill on `bill_date` charges usage for.
pub fn arrears_period(bill_day: BillDay, bill_date: NaiveDate) -> DateRange {
    let end = bill_day.on_or_before(bill_date);
    DateRange::new(sub_months(end, 1), end)
}

/// From this date on, the item runs at this quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuantityChange {
    pub from: NaiveDate,
    pub quantity: u64,
}

/// Days already billed at a quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BilledSegment {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub quantity: u64,
}

/// A priced item of an account's contract subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractItem {
    /// Stable within the account (`dc1-rack-a12`); names the invoice lines it produces.
    pub id: String,
    /// The catalog price as it was when the item was added: later catalog changes do not reprice
    /// a running contract.
    pub price: Price,
    /// The logical element the item belongs to (site, data center, service): lines are grouped by it.
    pub group: String,
    /// Shown instead of the price's name when set ("Rack A12, DC1").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub start: NaiveDate,
    /// Exclusive: the first day no longer charged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
    /// Sorted by date; the first is on `start`. Ignored for usage items.
    pub quantities: Vec<QuantityChange>,
    /// Recurring and one-time items: the days already billed and at what quantity.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub billed: Vec<BilledSegment>,
    /// Usage items: units already billed per billing cycle (by cycle start).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub usage_billed: BTreeMap<NaiveDate, u64>,
}

impl ContractItem {
    fn active(&self) -> DateRange {
        DateRange::new(self.start, self.end.unwrap_or(NaiveDate::MAX).max(self.start))
    }

    /// The quantity in force on `date` (zero outside the item's dates).
    pub fn quantity_on(&self, date: NaiveDate) -> u64 {
        if !self.active().contains(date) {
            return 0;
        }
        self.quantities.iter().take_while(|c| c.from <= date).last().map_or(0, |c| c.quantity)
    }

    fn billed_on(&self, date: NaiveDate) -> u64 {
        self.billed.iter().find(|s| s.start <= date && date < s.end).map_or(0, |s| s.quantity)
    }

    fn label(&self) -> &str {
        self.description.as_deref().unwrap_or(&self.price.name)
    }

    fn interval_months(&self) -> Option<u32> {
        match &self.price.charge {
            ChargeType::Recurring { interval: crate::billing::PlanInterval::Monthly } => Some(1),
            ChargeType::Recurring { interval: crate::billing::PlanInterval::Annual } => Some(12),
            _ => None,
        }
    }

    /// Checks an item read from outside against the account's currency.
    pub fn check(&self, currency: Currency) -> Result<()> {
        let mut errors = Errors::default();
        if self.price.currency != currency {
            errors.push(FieldError::new(
                "price",
                format!("is in {}, the account bills in {currency}", self.price.currency),
            ));
        }
        if self.end.is_some_and(|end| end <= self.start) {
            errors.push(FieldError::new("end", "must be after start"));
        }
        if !matches!(self.price.charge, ChargeType::Usage { .. }) {
            match self.quantities.first() {
                None => errors.push(FieldError::new("quantities", "must give the quantity from the start")),
                Some(first) if first.from != self.start => {
                    errors.push(FieldError::new("quantities[0].from", "must be the item's start"))
                }
                Some(_) => {}
            }
            if self.quantities.windows(2).any(|w| w[0].from >= w[1].from) {
                errors.push(FieldError::new("quantities", "must be in date order, one change a day"));
            }
        }
        if self.group.trim().is_empty() {
            errors.push(FieldError::new("group", "is required"));
        }
        errors.finish()
    }
}

/// A metered usage record as rating sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub metric: Metric,
    pub quantity: u64,
    /// The service date: which billing cycle the units belong to.
    pub date: NaiveDate,
}

/// The contract subscription of an invoice-mode account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    pub bill_day: BillDay,
    pub currency: Currency,
    pub items: Vec<ContractItem>,
}

/// What rating a bill date gives: the lines, and the contract with what they billed recorded.
impl Contract {
    /// The account's billing cycle (bill day to bill day) that contains `date`.
    pub fn billing_cycle(&self, date: NaiveDate) -> DateRange {
        cycle_containing(self.bill_day.on_or_before(date), 1, date)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rated {
    pub lines: Vec<InvoiceLine>,
    pub contract: Contract,
    /// Usage records no item prices (their metric has no usage item in force on their date).
    pub unrated: Vec<UsageRecord>,
}

impl Rated {
    pub fn total(&self, currency: Currency) -> Money {
        Money::new(self.lines.iter().map(|l| l.amount.amount()).sum(), currency).rounded()
    }
}

/// Rates a contract for the bill on `bill_date` with the usage records of that bill.
pub fn rate(contract: &Contract, usage: &[UsageRecord], bill_date: NaiveDate) -> Rated {
    let mut next = contract.clone();
    let mut lines = Vec::new();
    let account_anchor = contract.bill_day.on_or_before(bill_date);

    let mut pending: BTreeMap<&Metric, Vec<&UsageRecord>> = BTreeMap::new();
    for record in usage {
        pending.entry(&record.metric).or_default().push(record);
    }

    for item in &mut next.items {
        match item.price.charge.clone() {
            ChargeType::Recurring { .. } => rate_recurring(item, contract.bill_day, bill_date, &mut lines),
            ChargeType::OneTime => rate_one_time(item, contract.bill_day, bill_date, &mut lines),
            ChargeType::Usage { metric } => {
                let Some((key, records)) = pending.remove_entry(&metric) else { continue };
                let active = item.active();
                let (mine, others): (Vec<_>, Vec<_>) = records.into_iter().partition(|r| active.contains(r.date));
                if !others.is_empty() {
                    pending.insert(key, others);
                }
                rate_usage(item, account_anchor, &mine, &mut lines);
            }
        }
    }
    let unrated = pending.into_values().flatten().cloned().collect();
    let currency = contract.currency;
    for line in &mut lines {
        line.amount = Money::new(line.amount.amount(), currency).rounded();
    }
    Rated { lines, contract: next, unrated }
}

/// One usage item's usage so far in a billing cycle, rated as its bill will rate it.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageToDate {
    pub item_id: String,
    pub metric: Metric,
    /// What the bill calls it.
    pub description: String,
    pub group: String,
    /// The unit a quantity counts ("GB"), when the price names one.
    pub unit: Option<String>,
    /// The billing cycle (clipped to the item's start and end).
    pub period: DateRange,
    pub quantity: u64,
    /// Units the price includes at no charge in a cycle.
    pub included: u64,
    /// Units beyond the included ones.
    pub beyond_included: u64,
    /// What the usage so far costs, rounded as the bill rounds it.
    pub amount: Money,
}

/// The usage of every usage item active in the billing cycle containing `today`, from `usage`
/// (the records of the bucket that will bill that cycle), rated by [`rate`] itself: each item
/// is rated alone, for the bill at the cycle's end, over the records the bill would give it
/// (records of a metric go to the first item active on their date, as in [`rate`]). Records of
/// other cycles (late usage for a closed one) are left out.
pub fn usage_to_date(contract: &Contract, usage: &[UsageRecord], today: NaiveDate) -> Vec<UsageToDate> {
    let cycle = contract.billing_cycle(today);
    let mut pending: Vec<&UsageRecord> = usage.iter().filter(|r| cycle.contains(r.date)).collect();
    let mut out = Vec::new();
    for item in &contract.items {
        let ChargeType::Usage { metric } = &item.price.charge else { continue };
        let active = item.active();
        if active.end <= cycle.start || cycle.end <= active.start {
            continue;
        }
        let (mine, rest): (Vec<&UsageRecord>, Vec<&UsageRecord>) =
            pending.into_iter().partition(|r| &r.metric == metric && active.contains(r.date));
        pending = rest;
        let records: Vec<UsageRecord> = mine.into_iter().cloned().collect();
        let alone = Contract { bill_day: contract.bill_day, currency: contract.currency, items: vec![item.clone()] };
        let rated = rate(&alone, &records, cycle.end);
        let quantity = records.iter().fold(0_u64, |sum, r| sum.saturating_add(r.quantity));
        let included = item.price.pricing.included_units();
        let start = cycle.start.max(active.start);
        out.push(UsageToDate {
            item_id: item.id.clone(),
            metric: metric.clone(),
            description: item.label().to_owned(),
            group: item.group.clone(),
            unit: item.price.unit.clone(),
            period: DateRange::new(start, cycle.end.min(active.end).max(start)),
            quantity,
            included,
            beyond_included: quantity.saturating_sub(included),
            amount: rated.total(contract.currency),
        });
    }
    out
}

/// What a recurring item's quantities over `range` cost, unrounded: each piece of a cycle at
/// `price(quantity) × days / cycle days`. Rating bills exactly this, rounded per line.
pub fn recurring_charge(item: &ContractItem, bill_day: BillDay, range: DateRange) -> Decimal {
    let Some(months) = item.interval_months() else { return Decimal::ZERO };
    let anchor = bill_day.on_or_after(item.start);
    let mut cuts: BTreeSet<NaiveDate> = BTreeSet::from([range.start, range.end, item.start]);
    cuts.extend(item.end);
    cuts.extend(item.quantities.iter().map(|c| c.from));
    let mut cycle = cycle_containing(anchor, months, range.start);
    while cycle.start < range.end {
        cuts.insert(cycle.start);
        cycle = DateRange::new(cycle.end, add_months(cycle.end, months));
    }
    let cuts: Vec<NaiveDate> = cuts.into_iter().filter(|d| range.start <= *d && *d <= range.end).collect();
    cuts.windows(2)
        .map(|w| {
            let piece = DateRange::new(w[0], w[1]);
            let cycle = cycle_containing(anchor, months, piece.start);
            item.price.pricing.amount(item.quantity_on(piece.start)) * Decimal::from(piece.days())
                / Decimal::from(cycle.days())
        })
        .sum()
}

fn money(amount: Decimal, currency: Currency) -> Money {
    Money::new(amount, currency)
}

fn rate_recurring(item: &mut ContractItem, bill_day: BillDay, bill_date: NaiveDate, lines: &mut Vec<InvoiceLine>) {
    let months = item.interval_months().expect("a recurring item");
    let anchor = bill_day.on_or_after(item.start);
    let target = cycle_containing(anchor, months, bill_date).end;
    let billed_end = item.billed.iter().map(|s| s.end).max();
    let lo = item.billed.iter().map(|s| s.start).chain([item.start]).min().expect("non-empty");
    let hi = billed_end.map_or(target, |e| e.max(target));
    if lo >= hi {
        return;
    }
    // Every date where the expected or billed quantity, or the cycle, can change.
    let mut cuts: BTreeSet<NaiveDate> = BTreeSet::from([lo, hi, item.start]);
    cuts.extend(item.end);
    cuts.extend(item.quantities.iter().map(|c| c.from));
    cuts.extend(item.billed.iter().flat_map(|s| [s.start, s.end]));
    let mut cycle = cycle_containing(anchor, months, lo);
    while cycle.start < hi {
        cuts.insert(cycle.start);
        cycle = DateRange::new(cycle.end, add_months(cycle.end, months));
    }
    let cuts: Vec<NaiveDate> = cuts.into_iter().filter(|d| *d >= lo && *d <= hi).collect();

    // (piece, expected, billed), adjacent pieces of one cycle with the same pair merged.
    let mut pieces: Vec<(DateRange, u64, u64)> = Vec::new();
    for w in cuts.windows(2) {
        let piece = DateRange::new(w[0], w[1]);
        let billed = item.billed_on(piece.start);
        let mut expected = item.quantity_on(piece.start);
        if piece.start >= target && billed == 0 {
            expected = 0; // never bill new days past this bill's cycle
        }
        let same_cycle =
            |a: &DateRange| cycle_containing(anchor, months, a.start) == cycle_containing(anchor, months, piece.start);
        match pieces.last_mut() {
            Some((last, e, b)) if *e == expected && *b == billed && last.end == piece.start && same_cycle(last) => {
                last.end = piece.end;
            }
            _ => pieces.push((piece, expected, billed)),
        }
    }

    let currency = item.price.currency;
    let mut billed = Vec::new();
    for (piece, expected, was) in pieces {
        if expected > 0 {
            match billed.last_mut() {
                Some(BilledSegment { end, quantity, .. }) if *end == piece.start && *quantity == expected => {
                    *end = piece.end;
                }
                _ => billed.push(BilledSegment { start: piece.start, end: piece.end, quantity: expected }),
            }
        }
        if expected == was {
            continue;
        }
        let cycle = cycle_containing(anchor, months, piece.start);
        let fraction = Decimal::from(piece.days()) / Decimal::from(cycle.days());
        let pricing = &item.price.pricing;
        let amount = (pricing.amount(expected) - pricing.amount(was)) * fraction;
        let partial = piece != cycle;
        let (kind, description, quantity) = if was == 0 {
            (ChargeKind::Recurring, item.label().to_owned(), expected)
        } else if expected == 0 {
            (ChargeKind::Proration, format!("Credit: {} (ended)", item.label()), was)
        } else {
            (ChargeKind::Proration, format!("{} (quantity {was} → {expected})", item.label()), expected)
        };
        let unit_amount = match pricing {
            ChargeModel::PerUnit { unit_amount } if was == 0 => Some(money(*unit_amount, currency)),
            _ => None,
        };
        lines.push(InvoiceLine {
            id: format!("{}:{}:{}", item.id, piece.start, piece.end),
            description,
            kind,
            group: item.group.clone(),
            product: None,
            item: Some(item.id.clone()),
            quantity: Some(quantity),
            unit_amount: unit_amount.map(|m| m.rounded_unit()),
            amount: money(amount, currency),
            period: piece.service_period(partial),
            taxes: vec![],
        });
    }
    item.billed = billed;
}

fn rate_one_time(item: &mut ContractItem, bill_day: BillDay, bill_date: NaiveDate, lines: &mut Vec<InvoiceLine>) {
    let advance_end = add_months(bill_day.on_or_before(bill_date), 1);
    if !item.billed.is_empty() || item.start >= advance_end || item.end.is_some_and(|e| e <= item.start) {
        return;
    }
    let quantity = item.quantity_on(item.start);
    let day = DateRange::new(item.start, item.start.succ_opt().expect("in range"));
    item.billed = vec![BilledSegment { start: day.start, end: day.end, quantity }];
    let currency = item.price.currency;
    let unit_amount = match &item.price.pricing {
        ChargeModel::PerUnit { unit_amount } => Some(money(*unit_amount, currency).rounded_unit()),
        _ => None,
    };
    lines.push(InvoiceLine {
        id: format!("{}:{}", item.id, item.start),
        description: item.label().to_owned(),
        kind: ChargeKind::OneTime,
        group: item.group.clone(),
        product: None,
        item: Some(item.id.clone()),
        quantity: Some(quantity),
        unit_amount,
        amount: money(item.price.pricing.amount(quantity), currency),
        period: day.service_period(false),
        taxes: vec![],
    });
}

fn rate_usage(
    item: &mut ContractItem,
    account_anchor: NaiveDate,
    records: &[&UsageRecord],
    lines: &mut Vec<InvoiceLine>,
) {
    // Sum by day first (a month of records has about 30 distinct days), then by cycle.
    let mut per_day: std::collections::HashMap<NaiveDate, u64> = std::collections::HashMap::new();
    for r in records {
        let units = per_day.entry(r.date).or_default();
        *units = units.saturating_add(r.quantity);
    }
    let mut per_cycle: BTreeMap<DateRange, u64> = BTreeMap::new();
    for (day, units) in per_day {
        let total = per_cycle.entry(cycle_containing(account_anchor, 1, day)).or_default();
        *total = total.saturating_add(units);
    }
    let currency = item.price.currency;
    let unit = item.price.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
    for (cycle, new_units) in per_cycle {
        let before = item.usage_billed.get(&cycle.start).copied().unwrap_or(0);
        let after = before.saturating_add(new_units);
        item.usage_billed.insert(cycle.start, after);
        let old_bands = item.price.pricing.bands(before);
        let active = item.active();
        let served =
            DateRange::new(cycle.start.max(active.start), cycle.end.min(active.end).max(cycle.start.max(active.start)));
        let late = if before > 0 { " (late usage)" } else { "" };
        for band in item.price.pricing.bands(after) {
            let old = old_bands.iter().find(|b| b.index == band.index);
            let quantity = band.quantity - old.map_or(0, |b| b.quantity);
            let amount = band.amount() - old.map_or(Decimal::ZERO, |b| b.amount());
            if quantity == 0 && amount.is_zero() {
                continue;
            }
            let (kind, what) = match (band.overage, band.unit_amount.is_zero() && band.flat_amount.is_zero()) {
                (true, _) => (ChargeKind::Overage, "overage"),
                (false, true) => (ChargeKind::Usage, "included"),
                (false, false) => (ChargeKind::Usage, "usage"),
            };
            let tier = match &item.price.pricing {
                ChargeModel::Graduated { .. } | ChargeModel::Volume { .. } => format!(", tier {}", band.index + 1),
                _ => String::new(),
            };
            lines.push(InvoiceLine {
                id: format!("{}:{}:{}:{}", item.id, cycle.start, band.index, after),
                description: format!("{}: {quantity}{unit} {what}{tier}{late}", item.label()),
                kind,
                group: item.group.clone(),
                product: None,
                item: Some(item.id.clone()),
                quantity: Some(quantity),
                unit_amount: Some(money(band.unit_amount, currency).rounded_unit()),
                amount: money(amount, currency),
                period: served.service_period(served != cycle),
                taxes: vec![],
            });
        }
    }
}

trait UnitPrice {
    fn rounded_unit(self) -> Money;
}

impl UnitPrice for Money {
    /// A unit price for display: at least the currency's decimals, finer ones kept (0.0006 USD).
    fn rounded_unit(self) -> Money {
        Money::new(self.amount().normalize(), self.currency()).at_currency_scale()
    }
}
