//! Applying one tenants service event to a copy of the tenant.

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    events::{from_timestamp, payload_as, to_timestamp},
};
use kefu_proto::v1::{
    ApprovalMatrixChanged, BusinessCalendarChanged, DepartmentChanged, EventEnvelope,
    SlaPolicyChanged, Team, TeamChanged, TeamMembershipChanged, TenantCreated, TenantUpdated, User,
    UserCreated, UserDeactivated, UserReactivated, UserState, UserUpdated,
};
use prost::Name;
use sea_orm::ConnectionTrait;

use super::Result;

/// What applying an event did, for the side effects the keeping service
/// owes (its own work of a deactivated user or a deleted team moves on).
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Not a tenants event the copy follows, or nothing to store.
    Nothing,
    /// The copy was updated.
    Stored,
    /// A user was deactivated (the event, with the successor if any).
    UserDeactivated(UserDeactivated),
    /// A team was deleted: its name and the team as the copy knew it.
    TeamDeleted {
        /// `teams/{team}`.
        name: String,
        /// The team before the deletion, with its members.
        known: Option<Team>,
    },
}

/// Whether `kind` (an envelope type) is a tenants event the copy follows.
pub fn relevant(kind: &str) -> bool {
    [
        TenantCreated::full_name(),
        TenantUpdated::full_name(),
        BusinessCalendarChanged::full_name(),
        UserCreated::full_name(),
        UserUpdated::full_name(),
        UserReactivated::full_name(),
        UserDeactivated::full_name(),
        TeamChanged::full_name(),
        TeamMembershipChanged::full_name(),
        DepartmentChanged::full_name(),
        SlaPolicyChanged::full_name(),
        ApprovalMatrixChanged::full_name(),
    ]
    .iter()
    .any(|name| name == kind)
}

/// Applies `event` (which happened `at`) to `tenant`'s copy.
pub async fn apply<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    event: &EventEnvelope,
    at: DateTime<Utc>,
) -> Result<Applied> {
    if let Some(created) = payload_as::<TenantCreated>(event) {
        tenant_created(db, tenant, &created, at).await?;
    } else if let Some(updated) = payload_as::<TenantUpdated>(event) {
        if let Some(snapshot) = updated.tenant {
            super::save_tenant(db, tenant, &snapshot).await?;
        }
    } else if let Some(changed) = payload_as::<BusinessCalendarChanged>(event) {
        calendar_changed(db, tenant, changed, at).await?;
    } else if let Some(created) = payload_as::<UserCreated>(event) {
        save_user(db, tenant, created.user).await?;
    } else if let Some(updated) = payload_as::<UserUpdated>(event) {
        save_user(db, tenant, updated.user).await?;
    } else if let Some(reactivated) = payload_as::<UserReactivated>(event) {
        save_user(db, tenant, reactivated.user).await?;
    } else if let Some(deactivated) = payload_as::<UserDeactivated>(event) {
        deactivate(db, tenant, &deactivated, at).await?;
        return Ok(Applied::UserDeactivated(deactivated));
    } else if let Some(changed) = payload_as::<TeamChanged>(event) {
        let known = super::team(db, tenant, &changed.name).await?;
        let team = changed.team.filter(|_| !changed.deleted);
        super::save_team(db, tenant, &changed.name, team.as_ref(), Some(at)).await?;
        if changed.deleted {
            return Ok(Applied::TeamDeleted {
                name: changed.name,
                known,
            });
        }
    } else if let Some(changed) = payload_as::<TeamMembershipChanged>(event) {
        super::save_members(db, tenant, &changed.team, &changed.members, Some(at)).await?;
    } else if let Some(changed) = payload_as::<DepartmentChanged>(event) {
        let department = changed.department.filter(|_| !changed.deleted);
        super::save_department(db, tenant, &changed.name, department.as_ref(), Some(at)).await?;
    } else if let Some(changed) = payload_as::<SlaPolicyChanged>(event) {
        let policy = changed.sla_policy.filter(|_| !changed.deleted);
        super::save_sla_policy(db, tenant, &changed.name, policy.as_ref(), Some(at)).await?;
    } else if let Some(changed) = payload_as::<ApprovalMatrixChanged>(event)
        && let Some(matrix) = changed.approval_matrix
    {
        super::save_approval_matrix(db, tenant, &matrix, Some(at)).await?;
    } else {
        return Ok(Applied::Nothing);
    }
    Ok(Applied::Stored)
}

