//! `kefu.v1.IdentityService`: users, invitations, login sessions, API keys;
//! departments, skills and teams are handled in `organisation` and `teams`,
//! later account changes in `account`, session management in `sessions`.

use chrono::{DateTime, Duration, Utc};
use kefu_kit::{
    context::{CallContext, PrincipalKind, TenantId},
    db::{begin_read_platform, is_unique_violation},
    events::to_timestamp,
};
use kefu_proto::v1::{
    AcceptInvitationRequest, Actor, ActorKind, ApiKey, ApiKeyAccess, ApiKeyState,
    CreateApiKeyRequest, CreateApiKeyResponse, CurrentPrincipal, DeactivateUserRequest,
    GetApiKeyRequest, GetCurrentPrincipalRequest, GetUserRequest, InviteUserRequest,
    InviteUserResponse, ListApiKeysRequest, ListApiKeysResponse, ListUsersRequest,
    ListUsersResponse, LoginRequest, LoginResponse, LogoutRequest, PlanTier, RevokeApiKeyRequest,
    Role, Session, SessionsRevoked, Tenant, User, UserCreated, UserDeactivated, UserState,
    UserUpdated, identity_service_server::IdentityService,
};
// The organisation, account and session methods, handled in their modules.
use kefu_proto::v1::{
    AddTeamMemberRequest, ChangePasswordRequest, CreateDepartmentRequest, CreateSkillRequest,
    CreateTeamRequest, DeleteDepartmentRequest, DeleteSkillRequest, DeleteTeamRequest, Department,
    GetDepartmentRequest, GetSkillRequest, GetTeamRequest, ListDepartmentsRequest,
    ListDepartmentsResponse, ListSessionsRequest, ListSessionsResponse, ListSkillsRequest,
    ListSkillsResponse, ListTeamsRequest, ListTeamsResponse, ReactivateUserRequest,
    RemoveTeamMemberRequest, ResendInvitationRequest, RevokeSessionRequest, Skill, Team,
    UpdateDepartmentRequest, UpdateSkillRequest, UpdateTeamRequest, UpdateUserRequest,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared,
    account::{new_password_hash, verify_password},
    append_event, caller, page, require_admin, require_admin_user, require_tenant, required,
};
use crate::{
    domain::{
        listing::{self, FieldKind},
        names, secrets,
        slug::normalise_email,
        tenant as rules,
    },
    error::{Result, TenantsError},
    mail::{Mail, Mailer},
    store::{
        self,
        entities::session,
        identity::{self as users, StoredUser, UserSecrets},
        tenants::{self as tenant_store, Lookup},
    },
};

/// How long an invitation token is valid.
pub(super) const INVITATION_VALIDITY: Duration = Duration::days(7);
/// Failed logins allowed per window before the account is locked.
const LOGIN_FAILURES_ALLOWED: usize = 10;
/// The window failed logins are counted in, and the lock's length.
const LOGIN_FAILURE_WINDOW: Duration = Duration::minutes(15);

/// Handlers of `kefu.v1.IdentityService`.
#[derive(Clone)]
pub struct IdentityApi(pub(super) Shared);

pub(super) fn user_not_found(name: &str) -> TenantsError {
    TenantsError::NotFound(format!("user {name:?}"))
}

/// Writes `user` over `stored` with `secrets` and returns it with its new
/// etag; ABORTED when another write moved the revision first. The stored
/// resource carries no etag: it is the revision, filled in on every read.
pub(super) async fn save_user(
    txn: &DatabaseTransaction,
    tenant: Uuid,
    stored: &StoredUser,
    mut user: User,
    secrets: UserSecrets,
) -> Result<User> {
    user.etag = String::new();
    if !users::replace_user(txn, tenant, stored.id, stored.revision, &user, secrets).await? {
        return Err(TenantsError::StaleEtag(user.name));
    }
    user.etag = store::etag(stored.revision + 1);
    Ok(user)
}

/// RESOURCE_EXHAUSTED while `email` is locked out of the tenant by too
/// many failed logins in the window, with the wait until it unlocks.
pub(super) async fn check_not_locked_out(
    txn: &DatabaseTransaction,
    tenant: Uuid,
    email: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let failures =
        users::login_failures_since(txn, tenant, email, now - LOGIN_FAILURE_WINDOW).await?;
    if failures.len() >= LOGIN_FAILURES_ALLOWED {
        let unlock = failures[failures.len() - LOGIN_FAILURES_ALLOWED] + LOGIN_FAILURE_WINDOW;
        let wait = (unlock - now)
            .to_std()
            .unwrap_or_default()
            .max(std::time::Duration::from_secs(1));
        return Err(TenantsError::RateLimited(wait));
    }
    Ok(())
}

/// Records a failed login (or a wrong current password) for `email`, and
/// forgets the tenant's failures older than the window.
pub(super) async fn record_login_failure(
    txn: &DatabaseTransaction,
    tenant: Uuid,
    email: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    users::record_login_failure(txn, tenant, email, now, now - LOGIN_FAILURE_WINDOW).await?;
    Ok(())
}

fn invalid_credentials() -> TenantsError {
    TenantsError::Unauthenticated(
        "wrong tenant, e-mail or password".into(),
        "INVALID_CREDENTIALS",
    )
}

