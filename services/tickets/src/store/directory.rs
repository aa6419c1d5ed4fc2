//! The tickets service's copy of the customers' routing facts, fed by the
//! customers service's events, and its assignment and merge bookkeeping.
//! The copy of the tenant (users, teams, calendar, SLA policies, approval
//! matrix) is the tenants service's [`kefu_tenants::replica`], re-exported
//! here so the rest of the service reads both from one place.

pub use kefu_tenants::replica::{
    APPROVAL_MATRIX_ENTRY, Kind, TENANT_ENTRY, approval_matrix, department, put,
    save_approval_matrix, save_department, save_members, save_sla_policy, save_team, save_tenant,
    save_user, sla_policies, team, team_profile, teams, tenant, tenant_and_sla_policies,
    tenant_time, user, users,
};

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, rows::ident};
use sea_orm::{
    ConnectionTrait, DbErr,
    sea_query::{Expr, ExprTrait, OnConflict, Order, Query},
};
use uuid::Uuid;

use crate::error::Result;

/// What a customer record is now, as the customers events tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownCustomerState {
    /// A live record.
    Active,
    /// Merged into `into` (`customers/{customer}`); references should read
    /// the survivor.
    Merged {
        /// The survivor.
        into: String,
    },
    /// Personal data erased (or the record deleted); final.
    Erased,
}

/// A customer as the tickets service knows it from the customers events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownCustomer {
    /// `customers/{customer}`.
    pub name: String,
    /// Always empty: the customers events carry no personal data (names,
    /// phones); read them with `GetCustomer` at the time of use.
    pub display_name: String,
    /// Always empty, for the same reason as `display_name`.
    pub primary_phone: String,
    /// `users/{user}` owner; empty if unowned.
    pub owner: String,
    /// Whether the customer is a member.
    pub member: bool,
    /// `tiers/{tier}`; empty when in no tier.
    pub tier: String,
    /// Live, merged or erased.
    pub state: KnownCustomerState,
}

impl KnownCustomer {
    /// A live customer `name` with nothing else known yet.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            display_name: String::new(),
            primary_phone: String::new(),
            owner: String::new(),
            member: false,
            tier: String::new(),
            state: KnownCustomerState::Active,
        }
    }
}

const ACTIVE: i32 = 1;
const MERGED: i32 = 2;
const ERASED: i32 = 3;

/// The customer `name` (`customers/{customer}`), if any event told of it.
pub async fn customer<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<KnownCustomer>> {
    let statement = Query::select()
        .columns([
            ident("state"),
            ident("merged_into"),
            ident("owner"),
            ident("member"),
            ident("tier"),
        ])
        .from(ident("directory_customers"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("name")).eq(name))
        .to_owned();
    let Some(row) = db.query_one(&statement).await? else {
        return Ok(None);
    };
    let state: i32 = row.try_get("", "state")?;
    let merged_into: String = row.try_get("", "merged_into")?;
    Ok(Some(KnownCustomer {
        owner: row.try_get("", "owner")?,
        member: row.try_get("", "member")?,
        tier: row.try_get("", "tier")?,
        state: match state {
            MERGED => KnownCustomerState::Merged { into: merged_into },
            ERASED => KnownCustomerState::Erased,
            _ => KnownCustomerState::Active,
        },
        ..KnownCustomer::new(name)
    }))
}

/// The time of the event the stored copy of customer `name` is of.
async fn customer_time<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<Option<DateTime<Utc>>>> {
    let statement = Query::select()
        .column(ident("update_time"))
        .from(ident("directory_customers"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("name")).eq(name))
        .to_owned();
    match db.query_one(&statement).await? {
        Some(row) => Ok(Some(row.try_get("", "update_time")?)),
        None => Ok(None),
    }
}

