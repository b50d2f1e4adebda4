//! Accounts: create one (and become its first admin), read its profile, and change its billing
//! contact, billing address and bill recipients.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use billing_domain::account::AddressInput;
use billing_domain::error::Errors;
use billing_domain::ports::{Creation, IdempotencyRecord};
use billing_domain::receivables;
use billing_domain::retry::Retry;
use billing_domain::{
    Account, AccountId, Address, AuditAction, AuditEntry, BillRecipients, BillingContact, Currency, Error, Member,
    NewAccount,
};
use chrono::Utc;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use crate::access::{AccountAccess, WithAccount, WithAccountDue, can};
use crate::error::{ApiError, ApiResult};
use crate::error::{ReadErrors, WriteErrors};
use crate::extract::{Caller, JsonBody};
use crate::routes::views::{AccountDetailView, AccountView, RecipientsView};
use crate::state::AppState;

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    name: String,
    /// ISO 4217; defaults to USD.
    #[serde(default)]
    currency: Option<String>,
    billing_contact: ContactBody,
    billing_address: AddressBody,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ContactBody {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// E.164 once spaces, dots, dashes and parentheses are dropped (`+1 555 010 0100`).
    #[serde(default)]
    #[schema(example = "+15550100100", max_length = 32)]
    phone: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AddressBody {
    #[schema(min_length = 1, max_length = 200)]
    line1: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    line2: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    city: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    region: Option<String>,
    #[serde(default)]
    #[schema(max_length = 20)]
    postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 (`US`, `DE`).
    #[schema(pattern = "^[A-Za-z]{2}$", min_length = 2, max_length = 2)]
    country: String,
}

impl CreateAccountRequest {
    fn parse(&self) -> Result<NewAccount, Error> {
        let mut errs = Errors::default();
        let name = errs.take("name", NewAccount::parse_name(&self.name));
        let currency = errs.take("currency", self.currency.as_deref().unwrap_or("USD").parse::<Currency>());
        let c = &self.billing_contact;
        let contact = errs.take_all("billing_contact", BillingContact::parse(&c.name, &c.email, c.phone.as_deref()));
        let a = &self.billing_address;
        let address = errs.take_all(
            "billing_address",
            Address::parse(AddressInput {
                line1: &a.line1,
                line2: a.line2.as_deref(),
                city: &a.city,
                region: a.region.as_deref(),
                postal_code: a.postal_code.as_deref(),
                country: &a.country,
            }),
        );
        errs.finish()?;
        match (name, currency, contact, address) {
            (Some(name), Some(currency), Some(billing_contact), Some(billing_address)) => {
                Ok(NewAccount { name, currency, billing_contact, billing_address })
            }
            _ => Err(Error::Corrupt("account parse lost an error".into())),
        }
    }

    fn fingerprint(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        format!("{:x}", Sha256::digest(canonical))
    }
}

/// `Idempotency-Key`: 1 to 255 printable ASCII characters, scoped to the caller.
fn idempotency_scope(headers: &HeaderMap, caller: &Caller) -> ApiResult<Option<String>> {
    let Some(key) = crate::extract::idempotency_key(headers)? else {
        return Ok(None);
    };
    let mut h = Sha256::new();
    h.update(caller.user_id.as_str().as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    Ok(Some(format!("{:x}", h.finalize())))
}

fn created(view: AccountView) -> Response {
    let location = HeaderValue::from_str(&format!("/v1/accounts/{}", view.id)).ok();
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Some(l) = location {
        response.headers_mut().insert(header::LOCATION, l);
    }
    response
}

/// `POST /v1/accounts`: a signed-in user with a verified e-mail opens a card-billed account and
/// becomes its first admin. Retrying with the same `Idempotency-Key` returns the first result.
#[utoipa::path(
    post,
    path = "/v1/accounts",
    operation_id = "accounts_create",
    tag = "accounts",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key returns the first result"),
    ),
    request_body = CreateAccountRequest,
    responses(
        (status = 201, body = AccountView, description = "Created (or replayed for a repeated Idempotency-Key)"),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(req): JsonBody<CreateAccountRequest>,
) -> ApiResult<Response> {
    let email = caller.verified_email().cloned().ok_or(ApiError::EmailNotVerified)?;
    let scope = idempotency_scope(&headers, &caller)?;
    let new = req.parse()?;
    let fingerprint = req.fingerprint();

    if let Some(scope) = &scope
        && let Some(rec) = state.store.idempotency_record(scope).await?
    {
        return replay(&state, rec, &fingerprint).await;
    }

    let now = Utc::now();
    let account = Account::open(AccountId::generate(), new, now);
    let founder = Member::founder(account.id.clone(), caller.user_id.clone(), email, now);
    let audit = AuditEntry::record(
        &account.id,
        &caller.actor(),
        AuditAction::AccountCreated,
        None,
        None::<&Account>,
        Some(&account),
        now,
    );
    let claim = scope.map(|scope| IdempotencyRecord {
        scope,
        fingerprint: fingerprint.clone(),
        account_id: account.id.clone(),
        created_at: now,
    });
    match state.store.create_account(&account, &founder, &audit, claim.as_ref()).await? {
        Creation::Created => {
            tracing::info!(account_id = %account.id, "account created");
            Ok(created(state.account_view(account)))
        }
        Creation::AlreadyClaimed(rec) => replay(&state, rec, &fingerprint).await,
    }
}

async fn replay(state: &AppState, rec: IdempotencyRecord, fingerprint: &str) -> ApiResult<Response> {
    if rec.fingerprint != fingerprint {
        return Err(Error::IdempotencyKeyReused.into());
    }
    // The claim and the account are written in one transaction; a claim seen without its account
    // belongs to a request still in flight (or a store without serializable reads).
    let account = state.store.account(&rec.account_id).await?.ok_or(Error::RequestInProgress)?;
    let mut response = created(state.account_view(account));
    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(response)
}

/// `GET /v1/accounts/{account_id}`
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}",
    operation_id = "accounts_get",
    tag = "accounts",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    responses(
        (status = 200, body = AccountDetailView),
        ReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    WithAccountDue { account, open, .. }: WithAccountDue<can::Read>,
) -> ApiResult<Json<AccountDetailView>> {
    let past_due = receivables::past_due(&open, Utc::now().date_naive())?;
    Ok(Json(AccountDetailView { account: state.account_view(account), past_due }))
}

