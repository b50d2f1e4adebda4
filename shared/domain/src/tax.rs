//! Taxes on the bills this system issues (contract accounts): rates as data, which rates a line
//! takes, and the invoice's tax per rate.
//!
//! - **Rates** ([`TaxRate`]): a code, a name, a jurisdiction, inclusive or exclusive, and a rate
//!   per validity range (a rate change is a new range, so bills of earlier dates keep theirs). The
//!   rate used is the one valid on the bill's **tax point**, its bill date.
//! - **Which codes** a line takes: the first level that names any, most specific first (Lago's
//!   precedence; levels are never added together): the line's price, the contract subscription,
//!   the account, the seller's default. Several codes at one level apply side by side (state and
//!   city), their rates summed, never compounded.
//! - **Computation** (EN 16931 BR-CO-17, Lago's invoice-level rounding): each line's tax is kept
//!   unrounded, summed per (code, rate) group, and rounded once per group in the currency's
//!   exponent, half away from zero. Exclusive: tax = net × rate. Inclusive (the line's amount
//!   includes tax): tax = gross × rate / (100 + the line's summed rates). The invoice's subtotal is
//!   the lines net of tax, so subtotal + tax = total exactly.
//! - **Exemption** on the account (valid on the tax point) and **EU B2B reverse charge** (the
//!   customer's VAT number valid by format and checksum, in another EU country than the seller's)
//!   give one 0 % group over the whole bill and say so on it.
//! - Each line keeps a snapshot of what it was taxed at ([`AppliedTax`]), and the invoice its
//!   groups ([`TaxGroup`]): a later rate change never alters an issued bill. Credit notes reverse
//!   tax in proportion, at the original bill's groups ([`reverse`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Errors, FieldError, Result};
use crate::invoice::InvoiceLine;
use crate::money::{Currency, Money};
use crate::text;

/// A tax rate's code (`us_il_state`, `de_vat_standard`): lowercase letters, digits, `_` and `-`,
/// 1 to 64. `exempt` and `reverse_charge` name the groups this module makes itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, example = "us_il_state"))]
pub struct TaxCode(String);

impl TaxCode {
    pub const EXEMPT: &'static str = "exempt";
    pub const REVERSE_CHARGE: &'static str = "reverse_charge";

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What a card processor's tax rate is kept under: `stripe:txr_…`.
    pub const PROCESSOR_PREFIX: &'static str = "stripe:";

    /// One of the codes the bills' own groups use (`exempt`, `reverse_charge`, a processor's
    /// rate): never input.
    pub fn is_reserved(&self) -> bool {
        self.0 == Self::EXEMPT || self.0 == Self::REVERSE_CHARGE || self.processor_rate().is_some()
    }

    /// The code of the card processor's tax rate `id` (`txr_…`: letters, digits and `_`).
    pub fn processor(id: &str) -> Option<Self> {
        let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        ok.then(|| Self(format!("{}{id}", Self::PROCESSOR_PREFIX)))
    }

    /// The processor's rate id, for a code made by [`TaxCode::processor`].
    pub fn processor_rate(&self) -> Option<&str> {
        self.0.strip_prefix(Self::PROCESSOR_PREFIX)
    }

    fn reserved(name: &str) -> Self {
        Self(name.to_owned())
    }
}

impl FromStr for TaxCode {
    type Err = FieldError;
    fn from_str(s: &str) -> std::result::Result<Self, FieldError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok {
            return Err(FieldError::new("", "a tax code must be 1 to 64 lowercase letters, digits, `_` or `-`"));
        }
        if s == Self::EXEMPT || s == Self::REVERSE_CHARGE {
            return Err(FieldError::new("", format!("`{s}` is reserved for the bills' own tax groups")));
        }
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for TaxCode {
    type Error = FieldError;
    fn try_from(s: String) -> std::result::Result<Self, FieldError> {
        // Stored snapshots may carry the reserved codes; only input is refused them (`parse_codes`).
        if s == Self::EXEMPT || s == Self::REVERSE_CHARGE {
            return Ok(Self(s));
        }
        match s.strip_prefix(Self::PROCESSOR_PREFIX) {
            Some(id) => Self::processor(id).ok_or_else(|| FieldError::new("", "not a processor's tax rate id")),
            None => s.parse(),
        }
    }
}

impl From<TaxCode> for String {
    fn from(c: TaxCode) -> String {
        c.0
    }
}

impl fmt::Display for TaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks one level's codes as input: at most [`MAX_CODES`], none reserved, none twice.
pub fn check_list(codes: &[TaxCode]) -> std::result::Result<(), FieldError> {
    if codes.len() > MAX_CODES {
        return Err(FieldError::new("", format!("at most {MAX_CODES} tax codes")));
    }
    for (i, code) in codes.iter().enumerate() {
        if code.is_reserved() {
            return Err(FieldError::new(format!("[{i}]"), format!("`{code}` is reserved for the bills' own groups")));
        }
        if codes[..i].contains(code) {
            return Err(FieldError::new(format!("[{i}]"), format!("`{code}` is listed twice")));
        }
    }
    Ok(())
}

/// Parses one level's codes given as input: each well-formed, then [`check_list`].
pub fn parse_codes(raw: &[String]) -> std::result::Result<Vec<TaxCode>, FieldError> {
    let codes = raw
        .iter()
        .enumerate()
        .map(|(i, r)| r.parse::<TaxCode>().map_err(|e| e.under(&format!("[{i}]"))))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    check_list(&codes)?;
    Ok(codes)
}

/// Checks that one level's codes (already through [`check_list`]) are defined and share one
/// mode; `field` names them in errors.
pub fn check_codes(codes: &[TaxCode], rates: &BTreeMap<TaxCode, TaxRate>, field: &str) -> Result<()> {
    let mut errors = Errors::default();
    let mut modes = std::collections::BTreeSet::new();
    for (i, c) in codes.iter().enumerate() {
        match rates.get(c) {
            None => errors.push(FieldError::new(
                format!("{field}[{i}]"),
                format!("no tax rate `{c}`: define it first (PUT /v1/ops/tax-rates/{c})"),
            )),
            Some(r) => {
                modes.insert(r.inclusive);
            }
        }
    }
    if modes.len() > 1 {
        errors.push(FieldError::new(field, "mixes inclusive and exclusive rates: a line takes one mode"));
    }
    errors.finish()
}

/// The most tax codes one level may name (state, county, city, district).
pub const MAX_CODES: usize = 4;

/// A percentage rate, 0 to 100 with at most 4 decimals (`8.25`, `19`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, example = "8.25"))]
pub struct Percent(Decimal);

impl Percent {
    pub const ZERO: Self = Self(Decimal::ZERO);

