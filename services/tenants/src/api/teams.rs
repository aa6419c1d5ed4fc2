//! Teams and their members, for `kefu.v1.IdentityService`. Teams are
//! documents; members live in `team_members`, so a membership change never
//! conflicts with an edit of the team's own fields.

use chrono::{DateTime, Utc};
use kefu_kit::context::{CallContext, TenantId};
use kefu_proto::v1::{
    AddTeamMemberRequest, CreateTeamRequest, DeleteTeamRequest, GetTeamRequest, ListTeamsRequest,
    ListTeamsResponse, RemoveTeamMemberRequest, Team, TeamChanged, TeamMembershipChanged, TeamTier,
    UpdateTeamRequest, UserState,
};
use prost::Message;
use sea_orm::DatabaseTransaction;

use super::{
    Shared, append_event,
    org_document::{self as flow, OrgDocument, Stored},
    organisation::{
        check_department_exists, check_skills_exist, check_user_exists, request_id,
        require_manager, sort_common,
    },
    page, require_admin, require_tenant, required,
};
use crate::{
    domain::{
        listing::{self, FieldKind},
        mask, names, organisation as rules,
    },
    error::{Result, TenantsError},
    store::{
        self,
        documents::{self, Collection},
        identity as users, organisation as members,
    },
};

/// Most teams an invitation may add the user to.
const MAX_TEAMS_AT_INVITATION: usize = 20;

/// `team` as callers see it: its members and etag filled in.
pub(super) async fn with_members(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    mut team: Team,
    revision: i64,
) -> Result<Team> {
    let id = names::id_in(&team.name, "teams")
        .unwrap_or_default()
        .to_owned();
    team.members = members::memberships(txn, tenant.0, Some(&id))
        .await?
        .into_iter()
        .map(|(_, user)| names::user(user))
        .collect();
    team.etag = store::etag(revision);
    Ok(team)
}

/// The `department_id` column kept beside the document, for the foreign
/// key and DeleteDepartment's in-use check.
fn department_column(team: &Team) -> sea_orm::Value {
    names::id_in(&team.department, "departments")
        .map(str::to_owned)
        .into()
}

impl OrgDocument for Team {
    const COLLECTION: Collection = Collection::Teams;
    const CREATE_METHOD: &'static str = "CreateTeam";

