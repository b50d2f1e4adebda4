//! The seller's taxes as data (see `billing_domain::tax`):
//!
//! - `GET /v1/ops/tax-rates`; `PUT /v1/ops/tax-rates/{code}` with `{name, jurisdiction,
//!   inclusive, rates: [{rate, valid_from, valid_to?}]}`: creates a rate or replaces its periods
//!   (a rate change is a new period; bills already issued keep their snapshot). `inclusive` is
//!   fixed once the code exists.
//! - `GET`/`PUT /v1/ops/settings/tax` with `{country?, vat_id?, default_codes}`: the seller's
//!   country and VAT number (EU reverse charge, printed on bills) and the default level.
//! - `GET`/`PUT /v1/ops/accounts/{account_id}/tax` with `{vat_id?, exemption?, codes,
//!   contract_codes}`: a contract account's VAT number, exemption, account-level and contract
//!   subscription-level codes.
//!
//! Every code named must be defined, and one level's codes share one mode.

use axum::Json;
use axum::extract::{Path, State};
use billing_domain::Error as DomainError;
use billing_domain::FieldError;
use billing_domain::tax::{self, SellerTax, TaxCode, TaxExemption, TaxProfile, TaxRate, VatId};
use serde::{Deserialize, Serialize};

use crate::extract::{JsonBody, OpsCaller, account_id};
use crate::{OpsError, OpsResult, OpsState, OpsStore, update_contract};
use billing_domain::staff::Permission;

pub async fn list_rates<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
) -> OpsResult<Json<Vec<TaxRate>>> {
    caller.require(Permission::AccountRead)?;
    Ok(Json(state.store.tax_setup().await?.rates.into_values().collect()))
}

pub async fn put_rate<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(code): Path<String>,
    JsonBody(rate): JsonBody<TaxRate>,
) -> OpsResult<Json<TaxRate>> {
    let reason = caller.write(Permission::CatalogManage)?;
    let code: TaxCode =
        code.parse().map_err(|e: FieldError| OpsError::InvalidParameter(format!("tax code: {}", e.message)))?;
    if rate.code != code {
        return Err(DomainError::invalid("code", "must be the code in the path").into());
    }
    let rate = rate.parse()?;
    let setup = state.store.tax_setup().await?;
    if let Some(old) = setup.rates.get(&code).filter(|old| old.inclusive != rate.inclusive) {
        let was = if old.inclusive { "inclusive" } else { "exclusive" };
        return Err(DomainError::invalid(
            "inclusive",
            format!("`{code}` is {was}; a rate's mode is fixed once it exists (define a new code)"),
        )
        .into());
    }
    let audit = caller.seller_audit(
        billing_domain::AuditAction::TaxRateSaved,
        Some(code.to_string()),
        setup.rates.get(&code),
        Some(&rate),
        reason.as_ref(),
    );
    state.store.put_tax_rate(&rate, Some(&audit)).await?;
    tracing::info!(code = %code, by = %caller.name(), "tax rate set");
    Ok(Json(rate))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SellerTaxBody {
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub vat_id: Option<String>,
    #[serde(default)]
    pub default_codes: Vec<String>,
    /// Card accounts' tax by Stripe Tax (off unless set).
    #[serde(default)]
    pub card_automatic_tax: bool,
}

pub async fn get_seller<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
) -> OpsResult<Json<SellerTax>> {
    caller.require(Permission::AccountRead)?;
    Ok(Json(state.store.tax_setup().await?.seller))
}

fn vat(raw: Option<&str>) -> Result<Option<VatId>, FieldError> {
    raw.map(str::parse::<VatId>).transpose()
}

