//! The seller's staff: who may do what in the back office, and four-eyes approval.
//!
//! Staff sign in to their own user pool; their Cognito groups are their roles. What a role may do
//! is one table here ([`Role::permissions`]), Kill Bill style `resource:action` permissions, the
//! only place the API asks. IAM-signed scripts (the `/v1/ops` routes) hold every permission: their
//! IAM policy is what limits them.
//!
//! Money that leaves the books by a staff decision (a credit note) above the seller's approval
//! limit is only *requested*: it takes effect when a second person with `credit_note:approve`
//! approves it, never the one who asked ([`Approval::decide`]). Every staff write names a reason
//! from [`ReasonCode`] and may add words; both land in the audit entry.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::AccountId;
use crate::money::Money;

/// What the back office asks before it acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Permission {
    /// Read accounts, bills, payments, receivables, audit.
    #[serde(rename = "account:read")]
    AccountRead,
    /// Record a mailed check or other payment received.
    #[serde(rename = "payment:record")]
    PaymentRecord,
    /// Issue a credit note (above the approval limit: request one).
    #[serde(rename = "credit_note:create")]
    CreditNoteCreate,
    /// Approve or reject another person's credit-note request.
    #[serde(rename = "credit_note:approve")]
    CreditNoteApprove,
    /// Void a draft bill.
    #[serde(rename = "invoice:void")]
    InvoiceVoid,
    /// Preview a bill run (dry run) and make drafts.
    #[serde(rename = "bill_run:preview")]
    BillRunPreview,
    /// Finalize a bill run: number and send the bills.
    #[serde(rename = "bill_run:finalize")]
    BillRunFinalize,
    /// Pause or resume an account's payment reminders.
    #[serde(rename = "reminders:pause")]
    RemindersPause,
    /// Discard a parked processor event.
    #[serde(rename = "parked_event:discard")]
    ParkedEventDiscard,
    /// Add a user to a customer's account.
    #[serde(rename = "member:manage")]
    MemberManage,
    /// Prices, cohorts and their imports, tax rates and settings, the reminder schedule.
    #[serde(rename = "catalog:manage")]
    CatalogManage,
}

impl Permission {
    pub const ALL: [Permission; 11] = [
        Permission::AccountRead,
        Permission::PaymentRecord,
        Permission::CreditNoteCreate,
        Permission::CreditNoteApprove,
        Permission::InvoiceVoid,
        Permission::BillRunPreview,
        Permission::BillRunFinalize,
        Permission::RemindersPause,
        Permission::ParkedEventDiscard,
        Permission::MemberManage,
        Permission::CatalogManage,
    ];

    /// Its name, `resource:action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::AccountRead => "account:read",
            Permission::PaymentRecord => "payment:record",
            Permission::CreditNoteCreate => "credit_note:create",
            Permission::CreditNoteApprove => "credit_note:approve",
            Permission::InvoiceVoid => "invoice:void",
            Permission::BillRunPreview => "bill_run:preview",
            Permission::BillRunFinalize => "bill_run:finalize",
            Permission::RemindersPause => "reminders:pause",
            Permission::ParkedEventDiscard => "parked_event:discard",
            Permission::MemberManage => "member:manage",
            Permission::CatalogManage => "catalog:manage",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A staff role: a group of the staff user pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = StaffRole))]
pub enum Role {
    /// Day-to-day receivables: reads everything, records payments, issues credit notes (above
    /// the limit: requests them), pauses reminders, previews bill runs.
    Clerk,
    /// A clerk who also approves others' credit-note requests, finalizes bill runs, voids
    /// drafts and discards parked events.
    Approver,
    /// Everything: the catalog, cohorts, tax and reminder settings, customers' users.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Clerk, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// The one permission table.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission as P;
        const CLERK: &[Permission] =
            &[P::AccountRead, P::PaymentRecord, P::CreditNoteCreate, P::RemindersPause, P::BillRunPreview];
        const APPROVER: &[Permission] = &[
            P::AccountRead,
            P::PaymentRecord,
            P::CreditNoteCreate,
            P::RemindersPause,
            P::BillRunPreview,
            P::CreditNoteApprove,
            P::BillRunFinalize,
            P::InvoiceVoid,
            P::ParkedEventDiscard,
        ];
        match self {
            Role::Clerk => CLERK,
            Role::Approver => APPROVER,
            Role::Admin => &Permission::ALL,
        }
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> std::result::Result<Self, ()> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or(())
    }
}