/// Validates a new user and stores it INVITED with a fresh invitation;
/// returns the user and the token (to be mailed after commit). UserCreated
/// names `actor` as who invited them.
pub(super) async fn invite_by(
    txn: &DatabaseTransaction,
    tenant: Uuid,
    requested: User,
    now: DateTime<Utc>,
    actor: Option<Actor>,
) -> Result<(User, String)> {
    rules::check_length("user.display_name", &requested.display_name, 1, 100)?;
    let email = normalise_email(&requested.email)
        .map_err(|error| TenantsError::invalid("user.email", error.to_string()))?;
    if requested.roles.is_empty() {
        return Err(TenantsError::invalid(
            "user.roles",
            "at least one role is required",
        ));
    }
    for role in &requested.roles {
        if !matches!(Role::try_from(*role), Ok(role) if role != Role::Unspecified) {
            return Err(TenantsError::invalid(
                "user.roles",
                format!("{role} is not a kefu.v1.Role"),
            ));
        }
    }
    if kefu_proto::v1::ApprovalLevel::try_from(requested.approval_level).is_err() {
        return Err(TenantsError::invalid(
            "user.approval_level",
            "unknown approval level",
        ));
    }
    rules::check_length("user.title", &requested.title, 0, 100)?;
    if !requested.locale.is_empty() {
        rules::check_locale("user.locale", &requested.locale)?;
    }
    check_seat_free(txn, tenant).await?;
    let id = Uuid::now_v7();
    let time = Some(to_timestamp(now));
    let user = User {
        name: names::user(id),
        email,
        teams: Vec::new(),
        state: UserState::Invited as i32,
        last_login_time: None,
        deactivate_time: None,
        create_time: time,
        update_time: time,
        etag: store::etag(1),
        ..requested
    };
    let token = secrets::invitation_token();
    let digest = secrets::digest(&token);
    if let Err(error) = users::insert_user(
        txn,
        tenant,
        id,
        &user,
        Some((digest.clone(), now + INVITATION_VALIDITY)),
        now,
    )
    .await
    {
        return Err(if is_unique_violation(&error) {
            TenantsError::AlreadyExists(format!("a user with e-mail {:?}", user.email))
        } else {
            error.into()
        });
    }
    tenant_store::record_lookup(
        txn,
        &digest,
        Lookup {
            tenant_id: tenant,
            kind: "invitation".into(),
            subject: id,
        },
    )
    .await?;
    let event = UserCreated {
        user: Some(user.clone()),
        actor,
    };
    append_event(txn, TenantId(tenant), &user.name, &event, now).await?;
    Ok((user, token))
}

/// Refuses a new or returning user when the plan's seats are all taken.
/// The tenant's row is locked first, so concurrent invitations and
/// reactivations count the seats one after the other.
pub(super) async fn check_seat_free(txn: &DatabaseTransaction, tenant: Uuid) -> Result<()> {
    users::lock_tenant(txn, tenant).await?;
    let plan = tenant_store::get(txn, tenant)
        .await?
        .map_or(PlanTier::Unspecified, |stored| {
            PlanTier::try_from(stored.tenant.plan_tier).unwrap_or(PlanTier::Unspecified)
        });
    let used = users::list_users(txn, tenant)
        .await?
        .iter()
        .filter(|stored| stored.user.state != UserState::Deactivated as i32)
        .count();
    crate::domain::quota::check_one_more_seat(plan, used)
}

/// E-mails an invitation (after the transaction that created it).
pub(super) fn mail_invitation(mailer: &dyn Mailer, tenant: &Tenant, user: &User, token: &str) {
    let mut data = std::collections::BTreeMap::new();
    data.insert("invitation_token".to_owned(), token.to_owned());
    data.insert("tenant_slug".to_owned(), tenant.slug.clone());
    mailer.send(Mail {
        to: user.email.clone(),
        subject: format!(
            "{}: 客服平台邀请 / your Kefu invitation",
            tenant.display_name
        ),
        body: format!(
            "{name}，您好 / Hello {name},\n\n{tenant} invites you to Kefu. Accept within 7 days \
             with this token / 请在 7 天内使用此令牌接受邀请：\n\n{token}\n",
            name = user.display_name,
            tenant = tenant.display_name,
        ),
        data,
    });
}

pub(super) fn user_id_of(caller: &CallContext, name: &str) -> Option<Uuid> {
    if name == "users/me" {
        return (caller.principal.kind == PrincipalKind::User)
            .then(|| Uuid::parse_str(&caller.principal.id).ok())
            .flatten();
    }
    names::uuid_in(name, "users")
}

impl IdentityApi {
    pub(super) async fn tenant_row(
        &self,
        txn: &DatabaseTransaction,
        tenant: Uuid,
    ) -> Result<Tenant> {
        Ok(tenant_store::get(txn, tenant)
            .await?
            .ok_or_else(|| TenantsError::NotFound("tenant".into()))?
            .tenant)
    }

    /// The user's teams, as names.
    pub(super) async fn with_teams(
        &self,
        txn: &DatabaseTransaction,
        tenant: Uuid,
        mut user: User,
    ) -> Result<User> {
        user.teams = super::principal::teams_of(txn, tenant, &user.name).await?;
        Ok(user)
    }

