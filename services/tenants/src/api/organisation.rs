//! Departments and the skills catalogue of `kefu.v1.IdentityService`, and
//! what the organisation handlers share (teams are in `teams`, the create,
//! update and delete flows in `org_document`): idempotent creates, and
//! checks that referenced users, departments and skills exist in the
//! caller's tenant.

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::{CallContext, TenantId},
    db::is_unique_violation,
    events::{from_timestamp, to_timestamp},
};
use kefu_proto::v1::{
    CreateDepartmentRequest, CreateSkillRequest, DeleteDepartmentRequest, DeleteSkillRequest,
    Department, DepartmentChanged, DepartmentKind, GetDepartmentRequest, GetSkillRequest,
    ListDepartmentsRequest, ListDepartmentsResponse, ListSkillsRequest, ListSkillsResponse, Role,
    Skill, Team, TeamChanged, UpdateDepartmentRequest, UpdateSkillRequest, UserState, UserUpdated,
};
use prost::Message;
use sea_orm::DatabaseTransaction;
use uuid::Uuid;

use super::{
    Shared, append_event, has_role,
    identity::save_user,
    org_document::{self as flow, OrgDocument},
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
        idempotency,
        identity::{self as users, UserSecrets},
        organisation as members,
    },
};

/// ROLE_ADMIN or ROLE_MANAGER (or a key), or PERMISSION_DENIED.
pub(super) fn require_manager(caller: &CallContext) -> Result<TenantId> {
    let tenant = require_tenant(caller)?;
    if has_role(caller, Role::Admin) || has_role(caller, Role::Manager) {
        Ok(tenant)
    } else {
        Err(TenantsError::PermissionDenied(
            "this needs the administrator or manager role".into(),
            None,
        ))
    }
}

/// A create's `request_id`: empty, or a UUID.
pub(super) fn request_id(value: &str) -> Result<Option<&str>> {
    if value.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(value).map_err(|_| TenantsError::invalid("request_id", "must be a UUID"))?;
    Ok(Some(value))
}

/// The resource an earlier create with `request_id` made, if any.
pub(super) async fn replayed(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    request_id: Option<&str>,
    method: &str,
) -> Result<Option<String>> {
    let Some(request_id) = request_id else {
        return Ok(None);
    };
    match idempotency::recall(txn, tenant.0, request_id).await? {
        Some(remembered) if remembered.method == method => Ok(Some(remembered.resource_name)),
        Some(remembered) => Err(TenantsError::invalid(
            "request_id",
            format!("was already used for {}", remembered.method),
        )),
        None => Ok(None),
    }
}

/// Remembers what a create with `request_id` made.
pub(super) async fn remember(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    request_id: Option<&str>,
    method: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(request_id) = request_id else {
        return Ok(());
    };
    idempotency::remember(txn, tenant.0, request_id, method, name, now)
        .await
        .map_err(|error| {
            if is_unique_violation(&error) {
                // Another call with the same request id won the race.
                TenantsError::AlreadyExists(format!("a create with request_id {request_id}"))
            } else {
                error.into()
            }
        })
}

/// Checks that `name` (if set) is a user of the tenant who is not
/// DEACTIVATED.
pub(super) async fn check_user_exists(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    field: &str,
    name: &str,
) -> Result<()> {
    if name.is_empty() {
        return Ok(());
    }
    let user = match names::uuid_in(name, "users") {
        Some(id) => users::get_user(txn, tenant.0, id).await?,
        None => None,
    };
    match user {
        Some(user) if user.user.state != UserState::Deactivated as i32 => Ok(()),
        Some(_) => Err(TenantsError::invalid(
            field,
            format!("{name} is deactivated"),
        )),
        None => Err(TenantsError::invalid(
            field,
            format!("{name:?} is not a user of this tenant"),
        )),
    }
}

