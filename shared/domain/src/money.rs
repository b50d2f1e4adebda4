//! Money: a `rust_decimal` amount in an ISO 4217 currency, never a float.
//!
//! Payment processors speak integer minor units (cents, yen, fils); [`Money::from_minor`] and
//! [`Money::to_minor`] convert at that boundary with the currency's exponent (JPY 0, USD 2, KWD 3).
//! Rounding to the currency's exponent is half away from zero (`MidpointAwayFromZero`), the rule
//! used on invoices.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// Active ISO 4217 currency codes with their minor-unit exponent.
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYU", 2),
    ("UZS", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

/// An ISO 4217 currency. Parsing accepts any case (`usd`, as Stripe writes it) and keeps the upper
/// case code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    exponent: u32,
}

impl Currency {
    pub const USD: Currency = Currency { code: *b"USD", exponent: 2 };

    pub fn code(&self) -> &str {
        // Only ever built from an ASCII entry of `CURRENCIES`.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Digits after the decimal point in the currency's minor unit.
    pub fn exponent(&self) -> u32 {
        self.exponent
    }
}

impl FromStr for Currency {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        let upper = s.trim().to_ascii_uppercase();
        CURRENCIES
            .iter()
            .find(|(code, _)| *code == upper)
            .map(|(code, exponent)| {
                let b = code.as_bytes();
                Currency { code: [b[0], b[1], b[2]], exponent: *exponent }
            })
            .ok_or_else(|| FieldError::new("", "is not an ISO 4217 currency code"))
    }
}

impl TryFrom<String> for Currency {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        s.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{0} cannot be added to {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("{0} has more decimal places than {1} allows")]
    NotInMinorUnits(Decimal, Currency),
    #[error("amount out of range")]
    Overflow,
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("ISO 4217 currency code"))
            .pattern(Some("^[A-Z]{3}$"))
            .examples([serde_json::json!("USD")])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Currency {}

/// An amount of money in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Money {
    /// Serialized as a string ("12.50") so no JSON reader turns it into a float.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "12.50"))]
    amount: Decimal,
    currency: Currency,
}

impl Money {
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(Decimal::ZERO, currency).at_scale()
    }

    /// From integer minor units as payment processors send them: `from_minor(1050, USD)` is 10.50.
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self::new(Decimal::new(minor, currency.exponent()), currency)
    }

    /// To integer minor units; fails if the amount has finer precision than the currency allows.
    pub fn to_minor(&self) -> Result<i64, MoneyError> {
        let scaled =
            self.amount.checked_mul(Decimal::from(10_i64.pow(self.currency.exponent()))).ok_or(MoneyError::Overflow)?;
        if !scaled.fract().is_zero() {
            return Err(MoneyError::NotInMinorUnits(self.amount, self.currency));
        }
        i64::try_from(scaled).map_err(|_| MoneyError::Overflow)
    }

    /// Rounded to the currency's exponent, half away from zero.
    pub fn rounded(&self) -> Self {
        Self::new(
            self.amount.round_dp_with_strategy(self.currency.exponent(), RoundingStrategy::MidpointAwayFromZero),
            self.currency,
        )
        .at_scale()
    }

    /// Same value written with at least the currency's number of decimals (`5` USD -> `5.00`;
    /// a finer unit price such as `12.505` keeps its precision).
    pub fn at_currency_scale(self) -> Self {
        self.at_scale()
    }

    /// Same value written with at least the currency's number of decimals (`5` USD -> `5.00`).
    fn at_scale(mut self) -> Self {
        if self.amount.scale() < self.currency.exponent() {
            self.amount.rescale(self.currency.exponent());
        }
        self
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(other.currency, self.currency));
        }
        let sum = self.amount.checked_add(other.amount).ok_or(MoneyError::Overflow)?;
        Ok(Self::new(sum, self.currency).at_scale())
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.at_scale().amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Currency {
        code.parse().unwrap()
    }

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(c("JPY").exponent(), 0);
        assert_eq!(c("usd").exponent(), 2);
        assert_eq!(c("KWD").exponent(), 3);
        assert_eq!(c("usd").code(), "USD");
        assert!("XYZ".parse::<Currency>().is_err());
        assert!("US".parse::<Currency>().is_err());
    }

    #[test]
    fn minor_units_round_trip_with_the_exponent() {
        assert_eq!(Money::from_minor(1050, c("USD")).to_string(), "10.50 USD");
        assert_eq!(Money::from_minor(1050, c("JPY")).to_string(), "1050 JPY");
        assert_eq!(Money::from_minor(1050, c("KWD")).to_string(), "1.050 KWD");
        for (minor, cur) in [(1050, "USD"), (1050, "JPY"), (1050, "KWD"), (-7, "USD"), (0, "JPY")] {
            assert_eq!(Money::from_minor(minor, c(cur)).to_minor().unwrap(), minor);
        }
    }

    #[test]
    fn finer_than_minor_units_is_refused_not_truncated() {
        let m = Money::new(Decimal::new(10505, 3), c("USD")); // 10.505
        assert!(matches!(m.to_minor(), Err(MoneyError::NotInMinorUnits(..))));
        assert_eq!(m.rounded().to_minor().unwrap(), 1051, "half away from zero");
        let neg = Money::new(Decimal::new(-10505, 3), c("USD"));
        assert_eq!(neg.rounded().to_minor().unwrap(), -1051);
        let yen = Money::new(Decimal::new(1005, 1), c("JPY")); // 100.5
        assert_eq!(yen.rounded().to_minor().unwrap(), 101);
    }

    #[test]
    fn adding_different_currencies_fails() {
        let usd = Money::from_minor(100, c("USD"));
        let eur = Money::from_minor(100, c("EUR"));
        assert!(usd.checked_add(&eur).is_err());
        assert_eq!(usd.checked_add(&usd).unwrap().to_minor().unwrap(), 200);
    }

    #[test]
    fn zero_and_json_use_the_currency_scale() {
        assert_eq!(
            serde_json::to_value(Money::zero(c("USD"))).unwrap(),
            serde_json::json!({"amount": "0.00", "currency": "USD"})
        );
        assert_eq!(
            serde_json::to_value(Money::zero(c("JPY"))).unwrap(),
            serde_json::json!({"amount": "0", "currency": "JPY"})
        );
        let back: Money = serde_json::from_value(serde_json::json!({"amount": "12.50", "currency": "usd"})).unwrap();
        assert_eq!(back.to_minor().unwrap(), 1250);
    }
}