    async fn login(
        &self,
        request: LoginRequest,
        client: (String, String),
    ) -> Result<LoginResponse> {
        let now = self.0.clock.now();
        let email = normalise_email(&request.email).map_err(|_| invalid_credentials())?;
        let platform = begin_read_platform(&self.0.db).await?;
        let tenant = tenant_store::by_slug(&platform, &request.tenant_slug).await?;
        platform.commit().await?;
        let Some(tenant) = tenant else {
            // Spend the time a real check takes, so a wrong slug is not told
            // apart from a wrong password by timing.
            verify_password(&request.password, None).await?;
            return Err(invalid_credentials());
        };
        // Read, then verify outside any transaction: argon2id takes tens of
        // milliseconds, too long to hold SQLite's write lock or a pooled
        // connection for. Only what the outcome writes runs in a (short)
        // write transaction.
        let read = self.0.begin_read(TenantId(tenant.id)).await?;
        check_not_locked_out(&read, tenant.id, &email, now).await?;
        let user = users::user_by_email(&read, tenant.id, &email).await?;
        read.commit().await?;
        let verified = verify_password(
            &request.password,
            user.as_ref().and_then(|user| user.password_hash.as_deref()),
        )
        .await?;
        let user = match user {
            Some(user) if verified && user.user.state == UserState::Active as i32 => user,
            _ => {
                let txn = self.0.begin_for_tenant(TenantId(tenant.id)).await?;
                record_login_failure(&txn, tenant.id, &email, now).await?;
                txn.commit().await?;
                return Err(invalid_credentials());
            }
        };
        if let Some(refusal) = rules::refusal(&tenant.tenant) {
            return Err(refusal);
        }
        let txn = self.0.begin_for_tenant(TenantId(tenant.id)).await?;
        // The user's row is locked from here to the commit, and the login
        // stands only for the user as verified: still ACTIVE, with the same
        // password. A deactivation waits for this commit and then revokes
        // the new session too. The last login time moves no revision, so
        // concurrent logins and an administrator's etag never collide.
        let logged_in = users::record_last_login(&txn, tenant.id, user.id, now)
            .await?
            .filter(|current| {
                current.user.state == UserState::Active as i32
                    && current.password_hash == user.password_hash
            })
            .ok_or_else(invalid_credentials)?;
        users::clear_login_failures(&txn, tenant.id, &email).await?;
        let settings = tenant.tenant.settings.clone().unwrap_or_default();
        let lifetime = settings
            .session_max_lifetime
            .map_or(Duration::days(7), |d| Duration::seconds(d.seconds));
        let token = secrets::session_token();
        let digest = secrets::digest(&token);
        let session_id = Uuid::now_v7();
        let (user_agent, client_address) = client;
        let model = session::Model {
            tenant_id: tenant.id,
            id: session_id,
            user_id: user.id,
            digest: digest.clone(),
            create_time: now,
            last_used_time: now,
            expire_time: now + lifetime,
            revoke_time: None,
            user_agent: user_agent.chars().take(500).collect(),
            client_address: client_address.chars().take(100).collect(),
        };
        users::insert_session(&txn, model.clone()).await?;
        tenant_store::record_lookup(
            &txn,
            &digest,
            Lookup {
                tenant_id: tenant.id,
                kind: "session".into(),
                subject: session_id,
            },
        )
        .await?;
        let logged_in = self.with_teams(&txn, tenant.id, logged_in.user).await?;
        txn.commit().await?;
        Ok(LoginResponse {
            session_token: token,
            expire_time: Some(to_timestamp(model.expire_time)),
            session: Some(session_resource(&model, true)),
            user: Some(logged_in),
        })
    }

    async fn accept(&self, request: AcceptInvitationRequest) -> Result<User> {
        let now = self.0.clock.now();
        let invalid = || {
            TenantsError::Unauthenticated(
                "the invitation is unknown, used or expired".into(),
                "INVITATION_INVALID",
            )
        };
        let digest = secrets::digest(&request.invitation_token);
        let platform = begin_read_platform(&self.0.db).await?;
        let lookup = tenant_store::find_lookup(&platform, &digest).await?;
        platform.commit().await?;
        let lookup = lookup
            .filter(|lookup| lookup.kind == "invitation")
            .ok_or_else(invalid)?;
        let tenant_id = TenantId(lookup.tenant_id);
        // Read and check, then hash outside any transaction (argon2id takes
        // tens of milliseconds); the write is guarded by the revision read.
        let read = self.0.begin_read(tenant_id).await?;
        let tenant = self.tenant_row(&read, lookup.tenant_id).await?;
        let stored = users::get_user(&read, lookup.tenant_id, lookup.subject)
            .await?
            .ok_or_else(invalid)?;
        read.commit().await?;
        match &stored.invitation {
            Some((pending, expire))
                if *pending == digest
                    && *expire > now
                    && stored.user.state == UserState::Invited as i32 => {}
            _ => return Err(invalid()),
        }
        // A suspended tenant's people may not sign in, nor join.
        if let Some(refusal) = rules::refusal(&tenant) {
            return Err(refusal);
        }
        let hash =
            new_password_hash(&tenant, &stored.user.email, "password", &request.password).await?;
        let mut user = stored.user.clone();
        user.state = UserState::Active as i32;
        user.update_time = Some(to_timestamp(now));
        let txn = self.0.begin_for_tenant(tenant_id).await?;
        if !users::replace_user(
            &txn,
            lookup.tenant_id,
            stored.id,
            stored.revision,
            &user,
            UserSecrets {
                password_hash: Some(hash),
                clear_invitation: true,
                invitation: None,
            },
        )
        .await?
        {
            return Err(invalid());
        }
        tenant_store::forget_lookup(&txn, &digest).await?;
        user.etag = store::etag(stored.revision + 1);
        let user = self.with_teams(&txn, lookup.tenant_id, user).await?;
        let event = UserUpdated {
            user: Some(user.clone()),
            changed_paths: vec!["state".to_owned()],
        };
        append_event(&txn, tenant_id, &user.name, &event, now).await?;
        txn.commit().await?;
        self.0.outbox.notify();
        Ok(user)
    }

