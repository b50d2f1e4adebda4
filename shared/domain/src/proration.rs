//! Proration of a seat change within a billing period, computed the way Stripe computes it (so a
//! statement can explain Stripe's amounts, and invoice-mode accounts can be billed the same way).
//!
//! Stripe prorates by the second: a change at `at` inside the period `[start, end)` credits the
//! unused time of the old quantity and charges the remaining time of the new one, each
//! `unit price × quantity × (end − at) / (end − start)`. Each of the two lines is rounded on its
//! own to the currency's exponent, half away from zero; the net amount is the sum of the rounded
//! lines, so the lines always add up to the total shown.
//!
//! Source of the worked example in the tests: Stripe's "Prorations" guide
//! (<https://docs.stripe.com/billing/subscriptions/prorations>): upgrading from a 10 USD to a
//! 20 USD monthly plan halfway through the period gives −5 USD unused time and +10 USD remaining
//! time, 5 USD in all.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::billing::SeatCount;
use crate::error::FieldError;
use crate::money::Money;

/// The two lines a seat change adds to an invoice, and their sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatProration {
    /// Credit for the unused rest of the period at the old quantity (zero or negative).
    pub unused_credit: Money,
    /// Charge for the rest of the period at the new quantity (zero or positive).
    pub remaining_charge: Money,
    /// What the change costs now: the sum of the two rounded lines (negative for a decrease).
    pub net: Money,
}

/// A billing period and a moment inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodPoint {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

impl PeriodPoint {
    /// `at` must lie within `[start, end]` of a non-empty period.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>, at: DateTime<Utc>) -> Result<Self, FieldError> {
        if end <= start {
            return Err(FieldError::new("period", "ends before it starts"));
        }
        if at < start || at > end {
            return Err(FieldError::new("proration_date", "must lie within the current billing period"));
        }
        Ok(Self { start, end, at })
    }

    /// The share of the period left after `at`, exact to the second.
    pub fn remaining_fraction(&self) -> Decimal {
        let left = Decimal::from((self.end - self.at).num_seconds());
        let whole = Decimal::from((self.end - self.start).num_seconds());
        left / whole
    }
}

/// Prorates changing `from` seats to `to` seats at `when`, for a per-seat `unit` price per period.
pub fn seat_change(unit: Money, from: SeatCount, to: SeatCount, when: PeriodPoint) -> SeatProration {
    let fraction = when.remaining_fraction();
    let line = |seats: SeatCount| Money::new(unit.amount() * Decimal::from(seats.get()) * fraction, unit.currency());
    let unused_credit = Money::new(-line(from).amount(), unit.currency()).rounded();
    let remaining_charge = line(to).rounded();
    let net = Money::new(unused_credit.amount() + remaining_charge.amount(), unit.currency()).rounded();
    SeatProration { unused_credit, remaining_charge, net }
}

/// What the period costs at `seats`: the renewal amount.
pub fn renewal(unit: Money, seats: SeatCount) -> Money {
    Money::new(unit.amount() * Decimal::from(seats.get()), unit.currency()).rounded()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use chrono::TimeZone;

    fn cur(code: &str) -> Currency {
        code.parse().unwrap()
    }

    fn money(s: &str, c: &str) -> Money {
        Money::new(s.parse().unwrap(), cur(c)).rounded()
    }

    fn seats(n: i64) -> SeatCount {
        SeatCount::try_from(n).unwrap()
    }

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    /// A 30-day period starting at T0.
    const T0: i64 = 1_795_000_000;
    const DAY: i64 = 86_400;

    fn point(elapsed: i64, length: i64) -> PeriodPoint {
        PeriodPoint::new(at(T0), at(T0 + length), at(T0 + elapsed)).unwrap()
    }

    #[test]
    fn stripe_guide_example_upgrade_halfway() {
        // 10 USD → 20 USD halfway through: one seat of 10 becoming two seats of 10 is the same
        // arithmetic as Stripe's price change example.
        let p = seat_change(money("10", "USD"), seats(1), seats(2), point(15 * DAY, 30 * DAY));
        assert_eq!(p.unused_credit, money("-5.00", "USD"));
        assert_eq!(p.remaining_charge, money("10.00", "USD"));
        assert_eq!(p.net, money("5.00", "USD"));
    }

    #[test]
    fn five_to_eight_seats_with_twelve_days_left_of_thirty() {
        // The README walk-through: 12.00 USD a seat, 5 → 8 seats, 18 of 30 days used.
        let p = seat_change(money("12", "USD"), seats(5), seats(8), point(18 * DAY, 30 * DAY));
        assert_eq!(p.unused_credit, money("-24.00", "USD"));
        assert_eq!(p.remaining_charge, money("38.40", "USD"));
        assert_eq!(p.net, money("14.40", "USD"));
    }

    #[test]
    fn each_line_is_rounded_half_away_from_zero_and_the_net_is_their_sum() {
        // 1/3 of the period left: 10.00 × 1/3 = 3.333… → 3.33; 20.00 × 1/3 = 6.666… → 6.67.
        let p = seat_change(money("10", "USD"), seats(1), seats(2), point(20 * DAY, 30 * DAY));
        assert_eq!((p.unused_credit, p.remaining_charge), (money("-3.33", "USD"), money("6.67", "USD")));
        assert_eq!(p.net, money("3.34", "USD"), "sum of rounded lines, not round(10 × 1/3) = 3.33");
    }

    #[test]
    fn zero_decimal_and_three_decimal_currencies_use_their_exponent() {
        let jpy = seat_change(money("1000", "JPY"), seats(1), seats(2), point(20 * DAY, 30 * DAY));
        assert_eq!(
            (jpy.unused_credit, jpy.remaining_charge, jpy.net),
            (money("-333", "JPY"), money("667", "JPY"), money("334", "JPY"))
        );
        let kwd = seat_change(money("1", "KWD"), seats(0), seats(1), point(20 * DAY, 30 * DAY));
        assert_eq!(kwd.remaining_charge, money("0.333", "KWD"));
    }

    #[test]
    fn a_decrease_is_a_credit() {
        let p = seat_change(money("12", "USD"), seats(8), seats(5), point(15 * DAY, 30 * DAY));
        assert_eq!(p.net, money("-18.00", "USD"));
    }

    #[test]
    fn at_the_period_edges() {
        let start = seat_change(money("12", "USD"), seats(5), seats(8), point(0, 30 * DAY));
        assert_eq!(start.net, money("36.00", "USD"), "a change at the start costs the full difference");
        let end = seat_change(money("12", "USD"), seats(5), seats(8), point(30 * DAY, 30 * DAY));
        assert_eq!(end.net, money("0.00", "USD"));
    }

    #[test]
    fn proration_dates_outside_the_period_are_refused() {
        assert!(PeriodPoint::new(at(T0), at(T0 + DAY), at(T0 - 1)).is_err());
        assert!(PeriodPoint::new(at(T0), at(T0 + DAY), at(T0 + DAY + 1)).is_err());
        assert!(PeriodPoint::new(at(T0), at(T0), at(T0)).is_err());
    }

    #[test]
    fn renewal_is_unit_times_seats() {
        assert_eq!(renewal(money("12", "USD"), seats(8)), money("96.00", "USD"));
    }
}
