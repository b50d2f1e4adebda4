//! Rating contract items into invoice lines: every charge model and proration case, in USD, EUR
//! and JPY, plus property tests (splitting, totals, signs, idempotence).

use std::collections::BTreeMap;

use billing_domain::billing::PlanInterval;
use billing_domain::catalog::{ChargeModel, ChargeType, Price, Tier};
use billing_domain::invoice::{ChargeKind, InvoiceLine};
use billing_domain::rating::{
    BillDay, Contract, ContractItem, DateRange, QuantityChange, UsageRecord, cycle_containing, rate, recurring_charge,
    usage_to_date,
};
use billing_domain::{Currency, Money};
use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::Decimal;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn cur(code: &str) -> Currency {
    code.parse().unwrap()
}

fn money(s: &str, code: &str) -> Money {
    Money::new(dec(s), cur(code))
}

fn price(code: &str, charge: ChargeType, pricing: ChargeModel) -> Price {
    Price {
        id: "price_test".parse().unwrap(),
        name: "Rack space".into(),
        currency: cur(code),
        charge,
        pricing,
        unit: Some("GB".into()),
        tax_codes: vec![],
    }
}

fn monthly() -> ChargeType {
    ChargeType::Recurring { interval: PlanInterval::Monthly }
}

fn per_unit(s: &str) -> ChargeModel {
    ChargeModel::PerUnit { unit_amount: dec(s) }
}

fn item(price: Price, start: &str, quantities: &[(&str, u64)]) -> ContractItem {
    ContractItem {
        id: "dc1-rack".into(),
        price,
        group: "DC1".into(),
        description: None,
        start: d(start),
        end: None,
        quantities: quantities.iter().map(|(from, q)| QuantityChange { from: d(from), quantity: *q }).collect(),
        billed: vec![],
        usage_billed: BTreeMap::new(),
    }
}

fn contract(code: &str, bill_day: u8, items: Vec<ContractItem>) -> Contract {
    Contract { bill_day: BillDay::try_from(bill_day).unwrap(), currency: cur(code), items }
}

fn amounts(lines: &[InvoiceLine]) -> Vec<String> {
    lines.iter().map(|l| l.amount.amount().to_string()).collect()
}

fn periods(lines: &[InvoiceLine]) -> Vec<(NaiveDate, NaiveDate, bool)> {
    lines.iter().map(|l| (l.period.start.date_naive(), l.period.end.date_naive(), l.period.partial)).collect()
}

#[test]
fn cycles_follow_the_bill_day() {
    assert_eq!(cycle_containing(d("2026-01-05"), 1, d("2026-03-04")), DateRange::new(d("2026-02-05"), d("2026-03-05")));
    assert_eq!(cycle_containing(d("2026-01-05"), 1, d("2026-03-05")), DateRange::new(d("2026-03-05"), d("2026-04-05")));
    assert_eq!(cycle_containing(d("2026-06-05"), 1, d("2026-01-10")), DateRange::new(d("2026-01-05"), d("2026-02-05")));
    assert_eq!(
        cycle_containing(d("2026-03-01"), 12, d("2027-02-28")),
        DateRange::new(d("2026-03-01"), d("2027-03-01"))
    );
    assert!(BillDay::try_from(29).is_err() && BillDay::try_from(0).is_err());
}

#[test]
fn a_full_month_in_advance() {
    let c =
        contract("USD", 1, vec![item(price("USD", monthly(), per_unit("500")), "2026-11-01", &[("2026-11-01", 3)])]);
    let rated = rate(&c, &[], d("2026-11-01"));
    assert_eq!(amounts(&rated.lines), ["1500.00"]);
    assert_eq!(periods(&rated.lines), [(d("2026-11-01"), d("2026-12-01"), false)]);
    assert_eq!(rated.lines[0].kind, ChargeKind::Recurring);
    assert_eq!(rated.lines[0].unit_amount, Some(money("500.00", "USD")));
    // Rated again with what it billed recorded: nothing new.
    assert!(rate(&rated.contract, &[], d("2026-11-01")).lines.is_empty());
    // Next month: only December.
    let dec_bill = rate(&rated.contract, &[], d("2026-12-01"));
    assert_eq!(periods(&dec_bill.lines), [(d("2026-12-01"), d("2027-01-01"), false)]);
}

