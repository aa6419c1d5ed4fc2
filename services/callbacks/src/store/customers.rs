//! The copy of the customers this service calls (`callback_customers`),
//! kept from the customers service's events by `consumers::customers`: the
//! record's state (a merged customer's tasks go to the survivor, an erased
//! one gets no call), the member flag (member coverage), the owner (tasks
//! assigned to the owner), the tier, the contact preferences (quiet times,
//! preferred hours, SMS consent) and the names and numbers to greet, call
//! and text by. The segment memberships beside it are `store::segments`.
//!
//! The row keeps the copy whole as a `Customer` message holding only what
//! the events tell (names, the primary phone and mobile as `phones`, member,
//! tier, owner, contact preferences, state), with the columns the look-ups
//! use (`state`, `merged_into`, `member`, `owner`, `mobile`).
//!
//! Most events tell only part of the record (an owner change, a tier, the
//! contact), and they may arrive out of order. So the copy keeps, per kind
//! of fact ([`Fact`]), the time of the latest event that told it
//! (`contact_time`, `member_time`, … columns): an event older than that is
//! stale for that fact only, and still news for the facts it tells that no
//! later event did. Segment memberships keep their times per segment
//! (`store::segments`).

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    events::{from_timestamp, to_timestamp},
    rows::{decode_resource, ident},
};
use kefu_proto::v1::{
    ContactPreferences, Customer, CustomerPhone, CustomerPhoneType, CustomerState,
};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbErr, QueryResult,
    sea_query::{Expr, ExprTrait, OnConflict, Order, Query},
};

use crate::error::Result;

const TABLE: &str = "callback_customers";

/// A customer as this service knows it from the customers events.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KnownCustomer {
    /// `customers/{customer}`.
    pub name: String,
    /// ACTIVE, MERGED (into `merged_into`) or ERASED (final; everything
    /// personal cleared).
    pub state: CustomerState,
    /// The survivor (`customers/{customer}`) when MERGED; empty otherwise.
    pub merged_into: String,
    /// Whether the customer is a member (会员).
    pub member: bool,
    /// `users/{user}` owner (专属客服); empty when unowned.
    pub owner: String,
    /// `tiers/{tier}`; empty when in no tier.
    pub tier: String,
    /// The name to show.
    pub display_name: String,
    /// Family name (姓), for greetings (`张先生`); may be empty.
    pub family_name: String,
    /// Given name (名); may be empty.
    pub given_name: String,
    /// The number to call first, E.164; empty without a phone.
    pub phone: String,
    /// The mobile number to text, E.164; empty without a mobile.
    pub mobile: String,
    /// Do-not-disturb, preferred hours and channel, SMS consent, time zone.
    pub contact_preferences: Option<ContactPreferences>,
    /// `segments/{segment}` the customer belongs to (from
    /// `store::segments`, filled by `find`).
    pub segments: Vec<String>,
    /// The time of the latest event applied to the copy.
    pub update_time: Option<DateTime<Utc>>,
    /// When each fact was last told (by `find`; left empty by the list
    /// look-ups, which never save).
    pub fact_times: FactTimes,
}

/// The kinds of fact the customers events tell separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// Names, phone numbers and contact preferences (CustomerCreated,
    /// CustomerUpdated).
    Contact,
    /// The member flag (CustomerCreated, CustomerUpdated, segment
    /// membership changes, merges).
    Member,
    /// The owner (CustomerCreated, CustomerOwnerAssigned, merges).
    Owner,
    /// The tier (CustomerCreated, CustomerTierChanged).
    Tier,
    /// ACTIVE or MERGED (merges and their undoing).
    State,
}

/// The time of the latest event that told each fact; None when none has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FactTimes {
    /// Of [`Fact::Contact`].
    pub contact: Option<DateTime<Utc>>,
    /// Of [`Fact::Member`].
    pub member: Option<DateTime<Utc>>,
    /// Of [`Fact::Owner`].
    pub owner: Option<DateTime<Utc>>,
    /// Of [`Fact::Tier`].
    pub tier: Option<DateTime<Utc>>,
    /// Of [`Fact::State`].
    pub state: Option<DateTime<Utc>>,
}