/// The roles in a `cognito:groups` claim as API Gateway passes it to the function: a JSON array,
/// or its flattened form `[clerk approver]`, or one group. Groups that are not roles are ignored.
pub fn roles_from_groups(claim: &str) -> Vec<Role> {
    let names: Vec<String> = match serde_json::from_str::<Vec<String>>(claim) {
        Ok(list) => list,
        Err(_) => claim
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split([' ', ','])
            .map(|s| s.trim().trim_matches('"').to_owned())
            .collect(),
    };
    let mut roles: Vec<Role> = names.iter().filter_map(|n| n.parse().ok()).collect();
    roles.sort_unstable();
    roles.dedup();
    roles
}

/// A signed-in staff member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffMember {
    /// The staff pool's `sub`.
    pub id: String,
    pub email: String,
    pub roles: Vec<Role>,
}

impl StaffMember {
    pub fn can(&self, p: Permission) -> bool {
        self.roles.iter().any(|r| r.permissions().contains(&p))
    }

    /// Every permission the roles give, in the table's order.
    pub fn permissions(&self) -> Vec<Permission> {
        Permission::ALL.into_iter().filter(|p| self.can(*p)).collect()
    }
}

/// Why staff changed something: the documented list, as finance reports it, plus free words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReasonCode {
    /// A check or transfer came in.
    PaymentReceived,
    /// The bank returned a check (NSF, stopped, account closed).
    PaymentReturned,
    /// The bill was wrong (wrong price, quantity, period).
    BillingError,
    /// A credit for an outage or missed service level.
    ServiceCredit,
    /// A courtesy credit.
    Goodwill,
    /// Charged twice.
    Duplicate,
    /// The customer asked (a pause, a user added).
    CustomerRequest,
    /// Money that will not be collected.
    WriteOff,
    /// Setting up or correcting the seller's configuration.
    Configuration,
    /// Anything else: say what in the words.
    Other,
}

impl ReasonCode {
    /// Its name, as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::PaymentReceived => "payment_received",
            ReasonCode::PaymentReturned => "payment_returned",
            ReasonCode::BillingError => "billing_error",
            ReasonCode::ServiceCredit => "service_credit",
            ReasonCode::Goodwill => "goodwill",
            ReasonCode::Duplicate => "duplicate",
            ReasonCode::CustomerRequest => "customer_request",
            ReasonCode::WriteOff => "write_off",
            ReasonCode::Configuration => "configuration",
            ReasonCode::Other => "other",
        }
    }

    pub const ALL: [ReasonCode; 10] = [
        ReasonCode::PaymentReceived,
        ReasonCode::PaymentReturned,
        ReasonCode::BillingError,
        ReasonCode::ServiceCredit,
        ReasonCode::Goodwill,
        ReasonCode::Duplicate,
        ReasonCode::CustomerRequest,
        ReasonCode::WriteOff,
        ReasonCode::Configuration,
        ReasonCode::Other,
    ];
}

/// A staff write's reason: its code and the person's words (required for `other`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reason {
    pub code: ReasonCode,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

impl Reason {
    /// The code and up to 500 characters of words; `other` needs words.
    pub fn parse(code: ReasonCode, text: Option<&str>) -> Result<Self> {
        let text = text.map(str::trim).unwrap_or_default();
        if text.chars().count() > 500 {
            return Err(Error::invalid("reason.text", "must be at most 500 characters"));
        }
        if code == ReasonCode::Other && text.is_empty() {
            return Err(Error::invalid("reason.text", "say what the reason is (the code is `other`)"));
        }
        Ok(Self { code, text: text.to_owned() })
    }
}

/// Whether an approval is still waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
}

/// What an approval issues once approved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ApprovalKind {
    /// A credit note of the amount.
    #[default]
    CreditNote,
    /// A write-off of what is left of the bill, at most the amount (the bill becomes
    /// uncollectible; no account credit).
    WriteOff,
}

/// A credit note or write-off asked for above the approval limit, waiting for a second person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approval {
    /// `apr_…`; the credit note it becomes is `cn_…` with the same suffix (so approving twice,
    /// or again after a crash, issues it once).
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub account_id: AccountId,
    pub invoice_id: String,
    #[serde(default)]
    pub kind: ApprovalKind,
    /// The bill's number, for the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_number: Option<String>,
    pub amount: Money,
    /// What the credit note will say (printed on it).
    pub description: String,
    pub reason: Reason,
    pub requested_by: String,
    pub requested_by_email: String,
    pub requested_at: DateTime<Utc>,
    pub status: ApprovalStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// The approver's or rejecter's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_note: Option<String>,
}

/// Why an approval cannot be decided by this person now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Four eyes: the one who asked does not approve.
    OwnRequest,
    /// Already approved or rejected.
    Decided(ApprovalStatus),
}

impl Approval {
    /// The id of the credit note it becomes.
    pub fn credit_note_id(&self) -> String {
        format!("cn_{}", self.id.trim_start_matches("apr_"))
    }

