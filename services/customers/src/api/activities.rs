//! The activity timeline, fed by events: entries are written by the
//! consumers of this and other services' events (and by RecordFirstContact,
//! which has no event of its own), and read here.

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, events::to_timestamp};
use kefu_proto::v1::{
    Actor, CustomerActivity, CustomerActivityKind, ListCustomerActivitiesRequest,
    ListCustomerActivitiesResponse,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared, caller,
    ownership::{clauses, cursor, micros},
    page_size,
    records::load,
};
pub(crate) use crate::store::activities::OWN;
use crate::{
    domain::timeline::{self, FieldKind, Happening},
    error::{CustomersError, Result},
    store::{activities as store, agents, customers},
};

/// An entry to add to a customer's timeline.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// What happened.
    pub kind: CustomerActivityKind,
    /// The facts the summary is written from.
    pub happening: Happening,
    /// The resource it is about.
    pub source: String,
    /// The channel involved (`kefu.v1.Channel`), 0 when none.
    pub channel: i32,
    /// Who acted, if known.
    pub actor: Option<Actor>,
    /// When it happened.
    pub occur_time: DateTime<Utc>,
}

/// Adds `entry` to customer `customer_id`'s timeline, its summary in the
/// tenant's locale; `producer` is the service whose event it came from.
pub(crate) async fn record(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    customer_id: &str,
    entry: Entry,
    producer: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let locale = agents::profile(txn, tenant.0).await?.locale;
    let id = Uuid::now_v7().to_string();
    let activity = activity(customer_id, &id, entry, &locale, now);
    store::insert(txn, tenant.0, customer_id, &id, &activity, producer).await?;
    Ok(())
}

/// Adds many entries `(customer id, entry)` at once, as [`record`] does
/// one: the tenant's locale read once, the rows written with multi-row
/// INSERTs.
pub(crate) async fn record_many(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    entries: Vec<(String, Entry)>,
    producer: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let locale = agents::profile(txn, tenant.0).await?.locale;
    let rows: Vec<_> = entries
        .into_iter()
        .map(|(customer_id, entry)| {
            let id = Uuid::now_v7().to_string();
            let activity = activity(&customer_id, &id, entry, &locale, now);
            (customer_id, id, activity)
        })
        .collect();
    store::insert_many(txn, tenant.0, &rows, producer).await?;
    Ok(())
}

/// The stored form of `entry`, entry `id` of customer `customer_id`.
fn activity(
    customer_id: &str,
    id: &str,
    entry: Entry,
    locale: &str,
    now: DateTime<Utc>,
) -> CustomerActivity {
    CustomerActivity {
        name: format!("customers/{customer_id}/activities/{id}"),
        kind: entry.kind as i32,
        summary: entry.happening.summary(locale),
        source: entry.source.chars().take(200).collect(),
        channel: entry.channel,
        actor: entry.actor,
        occur_time: Some(to_timestamp(micros(entry.occur_time))),
        create_time: Some(to_timestamp(micros(now))),
    }
}

/// ListCustomerActivities.
pub(super) async fn list_customer_activities(
    shared: &Shared,
    request: Request<ListCustomerActivitiesRequest>,
) -> Result<Response<ListCustomerActivitiesResponse>, Status> {
    Ok(list_customer_activities_in(shared, request).await?)
}

async fn list_customer_activities_in(
    shared: &Shared,
    request: Request<ListCustomerActivitiesRequest>,
) -> Result<Response<ListCustomerActivitiesResponse>> {
    const FIELDS: &[(&str, FieldKind)] = &[
        ("kind", FieldKind::Enum("CUSTOMER_ACTIVITY_KIND_")),
        ("occur_time", FieldKind::Time),
        ("source", FieldKind::Text),
    ];
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let after = cursor(&request.page_token)?;
    let clauses = clauses(
        timeline::parse_filter(&request.filter, FIELDS)?,
        &[
            ("kind", "kind"),
            ("occur_time", "occur_time"),
            ("source", "source"),
        ],
        |name| CustomerActivityKind::from_str_name(name).map(|kind| kind as i32),
    )?;
    let txn = shared.begin_read(tenant).await?;
    // `customers/-` reads every customer's timeline (AIP-159).
    let customer_id = if request.parent == "customers/-" {
        None
    } else if customers::id_of(&request.parent).is_some() {
        let stored = load(&txn, tenant, &request.parent, false).await?;
        customers::id_of(&stored.customer.name).map(str::to_owned)
    } else {
        return Err(CustomersError::invalid(
            "parent",
            "parent must be customers/{customer} or customers/-",
        ));
    };
    let (activities, next) = store::list(
        &txn,
        tenant.0,
        customer_id.as_deref(),
        &clauses,
        after.as_ref(),
        limit,
    )
    .await
    .map_err(CustomersError::from)?;
    txn.commit().await.map_err(CustomersError::from)?;
    Ok(Response::new(ListCustomerActivitiesResponse {
        activities,
        next_page_token: next.map(|cursor| cursor.token()).unwrap_or_default(),
    }))
}

/// Whether another service has referenced customer `id` (its timeline holds
/// an activity that came from another service's event).
pub(crate) async fn referenced(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    id: &str,
) -> Result<bool> {
    Ok(store::referenced(txn, tenant.0, id).await?)
}
