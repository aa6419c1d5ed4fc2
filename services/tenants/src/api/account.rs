//! Users' accounts, for `kefu.v1.IdentityService`: InviteUser (with its
//! references and teams), UpdateUser, ReactivateUser, ChangePassword and
//! ResendInvitation.

use kefu_kit::{
    context::{CallContext, PrincipalKind},
    events::to_timestamp,
};
use kefu_proto::v1::{
    ChangePasswordRequest, InviteUserRequest, InviteUserResponse, ReactivateUserRequest,
    ResendInvitationRequest, Role, SessionsRevoked, Tenant, UpdateUserRequest, User,
    UserReactivated, UserState, UserUpdated,
};
use sea_orm::DatabaseTransaction;
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::{
    append_event,
    identity::{
        INVITATION_VALIDITY, IdentityApi, actor_of, check_not_locked_out, invite_by,
        mail_invitation, record_login_failure, save_user,
    },
    organisation::{check_department_exists, check_skills_exist, remember, replayed, request_id},
    require_admin_user, require_tenant, required, user_has_role,
};
use crate::{
    domain::{
        mask::{self, has},
        names,
        password::{self, PasswordContext, PasswordPolicy},
        secrets,
        user::{self as rules, Editor},
    },
    error::{Result, TenantsError},
    store::{
        self,
        identity::{self as users, UserSecrets},
        tenants::{self as tenant_store, Lookup},
    },
};

pub(super) async fn invite_user(
    api: &IdentityApi,
    caller: &CallContext,
    request: InviteUserRequest,
) -> Result<InviteUserResponse> {
    let tenant = require_admin_user(caller)?;
    let requested = required(request.user, "user")?;
    let request_id = request_id(&request.request_id)?;
    let now = api.0.clock.now();
    let txn = api.0.begin_for_tenant(tenant).await?;
    if let Some(name) = replayed(&txn, tenant, request_id, "InviteUser").await? {
        // The token was handed out the first time only; ResendInvitation
        // issues a new one.
        let stored = api.load_user(&txn, caller, tenant, &name).await?;
        return Ok(InviteUserResponse {
            user: Some(api.with_teams(&txn, tenant.0, stored.user).await?),
            invitation_token: String::new(),
            invitation_expire_time: None,
        });
    }
    let tenant_row = api.tenant_row(&txn, tenant.0).await?;
    check_department_exists(&txn, tenant, "user.department", &requested.department).await?;
    check_skills_exist(
        &txn,
        tenant,
        "user.skills",
        ".key",
        requested.skills.iter().map(|skill| skill.key.as_str()),
    )
    .await?;
    let teams = super::teams::teams_to_join(&txn, tenant, &request.teams).await?;
    let (user, token) = invite_by(&txn, tenant.0, requested, now, Some(actor_of(caller))).await?;
    let user_id = names::uuid_in(&user.name, "users")
        .ok_or_else(|| TenantsError::Internal(format!("{} is not a user name", user.name)))?;
    for team in &teams {
        super::teams::join(&txn, tenant, team, user_id, now).await?;
    }
    remember(&txn, tenant, request_id, "InviteUser", &user.name, now).await?;
    let user = api.with_teams(&txn, tenant.0, user).await?;
    txn.commit().await?;
    api.0.outbox.notify();
    mail_invitation(&*api.0.mailer, &tenant_row, &user, &token);
    Ok(InviteUserResponse {
        user: Some(user),
        invitation_token: token,
        invitation_expire_time: Some(to_timestamp(now + INVITATION_VALIDITY)),
    })
}

/// The tenant's password policy.
fn password_policy(tenant: &Tenant) -> PasswordPolicy {
    PasswordPolicy {
        min_length: tenant
            .settings
            .as_ref()
            .map_or(12, |settings| settings.password_min_length.max(12) as usize),
    }
}

/// How many argon2id hashes or verifications run at once. Each takes 19 MiB
/// and tens of milliseconds of a core: a burst of logins queues here rather
/// than taking every blocking thread and the memory with it.
const CONCURRENT_HASHES: usize = 2;

/// The permits of [`CONCURRENT_HASHES`].
static HASHING: Semaphore = Semaphore::const_new(CONCURRENT_HASHES);

/// Runs `work` (a hash or a verification) on a blocking thread once a
/// permit is free: never on the runtime's workers, never more than
/// [`CONCURRENT_HASHES`] at once. The permit goes with the work, so a
/// cancelled request does not free it before the work ends.
async fn on_hashing_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    let permit = HASHING
        .acquire()
        .await
        .map_err(|error| TenantsError::Internal(format!("password hashing: {error}")))?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(|error| TenantsError::Internal(format!("password hashing: {error}")))
}

/// Whether `password` matches the stored `hash`. Without a hash it checks
/// against a dummy one and answers false, so an unknown user costs as much
/// time as a wrong password. A hash that cannot be read is INTERNAL.
pub(super) async fn verify_password(password: &str, hash: Option<&str>) -> Result<bool> {
    let password = password.to_owned();
    let hash = hash.map(str::to_owned);
    on_hashing_thread(move || match hash {
        Some(hash) => password::verify(&password, &hash),
        None => {
            let _ = password::verify(&password, password::dummy_hash());
            Ok(false)
        }
    })
    .await?
    .map_err(|error| TenantsError::Internal(error.to_string()))
}