    pub fn get(self) -> Decimal {
        self.0
    }
}

impl FromStr for Percent {
    type Err = FieldError;
    fn from_str(s: &str) -> std::result::Result<Self, FieldError> {
        let d: Decimal =
            s.trim().parse().map_err(|_| FieldError::new("", "must be a decimal percentage, e.g. \"8.25\""))?;
        if d.is_sign_negative() && !d.is_zero() || d > Decimal::ONE_HUNDRED {
            return Err(FieldError::new("", "must be 0 to 100 (a percentage)"));
        }
        if d.normalize().scale() > 4 {
            return Err(FieldError::new("", "must have at most 4 decimals"));
        }
        Ok(Self(d.normalize()))
    }
}

impl TryFrom<String> for Percent {
    type Error = FieldError;
    fn try_from(s: String) -> std::result::Result<Self, FieldError> {
        s.parse()
    }
}

impl From<Percent> for String {
    fn from(p: Percent) -> String {
        p.0.to_string()
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// A rate in force from `valid_from` until `valid_to` (exclusive; open when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RatePeriod {
    pub rate: Percent,
    pub valid_from: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<NaiveDate>,
}

impl RatePeriod {
    fn contains(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && self.valid_to.is_none_or(|to| date < to)
    }
}

/// A tax the seller charges, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaxRate {
    pub code: TaxCode,
    /// What the bill calls it ("Illinois sales tax", "VAT").
    pub name: String,
    /// Where it is owed ("US-IL", "DE").
    pub jurisdiction: String,
    /// Prices taxed by it include the tax (it is carved out of the line); otherwise it is added.
    /// Fixed once the code exists, as Stripe fixes it on a tax rate.
    pub inclusive: bool,
    /// In date order, not overlapping.
    pub rates: Vec<RatePeriod>,
}

impl TaxRate {
    pub const MAX_PERIODS: usize = 50;

    /// Checks a rate read from outside: a name and jurisdiction, 1 to 50 periods in date order,
    /// each ending after it starts, none overlapping the next.
    pub fn parse(self) -> Result<Self> {
        let mut errors = Errors::default();
        let name = errors.take("name", text::bounded(&self.name, 1, 100));
        let jurisdiction = errors.take("jurisdiction", text::bounded(&self.jurisdiction, 1, 100));
        if self.rates.is_empty() || self.rates.len() > Self::MAX_PERIODS {
            errors.push(FieldError::new("rates", format!("must list 1 to {} periods", Self::MAX_PERIODS)));
        }
        for (i, p) in self.rates.iter().enumerate() {
            if p.valid_to.is_some_and(|to| to <= p.valid_from) {
                errors.push(FieldError::new(format!("rates[{i}].valid_to"), "must be after valid_from"));
            }
            if let Some(next) = self.rates.get(i + 1) {
                match p.valid_to {
                    None => errors.push(FieldError::new(
                        format!("rates[{i}].valid_to"),
                        "only the last period may be open-ended",
                    )),
                    Some(to) if to > next.valid_from => errors.push(FieldError::new(
                        format!("rates[{}].valid_from", i + 1),
                        "periods must be in date order and must not overlap",
                    )),
                    Some(_) => {}
                }
            }
        }
        errors.finish()?;
        Ok(Self { name: name.expect("checked"), jurisdiction: jurisdiction.expect("checked"), ..self })
    }