/// Checks that `name` (if set) is a department of the tenant.
pub(super) async fn check_department_exists(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    field: &str,
    name: &str,
) -> Result<()> {
    if name.is_empty() {
        return Ok(());
    }
    let found = match names::id_in(name, "departments") {
        Some(id) => documents::get(txn, Collection::Departments, tenant.0, id)
            .await?
            .is_some(),
        None => false,
    };
    if found {
        Ok(())
    } else {
        Err(TenantsError::invalid(
            field,
            format!("{name:?} is not a department of this tenant"),
        ))
    }
}

/// Checks that every key is in the skills catalogue; the violation names
/// `{field}[{index}]{suffix}`.
pub(super) async fn check_skills_exist<'a>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    field: &str,
    suffix: &str,
    keys: impl Iterator<Item = &'a str>,
) -> Result<()> {
    let catalogue: Vec<String> = documents::list(txn, Collection::Skills, tenant.0)
        .await?
        .into_iter()
        .map(|document| document.id)
        .collect();
    for (index, key) in keys.enumerate() {
        if !catalogue.iter().any(|known| known == key) {
            return Err(TenantsError::invalid(
                &format!("{field}[{index}]{suffix}"),
                format!("{key:?} is not in the skills catalogue; create it with CreateSkill"),
            ));
        }
    }
    Ok(())
}

fn timestamp(value: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    value.and_then(from_timestamp)
}

/// Sorts `items` by `order` over the fields every organisation list orders
/// by: `create_time`, or the name `common` gives (display name or key); then
/// by `tie` so pages are stable.
pub(super) fn sort_common<T>(
    items: &mut [T],
    order: &[listing::OrderKey],
    common: impl Fn(&T) -> (&str, Option<&prost_types::Timestamp>),
    tie: impl Fn(&T, &T) -> std::cmp::Ordering,
) {
    listing::sort_by_order(
        items,
        order,
        |a, b, field| {
            let (a_name, a_created) = common(a);
            let (b_name, b_created) = common(b);
            match field {
                "create_time" => timestamp(a_created).cmp(&timestamp(b_created)),
                _ => a_name.cmp(b_name),
            }
        },
        tie,
    );
}

// Departments.

fn department_in_use(name: &str, user_count: u64, team_count: i64) -> TenantsError {
    TenantsError::IllegalTransition(
        format!("{name} still has {user_count} users and {team_count} teams; move them first"),
        Some("IN_USE"),
    )
}

impl OrgDocument for Department {
    const COLLECTION: Collection = Collection::Departments;
    const CREATE_METHOD: &'static str = "CreateDepartment";

