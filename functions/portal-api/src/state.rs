//! What every handler shares: the store behind the ports and the settings, built once per process.

use std::sync::Arc;

use billing_aws::config::{self, ConfigError};
use billing_domain::ports::{
    AccountReader, AccountWriter, AuditReader, AuditWriter, BillDocumentLinks, BillingReader, ContractBills,
    IdempotencyReader, MemberReader, MemberWriter, SeatStore, StatementReader, TaxSetupReader,
};
use billing_domain::{Account, Email};

use crate::processor::PaymentProcessor;
use crate::routes::views::AccountView;

/// Every port the portal API uses; the DynamoDB store implements them all.
pub trait PortalStore:
    AccountReader
    + AccountWriter
    + IdempotencyReader
    + MemberReader
    + MemberWriter
    + AuditReader
    + AuditWriter
    + BillingReader
    + SeatStore
    + ContractBills
    + TaxSetupReader
    + StatementReader
{
}

impl<T> PortalStore for T where
    T: AccountReader
        + AccountWriter
        + IdempotencyReader
        + MemberReader
        + MemberWriter
        + AuditReader
        + AuditWriter
        + BillingReader
        + SeatStore
        + ContractBills
        + TaxSetupReader
        + StatementReader
{
}

pub use billing_domain::RemitTo;

/// Self-serve seats: the prices customers buy, the limits, and where they go back to.
#[derive(Debug, Clone)]
pub struct SeatSettings {
    /// The processor's per-seat price for monthly billing (`price_…`).
    pub monthly_price: String,
    /// The processor's per-seat price for annual billing.
    pub annual_price: String,
    /// The most seats one account may buy by itself (more: sales).
    pub max_quantity: u32,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub table_name: String,
    pub remit_to: Option<RemitTo>,
    pub seats: SeatSettings,
    /// The portal's web address: Checkout and the customer portal send users back under it, and
    /// a client-supplied return URL must start with it.
    pub portal_url: String,
    /// Whom accounts billed by invoice contact about seats (shown in `contact_sales` errors).
    pub sales_contact: Option<Email>,
    /// The seller's name, at the head of a statement of account.
    pub seller_name: String,
}

/// Default for `SEAT_MAX_QUANTITY`.
pub const DEFAULT_MAX_SEATS: u32 = 500;

impl Settings {
    /// Reads `TABLE_NAME`, `PORTAL_URL`, `SEAT_PRICE_MONTHLY`, `SEAT_PRICE_ANNUAL`, the optional
    /// `SEAT_MAX_QUANTITY`, `SALES_CONTACT_EMAIL`, `SELLER_NAME` and `REMIT_TO_*` variables.
    pub fn from_env() -> Result<Self, ConfigError> {
        let max_quantity = match config::optional("SEAT_MAX_QUANTITY") {
            None => DEFAULT_MAX_SEATS,
            Some(v) => {
                v.parse().ok().filter(|n| (1..=billing_domain::billing::SeatCount::MAX).contains(n)).ok_or_else(
                    || ConfigError::Invalid { name: "SEAT_MAX_QUANTITY", reason: format!("{v:?} is not 1..=100000") },
                )?
            }
        };
        let sales_contact = match config::optional("SALES_CONTACT_EMAIL") {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| ConfigError::Invalid {
                name: "SALES_CONTACT_EMAIL",
                reason: format!("{v:?} is not an e-mail address"),
            })?),
        };
        Ok(Self {
            table_name: config::required("TABLE_NAME")?,
            remit_to: Self::remit_to_from_env()?,
            seats: SeatSettings {
                monthly_price: config::required("SEAT_PRICE_MONTHLY")?,
                annual_price: config::required("SEAT_PRICE_ANNUAL")?,
                max_quantity,
            },
            portal_url: config::required("PORTAL_URL")?.trim_end_matches('/').to_owned(),
            sales_contact,
            seller_name: config::required("SELLER_NAME")?,
        })
    }

    /// Where Checkout or the customer portal sends the user back: `given` if it is under the
    /// portal's own address (never an open redirect), else the account's billing page.
    pub fn return_url(
        &self,
        given: Option<&str>,
        account: &billing_domain::AccountId,
    ) -> billing_domain::Result<String> {
        let base = &self.portal_url;
        match given {
            None => Ok(format!("{base}/accounts/{account}/billing")),
            Some(url) if url == base || url.starts_with(&format!("{base}/")) => Ok(url.to_owned()),
            Some(_) => Err(billing_domain::Error::invalid("return_url", format!("must start with {base}/"))),
        }
    }

    /// The REMIT-TO address from the `REMIT_TO_*` variables (see [`config::remit_to_from_env`]).
    pub fn remit_to_from_env() -> Result<Option<RemitTo>, ConfigError> {
        config::remit_to_from_env()
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn PortalStore>,
    pub processor: Arc<dyn PaymentProcessor>,
    pub settings: Arc<Settings>,
    /// Links to contract bills' stored PDFs; without it, those have none.
    pub documents: Option<Arc<dyn BillDocumentLinks>>,
}

impl AppState {
    /// How the API shows an account: its profile with the seller's REMIT-TO address.
    pub fn account_view(&self, account: Account) -> AccountView {
        AccountView::new(account, self.settings.remit_to.clone())
    }

    pub fn new(
        store: impl PortalStore + 'static,
        processor: impl PaymentProcessor + 'static,
        settings: Settings,
    ) -> Self {
        Self { store: Arc::new(store), processor: Arc::new(processor), settings: Arc::new(settings), documents: None }
    }

    /// Where contract bills' PDFs are kept (`GET …/invoices/{id}/pdf` links to them).
    pub fn with_documents(mut self, documents: impl BillDocumentLinks + 'static) -> Self {
        self.documents = Some(Arc::new(documents));
        self
    }
}
