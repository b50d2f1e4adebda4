//! The catalog for contract (invoice-mode) billing: prices and their charge models.
//!
//! A [`Price`] says *when* it is charged ([`ChargeType`]: recurring in advance, once, or for usage
//! in arrears) and *how much* for a quantity ([`ChargeModel`]). Unit and tier amounts are decimals
//! in the price's currency and may be finer than the currency (0.0006 USD per API call); amounts
//! are rounded only on invoice lines (see [`crate::rating`]).
//!
//! Tiers follow Stripe's convention: `up_to` is the last unit of the tier, inclusive; the next tier
//! starts one unit later; the last tier is open (`up_to: None`); a tier may add a flat amount once
//! it is reached.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::billing::PlanInterval;
use crate::error::{Errors, FieldError, Result};
use crate::money::Currency;
use crate::text;

/// A catalog price's id (`price_dc1_rack`): lowercase letters, digits, `_` and `-`, 1 to 64.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String))]
pub struct PriceId(String);

/// A usage metric's name (`bandwidth_gb`, `api_calls`): same alphabet as [`PriceId`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String))]
pub struct Metric(String);

fn slug(raw: &str, what: &str) -> std::result::Result<String, FieldError> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new("", format!("{what} must be 1 to 64 lowercase letters, digits, `_` or `-`")))
    }
}

macro_rules! slug_id {
    ($name:ident, $what:literal) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl FromStr for $name {
            type Err = FieldError;
            fn from_str(s: &str) -> std::result::Result<Self, FieldError> {
                slug(s, $what).map(Self)
            }
        }
        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> std::result::Result<Self, FieldError> {
                s.parse()
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
slug_id!(PriceId, "a price id");
slug_id!(Metric, "a metric");

/// One tier of a graduated or volume price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tier {
    /// The tier's last unit, inclusive; `None` on the last, open tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to: Option<u64>,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "6.50"))]
    pub unit_amount: Decimal,
    /// Added once when any unit falls in the tier.
    #[serde(default, with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "0"))]
    pub flat_amount: Decimal,
}

/// How a quantity is priced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChargeModel {
    /// One amount, whatever the quantity (a quantity of zero is not charged).
    Flat {
        #[serde(with = "rust_decimal::serde::str")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        amount: Decimal,
    },
    /// Quantity × unit amount.
    PerUnit {
        #[serde(with = "rust_decimal::serde::str")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        unit_amount: Decimal,
    },
    /// Each unit at the price of the tier it falls in (Stripe `graduated`, Zuora "tiered").
    Graduated { tiers: Vec<Tier> },
    /// Every unit at the price of the tier the total quantity reaches (Stripe and Zuora `volume`).
    Volume { tiers: Vec<Tier> },
    /// `included` units at zero, the rest at `unit_amount` (Zuora "overage"). Usage only.
    Overage {
        included: u64,
        #[serde(with = "rust_decimal::serde::str")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        unit_amount: Decimal,
    },
}

/// When a price is charged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChargeType {
    /// Every interval, billed in advance; partial periods prorated by day.
    Recurring { interval: PlanInterval },
    /// Once, on the first bill on or after the item's start.
    OneTime,
    /// For the metric's usage in each billing period, billed in arrears.
    Usage { metric: Metric },
}

/// How [`ChargeModel::bands`] splits a quantity: the units at one unit amount, plus any flat amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    /// Which tier (0-based) or, for overage, 0 = included and 1 = overage.
    pub index: usize,
    pub quantity: u64,
    pub unit_amount: Decimal,
    pub flat_amount: Decimal,
    /// Units beyond an included allowance.
    pub overage: bool,
}

impl Band {
    pub fn amount(&self) -> Decimal {
        Decimal::from(self.quantity) * self.unit_amount + self.flat_amount
    }
}

