//! Survey responses: the encoded `kefu.v1.SurveyResponse` beside the
//! columns the lists and reports read. One per task (UNIQUE tenant, task):
//! [`insert`] says when the task already has one instead of failing the
//! transaction, so two agents submitting at once end in one response and
//! one ALREADY_EXISTS. Responses are never overwritten; only the follow-up
//! ticket is filled in later, and an erased customer's are anonymised.

use kefu_kit::{
    context::TenantId,
    events::from_timestamp,
    resource,
    rows::{self, ident},
};
use kefu_proto::v1::{Actor, ActorKind, SurveyResponse};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, QueryResult, Value,
    sea_query::{Expr, ExprTrait, OnConflict, Order, Query, SelectStatement},
};
use uuid::Uuid;

use crate::error::{CallbacksError, Result};

const TABLE: &str = "survey_responses";

/// The collection of response names.
pub const COLLECTION: &str = "surveyResponses";

/// `surveyResponses/{id}`.
pub fn name_of(id: Uuid) -> String {
    format!("{COLLECTION}/{id}")
}

/// The id of a response name, when it is one of ours.
pub fn id_of(name: &str) -> Option<Uuid> {
    resource::id_in(name, COLLECTION).and_then(|id| Uuid::parse_str(id).ok())
}

fn uuid_in(name: &str, collection: &str) -> Option<Uuid> {
    resource::id_in(name, collection).and_then(|id| Uuid::parse_str(id).ok())
}

fn select() -> SelectStatement {
    Query::select()
        .column(ident("resource"))
        .from(ident(TABLE))
        .to_owned()
}

fn from_row(row: &QueryResult) -> Result<SurveyResponse> {
    Ok(rows::decode_resource::<SurveyResponse>(row)?)
}

/// A text column, NULL when empty.
fn non_empty(text: &str) -> Value {
    if text.is_empty() {
        Option::<String>::None.into()
    } else {
        Some(text.to_owned()).into()
    }
}

/// Inserts `response` (named, its times set). False, with nothing written,
/// when its task already has a response.
pub async fn insert(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    response: &SurveyResponse,
) -> Result<bool> {
    let internal = |what: &str| CallbacksError::Internal(format!("response {what}"));
    let id = id_of(&response.name).ok_or_else(|| internal(&response.name))?;
    let task = super::tasks::id_of(&response.callback_task)
        .ok_or_else(|| internal(&response.callback_task))?;
    let survey = uuid_in(&response.survey, "surveys").ok_or_else(|| internal(&response.survey))?;
    let policy =
        uuid_in(&response.policy, "callbackPolicies").ok_or_else(|| internal(&response.policy))?;
    let respond_time = response.respond_time.as_ref().and_then(from_timestamp);
    let create_time = response.create_time.as_ref().and_then(from_timestamp);
    let values: Vec<(&'static str, Value)> = vec![
        ("tenant_id", tenant.0.into()),
        ("id", id.into()),
        ("task_id", task.into()),
        ("survey_id", survey.into()),
        ("policy_id", policy.into()),
        (
            "campaign_id",
            uuid_in(&response.campaign, "campaigns").into(),
        ),
        ("customer", non_empty(&response.customer)),
        ("agent", non_empty(&response.agent)),
        ("team", non_empty(&response.team)),
        ("lowest_level", response.lowest_level.into()),
        ("follow_up_requested", response.follow_up_requested.into()),
        ("respond_time", respond_time.into()),
        ("resource", response.encode_to_vec().into()),
        ("create_time", create_time.into()),
    ];
    let (names, values): (Vec<_>, Vec<_>) = values.into_iter().unzip();
    let statement = Query::insert()
        .into_table(ident(TABLE))
        .columns(names.into_iter().map(ident))
        .values(values.into_iter().map(Expr::val))
        .map_err(|error| CallbacksError::Internal(error.to_string()))?
        .on_conflict(
            OnConflict::columns([ident("tenant_id"), ident("task_id")])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    Ok(txn.execute(&statement).await?.rows_affected() == 1)
}

/// The response `name` of `tenant`, if it exists; with `lock` the row stays
/// locked until the transaction ends (PostgreSQL).
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    lock: bool,
) -> Result<Option<SurveyResponse>> {
    let Some(id) = id_of(name) else {
        return Ok(None);
    };
    let statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    rows::fetch_one(db, statement, lock, from_row).await
}

