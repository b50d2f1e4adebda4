//! Seats: the entitlements an account has paid for, one per user, kept apart from billing.
//!
//! [`reconcile`] decides, from the seats an account has and what its subscription pays for, the
//! changes that make them agree. It depends only on those two, so replays, duplicates and
//! out-of-order notifications converge: reconciling again after applying a plan plans nothing.
//!
//! - More paid than held: suspended seats come back first, then seats marked for removal, then
//!   new unassigned seats.
//! - Fewer paid: unassigned seats go first; assigned seats are never revoked silently: the excess
//!   is marked `pending_removal` (newest assignments first) until an admin unassigns someone.
//! - Not entitled (canceled, unpaid, paused, …): every seat is `suspended`, assignments kept, so
//!   recovery restores them as they were.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::billing::SeatCount;
use crate::ids::{AccountId, Email, SeatId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SeatStatus {
    /// Paid for, usable, nobody on it yet.
    Unassigned,
    Assigned,
    /// Assigned, but beyond what is paid for now: an admin should unassign someone.
    PendingRemoval,
    /// The subscription does not entitle seats now (canceled, unpaid, paused).
    Suspended,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seat {
    pub id: SeatId,
    pub account_id: AccountId,
    pub status: SeatStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Seat {
    pub fn new(account_id: AccountId, now: DateTime<Utc>) -> Self {
        Self {
            id: SeatId::generate(),
            account_id,
            status: SeatStatus::Unassigned,
            assignee: None,
            assigned_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Counts toward what is paid for (usable now).
    pub fn is_active(&self) -> bool {
        matches!(self.status, SeatStatus::Unassigned | SeatStatus::Assigned)
    }

    fn with_status(&self, status: SeatStatus, now: DateTime<Utc>) -> Self {
        Self { status, updated_at: now, ..self.clone() }
    }

    /// The state a seat returns to when it is usable again.
    fn usable_status(&self) -> SeatStatus {
        if self.assignee.is_some() { SeatStatus::Assigned } else { SeatStatus::Unassigned }
    }
}

/// One change to an account's seats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatChange {
    Create(Seat),
    Update(Seat),
    Delete(SeatId),
}

/// The account's seats and the version they are at (every change bumps it; writes are
/// conditional on it, so concurrent reconciliations cannot both apply).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeatBook {
    pub version: u64,
    pub seats: Vec<Seat>,
}

impl SeatBook {
    pub fn count(&self, status: SeatStatus) -> usize {
        self.seats.iter().filter(|s| s.status == status).count()
    }

    pub fn active(&self) -> usize {
        self.seats.iter().filter(|s| s.is_active()).count()
    }
}

/// The changes that make `seats` match `paid` seats of a subscription that does (`entitled`) or
/// does not entitle them now.
pub fn reconcile(
    account: &AccountId,
    seats: &[Seat],
    paid: SeatCount,
    entitled: bool,
    now: DateTime<Utc>,
) -> Vec<SeatChange> {
    let mut changes = Vec::new();
    if !entitled {
        for s in seats.iter().filter(|s| s.status != SeatStatus::Suspended) {
            changes.push(SeatChange::Update(s.with_status(SeatStatus::Suspended, now)));
        }
        return changes;
    }
    let target = paid.get() as usize;
    let mut active = seats.iter().filter(|s| s.is_active()).count();
    // People first (assigned seats before empty ones), oldest assignments first: the newest are
    // the ones marked for removal, and the last restored.
    let mut waiting: Vec<&Seat> =
        seats.iter().filter(|s| matches!(s.status, SeatStatus::Suspended | SeatStatus::PendingRemoval)).collect();
    waiting
        .sort_by_key(|s| (s.status == SeatStatus::PendingRemoval, s.assignee.is_none(), s.assigned_at, s.created_at));
    let mut restored = std::collections::HashSet::new();
    for s in waiting.iter().filter(|s| s.status == SeatStatus::Suspended) {
        if active < target {
            changes.push(SeatChange::Update(s.with_status(s.usable_status(), now)));
            restored.insert(s.id.clone());
            active += 1;
        }
    }
    for s in waiting.iter().filter(|s| s.status == SeatStatus::PendingRemoval) {
        if active < target {
            changes.push(SeatChange::Update(s.with_status(SeatStatus::Assigned, now)));
            restored.insert(s.id.clone());
            active += 1;
        }
    }
    // Suspended seats beyond what is paid stay out of use: unassigned ones go, assigned ones
    // wait for an admin.
    for s in waiting.iter().filter(|s| s.status == SeatStatus::Suspended && !restored.contains(&s.id)) {
        changes.push(match s.assignee {
            None => SeatChange::Delete(s.id.clone()),
            Some(_) => SeatChange::Update(s.with_status(SeatStatus::PendingRemoval, now)),
        });
    }
    while active < target {
        changes.push(SeatChange::Create(Seat::new(account.clone(), now)));
        active += 1;
    }
    if active > target {
        let mut excess = active - target;
        let mut unassigned: Vec<&Seat> = seats.iter().filter(|s| s.status == SeatStatus::Unassigned).collect();
        unassigned.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        for s in unassigned.into_iter().take(excess) {
            changes.push(SeatChange::Delete(s.id.clone()));
            excess -= 1;
        }
        let mut assigned: Vec<&Seat> = seats.iter().filter(|s| s.status == SeatStatus::Assigned).collect();
        assigned.sort_by_key(|s| std::cmp::Reverse((s.assigned_at, s.created_at)));
        for s in assigned.into_iter().take(excess) {
            changes.push(SeatChange::Update(s.with_status(SeatStatus::PendingRemoval, now)));
        }
    }
    changes
}

/// `seats` after `changes`.
pub fn apply(seats: &[Seat], changes: &[SeatChange]) -> Vec<Seat> {
    let mut out: Vec<Seat> = seats.to_vec();
    for c in changes {
        match c {
            SeatChange::Create(s) => out.push(s.clone()),
            SeatChange::Update(s) => {
                if let Some(slot) = out.iter_mut().find(|o| o.id == s.id) {
                    *slot = s.clone();
                }
            }
            SeatChange::Delete(id) => out.retain(|o| &o.id != id),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn acct() -> AccountId {
        "acct_seats".parse().unwrap()
    }

    fn at(n: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_795_000_000 + n, 0).unwrap()
    }

    fn seat(n: i64, status: SeatStatus, assignee: Option<&str>) -> Seat {
        let mut s = Seat::new(acct(), at(n));
        s.status = status;
        s.assignee = assignee.map(|a| a.parse().unwrap());
        s.assigned_at = assignee.map(|_| at(n + 1000));
        s
    }

    fn paid(n: u32) -> SeatCount {
        SeatCount::try_from(i64::from(n)).unwrap()
    }

    fn settle(seats: &[Seat], n: u32, entitled: bool) -> Vec<Seat> {
        apply(seats, &reconcile(&acct(), seats, paid(n), entitled, at(5000)))
    }

    fn count(seats: &[Seat], status: SeatStatus) -> usize {
        seats.iter().filter(|s| s.status == status).count()
    }

    #[test]
    fn an_increase_creates_unassigned_seats() {
        let after = settle(&[seat(1, SeatStatus::Assigned, Some("a@x.example"))], 5, true);
        assert_eq!((count(&after, SeatStatus::Assigned), count(&after, SeatStatus::Unassigned)), (1, 4));
    }

    #[test]
    fn a_decrease_removes_unassigned_seats_first_and_never_revokes_silently() {
        let seats = vec![
            seat(1, SeatStatus::Assigned, Some("a@x.example")),
            seat(2, SeatStatus::Assigned, Some("b@x.example")),
            seat(3, SeatStatus::Assigned, Some("c@x.example")),
            seat(4, SeatStatus::Unassigned, None),
        ];
        let after = settle(&seats, 2, true);
        assert_eq!(after.len(), 3, "the unassigned seat went; no assigned seat was deleted");
        assert_eq!(count(&after, SeatStatus::PendingRemoval), 1);
        let pending = after.iter().find(|s| s.status == SeatStatus::PendingRemoval).unwrap();
        assert_eq!(pending.assignee.as_ref().unwrap().as_str(), "c@x.example", "newest assignment first");
        // Paid again: the marked seat comes back before any new one is made.
        let back = settle(&after, 3, true);
        assert_eq!((back.len(), count(&back, SeatStatus::Assigned)), (3, 3));
    }

    #[test]
    fn cancellation_suspends_and_recovery_restores_assignments() {
        let seats = vec![seat(1, SeatStatus::Assigned, Some("a@x.example")), seat(2, SeatStatus::Unassigned, None)];
        let suspended = settle(&seats, 2, false);
        assert!(suspended.iter().all(|s| s.status == SeatStatus::Suspended));
        let restored = settle(&suspended, 2, true);
        assert_eq!((count(&restored, SeatStatus::Assigned), count(&restored, SeatStatus::Unassigned)), (1, 1));
        assert_eq!(restored.iter().find(|s| s.assignee.is_some()).unwrap().id, seats[0].id, "the same seat");
    }

    #[test]
    fn recovering_with_fewer_seats_keeps_assignments_waiting() {
        let seats = vec![
            seat(1, SeatStatus::Suspended, Some("a@x.example")),
            seat(2, SeatStatus::Suspended, Some("b@x.example")),
            seat(3, SeatStatus::Suspended, None),
        ];
        let after = settle(&seats, 1, true);
        assert_eq!(count(&after, SeatStatus::Assigned), 1);
        assert_eq!(count(&after, SeatStatus::PendingRemoval), 1);
        assert_eq!(after.len(), 2, "the suspended unassigned seat is not paid for any more");
    }

    fn arb_seats() -> impl Strategy<Value = Vec<Seat>> {
        prop::collection::vec((0..4u8, any::<bool>()), 0..12).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (st, assigned))| {
                    let status = [
                        SeatStatus::Unassigned,
                        SeatStatus::Assigned,
                        SeatStatus::PendingRemoval,
                        SeatStatus::Suspended,
                    ][st as usize];
                    let who = (status != SeatStatus::Unassigned && (assigned || status != SeatStatus::Suspended))
                        .then(|| format!("u{i}@x.example"));
                    seat(i as i64, status, who.as_deref())
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn reconciling_converges_and_keeps_every_assignment(seats in arb_seats(), n in 0u32..15, entitled: bool) {
            let after = settle(&seats, n, entitled);
            // Converged: reconciling again changes nothing.
            prop_assert!(reconcile(&acct(), &after, paid(n), entitled, at(6000)).is_empty());
            // Nobody assigned lost their seat record.
            for s in seats.iter().filter(|s| s.assignee.is_some()) {
                prop_assert!(after.iter().any(|a| a.id == s.id && a.assignee == s.assignee));
            }
            if entitled {
                // Exactly what is paid is usable; more assigned than that wait as pending removal.
                prop_assert_eq!(after.iter().filter(|s| s.is_active()).count(), n as usize);
            } else {
                prop_assert!(after.iter().all(|s| s.status == SeatStatus::Suspended));
            }
        }
    }
}
