//! The copy of a tenant that another service keeps (its profile, calendar
//! and settings, users, teams and their members, departments, SLA policies,
//! approval matrix), fed by this service's events: a service never reads
//! another's tables, so the tickets and callbacks services each keep one in
//! their own `directory_entries` table and read it here.
//!
//! Each resource is kept whole (`resource`, the encoded message of the last
//! event) with its snapshot time: an older snapshot delivered after a newer
//! one changes nothing, and a deletion stays as a tombstone so a late
//! snapshot does not bring the resource back. [`apply`] applies one event.

mod apply;

pub use apply::{Applied, apply, relevant};

use chrono::{DateTime, Utc};
use kefu_kit::{KitError, context::TenantId, events::from_timestamp};
use kefu_proto::v1::{ApprovalMatrix, Department, SlaPolicy, Team, Tenant, User};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbErr,
    sea_query::{Alias, Cond, Expr, ExprTrait, OnConflict, Order, Query},
};

/// The result of reading or writing the copy.
pub type Result<T, E = KitError> = std::result::Result<T, E>;

/// The kinds of copied resources, as stored in `directory_entries.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The tenant itself (name `tenant`).
    Tenant,
    /// `users/{user}`.
    User,
    /// `teams/{team}` (the team's own fields).
    Team,
    /// `teams/{team}` membership, from TeamMembershipChanged.
    Members,
    /// `departments/{department}`.
    Department,
    /// `slaPolicies/{sla_policy}`.
    SlaPolicy,
    /// `approvalMatrix` (one per tenant).
    ApprovalMatrix,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::User => "user",
            Self::Team => "team",
            Self::Members => "members",
            Self::Department => "department",
            Self::SlaPolicy => "sla_policy",
            Self::ApprovalMatrix => "approval_matrix",
        }
    }
}

/// The name the tenant's own entry is kept under.
pub const TENANT_ENTRY: &str = "tenant";

/// The name the approval matrix is kept under.
pub const APPROVAL_MATRIX_ENTRY: &str = "approvalMatrix";

fn ident(name: &'static str) -> Alias {
    Alias::new(name)
}

fn time_of(timestamp: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    timestamp.and_then(from_timestamp)
}

fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M> {
    M::decode(bytes).map_err(KitError::Decode)
}

/// One stored entry: its resource bytes (none when deleted) and time.
struct Entry {
    resource: Option<Vec<u8>>,
    update_time: Option<DateTime<Utc>>,
}

async fn entry<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    kind: Kind,
    name: &str,
) -> Result<Option<Entry>> {
    let statement = Query::select()
        .columns([ident("deleted"), ident("resource"), ident("update_time")])
        .from(ident("directory_entries"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("kind")).eq(kind.as_str()))
        .and_where(Expr::col(ident("name")).eq(name))
        .to_owned();
    let Some(row) = db.query_one(&statement).await? else {
        return Ok(None);
    };
    let deleted: bool = row.try_get("", "deleted")?;
    let resource: Option<Vec<u8>> = row.try_get("", "resource")?;
    Ok(Some(Entry {
        resource: if deleted { None } else { resource },
        update_time: row.try_get("", "update_time")?,
    }))
}

async fn live<C: ConnectionTrait, M: Message + Default>(
    db: &C,
    tenant: TenantId,
    kind: Kind,
    name: &str,
) -> Result<Option<M>> {
    match entry(db, tenant, kind, name).await? {
        Some(Entry {
            resource: Some(bytes),
            ..
        }) => Ok(Some(decode(&bytes)?)),
        _ => Ok(None),
    }
}

async fn all_live<C: ConnectionTrait, M: Message + Default>(
    db: &C,
    tenant: TenantId,
    kind: Kind,
) -> Result<Vec<M>> {
    let statement = Query::select()
        .column(ident("resource"))
        .from(ident("directory_entries"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("kind")).eq(kind.as_str()))
        .and_where(Expr::col(ident("deleted")).eq(false))
        .order_by(ident("name"), Order::Asc)
        .to_owned();
    let mut found = Vec::new();
    for row in db.query_all(&statement).await? {
        if let Some(bytes) = row.try_get::<Option<Vec<u8>>>("", "resource")? {
            found.push(decode(&bytes)?);
        }
    }
    Ok(found)
}