impl ChargeModel {
    /// The quantity split into the bands it is priced in, unrounded. Bands with nothing to charge
    /// and no units are left out; included units appear (at zero) so a bill can show them.
    pub fn bands(&self, quantity: u64) -> Vec<Band> {
        let band = |index, quantity, unit_amount, flat_amount, overage| Band {
            index,
            quantity,
            unit_amount,
            flat_amount,
            overage,
        };
        match self {
            Self::Flat { amount } if quantity > 0 => vec![band(0, 1, *amount, Decimal::ZERO, false)],
            Self::Flat { .. } => vec![],
            Self::PerUnit { unit_amount } => vec![band(0, quantity, *unit_amount, Decimal::ZERO, false)],
            Self::Overage { included, unit_amount } => {
                let mut out = Vec::with_capacity(2);
                let inside = quantity.min(*included);
                if inside > 0 {
                    out.push(band(0, inside, Decimal::ZERO, Decimal::ZERO, false));
                }
                if quantity > *included {
                    out.push(band(1, quantity - included, *unit_amount, Decimal::ZERO, true));
                }
                out
            }
            Self::Graduated { tiers } => {
                let mut out = Vec::new();
                let mut below = 0_u64; // units covered by earlier tiers
                for (i, tier) in tiers.iter().enumerate() {
                    if quantity <= below {
                        break;
                    }
                    let top = tier.up_to.map_or(quantity, |up| up.min(quantity));
                    out.push(band(i, top - below, tier.unit_amount, tier.flat_amount, false));
                    below = top;
                }
                out
            }
            Self::Volume { tiers } => {
                if quantity == 0 {
                    return vec![];
                }
                let (i, tier) = tiers
                    .iter()
                    .enumerate()
                    .find(|(_, t)| t.up_to.is_none_or(|up| quantity <= up))
                    .expect("a parsed volume price ends with an open tier");
                vec![band(i, quantity, tier.unit_amount, tier.flat_amount, false)]
            }
        }
    }

    /// The units priced at nothing before any charge starts: an overage price's allowance, or
    /// the free first tiers of a graduated price. Zero for the other models.
    pub fn included_units(&self) -> u64 {
        let free = |t: &&Tier| t.unit_amount.is_zero() && t.flat_amount.is_zero();
        match self {
            Self::Overage { included, .. } => *included,
            Self::Graduated { tiers } => tiers.iter().take_while(free).filter_map(|t| t.up_to).last().unwrap_or(0),
            Self::Flat { .. } | Self::PerUnit { .. } | Self::Volume { .. } => 0,
        }
    }

    /// What `quantity` costs, unrounded.
    pub fn amount(&self, quantity: u64) -> Decimal {
        self.bands(quantity).iter().map(Band::amount).sum()
    }

    fn check(&self, errors: &mut Errors) {
        let negative = |d: &Decimal| d.is_sign_negative() && !d.is_zero();
        match self {
            Self::Flat { amount: a } | Self::PerUnit { unit_amount: a } | Self::Overage { unit_amount: a, .. } => {
                if negative(a) {
                    errors.push(FieldError::new("amount", "must not be negative"));
                }
            }
            Self::Graduated { tiers } | Self::Volume { tiers } => {
                if tiers.is_empty() {
                    errors.push(FieldError::new("tiers", "must have at least one tier"));
                }
                let mut last = 0_u64;
                for (i, tier) in tiers.iter().enumerate() {
                    let field = format!("tiers[{i}]");
                    if negative(&tier.unit_amount) || negative(&tier.flat_amount) {
                        errors.push(FieldError::new(&field, "amounts must not be negative"));
                    }
                    match (tier.up_to, i + 1 == tiers.len()) {
                        (Some(_), true) => {
                            errors.push(FieldError::new(&field, "the last tier must be open (no up_to)"))
                        }
                        (None, false) => errors.push(FieldError::new(&field, "only the last tier may be open")),
                        (Some(up), false) if up <= last && i > 0 || up == 0 => {
                            errors.push(FieldError::new(&field, "up_to must be above the previous tier's"))
                        }
                        (Some(up), false) => last = up,
                        (None, true) => {}
                    }
                }
            }
        }
    }
}

/// A catalog price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Price {
    pub id: PriceId,
    /// What the bill calls the charge ("Rack space, 42U").
    pub name: String,
    pub currency: Currency,
    pub charge: ChargeType,
    #[serde(flatten)]
    pub pricing: ChargeModel,
    /// The unit a quantity counts ("GB", "seat"); shown on usage lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The taxes this charge takes, the most specific level (see [`crate::tax`]): when empty, the
    /// contract's, the account's or the seller's default apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub tax_codes: Vec<crate::tax::TaxCode>,
}

