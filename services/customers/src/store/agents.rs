//! The copy of the tenant's users, team memberships and settings, fed by
//! the tenants service's events (a service never reads another's tables).
//! A user is kept whole (`resource`, the `kefu.v1.User` of the last event)
//! beside the columns queries select on.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kefu_kit::db::begin_read_platform;
use kefu_proto::v1::{Role, User, UserState};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr,
    sea_query::{Expr, ExprTrait, OnConflict, Order, Query},
};
use uuid::Uuid;

use super::ident;
use crate::domain::ownership::DEFAULT_FIRST_CONTACT_DAYS;

/// The tenant's settings the customers service uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The default BCP 47 locale (`zh-CN`).
    pub locale: String,
    /// Days an owner has for first contact.
    pub first_contact_days: i32,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            locale: "zh-CN".to_owned(),
            first_contact_days: DEFAULT_FIRST_CONTACT_DAYS,
        }
    }
}

fn decode_user(bytes: &[u8]) -> Result<User, DbErr> {
    User::decode(bytes).map_err(|error| DbErr::Custom(error.to_string()))
}

fn time_of(timestamp: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    timestamp.and_then(kefu_kit::events::from_timestamp)
}

/// The user `name` (`users/{user}`) as last received, if known.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    name: &str,
) -> Result<Option<User>, DbErr> {
    let statement = Query::select()
        .column(ident("resource"))
        .from(ident("agents"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("user_name")).eq(name))
        .to_owned();
    match db.query_one(&statement).await? {
        Some(row) => Ok(Some(decode_user(&row.try_get::<Vec<u8>>("", "resource")?)?)),
        None => Ok(None),
    }
}

/// The users `names` that are known, by name.
pub async fn get_many<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    names: &[String],
) -> Result<HashMap<String, User>, DbErr> {
    let mut found = HashMap::new();
    for chunk in names.chunks(500) {
        let statement = Query::select()
            .column(ident("resource"))
            .from(ident("agents"))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant))
            .and_where(Expr::col(ident("user_name")).is_in(chunk.iter().cloned()))
            .to_owned();
        for row in db.query_all(&statement).await? {
            let user = decode_user(&row.try_get::<Vec<u8>>("", "resource")?)?;
            found.insert(user.name.clone(), user);
        }
    }
    Ok(found)
}

/// The user whose login e-mail is `email` (case-insensitive), if known;
/// imports name owners by e-mail.
pub async fn by_email<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    email: &str,
) -> Result<Option<User>, DbErr> {
    let statement = Query::select()
        .column(ident("resource"))
        .from(ident("agents"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("email")).eq(email.trim().to_lowercase()))
        .to_owned();
    match db.query_one(&statement).await? {
        Some(row) => Ok(Some(decode_user(&row.try_get::<Vec<u8>>("", "resource")?)?)),
        None => Ok(None),
    }
}

/// Every ACTIVE user with ROLE_AGENT, by name.
pub async fn active_agents<C: ConnectionTrait>(db: &C, tenant: Uuid) -> Result<Vec<User>, DbErr> {
    let statement = Query::select()
        .column(ident("resource"))
        .from(ident("agents"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("active")).eq(true))
        .and_where(Expr::col(ident("is_agent")).eq(true))
        .order_by(ident("user_name"), Order::Asc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| decode_user(&row.try_get::<Vec<u8>>("", "resource")?))
        .collect()
}