/// Applies `change` to the current account and saves it with its audit entry, re-reading and
/// re-applying when a concurrent write got there first. The audit entry records `part` of the
/// account before and after; nothing is written when `part` did not change.
async fn revise<P, C>(
    state: &AppState,
    caller: &Caller,
    id: &AccountId,
    action: AuditAction,
    part: impl Fn(&Account) -> P,
    change: C,
) -> ApiResult<Account>
where
    P: Serialize + PartialEq,
    C: Fn(&Account) -> Result<Account, Error>,
{
    let mut retry = Retry::on_conflict();
    while retry.attempt().await {
        let current = state.store.account(id).await?.ok_or(ApiError::NotFound)?;
        let next = change(&current)?;
        let (before, after) = (part(&current), part(&next));
        if before == after {
            return Ok(current);
        }
        let now = next.updated_at;
        let audit = AuditEntry::record(id, &caller.actor(), action, None, Some(&before), Some(&after), now);
        match state.store.save_account(&next, &audit).await {
            Ok(()) => return Ok(next),
            Err(Error::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict.into())
}

/// `null` and absent differ: `Some(None)` clears a value, `None` keeps it.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    phone: Option<Option<String>>,
}

/// `PATCH /v1/accounts/{account_id}/billing-contact`: the fields sent replace the stored ones;
/// `"phone": null` removes the phone number.
#[utoipa::path(
    patch,
    path = "/v1/accounts/{account_id}/billing-contact",
    operation_id = "accounts_patch_contact",
    tag = "accounts",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    request_body = ContactPatch,
    responses(
        (status = 200, body = AccountView),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn patch_contact(
    State(state): State<AppState>,
    AccountAccess { id, caller, .. }: AccountAccess<can::ManageBilling>,
    JsonBody(patch): JsonBody<ContactPatch>,
) -> ApiResult<Json<AccountView>> {
    let account = revise(
        &state,
        &caller,
        &id,
        AuditAction::BillingContactUpdated,
        |a| a.billing_contact.clone(),
        |current| {
            let c = &current.billing_contact;
            let phone = match &patch.phone {
                None => c.phone.as_ref().map(|p| p.as_str()),
                Some(p) => p.as_deref(),
            };
            let contact = BillingContact::parse(
                patch.name.as_deref().unwrap_or(&c.name),
                patch.email.as_deref().unwrap_or(c.email.as_str()),
                phone,
            )
            .map_err(|e| prefix(e, "billing_contact"))?;
            Ok(current.revised(Utc::now(), |a| a.billing_contact = contact))
        },
    )
    .await?;
    Ok(Json(state.account_view(account)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressPatch {
    #[serde(default)]
    line1: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    line2: Option<Option<String>>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    region: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    postal_code: Option<Option<String>>,
    #[serde(default)]
    country: Option<String>,
}

/// `PATCH /v1/accounts/{account_id}/billing-address`: the fields sent replace the stored ones;
/// `null` removes an optional line.
#[utoipa::path(
    patch,
    path = "/v1/accounts/{account_id}/billing-address",
    operation_id = "accounts_patch_address",
    tag = "accounts",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    request_body = AddressPatch,
    responses(
        (status = 200, body = AccountView),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn patch_address(
    State(state): State<AppState>,
    AccountAccess { id, caller, .. }: AccountAccess<can::ManageBilling>,
    JsonBody(patch): JsonBody<AddressPatch>,
) -> ApiResult<Json<AccountView>> {
    let account = revise(
        &state,
        &caller,
        &id,
        AuditAction::BillingAddressUpdated,
        |a| a.billing_address.clone(),
        |current| {
            let cur = current.billing_address.as_input();
            let pick = |new: &Option<Option<String>>, old: Option<&'_ str>| -> Option<String> {
                match new {
                    None => old.map(str::to_owned),
                    Some(v) => v.clone(),
                }
            };
            let (line2, region, postal_code) = (
                pick(&patch.line2, cur.line2),
                pick(&patch.region, cur.region),
                pick(&patch.postal_code, cur.postal_code),
            );
            let address = Address::parse(AddressInput {
                line1: patch.line1.as_deref().unwrap_or(cur.line1),
                line2: line2.as_deref(),
                city: patch.city.as_deref().unwrap_or(cur.city),
                region: region.as_deref(),
                postal_code: postal_code.as_deref(),
                country: patch.country.as_deref().unwrap_or(cur.country),
            })
            .map_err(|e| prefix(e, "billing_address"))?;
            Ok(current.revised(Utc::now(), |a| a.billing_address = address))
        },
    )
    .await?;
    Ok(Json(state.account_view(account)))
}

fn prefix(e: Error, parent: &str) -> Error {
    match e {
        Error::Invalid(fields) => Error::Invalid(fields.into_iter().map(|f| f.under(parent)).collect()),
        other => other,
    }
}

/// `GET /v1/accounts/{account_id}/bill-recipients`
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/bill-recipients",
    operation_id = "accounts_get_recipients",
    tag = "accounts",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    responses(
        (status = 200, body = RecipientsView),
        ReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn get_recipients(WithAccount { account, .. }: WithAccount<can::Read>) -> ApiResult<Json<RecipientsView>> {
    Ok(Json(RecipientsView { recipients: account.bill_recipients.into() }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientsBody {
    /// Extra addresses that get every bill, at most 20.
    #[schema(max_items = 20, value_type = Vec<String>, format = Email)]
    recipients: Vec<String>,
}

/// `PUT /v1/accounts/{account_id}/bill-recipients`: replaces the list; duplicates (in any case)
/// collapse to one; at most 20.
#[utoipa::path(
    put,
    path = "/v1/accounts/{account_id}/bill-recipients",
    operation_id = "accounts_put_recipients",
    tag = "accounts",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    request_body = RecipientsBody,
    responses(
        (status = 200, body = RecipientsView),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn put_recipients(
    State(state): State<AppState>,
    AccountAccess { id, caller, .. }: AccountAccess<can::ManageBilling>,
    JsonBody(body): JsonBody<RecipientsBody>,
) -> ApiResult<Json<RecipientsView>> {
    let recipients = BillRecipients::parse(&body.recipients)?;
    let account = revise(
        &state,
        &caller,
        &id,
        AuditAction::BillRecipientsUpdated,
        |a| a.bill_recipients.clone(),
        |current| Ok(current.revised(Utc::now(), |a| a.bill_recipients = recipients.clone())),
    )
    .await?;
    Ok(Json(RecipientsView { recipients: account.bill_recipients.into() }))
}