/// The hash of `password`, the new password of the user with `email`
/// given in `field`, once it meets the tenant's policy (INVALID_ARGUMENT
/// WEAK_PASSWORD otherwise). Call it outside any write transaction: it
/// takes a hashing permit and tens of milliseconds.
pub(super) async fn new_password_hash(
    tenant: &Tenant,
    email: &str,
    field: &str,
    password: &str,
) -> Result<String> {
    password_policy(tenant)
        .check(
            password,
            &PasswordContext {
                email,
                tenant_slug: &tenant.slug,
            },
        )
        .map_err(|weak| TenantsError::invalid_because(field, weak.to_string(), "WEAK_PASSWORD"))?;
    let password = password.to_owned();
    on_hashing_thread(move || password::hash(&password))
        .await?
        .map_err(|error| TenantsError::Internal(error.to_string()))
}

/// Refuses to take away an active administrator who is the tenant's last.
/// The tenant's row is locked first, so two administrators taking each
/// other's role (or deactivating each other) at once are counted one after
/// the other: the second sees the first's change.
pub(super) async fn check_admin_remains(txn: &DatabaseTransaction, tenant: Uuid) -> Result<()> {
    users::lock_tenant(txn, tenant).await?;
    let admins = users::list_users(txn, tenant)
        .await?
        .iter()
        .filter(|user| rules::is_active_admin(&user.user))
        .count();
    if admins <= 1 {
        return Err(TenantsError::IllegalTransition(
            "the tenant would have no active administrator".into(),
            Some("LAST_ADMIN"),
        ));
    }
    Ok(())
}

pub(super) async fn update_user(
    api: &IdentityApi,
    caller: &CallContext,
    request: UpdateUserRequest,
) -> Result<User> {
    let tenant = require_tenant(caller)?;
    let patch = required(request.user, "user")?;
    let paths = mask::allowed_paths(request.update_mask.as_ref(), rules::UPDATABLE, rules::FIXED)?;
    let now = api.0.clock.now();
    let txn = api.0.begin_for_tenant(tenant).await?;
    let stored = api.load_user(&txn, caller, tenant, &patch.name).await?;
    let editor = Editor {
        // Only people edit users: a key's scope is no role to grant from.
        admin: user_has_role(caller, Role::Admin),
        manager: user_has_role(caller, Role::Manager),
        own: caller.principal.kind == PrincipalKind::User
            && caller.principal.id == stored.id.to_string(),
    };
    rules::check_permitted(editor, &paths)?;
    if !store::etag_matches(&patch.etag, stored.revision) {
        return Err(TenantsError::StaleEtag(stored.user.name));
    }
    let updated = rules::updated_user(&stored.user, &patch, &paths, now)?;
    if has(&paths, "department") {
        check_department_exists(&txn, tenant, "user.department", &updated.department).await?;
    }
    if has(&paths, "skills") {
        check_skills_exist(
            &txn,
            tenant,
            "user.skills",
            ".key",
            updated.skills.iter().map(|skill| skill.key.as_str()),
        )
        .await?;
    }
    if rules::removes_admin(&stored.user, &updated) {
        check_admin_remains(&txn, tenant.0).await?;
    }
    let updated = save_user(&txn, tenant.0, &stored, updated, UserSecrets::default()).await?;
    let updated = api.with_teams(&txn, tenant.0, updated).await?;
    let event = UserUpdated {
        user: Some(updated.clone()),
        changed_paths: paths,
    };
    append_event(&txn, tenant, &updated.name, &event, now).await?;
    txn.commit().await?;
    api.0.outbox.notify();
    Ok(updated)
}

pub(super) async fn reactivate_user(
    api: &IdentityApi,
    caller: &CallContext,
    request: ReactivateUserRequest,
) -> Result<User> {
    let tenant = require_admin_user(caller)?;
    let now = api.0.clock.now();
    let txn = api.0.begin_for_tenant(tenant).await?;
    let stored = api.load_user(&txn, caller, tenant, &request.name).await?;
    let user = rules::reactivated(&stored.user, stored.password_hash.is_some(), now)?;
    // Locks the tenant's row: concurrent reactivations and invitations
    // count the seats one after the other.
    super::identity::check_seat_free(&txn, tenant.0).await?;
    let user = save_user(&txn, tenant.0, &stored, user, UserSecrets::default()).await?;
    let user = api.with_teams(&txn, tenant.0, user).await?;
    let event = UserReactivated {
        user: Some(user.clone()),
    };
    append_event(&txn, tenant, &user.name, &event, now).await?;
    txn.commit().await?;
    api.0.outbox.notify();
    Ok(user)
}

