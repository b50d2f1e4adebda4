//! The account: the customer that is billed, its contact, its address and who else gets its bills.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Errors, FieldError, Result};
use crate::ids::{AccountId, Email};
use crate::money::{Currency, Money};
use crate::text;

/// How the account pays. Customers sign up as `card`; only operators switch an account to
/// `invoice` (contract billing, paid by transfer or check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum BillingMode {
    Card,
    Invoice,
}

/// A phone number in E.164 form (`+15551234567`). Spaces, dots, dashes and parentheses typed by a
/// person are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, pattern = r"^\+[1-9][0-9]{1,14}$"))]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')')).collect();
        let digits = compact.strip_prefix('+').unwrap_or("");
        if digits.len() < 7
            || digits.len() > 15
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(FieldError::new(
                "",
                "must be an international number: + then country code and number, 7 to 15 digits",
            ));
        }
        Ok(Self(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

/// The person the seller talks to about bills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BillingContact {
    pub name: String,
    pub email: Email,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
}

impl BillingContact {
    pub const NAME_MAX: usize = 200;

    /// Parses every field and reports all that are wrong at once.
    pub fn parse(name: &str, email: &str, phone: Option<&str>) -> Result<Self> {
        let mut errs = Errors::default();
        let name = errs.take("name", text::bounded(name, 1, Self::NAME_MAX));
        let email = errs.take("email", email.parse::<Email>());
        let phone = match phone.map(str::trim).filter(|p| !p.is_empty()) {
            None => Some(None),
            Some(p) => errs.take("phone", Phone::parse(p).map(Some)),
        };
        errs.finish()?;
        match (name, email, phone) {
            (Some(name), Some(email), Some(phone)) => Ok(Self { name, email, phone }),
            _ => Err(Error::Corrupt("contact parse lost an error".into())),
        }
    }
}

/// A postal address. `country` is an ISO 3166-1 alpha-2 code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Address {
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    pub country: String,
}

/// The raw parts of an address as a client sent them, before parsing.
#[derive(Debug, Default, Clone)]
pub struct AddressInput<'a> {
    pub line1: &'a str,
    pub line2: Option<&'a str>,
    pub city: &'a str,
    pub region: Option<&'a str>,
    pub postal_code: Option<&'a str>,
    pub country: &'a str,
}

impl Address {
    pub const LINE_MAX: usize = 100;
    pub const POSTAL_CODE_MAX: usize = 16;

    pub fn parse(input: AddressInput<'_>) -> Result<Self> {
        let mut errs = Errors::default();
        let line1 = errs.take("line1", text::bounded(input.line1, 1, Self::LINE_MAX));
        let line2 = errs.take("line2", text::optional(input.line2, Self::LINE_MAX));
        let city = errs.take("city", text::bounded(input.city, 1, Self::LINE_MAX));
        let region = errs.take("region", text::optional(input.region, Self::LINE_MAX));
        let postal_code = errs.take("postal_code", text::optional(input.postal_code, Self::POSTAL_CODE_MAX));
        let country = errs.take("country", parse_country(input.country));
        errs.finish()?;
        match (line1, line2, city, region, postal_code, country) {
            (Some(line1), Some(line2), Some(city), Some(region), Some(postal_code), Some(country)) => {
                Ok(Self { line1, line2, city, region, postal_code, country })
            }
            _ => Err(Error::Corrupt("address parse lost an error".into())),
        }
    }

    /// The address as its parts, for merging a partial update over it.
    pub fn as_input(&self) -> AddressInput<'_> {
        AddressInput {
            line1: &self.line1,
            line2: self.line2.as_deref(),
            city: &self.city,
            region: self.region.as_deref(),
            postal_code: self.postal_code.as_deref(),
            country: &self.country,
        }
    }
}

pub fn parse_country(raw: &str) -> Result<String, FieldError> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() == 2 && celes::Country::from_alpha2(&code).is_ok() {
        Ok(code)
    } else {
        Err(FieldError::new("", "must be an ISO 3166-1 alpha-2 country code, e.g. US or DE"))
    }
}

/// The extra addresses that receive every bill ("forward bills to another e-mail"): parsed,
/// de-duplicated in the order given, at most [`BillRecipients::MAX`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Email>", into = "Vec<Email>")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
pub struct BillRecipients(Vec<Email>);

impl BillRecipients {
    pub const MAX: usize = 20;

    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self> {
        let mut errs = Errors::default();
        let mut out: Vec<Email> = Vec::with_capacity(raw.len());
        for (i, r) in raw.iter().enumerate() {
            if let Some(e) = errs.take(&format!("recipients[{i}]"), r.as_ref().parse::<Email>())
                && !out.contains(&e)
            {
                out.push(e);
            }
        }
        errs.finish()?;
        Self::try_from(out).map_err(Error::from)
    }

    pub fn as_slice(&self) -> &[Email] {
        &self.0
    }
}

impl TryFrom<Vec<Email>> for BillRecipients {
    type Error = FieldError;
    fn try_from(mut v: Vec<Email>) -> Result<Self, FieldError> {
        let mut seen = std::collections::HashSet::new();
        v.retain(|e| seen.insert(e.clone()));
        if v.len() > Self::MAX {
            return Err(FieldError::new(
                "recipients",
                format!("at most {} distinct addresses, got {}", Self::MAX, v.len()),
            ));
        }
        Ok(Self(v))
    }
}

impl From<BillRecipients> for Vec<Email> {
    fn from(r: BillRecipients) -> Self {
        r.0
    }
}