/// A start mid-period is prorated by day: 21 of November's 30 days of a 500.00 rack is 350.00.
#[test]
fn start_mid_period_is_prorated_by_day() {
    let c =
        contract("USD", 1, vec![item(price("USD", monthly(), per_unit("500")), "2026-11-10", &[("2026-11-10", 1)])]);
    let rated = rate(&c, &[], d("2026-11-01"));
    assert_eq!(amounts(&rated.lines), ["350.00"]);
    assert_eq!(periods(&rated.lines), [(d("2026-11-10"), d("2026-12-01"), true)]);
    // First billed a month late: the stub and the next full month, two lines.
    let late = rate(&c, &[], d("2026-12-01"));
    assert_eq!(amounts(&late.lines), ["350.00", "500.00"]);
}

/// An end after the period was billed in advance gives a credit for the unused days:
/// 11 of 30 days of 500.00 = 183.333… → -183.33.
#[test]
fn end_mid_period_credits_the_unused_days() {
    let c =
        contract("USD", 1, vec![item(price("USD", monthly(), per_unit("500")), "2026-11-01", &[("2026-11-01", 1)])]);
    let mut billed = rate(&c, &[], d("2026-11-01")).contract;
    billed.items[0].end = Some(d("2026-11-20"));
    let rated = rate(&billed, &[], d("2026-12-01"));
    assert_eq!(amounts(&rated.lines), ["-183.33"]);
    assert_eq!(rated.lines[0].kind, ChargeKind::Proration);
    assert_eq!(periods(&rated.lines), [(d("2026-11-20"), d("2026-12-01"), true)]);
    assert!(rate(&rated.contract, &[], d("2027-01-01")).lines.is_empty(), "nothing after the end");
}

#[test]
fn quantity_change_known_before_billing_splits_the_period() {
    let c = contract(
        "EUR",
        1,
        vec![item(price("EUR", monthly(), per_unit("40")), "2026-11-01", &[("2026-11-01", 2), ("2026-11-16", 5)])],
    );
    let rated = rate(&c, &[], d("2026-11-01"));
    // 2 × 40 × 15/30 = 40.00, 5 × 40 × 15/30 = 100.00
    assert_eq!(amounts(&rated.lines), ["40.00", "100.00"]);
    assert!(rated.lines.iter().all(|l| l.period.partial));
}

/// A change effective in a period already billed in advance is settled on the next bill: the
/// difference for the remaining days (3 more × 40 × 15/30 = 60.00), then the next month in full.
#[test]
fn mid_period_change_after_billing_is_a_proration_line() {
    let c = contract("EUR", 1, vec![item(price("EUR", monthly(), per_unit("40")), "2026-11-01", &[("2026-11-01", 2)])]);
    let mut next = rate(&c, &[], d("2026-11-01")).contract;
    next.items[0].quantities.push(QuantityChange { from: d("2026-11-16"), quantity: 5 });
    let rated = rate(&next, &[], d("2026-12-01"));
    assert_eq!(amounts(&rated.lines), ["60.00", "200.00"]);
    assert_eq!(rated.lines[0].kind, ChargeKind::Proration);
    assert_eq!(rated.lines[1].kind, ChargeKind::Recurring);
    // A decrease credits: 5 → 1 from Dec 11: -(4 × 40 × 21/31) = -108.387… → -108.39.
    let mut down = rated.contract.clone();
    down.items[0].quantities.push(QuantityChange { from: d("2026-12-11"), quantity: 1 });
    assert_eq!(amounts(&rate(&down, &[], d("2027-01-01")).lines), ["-108.39", "40.00"]);
}

#[test]
fn annual_items_bill_a_year_in_advance_once() {
    let annual = ChargeType::Recurring { interval: PlanInterval::Annual };
    let c = contract("USD", 1, vec![item(price("USD", annual, per_unit("1200")), "2027-01-01", &[("2027-01-01", 1)])]);
    let rated = rate(&c, &[], d("2027-01-01"));
    assert_eq!(amounts(&rated.lines), ["1200.00"]);
    assert_eq!(periods(&rated.lines), [(d("2027-01-01"), d("2028-01-01"), false)]);
    for month in ["2027-02-01", "2027-06-01", "2027-12-01"] {
        assert!(rate(&rated.contract, &[], d(month)).lines.is_empty(), "{month}");
    }
    assert_eq!(amounts(&rate(&rated.contract, &[], d("2028-01-01")).lines), ["1200.00"]);
}

