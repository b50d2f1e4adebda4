//! What every handler shares: the store behind the ports and the settings, built once per process.

use std::sync::Arc;

use billing_aws::config::{self, ConfigError};
use billing_domain::ports::{AccountReader, AccountWriter, AuditReader, IdempotencyReader, MemberReader, MemberWriter};
use billing_domain::{Account, Address, AddressInput};
use serde::Serialize;

use crate::routes::views::AccountView;

/// Every port the portal API uses; the DynamoDB store implements them all.
pub trait PortalStore:
    AccountReader + AccountWriter + IdempotencyReader + MemberReader + MemberWriter + AuditReader
{
}

impl<T> PortalStore for T where
    T: AccountReader + AccountWriter + IdempotencyReader + MemberReader + MemberWriter + AuditReader
{
}

/// Where customers mail checks: the seller's REMIT-TO address, printed on every bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemitTo {
    pub name: String,
    pub address: Address,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub table_name: String,
    pub remit_to: Option<RemitTo>,
}

impl Settings {
    /// Reads `TABLE_NAME` and the optional `REMIT_TO_*` variables.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self { table_name: config::required("TABLE_NAME")?, remit_to: Self::remit_to_from_env()? })
    }

    /// The REMIT-TO address from `REMIT_TO_NAME`, `REMIT_TO_LINE1`, `REMIT_TO_LINE2`,
    /// `REMIT_TO_CITY`, `REMIT_TO_REGION`, `REMIT_TO_POSTAL_CODE` and `REMIT_TO_COUNTRY`; `None`
    /// when `REMIT_TO_NAME` is unset. One that is set but does not parse stops the start: bills
    /// must not go out with a wrong address.
    pub fn remit_to_from_env() -> Result<Option<RemitTo>, ConfigError> {
        let Some(name) = config::optional("REMIT_TO_NAME") else {
            return Ok(None);
        };
        let line1 = config::required("REMIT_TO_LINE1")?;
        let city = config::required("REMIT_TO_CITY")?;
        let country = config::required("REMIT_TO_COUNTRY")?;
        let line2 = config::optional("REMIT_TO_LINE2");
        let region = config::optional("REMIT_TO_REGION");
        let postal_code = config::optional("REMIT_TO_POSTAL_CODE");
        let address = Address::parse(AddressInput {
            line1: &line1,
            line2: line2.as_deref(),
            city: &city,
            region: region.as_deref(),
            postal_code: postal_code.as_deref(),
            country: &country,
        })
        .map_err(|e| ConfigError::Invalid { name: "REMIT_TO_*", reason: e.to_string() })?;
        Ok(Some(RemitTo { name, address }))
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn PortalStore>,
    pub settings: Arc<Settings>,
}

impl AppState {
    /// How the API shows an account: its profile with the seller's REMIT-TO address.
    pub fn account_view(&self, account: Account) -> AccountView {
        AccountView::new(account, self.settings.remit_to.clone())
    }

    pub fn new(store: impl PortalStore + 'static, settings: Settings) -> Self {
        Self { store: Arc::new(store), settings: Arc::new(settings) }
    }
}
