//! The metadata contract between the portal, which writes it on what it creates at Stripe, and the
//! webhook, which reads it back from Stripe's events. One home, so that writer and reader cannot
//! drift apart.
//!
//! - `account_id` = the account, on every Checkout Session, subscription, customer and payment
//!   intent the portal creates;
//! - `invoice_ids` = the processor invoices a payment-mode session pays, comma-separated;
//! - `contract_bill_<n>` = `<bill id>=<amount in minor units>`, one per contract bill the session
//!   pays (Stripe allows at most 50 keys, values of at most 500 characters).

use std::collections::HashMap;

use billing_domain::{AccountId, Currency, Error, Money, Result};

/// The key naming the account on every object the portal creates at Stripe.
pub const ACCOUNT_KEY: &str = "account_id";
/// The key listing the invoices a payment-mode Checkout Session pays.
pub const INVOICES_KEY: &str = "invoice_ids";
/// The prefix of the keys listing the contract bills a payment-mode Checkout Session pays.
pub const CONTRACT_BILL_PREFIX: &str = "contract_bill_";
/// Contract bills one Checkout Session pays at most (Stripe's 50 keys, less room for the others).
pub const MAX_CONTRACT_BILLS: usize = 40;

/// Metadata naming `account`.
pub fn for_account(account: &AccountId) -> HashMap<String, String> {
    HashMap::from([(ACCOUNT_KEY.to_owned(), account.to_string())])
}

/// Metadata of a payment-mode session for `account` that pays the processor invoices
/// `invoice_ids` and the contract bills `contract_bills` (id, amount).
pub fn for_payment<'a>(
    account: &AccountId,
    invoice_ids: &[&str],
    contract_bills: impl IntoIterator<Item = (&'a str, &'a Money)>,
) -> Result<HashMap<String, String>> {
    let mut metadata = for_account(account);
    if !invoice_ids.is_empty() {
        metadata.insert(INVOICES_KEY.to_owned(), invoice_ids.join(","));
    }
    for (n, (bill, amount)) in contract_bills.into_iter().enumerate() {
        let minor = amount.to_minor().map_err(|e| Error::Corrupt(format!("amount {amount}: {e}")))?;
        metadata.insert(format!("{CONTRACT_BILL_PREFIX}{n}"), format!("{bill}={minor}"));
    }
    Ok(metadata)
}

/// The account `metadata` names, if it names a well-formed one.
pub fn account(metadata: Option<&HashMap<String, String>>) -> Option<AccountId> {
    metadata?.get(ACCOUNT_KEY)?.parse().ok()
}

/// The processor invoices a payment-mode session's `metadata` lists.
pub fn invoice_ids(metadata: Option<&HashMap<String, String>>) -> Vec<String> {
    let Some(ids) = metadata.and_then(|m| m.get(INVOICES_KEY)) else { return Vec::new() };
    ids.split(',').map(str::trim).filter(|i| !i.is_empty()).map(str::to_owned).collect()
}

/// The contract bills a paid session's `metadata` names, by bill id, with amounts in the session's
/// `currency`; malformed entries are left out (logged).
pub fn contract_bills(metadata: Option<&HashMap<String, String>>, currency: Option<Currency>) -> Vec<(String, Money)> {
    let (Some(metadata), Some(currency)) = (metadata, currency) else { return Vec::new() };
    let mut bills: Vec<(String, Money)> = metadata
        .iter()
        .filter(|(k, _)| k.starts_with(CONTRACT_BILL_PREFIX))
        .filter_map(|(k, v)| {
            let parsed = v.split_once('=').and_then(|(id, minor)| Some((id.to_owned(), minor.parse::<i64>().ok()?)));
            if parsed.is_none() {
                tracing::error!(key = %k, value = %v, "malformed contract bill in a session's metadata");
            }
            parsed.map(|(id, minor)| (id, Money::from_minor(minor, currency)))
        })
        .collect();
    bills.sort_by(|a, b| a.0.cmp(&b.0));
    bills
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(s: &str, c: &str) -> Money {
        Money::new(s.parse().unwrap(), c.parse().unwrap())
    }

    #[test]
    fn what_the_portal_writes_the_webhook_reads_back() {
        for currency in ["USD", "JPY", "KWD"] {
            let id = AccountId::generate();
            let a = money(if currency == "JPY" { "1200" } else { "12.5" }, currency);
            let b = money(if currency == "KWD" { "0.125" } else { "3" }, currency);
            let bills = [("cb_2026_0002", &b), ("cb_2026_0001", &a)];
            let metadata = for_payment(&id, &["in_1", "in_2"], bills).unwrap();

            let m = Some(&metadata);
            assert_eq!(account(m).as_ref(), Some(&id), "{currency}");
            assert_eq!(invoice_ids(m), ["in_1", "in_2"]);
            assert_eq!(
                contract_bills(m, Some(currency.parse().unwrap())),
                [("cb_2026_0001".to_owned(), a), ("cb_2026_0002".to_owned(), b)],
                "{currency}"
            );
        }
    }

    #[test]
    fn nothing_to_pay_names_only_the_account() {
        let id = AccountId::generate();
        let metadata = for_payment(&id, &[], []).unwrap();
        assert_eq!(metadata, for_account(&id));
        assert!(invoice_ids(Some(&metadata)).is_empty());
        assert!(contract_bills(Some(&metadata), Some(Currency::USD)).is_empty());
    }

    #[test]
    fn malformed_entries_are_left_out() {
        let metadata = HashMap::from([
            (ACCOUNT_KEY.to_owned(), "not an account".to_owned()),
            (INVOICES_KEY.to_owned(), " in_1 ,, in_2 ".to_owned()),
            (format!("{CONTRACT_BILL_PREFIX}0"), "cb_1=100".to_owned()),
            (format!("{CONTRACT_BILL_PREFIX}1"), "cb_2".to_owned()),
            (format!("{CONTRACT_BILL_PREFIX}2"), "cb_3=1.5".to_owned()),
        ]);
        let m = Some(&metadata);
        assert_eq!(account(m), None);
        assert_eq!(invoice_ids(m), ["in_1", "in_2"]);
        assert_eq!(contract_bills(m, Some(Currency::USD)), [("cb_1".to_owned(), money("1.00", "USD"))]);
        assert!(contract_bills(m, None).is_empty(), "no currency, no amounts");
    }
}