    /// The rate in force on `date`, if any.
    pub fn rate_on(&self, date: NaiveDate) -> Option<Percent> {
        self.rates.iter().find(|p| p.contains(date)).map(|p| p.rate)
    }
}

/// A customer's VAT identification number: the country prefix and number, checked by format and
/// checksum (`vat_id_validator`; offline: a number that passes may still be unregistered, which
/// only VIES can tell). Kept as written without spaces, dots or dashes: `DE129273398`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, example = "DE129273398"))]
pub struct VatId(String);

/// The EU member states, by the ISO 3166-1 code (VAT numbers of Greece start `EL`).
const EU: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV",
    "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// Whether `country` (ISO 3166-1 alpha-2) is an EU member state.
pub fn in_eu(country: &str) -> bool {
    EU.contains(&country)
}

impl VatId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ISO 3166-1 country of the number (`EL` numbers are Greece's, `GR`).
    pub fn country(&self) -> &str {
        match &self.0[..2] {
            "EL" => "GR",
            other => other,
        }
    }
}

impl FromStr for VatId {
    type Err = FieldError;
    fn from_str(s: &str) -> std::result::Result<Self, FieldError> {
        let clean = vat_id_validator::remove_extra_chars(s);
        let prefix = clean.get(..2).filter(|p| p.bytes().all(|b| b.is_ascii_uppercase()));
        let Some(prefix) = prefix else {
            return Err(FieldError::new("", "must start with the two-letter country prefix (DE, FR, EL, …)"));
        };
        let check = vat_id_validator::check_vat_by_country(&clean, prefix);
        if !check.is_supported_country {
            return Err(FieldError::new("", format!("VAT numbers of `{prefix}` cannot be checked here")));
        }
        if !check.is_valid_format {
            return Err(FieldError::new("", format!("is not in the format of a {prefix} VAT number")));
        }
        if !check.is_valid {
            return Err(FieldError::new("", "fails its check digit: is it mistyped?"));
        }
        Ok(Self(clean))
    }
}

impl TryFrom<String> for VatId {
    type Error = FieldError;
    fn try_from(s: String) -> std::result::Result<Self, FieldError> {
        s.parse()
    }
}

impl From<VatId> for String {
    fn from(v: VatId) -> String {
        v.0
    }
}

impl fmt::Display for VatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The seller's tax settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SellerTax {
    /// Where the seller is established (ISO 3166-1 alpha-2): decides EU reverse charge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// The seller's own VAT number, printed on every bill when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat_id: Option<VatId>,
    /// The codes a line takes when neither its price, its contract nor its account names any.
    #[serde(default)]
    pub default_codes: Vec<TaxCode>,
    /// Card accounts' tax is worked out by the card processor (Stripe Tax): their Checkout
    /// collects the address and tax ID it needs, and their subscriptions' invoices carry it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub card_automatic_tax: bool,
}

/// A customer's tax exemption (a resale or non-profit certificate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaxExemption {
    /// Why ("Resale certificate", "Non-profit 501(c)(3)").
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
    /// The last day it is valid; bills after it are taxed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
}

impl TaxExemption {
    pub fn parse(self) -> Result<Self> {
        let mut errors = Errors::default();
        let reason = errors.take("reason", text::bounded(&self.reason, 1, 200));
        let certificate_id = match self.certificate_id.as_deref() {
            None => None,
            Some(c) => errors.take("certificate_id", text::bounded(c, 1, 100)),
        };
        errors.finish()?;
        Ok(Self { reason: reason.expect("checked"), certificate_id, ..self })
    }

    fn covers(&self, date: NaiveDate) -> bool {
        self.valid_until.is_none_or(|last| date <= last)
    }
}

/// A customer account's tax profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaxProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat_id: Option<VatId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exemption: Option<TaxExemption>,
    /// The account level of the precedence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<TaxCode>,
}

/// What a line was taxed at: a snapshot of the rate on the bill's tax point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppliedTax {
    pub code: TaxCode,
    pub name: String,
    pub jurisdiction: String,
    pub rate: Percent,
    pub inclusive: bool,
}

/// One (code, rate) group of an invoice: the lines taxed at it, their base net of tax, and the
/// tax, rounded once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaxGroup {
    pub code: TaxCode,
    pub name: String,
    pub jurisdiction: String,
    pub rate: Percent,
    pub inclusive: bool,
    pub taxable_base: Money,
    pub amount: Money,
}

/// Why a bill carries no tax although rates would apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TaxTreatment {
    /// "Customer is tax exempt".
    Exempt {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        certificate_id: Option<String>,
    },
    /// EU B2B: "Reverse charge", the customer accounts for the VAT. Both VAT numbers are printed.
    ReverseCharge,
}

impl TaxTreatment {
    /// The sentence the bill prints.
    pub fn notice(&self) -> String {
        match self {
            Self::Exempt { reason, certificate_id: Some(c) } => {
                format!("Customer is tax exempt: {reason} (certificate {c}).")
            }
            Self::Exempt { reason, certificate_id: None } => format!("Customer is tax exempt: {reason}."),
            Self::ReverseCharge => "Reverse charge: VAT to be accounted for by the customer \
                (Council Directive 2006/112/EC, Art. 196)."
                .to_owned(),
        }
    }
}

/// The tax of one invoice: its groups, what made it 0 % if anything did, the VAT numbers printed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceTax {
    pub groups: Vec<TaxGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treatment: Option<TaxTreatment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_vat_id: Option<VatId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_vat_id: Option<VatId>,
}

impl InvoiceTax {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
            && self.treatment.is_none()
            && self.seller_vat_id.is_none()
            && self.customer_vat_id.is_none()
    }

    /// The invoice's tax: the groups' sum.
    pub fn total(&self, currency: Currency) -> Money {
        Money::new(self.groups.iter().map(|g| g.amount.amount()).sum(), currency)
    }

    /// What a bill says of its tax besides the groups: the exemption or reverse charge, and the
    /// VAT numbers (the mail, the PDF and the portal print these same sentences).
    pub fn notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self.treatment.iter().map(TaxTreatment::notice).collect();
        notes.extend(self.seller_vat_id.iter().map(|v| format!("Our VAT number: {v}")));
        notes.extend(self.customer_vat_id.iter().map(|v| format!("Your VAT number: {v}")));
        notes
    }

    /// The tax carved out of inclusive lines (part of their amounts already).
    pub fn included(&self, currency: Currency) -> Money {
        Money::new(self.groups.iter().filter(|g| g.inclusive).map(|g| g.amount.amount()).sum(), currency)
    }
}