    fn not_found(name: &str) -> TenantsError {
        TenantsError::NotFound(format!("team {name:?}"))
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn etag(&self) -> Option<&str> {
        Some(&self.etag)
    }

    fn columns(&self) -> Vec<(&'static str, sea_orm::Value)> {
        vec![("department_id", department_column(self))]
    }

    async fn view(
        self,
        txn: &DatabaseTransaction,
        tenant: TenantId,
        revision: i64,
    ) -> Result<Self> {
        with_members(txn, tenant, self, revision).await
    }

    async fn check_references(
        &self,
        txn: &DatabaseTransaction,
        tenant: TenantId,
        before: Option<&Self>,
    ) -> Result<()> {
        if before.is_none_or(|before| before.department != self.department) {
            check_department_exists(txn, tenant, "team.department", &self.department).await?;
        }
        if before.is_none_or(|before| before.supervisor != self.supervisor) {
            check_user_exists(txn, tenant, "team.supervisor", &self.supervisor).await?;
        }
        if before.is_none_or(|before| before.skills != self.skills) {
            check_skills_exist(
                txn,
                tenant,
                "team.skills",
                "",
                self.skills.iter().map(String::as_str),
            )
            .await?;
        }
        Ok(())
    }

    async fn release(
        &self,
        txn: &DatabaseTransaction,
        tenant: TenantId,
        id: &str,
        _now: DateTime<Utc>,
    ) -> Result<()> {
        Ok(members::remove_all_members(txn, tenant.0, id).await?)
    }

    async fn publish(
        txn: &DatabaseTransaction,
        tenant: TenantId,
        name: &str,
        team: Option<Self>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let changed = TeamChanged {
            name: name.to_owned(),
            deleted: team.is_none(),
            team,
        };
        append_event(txn, tenant, name, &changed, now).await
    }
}

pub(super) async fn create_team(
    shared: &Shared,
    caller: &CallContext,
    request: CreateTeamRequest,
) -> Result<Team> {
    let tenant = require_manager(caller)?;
    let requested = required(request.team, "team")?;
    let request_id = request_id(&request.request_id)?;
    let now = shared.clock.now();
    let id = rules::new_id("team_id", &request.team_id)?;
    let team = rules::new_team(&requested, &id, now)?;
    flow::create(shared, tenant, request_id, &id, team, now).await
}

pub(super) async fn get_team(
    shared: &Shared,
    caller: &CallContext,
    request: GetTeamRequest,
) -> Result<Team> {
    let tenant = require_tenant(caller)?;
    let txn = shared.begin_read(tenant).await?;
    Ok(flow::load(&txn, tenant, &request.name).await?.resource)
}

pub(super) async fn list_teams(
    shared: &Shared,
    caller: &CallContext,
    request: ListTeamsRequest,
) -> Result<ListTeamsResponse> {
    let tenant = require_tenant(caller)?;
    let conditions = listing::parse_filter(
        &request.filter,
        &[
            ("tier", FieldKind::Text),
            ("department", FieldKind::Text),
            ("members", FieldKind::Repeated),
            ("supervisor", FieldKind::Text),
            ("skills", FieldKind::Repeated),
        ],
    )?;
    let order = listing::parse_order_by(
        &request.order_by,
        &["display_name", "create_time"],
        "display_name",
    )?;
    let txn = shared.begin_read(tenant).await?;
    let memberships = members::memberships(&txn, tenant.0, None).await?;
    let mut teams = Vec::new();
    for document in documents::list(&txn, Collection::Teams, tenant.0).await? {
        let mut team = Team::decode(document.resource.as_slice())?;
        team.etag = store::etag(document.revision);
        team.members = memberships
            .iter()
            .filter(|(team_id, _)| *team_id == document.id)
            .map(|(_, user)| names::user(*user))
            .collect();
        let tier = TeamTier::try_from(team.tier)
            .map(|tier| tier.as_str_name())
            .unwrap_or_default();
        let keep = conditions
            .iter()
            .all(|condition| match condition.field.as_str() {
                "tier" => condition.matches_enum(tier, "TEAM_TIER_"),
                "department" => condition.matches_text(&team.department),
                "members" => condition.matches_any(team.members.iter().map(String::as_str)),
                "supervisor" => condition.matches_text(&team.supervisor),
                _ => condition.matches_any(team.skills.iter().map(String::as_str)),
            });
        if keep {
            teams.push(team);
        }
    }
    sort_common(
        &mut teams,
        &order,
        |team| (&team.display_name, team.create_time.as_ref()),
        |a, b| a.name.cmp(&b.name),
    );
    let (teams, next_page_token, total_size) = page(teams, request.page_size, &request.page_token)?;
    Ok(ListTeamsResponse {
        teams,
        next_page_token,
        total_size,
    })
}

pub(super) async fn update_team(
    shared: &Shared,
    caller: &CallContext,
    request: UpdateTeamRequest,
) -> Result<Team> {
    let tenant = require_manager(caller)?;
    let patch = required(request.team, "team")?;
    let paths = mask::allowed_paths(
        request.update_mask.as_ref(),
        rules::TEAM_UPDATABLE,
        rules::TEAM_FIXED,
    )?;
    flow::update(shared, tenant, patch, &paths, rules::updated_team).await
}

pub(super) async fn delete_team(
    shared: &Shared,
    caller: &CallContext,
    request: DeleteTeamRequest,
) -> Result<()> {
    let tenant = require_admin(caller)?;
    flow::delete::<Team>(shared, tenant, &request.name).await
}

/// The member a membership request names: a user of the tenant, or
/// NOT_FOUND (another tenant's users included).
async fn load_member(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
) -> Result<users::StoredUser> {
    if name.is_empty() {
        return Err(TenantsError::invalid("user", "is required"));
    }
    let not_found = || TenantsError::NotFound(format!("user {name:?}"));
    let id = names::uuid_in(name, "users").ok_or_else(not_found)?;
    users::get_user(txn, tenant.0, id)
        .await?
        .ok_or_else(not_found)
}

async fn membership_changed(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    team: &Team,
    (added, removed): (Vec<String>, Vec<String>),
    now: DateTime<Utc>,
) -> Result<()> {
    let changed = TeamMembershipChanged {
        team: team.name.clone(),
        members: team.members.clone(),
        added,
        removed,
    };
    append_event(txn, tenant, &team.name, &changed, now).await
}

/// Adds `user` to the loaded team if it has room, publishing the change.
/// Returns the team as it is after, and whether the user was added (not
/// when a concurrent call added them first).
async fn add_to_team(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    team: Stored<Team>,
    user: uuid::Uuid,
    now: DateTime<Utc>,
) -> Result<(Team, bool)> {
    let Stored {
        resource: team,
        id,
        revision,
    } = team;
    if team.members.len() >= rules::MAX_TEAM_MEMBERS {
        return Err(TenantsError::IllegalTransition(
            format!(
                "{} has {} members, the most a team may have",
                team.name,
                rules::MAX_TEAM_MEMBERS
            ),
            None,
        ));
    }
    if !members::add_member(txn, tenant.0, &id, user).await? {
        return Ok((team, false));
    }
    let team = with_members(txn, tenant, team, revision).await?;
    membership_changed(
        txn,
        tenant,
        &team,
        (vec![names::user(user)], Vec::new()),
        now,
    )
    .await?;
    Ok((team, true))
}

/// Checks the teams an invitation names (at most 20, each a team of the
/// tenant) and returns their ids, each once.
pub(super) async fn teams_to_join(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    teams: &[String],
) -> Result<Vec<String>> {
    if teams.len() > MAX_TEAMS_AT_INVITATION {
        return Err(TenantsError::invalid(
            "teams",
            format!(
                "at most {MAX_TEAMS_AT_INVITATION} teams, not {}",
                teams.len()
            ),
        ));
    }
    let mut ids: Vec<String> = Vec::with_capacity(teams.len());
    for (index, name) in teams.iter().enumerate() {
        let field = format!("teams[{index}]");
        let id = names::id_in(name, "teams").ok_or_else(|| {
            TenantsError::invalid(&field, format!("{name:?} is not a teams/{{team}} name"))
        })?;
        if documents::get(txn, Collection::Teams, tenant.0, id)
            .await?
            .is_none()
        {
            return Err(TenantsError::invalid(
                &field,
                format!("{name:?} is not a team of this tenant"),
            ));
        }
        if !ids.iter().any(|seen| seen == id) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

/// Adds a new user to the team `id`, publishing the membership change.
pub(super) async fn join(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    id: &str,
    user: uuid::Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    let team = flow::load(txn, tenant, &format!("teams/{id}")).await?;
    add_to_team(txn, tenant, team, user, now).await?;
    Ok(())
}

pub(super) async fn add_team_member(
    shared: &Shared,
    caller: &CallContext,
    request: AddTeamMemberRequest,
) -> Result<Team> {
    let tenant = require_manager(caller)?;
    let now = shared.clock.now();
    let txn = shared.begin_for_tenant(tenant).await?;
    let team: Stored<Team> = flow::load(&txn, tenant, &request.name).await?;
    let member = load_member(&txn, tenant, &request.user).await?;
    let member_name = names::user(member.id);
    if team.resource.members.contains(&member_name) {
        return Ok(team.resource);
    }
    if member.user.state == UserState::Deactivated as i32 {
        return Err(TenantsError::IllegalTransition(
            format!("{member_name} is deactivated; reactivate the user first"),
            None,
        ));
    }
    let (team, added) = add_to_team(&txn, tenant, team, member.id, now).await?;
    // Not added: a concurrent call added the member first, nothing changed.
    if added {
        txn.commit().await?;
        shared.outbox.notify();
    }
    Ok(team)
}

pub(super) async fn remove_team_member(
    shared: &Shared,
    caller: &CallContext,
    request: RemoveTeamMemberRequest,
) -> Result<Team> {
    let tenant = require_manager(caller)?;
    let now = shared.clock.now();
    let txn = shared.begin_for_tenant(tenant).await?;
    let Stored {
        resource: team,
        id,
        revision,
    } = flow::load(&txn, tenant, &request.name).await?;
    let member = load_member(&txn, tenant, &request.user).await?;
    if !members::remove_member(&txn, tenant.0, &id, member.id).await? {
        return Ok(team);
    }
    let team = with_members(&txn, tenant, team, revision).await?;
    membership_changed(
        &txn,
        tenant,
        &team,
        (Vec::new(), vec![names::user(member.id)]),
        now,
    )
    .await?;
    txn.commit().await?;
    shared.outbox.notify();
    Ok(team)
}