/// Stores `user` unless the copy already holds a later snapshot of it (an
/// older event delivered late changes nothing). True when stored.
pub async fn save<C: ConnectionTrait>(db: &C, tenant: Uuid, user: &User) -> Result<bool, DbErr> {
    if let Some(known) = get(db, tenant, &user.name).await?
        && let (Some(known_time), Some(new_time)) = (
            time_of(known.update_time.as_ref()),
            time_of(user.update_time.as_ref()),
        )
        && known_time > new_time
    {
        return Ok(false);
    }
    let mut stored = user.clone();
    stored.etag.clear();
    let statement = Query::insert()
        .into_table(ident("agents"))
        .columns([
            ident("tenant_id"),
            ident("user_name"),
            ident("email"),
            ident("display_name"),
            ident("active"),
            ident("is_agent"),
            ident("resource"),
            ident("update_time"),
        ])
        .values([
            tenant.into(),
            user.name.as_str().into(),
            user.email.to_lowercase().into(),
            user.display_name.as_str().into(),
            (user.state == UserState::Active as i32).into(),
            user.roles.contains(&(Role::Agent as i32)).into(),
            stored.encode_to_vec().into(),
            time_of(user.update_time.as_ref()).into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(
            OnConflict::columns([ident("tenant_id"), ident("user_name")])
                .update_columns([
                    ident("email"),
                    ident("display_name"),
                    ident("active"),
                    ident("is_agent"),
                    ident("resource"),
                    ident("update_time"),
                ])
                .to_owned(),
        )
        .to_owned();
    db.execute(&statement).await?;
    Ok(true)
}

/// Replaces the members of `team` with `members`.
pub async fn replace_team<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    team: &str,
    members: &[String],
) -> Result<(), DbErr> {
    delete_team(db, tenant, team).await?;
    let mut members: Vec<&String> = members.iter().collect();
    members.sort();
    members.dedup();
    if members.is_empty() {
        return Ok(());
    }
    let mut statement = Query::insert();
    statement.into_table(ident("agent_teams")).columns([
        ident("tenant_id"),
        ident("team"),
        ident("user_name"),
    ]);
    for member in members {
        statement
            .values([tenant.into(), team.into(), member.as_str().into()])
            .map_err(|error| DbErr::Custom(error.to_string()))?;
    }
    db.execute(&statement).await.map(|_| ())
}

/// Forgets `team`'s members (the team was deleted).
pub async fn delete_team<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    team: &str,
) -> Result<(), DbErr> {
    let statement = Query::delete()
        .from_table(ident("agent_teams"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("team")).eq(team))
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// The members (`users/{user}`) of `team`, by name.
pub async fn team_members<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    team: &str,
) -> Result<Vec<String>, DbErr> {
    let statement = Query::select()
        .column(ident("user_name"))
        .from(ident("agent_teams"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("team")).eq(team))
        .order_by(ident("user_name"), Order::Asc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "user_name"))
        .collect()
}

/// The tenant's settings as last received (defaults until then).
pub async fn profile<C: ConnectionTrait>(db: &C, tenant: Uuid) -> Result<Profile, DbErr> {
    let statement = Query::select()
        .columns([ident("locale"), ident("first_contact_days")])
        .from(ident("tenant_profiles"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .to_owned();
    match db.query_one(&statement).await? {
        Some(row) => {
            let locale: String = row.try_get("", "locale")?;
            let days: i32 = row.try_get("", "first_contact_days")?;
            Ok(Profile {
                locale: if locale.is_empty() {
                    Profile::default().locale
                } else {
                    locale
                },
                first_contact_days: if days > 0 {
                    days
                } else {
                    DEFAULT_FIRST_CONTACT_DAYS
                },
            })
        }
        None => Ok(Profile::default()),
    }
}

/// Stores the tenant's settings as of `update_time`, unless a later
/// snapshot was stored already.
pub async fn save_profile<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    profile: &Profile,
    update_time: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let known = Query::select()
        .column(ident("update_time"))
        .from(ident("tenant_profiles"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .to_owned();
    if let Some(row) = db.query_one(&known).await?
        && let (Some(known_time), Some(new_time)) = (
            row.try_get::<Option<DateTime<Utc>>>("", "update_time")?,
            update_time,
        )
        && known_time > new_time
    {
        return Ok(());
    }
    let statement = Query::insert()
        .into_table(ident("tenant_profiles"))
        .columns([
            ident("tenant_id"),
            ident("locale"),
            ident("first_contact_days"),
            ident("update_time"),
        ])
        .values([
            tenant.into(),
            profile.locale.as_str().into(),
            profile.first_contact_days.into(),
            update_time.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(
            OnConflict::column(ident("tenant_id"))
                .update_columns([
                    ident("locale"),
                    ident("first_contact_days"),
                    ident("update_time"),
                ])
                .to_owned(),
        )
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// Makes sure the tenant has a profile row (defaults), so that the
/// first-contact scan, which lists tenants from it, visits the tenant.
pub async fn ensure_profile<C: ConnectionTrait>(db: &C, tenant: Uuid) -> Result<(), DbErr> {
    let defaults = Profile::default();
    let statement = Query::insert()
        .into_table(ident("tenant_profiles"))
        .columns([
            ident("tenant_id"),
            ident("locale"),
            ident("first_contact_days"),
            ident("update_time"),
        ])
        .values([
            tenant.into(),
            defaults.locale.as_str().into(),
            defaults.first_contact_days.into(),
            Option::<DateTime<Utc>>::None.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(
            OnConflict::column(ident("tenant_id"))
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// Every tenant with a profile, read across tenants (a platform
/// transaction on PostgreSQL).
pub async fn known_tenants(db: &DatabaseConnection) -> Result<Vec<Uuid>, DbErr> {
    let txn = begin_read_platform(db).await?;
    let statement = Query::select()
        .column(ident("tenant_id"))
        .from(ident("tenant_profiles"))
        .order_by(ident("tenant_id"), Order::Asc)
        .to_owned();
    let tenants = txn
        .query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "tenant_id"))
        .collect::<Result<Vec<_>, _>>()?;
    txn.commit().await?;
    Ok(tenants)
}