/// Why a bill's tax could not be worked out: the seller's tax data is incomplete. The bill is not
/// made until it is fixed (a bill without its tax cannot be corrected but by a credit note).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxError {
    #[error("tax code `{0}` is not defined")]
    UnknownCode(TaxCode),
    #[error("tax code `{0}` has no rate in force on {1}")]
    NoRateOn(TaxCode, NaiveDate),
    #[error("the tax codes of line `{0}` mix inclusive and exclusive rates")]
    MixedModes(String),
}

/// A bill's lines with their tax worked out ([`apply`]): what a draft is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taxed {
    pub lines: Vec<InvoiceLine>,
    pub tax: InvoiceTax,
}

/// The seller's tax data a bill run reads once: every rate, and the seller's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaxSetup {
    pub rates: BTreeMap<TaxCode, TaxRate>,
    pub seller: SellerTax,
}

/// Everything the tax of one bill depends on.
#[derive(Debug, Clone, Copy)]
pub struct TaxContext<'a> {
    pub rates: &'a BTreeMap<TaxCode, TaxRate>,
    pub seller: &'a SellerTax,
    pub customer: &'a TaxProfile,
    /// The contract subscription level of the precedence.
    pub contract_codes: &'a [TaxCode],
}

/// The first level that names any code: price, contract subscription, account, seller default.
pub fn resolve<'a>(price: &'a [TaxCode], ctx: &TaxContext<'a>) -> &'a [TaxCode] {
    [price, ctx.contract_codes, &ctx.customer.codes, &ctx.seller.default_codes]
        .into_iter()
        .find(|level| !level.is_empty())
        .unwrap_or(&[])
}

/// What zeroes the whole bill's tax on `tax_point`, if anything: an exemption in force, else EU
/// reverse charge (seller in the EU with a VAT number, the customer's valid VAT number of another
/// member state).
fn treatment(ctx: &TaxContext<'_>, tax_point: NaiveDate) -> Option<TaxTreatment> {
    if let Some(ex) = ctx.customer.exemption.as_ref().filter(|e| e.covers(tax_point)) {
        return Some(TaxTreatment::Exempt { reason: ex.reason.clone(), certificate_id: ex.certificate_id.clone() });
    }
    let seller_country = ctx.seller.country.as_deref()?;
    let (Some(_), Some(customer)) = (&ctx.seller.vat_id, &ctx.customer.vat_id) else { return None };
    let cross_border = in_eu(seller_country) && in_eu(customer.country()) && customer.country() != seller_country;
    cross_border.then_some(TaxTreatment::ReverseCharge)
}

/// Taxes `lines` (amounts already rounded, as rating leaves them) for a bill on `tax_point`:
/// `price_codes[i]` are line i's price-level codes. Sets each line's snapshot and returns the groups.
pub fn apply(
    lines: &mut [InvoiceLine],
    price_codes: &[&[TaxCode]],
    ctx: &TaxContext<'_>,
    tax_point: NaiveDate,
    currency: Currency,
) -> std::result::Result<InvoiceTax, TaxError> {
    debug_assert_eq!(lines.len(), price_codes.len());
    let seller_vat_id = ctx.seller.vat_id.clone();
    if let Some(t) = treatment(ctx, tax_point) {
        let (code, name, jurisdiction) = match t {
            TaxTreatment::Exempt { .. } => (TaxCode::EXEMPT, "Tax exempt", ""),
            TaxTreatment::ReverseCharge => (
                TaxCode::REVERSE_CHARGE,
                "VAT reverse charge",
                ctx.customer.vat_id.as_ref().map_or("", |v| v.country()),
            ),
        };
        let applied = AppliedTax {
            code: TaxCode::reserved(code),
            name: name.to_owned(),
            jurisdiction: jurisdiction.to_owned(),
            rate: Percent::ZERO,
            inclusive: false,
        };
        let base: Decimal = lines.iter().map(|l| l.amount.amount()).sum();
        for line in lines.iter_mut() {
            line.taxes = vec![applied.clone()];
        }
        let groups = if lines.is_empty() {
            vec![]
        } else {
            vec![TaxGroup {
                code: applied.code,
                name: applied.name,
                jurisdiction: applied.jurisdiction,
                rate: Percent::ZERO,
                inclusive: false,
                taxable_base: Money::new(base, currency).rounded(),
                amount: Money::zero(currency).rounded(),
            }]
        };
        let customer_vat_id = ctx.customer.vat_id.clone();
        return Ok(InvoiceTax { groups, treatment: Some(t), seller_vat_id, customer_vat_id });
    }

    // (code, rate) → (snapshot, unrounded base, unrounded tax), in first-seen order by code.
    let mut groups: BTreeMap<(TaxCode, Percent), (AppliedTax, Decimal, Decimal)> = BTreeMap::new();
    for (line, price) in lines.iter_mut().zip(price_codes) {
        let codes = resolve(price, ctx);
        let mut applied = Vec::with_capacity(codes.len());
        for code in codes {
            let rate = ctx.rates.get(code).ok_or_else(|| TaxError::UnknownCode(code.clone()))?;
            let pct = rate.rate_on(tax_point).ok_or_else(|| TaxError::NoRateOn(code.clone(), tax_point))?;
            applied.push(AppliedTax {
                code: code.clone(),
                name: rate.name.clone(),
                jurisdiction: rate.jurisdiction.clone(),
                rate: pct,
                inclusive: rate.inclusive,
            });
        }
        if applied.windows(2).any(|w| w[0].inclusive != w[1].inclusive) {
            return Err(TaxError::MixedModes(line.id.clone()));
        }
        let amount = line.amount.amount();
        let summed: Decimal = applied.iter().map(|a| a.rate.get()).sum();
        let inclusive = applied.first().is_some_and(|a| a.inclusive);
        // The line's net: its amount, less the tax it includes.
        let net = if inclusive { amount * Decimal::ONE_HUNDRED / (Decimal::ONE_HUNDRED + summed) } else { amount };
        for a in &applied {
            let tax = net * a.rate.get() / Decimal::ONE_HUNDRED;
            let entry =
                groups.entry((a.code.clone(), a.rate)).or_insert_with(|| (a.clone(), Decimal::ZERO, Decimal::ZERO));
            entry.1 += net;
            entry.2 += tax;
        }
        line.taxes = applied;
    }
    let groups = groups
        .into_values()
        .map(|(a, base, tax)| TaxGroup {
            code: a.code,
            name: a.name,
            jurisdiction: a.jurisdiction,
            rate: a.rate,
            inclusive: a.inclusive,
            taxable_base: Money::new(base, currency).rounded(),
            amount: Money::new(tax, currency).rounded(),
        })
        .collect();
    Ok(InvoiceTax { groups, treatment: None, seller_vat_id, customer_vat_id: ctx.customer.vat_id.clone() })
}

