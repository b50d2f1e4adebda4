//! Members: the people on the customer's side who may see or manage the account, and their roles.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::{AccountId, Email, MemberId, UserId};

/// What a member may do.
///
/// | | read | billing contact, address, recipients, pay | members, audit |
/// |---|---|---|---|
/// | `viewer` | yes | no | no |
/// | `billing` | yes | yes | no |
/// | `admin` | yes | yes | yes |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    Admin,
    Billing,
    Viewer,
}

impl Role {
    pub fn can_manage_members(self) -> bool {
        self == Role::Admin
    }

    pub fn can_manage_billing(self) -> bool {
        matches!(self, Role::Admin | Role::Billing)
    }

    pub fn can_read_audit(self) -> bool {
        self == Role::Admin
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Billing => "billing",
            Role::Viewer => "viewer",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MemberStatus {
    /// Invited by e-mail; becomes active when a user with that verified e-mail first calls the API.
    Invited,
    Active,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: MemberId,
    pub account_id: AccountId,
    pub email: Email,
    pub role: Role,
    pub status: MemberStatus,
    /// The signed-in user behind this membership, once active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invited_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<DateTime<Utc>>,
}

impl Member {
    /// The user who creates an account becomes its first, active admin.
    pub fn founder(account_id: AccountId, user: UserId, email: Email, now: DateTime<Utc>) -> Self {
        Self {
            id: MemberId::generate(),
            account_id,
            email,
            role: Role::Admin,
            status: MemberStatus::Active,
            user_id: Some(user),
            invited_by: None,
            created_at: now,
            activated_at: Some(now),
        }
    }

    pub fn invite(account_id: AccountId, email: Email, role: Role, by: UserId, now: DateTime<Utc>) -> Self {
        Self {
            id: MemberId::generate(),
            account_id,
            email,
            role,
            status: MemberStatus::Invited,
            user_id: None,
            invited_by: Some(by),
            created_at: now,
            activated_at: None,
        }
    }

    /// The invitation accepted by `user`, whose verified e-mail matched it.
    pub fn activated(&self, user: UserId, now: DateTime<Utc>) -> Result<Self> {
        if self.status != MemberStatus::Invited {
            return Err(Error::Conflict);
        }
        Ok(Self { status: MemberStatus::Active, user_id: Some(user), activated_at: Some(now), ..self.clone() })
    }

    pub fn with_role(&self, role: Role) -> Self {
        Self { role, ..self.clone() }
    }

    pub fn is_active_admin(&self) -> bool {
        self.status == MemberStatus::Active && self.role == Role::Admin
    }

    /// How a change from `before` to `after` (`None`: absent) moves the account's count of active
    /// admins. A store applies it atomically and refuses any change that would take the count
    /// below one: that is the last-admin guard.
    pub fn active_admin_delta(before: Option<&Member>, after: Option<&Member>) -> i64 {
        let count = |m: Option<&Member>| i64::from(m.is_some_and(Member::is_active_admin));
        count(after) - count(before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invited(role: Role) -> Member {
        Member::invite(
            AccountId::generate(),
            "bo@example.com".parse().unwrap(),
            role,
            "admin-1".parse().unwrap(),
            Utc::now(),
        )
    }

    #[test]
    fn roles_grant_what_the_table_says() {
        assert!(Role::Admin.can_manage_members() && Role::Admin.can_manage_billing() && Role::Admin.can_read_audit());
        assert!(
            !Role::Billing.can_manage_members()
                && Role::Billing.can_manage_billing()
                && !Role::Billing.can_read_audit()
        );
        assert!(
            !Role::Viewer.can_manage_members() && !Role::Viewer.can_manage_billing() && !Role::Viewer.can_read_audit()
        );
    }

    #[test]
    fn only_active_admins_count() {
        let inv = invited(Role::Admin);
        assert_eq!(Member::active_admin_delta(None, Some(&inv)), 0, "an invitation is not an admin yet");
        let active = inv.activated("u-2".parse().unwrap(), Utc::now()).unwrap();
        assert_eq!(Member::active_admin_delta(Some(&inv), Some(&active)), 1);
        assert_eq!(Member::active_admin_delta(Some(&active), Some(&active.with_role(Role::Viewer))), -1);
        assert_eq!(Member::active_admin_delta(Some(&active), None), -1);
        let viewer = invited(Role::Viewer).activated("u-3".parse().unwrap(), Utc::now()).unwrap();
        assert_eq!(Member::active_admin_delta(Some(&viewer), None), 0);
    }

    #[test]
    fn an_active_member_cannot_be_activated_again() {
        let active = invited(Role::Billing).activated("u-2".parse().unwrap(), Utc::now()).unwrap();
        assert!(matches!(active.activated("u-3".parse().unwrap(), Utc::now()), Err(Error::Conflict)));
    }
}