    /// `by` approves (`approve`) or rejects it: never their own request, never twice.
    pub fn decide(
        &self,
        by: &StaffMember,
        approve: bool,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> std::result::Result<Approval, Refusal> {
        if self.status != ApprovalStatus::Pending {
            return Err(Refusal::Decided(self.status));
        }
        if self.requested_by == by.id {
            return Err(Refusal::OwnRequest);
        }
        Ok(Approval {
            status: if approve { ApprovalStatus::Approved } else { ApprovalStatus::Rejected },
            decided_by: Some(by.email.clone()),
            decided_at: Some(now),
            decision_note: note,
            ..self.clone()
        })
    }
}

/// The seller's four-eyes rule: credit notes above `credit_note_limit` (in the bill's currency's
/// major units, any currency) need a second person. `None`: none do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApprovalPolicy {
    pub credit_note_limit: Option<Decimal>,
}

impl ApprovalPolicy {
    pub fn needs_approval(&self, amount: &Money) -> bool {
        self.credit_note_limit.is_some_and(|limit| amount.amount() > limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, roles: &[Role]) -> StaffMember {
        StaffMember { id: id.into(), email: format!("{id}@seller.example"), roles: roles.to_vec() }
    }

    #[test]
    fn the_permission_table() {
        let clerk = member("c", &[Role::Clerk]);
        assert!(clerk.can(Permission::PaymentRecord) && clerk.can(Permission::CreditNoteCreate));
        for p in [Permission::CreditNoteApprove, Permission::BillRunFinalize, Permission::CatalogManage] {
            assert!(!clerk.can(p), "{p}");
        }
        let approver = member("a", &[Role::Approver]);
        assert!(approver.can(Permission::CreditNoteApprove) && approver.can(Permission::BillRunFinalize));
        assert!(!approver.can(Permission::CatalogManage) && !approver.can(Permission::MemberManage));
        assert_eq!(member("x", &[Role::Admin]).permissions(), Permission::ALL.to_vec());
        assert!(member("n", &[]).permissions().is_empty(), "no role, nothing");
        // Every role reads; every permission someone holds.
        for r in Role::ALL {
            assert!(r.permissions().contains(&Permission::AccountRead));
        }
    }

    #[test]
    fn groups_as_api_gateway_passes_them() {
        assert_eq!(roles_from_groups("[clerk approver]"), [Role::Clerk, Role::Approver]);
        assert_eq!(roles_from_groups(r#"["admin","customers"]"#), [Role::Admin]);
        assert_eq!(roles_from_groups("approver"), [Role::Approver]);
        assert_eq!(roles_from_groups("[]"), []);
        assert_eq!(roles_from_groups("[Admin root]"), [], "names are exact");
    }

    #[test]
    fn four_eyes() {
        let now = Utc::now();
        let usd: crate::money::Currency = "USD".parse().unwrap();
        let approval = Approval {
            id: "apr_1".into(),
            account_id: "acct_a".parse().unwrap(),
            invoice_id: "bill_a_20261201".into(),
            kind: ApprovalKind::CreditNote,
            invoice_number: Some("INV-000001".into()),
            amount: Money::new("900".parse().unwrap(), usd),
            description: "Rack A12 down 3 days (SLA credit)".into(),
            reason: Reason::parse(ReasonCode::ServiceCredit, Some("rack down 3 days")).unwrap(),
            requested_by: "clerk-1".into(),
            requested_by_email: "clerk-1@seller.example".into(),
            requested_at: now,
            status: ApprovalStatus::Pending,
            decided_by: None,
            decided_at: None,
            decision_note: None,
        };
        let own = member("clerk-1", &[Role::Approver]);
        assert_eq!(approval.decide(&own, true, None, now), Err(Refusal::OwnRequest));
        let other = member("approver-1", &[Role::Approver]);
        let approved = approval.decide(&other, true, None, now).unwrap();
        assert_eq!(
            (approved.status, approved.decided_by.as_deref()),
            (ApprovalStatus::Approved, Some("approver-1@seller.example"))
        );
        assert_eq!(approved.decide(&other, false, None, now), Err(Refusal::Decided(ApprovalStatus::Approved)));
        assert_eq!(approval.credit_note_id(), "cn_1");

        let policy = ApprovalPolicy { credit_note_limit: Some("500".parse().unwrap()) };
        assert!(policy.needs_approval(&approval.amount));
        assert!(!policy.needs_approval(&Money::new("500.00".parse().unwrap(), usd)), "at the limit: no");
        assert!(!ApprovalPolicy::default().needs_approval(&approval.amount));
    }

    #[test]
    fn reasons() {
        assert!(Reason::parse(ReasonCode::Other, Some("  ")).is_err());
        assert!(Reason::parse(ReasonCode::Goodwill, None).is_ok());
        assert!(Reason::parse(ReasonCode::Goodwill, Some(&"x".repeat(501))).is_err());
    }
}