/// The bill's figures from its rounded lines and its tax: (subtotal net of tax, tax, total), with
/// subtotal + tax = total exactly.
pub fn totals(lines: &[InvoiceLine], tax: &InvoiceTax, currency: Currency) -> (Money, Money, Money) {
    let gross: Decimal = lines.iter().map(|l| l.amount.amount()).sum();
    let tax_total = tax.total(currency).rounded();
    let subtotal = Money::new(gross - tax.included(currency).amount(), currency).rounded();
    let total = Money::new(subtotal.amount() + tax_total.amount(), currency).rounded();
    (subtotal, tax_total, total)
}

/// The tax a credit note of `amount` (tax included) against a bill of `total` with `groups`
/// reverses: each group's base and tax in the same proportion, at the bill's own rates, each
/// rounded; the credit note's net is `amount` less that tax, so net + tax = amount exactly.
/// Returns (net, reversed groups).
pub fn reverse(amount: Money, total: Money, groups: &[TaxGroup]) -> (Money, Vec<TaxGroup>) {
    let currency = amount.currency();
    if total.amount().is_zero() || groups.is_empty() {
        return (amount, vec![]);
    }
    let share = amount.amount() / total.amount();
    let reversed: Vec<TaxGroup> = groups
        .iter()
        .map(|g| TaxGroup {
            taxable_base: Money::new(g.taxable_base.amount() * share, currency).rounded(),
            amount: Money::new(g.amount.amount() * share, currency).rounded(),
            ..g.clone()
        })
        .collect();
    let tax: Decimal = reversed.iter().map(|g| g.amount.amount()).sum();
    (Money::new(amount.amount() - tax, currency).rounded(), reversed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::{ChargeKind, ServicePeriod};
    use chrono::NaiveTime;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn code(s: &str) -> TaxCode {
        s.parse().unwrap()
    }

    fn rate(c: &str, pct: &str, inclusive: bool) -> TaxRate {
        TaxRate {
            code: code(c),
            name: c.to_uppercase(),
            jurisdiction: "X".into(),
            inclusive,
            rates: vec![RatePeriod { rate: pct.parse().unwrap(), valid_from: d("2020-01-01"), valid_to: None }],
        }
    }

    fn line(id: &str, amount: Decimal, currency: Currency) -> InvoiceLine {
        let t = d("2026-11-01").and_time(NaiveTime::MIN).and_utc();
        InvoiceLine {
            id: id.into(),
            description: id.into(),
            kind: ChargeKind::Recurring,
            group: "G".into(),
            product: None,
            item: None,
            quantity: Some(1),
            unit_amount: None,
            amount: Money::new(amount, currency).rounded(),
            period: ServicePeriod { start: t, end: t, partial: false },
            taxes: vec![],
        }
    }

    fn usd() -> Currency {
        Currency::USD
    }

    fn eur() -> Currency {
        "EUR".parse().unwrap()
    }

    fn rates(list: Vec<TaxRate>) -> BTreeMap<TaxCode, TaxRate> {
        list.into_iter().map(|r| (r.code.clone(), r)).collect()
    }

    #[test]
    fn precedence_price_then_contract_then_account_then_seller() {
        let (p, c, a, s) = (vec![code("p")], vec![code("c")], vec![code("a")], vec![code("s")]);
        let seller = SellerTax { default_codes: s.clone(), ..Default::default() };
        let customer = TaxProfile { codes: a.clone(), ..Default::default() };
        let table = BTreeMap::new();
        let ctx = TaxContext { rates: &table, seller: &seller, customer: &customer, contract_codes: &c };
        assert_eq!(resolve(&p, &ctx), &p[..]);
        assert_eq!(resolve(&[], &ctx), &c[..]);
        let ctx = TaxContext { contract_codes: &[], ..ctx };
        assert_eq!(resolve(&[], &ctx), &a[..]);
        let none = TaxProfile::default();
        let ctx = TaxContext { customer: &none, ..ctx };
        assert_eq!(resolve(&[], &ctx), &s[..]);
    }

    /// Rounded once per group, not per line: three lines of 0.10 at 5 % are 0.015 of tax (0.02),
    /// where rounding each line (0.01 × 3 = 0.03, or 0.005 → 0.01 each) drifts.
    #[test]
    fn rounded_once_per_group() {
        let table = rates(vec![rate("st", "5", false)]);
        let seller = SellerTax { default_codes: vec![code("st")], ..Default::default() };
        let customer = TaxProfile::default();
        let ctx = TaxContext { rates: &table, seller: &seller, customer: &customer, contract_codes: &[] };
        let mut lines: Vec<_> = (0..3).map(|i| line(&format!("l{i}"), "0.10".parse().unwrap(), usd())).collect();
        let tax = apply(&mut lines, &[&[], &[], &[]], &ctx, d("2026-11-01"), usd()).unwrap();
        assert_eq!(tax.groups.len(), 1);
        assert_eq!(tax.groups[0].amount.to_string(), "0.02 USD");
        assert_eq!(tax.groups[0].taxable_base.to_string(), "0.30 USD");
        let (sub, t, total) = totals(&lines, &tax, usd());
        assert_eq!(
            (sub.to_string(), t.to_string(), total.to_string()),
            ("0.30 USD".into(), "0.02 USD".into(), "0.32 USD".into())
        );
        assert_eq!(lines[0].taxes[0].rate.to_string(), "5%");
    }

    /// The research's worked example: TX 8.25 % on 462.40 is 38.148 → 38.15.
    #[test]
    fn state_and_city_side_by_side_and_a_zero_rated_price() {
        let table = rates(vec![rate("state", "6.25", false), rate("city", "2", false), rate("space", "0", false)]);
        let seller = SellerTax { default_codes: vec![code("state"), code("city")], ..Default::default() };
        let customer = TaxProfile::default();
        let ctx = TaxContext { rates: &table, seller: &seller, customer: &customer, contract_codes: &[] };
        let mut lines =
            vec![line("power", "462.40".parse().unwrap(), usd()), line("rack", "2000".parse().unwrap(), usd())];
        let space = [code("space")];
        let tax = apply(&mut lines, &[&[], &space], &ctx, d("2026-11-01"), usd()).unwrap();
        let got: Vec<_> =
            tax.groups.iter().map(|g| (g.code.as_str(), g.taxable_base.to_string(), g.amount.to_string())).collect();
        assert_eq!(
            got,
            vec![
                ("city", "462.40 USD".into(), "9.25 USD".into()),
                ("space", "2000.00 USD".into(), "0.00 USD".into()),
                ("state", "462.40 USD".into(), "28.90 USD".into()),
            ]
        );
        let (sub, t, total) = totals(&lines, &tax, usd());
        assert_eq!(
            (sub.amount(), t.amount(), total.amount()),
            ("2462.40".parse().unwrap(), "38.15".parse().unwrap(), "2500.55".parse().unwrap())
        );
    }

    #[test]
    fn inclusive_tax_is_carved_out() {
        let table = rates(vec![rate("vat", "19", true)]);
        let seller = SellerTax { default_codes: vec![code("vat")], ..Default::default() };
        let customer = TaxProfile::default();
        let ctx = TaxContext { rates: &table, seller: &seller, customer: &customer, contract_codes: &[] };
        let mut lines = vec![line("a", "119.00".parse().unwrap(), eur())];
        let tax = apply(&mut lines, &[&[]], &ctx, d("2026-11-01"), eur()).unwrap();
        assert_eq!(
            (tax.groups[0].taxable_base.amount(), tax.groups[0].amount.amount()),
            ("100.00".parse().unwrap(), "19.00".parse().unwrap())
        );
        let (sub, t, total) = totals(&lines, &tax, eur());
        assert_eq!(
            (sub.amount(), t.amount(), total.amount()),
            ("100.00".parse().unwrap(), "19.00".parse().unwrap(), "119.00".parse().unwrap())
        );
    }

    #[test]
    fn the_rate_in_force_on_the_tax_point() {
        let mut r = rate("vat", "16", false);
        r.rates = vec![
            RatePeriod { rate: "19".parse().unwrap(), valid_from: d("2020-01-01"), valid_to: Some(d("2020-07-01")) },
            RatePeriod { rate: "16".parse().unwrap(), valid_from: d("2020-07-01"), valid_to: Some(d("2021-01-01")) },
            RatePeriod { rate: "19".parse().unwrap(), valid_from: d("2021-01-01"), valid_to: None },
        ];
        let r = r.parse().unwrap();
        assert_eq!(r.rate_on(d("2020-06-30")).unwrap().to_string(), "19%");
        assert_eq!(r.rate_on(d("2020-07-01")).unwrap().to_string(), "16%");
        assert_eq!(r.rate_on(d("2021-01-01")).unwrap().to_string(), "19%");
        assert_eq!(r.rate_on(d("2019-12-31")), None);
        let table = rates(vec![r]);
        let seller = SellerTax { default_codes: vec![code("vat")], ..Default::default() };
        let customer = TaxProfile::default();
        let ctx = TaxContext { rates: &table, seller: &seller, customer: &customer, contract_codes: &[] };
        let mut lines = vec![line("a", "10".parse().unwrap(), eur())];
        assert_eq!(
            apply(&mut lines, &[&[]], &ctx, d("2019-06-01"), eur()),
            Err(TaxError::NoRateOn(code("vat"), d("2019-06-01")))
        );
    }

    #[test]
    fn rate_periods_and_codes_are_checked() {
        let mut r = rate("vat", "19", false);
        r.rates.push(RatePeriod { rate: "20".parse().unwrap(), valid_from: d("2027-01-01"), valid_to: None });
        assert!(r.clone().parse().is_err(), "the first period is open-ended yet another follows");
        r.rates[0].valid_to = Some(d("2027-02-01"));
        assert!(r.clone().parse().is_err(), "overlap");
        r.rates[0].valid_to = Some(d("2027-01-01"));
        assert!(r.parse().is_ok());
        for bad in ["-1", "100.5", "8.123456", "x"] {
            assert!(bad.parse::<Percent>().is_err(), "{bad}");
        }
        assert!("exempt".parse::<TaxCode>().is_err(), "reserved");
        assert_eq!(parse_codes(&["a".into(), "a".into()]).unwrap_err().under("codes").field, "codes[1]");
        assert_eq!(parse_codes(&["a".into(), "B".into()]).unwrap_err().under("codes").field, "codes[1]");
        assert!(check_list(&[TaxCode::reserved(TaxCode::EXEMPT)]).is_err(), "a stored snapshot's code is no input");
        let unknown = TaxContext {
            rates: &BTreeMap::new(),
            seller: &SellerTax { default_codes: vec![code("nope")], ..Default::default() },
            customer: &TaxProfile::default(),
            contract_codes: &[],
        };
        let mut lines = vec![line("a", "1".parse().unwrap(), usd())];
        assert_eq!(
            apply(&mut lines, &[&[]], &unknown, d("2026-01-01"), usd()),
            Err(TaxError::UnknownCode(code("nope")))
        );
        let table = rates(vec![rate("inc", "10", true), rate("exc", "5", false)]);
        let both = [code("inc"), code("exc")];
        let ctx = TaxContext { rates: &table, ..unknown };
        assert!(matches!(apply(&mut lines, &[&both], &ctx, d("2026-01-01"), usd()), Err(TaxError::MixedModes(_))));
    }

    #[test]
    fn vat_numbers_are_checked_by_checksum() {
        let ok: VatId = "DE 129 273 398".parse().unwrap();
        assert_eq!((ok.as_str(), ok.country()), ("DE129273398", "DE"));
        assert!("DE129273399".parse::<VatId>().is_err(), "check digit");
        assert!("DE12927339".parse::<VatId>().is_err(), "format");
        assert!("129273398".parse::<VatId>().is_err(), "no prefix");
        assert_eq!("EL094259216".parse::<VatId>().unwrap().country(), "GR");
    }

    fn eu_ctx<'a>(
        seller: &'a SellerTax,
        customer: &'a TaxProfile,
        table: &'a BTreeMap<TaxCode, TaxRate>,
    ) -> TaxContext<'a> {
        TaxContext { rates: table, seller, customer, contract_codes: &[] }
    }

    #[test]
    fn a_processors_rate_is_kept_under_its_own_code_never_taken_as_input() {
        let c = TaxCode::processor("txr_1QxY9z").unwrap();
        assert_eq!((c.as_str(), c.processor_rate()), ("stripe:txr_1QxY9z", Some("txr_1QxY9z")));
        assert!(c.is_reserved());
        let stored: TaxCode = serde_json::from_value(serde_json::json!("stripe:txr_1QxY9z")).unwrap();
        assert_eq!(stored, c, "stored snapshots read back");
        assert!("stripe:txr_1QxY9z".parse::<TaxCode>().is_err(), "not input");
        assert!(TaxCode::processor("txr bad").is_none());
        assert!(serde_json::from_value::<TaxCode>(serde_json::json!("stripe:txr/../x")).is_err());
        assert!(code("us_il_state").processor_rate().is_none());
    }

    #[test]
    fn eu_b2b_reverse_charge_across_borders_only() {
        let table = rates(vec![rate("de_vat", "19", false)]);
        let seller = SellerTax {
            country: Some("FR".into()),
            vat_id: Some("FR40303265045".parse().unwrap()),
            default_codes: vec![code("de_vat")],
            card_automatic_tax: false,
        };
        let german = TaxProfile { vat_id: Some("DE129273398".parse().unwrap()), ..Default::default() };
        let mut lines = vec![line("a", "100".parse().unwrap(), eur())];
        let tax = apply(&mut lines, &[&[]], &eu_ctx(&seller, &german, &table), d("2026-11-01"), eur()).unwrap();
        assert_eq!(tax.treatment, Some(TaxTreatment::ReverseCharge));
        assert_eq!(tax.groups[0].code.as_str(), TaxCode::REVERSE_CHARGE);
        assert!(tax.groups[0].amount.is_zero());
        assert_eq!(tax.customer_vat_id.as_ref().unwrap().as_str(), "DE129273398");
        assert_eq!(tax.seller_vat_id.as_ref().unwrap().as_str(), "FR40303265045");
        // The same country: domestic VAT.
        let domestic = SellerTax { country: Some("DE".into()), vat_id: german.vat_id.clone(), ..seller.clone() };
        let tax = apply(&mut lines, &[&[]], &eu_ctx(&domestic, &german, &table), d("2026-11-01"), eur()).unwrap();
        assert_eq!((tax.treatment, tax.groups[0].amount.amount()), (None, "19.00".parse().unwrap()));
        // A seller outside the EU: no reverse charge.
        let us = SellerTax { country: Some("US".into()), ..seller };
        let tax = apply(&mut lines, &[&[]], &eu_ctx(&us, &german, &table), d("2026-11-01"), eur()).unwrap();
        assert_eq!(tax.treatment, None);
    }

    #[test]
    fn an_exemption_in_force_zeroes_tax() {
        let table = rates(vec![rate("st", "8", false)]);
        let seller = SellerTax { default_codes: vec![code("st")], ..Default::default() };
        let exempt = TaxProfile {
            exemption: Some(TaxExemption {
                reason: "Resale".into(),
                certificate_id: Some("RS-1".into()),
                valid_until: Some(d("2026-12-31")),
            }),
            ..Default::default()
        };
        let mut lines = vec![line("a", "100".parse().unwrap(), usd())];
        let tax = apply(&mut lines, &[&[]], &eu_ctx(&seller, &exempt, &table), d("2026-12-31"), usd()).unwrap();
        assert!(matches!(tax.treatment, Some(TaxTreatment::Exempt { .. })));
        assert_eq!(tax.treatment.unwrap().notice(), "Customer is tax exempt: Resale (certificate RS-1).");
        let tax = apply(&mut lines, &[&[]], &eu_ctx(&seller, &exempt, &table), d("2027-01-01"), usd()).unwrap();
        assert_eq!((tax.treatment, tax.groups[0].amount.amount()), (None, "8.00".parse().unwrap()), "expired");
    }

    #[test]
    fn a_full_credit_note_reverses_exactly_the_bills_tax() {
        let g = |c: &str, base: &str, amount: &str| TaxGroup {
            code: code(c),
            name: c.into(),
            jurisdiction: "X".into(),
            rate: "8.25".parse().unwrap(),
            inclusive: false,
            taxable_base: Money::new(base.parse().unwrap(), usd()),
            amount: Money::new(amount.parse().unwrap(), usd()),
        };
        let groups = vec![g("a", "462.40", "38.15"), g("b", "100.00", "8.25")];
        let total = Money::new("608.80".parse().unwrap(), usd());
        let (net, rev) = reverse(total, total, &groups);
        assert_eq!(rev, groups);
        assert_eq!(net.amount(), "562.40".parse::<Decimal>().unwrap());
        // Stripe's refund example: −25 of a 125 bill with 25 % tax returns 5 of tax.
        let groups = vec![TaxGroup { rate: "25".parse().unwrap(), ..g("v", "100.00", "25.00") }];
        let (net, rev) =
            reverse(Money::new("25".parse().unwrap(), usd()), Money::new("125".parse().unwrap(), usd()), &groups);
        assert_eq!((net.amount(), rev[0].amount.amount()), ("20.00".parse().unwrap(), "5.00".parse().unwrap()));
    }

    fn amount() -> impl Strategy<Value = Decimal> {
        (-5_000_000_i64..50_000_000).prop_map(|c| Decimal::new(c, 2))
    }

    fn pct() -> impl Strategy<Value = Percent> {
        (0_i64..=300_000).prop_map(|bp| Percent::from_str(&Decimal::new(bp, 4).to_string()).unwrap())
    }

    proptest! {
        /// subtotal + tax = total exactly, each group's tax is its unrounded sum rounded once
        /// (within half a minor unit), and a credit note's net + tax is its amount: for any lines,
        /// rates and modes, in USD, JPY and KWD.
        #[test]
        fn totals_add_up(
            amounts in proptest::collection::vec(amount(), 1..30),
            rates_in in proptest::collection::vec((pct(), any::<bool>()), 1..4),
            pick in proptest::collection::vec(0_usize..4, 1..30),
            currency in prop_oneof![Just("USD"), Just("JPY"), Just("KWD")],
            share in 1_i64..=100,
        ) {
            let currency: Currency = currency.parse().unwrap();
            let table: BTreeMap<TaxCode, TaxRate> = rates_in
                .iter()
                .enumerate()
                .map(|(i, (p, inc))| {
                    let mut r = rate(&format!("r{i}"), "0", *inc);
                    r.rates[0].rate = *p;
                    (r.code.clone(), r)
                })
                .collect();
            let codes: Vec<Vec<TaxCode>> = (0..amounts.len())
                .map(|i| {
                    let n = pick.get(i).copied().unwrap_or(0) % table.len();
                    vec![code(&format!("r{n}"))]
                })
                .collect();
            let refs: Vec<&[TaxCode]> = codes.iter().map(Vec::as_slice).collect();
            let mut lines: Vec<_> = amounts.iter().enumerate().map(|(i, a)| line(&format!("l{i}"), *a, currency)).collect();
            let seller = SellerTax::default();
            let customer = TaxProfile::default();
            let ctx = TaxContext { rates: &table, seller: &seller, customer: &customer, contract_codes: &[] };
            let tax = apply(&mut lines, &refs, &ctx, d("2026-11-01"), currency).unwrap();
            let (sub, t, total) = totals(&lines, &tax, currency);
            prop_assert_eq!(sub.amount() + t.amount(), total.amount());
            prop_assert_eq!(sub.rounded(), sub);
            let half = Decimal::new(5, currency.exponent() + 1);
            for g in &tax.groups {
                let exact: Decimal = lines
                    .iter()
                    .filter(|l| l.taxes.iter().any(|a| a.code == g.code))
                    .map(|l| {
                        let r = l.taxes[0].rate.get();
                        let net = if l.taxes[0].inclusive { l.amount.amount() * Decimal::ONE_HUNDRED / (Decimal::ONE_HUNDRED + r) } else { l.amount.amount() };
                        net * r / Decimal::ONE_HUNDRED
                    })
                    .sum();
                prop_assert!((g.amount.amount() - exact).abs() <= half, "{} vs {}", g.amount, exact);
            }
            if total.amount() > Decimal::ZERO {
                let credit = Money::new(total.amount() * Decimal::new(share, 2), currency).rounded();
                let (net, rev) = reverse(credit, total, &tax.groups);
                let rev_tax: Decimal = rev.iter().map(|g| g.amount.amount()).sum();
                prop_assert_eq!(net.amount() + rev_tax, credit.amount());
                if share == 100 {
                    prop_assert_eq!(rev, tax.groups.clone());
                }
            }
        }
    }
}