/// Each fact with the column keeping its time.
const FACT_COLUMNS: [(Fact, &str); 5] = [
    (Fact::Contact, "contact_time"),
    (Fact::Member, "member_time"),
    (Fact::Owner, "owner_time"),
    (Fact::Tier, "tier_time"),
    (Fact::State, "state_time"),
];

impl FactTimes {
    /// The time of `fact`.
    pub fn of(&self, fact: Fact) -> Option<DateTime<Utc>> {
        match fact {
            Fact::Contact => self.contact,
            Fact::Member => self.member,
            Fact::Owner => self.owner,
            Fact::Tier => self.tier,
            Fact::State => self.state,
        }
    }

    fn slot(&mut self, fact: Fact) -> &mut Option<DateTime<Utc>> {
        match fact {
            Fact::Contact => &mut self.contact,
            Fact::Member => &mut self.member,
            Fact::Owner => &mut self.owner,
            Fact::Tier => &mut self.tier,
            Fact::State => &mut self.state,
        }
    }
}

impl KnownCustomer {
    /// A live customer `name` with nothing else known yet (an event about
    /// a customer whose creation has not arrived).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            state: CustomerState::Active,
            ..Self::default()
        }
    }

    /// Whether an event of `time` telling `fact` is news: no later event
    /// told that fact, and the customer is not erased (erasure is final).
    /// When it is, `time` is recorded as the fact's and the caller applies
    /// what the event tells of it; when not, the caller leaves it alone.
    pub fn learns(&mut self, fact: Fact, time: DateTime<Utc>) -> bool {
        if self.state == CustomerState::Erased {
            return false;
        }
        let slot = self.fact_times.slot(fact);
        if slot.is_some_and(|known| known > time) {
            return false;
        }
        *slot = Some(time);
        true
    }

    /// Whether the customer can be called: a live record.
    pub fn is_active(&self) -> bool {
        self.state == CustomerState::Active
    }

    /// Whether the customer agreed to receive SMS.
    pub fn sms_consent(&self) -> bool {
        self.contact_preferences
            .as_ref()
            .is_some_and(|preferences| preferences.sms_consent)
    }

    /// The end of the customer's do-not-disturb, when it is on at `now`:
    /// `Some(None)` for an open-ended one, `Some(Some(until))` for a
    /// temporary one still running, None when the customer may be called.
    pub fn do_not_disturb_at(&self, now: DateTime<Utc>) -> Option<Option<DateTime<Utc>>> {
        let preferences = self.contact_preferences.as_ref()?;
        if !preferences.do_not_disturb {
            return None;
        }
        match preferences
            .do_not_disturb_until
            .as_ref()
            .and_then(from_timestamp)
        {
            Some(until) if until <= now => None,
            until => Some(until),
        }
    }

    /// The copy as stored.
    fn to_resource(&self) -> Customer {
        let mut phones = Vec::new();
        if !self.phone.is_empty() {
            phones.push(CustomerPhone {
                e164: self.phone.clone(),
                primary: true,
                r#type: if self.phone == self.mobile {
                    CustomerPhoneType::Mobile as i32
                } else {
                    CustomerPhoneType::Unspecified as i32
                },
                ..CustomerPhone::default()
            });
        }
        if !self.mobile.is_empty() && self.mobile != self.phone {
            phones.push(CustomerPhone {
                e164: self.mobile.clone(),
                r#type: CustomerPhoneType::Mobile as i32,
                ..CustomerPhone::default()
            });
        }
        Customer {
            name: self.name.clone(),
            display_name: self.display_name.clone(),
            family_name: self.family_name.clone(),
            given_name: self.given_name.clone(),
            phones,
            member: self.member,
            contact_preferences: self.contact_preferences.clone(),
            tier: self.tier.clone(),
            owner: self.owner.clone(),
            state: self.state as i32,
            merged_into: self.merged_into.clone(),
            update_time: self.update_time.map(to_timestamp),
            ..Customer::default()
        }
    }

    /// The copy read back.
    fn from_resource(customer: Customer) -> Self {
        let primary = customer.phones.iter().find(|phone| phone.primary);
        let mobile = customer
            .phones
            .iter()
            .find(|phone| phone.r#type == CustomerPhoneType::Mobile as i32);
        Self {
            state: CustomerState::try_from(customer.state).unwrap_or(CustomerState::Active),
            phone: primary.map(|phone| phone.e164.clone()).unwrap_or_default(),
            mobile: mobile.map(|phone| phone.e164.clone()).unwrap_or_default(),
            update_time: customer.update_time.as_ref().and_then(from_timestamp),
            name: customer.name,
            merged_into: customer.merged_into,
            member: customer.member,
            owner: customer.owner,
            tier: customer.tier,
            display_name: customer.display_name,
            family_name: customer.family_name,
            given_name: customer.given_name,
            contact_preferences: customer.contact_preferences,
            segments: Vec::new(),
            fact_times: FactTimes::default(),
        }
    }
}

