//! Surveys (满意度调查): CRUD and dimension rules. Responses keep the
//! answers and labels they were given with, so a survey's dimensions may
//! change under recorded responses; a survey is only kept from deletion
//! while a policy or an open task still asks it.

use kefu_kit::{
    filter::{FieldValue, Kind},
    resource,
};
use kefu_proto::v1::{
    CreateSurveyRequest, DeleteSurveyRequest, GetSurveyRequest, ListSurveysRequest,
    ListSurveysResponse, Survey, UpdateSurveyRequest,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared, caller,
    policies::{
        admin_only, at_etag, check_request_id, in_use, listed, mask_paths, parse_filter,
        parse_order, recall, stamp, text, unless_stale,
    },
    remember_request, required,
};
use crate::{
    domain::survey::{check_no_rename, check_survey},
    error::{CallbacksError, Result},
    store::{
        policies::{self as policy_store, open_task_uses},
        surveys as store,
    },
};

/// The paths `UpdateSurvey` may change (`dimensions` replaced whole).
const MUTABLE: &[&str] = &[
    "display_name",
    "description",
    "dimensions",
    "suggestion_enabled",
    "suggestion_prompt",
    "sms_template",
    "follow_up_ticket_kind",
    "follow_up_priority",
];

/// The fields `ListSurveys` filters on.
const FILTERS: &[(&str, Kind)] = &[("template_key", Kind::Text), ("dimensions.key", Kind::Text)];

/// CreateSurvey.
pub(super) async fn create_survey(
    shared: &Shared,
    request: Request<CreateSurveyRequest>,
) -> Result<Response<Survey>, Status> {
    let (context, tenant) = caller(&request)?;
    admin_only(&context, "surveys")?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let input = required(request.survey, "survey")?;
    let now = shared.now();
    let mut survey = Survey {
        name: store::name_of(Uuid::now_v7()),
        template_key: String::new(),
        create_time: stamp(now),
        update_time: stamp(now),
        etag: resource::etag(1),
        ..input
    };
    check_survey(&mut survey, "survey")?;
    let txn = shared.begin(tenant).await?;
    if let Some(name) = recall(&txn, tenant, &request.request_id).await? {
        let stored = store::find(&txn, tenant, &name)
            .await?
            .ok_or_else(|| CallbacksError::not_found(&name))?;
        return Ok(Response::new(stored));
    }
    store::insert(&txn, tenant, &survey, now).await?;
    remember_request(
        &txn,
        tenant,
        &request.request_id,
        "CreateSurvey",
        &survey.name,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(Response::new(survey))
}

/// GetSurvey.
pub(super) async fn get_survey(
    shared: &Shared,
    request: Request<GetSurveyRequest>,
) -> Result<Response<Survey>, Status> {
    let (_, tenant) = caller(&request)?;
    let name = request.into_inner().name;
    let txn = shared.begin_read(tenant).await?;
    let survey = store::find(&txn, tenant, &name)
        .await?
        .ok_or_else(|| CallbacksError::not_found(&name))?;
    txn.commit().await.map_err(CallbacksError::from)?;
    Ok(Response::new(survey))
}

fn filter_values(survey: &Survey, field: &str) -> Vec<FieldValue> {
    match field {
        "template_key" => text(&survey.template_key),
        "dimensions.key" => survey
            .dimensions
            .iter()
            .map(|dimension| FieldValue::Text(dimension.key.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

/// ListSurveys: oldest first unless asked otherwise.
pub(super) async fn list_surveys(
    shared: &Shared,
    request: Request<ListSurveysRequest>,
) -> Result<Response<ListSurveysResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let conditions = parse_filter(&request.filter, FILTERS)?;
    let order = parse_order(&request.order_by)?;
    let txn = shared.begin_read(tenant).await?;
    let all = store::list(&txn, tenant).await?;
    txn.commit().await.map_err(CallbacksError::from)?;
    let (surveys, next_page_token, total_size) = listed(
        all,
        &conditions,
        &order,
        &request.page_token,
        request.page_size,
        filter_values,
        |survey| {
            (
                survey.create_time.as_ref(),
                survey.update_time.as_ref(),
                survey.name.as_str(),
            )
        },
    )?;
    Ok(Response::new(ListSurveysResponse {
        surveys,
        next_page_token,
        total_size,
    }))
}

/// UpdateSurvey: the merged survey is checked as on create.
pub(super) async fn update_survey(
    shared: &Shared,
    request: Request<UpdateSurveyRequest>,
) -> Result<Response<Survey>, Status> {
    let (context, tenant) = caller(&request)?;
    admin_only(&context, "surveys")?;
    let request = request.into_inner();
    let input = required(request.survey, "survey")?;
    let paths = mask_paths(request.update_mask, MUTABLE, &[], &[])?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let stored = store::get(&txn, tenant, &input.name, true).await?;
    let stored = at_etag(stored, &input.name, &input.etag)?;
    let mut survey = stored.resource.clone();
    for path in &paths {
        match path.as_str() {
            "display_name" => survey.display_name.clone_from(&input.display_name),
            "description" => survey.description.clone_from(&input.description),
            "dimensions" => survey.dimensions.clone_from(&input.dimensions),
            "suggestion_enabled" => {
                survey.suggestion_enabled = Some(input.suggestion_enabled.unwrap_or(true));
            }
            "suggestion_prompt" => survey
                .suggestion_prompt
                .clone_from(&input.suggestion_prompt),
            "sms_template" => survey.sms_template.clone_from(&input.sms_template),
            "follow_up_ticket_kind" => survey
                .follow_up_ticket_kind
                .clone_from(&input.follow_up_ticket_kind),
            _ => survey.follow_up_priority = input.follow_up_priority,
        }
    }
    check_survey(&mut survey, "survey")?;
    check_no_rename(&stored.resource.dimensions, &survey.dimensions, "survey")?;
    survey.update_time = stamp(now);
    survey.etag = resource::etag(stored.revision + 1);
    unless_stale(
        store::replace(&txn, tenant, &survey, stored.revision, now).await?,
        &input.name,
    )?;
    shared.commit(txn).await?;
    Ok(Response::new(survey))
}

/// DeleteSurvey: refused while a policy or an open task asks it; recorded
/// responses are kept.
pub(super) async fn delete_survey(
    shared: &Shared,
    request: Request<DeleteSurveyRequest>,
) -> Result<Response<()>, Status> {
    let (context, tenant) = caller(&request)?;
    admin_only(&context, "surveys")?;
    let request = request.into_inner();
    let txn = shared.begin(tenant).await?;
    let stored = store::get(&txn, tenant, &request.name, true).await?;
    let stored = at_etag(stored, &request.name, &request.etag)?;
    let name = stored.resource.name.as_str();
    if let Some(policy) = policy_store::list(&txn, tenant)
        .await?
        .iter()
        .find(|policy| policy.survey == name)
    {
        return Err(in_use(name, &policy.name, "").into());
    }
    if let Some(id) = store::id_of(name)
        && open_task_uses(&txn, tenant, "survey_id", id).await?
    {
        return Err(in_use(name, "open callback tasks", "").into());
    }
    unless_stale(
        store::delete(&txn, tenant, name, stored.revision).await?,
        &request.name,
    )?;
    shared.commit(txn).await?;
    Ok(Response::new(()))
}