/// The new tenant's profile, and what its template seeded in the tenants
/// service (departments, teams, SLA policies, approval matrix), which no
/// event of their own announces: seeded here from the same template with
/// the same function, with the tenant's creation time as their snapshot
/// time, so any later change wins.
async fn tenant_created<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    created: &TenantCreated,
    at: DateTime<Utc>,
) -> Result<()> {
    let Some(snapshot) = created.tenant.as_ref() else {
        return Ok(());
    };
    super::save_tenant(db, tenant, snapshot).await?;
    let seeded_at = snapshot
        .create_time
        .as_ref()
        .and_then(from_timestamp)
        .unwrap_or(at);
    let Some(template) =
        crate::templates::catalogue().get(&created.template, created.template_version)
    else {
        tracing::warn!(
            template = %created.template,
            version = created.template_version,
            "unknown industry template: nothing seeded in the tenant's copy"
        );
        return Ok(());
    };
    let locale = if created.locale.is_empty() {
        snapshot.locale.as_str()
    } else {
        created.locale.as_str()
    };
    let seed = crate::domain::seed::seed(template, locale, seeded_at);
    let time = Some(seeded_at);
    for (_, department) in &seed.departments {
        super::save_department(db, tenant, &department.name, Some(department), time).await?;
    }
    for (_, team) in &seed.teams {
        super::save_team(db, tenant, &team.name, Some(team), time).await?;
    }
    for (_, policy) in &seed.sla_policies {
        super::save_sla_policy(db, tenant, &policy.name, Some(policy), time).await?;
    }
    super::save_approval_matrix(db, tenant, &seed.approval_matrix, time).await?;
    Ok(())
}

/// The calendar and time zone of the stored tenant, replaced.
async fn calendar_changed<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    changed: BusinessCalendarChanged,
    at: DateTime<Utc>,
) -> Result<()> {
    let Some(mut snapshot) = super::tenant(db, tenant).await? else {
        // TenantUpdated carries the calendar too; nothing to patch yet.
        return Ok(());
    };
    if let Some(known) = super::tenant_time(db, tenant).await?
        && known > at
    {
        return Ok(());
    }
    snapshot.calendar = changed.calendar;
    if !changed.time_zone.is_empty() {
        snapshot.time_zone = changed.time_zone;
    }
    snapshot.update_time = Some(to_timestamp(at));
    super::save_tenant(db, tenant, &snapshot).await?;
    Ok(())
}

async fn save_user<C: ConnectionTrait>(db: &C, tenant: TenantId, user: Option<User>) -> Result<()> {
    if let Some(user) = user.filter(|user| kefu_kit::resource::id_in(&user.name, "users").is_some())
    {
        super::save_user(db, tenant, &user).await?;
    }
    Ok(())
}

/// Marks the user deactivated in the copy (the event carries no snapshot).
async fn deactivate<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    deactivated: &UserDeactivated,
    at: DateTime<Utc>,
) -> Result<()> {
    let mut user = super::user(db, tenant, &deactivated.user)
        .await?
        .unwrap_or_else(|| User {
            name: deactivated.user.clone(),
            display_name: deactivated.display_name.clone(),
            teams: deactivated.teams.clone(),
            ..User::default()
        });
    user.state = UserState::Deactivated as i32;
    user.deactivate_time = Some(to_timestamp(at));
    user.update_time = Some(to_timestamp(at));
    super::save_user(db, tenant, &user).await?;
    Ok(())
}