fn read(row: &QueryResult) -> Result<KnownCustomer> {
    Ok(KnownCustomer::from_resource(decode_resource::<Customer>(
        row,
    )?))
}

/// A copy read with the times of its facts (selected by [`find`]).
fn read_with_times(row: &QueryResult) -> Result<KnownCustomer> {
    let mut customer = read(row)?;
    for (fact, column) in FACT_COLUMNS {
        *customer.fact_times.slot(fact) = row.try_get::<Option<DateTime<Utc>>>("", column)?;
    }
    Ok(customer)
}

/// The customer `name` (`customers/{customer}`) with its segments, if an
/// event told of it.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<KnownCustomer>> {
    let statement = Query::select()
        .column(ident("resource"))
        .columns(FACT_COLUMNS.map(|(_, column)| ident(column)))
        .from(ident(TABLE))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("name")).eq(name))
        .to_owned();
    let Some(row) = db.query_one(&statement).await? else {
        return Ok(None);
    };
    let mut customer = read_with_times(&row)?;
    customer.segments = super::segments::of_customer(db, tenant, name).await?;
    Ok(Some(customer))
}

/// The customer `name` following merges to the live record: the survivor
/// when `name` was merged (up to a few hops), else `name` itself.
pub async fn find_live<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<KnownCustomer>> {
    let mut current = find(db, tenant, name).await?;
    for _ in 0..8 {
        match &current {
            Some(customer)
                if customer.state == CustomerState::Merged && !customer.merged_into.is_empty() =>
            {
                current = find(db, tenant, &customer.merged_into.clone()).await?;
            }
            _ => break,
        }
    }
    Ok(current)
}

/// The live customers whose mobile number (E.164) is `mobile`, by name (a
/// household may share one): how an SMS reply finds its sender.
pub async fn with_mobile<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    mobile: &str,
) -> Result<Vec<KnownCustomer>> {
    if mobile.is_empty() {
        return Ok(Vec::new());
    }
    let statement = Query::select()
        .column(ident("resource"))
        .from(ident(TABLE))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("mobile")).eq(mobile))
        .and_where(Expr::col(ident("state")).eq(CustomerState::Active as i32))
        .order_by(ident("name"), Order::Asc)
        .to_owned();
    db.query_all(&statement).await?.iter().map(read).collect()
}

/// The customers `names` known here, in the order asked (unknown ones
/// left out), without their segments: for lists naming many customers.
pub async fn find_many<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    names: &[String],
) -> Result<Vec<KnownCustomer>> {
    let mut found = Vec::new();
    for chunk in names.chunks(500) {
        let statement = Query::select()
            .column(ident("resource"))
            .from(ident(TABLE))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
            .and_where(Expr::col(ident("name")).is_in(chunk.iter().map(String::as_str)))
            .to_owned();
        for row in db.query_all(&statement).await? {
            found.push(read(&row)?);
        }
    }
    found.sort_by_key(|customer| {
        names
            .iter()
            .position(|name| *name == customer.name)
            .unwrap_or(usize::MAX)
    });
    Ok(found)
}

