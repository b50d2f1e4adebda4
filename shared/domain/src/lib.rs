//! The billing domain: what an account, a member, a role, an address and an amount of money are,
//! and the rules between them. Pure Rust: no AWS, Lambda or Stripe imports. Adapters implement the
//! [`ports`] declared here.
//!
//! Every type that comes from outside is a newtype that *parses*: once you hold an [`Email`] or an
//! [`AccountId`], it is valid, so nothing downstream validates again.

pub mod account;
pub mod audit;
pub mod bai2;
pub mod bill_runs;
pub mod billing;
pub mod catalog;
pub mod contract;
pub mod error;
pub mod ids;
pub mod invoice;
pub mod ledger;
pub mod lockbox;
pub mod mail;
pub mod member;
pub mod money;
pub mod ports;
pub mod proration;
pub mod rating;
pub mod receipts;
pub mod receivables;
pub mod retry;
pub mod seats;
pub mod staff;
pub mod statement;
pub mod tax;
pub mod text;

pub use account::{
    Account, Address, AddressInput, BillRecipients, BillingContact, BillingMode, NewAccount, Phone, RemitTo,
};
pub use audit::{Actor, AuditAction, AuditEntry};
pub use error::{Error, FieldError, Result};
pub use ids::{AccountId, AuditId, Email, MemberId, SeatId, UserId};
pub use member::{Member, MemberStatus, Role};
pub use money::{Currency, Money};

/// A stored value as it was read and as it is to be written: a port writes `after` only if the
/// store still holds `before` (its version, status or stamp), else `Error::Conflict`.
#[derive(Debug)]
pub struct Change<'a, T> {
    pub before: &'a T,
    pub after: &'a T,
}

impl<T> Clone for Change<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Change<'_, T> {}

impl<'a, T> Change<'a, T> {
    pub fn new(before: &'a T, after: &'a T) -> Self {
        Self { before, after }
    }
}