    pub(super) async fn load_user(
        &self,
        txn: &DatabaseTransaction,
        caller: &CallContext,
        tenant: TenantId,
        name: &str,
    ) -> Result<StoredUser> {
        let id = user_id_of(caller, name).ok_or_else(|| user_not_found(name))?;
        users::get_user(txn, tenant.0, id)
            .await?
            .ok_or_else(|| user_not_found(name))
    }
}

/// The filter fields of ListUsers.
const USER_FILTER_FIELDS: &[(&str, FieldKind)] = &[
    ("state", FieldKind::Text),
    ("roles", FieldKind::Repeated),
    ("approval_level", FieldKind::Text),
    ("department", FieldKind::Text),
    ("teams", FieldKind::Repeated),
    ("skills.key", FieldKind::Repeated),
    ("availability", FieldKind::Text),
    ("email", FieldKind::Text),
    ("display_name", FieldKind::Text),
];

/// The conditions of a ListUsers filter; e-mails compare as stored
/// (normalised to lower case).
fn user_conditions(filter: &str) -> Result<Vec<listing::Condition>> {
    let mut conditions = listing::parse_filter(filter, USER_FILTER_FIELDS)?;
    for condition in &mut conditions {
        if condition.field == "email" {
            condition.value = condition.value.to_lowercase();
        }
    }
    Ok(conditions)
}

/// Whether `user` satisfies one condition of a ListUsers filter. Enums
/// compare by name, with or without their prefix (`ROLE_AGENT`, `AGENT`).
fn user_matches(user: &User, condition: &listing::Condition) -> bool {
    match condition.field.as_str() {
        "state" => condition.matches_enum(
            UserState::try_from(user.state)
                .map(|state| state.as_str_name())
                .unwrap_or_default(),
            "USER_STATE_",
        ),
        "roles" => user.roles.iter().any(|role| {
            Role::try_from(*role)
                .is_ok_and(|role| condition.matches_enum(role.as_str_name(), "ROLE_"))
        }),
        "approval_level" => condition.matches_enum(
            kefu_proto::v1::ApprovalLevel::try_from(user.approval_level)
                .map(|level| level.as_str_name())
                .unwrap_or_default(),
            "APPROVAL_LEVEL_",
        ),
        "department" => condition.matches_text(&user.department),
        "teams" => condition.matches_any(user.teams.iter().map(String::as_str)),
        "skills.key" => condition.matches_any(user.skills.iter().map(|skill| skill.key.as_str())),
        "availability" => condition.matches_enum(
            kefu_proto::v1::UserAvailability::try_from(user.availability)
                .map(|availability| availability.as_str_name())
                .unwrap_or_default(),
            "USER_AVAILABILITY_",
        ),
        "email" => condition.matches_text(&user.email),
        _ => condition.matches_text(&user.display_name),
    }
}

/// A resource's time, for ordering (unset first).
fn time_of(time: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    time.and_then(kefu_kit::events::from_timestamp)
}

pub(super) fn session_resource(model: &session::Model, current: bool) -> Session {
    Session {
        name: names::session(model.user_id, model.id),
        create_time: Some(to_timestamp(model.create_time)),
        last_used_time: Some(to_timestamp(model.last_used_time)),
        expire_time: Some(to_timestamp(model.expire_time)),
        user_agent: model.user_agent.clone(),
        client_address: model.client_address.clone(),
        current,
    }
}

