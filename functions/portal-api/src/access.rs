//! Who may touch an account: the caller's membership, read strongly consistently on every request.
//!
//! A caller who is not a member gets 404 for the account and everything under it, exactly as if it
//! did not exist. A member whose role does not allow an action gets 403.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use billing_domain::{Account, AccountId, AuditAction, AuditEntry, Error, Member, MemberStatus, Role};
use chrono::Utc;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, account_id};
use crate::state::AppState;

/// The caller's active membership of `account`.
///
/// A caller with no membership but an open invitation to their verified e-mail address accepts
/// it here: the invitee becomes active on their first call.
pub async fn membership(state: &AppState, caller: &Caller, account: &AccountId) -> ApiResult<Member> {
    if let Some(m) = state.store.membership(account, &caller.user_id).await? {
        return Ok(m);
    }
    let Some(email) = caller.verified_email() else {
        return Err(ApiError::NotFound);
    };
    match state.store.member_by_email(account, email).await? {
        Some(invite) if invite.status == MemberStatus::Invited => match accept(state, caller, &invite).await {
            Ok(m) => Ok(m),
            // Accepted concurrently by this same user (two first calls at once): read it back.
            Err(Error::Conflict) => state.store.membership(account, &caller.user_id).await?.ok_or(ApiError::NotFound),
            Err(Error::AlreadyMember) => Err(ApiError::NotFound),
            Err(e) => Err(e.into()),
        },
        _ => Err(ApiError::NotFound),
    }
}

/// Accepts an invitation on behalf of the caller, whose verified e-mail matches it.
pub async fn accept(state: &AppState, caller: &Caller, invite: &Member) -> Result<Member, Error> {
    let now = Utc::now();
    let active = invite.activated(caller.user_id.clone(), now)?;
    let audit = AuditEntry::record(
        &invite.account_id,
        &caller.actor(),
        AuditAction::MemberActivated,
        Some(invite.id.to_string()),
        Some(&invite.status),
        Some(&active.status),
        now,
    );
    state.store.update_member(invite, &active, &audit).await?;
    tracing::info!(account_id = %invite.account_id, member_id = %invite.id, "invitation accepted");
    Ok(active)
}

/// What a role must allow.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    Read,
    ManageBilling,
    ManageMembers,
    ReadAudit,
}

impl Need {
    fn allows(self, role: Role) -> bool {
        match self {
            Need::Read => true,
            Need::ManageBilling => role.can_manage_billing(),
            Need::ManageMembers => role.can_manage_members(),
            Need::ReadAudit => role.can_read_audit(),
        }
    }
}

/// The caller's membership, if its role allows `need`.
pub async fn require(state: &AppState, caller: &Caller, account: &AccountId, need: Need) -> ApiResult<Member> {
    let m = membership(state, caller, account).await?;
    if need.allows(m.role) { Ok(m) } else { Err(ApiError::Forbidden) }
}

/// What a role must allow, as a type, for [`AccountAccess`].
pub trait Requirement {
    const NEED: Need;
}

/// The requirements, by name: `AccountAccess<can::ManageBilling>`.
pub mod can {
    use super::{Need, Requirement};

    macro_rules! requirement {
        ($($name:ident),*) => {$(
            #[derive(Debug)]
            pub struct $name;
            impl Requirement for $name {
                const NEED: Need = Need::$name;
            }
        )*};
    }
    requirement!(Read, ManageBilling, ManageMembers, ReadAudit);
}

/// The account the path's `{account_id}` names, with the signed-in caller, whose membership of it
/// allows `R`: the prelude of every route under `/v1/accounts/{account_id}`. A path id that does
/// not parse, or an account the caller is not a member of, is 404; a role that does not allow `R`
/// is 403.
#[derive(Debug)]
pub struct AccountAccess<R> {
    pub id: AccountId,
    pub caller: Caller,
    pub member: Member,
    need: PhantomData<R>,
}

impl<R: Requirement> FromRequestParts<AppState> for AccountAccess<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let (caller, id) = caller_and_account(parts, state).await?;
        let member = require(state, &caller, &id, R::NEED).await?;
        Ok(Self { id, caller, member, need: PhantomData })
    }
}

/// The signed-in caller and the path's `{account_id}` (404 when it does not parse).
async fn caller_and_account(parts: &mut Parts, state: &AppState) -> ApiResult<(Caller, AccountId)> {
    let caller = Caller::from_request_parts(parts, state).await?;
    let params = RawPathParams::from_request_parts(parts, state).await.map_err(|_| ApiError::NotFound)?;
    let raw = params.iter().find_map(|(k, v)| (k == "account_id").then_some(v)).ok_or(ApiError::NotFound)?;
    Ok((caller, account_id(raw)?))
}

/// The signed-in caller and the path's account, whose membership is not checked yet: for a route
/// that reads the account's data while the membership is checked ([`AccountScope::read`]), one
/// round trip instead of two in a row.
#[derive(Debug)]
pub struct AccountScope<R> {
    caller: Caller,
    id: AccountId,
    need: PhantomData<fn() -> R>,
}

impl<R: Requirement> FromRequestParts<AppState> for AccountScope<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let (caller, id) = caller_and_account(parts, state).await?;
        Ok(Self { caller, id, need: PhantomData })
    }
}