/// Stores `resource` (None: a deletion tombstone) as `kind`/`name` as of
/// `time`, unless the copy holds a later snapshot. True when stored.
pub async fn put<C: ConnectionTrait, M: Message>(
    db: &C,
    tenant: TenantId,
    kind: Kind,
    name: &str,
    resource: Option<&M>,
    time: Option<DateTime<Utc>>,
) -> Result<bool> {
    if let Some(known) = entry(db, tenant, kind, name).await?
        && let (Some(known_time), Some(new_time)) = (known.update_time, time)
        && known_time > new_time
    {
        return Ok(false);
    }
    let bytes = resource.map(Message::encode_to_vec);
    let statement = Query::insert()
        .into_table(ident("directory_entries"))
        .columns([
            ident("tenant_id"),
            ident("kind"),
            ident("name"),
            ident("deleted"),
            ident("resource"),
            ident("update_time"),
        ])
        .values([
            tenant.0.into(),
            kind.as_str().into(),
            name.into(),
            bytes.is_none().into(),
            bytes.into(),
            time.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(
            OnConflict::columns([ident("tenant_id"), ident("kind"), ident("name")])
                .update_columns([ident("deleted"), ident("resource"), ident("update_time")])
                .to_owned(),
        )
        .to_owned();
    db.execute(&statement).await?;
    Ok(true)
}

/// A directory resource as its owning service sends it: the etag is that
/// service's (never stored here) and the update time orders the snapshots.
trait Snapshot: Message + Clone {
    fn etag_mut(&mut self) -> &mut String;
    fn update_time(&self) -> Option<&prost_types::Timestamp>;
}

macro_rules! snapshot {
    ($($resource:ty),*) => {$(
        impl Snapshot for $resource {
            fn etag_mut(&mut self) -> &mut String {
                &mut self.etag
            }
            fn update_time(&self) -> Option<&prost_types::Timestamp> {
                self.update_time.as_ref()
            }
        }
    )*};
}

snapshot!(Tenant, User, Team, Department, SlaPolicy, ApprovalMatrix);

/// Stores `snapshot` without its etag (None: deleted) as of its own update
/// time, else `fallback_time`, unless a later one is stored.
async fn put_snapshot<C: ConnectionTrait, M: Snapshot>(
    db: &C,
    tenant: TenantId,
    kind: Kind,
    name: &str,
    snapshot: Option<&M>,
    fallback_time: Option<DateTime<Utc>>,
) -> Result<bool> {
    let stored = snapshot.map(|snapshot| {
        let mut stored = snapshot.clone();
        stored.etag_mut().clear();
        stored
    });
    let time = snapshot
        .and_then(|snapshot| time_of(snapshot.update_time()))
        .or(fallback_time);
    put(db, tenant, kind, name, stored.as_ref(), time).await
}

/// Stores the tenant snapshot unless a later one is stored.
pub async fn save_tenant<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    snapshot: &Tenant,
) -> Result<bool> {
    put_snapshot(db, tenant, Kind::Tenant, TENANT_ENTRY, Some(snapshot), None).await
}

/// Stores a user snapshot unless a later one is stored.
pub async fn save_user<C: ConnectionTrait>(db: &C, tenant: TenantId, user: &User) -> Result<bool> {
    put_snapshot(db, tenant, Kind::User, &user.name, Some(user), None).await
}

/// Stores a team snapshot (None: deleted as of `time`).
pub async fn save_team<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    team: Option<&Team>,
    time: Option<DateTime<Utc>>,
) -> Result<bool> {
    put_snapshot(db, tenant, Kind::Team, name, team, time).await
}

/// Stores a team's members as of `time` (TeamMembershipChanged).
pub async fn save_members<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    team: &str,
    members: &[String],
    time: Option<DateTime<Utc>>,
) -> Result<bool> {
    let mut members = members.to_vec();
    members.sort();
    members.dedup();
    let record = Team {
        name: team.to_owned(),
        members,
        update_time: time.map(kefu_kit::events::to_timestamp),
        ..Team::default()
    };
    put(db, tenant, Kind::Members, team, Some(&record), time).await
}

/// Stores a department snapshot (None: deleted as of `time`).
pub async fn save_department<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    department: Option<&Department>,
    time: Option<DateTime<Utc>>,
) -> Result<bool> {
    put_snapshot(db, tenant, Kind::Department, name, department, time).await
}

/// Stores an SLA policy snapshot (None: deleted as of `time`).
pub async fn save_sla_policy<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    policy: Option<&SlaPolicy>,
    time: Option<DateTime<Utc>>,
) -> Result<bool> {
    put_snapshot(db, tenant, Kind::SlaPolicy, name, policy, time).await
}

/// Stores the approval matrix snapshot unless a later one is stored.
pub async fn save_approval_matrix<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    matrix: &ApprovalMatrix,
    fallback_time: Option<DateTime<Utc>>,
) -> Result<bool> {
    let name = APPROVAL_MATRIX_ENTRY;
    put_snapshot(
        db,
        tenant,
        Kind::ApprovalMatrix,
        name,
        Some(matrix),
        fallback_time,
    )
    .await
}

