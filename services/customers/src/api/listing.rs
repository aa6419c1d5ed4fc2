//! ListCustomers: the AIP-160 filter and order over ACTIVE customers.
//!
//! The filter's top-level equalities on stored columns (`member`, `tier`,
//! `tier_locked`, `owner`) narrow the query; the whole filter is then
//! evaluated over the decoded customers, which are ordered in memory. The
//! page token carries the last key read (order values and name), so a page
//! never repeats or skips a customer while others are added or removed, and
//! a fingerprint of the filter and order, so a token is not replayed
//! against another query.

use kefu_kit::context::PrincipalKind;
use kefu_proto::v1::{ListCustomersRequest, ListCustomersResponse};
use sea_orm::Value;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};

use super::{Shared, caller, classify, page_size};
use crate::{
    domain::filter::{self, Condition, Field, Filter, Op, OrderKey, SortValue, Value as Wanted},
    error::CustomersError,
    store::segments,
};

/// Customers read per batch.
const BATCH: usize = 1000;

/// The key a page continues after: order values, then the name.
type Key = (Vec<SortValue>, String);

fn fingerprint(filter: &str, order_by: &str) -> String {
    let digest = Sha256::digest(format!("{filter}\u{0}{order_by}").as_bytes());
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn token(fingerprint: &str, key: &Key) -> String {
    let json = serde_json::to_vec(&(fingerprint, &key.0, &key.1)).unwrap_or_default();
    let hex: String = json.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("c{hex}")
}

fn from_token(token: &str, fingerprint: &str) -> Option<Key> {
    let hex = token.strip_prefix('c')?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let (sent, values, name): (String, Vec<SortValue>, String) =
        serde_json::from_slice(&bytes).ok()?;
    (sent == fingerprint).then_some((values, name))
}

/// Column equalities every match satisfies, to narrow the query.
fn narrowing(filter: &Filter) -> Vec<(&'static str, Value)> {
    let mut columns = Vec::new();
    for condition in filter.required_conditions() {
        let Condition { field, op, value } = condition;
        if *op != Op::Eq {
            continue;
        }
        match (field, value) {
            (Field::Member, Wanted::Bool(flag)) => columns.push(("member", (*flag).into())),
            (Field::TierLocked, Wanted::Bool(flag)) => {
                columns.push(("tier_locked", (*flag).into()));
            }
            (Field::Tier, Wanted::Text(tier)) if !tier.is_empty() => {
                let id = tier.strip_prefix("tiers/").unwrap_or(tier);
                columns.push(("tier", id.to_owned().into()));
            }
            (Field::Owner, Wanted::Text(owner)) if !owner.is_empty() => {
                columns.push(("owner", owner.clone().into()));
            }
            _ => {}
        }
    }
    columns
}

/// ListCustomers.
pub(super) async fn list_customers(
    shared: &Shared,
    request: Request<ListCustomersRequest>,
) -> Result<Response<ListCustomersResponse>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let me = (context.principal.kind == PrincipalKind::User)
        .then(|| format!("users/{}", context.principal.id));
    let order: Vec<OrderKey> = filter::parse_order(&request.order_by)
        .map_err(|error| CustomersError::invalid("order_by", format!("order_by: {error}")))?;
    let fingerprint = fingerprint(&request.filter, &request.order_by);
    let after = if request.page_token.is_empty() {
        None
    } else {
        Some(
            from_token(&request.page_token, &fingerprint).ok_or_else(|| {
                CustomersError::invalid(
                    "page_token",
                    "page_token is not a token of this list with this filter and order",
                )
            })?,
        )
    };
    let txn = shared.begin_read(tenant).await?;
    let definitions = classify::definitions(&txn, tenant).await?;
    let mut filter = filter::parse(&request.filter, &classify::vocabulary(&definitions, false))
        .map_err(|error| CustomersError::invalid("filter", format!("filter: {error}")))?;
    filter
        .resolve_me(me.as_deref())
        .map_err(|error| CustomersError::invalid("filter", format!("filter: {error}")))?;
    let columns = narrowing(&filter);
    let mut matched = Vec::new();
    let mut last_id: Option<String> = None;
    loop {
        let batch = segments::active_batch(&txn, tenant.0, last_id.as_deref(), BATCH, &columns)
            .await
            .map_err(CustomersError::from)?;
        let Some(last) = batch.last() else {
            break;
        };
        last_id = crate::store::customers::id_of(&last.customer.name).map(str::to_owned);
        for stored in batch {
            if filter.matches(&stored.customer) {
                let key: Key = (
                    filter::sort_values(&stored.customer, &order),
                    stored.customer.name.clone(),
                );
                matched.push((key, stored.customer));
            }
        }
        if last_id.is_none() {
            break;
        }
    }
    txn.commit().await.map_err(CustomersError::from)?;
    let total_size = i32::try_from(matched.len()).unwrap_or(i32::MAX);
    matched.sort_by(|a, b| filter::compare_keys(&order, &a.0, &b.0));
    let start = match &after {
        Some(after) => {
            matched.partition_point(|(key, _)| filter::compare_keys(&order, key, after).is_le())
        }
        None => 0,
    };
    let rest = matched.len() - start;
    let page: Vec<_> = matched.into_iter().skip(start).take(limit).collect();
    let next_page_token = match page.last() {
        Some((key, _)) if rest > limit => token(&fingerprint, key),
        _ => String::new(),
    };
    Ok(Response::new(ListCustomersResponse {
        customers: page.into_iter().map(|(_, customer)| customer).collect(),
        next_page_token,
        total_size,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_the_key_and_the_query() {
        let key: Key = (
            vec![SortValue::Int(-5), SortValue::Text("zhang san".into())],
            "customers/c-1".into(),
        );
        let print = fingerprint("member = true", "display_name");
        assert_eq!(from_token(&token(&print, &key), &print), Some(key.clone()));
        let other = fingerprint("member = false", "display_name");
        assert_eq!(from_token(&token(&print, &key), &other), None);
        assert_eq!(from_token("c1", &print), None);
        assert_eq!(from_token("o50", &print), None);
    }

    #[test]
    fn equalities_on_columns_narrow_the_query() {
        let filter = filter::parse(
            r#"member = true AND tier = gold AND owner = "users/u-1" AND (tags:a OR tags:b) AND tier_locked != true"#,
            &filter::Vocabulary::default(),
        )
        .expect("parses");
        let columns: Vec<&str> = narrowing(&filter).into_iter().map(|(c, _)| c).collect();
        assert_eq!(columns, vec!["member", "tier", "owner"]);
    }
}
