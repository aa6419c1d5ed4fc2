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
use prost_types::Timestamp;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared, caller,
    policies::{
        Catalogued, admin_only, check_request_id, delete_at, for_change, get_entry,
        insert_remembered, list_entries, mask_paths, recalled, replace_at, stamp, text,
        unused_by_open_tasks, unused_by_policies,
    },
    required,
};
use crate::{
    domain::survey::{check_no_rename, check_survey},
    error::Result,
    store::surveys as store,
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
    if let Some(earlier) = recalled(&txn, tenant, &request.request_id).await? {
        return Ok(Response::new(earlier));
    }
    insert_remembered(
        &txn,
        tenant,
        &survey,
        &request.request_id,
        "CreateSurvey",
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
    get_entry(shared, request.map(|request| request.name)).await
}

impl Catalogued for Survey {
    const FILTERS: &'static [(&'static str, Kind)] = FILTERS;

    fn filter_values(&self, field: &str) -> Vec<FieldValue> {
        match field {
            "template_key" => text(&self.template_key),
            "dimensions.key" => self
                .dimensions
                .iter()
                .map(|dimension| FieldValue::Text(dimension.key.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn times(&self) -> (Option<&Timestamp>, Option<&Timestamp>) {
        (self.create_time.as_ref(), self.update_time.as_ref())
    }
}

/// ListSurveys: oldest first unless asked otherwise.
pub(super) async fn list_surveys(
    shared: &Shared,
    request: Request<ListSurveysRequest>,
) -> Result<Response<ListSurveysResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let (surveys, next_page_token, total_size) = list_entries(
        shared,
        tenant,
        &request.filter,
        &request.order_by,
        &request.page_token,
        request.page_size,
    )
    .await?;
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
    let stored = for_change::<Survey>(&txn, tenant, &input.name, &input.etag).await?;
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
    replace_at(&txn, tenant, &mut survey, stored.revision, &input.name, now).await?;
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
    let stored = for_change::<Survey>(&txn, tenant, &request.name, &request.etag).await?;
    let name = stored.resource.name.as_str();
    unused_by_policies(&txn, tenant, name, |policy| &policy.survey).await?;
    unused_by_open_tasks::<Survey>(&txn, tenant, name, "survey_id", "").await?;
    delete_at(&txn, tenant, &stored, &request.name).await?;
    shared.commit(txn).await?;
    Ok(Response::new(()))
}