/// Stores `customer` as of `time` (the event's), unless the copy is of a
/// later event or the customer is erased already (erasure is final). True
/// when stored.
pub async fn save_customer<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    customer: &KnownCustomer,
    time: Option<DateTime<Utc>>,
) -> Result<bool> {
    if let Some(known) = self::customer(db, tenant, &customer.name).await? {
        if known.state == KnownCustomerState::Erased {
            return Ok(false);
        }
        if let Some(Some(known_time)) = customer_time(db, tenant, &customer.name).await?
            && let Some(new_time) = time
            && known_time > new_time
            && customer.state != KnownCustomerState::Erased
        {
            return Ok(false);
        }
    }
    let (state, merged_into) = match &customer.state {
        KnownCustomerState::Active => (ACTIVE, String::new()),
        KnownCustomerState::Merged { into } => (MERGED, into.clone()),
        KnownCustomerState::Erased => (ERASED, String::new()),
    };
    let statement = Query::insert()
        .into_table(ident("directory_customers"))
        .columns([
            ident("tenant_id"),
            ident("name"),
            ident("state"),
            ident("merged_into"),
            ident("owner"),
            ident("member"),
            ident("tier"),
            ident("update_time"),
        ])
        .values([
            tenant.0.into(),
            customer.name.as_str().into(),
            state.into(),
            merged_into.into(),
            customer.owner.as_str().into(),
            customer.member.into(),
            customer.tier.as_str().into(),
            time.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(
            OnConflict::columns([ident("tenant_id"), ident("name")])
                .update_columns([
                    ident("state"),
                    ident("merged_into"),
                    ident("owner"),
                    ident("member"),
                    ident("tier"),
                    ident("update_time"),
                ])
                .to_owned(),
        )
        .to_owned();
    db.execute(&statement).await?;
    Ok(true)
}

/// The customers merged into `survivor` (MERGED, pointing at it).
pub async fn merged_into<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    survivor: &str,
) -> Result<Vec<String>> {
    let statement = Query::select()
        .column(ident("name"))
        .from(ident("directory_customers"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("merged_into")).eq(survivor))
        .and_where(Expr::col(ident("state")).eq(MERGED))
        .order_by(ident("name"), Order::Asc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| Ok(row.try_get::<String>("", "name")?))
        .collect()
}

/// The member of the last round robin turn in `team`, if any.
pub async fn last_turn<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    team: &str,
) -> Result<Option<String>> {
    let statement = Query::select()
        .column(ident("last_user"))
        .from(ident("assignment_turns"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("team")).eq(team))
        .to_owned();
    match db.query_one(&statement).await? {
        Some(row) => Ok(Some(row.try_get("", "last_user")?)),
        None => Ok(None),
    }
}

/// Records that `user` took the last turn in `team` at `now`.
pub async fn record_turn<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    team: &str,
    user: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let statement = Query::insert()
        .into_table(ident("assignment_turns"))
        .columns([
            ident("tenant_id"),
            ident("team"),
            ident("last_user"),
            ident("update_time"),
        ])
        .values([tenant.0.into(), team.into(), user.into(), now.into()])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(
            OnConflict::columns([ident("tenant_id"), ident("team")])
                .update_columns([ident("last_user"), ident("update_time")])
                .to_owned(),
        )
        .to_owned();
    db.execute(&statement).await?;
    Ok(())
}

/// Records that the merge `customer_merge` repointed ticket `ticket` from
/// the customer `merged` to the survivor.
pub async fn record_repoint<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    customer_merge: &str,
    ticket: Uuid,
    merged: &str,
) -> Result<()> {
    let statement = Query::insert()
        .into_table(ident("ticket_customer_repoints"))
        .columns([
            ident("tenant_id"),
            ident("customer_merge"),
            ident("ticket_id"),
            ident("merged"),
        ])
        .values([
            tenant.0.into(),
            customer_merge.into(),
            ticket.into(),
            merged.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(
            OnConflict::columns([
                ident("tenant_id"),
                ident("customer_merge"),
                ident("ticket_id"),
            ])
            .do_nothing()
            .to_owned(),
        )
        .to_owned();
    db.execute(&statement).await?;
    Ok(())
}

/// The tickets the merge `customer_merge` repointed, with the customer
/// each pointed to before.
pub async fn repointed<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    customer_merge: &str,
) -> Result<Vec<(Uuid, String)>> {
    let statement = Query::select()
        .columns([ident("ticket_id"), ident("merged")])
        .from(ident("ticket_customer_repoints"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("customer_merge")).eq(customer_merge))
        .order_by(ident("ticket_id"), Order::Asc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", "ticket_id")?, row.try_get("", "merged")?)))
        .collect()
}

/// Forgets what the merge `customer_merge` repointed (it was undone).
pub async fn forget_repoints<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    customer_merge: &str,
) -> Result<()> {
    let statement = Query::delete()
        .from_table(ident("ticket_customer_repoints"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("customer_merge")).eq(customer_merge))
        .to_owned();
    db.execute(&statement).await?;
    Ok(())
}