/// JPY has no minor unit: 10,000 × 11/30 = 3,666.67 rounds to 3,667.
#[test]
fn jpy_lines_round_to_whole_yen() {
    let c =
        contract("JPY", 1, vec![item(price("JPY", monthly(), per_unit("10000")), "2026-11-20", &[("2026-11-20", 1)])]);
    let rated = rate(&c, &[], d("2026-11-01"));
    assert_eq!(amounts(&rated.lines), ["3667"]);
    assert_eq!(rated.total(cur("JPY")), money("3667", "JPY"));
}

/// Half-up at the line: 0.005 → 0.01 (and a credit of -0.005 → -0.01).
#[test]
fn lines_round_half_up() {
    let one_time = price("USD", ChargeType::OneTime, per_unit("0.005"));
    let c = contract("USD", 1, vec![item(one_time, "2026-11-01", &[("2026-11-01", 1)])]);
    assert_eq!(amounts(&rate(&c, &[], d("2026-11-01")).lines), ["0.01"]);
}

#[test]
fn one_time_charges_are_billed_once() {
    let setup = price("USD", ChargeType::OneTime, ChargeModel::Flat { amount: dec("750") });
    let c = contract("USD", 1, vec![item(setup, "2026-11-05", &[("2026-11-05", 1)])]);
    assert!(rate(&c, &[], d("2026-10-01")).lines.is_empty(), "not before its month");
    let rated = rate(&c, &[], d("2026-11-01"));
    assert_eq!(amounts(&rated.lines), ["750.00"]);
    assert_eq!(rated.lines[0].kind, ChargeKind::OneTime);
    assert!(rate(&rated.contract, &[], d("2026-12-01")).lines.is_empty());
}

fn bandwidth(code: &str, pricing: ChargeModel) -> ContractItem {
    let usage = ChargeType::Usage { metric: "bandwidth_gb".parse().unwrap() };
    let mut it = item(price(code, usage, pricing), "2026-01-01", &[]);
    it.id = "dc1-bandwidth".into();
    it
}

fn used(date: &str, quantity: u64) -> UsageRecord {
    UsageRecord { metric: "bandwidth_gb".parse().unwrap(), quantity, date: d(date) }
}

/// Included units at zero, the rest at the overage price; late usage for a closed period is rated
/// on top of what that period was billed, so the allowance is not granted twice.
#[test]
fn usage_with_included_units_and_overage_then_late_usage() {
    let c =
        contract("USD", 1, vec![bandwidth("USD", ChargeModel::Overage { included: 1000, unit_amount: dec("0.05") })]);
    let october = [used("2026-10-03", 700), used("2026-10-30", 550)];
    let rated = rate(&c, &october, d("2026-11-01"));
    assert_eq!(amounts(&rated.lines), ["0.00", "12.50"]);
    assert_eq!(
        rated.lines.iter().map(|l| (l.kind, l.quantity)).collect::<Vec<_>>(),
        [(ChargeKind::Usage, Some(1000)), (ChargeKind::Overage, Some(250))]
    );
    assert_eq!(periods(&rated.lines)[1], (d("2026-10-01"), d("2026-11-01"), false));
    // 100 GB for October arrive after its bill: on December's bill, with October's service period.
    let late = rate(&rated.contract, &[used("2026-10-31", 100), used("2026-11-12", 300)], d("2026-12-01"));
    assert_eq!(amounts(&late.lines), ["5.00", "0.00"]);
    assert_eq!(periods(&late.lines)[0], (d("2026-10-01"), d("2026-11-01"), false));
    assert!(late.lines[0].description.contains("late"));
    assert_eq!(late.lines[0].kind, ChargeKind::Overage);
}

/// Graduated usage tiers in EUR, and a late record that crosses into the next tier.
#[test]
fn graduated_usage_across_a_late_record() {
    let tiers = vec![
        Tier { up_to: Some(100), unit_amount: dec("1.00"), flat_amount: Decimal::ZERO },
        Tier { up_to: None, unit_amount: dec("0.50"), flat_amount: Decimal::ZERO },
    ];
    let c = contract("EUR", 1, vec![bandwidth("EUR", ChargeModel::Graduated { tiers })]);
    let first = rate(&c, &[used("2026-10-10", 90)], d("2026-11-01"));
    assert_eq!(amounts(&first.lines), ["90.00"]);
    let late = rate(&first.contract, &[used("2026-10-20", 30)], d("2026-12-01"));
    // 10 more at 1.00 fill tier 1, 20 at 0.50 in tier 2.
    assert_eq!(amounts(&late.lines), ["10.00", "10.00"]);
}