pub(super) async fn change_password(
    api: &IdentityApi,
    caller: &CallContext,
    request: ChangePasswordRequest,
) -> Result<()> {
    let tenant = require_tenant(caller)?;
    let session = caller
        .principal
        .session
        .as_deref()
        .and_then(|session| Uuid::parse_str(session).ok());
    let (PrincipalKind::User, Some(session), Ok(user_id)) = (
        caller.principal.kind,
        session,
        Uuid::parse_str(&caller.principal.id),
    ) else {
        return Err(TenantsError::IllegalTransition(
            "a password is changed by its user, signed in to the portal".into(),
            None,
        ));
    };
    if request.current_password.is_empty() {
        return Err(TenantsError::invalid("current_password", "is required"));
    }
    let now = api.0.clock.now();
    // Read, then verify and hash outside any transaction: argon2id takes
    // tens of milliseconds, too long to hold SQLite's write lock or a
    // pooled connection for.
    let read = api.0.begin_read(tenant).await?;
    let tenant_row = api.tenant_row(&read, tenant.0).await?;
    let stored = users::get_user(&read, tenant.0, user_id)
        .await?
        .ok_or_else(|| super::identity::user_not_found("users/me"))?;
    let email = stored.user.email.clone();
    // The current password is as guessable here as at login, so failures
    // count towards the same lock-out.
    check_not_locked_out(&read, tenant.0, &email, now).await?;
    read.commit().await?;
    let verified = match stored.password_hash.as_deref() {
        Some(hash) => verify_password(&request.current_password, Some(hash)).await?,
        None => false,
    };
    if !verified {
        let txn = api.0.begin_for_tenant(tenant).await?;
        record_login_failure(&txn, tenant.0, &email, now).await?;
        txn.commit().await?;
        return Err(TenantsError::Unauthenticated(
            "the current password is wrong".into(),
            "INVALID_CREDENTIALS",
        ));
    }
    let hash =
        new_password_hash(&tenant_row, &email, "new_password", &request.new_password).await?;
    let txn = api.0.begin_for_tenant(tenant).await?;
    // Written over the user as it is now (a login or an administrator's
    // edit in between changes nothing here), unless its password changed
    // since it was verified: then this change lost the race.
    let current = users::get_user(&txn, tenant.0, user_id)
        .await?
        .ok_or_else(|| super::identity::user_not_found("users/me"))?;
    if current.password_hash != stored.password_hash {
        return Err(TenantsError::StaleEtag(current.user.name));
    }
    let mut user = current.user.clone();
    user.update_time = Some(to_timestamp(now));
    let user = save_user(
        &txn,
        tenant.0,
        &current,
        user,
        UserSecrets {
            password_hash: Some(hash),
            ..UserSecrets::default()
        },
    )
    .await?;
    users::clear_login_failures(&txn, tenant.0, &email).await?;
    let revoked = users::revoke_other_sessions(&txn, tenant.0, stored.id, session, now).await?;
    for model in &revoked {
        tenant_store::forget_lookup(&txn, &model.digest).await?;
    }
    if !revoked.is_empty() {
        let event = SessionsRevoked {
            user: user.name.clone(),
            sessions: revoked
                .iter()
                .map(|model| names::session(model.user_id, model.id))
                .collect(),
        };
        append_event(&txn, tenant, &user.name, &event, now).await?;
    }
    txn.commit().await?;
    api.0.outbox.notify();
    Ok(())
}

pub(super) async fn resend_invitation(
    api: &IdentityApi,
    caller: &CallContext,
    request: ResendInvitationRequest,
) -> Result<InviteUserResponse> {
    let tenant = require_admin_user(caller)?;
    let now = api.0.clock.now();
    let txn = api.0.begin_for_tenant(tenant).await?;
    let tenant_row = api.tenant_row(&txn, tenant.0).await?;
    let stored = api.load_user(&txn, caller, tenant, &request.name).await?;
    if stored.user.state != UserState::Invited as i32 {
        return Err(TenantsError::IllegalTransition(
            "only an invited user who has not accepted yet can be invited again".into(),
            None,
        ));
    }
    if let Some((previous, _)) = &stored.invitation {
        tenant_store::forget_lookup(&txn, previous).await?;
    }
    let token = secrets::invitation_token();
    let digest = secrets::digest(&token);
    let expire = now + INVITATION_VALIDITY;
    let user = save_user(
        &txn,
        tenant.0,
        &stored,
        stored.user.clone(),
        UserSecrets {
            invitation: Some((digest.clone(), expire)),
            ..UserSecrets::default()
        },
    )
    .await?;
    tenant_store::record_lookup(
        &txn,
        &digest,
        Lookup {
            tenant_id: tenant.0,
            kind: "invitation".into(),
            subject: stored.id,
        },
    )
    .await?;
    let user = api.with_teams(&txn, tenant.0, user).await?;
    txn.commit().await?;
    mail_invitation(&*api.0.mailer, &tenant_row, &user, &token);
    Ok(InviteUserResponse {
        user: Some(user),
        invitation_token: token,
        invitation_expire_time: Some(to_timestamp(expire)),
    })
}