/// What a signed-in user asks for when creating an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    pub currency: Currency,
    pub billing_contact: BillingContact,
    pub billing_address: Address,
}

impl NewAccount {
    pub const NAME_MAX: usize = 200;

    pub fn parse_name(raw: &str) -> Result<String, FieldError> {
        text::bounded(raw, 1, Self::NAME_MAX)
    }
}

/// A customer account as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub billing_mode: BillingMode,
    pub currency: Currency,
    pub billing_contact: BillingContact,
    pub billing_address: Address,
    #[serde(default)]
    pub bill_recipients: BillRecipients,
    /// What the account owes now: the sum of its open invoices' amounts due.
    pub balance_due: Money,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change; writes are conditional on it (optimistic concurrency).
    pub version: u64,
    /// The account number printed on contract bills and read back from the stub's scan line:
    /// from the seller's account-number sequence, given at import (none on card accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
}

impl Account {
    /// A new self-serve account: card billing, nothing owed.
    pub fn open(id: AccountId, new: NewAccount, now: DateTime<Utc>) -> Self {
        Self {
            id,
            name: new.name,
            billing_mode: BillingMode::Card,
            currency: new.currency,
            billing_contact: new.billing_contact,
            billing_address: new.billing_address,
            bill_recipients: BillRecipients::default(),
            balance_due: Money::zero(new.currency),
            created_at: now,
            updated_at: now,
            version: 1,
            number: None,
        }
    }

    /// The next version of this account, with `change` applied.
    pub fn revised(&self, now: DateTime<Utc>, change: impl FnOnce(&mut Account)) -> Account {
        let mut next = self.clone();
        change(&mut next);
        next.updated_at = now;
        next.version = self.version + 1;
        next
    }

    /// Every address that receives this account's bills: the billing contact, then the bill
    /// recipients, without duplicates.
    pub fn bill_addresses(&self) -> Vec<Email> {
        let mut all = vec![self.billing_contact.email.clone()];
        for e in self.bill_recipients.as_slice() {
            if !all.contains(e) {
                all.push(e.clone());
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_names(e: Error) -> Vec<String> {
        match e {
            Error::Invalid(v) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn contact_reports_every_bad_field() {
        let err = BillingContact::parse(" ", "nope", Some("12")).unwrap_err();
        assert_eq!(field_names(err), ["name", "email", "phone"]);
        let ok = BillingContact::parse("Ann Lee", "ANN@example.com", Some("+1 (555) 123-4567")).unwrap();
        assert_eq!(ok.phone.unwrap().as_str(), "+15551234567");
        assert_eq!(ok.email.as_str(), "ann@example.com");
        assert!(BillingContact::parse("Ann", "ann@example.com", Some("  ")).unwrap().phone.is_none());
    }

    #[test]
    fn address_checks_country_and_required_lines() {
        let err = Address::parse(AddressInput { country: "XX", ..Default::default() }).unwrap_err();
        assert_eq!(field_names(err), ["line1", "city", "country"]);
        let a = Address::parse(AddressInput {
            line1: "1 Main St",
            city: "Springfield",
            postal_code: Some("12345"),
            country: "us",
            ..Default::default()
        })
        .unwrap();
        assert_eq!(a.country, "US");
        assert_eq!(a.line2, None);
        let long = "x".repeat(Address::LINE_MAX + 1);
        let err =
            Address::parse(AddressInput { line1: &long, city: "c", country: "DE", ..Default::default() }).unwrap_err();
        assert_eq!(field_names(err), ["line1"]);
    }

    #[test]
    fn recipients_dedupe_case_insensitively_and_cap_at_twenty() {
        let r = BillRecipients::parse(&["a@example.com", "A@Example.com", "b@example.com"]).unwrap();
        assert_eq!(r.as_slice().len(), 2);
        let many: Vec<String> = (0..21).map(|i| format!("u{i}@example.com")).collect();
        assert!(BillRecipients::parse(&many).is_err());
        // 21 entries that collapse to 20 distinct addresses are fine.
        let mut dup: Vec<String> = (0..20).map(|i| format!("u{i}@example.com")).collect();
        dup.push("U0@example.com".into());
        assert_eq!(BillRecipients::parse(&dup).unwrap().as_slice().len(), 20);
        let err = BillRecipients::parse(&["ok@example.com", "bad"]).unwrap_err();
        assert_eq!(field_names(err), ["recipients[1]"]);
    }

    #[test]
    fn bill_addresses_put_the_contact_first_without_duplicates() {
        let contact = BillingContact::parse("Ann", "ann@example.com", None).unwrap();
        let address =
            Address::parse(AddressInput { line1: "1 Main", city: "X", country: "US", ..Default::default() }).unwrap();
        let new = NewAccount {
            name: "Acme".into(),
            currency: Currency::USD,
            billing_contact: contact,
            billing_address: address,
        };
        let mut acct = Account::open(AccountId::generate(), new, Utc::now());
        acct.bill_recipients = BillRecipients::parse(&["ap@example.com", "ann@example.com"]).unwrap();
        let got: Vec<_> = acct.bill_addresses().into_iter().map(String::from).collect();
        assert_eq!(got, ["ann@example.com", "ap@example.com"]);
        assert_eq!(acct.balance_due.to_string(), "0.00 USD");
        assert_eq!(acct.billing_mode, BillingMode::Card);
        let next = acct.revised(Utc::now(), |a| a.name = "Acme 2".into());
        assert_eq!(next.version, 2);
    }
}

/// Where customers mail checks: the seller's REMIT-TO address, printed on every bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemitTo {
    pub name: String,
    pub address: Address,
}