/// Usage so far in the open cycle: the quantity, the allowance and what is beyond it, and what
/// the bill at the cycle's end will charge for it; late usage for a closed cycle (in the same
/// bucket) and other metrics are not this cycle's.
#[test]
fn usage_to_date_is_what_the_cycles_bill_will_charge() {
    let c =
        contract("USD", 5, vec![bandwidth("USD", ChargeModel::Overage { included: 1000, unit_amount: dec("0.05") })]);
    let bucket = [
        used("2026-11-06", 700),
        used("2026-12-03", 550),
        used("2026-11-04", 100), // late, for the cycle billed on Nov 5
        UsageRecord { metric: "api_calls".parse().unwrap(), quantity: 9, date: d("2026-11-20") },
    ];
    let now = usage_to_date(&c, &bucket, d("2026-12-03"));
    assert_eq!(now.len(), 1);
    let u = &now[0];
    assert_eq!((u.period.start, u.period.end), (d("2026-11-05"), d("2026-12-05")));
    assert_eq!((u.quantity, u.included, u.beyond_included), (1250, 1000, 250));
    assert_eq!(u.amount, money("12.50", "USD"));
    assert_eq!((u.metric.as_str(), u.unit.as_deref(), u.group.as_str()), ("bandwidth_gb", Some("GB"), "DC1"));
    let in_cycle: Vec<UsageRecord> = bucket[..2].to_vec();
    assert_eq!(rate(&c, &in_cycle, d("2026-12-05")).total(cur("USD")), u.amount, "the bill's own rating");

    // Graduated with a free first tier: the free tier is what is included.
    let tiers = vec![
        Tier { up_to: Some(100), unit_amount: Decimal::ZERO, flat_amount: Decimal::ZERO },
        Tier { up_to: None, unit_amount: dec("2"), flat_amount: Decimal::ZERO },
    ];
    let c = contract("JPY", 1, vec![bandwidth("JPY", ChargeModel::Graduated { tiers })]);
    let u = &usage_to_date(&c, &[used("2026-12-02", 40)], d("2026-12-03"))[0];
    assert_eq!((u.quantity, u.included, u.beyond_included, u.amount), (40, 100, 0, money("0", "JPY")));
    // An item that ended before this cycle shows nothing.
    let mut ended = bandwidth("USD", per_unit("1"));
    ended.end = Some(d("2026-11-01"));
    assert!(usage_to_date(&contract("USD", 1, vec![ended]), &[], d("2026-12-03")).is_empty());
}

#[test]
fn usage_without_an_item_is_reported_unrated() {
    let c = contract("USD", 1, vec![]);
    let rated = rate(&c, &[used("2026-10-10", 5)], d("2026-11-01"));
    assert!(rated.lines.is_empty());
    assert_eq!(rated.unrated.len(), 1);
}

#[test]
fn volume_recurring_prices_the_whole_quantity_at_its_tier_in_jpy() {
    let tiers = vec![
        Tier { up_to: Some(10), unit_amount: dec("1000"), flat_amount: Decimal::ZERO },
        Tier { up_to: None, unit_amount: dec("800"), flat_amount: Decimal::ZERO },
    ];
    let c = contract(
        "JPY",
        1,
        vec![item(price("JPY", monthly(), ChargeModel::Volume { tiers }), "2026-11-01", &[("2026-11-01", 12)])],
    );
    assert_eq!(amounts(&rate(&c, &[], d("2026-11-01")).lines), ["9600"]);
}

// ---- properties ----

fn arb_date() -> impl Strategy<Value = NaiveDate> {
    (0_i64..800).prop_map(|n| d("2026-01-01") + chrono::Days::new(n as u64))
}

fn arb_code() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("USD"), Just("EUR"), Just("JPY")]
}

prop_compose! {
    fn arb_item()(
        code in arb_code(),
        annual in any::<bool>(),
        unit in 1_u32..100_000,
        start in arb_date(),
        len in proptest::option::of(1_u64..500),
        q0 in 1_u64..20,
        change in proptest::option::of((1_u64..400, 0_u64..20)),
    ) -> ContractItem {
        let interval = if annual { PlanInterval::Annual } else { PlanInterval::Monthly };
        let unit = Decimal::new(i64::from(unit), if code == "JPY" { 0 } else { 2 });
        let mut it = item(price(code, ChargeType::Recurring { interval }, ChargeModel::PerUnit { unit_amount: unit }),
            &start.to_string(), &[(&start.to_string(), q0)]);
        it.end = len.map(|n| start + chrono::Days::new(n));
        if let Some((after, q)) = change {
            it.quantities.push(QuantityChange { from: start + chrono::Days::new(after), quantity: q });
        }
        it
    }
}