/// Ends the open sessions of `user` (only `only`, when given): their
/// look-ups are forgotten, so the tokens stop resolving at once, and
/// SessionsRevoked tells the gateway to drop them from its cache. Nothing
/// is published when no session was open.
async fn revoke_sessions(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    user: Uuid,
    only: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<()> {
    let revoked = users::revoke_user_sessions(txn, tenant.0, user, only, now).await?;
    if revoked.is_empty() {
        return Ok(());
    }
    for model in &revoked {
        tenant_store::forget_lookup(txn, &model.digest).await?;
    }
    let user_name = names::user(user);
    let event = SessionsRevoked {
        user: user_name.clone(),
        sessions: revoked
            .iter()
            .map(|model| names::session(model.user_id, model.id))
            .collect(),
    };
    append_event(txn, tenant, user_name, &event, now).await
}

/// An API key as callers see it: EXPIRED once past its expiry.
pub(super) fn key_view(mut key: ApiKey, now: DateTime<Utc>) -> ApiKey {
    let expired = key
        .expire_time
        .as_ref()
        .and_then(kefu_kit::events::from_timestamp)
        .is_some_and(|expire| expire <= now);
    if key.state == ApiKeyState::Active as i32 && expired {
        key.state = ApiKeyState::Expired as i32;
    }
    key
}

/// Who did it, as events show it.
pub(super) fn actor_of(caller: &CallContext) -> Actor {
    match caller.principal.kind {
        PrincipalKind::User => Actor {
            kind: ActorKind::User as i32,
            name: format!("users/{}", caller.principal.id),
            display_name: String::new(),
        },
        PrincipalKind::ApiKey => Actor {
            kind: ActorKind::ApiKey as i32,
            name: format!("apiKeys/{}", caller.principal.id),
            display_name: String::new(),
        },
        PrincipalKind::PlatformOperator => Actor {
            kind: ActorKind::PlatformOperator as i32,
            ..Actor::default()
        },
        _ => Actor {
            kind: ActorKind::System as i32,
            ..Actor::default()
        },
    }
}

fn validate_key(key: &ApiKey, now: DateTime<Utc>) -> Result<()> {
    rules::check_length("api_key.display_name", &key.display_name, 1, 100)?;
    if key.scopes.is_empty() {
        return Err(TenantsError::invalid(
            "api_key.scopes",
            "at least one scope is required",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (index, scope) in key.scopes.iter().enumerate() {
        if !super::principal::SCOPE_SERVICES.contains(&scope.service.as_str()) {
            return Err(TenantsError::invalid(
                &format!("api_key.scopes[{index}].service"),
                format!(
                    "{:?} is not a service; use one of {}",
                    scope.service,
                    super::principal::SCOPE_SERVICES.join(", ")
                ),
            ));
        }
        if !seen.insert(scope.service.clone()) {
            return Err(TenantsError::invalid(
                &format!("api_key.scopes[{index}].service"),
                "each service may appear once",
            ));
        }
        if !matches!(ApiKeyAccess::try_from(scope.access), Ok(access) if access != ApiKeyAccess::Unspecified)
        {
            return Err(TenantsError::invalid(
                &format!("api_key.scopes[{index}].access"),
                "is required: READ or WRITE",
            ));
        }
    }
    if let Some(expire) = key.expire_time.as_ref() {
        match kefu_kit::events::from_timestamp(expire) {
            Some(expire) if expire > now => {}
            _ => {
                return Err(TenantsError::invalid(
                    "api_key.expire_time",
                    "must be in the future",
                ));
            }
        }
    }
    Ok(())
}

#[tonic::async_trait]
impl IdentityService for IdentityApi {
    async fn invite_user(
        &self,
        request: Request<InviteUserRequest>,
    ) -> Result<Response<InviteUserResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::account::invite_user(self, &caller, request.into_inner()).await?,
        ))
    }

    async fn accept_invitation(
        &self,
        request: Request<AcceptInvitationRequest>,
    ) -> Result<Response<User>, Status> {
        caller(&request)?;
        Ok(Response::new(self.accept(request.into_inner()).await?))
    }

    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status> {
        let caller = caller(&request)?;
        let tenant = require_tenant(&caller)?;
        let txn = self.0.begin_read(tenant).await?;
        let stored = self
            .load_user(&txn, &caller, tenant, &request.get_ref().name)
            .await?;
        Ok(Response::new(
            self.with_teams(&txn, tenant.0, stored.user).await?,
        ))
    }

    async fn list_users(
        &self,
        request: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        let tenant = require_tenant(&caller(&request)?)?;
        let request = request.into_inner();
        let conditions = user_conditions(&request.filter)?;
        let order = listing::parse_order_by(
            &request.order_by,
            &["display_name", "create_time", "last_login_time"],
            "display_name",
        )?;
        let txn = self.0.begin_read(tenant).await?;
        let mut all = Vec::new();
        for stored in users::list_users(&txn, tenant.0)
            .await
            .map_err(TenantsError::from)?
        {
            let user = self.with_teams(&txn, tenant.0, stored.user).await?;
            if conditions
                .iter()
                .all(|condition| user_matches(&user, condition))
            {
                all.push(user);
            }
        }
        listing::sort_by_order(
            &mut all,
            &order,
            |a, b, field| match field {
                "create_time" => {
                    time_of(a.create_time.as_ref()).cmp(&time_of(b.create_time.as_ref()))
                }
                "last_login_time" => {
                    time_of(a.last_login_time.as_ref()).cmp(&time_of(b.last_login_time.as_ref()))
                }
                _ => a.display_name.cmp(&b.display_name),
            },
            |a, b| a.name.cmp(&b.name),
        );
        let (users, next_page_token, total_size) =
            page(all, request.page_size, &request.page_token)?;
        Ok(Response::new(ListUsersResponse {
            users,
            next_page_token,
            total_size,
        }))
    }

    async fn deactivate_user(
        &self,
        request: Request<DeactivateUserRequest>,
    ) -> Result<Response<User>, Status> {
        let caller = caller(&request)?;
        let tenant = require_admin_user(&caller)?;
        let request = request.into_inner();
        let now = self.0.clock.now();
        let txn = self.0.begin_for_tenant(tenant).await?;
        let stored = self.load_user(&txn, &caller, tenant, &request.name).await?;
        if stored.user.state == UserState::Deactivated as i32 {
            return Err(TenantsError::IllegalTransition(
                "the user is already deactivated".into(),
                None,
            )
            .into());
        }
        if caller.principal.kind == PrincipalKind::User
            && caller.principal.id == stored.id.to_string()
        {
            return Err(TenantsError::IllegalTransition(
                "you cannot deactivate yourself".into(),
                None,
            )
            .into());
        }
        if crate::domain::user::is_active_admin(&stored.user) {
            super::account::check_admin_remains(&txn, tenant.0).await?;
        }
        let successor = if request.successor.is_empty() {
            String::new()
        } else {
            let successor = self
                .load_user(&txn, &caller, tenant, &request.successor)
                .await
                .map_err(|_| TenantsError::invalid("successor", "is not a user of this tenant"))?;
            successor.user.name
        };
        // The teams whose queues take the user's work back, read before the
        // user is changed.
        let teams = super::principal::teams_of(&txn, tenant.0, &stored.user.name).await?;
        let mut user = stored.user.clone();
        user.state = UserState::Deactivated as i32;
        user.deactivate_time = Some(to_timestamp(now));
        user.update_time = Some(to_timestamp(now));
        let user = save_user(
            &txn,
            tenant.0,
            &stored,
            user,
            UserSecrets {
                clear_invitation: true,
                ..UserSecrets::default()
            },
        )
        .await?;
        revoke_sessions(&txn, tenant, stored.id, None, now).await?;
        let event = UserDeactivated {
            user: user.name.clone(),
            successor,
            display_name: user.display_name.clone(),
            teams,
            actor: Some(actor_of(&caller)),
        };
        append_event(&txn, tenant, &user.name, &event, now).await?;
        let user = self.with_teams(&txn, tenant.0, user).await?;
        txn.commit().await.map_err(TenantsError::from)?;
        self.0.outbox.notify();
        Ok(Response::new(user))
    }

    async fn create_api_key(
        &self,
        request: Request<CreateApiKeyRequest>,
    ) -> Result<Response<CreateApiKeyResponse>, Status> {
        let caller = caller(&request)?;
        let tenant = require_admin(&caller)?;
        if caller.principal.kind != PrincipalKind::User {
            return Err(TenantsError::PermissionDenied(
                "API keys are created by an administrator signed in to the portal".into(),
                None,
            )
            .into());
        }
        let request = request.into_inner();
        let now = self.0.clock.now();
        let requested = required(request.api_key, "api_key")?;
        validate_key(&requested, now)?;
        let request_id = Some(request.request_id).filter(|id| !id.is_empty());
        let txn = self.0.begin_for_tenant(tenant).await?;
        if let Some(request_id) = &request_id
            && let Some(existing) = users::api_key_by_request(&txn, tenant.0, request_id)
                .await
                .map_err(TenantsError::from)?
        {
            return Ok(Response::new(CreateApiKeyResponse {
                api_key: Some(key_view(existing.api_key, now)),
                secret: String::new(),
            }));
        }
        let id = Uuid::now_v7();
        let secret = secrets::api_key_secret();
        let digest = secrets::digest(&secret);
        let key = ApiKey {
            name: names::api_key(id),
            prefix: secrets::api_key_prefix(&secret),
            state: ApiKeyState::Active as i32,
            last_used_time: None,
            creator: Some(actor_of(&caller)),
            create_time: Some(to_timestamp(now)),
            revoke_time: None,
            ..requested
        };
        users::insert_api_key(&txn, tenant.0, id, &digest, &key, request_id, now)
            .await
            .map_err(TenantsError::from)?;
        tenant_store::record_lookup(
            &txn,
            &digest,
            Lookup {
                tenant_id: tenant.0,
                kind: "api_key".into(),
                subject: id,
            },
        )
        .await
        .map_err(TenantsError::from)?;
        txn.commit().await.map_err(TenantsError::from)?;
        Ok(Response::new(CreateApiKeyResponse {
            api_key: Some(key),
            secret,
        }))
    }

    async fn get_api_key(
        &self,
        request: Request<GetApiKeyRequest>,
    ) -> Result<Response<ApiKey>, Status> {
        let tenant = require_tenant(&caller(&request)?)?;
        let name = &request.get_ref().name;
        let not_found = || TenantsError::NotFound(format!("API key {name:?}"));
        let id = names::uuid_in(name, "apiKeys").ok_or_else(not_found)?;
        let txn = self.0.begin_read(tenant).await?;
        let stored = users::get_api_key(&txn, tenant.0, id)
            .await
            .map_err(TenantsError::from)?
            .ok_or_else(not_found)?;
        Ok(Response::new(key_view(stored.api_key, self.0.clock.now())))
    }

    async fn list_api_keys(
        &self,
        request: Request<ListApiKeysRequest>,
    ) -> Result<Response<ListApiKeysResponse>, Status> {
        let tenant = require_tenant(&caller(&request)?)?;
        let request = request.into_inner();
        let conditions = listing::parse_filter(
            &request.filter,
            &[
                ("state", FieldKind::Text),
                ("scopes.service", FieldKind::Repeated),
            ],
        )?;
        let order = listing::parse_order_by(
            &request.order_by,
            &["create_time", "last_used_time", "display_name"],
            "create_time desc",
        )?;
        let now = self.0.clock.now();
        let txn = self.0.begin_read(tenant).await?;
        let mut keys: Vec<ApiKey> = users::list_api_keys(&txn, tenant.0)
            .await
            .map_err(TenantsError::from)?
            .into_iter()
            // Filtered as callers see them: EXPIRED once past the expiry.
            .map(|stored| key_view(stored.api_key, now))
            .filter(|key| {
                let state = ApiKeyState::try_from(key.state)
                    .map(|state| state.as_str_name())
                    .unwrap_or_default();
                conditions
                    .iter()
                    .all(|condition| match condition.field.as_str() {
                        "state" => condition.matches_enum(state, "API_KEY_STATE_"),
                        _ => condition
                            .matches_any(key.scopes.iter().map(|scope| scope.service.as_str())),
                    })
            })
            .collect();
        listing::sort_by_order(
            &mut keys,
            &order,
            |a, b, field| match field {
                "create_time" => {
                    time_of(a.create_time.as_ref()).cmp(&time_of(b.create_time.as_ref()))
                }
                "last_used_time" => {
                    time_of(a.last_used_time.as_ref()).cmp(&time_of(b.last_used_time.as_ref()))
                }
                _ => a.display_name.cmp(&b.display_name),
            },
            // Newest first among equals, as the keys are stored.
            |a, b| b.name.cmp(&a.name),
        );
        let (api_keys, next_page_token, total_size) =
            page(keys, request.page_size, &request.page_token)?;
        Ok(Response::new(ListApiKeysResponse {
            api_keys,
            next_page_token,
            total_size,
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<RevokeApiKeyRequest>,
    ) -> Result<Response<ApiKey>, Status> {
        let tenant = require_admin_user(&caller(&request)?)?;
        let name = &request.get_ref().name;
        let not_found = || TenantsError::NotFound(format!("API key {name:?}"));
        let id = names::uuid_in(name, "apiKeys").ok_or_else(not_found)?;
        let now = self.0.clock.now();
        let txn = self.0.begin_for_tenant(tenant).await?;
        let stored = users::get_api_key(&txn, tenant.0, id)
            .await
            .map_err(TenantsError::from)?
            .ok_or_else(not_found)?;
        if stored.api_key.state == ApiKeyState::Revoked as i32 {
            return Err(
                TenantsError::IllegalTransition("the key is already revoked".into(), None).into(),
            );
        }
        let mut key = stored.api_key;
        key.state = ApiKeyState::Revoked as i32;
        key.revoke_time = Some(to_timestamp(now));
        users::replace_api_key(&txn, tenant.0, id, &key)
            .await
            .map_err(TenantsError::from)?;
        tenant_store::forget_lookup(&txn, &stored.digest)
            .await
            .map_err(TenantsError::from)?;
        let event = kefu_proto::v1::ApiKeyRevoked {
            api_key: key.name.clone(),
            prefix: key.prefix.clone(),
        };
        append_event(&txn, tenant, &key.name, &event, now).await?;
        txn.commit().await.map_err(TenantsError::from)?;
        self.0.outbox.notify();
        Ok(Response::new(key))
    }

    async fn login(
        &self,
        request: Request<LoginRequest>,
    ) -> Result<Response<LoginResponse>, Status> {
        caller(&request)?;
        let metadata = request.metadata();
        let text = |key: &str| {
            metadata
                .get(key)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let client = (
            text("user-agent"),
            text(kefu_kit::auth::CLIENT_ADDRESS_HEADER),
        );
        Ok(Response::new(
            self.login(request.into_inner(), client).await?,
        ))
    }

    async fn logout(&self, request: Request<LogoutRequest>) -> Result<Response<()>, Status> {
        let caller = caller(&request)?;
        let tenant = require_tenant(&caller)?;
        let session = caller
            .principal
            .session
            .as_deref()
            .and_then(|value| Uuid::parse_str(value).ok());
        let (Some(session), Ok(user)) = (session, Uuid::parse_str(&caller.principal.id)) else {
            return Err(TenantsError::IllegalTransition(
                "only a portal session can log out; API keys are revoked instead".into(),
                None,
            )
            .into());
        };
        let now = self.0.clock.now();
        let txn = self.0.begin_for_tenant(tenant).await?;
        revoke_sessions(&txn, tenant, user, Some(session), now).await?;
        txn.commit().await.map_err(TenantsError::from)?;
        self.0.outbox.notify();
        Ok(Response::new(()))
    }

    async fn get_current_principal(
        &self,
        request: Request<GetCurrentPrincipalRequest>,
    ) -> Result<Response<CurrentPrincipal>, Status> {
        let caller = caller(&request)?;
        let bearer = request
            .metadata()
            .get(kefu_kit::auth::RESOLVE_BEARER_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let principal = super::principal::Resolver {
            db: &self.0.db,
            now: self.0.clock.now(),
        };
        let answer = match bearer {
            // Only the gateway (the system principal) may ask who a secret is.
            Some(bearer) if caller.principal.kind == PrincipalKind::System => {
                principal.resolve(&bearer).await?
            }
            Some(_) => {
                return Err(TenantsError::PermissionDenied(
                    "only the gateway resolves credentials".into(),
                    None,
                )
                .into());
            }
            None => principal.describe(&caller, request.metadata()).await?,
        };
        Ok(Response::new(answer))
    }

    async fn update_user(
        &self,
        request: Request<UpdateUserRequest>,
    ) -> Result<Response<User>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::account::update_user(self, &caller, request.into_inner()).await?,
        ))
    }

    async fn reactivate_user(
        &self,
        request: Request<ReactivateUserRequest>,
    ) -> Result<Response<User>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::account::reactivate_user(self, &caller, request.into_inner()).await?,
        ))
    }

    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::account::change_password(self, &caller, request.into_inner()).await?,
        ))
    }

    async fn resend_invitation(
        &self,
        request: Request<ResendInvitationRequest>,
    ) -> Result<Response<InviteUserResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::account::resend_invitation(self, &caller, request.into_inner()).await?,
        ))
    }

    async fn create_department(
        &self,
        request: Request<CreateDepartmentRequest>,
    ) -> Result<Response<Department>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::organisation::create_department(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn get_department(
        &self,
        request: Request<GetDepartmentRequest>,
    ) -> Result<Response<Department>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::organisation::get_department(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn list_departments(
        &self,
        request: Request<ListDepartmentsRequest>,
    ) -> Result<Response<ListDepartmentsResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::organisation::list_departments(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn update_department(
        &self,
        request: Request<UpdateDepartmentRequest>,
    ) -> Result<Response<Department>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::organisation::update_department(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn delete_department(
        &self,
        request: Request<DeleteDepartmentRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::organisation::delete_department(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn create_team(
        &self,
        request: Request<CreateTeamRequest>,
    ) -> Result<Response<Team>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::teams::create_team(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn get_team(&self, request: Request<GetTeamRequest>) -> Result<Response<Team>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::teams::get_team(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn list_teams(
        &self,
        request: Request<ListTeamsRequest>,
    ) -> Result<Response<ListTeamsResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::teams::list_teams(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn update_team(
        &self,
        request: Request<UpdateTeamRequest>,
    ) -> Result<Response<Team>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::teams::update_team(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn delete_team(
        &self,
        request: Request<DeleteTeamRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::teams::delete_team(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn add_team_member(
        &self,
        request: Request<AddTeamMemberRequest>,
    ) -> Result<Response<Team>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::teams::add_team_member(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn remove_team_member(
        &self,
        request: Request<RemoveTeamMemberRequest>,
    ) -> Result<Response<Team>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::teams::remove_team_member(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn create_skill(
        &self,
        request: Request<CreateSkillRequest>,
    ) -> Result<Response<Skill>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::organisation::create_skill(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn get_skill(
        &self,
        request: Request<GetSkillRequest>,
    ) -> Result<Response<Skill>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::organisation::get_skill(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn list_skills(
        &self,
        request: Request<ListSkillsRequest>,
    ) -> Result<Response<ListSkillsResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::organisation::list_skills(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn update_skill(
        &self,
        request: Request<UpdateSkillRequest>,
    ) -> Result<Response<Skill>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::organisation::update_skill(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn delete_skill(
        &self,
        request: Request<DeleteSkillRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::organisation::delete_skill(&self.0, &caller, request.into_inner()).await?,
        ))
    }

    async fn list_sessions(
        &self,
        request: Request<ListSessionsRequest>,
    ) -> Result<Response<ListSessionsResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::sessions::list_sessions(self, &caller, request.into_inner()).await?,
        ))
    }

    async fn revoke_session(
        &self,
        request: Request<RevokeSessionRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            super::sessions::revoke_session(self, &caller, request.into_inner()).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{UserAvailability, UserSkill};

    use super::*;

    fn matches(user: &User, filter: &str) -> bool {
        user_conditions(filter)
            .expect(filter)
            .iter()
            .all(|condition| user_matches(user, condition))
    }

    #[test]
    fn user_filters_read_enums_with_or_without_prefix() {
        let user = User {
            display_name: "李娜".into(),
            email: "li.na@acme.example".into(),
            roles: vec![Role::Agent as i32, Role::Supervisor as i32],
            state: UserState::Active as i32,
            availability: UserAvailability::Present as i32,
            teams: vec!["teams/front".into()],
            skills: vec![UserSkill {
                key: "boilers".into(),
                level: 3,
            }],
            ..User::default()
        };
        assert!(matches(
            &user,
            "roles:ROLE_AGENT AND availability=USER_AVAILABILITY_PRESENT"
        ));
        assert!(matches(&user, "roles:SUPERVISOR AND state = ACTIVE"));
        assert!(!matches(&user, "roles:ROLE_ADMIN"));
        assert!(matches(&user, "state != INVITED"));
        assert!(matches(&user, r#"email = "Li.Na@ACME.example""#));
        assert!(matches(&user, "teams:teams/front AND skills.key:boilers"));
        assert!(!matches(&user, "skills.key:unicorns"));
        assert!(matches(&user, r#"display_name = "李娜""#));
        assert!(matches(&user, ""));
        for unsupported in ["title = boss", "roles != ROLE_AGENT", "state"] {
            assert!(user_conditions(unsupported).is_err(), "{unsupported}");
        }
    }
}
