//! How amounts and dates read in a mail: `1,234.50 USD`, `12,000 JPY`, `Nov 18, 2026`.

use billing_domain::Money;
use billing_domain::invoice::ServicePeriod;
use chrono::{DateTime, NaiveDate, Utc};

/// The amount with thousands separators and exactly the currency's decimals, then its code.
pub fn money(m: &Money) -> String {
    let m = m.rounded();
    let text = m.amount().abs().to_string();
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w.to_owned(), Some(f.to_owned())),
        None => (text.clone(), None),
    };
    let grouped = thousands(&whole);
    let sign = if m.amount().is_sign_negative() && !m.amount().is_zero() { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f} {}", m.currency()),
        None => format!("{sign}{grouped} {}", m.currency()),
    }
}

/// A count with thousands separators: `1,250,000`.
pub fn count(n: u64) -> String {
    thousands(&n.to_string())
}

fn thousands(digits: &str) -> String {
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    grouped
}

pub fn date(t: &DateTime<Utc>) -> String {
    day(t.date_naive())
}

pub fn day(d: NaiveDate) -> String {
    d.format("%b %-d, %Y").to_string()
}

/// A service period as people read it: its first and last day, both inclusive (`Dec 1, 2026 –
/// Dec 31, 2026` for a period stored as Dec 1 – Jan 1).
pub fn period(p: &ServicePeriod) -> String {
    format!("{} – {}", day(p.first_day()), day(p.last_day()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(amount: &str, currency: &str) -> Money {
        Money::new(amount.parse().unwrap(), currency.parse().unwrap())
    }

    #[test]
    fn amounts_read_with_their_currency_decimals() {
        assert_eq!(money(&m("1234.5", "USD")), "1,234.50 USD");
        assert_eq!(money(&m("1234567.891", "KWD")), "1,234,567.891 KWD");
        assert_eq!(money(&m("12000", "JPY")), "12,000 JPY");
        assert_eq!(money(&m("-24", "USD")), "-24.00 USD");
        assert_eq!(money(&m("0", "EUR")), "0.00 EUR");
        assert_eq!(money(&m("999", "USD")), "999.00 USD");
        assert_eq!((count(1_250_000), count(999), count(0)), ("1,250,000".into(), "999".into(), "0".into()));
    }

    #[test]
    fn a_period_reads_with_its_last_day() {
        use chrono::TimeZone;
        let t = |y, mo, d| Utc.with_ymd_and_hms(y, mo, d, 0, 0, 0).unwrap();
        let december = ServicePeriod { start: t(2026, 12, 1), end: t(2027, 1, 1), partial: false };
        assert_eq!(period(&december), "Dec 1, 2026 – Dec 31, 2026");
    }
}