/// The tenant as last received (profile, calendar, settings, time zone,
/// locale), if known.
pub async fn tenant<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Option<Tenant>> {
    live(db, tenant, Kind::Tenant, TENANT_ENTRY).await
}

/// The time the stored tenant snapshot is of, if any.
pub async fn tenant_time<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Option<DateTime<Utc>>> {
    Ok(entry(db, tenant, Kind::Tenant, TENANT_ENTRY)
        .await?
        .and_then(|entry| entry.update_time))
}

/// The user `name` (`users/{user}`) as last received, if known.
pub async fn user<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<User>> {
    live(db, tenant, Kind::User, name).await
}

/// Every known user of the tenant (deactivated ones included), by name.
pub async fn users<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Vec<User>> {
    all_live(db, tenant, Kind::User).await
}

/// The team `name` (`teams/{team}`), its `members` from the latest of the
/// team snapshot and the membership events.
pub async fn team<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<Team>> {
    let Some(Entry {
        resource: Some(bytes),
        update_time,
    }) = entry(db, tenant, Kind::Team, name).await?
    else {
        return Ok(None);
    };
    let mut team: Team = decode(&bytes)?;
    if let Some(Entry {
        resource: Some(members),
        update_time: members_time,
    }) = entry(db, tenant, Kind::Members, name).await?
    {
        let newer = match (members_time, update_time) {
            (Some(members_time), Some(team_time)) => members_time >= team_time,
            _ => true,
        };
        if newer || team.members.is_empty() {
            team.members = decode::<Team>(&members)?.members;
        }
    }
    Ok(Some(team))
}

/// The team `name`'s own fields as last received, in one read: its
/// `members` are the team snapshot's, which later membership events may
/// have changed (read [`team`] for them). For what does not depend on the
/// members, such as the team's department.
pub async fn team_profile<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<Team>> {
    live(db, tenant, Kind::Team, name).await
}

/// Every known team of the tenant, by name, with their members.
pub async fn teams<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Vec<Team>> {
    let names: Vec<String> = all_live::<_, Team>(db, tenant, Kind::Team)
        .await?
        .into_iter()
        .map(|team| team.name)
        .collect();
    let mut teams = Vec::with_capacity(names.len());
    for name in names {
        if let Some(team) = team(db, tenant, &name).await? {
            teams.push(team);
        }
    }
    Ok(teams)
}

/// The department `name` (`departments/{department}`), if known.
pub async fn department<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<Department>> {
    live(db, tenant, Kind::Department, name).await
}

/// The tenant's SLA policies, by name.
pub async fn sla_policies<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Vec<SlaPolicy>> {
    all_live(db, tenant, Kind::SlaPolicy).await
}

/// The tenant as [`tenant`] reads it and its SLA policies as
/// [`sla_policies`] reads them, in one statement (a new ticket's SLA clocks
/// need both).
pub async fn tenant_and_sla_policies<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<(Option<Tenant>, Vec<SlaPolicy>)> {
    let statement = Query::select()
        .columns([ident("kind"), ident("resource")])
        .from(ident("directory_entries"))
        .cond_where(
            Cond::all()
                .add(Expr::col(ident("tenant_id")).eq(tenant.0))
                .add(Expr::col(ident("deleted")).eq(false))
                .add(
                    Cond::any()
                        .add(
                            Cond::all()
                                .add(Expr::col(ident("kind")).eq(Kind::Tenant.as_str()))
                                .add(Expr::col(ident("name")).eq(TENANT_ENTRY)),
                        )
                        .add(Expr::col(ident("kind")).eq(Kind::SlaPolicy.as_str())),
                ),
        )
        .order_by(ident("name"), Order::Asc)
        .to_owned();
    let mut profile = None;
    let mut policies = Vec::new();
    for row in db.query_all(&statement).await? {
        let kind: String = row.try_get("", "kind")?;
        let Some(bytes) = row.try_get::<Option<Vec<u8>>>("", "resource")? else {
            continue;
        };
        if kind == Kind::Tenant.as_str() {
            profile = Some(decode(&bytes)?);
        } else {
            policies.push(decode(&bytes)?);
        }
    }
    Ok((profile, policies))
}

/// The tenant's approval matrix, if known.
pub async fn approval_matrix<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Option<ApprovalMatrix>> {
    live(db, tenant, Kind::ApprovalMatrix, APPROVAL_MATRIX_ENTRY).await
}