impl<R: Requirement> AccountScope<R> {
    /// [`AccountAccess`] and `read` of the account, made at the same time as the membership is
    /// checked. A caller refused access gets the refusal (404, 403) whatever `read` found or
    /// failed with: its result is dropped unseen.
    pub async fn read<T, E: Into<ApiError>>(
        self,
        state: &AppState,
        read: impl AsyncFnOnce(&AccountId) -> Result<T, E>,
    ) -> ApiResult<(AccountAccess<R>, T)> {
        let Self { caller, id, .. } = self;
        let (member, value) = tokio::join!(require(state, &caller, &id, R::NEED), read(&id));
        let member = member?;
        Ok((AccountAccess { id, caller, member, need: PhantomData }, value.map_err(Into::into)?))
    }
}

/// [`AccountScope::read`], for the extractors below.
async fn access_with<R: Requirement, T>(
    parts: &mut Parts,
    state: &AppState,
    read: impl AsyncFnOnce(&AccountId) -> billing_domain::Result<T>,
) -> ApiResult<(AccountAccess<R>, T)> {
    AccountScope::<R>::from_request_parts(parts, state).await?.read(state, read).await
}

/// [`AccountAccess`] and the account itself, read at the same time as the membership is checked:
/// one round trip instead of two in a row, for the routes that show the account. For a caller
/// refused access the account read is dropped unseen, and the refusal is what is answered.
#[derive(Debug)]
pub struct WithAccount<R> {
    pub access: AccountAccess<R>,
    pub account: Account,
}

impl<R: Requirement> FromRequestParts<AppState> for WithAccount<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let (access, account) = access_with(parts, state, async |id| state.store.account(id).await).await?;
        Ok(Self { access, account: account.ok_or(ApiError::NotFound)? })
    }
}

/// [`WithAccount`] and the account's open invoices (what makes it past due), both read at the
/// same time as the membership is checked: the account's page in one round trip.
#[derive(Debug)]
pub struct WithAccountDue<R> {
    pub access: AccountAccess<R>,
    pub account: Account,
    /// Its open invoices (the newest [`OPEN_READ`]).
    pub open: Vec<billing_domain::invoice::Invoice>,
}

/// Open invoices read for what is past due (an account with more open bills than this is
/// behind by years; the oldest beyond it would be missed).
pub const OPEN_READ: u16 = 100;

impl<R: Requirement> FromRequestParts<AppState> for WithAccountDue<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let open = Some(billing_domain::invoice::InvoiceStatus::Open);
        let (access, (account, open)) = access_with(parts, state, async |id| {
            tokio::try_join!(state.store.account(id), state.store.invoices(id, open, OPEN_READ, None))
        })
        .await?;
        Ok(Self { access, account: account.ok_or(ApiError::NotFound)?, open: open.invoices })
    }
}

/// [`WithAccountDue`], the account's newest invoices (whose newest issued one is the statement's
/// latest bill) and everything its statement of account is made of, all read at the same time as
/// the membership is checked: the statement in one round trip.
#[derive(Debug)]
pub struct WithStatement<R> {
    pub access: AccountAccess<R>,
    pub account: Account,
    /// Its open invoices (the newest [`OPEN_READ`]).
    pub open: Vec<billing_domain::invoice::Invoice>,
    /// Its newest [`RECENT_READ`] invoices, any status.
    pub recent: Vec<billing_domain::invoice::Invoice>,
    /// Every invoice, payment received and credit note: the statement of account.
    pub ledger: billing_domain::statement::LedgerItems,
}

/// The newest invoices a statement reads for its latest bill (drafts are skipped; more than this
/// many drafts in a row is not a state the bill run leaves).
pub const RECENT_READ: u16 = 10;

impl<R: Requirement> FromRequestParts<AppState> for WithStatement<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let open = Some(billing_domain::invoice::InvoiceStatus::Open);
        let (access, (account, open, recent, ledger)) = access_with(parts, state, async |id| {
            tokio::try_join!(
                state.store.account(id),
                state.store.invoices(id, open, OPEN_READ, None),
                state.store.invoices(id, None, RECENT_READ, None),
                state.store.ledger_items(id)
            )
        })
        .await?;
        Ok(Self {
            access,
            account: account.ok_or(ApiError::NotFound)?,
            open: open.invoices,
            recent: recent.invoices,
            ledger,
        })
    }
}

/// [`AccountAccess`] and the account's contract (invoice-mode) billing state, read at the same
/// time as the membership is checked, as [`WithAccount`] does. An account billed by card is
/// `not_contract_billed`; one billed by invoice whose contract sales have not loaded yet is
/// `contract_not_set_up` (read only then: the account is looked at when there is no contract).
#[derive(Debug)]
pub struct WithContract<R> {
    pub access: AccountAccess<R>,
    pub contract: billing_domain::contract::ContractAccount,
}

impl<R: Requirement> FromRequestParts<AppState> for WithContract<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let (access, contract) = access_with(parts, state, async |id| match state.store.contract_account(id).await? {
            Some(contract) => Ok(Ok(contract)),
            None => Ok(Err(state.store.account(id).await?.map(|a| a.billing_mode))),
        })
        .await?;
        match contract {
            Ok(contract) => Ok(Self { access, contract }),
            Err(Some(billing_domain::account::BillingMode::Invoice)) => Err(ApiError::ContractNotSetUp),
            Err(_) => Err(ApiError::NotContractBilled),
        }
    }
}