/// Stores `customer` (read with [`known`] or [`find`], the facts its
/// event tells taken with [`KnownCustomer::learns`]) as of `time`, its
/// event's, unless the customer is erased (erasure is final). True when
/// stored. Staleness is per fact, decided by `learns`: the copy's
/// `update_time` only records the latest event applied.
pub async fn save<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    customer: &KnownCustomer,
    time: DateTime<Utc>,
) -> Result<bool> {
    let latest = match find(db, tenant, &customer.name).await? {
        Some(known) if known.state == CustomerState::Erased => return Ok(false),
        Some(known) => known
            .update_time
            .map_or(time, |known| std::cmp::max(known, time)),
        None => time,
    };
    write(db, tenant, customer, latest).await?;
    Ok(true)
}

async fn write<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    customer: &KnownCustomer,
    time: DateTime<Utc>,
) -> Result<()> {
    let mut stored = customer.clone();
    stored.update_time = Some(time);
    let resource = stored.to_resource().encode_to_vec();
    let mut columns = vec![
        ident("tenant_id"),
        ident("name"),
        ident("state"),
        ident("merged_into"),
        ident("member"),
        ident("owner"),
        ident("mobile"),
        ident("resource"),
        ident("update_time"),
    ];
    let mut values: Vec<sea_orm::Value> = vec![
        tenant.0.into(),
        stored.name.as_str().into(),
        (stored.state as i32).into(),
        stored.merged_into.as_str().into(),
        stored.member.into(),
        stored.owner.as_str().into(),
        stored.mobile.as_str().into(),
        resource.into(),
        time.into(),
    ];
    for (fact, column) in FACT_COLUMNS {
        columns.push(ident(column));
        values.push(stored.fact_times.of(fact).into());
    }
    let updated: Vec<_> = columns[2..].to_vec();
    let statement = Query::insert()
        .into_table(ident(TABLE))
        .columns(columns)
        .values(values.into_iter().map(Expr::val))
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(
            OnConflict::columns([ident("tenant_id"), ident("name")])
                .update_columns(updated)
                .to_owned(),
        )
        .to_owned();
    db.execute(&statement).await?;
    Ok(())
}

/// The stored customer `name`, or a live one with nothing known.
pub async fn known<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<KnownCustomer> {
    Ok(find(db, tenant, name)
        .await?
        .unwrap_or_else(|| KnownCustomer::new(name)))
}

/// Erases customer `name`: ERASED for good, everything personal (names,
/// numbers, preferences, owner, tier) cleared and its segment memberships
/// dropped; only the member flag stays, for statistics.
pub async fn erase<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    time: DateTime<Utc>,
) -> Result<()> {
    let member = find(db, tenant, name)
        .await?
        .is_some_and(|customer| customer.member);
    let erased = KnownCustomer {
        state: CustomerState::Erased,
        member,
        ..KnownCustomer::new(name)
    };
    write(db, tenant, &erased, time).await?;
    super::segments::remove_customer(db, tenant, name).await
}

/// Applies a merge: `merged` becomes MERGED into `survivor` (leaving its
/// segments), the survivor takes the merge's member flag and owner.
pub async fn merge<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    merged: &str,
    survivor: &str,
    survivor_member: bool,
    survivor_owner: &str,
    time: DateTime<Utc>,
) -> Result<()> {
    let mut gone = known(db, tenant, merged).await?;
    if gone.learns(Fact::State, time) {
        gone.state = CustomerState::Merged;
        gone.merged_into = survivor.to_owned();
        if save(db, tenant, &gone, time).await? {
            super::segments::remove_customer(db, tenant, merged).await?;
        }
    }
    let mut kept = known(db, tenant, survivor).await?;
    if kept.learns(Fact::Member, time) {
        kept.member = survivor_member;
    }
    if kept.learns(Fact::Owner, time) {
        kept.owner = survivor_owner.to_owned();
    }
    save(db, tenant, &kept, time).await?;
    Ok(())
}

/// Undoes a merge: `merged` is ACTIVE again if it was merged into
/// `survivor` (its segments come back with their own events).
pub async fn undo_merge<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    merged: &str,
    survivor: &str,
    time: DateTime<Utc>,
) -> Result<()> {
    let mut restored = known(db, tenant, merged).await?;
    if restored.state == CustomerState::Merged
        && restored.merged_into == survivor
        && restored.learns(Fact::State, time)
    {
        restored.state = CustomerState::Active;
        restored.merged_into.clear();
        save(db, tenant, &restored, time).await?;
    }
    Ok(())
}