    fn not_found(name: &str) -> TenantsError {
        TenantsError::NotFound(format!("department {name:?}"))
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn etag(&self) -> Option<&str> {
        Some(&self.etag)
    }

    async fn view(
        mut self,
        _txn: &DatabaseTransaction,
        _tenant: TenantId,
        revision: i64,
    ) -> Result<Self> {
        self.etag = store::etag(revision);
        Ok(self)
    }

    async fn check_references(
        &self,
        txn: &DatabaseTransaction,
        tenant: TenantId,
        before: Option<&Self>,
    ) -> Result<()> {
        if before.is_none_or(|before| before.head != self.head) {
            check_user_exists(txn, tenant, "department.head", &self.head).await?;
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
        let user_count = members::users_in_department(txn, tenant.0, id).await?;
        let team_count = members::teams_in_department(txn, tenant.0, id).await?;
        if user_count > 0 || team_count > 0 {
            return Err(department_in_use(&self.name, user_count, team_count));
        }
        Ok(())
    }

    fn in_use(&self) -> Option<TenantsError> {
        // A user or team joined between the count (then none) and the
        // delete; the foreign keys caught it.
        Some(department_in_use(&self.name, 0, 0))
    }

    async fn publish(
        txn: &DatabaseTransaction,
        tenant: TenantId,
        name: &str,
        department: Option<Self>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let changed = DepartmentChanged {
            name: name.to_owned(),
            deleted: department.is_none(),
            department,
        };
        append_event(txn, tenant, name, &changed, now).await
    }
}

pub(super) async fn create_department(
    shared: &Shared,
    caller: &CallContext,
    request: CreateDepartmentRequest,
) -> Result<Department> {
    let tenant = require_admin(caller)?;
    let requested = required(request.department, "department")?;
    let request_id = request_id(&request.request_id)?;
    let now = shared.clock.now();
    let id = rules::new_id("department_id", &request.department_id)?;
    let department = rules::new_department(&requested, &id, now)?;
    flow::create(shared, tenant, request_id, &id, department, now).await
}

pub(super) async fn get_department(
    shared: &Shared,
    caller: &CallContext,
    request: GetDepartmentRequest,
) -> Result<Department> {
    let tenant = require_tenant(caller)?;
    let txn = shared.begin_read(tenant).await?;
    Ok(flow::load(&txn, tenant, &request.name).await?.resource)
}

pub(super) async fn list_departments(
    shared: &Shared,
    caller: &CallContext,
    request: ListDepartmentsRequest,
) -> Result<ListDepartmentsResponse> {
    let tenant = require_tenant(caller)?;
    let conditions = listing::parse_filter(
        &request.filter,
        &[("kind", FieldKind::Text), ("head", FieldKind::Text)],
    )?;
    let order = listing::parse_order_by(
        &request.order_by,
        &["display_name", "create_time"],
        "display_name",
    )?;
    let txn = shared.begin_read(tenant).await?;
    let mut departments = flow::list(&txn, tenant, |department: &Department| {
        let kind = DepartmentKind::try_from(department.kind)
            .map(|kind| kind.as_str_name())
            .unwrap_or_default();
        conditions
            .iter()
            .all(|condition| match condition.field.as_str() {
                "kind" => condition.matches_enum(kind, "DEPARTMENT_KIND_"),
                _ => condition.matches_text(&department.head),
            })
    })
    .await?;
    sort_common(
        &mut departments,
        &order,
        |department| (&department.display_name, department.create_time.as_ref()),
        |a, b| a.name.cmp(&b.name),
    );
    let (departments, next_page_token, total_size) =
        page(departments, request.page_size, &request.page_token)?;
    Ok(ListDepartmentsResponse {
        departments,
        next_page_token,
        total_size,
    })
}

pub(super) async fn update_department(
    shared: &Shared,
    caller: &CallContext,
    request: UpdateDepartmentRequest,
) -> Result<Department> {
    let tenant = require_admin(caller)?;
    let patch = required(request.department, "department")?;
    let paths = mask::allowed_paths(
        request.update_mask.as_ref(),
        rules::DEPARTMENT_UPDATABLE,
        rules::DEPARTMENT_FIXED,
    )?;
    flow::update(shared, tenant, patch, &paths, rules::updated_department).await
}

pub(super) async fn delete_department(
    shared: &Shared,
    caller: &CallContext,
    request: DeleteDepartmentRequest,
) -> Result<()> {
    let tenant = require_admin(caller)?;
    flow::delete::<Department>(shared, tenant, &request.name).await
}

// Skills.

impl OrgDocument for Skill {
    const COLLECTION: Collection = Collection::Skills;
    const CREATE_METHOD: &'static str = "CreateSkill";

    fn not_found(name: &str) -> TenantsError {
        TenantsError::NotFound(format!("skill {name:?}"))
    }

    fn name(&self) -> &str {
        &self.name
    }

    // Skills carry no etag (the contract gives them none) and are shown as
    // stored: `etag` and `view` keep their defaults.

    /// The contract removes the skill from every holder rather than
    /// refusing while it is in use; each holder's change is published like
    /// any other.
    async fn release(
        &self,
        txn: &DatabaseTransaction,
        tenant: TenantId,
        _id: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        for stored in users::list_users(txn, tenant.0).await? {
            if !stored.user.skills.iter().any(|held| held.key == self.key) {
                continue;
            }
            let mut user = stored.user.clone();
            user.skills.retain(|held| held.key != self.key);
            user.update_time = Some(to_timestamp(now));
            let mut user = save_user(txn, tenant.0, &stored, user, UserSecrets::default()).await?;
            user.teams = super::principal::teams_of(txn, tenant.0, &user.name).await?;
            let updated = UserUpdated {
                user: Some(user),
                changed_paths: vec!["skills".into()],
            };
            append_event(txn, tenant, &stored.user.name, &updated, now).await?;
        }
        for document in documents::list(txn, Collection::Teams, tenant.0).await? {
            let mut team = Team::decode(document.resource.as_slice())?;
            if !team.skills.contains(&self.key) {
                continue;
            }
            team.skills.retain(|key| *key != self.key);
            team.update_time = Some(to_timestamp(now));
            if !documents::replace(
                txn,
                Collection::Teams,
                tenant.0,
                &document.id,
                document.revision,
                team.encode_to_vec(),
                &[],
            )
            .await?
            {
                return Err(TenantsError::StaleEtag(team.name));
            }
            let team = team.view(txn, tenant, document.revision + 1).await?;
            let changed = TeamChanged {
                name: team.name.clone(),
                team: Some(team),
                deleted: false,
            };
            append_event(txn, tenant, &changed.name, &changed, now).await?;
        }
        Ok(())
    }
}

pub(super) async fn create_skill(
    shared: &Shared,
    caller: &CallContext,
    request: CreateSkillRequest,
) -> Result<Skill> {
    let tenant = require_admin(caller)?;
    let requested = required(request.skill, "skill")?;
    let request_id = request_id(&request.request_id)?;
    let now = shared.clock.now();
    let skill = rules::new_skill(&requested, now)?;
    let id = skill.key.clone();
    flow::create(shared, tenant, request_id, &id, skill, now).await
}

pub(super) async fn get_skill(
    shared: &Shared,
    caller: &CallContext,
    request: GetSkillRequest,
) -> Result<Skill> {
    let tenant = require_tenant(caller)?;
    let txn = shared.begin_read(tenant).await?;
    Ok(flow::load(&txn, tenant, &request.name).await?.resource)
}

pub(super) async fn list_skills(
    shared: &Shared,
    caller: &CallContext,
    request: ListSkillsRequest,
) -> Result<ListSkillsResponse> {
    let tenant = require_tenant(caller)?;
    let conditions = listing::parse_filter(&request.filter, &[("key", FieldKind::Text)])?;
    let order = listing::parse_order_by(&request.order_by, &["key", "create_time"], "key")?;
    let txn = shared.begin_read(tenant).await?;
    let mut skills = flow::list(&txn, tenant, |skill: &Skill| {
        conditions
            .iter()
            .all(|condition| condition.matches_text(&skill.key))
    })
    .await?;
    sort_common(
        &mut skills,
        &order,
        |skill| (&skill.key, skill.create_time.as_ref()),
        |a, b| a.key.cmp(&b.key),
    );
    let (skills, next_page_token, total_size) =
        page(skills, request.page_size, &request.page_token)?;
    Ok(ListSkillsResponse {
        skills,
        next_page_token,
        total_size,
    })
}

pub(super) async fn update_skill(
    shared: &Shared,
    caller: &CallContext,
    request: UpdateSkillRequest,
) -> Result<Skill> {
    let tenant = require_admin(caller)?;
    let patch = required(request.skill, "skill")?;
    let paths = mask::allowed_paths(
        request.update_mask.as_ref(),
        rules::SKILL_UPDATABLE,
        rules::SKILL_FIXED,
    )?;
    flow::update(shared, tenant, patch, &paths, rules::updated_skill).await
}

pub(super) async fn delete_skill(
    shared: &Shared,
    caller: &CallContext,
    request: DeleteSkillRequest,
) -> Result<()> {
    let tenant = require_admin(caller)?;
    flow::delete::<Skill>(shared, tenant, &request.name).await
}
