//! SearchCustomers: each criterion is a range of one look-up table's key,
//! combined with AND as `id IN (…)` semi-joins, ordered by the pinyin sort
//! key and the id, and paged by the last key read (so a page never repeats
//! or skips a customer while others are added).

use kefu_proto::v1::CustomerState;
use sea_orm::{
    ConnectionTrait, DbErr,
    sea_query::{Cond, Expr, ExprTrait, Order, Query, SelectStatement},
};
use uuid::Uuid;

use super::{
    customers::{self, Stored},
    ident,
};
use crate::domain::{customer::IdentifierKey, names};

/// What to search for; every criterion set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Criteria {
    /// A squashed name prefix (`zhang`, `张`).
    pub name_prefix: Option<String>,
    /// An E.164 phone.
    pub phone: Option<String>,
    /// A lowercase e-mail.
    pub email: Option<String>,
    /// An identifier key.
    pub identifier: Option<IdentifierKey>,
    /// A lowercase tag.
    pub tag: Option<String>,
    /// A tier id.
    pub tier: Option<String>,
    /// A segment id (members in `segment_members`).
    pub segment: Option<String>,
    /// An owner (`users/{user}`).
    pub owner: Option<String>,
}

/// Where a page starts: after this customer's sort key and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    /// The sort key of the last customer read.
    pub sort_key: String,
    /// Its id.
    pub id: String,
}

impl After {
    /// The page token that continues after this key.
    pub fn token(&self) -> String {
        let hex: String = self
            .sort_key
            .bytes()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!("k{hex}.{}", self.id)
    }

    /// The key in a token from [`After::token`].
    pub fn from_token(token: &str) -> Option<Self> {
        let (hex, id) = token.strip_prefix('k')?.split_once('.')?;
        if hex.len() % 2 != 0 || id.is_empty() {
            return None;
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        Some(Self {
            sort_key: String::from_utf8(bytes).ok()?,
            id: id.to_owned(),
        })
    }
}

fn members(table: &'static str, tenant: Uuid, condition: Cond) -> SelectStatement {
    Query::select()
        .column(ident("customer_id"))
        .from(ident(table))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .cond_where(condition)
        .to_owned()
}

/// One page of ACTIVE customers of `tenant` matching `criteria`, after
/// `after`, at most `limit`, and the key to continue after when more follow.
pub async fn search<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    criteria: &Criteria,
    after: Option<&After>,
    limit: usize,
) -> Result<(Vec<Stored>, Option<After>), DbErr> {
    let mut statement = customers::select()
        .column(ident("sort_key"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("state")).eq(CustomerState::Active as i32))
        .to_owned();
    let lookups: [(&'static str, &'static str, &Option<String>); 4] = [
        ("customer_phones", "e164", &criteria.phone),
        ("customer_emails", "email", &criteria.email),
        ("customer_tags", "tag", &criteria.tag),
        ("segment_members", "segment_id", &criteria.segment),
    ];
    for (table, column, value) in lookups {
        if let Some(value) = value {
            statement.and_where(Expr::col(ident("id")).in_subquery(members(
                table,
                tenant,
                Cond::all().add(Expr::col(ident(column)).eq(value.as_str())),
            )));
        }
    }
    if let Some(prefix) = &criteria.name_prefix {
        statement.and_where(
            Expr::col(ident("id")).in_subquery(members(
                "customer_name_keys",
                tenant,
                Cond::all()
                    .add(Expr::col(ident("name_key")).gte(prefix.as_str()))
                    .add(Expr::col(ident("name_key")).lt(names::prefix_end(prefix))),
            )),
        );
    }
    if let Some(key) = &criteria.identifier {
        statement.and_where(
            Expr::col(ident("id")).in_subquery(members(
                "customer_identifiers",
                tenant,
                Cond::all()
                    .add(Expr::col(ident("kind")).eq(key.kind))
                    .add(Expr::col(ident("label_key")).eq(key.label_key.as_str()))
                    .add(Expr::col(ident("value_key")).eq(key.value_key.as_str())),
            )),
        );
    }
    if let Some(tier) = &criteria.tier {
        statement.and_where(Expr::col(ident("tier")).eq(tier.as_str()));
    }
    if let Some(owner) = &criteria.owner {
        statement.and_where(Expr::col(ident("owner")).eq(owner.as_str()));
    }
    if let Some(after) = after {
        statement.cond_where(
            Cond::any()
                .add(Expr::col(ident("sort_key")).gt(after.sort_key.as_str()))
                .add(
                    Cond::all()
                        .add(Expr::col(ident("sort_key")).eq(after.sort_key.as_str()))
                        .add(Expr::col(ident("id")).gt(after.id.as_str())),
                ),
        );
    }
    statement
        .order_by(ident("sort_key"), Order::Asc)
        .order_by(ident("id"), Order::Asc)
        .limit(limit as u64 + 1);
    let rows = db.query_all(&statement).await?;
    let mut page = Vec::with_capacity(limit);
    let mut last = None;
    for row in rows.iter().take(limit) {
        page.push(customers::from_row(row)?);
        last = Some(After {
            sort_key: row.try_get("", "sort_key")?,
            id: row.try_get("", "id")?,
        });
    }
    let next = if rows.len() > limit { last } else { None };
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_the_last_key() {
        let after = After {
            sort_key: "zhang san\u{1}张三".into(),
            id: "c-1".into(),
        };
        assert_eq!(After::from_token(&after.token()), Some(after));
        assert_eq!(After::from_token("o50"), None);
        assert_eq!(After::from_token("kzz.c"), None);
    }
}