/// The response of task `task` (`callbackTasks/{id}`), if any.
pub async fn find_by_task<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    task: &str,
) -> Result<Option<SurveyResponse>> {
    let Some(id) = super::tasks::id_of(task) else {
        return Ok(None);
    };
    let statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("task_id")).eq(id))
        .to_owned();
    rows::fetch_one(db, statement, false, from_row).await
}

/// Every response of `tenant`, latest answer first.
pub async fn list<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Vec<SurveyResponse>> {
    let statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .order_by(ident("respond_time"), Order::Desc)
        .order_by(ident("id"), Order::Desc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Rewrites `response` (same name) with its index columns.
async fn rewrite<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    response: &SurveyResponse,
) -> Result<()> {
    let id = id_of(&response.name)
        .ok_or_else(|| CallbacksError::Internal(format!("response {}", response.name)))?;
    let statement = Query::update()
        .table(ident(TABLE))
        .value(ident("customer"), non_empty(&response.customer))
        .value(ident("resource"), response.encode_to_vec())
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    db.execute(&statement).await?;
    Ok(())
}

/// Records `ticket` as the follow-up ticket of response `name`: true when
/// it was filled now, false when the response is unknown, asked for no
/// follow-up, or already names its ticket.
pub async fn set_follow_up_ticket(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    ticket: &str,
) -> Result<bool> {
    let Some(mut response) = find(txn, tenant, name, true).await? else {
        return Ok(false);
    };
    if !response.follow_up_requested || !response.follow_up_ticket.is_empty() {
        return Ok(false);
    }
    response.follow_up_ticket = ticket.to_owned();
    rewrite(txn, tenant, &response).await?;
    Ok(true)
}

/// `response` without what names its erased customer: the customer
/// reference, the suggestion, and the customer as recorder (an SMS answer
/// is recorded by the customer, with their name) kept only as the kind.
fn anonymised(response: &SurveyResponse) -> SurveyResponse {
    let mut cleared = response.clone();
    cleared.customer.clear();
    cleared.suggestion.clear();
    if let Some(recorder) = cleared.recorder.as_mut()
        && recorder.kind == ActorKind::Customer as i32
    {
        *recorder = Actor {
            kind: ActorKind::Customer as i32,
            ..Actor::default()
        };
    }
    cleared
}

/// Anonymises the responses of an erased `customer`: the customer
/// reference, the suggestion and the customer as recorder are cleared
/// ([`anonymised`]), the levels stay for the
/// statistics; the SMS replies to those tasks, and the others from the same
/// numbers, are deleted. Answers how many responses were changed.
pub async fn anonymise_customer(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    customer: &str,
) -> Result<usize> {
    let statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("customer")).eq(customer))
        .to_owned();
    let responses = txn
        .query_all(&statement)
        .await?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>>>()?;
    for response in &responses {
        rewrite(txn, tenant, &anonymised(response)).await?;
    }
    // The texts the customer sent (a suggestion among them) go too.
    let answered: Vec<String> = responses
        .iter()
        .map(|response| response.callback_task.clone())
        .collect();
    super::sms::erase_for_tasks(txn, tenant, &answered).await?;
    Ok(responses.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_erased_customer_is_no_longer_named_as_the_recorder() {
        let answered_by_sms = SurveyResponse {
            name: name_of(Uuid::now_v7()),
            customer: "customers/c1".into(),
            suggestion: "送货有点慢".into(),
            lowest_level: 2,
            recorder: Some(Actor {
                kind: ActorKind::Customer as i32,
                name: "customers/c1".into(),
                display_name: "张伟".into(),
            }),
            ..SurveyResponse::default()
        };
        let cleared = anonymised(&answered_by_sms);
        assert_eq!(cleared.customer, "");
        assert_eq!(cleared.suggestion, "");
        assert_eq!(cleared.lowest_level, 2);
        assert_eq!(
            cleared.recorder,
            Some(Actor {
                kind: ActorKind::Customer as i32,
                ..Actor::default()
            })
        );
        // An agent who recorded the answers on the phone stays named.
        let agent = Actor {
            kind: ActorKind::User as i32,
            name: "users/wang".into(),
            display_name: "王芳".into(),
        };
        let answered_on_the_phone = SurveyResponse {
            recorder: Some(agent.clone()),
            ..answered_by_sms
        };
        assert_eq!(anonymised(&answered_on_the_phone).recorder, Some(agent));
    }
}
