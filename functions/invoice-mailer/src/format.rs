//! How amounts and dates read in a mail: `1,234.50 USD`, `12,000 JPY`, `Nov 18, 2026`.

use billing_domain::Money;
use chrono::{DateTime, Utc};

/// The amount with thousands separators and exactly the currency's decimals, then its code.
pub fn money(m: &Money) -> String {
    let m = m.rounded();
    let text = m.amount().abs().to_string();
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w.to_owned(), Some(f.to_owned())),
        None => (text.clone(), None),
    };
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if m.amount().is_sign_negative() && !m.amount().is_zero() { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f} {}", m.currency()),
        None => format!("{sign}{grouped} {}", m.currency()),
    }
}

pub fn date(t: &DateTime<Utc>) -> String {
    t.format("%b %-d, %Y").to_string()
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
    }
}