pub async fn put_seller<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    JsonBody(body): JsonBody<SellerTaxBody>,
) -> OpsResult<Json<SellerTax>> {
    let reason = caller.write(Permission::CatalogManage)?;
    let mut errors = billing_domain::error::Errors::default();
    let country = match body.country.as_deref() {
        None => Some(None),
        Some(c) => errors.take("country", billing_domain::account::parse_country(c)).map(Some),
    };
    let vat_id = errors.take("vat_id", vat(body.vat_id.as_deref()));
    let default_codes = errors.take("default_codes", tax::parse_codes(&body.default_codes));
    errors.finish()?;
    let (country, vat_id, default_codes) =
        (country.expect("checked"), vat_id.expect("checked"), default_codes.expect("checked"));
    let setup = state.store.tax_setup().await?;
    tax::check_codes(&default_codes, &setup.rates, "default_codes")?;
    let seller = SellerTax { country, vat_id, default_codes, card_automatic_tax: body.card_automatic_tax };
    let audit = caller.seller_audit(
        billing_domain::AuditAction::SellerTaxSaved,
        None,
        Some(&setup.seller),
        Some(&seller),
        reason.as_ref(),
    );
    state.store.put_seller_tax(&seller, Some(&audit)).await?;
    tracing::info!(by = %caller.name(), "seller tax settings set");
    Ok(Json(seller))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountTaxBody {
    #[serde(default)]
    pub vat_id: Option<String>,
    #[serde(default)]
    pub exemption: Option<TaxExemption>,
    /// The account level.
    #[serde(default)]
    pub codes: Vec<String>,
    /// The contract subscription level.
    #[serde(default)]
    pub contract_codes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct AccountTaxView {
    pub account_id: String,
    #[serde(flatten)]
    pub profile: TaxProfile,
    pub contract_codes: Vec<TaxCode>,
}

pub async fn get_account<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(raw): Path<String>,
) -> OpsResult<Json<AccountTaxView>> {
    caller.require(Permission::AccountRead)?;
    let id = account_id(&raw)?;
    let c = state.store.contract_account(&id).await?.ok_or(OpsError::NotContractBilled)?;
    Ok(Json(AccountTaxView { account_id: id.to_string(), profile: c.tax, contract_codes: c.tax_codes }))
}

pub async fn put_account<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody<AccountTaxBody>,
) -> OpsResult<Json<AccountTaxView>> {
    let reason = caller.write(Permission::CatalogManage)?;
    let id = account_id(&raw)?;
    let mut errors = billing_domain::error::Errors::default();
    let vat_id = errors.take("vat_id", vat(body.vat_id.as_deref()));
    let exemption = match body.exemption {
        None => Some(None),
        Some(e) => errors.take_all("exemption", e.parse()).map(Some),
    };
    let account_codes = errors.take("codes", tax::parse_codes(&body.codes));
    let contract_codes = errors.take("contract_codes", tax::parse_codes(&body.contract_codes));
    errors.finish()?;
    let (vat_id, exemption, account_codes, contract_codes) = (
        vat_id.expect("checked"),
        exemption.expect("checked"),
        account_codes.expect("checked"),
        contract_codes.expect("checked"),
    );
    let setup = state.store.tax_setup().await?;
    tax::check_codes(&account_codes, &setup.rates, "codes")?;
    tax::check_codes(&contract_codes, &setup.rates, "contract_codes")?;
    let profile = TaxProfile { vat_id, exemption, codes: account_codes };
    let after = update_contract(
        &*state.store,
        &id,
        |before| {
            let mut after = before.clone();
            after.tax = profile.clone();
            after.tax_codes = contract_codes.clone();
            Some(after)
        },
        |before, after| {
            let taxes = |c: &billing_domain::contract::ContractAccount| {
                serde_json::json!({"profile": c.tax, "contract_codes": c.tax_codes})
            };
            billing_domain::AuditEntry::record(
                &id,
                &caller.actor(),
                billing_domain::AuditAction::TaxProfileChanged,
                None,
                Some(&taxes(before)),
                Some(&taxes(after)),
                chrono::Utc::now(),
            )
            .because(reason.as_ref())
        },
    )
    .await?;
    tracing::info!(account_id = %id, by = %caller.name(), "account tax profile set");
    Ok(Json(AccountTaxView { account_id: id.to_string(), profile: after.tax, contract_codes: after.tax_codes }))
}