fn minor(code: &str) -> Decimal {
    Decimal::new(1, cur(code).exponent())
}

proptest! {
    /// Splitting a range at any day and rating the halves equals rating the whole, exactly before
    /// rounding; after line rounding, within one minor unit.
    #[test]
    fn splitting_a_period_is_additive(it in arb_item(), day in 1_u8..=28, a in arb_date(), len in 1_u64..400, cut in 0_u64..400) {
        let bill_day = BillDay::try_from(day).unwrap();
        let b = a + chrono::Days::new(len);
        let m = a + chrono::Days::new(cut % len);
        let whole = recurring_charge(&it, bill_day, DateRange::new(a, b));
        let halves = recurring_charge(&it, bill_day, DateRange::new(a, m)) + recurring_charge(&it, bill_day, DateRange::new(m, b));
        prop_assert!((whole - halves).abs() < dec("0.000000001"), "{whole} vs {halves}");
        let code = it.price.currency.code().to_owned();
        let r = |x: Decimal| Money::new(x, cur(&code)).rounded().amount();
        prop_assert!((r(whole) - (r(recurring_charge(&it, bill_day, DateRange::new(a, m))) + r(recurring_charge(&it, bill_day, DateRange::new(m, b))))).abs() <= minor(&code));
    }

    /// Billing month by month, with the quantity change learned only after the period it starts in
    /// was billed, charges what one bill with everything known charges (within a minor unit a line).
    #[test]
    fn month_by_month_equals_all_at_once(it in arb_item(), day in 1_u8..=28, months in 1_u32..14) {
        let bill_day = BillDay::try_from(day).unwrap();
        let code = it.price.currency.code().to_owned();
        let first = bill_day.on_or_after(it.start);
        let last = first.checked_add_months(chrono::Months::new(months)).unwrap();
        // All at once.
        let once = rate(&contract(&code, day, vec![it.clone()]), &[], last);
        // Month by month, the change revealed only when its month is billed (or later).
        let mut step = it.clone();
        let hidden: Vec<_> = step.quantities.drain(1..).collect();
        let mut c = contract(&code, day, vec![step]);
        let mut lines = Vec::new();
        let mut bill = bill_day.on_or_before(it.start);
        while bill <= last {
            let rated = rate(&c, &[], bill);
            lines.extend(rated.lines);
            c = rated.contract;
            for h in &hidden {
                if h.from < bill && !c.items[0].quantities.contains(h) {
                    c.items[0].quantities.push(*h);
                }
            }
            bill = bill.checked_add_months(chrono::Months::new(1)).unwrap();
        }
        for h in &hidden {
            if !c.items[0].quantities.contains(h) {
                c.items[0].quantities.push(*h);
            }
        }
        let final_pass = rate(&c, &[], last);
        lines.extend(final_pass.lines);
        let sum = |ls: &[InvoiceLine]| ls.iter().map(|l| l.amount.amount()).sum::<Decimal>();
        let tolerance = minor(&code) * Decimal::from(lines.len() + once.lines.len()) / Decimal::TWO;
        prop_assert!((sum(&lines) - sum(&once.lines)).abs() <= tolerance, "{} vs {}", sum(&lines), sum(&once.lines));
    }

    /// Totals are the sums of the rounded lines; every line is at the currency's exponent; only
    /// proration lines are negative; rating again with what was billed gives nothing.
    #[test]
    fn totals_signs_and_idempotence(it in arb_item(), day in 1_u8..=28, bill in arb_date()) {
        let code = it.price.currency.code().to_owned();
        let rated = rate(&contract(&code, day, vec![it]), &[], bill);
        let sum: Decimal = rated.lines.iter().map(|l| l.amount.amount()).sum();
        prop_assert_eq!(rated.total(cur(&code)).amount(), sum);
        for l in &rated.lines {
            prop_assert_eq!(l.amount.rounded(), l.amount);
            prop_assert!(!l.amount.amount().is_sign_negative() || l.amount.is_zero() || l.kind == ChargeKind::Proration, "{:?}", l);
        }
        prop_assert!(rate(&rated.contract, &[], bill).lines.is_empty());
    }

    /// Usage in one bill or in two (any record arriving late) charges the same per cycle.
    #[test]
    fn late_usage_never_regrants_the_allowance(qs in proptest::collection::vec((0_u64..30, 1_u64..500), 1..20), late_mask in any::<u32>(), included in 0_u64..2000) {
        let c = contract("USD", 1, vec![bandwidth("USD", ChargeModel::Overage { included, unit_amount: dec("0.07") })]);
        let records: Vec<_> = qs.iter().map(|(day, q)| UsageRecord { metric: "bandwidth_gb".parse().unwrap(), quantity: *q, date: d("2026-10-01") + chrono::Days::new(*day) }).collect();
        let once = rate(&c, &records, d("2026-11-01"));
        let (on_time, late): (Vec<_>, Vec<_>) = records.iter().cloned().enumerate().partition(|(i, _)| late_mask & (1 << (i % 32)) == 0);
        let first = rate(&c, &on_time.into_iter().map(|(_, r)| r).collect::<Vec<_>>(), d("2026-11-01"));
        let second = rate(&first.contract, &late.into_iter().map(|(_, r)| r).collect::<Vec<_>>(), d("2026-12-01"));
        let sum = |ls: &[InvoiceLine]| ls.iter().map(|l| l.amount.amount()).sum::<Decimal>();
        prop_assert_eq!(sum(&once.lines), sum(&first.lines) + sum(&second.lines));
    }
}

