//! Teams and their members, for `kefu.v1.IdentityService`. Teams are
//! documents; members live in `team_members`, so a membership change never
//! conflicts with an edit of the team's own fields.

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::{CallContext, TenantId},
    db::is_unique_violation,
    events::new_event,
    outbox,
};
use kefu_proto::v1::{
    AddTeamMemberRequest, CreateTeamRequest, DeleteTeamRequest, GetTeamRequest, ListTeamsRequest,
    ListTeamsResponse, RemoveTeamMemberRequest, Team, TeamChanged, TeamMembershipChanged, TeamTier,
    UpdateTeamRequest, UserState,
};
use prost::Message;
use sea_orm::DatabaseTransaction;

use super::{
    Shared, load_document,
    organisation::{
        check_department_exists, check_skills_exist, check_user_exists, remember, replayed,
        request_id, require_manager, sort_common,
    },
    page, require_admin, require_tenant,
};
use crate::{
    NAME,
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

fn team_not_found(name: &str) -> TenantsError {
    TenantsError::NotFound(format!("team {name:?}"))
}

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

/// The team `name` with its members, its id and revision.
async fn load_team(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
) -> Result<(Team, String, i64)> {
    let document = load_document(txn, Collection::Teams, tenant, name, team_not_found).await?;
    let team = Team::decode(document.resource.as_slice())?;
    let team = with_members(txn, tenant, team, document.revision).await?;
    Ok((team, document.id, document.revision))
}

/// The `department_id` column kept beside the document, for the foreign
/// key and DeleteDepartment's in-use check.
fn department_column(team: &Team) -> sea_orm::Value {
    names::id_in(&team.department, "departments")
        .map(str::to_owned)
        .into()
}

/// Checks that what `team` references exists, where it differs from
/// `before`.
async fn check_references(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    team: &Team,
    before: Option<&Team>,
) -> Result<()> {
    if before.is_none_or(|before| before.department != team.department) {
        check_department_exists(txn, tenant, "team.department", &team.department).await?;
    }
    if before.is_none_or(|before| before.supervisor != team.supervisor) {
        check_user_exists(txn, tenant, "team.supervisor", &team.supervisor).await?;
    }
    if before.is_none_or(|before| before.skills != team.skills) {
        check_skills_exist(
            txn,
            tenant,
            "team.skills",
            "",
            team.skills.iter().map(String::as_str),
        )
        .await?;
    }
    Ok(())
}

async fn team_changed(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    team: Option<Team>,
    now: DateTime<Utc>,
) -> Result<()> {
    let event = new_event(
        NAME,
        Some(tenant),
        name.to_owned(),
        &TeamChanged {
            name: name.to_owned(),
            deleted: team.is_none(),
            team,
        },
        now,
    );
    Ok(outbox::append(txn, &event).await?)
}

pub(super) async fn create_team(
    shared: &Shared,
    caller: &CallContext,
    request: CreateTeamRequest,
) -> Result<Team> {
    let tenant = require_manager(caller)?;
    let requested = request
        .team
        .ok_or_else(|| TenantsError::invalid("team", "is required"))?;
    let request_id = request_id(&request.request_id)?;
    let now = shared.clock.now();
    let id = rules::new_id("team_id", &request.team_id)?;
    let team = rules::new_team(&requested, &id, now)?;
    let txn = shared.begin_for_tenant(tenant).await?;
    if let Some(name) = replayed(&txn, tenant, request_id, "CreateTeam").await? {
        return Ok(load_team(&txn, tenant, &name).await?.0);
    }
    check_references(&txn, tenant, &team, None).await?;
    documents::insert(
        &txn,
        Collection::Teams,
        tenant.0,
        &id,
        team.encode_to_vec(),
        now,
        &[("department_id", department_column(&team))],
    )
    .await
    .map_err(|error| {
        if is_unique_violation(&error) {
            TenantsError::AlreadyExists(team.name.clone())
        } else {
            error.into()
        }
    })?;
    remember(&txn, tenant, request_id, "CreateTeam", &team.name, now).await?;
    let team = Team {
        etag: store::etag(1),
        ..team
    };
    team_changed(&txn, tenant, &team.name, Some(team.clone()), now).await?;
    txn.commit().await?;
    shared.outbox.notify();
    Ok(team)
}

pub(super) async fn get_team(
    shared: &Shared,
    caller: &CallContext,
    request: GetTeamRequest,
) -> Result<Team> {
    let tenant = require_tenant(caller)?;
    let txn = shared.begin_for_tenant(tenant).await?;
    Ok(load_team(&txn, tenant, &request.name).await?.0)
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
    let txn = shared.begin_for_tenant(tenant).await?;
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
    let patch = request
        .team
        .ok_or_else(|| TenantsError::invalid("team", "is required"))?;
    let paths = mask::allowed_paths(
        request.update_mask.as_ref(),
        rules::TEAM_UPDATABLE,
        rules::TEAM_FIXED,
    )?;
    let now = shared.clock.now();
    let txn = shared.begin_for_tenant(tenant).await?;
    let (current, id, revision) = load_team(&txn, tenant, &patch.name).await?;
    if !store::etag_matches(&patch.etag, revision) {
        return Err(TenantsError::StaleEtag(current.name));
    }
    let updated = rules::updated_team(&current, &patch, &paths, now)?;
    check_references(&txn, tenant, &updated, Some(&current)).await?;
    if !documents::replace(
        &txn,
        Collection::Teams,
        tenant.0,
        &id,
        revision,
        updated.encode_to_vec(),
        &[("department_id", department_column(&updated))],
    )
    .await?
    {
        return Err(TenantsError::StaleEtag(current.name));
    }
    let updated = with_members(&txn, tenant, updated, revision + 1).await?;
    team_changed(&txn, tenant, &updated.name, Some(updated.clone()), now).await?;
    txn.commit().await?;
    shared.outbox.notify();
    Ok(updated)
}

pub(super) async fn delete_team(
    shared: &Shared,
    caller: &CallContext,
    request: DeleteTeamRequest,
) -> Result<()> {
    let tenant = require_admin(caller)?;
    let now = shared.clock.now();
    let txn = shared.begin_for_tenant(tenant).await?;
    let (team, id, _) = load_team(&txn, tenant, &request.name).await?;
    members::remove_all_members(&txn, tenant.0, &id).await?;
    documents::delete(&txn, Collection::Teams, tenant.0, &id).await?;
    team_changed(&txn, tenant, &team.name, None, now).await?;
    txn.commit().await?;
    shared.outbox.notify();
    Ok(())
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
    let event = new_event(
        NAME,
        Some(tenant),
        team.name.clone(),
        &TeamMembershipChanged {
            team: team.name.clone(),
            members: team.members.clone(),
            added,
            removed,
        },
        now,
    );
    Ok(outbox::append(txn, &event).await?)
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
    let (team, team_id, revision) = load_team(txn, tenant, &format!("teams/{id}")).await?;
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
    if members::add_member(txn, tenant.0, &team_id, user).await? {
        let team = with_members(txn, tenant, team, revision).await?;
        membership_changed(
            txn,
            tenant,
            &team,
            (vec![names::user(user)], Vec::new()),
            now,
        )
        .await?;
    }
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
    let (team, id, revision) = load_team(&txn, tenant, &request.name).await?;
    let member = load_member(&txn, tenant, &request.user).await?;
    let member_name = names::user(member.id);
    if team.members.contains(&member_name) {
        return Ok(team);
    }
    if member.user.state == UserState::Deactivated as i32 {
        return Err(TenantsError::IllegalTransition(
            format!("{member_name} is deactivated; reactivate the user first"),
            None,
        ));
    }
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
    if !members::add_member(&txn, tenant.0, &id, member.id).await? {
        // A concurrent call added the member first: nothing left to change.
        return Ok(team);
    }
    let team = with_members(&txn, tenant, team, revision).await?;
    membership_changed(&txn, tenant, &team, (vec![member_name], Vec::new()), now).await?;
    txn.commit().await?;
    shared.outbox.notify();
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
    let (team, id, revision) = load_team(&txn, tenant, &request.name).await?;
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