impl Price {
    pub const NAME_MAX: usize = 200;

    /// Checks a price read from outside: a name, amounts that are not negative, well-formed tiers,
    /// and an overage model only on usage.
    pub fn parse(self) -> Result<Self> {
        let mut errors = Errors::default();
        let name = errors.take("name", text::bounded(&self.name, 1, Self::NAME_MAX));
        errors.take("tax_codes", crate::tax::check_list(&self.tax_codes));
        self.pricing.check(&mut errors);
        if matches!(self.pricing, ChargeModel::Overage { .. }) && !matches!(self.charge, ChargeType::Usage { .. }) {
            errors.push(FieldError::new("model", "overage pricing applies to usage prices only"));
        }
        errors.finish()?;
        Ok(Self { name: name.expect("checked"), ..self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros_free::dec;

    /// `dec("1.5")`: a decimal literal for tests.
    mod rust_decimal_macros_free {
        pub fn dec(s: &str) -> rust_decimal::Decimal {
            s.parse().unwrap()
        }
    }

    fn tier(up_to: Option<u64>, unit: &str, flat: &str) -> Tier {
        Tier { up_to, unit_amount: dec(unit), flat_amount: dec(flat) }
    }

    /// Zuora, "Volume pricing" charge model: 0–50 licenses at $120 each, 51–100 at $100 each;
    /// 5 licenses cost $600 and 60 cost $6,000.
    /// https://knowledgecenter.zuora.com/Zuora_Billing/B_Set_up_Zuora_Billing/Build_products_and_prices/Charge_models_-_configure_any_pricing/DD_Volume_pricing
    #[test]
    fn zuora_volume_pricing_example() {
        let model = ChargeModel::Volume {
            tiers: vec![tier(Some(50), "120", "0"), tier(Some(100), "100", "0"), tier(None, "90", "0")],
        };
        assert_eq!(model.amount(5), dec("600"));
        assert_eq!(model.amount(60), dec("6000"));
        assert_eq!(model.amount(50), dec("6000"), "50 is still in the first tier");
        assert_eq!(model.amount(51), dec("5100"));
    }

    /// Zuora, "Example: Tiered pricing mode" (rating details): tiered with overage, tier 1 units
    /// 0–100 at 0.00, tier 2 units 101–200 at 2.00; 130 units: 100 × 0.00 + 30 × 2.00 = 60.00.
    /// https://docs.zuora.com/en/zuora-billing/bill-your-customer/billing-document-templates-configuration/configure-html-templates-for-billing-documents/customize-html-templates/configure-ratingdetails-in-html-template/ratingdetail-schema/example-tiered-pricing-mode
    #[test]
    fn zuora_tiered_with_overage_example() {
        let graduated = ChargeModel::Graduated { tiers: vec![tier(Some(100), "0", "0"), tier(None, "2.00", "0")] };
        assert_eq!(graduated.amount(130), dec("60.00"));
        let bands = graduated.bands(130);
        assert_eq!(bands.iter().map(|b| b.quantity).collect::<Vec<_>>(), vec![100, 30]);
        // The same as an included allowance with an overage price.
        let overage = ChargeModel::Overage { included: 100, unit_amount: dec("2.00") };
        assert_eq!(overage.amount(130), dec("60.00"));
        assert_eq!(
            overage.bands(130)[1],
            Band { index: 1, quantity: 30, unit_amount: dec("2.00"), flat_amount: Decimal::ZERO, overage: true }
        );
        assert_eq!(overage.amount(80), Decimal::ZERO);
        assert_eq!(overage.bands(80).len(), 1, "included units are shown at zero");
    }

    /// Lago, "Volume" charge model: tiers 0–10,000 at $0.0010, to 50,000 at $0.0008, to 100,000 at
    /// $0.0006, above at $0.0004, each with a $10 fixed fee; 65,000 API calls cost
    /// 65,000 × $0.0006 + $10 = $49. https://getlago.com/docs/guide/plans/charges/charge-models/volume
    #[test]
    fn lago_volume_with_flat_fee_example() {
        let model = ChargeModel::Volume {
            tiers: vec![
                tier(Some(10_000), "0.0010", "10"),
                tier(Some(50_000), "0.0008", "10"),
                tier(Some(100_000), "0.0006", "10"),
                tier(None, "0.0004", "10"),
            ],
        };
        assert_eq!(model.amount(65_000), dec("49"));
    }

    /// Stripe, "Set up tiered pricing" (Typographic's fonts): tiers 1–5 at 7 USD, 6–10 at 6.50 USD,
    /// 11+ at 6 USD. Volume-based: 1 → 7, 5 → 35, 6 → 39, 20 → 120, 25 → 150. Graduated: each tier
    /// at its own rate, so 6 → 41.50, 20 → 127.50, 25 → 157.50.
    /// https://docs.stripe.com/subscriptions/pricing-models/tiered-pricing
    #[test]
    fn stripe_typographic_tiers_example() {
        let tiers = vec![tier(Some(5), "7", "0"), tier(Some(10), "6.5", "0"), tier(None, "6", "0")];
        let volume = ChargeModel::Volume { tiers: tiers.clone() };
        for (q, total) in [(1, "7"), (5, "35"), (6, "39"), (20, "120"), (25, "150")] {
            assert_eq!(volume.amount(q), dec(total), "volume, {q} fonts");
        }
        let graduated = ChargeModel::Graduated { tiers };
        for (q, total) in [(1, "7"), (5, "35"), (6, "41.5"), (20, "127.5"), (25, "157.5")] {
            assert_eq!(graduated.amount(q), dec(total), "graduated, {q} fonts");
        }
    }

    /// Graduated tiers with a flat amount per tier reached (Stripe's `flat_amount`):
    /// 1–5 at 7.00 + 0 flat, 6–10 at 6.50 + 10.00 flat, 11+ at 6.00: 12 units cost
    /// 5 × 7.00 + (5 × 6.50 + 10.00) + 2 × 6.00 = 89.50.
    #[test]
    fn graduated_with_flat_amounts() {
        let model = ChargeModel::Graduated {
            tiers: vec![tier(Some(5), "7.00", "0"), tier(Some(10), "6.50", "10.00"), tier(None, "6.00", "0")],
        };
        assert_eq!(model.amount(12), dec("89.50"));
        assert_eq!(model.amount(5), dec("35.00"), "the second tier's flat amount only once reached");
        assert_eq!(model.amount(0), Decimal::ZERO);
    }

    #[test]
    fn flat_and_per_unit() {
        assert_eq!(ChargeModel::Flat { amount: dec("250") }.amount(3), dec("250"));
        assert_eq!(ChargeModel::Flat { amount: dec("250") }.amount(0), Decimal::ZERO);
        assert_eq!(ChargeModel::PerUnit { unit_amount: dec("0.015") }.amount(1000), dec("15"));
    }

    fn price(charge: ChargeType, pricing: ChargeModel) -> Price {
        Price {
            id: "price_x".parse().unwrap(),
            name: "X".into(),
            currency: "USD".parse().unwrap(),
            charge,
            pricing,
            unit: None,
            tax_codes: vec![],
        }
    }

    #[test]
    fn malformed_prices_are_rejected_with_reasons() {
        let monthly = ChargeType::Recurring { interval: PlanInterval::Monthly };
        let bad = [
            ChargeModel::PerUnit { unit_amount: dec("-1") },
            ChargeModel::Graduated { tiers: vec![] },
            ChargeModel::Graduated { tiers: vec![tier(Some(10), "1", "0")] },
            ChargeModel::Volume { tiers: vec![tier(None, "1", "0"), tier(None, "1", "0")] },
            ChargeModel::Volume {
                tiers: vec![tier(Some(10), "1", "0"), tier(Some(10), "1", "0"), tier(None, "1", "0")],
            },
            ChargeModel::Overage { included: 10, unit_amount: dec("1") },
        ];
        for model in bad {
            assert!(price(monthly.clone(), model.clone()).parse().is_err(), "{model:?}");
        }
        let usage = ChargeType::Usage { metric: "bandwidth_gb".parse().unwrap() };
        assert!(price(usage, ChargeModel::Overage { included: 10, unit_amount: dec("1") }).parse().is_ok());
    }
}