/// Every charge model, recurring and usage, in USD, EUR and JPY: lines at the currency's exponent,
/// half-up, summing to the total.
#[test]
fn every_charge_model_in_usd_eur_and_jpy() {
    let tiers = || {
        vec![
            Tier { up_to: Some(10), unit_amount: dec("12.345"), flat_amount: dec("5") },
            Tier { up_to: None, unit_amount: dec("9.995"), flat_amount: Decimal::ZERO },
        ]
    };
    let models = [
        ("flat", ChargeModel::Flat { amount: dec("99.995") }),
        ("per_unit", ChargeModel::PerUnit { unit_amount: dec("12.345") }),
        ("graduated", ChargeModel::Graduated { tiers: tiers() }),
        ("volume", ChargeModel::Volume { tiers: tiers() }),
    ];
    // Expected unrounded amounts for 13 units over a whole period.
    let raw = |name: &str| match name {
        "flat" => dec("99.995"),
        "per_unit" => dec("160.485"),
        "graduated" => dec("123.45") + dec("5") + dec("29.985"),
        "volume" => dec("129.935"),
        _ => unreachable!(),
    };
    for code in ["USD", "EUR", "JPY"] {
        let exp = cur(code).exponent();
        let half_up = |d: Decimal| d.round_dp_with_strategy(exp, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        for (name, model) in &models {
            // Recurring, a whole month.
            let c = contract(
                code,
                1,
                vec![item(price(code, monthly(), model.clone()), "2026-11-01", &[("2026-11-01", 13)])],
            );
            let rated = rate(&c, &[], d("2026-11-01"));
            assert_eq!(rated.lines.len(), 1, "{code} {name}");
            assert_eq!(rated.lines[0].amount.amount(), half_up(raw(name)), "{code} recurring {name}");
            assert_eq!(rated.lines[0].amount.rounded(), rated.lines[0].amount, "at the currency's exponent");
            // Usage in arrears: the same 13 units, as records.
            let c = contract(code, 1, vec![bandwidth(code, model.clone())]);
            let rated = rate(&c, &[used("2026-10-05", 6), used("2026-10-25", 7)], d("2026-11-01"));
            let sum: Decimal = rated.lines.iter().map(|l| l.amount.amount()).sum();
            let expected: Decimal = model.bands(13).iter().map(|b| half_up(b.amount())).sum();
            assert_eq!(sum, expected, "{code} usage {name}");
            assert_eq!(rated.total(cur(code)).amount(), sum);
        }
        // Overage: 13 used, 10 included.
        let c =
            contract(code, 1, vec![bandwidth(code, ChargeModel::Overage { included: 10, unit_amount: dec("2.505") })]);
        let rated = rate(&c, &[used("2026-10-05", 13)], d("2026-11-01"));
        assert_eq!(rated.lines[1].amount.amount(), half_up(dec("7.515")), "{code} overage");
    }
}
