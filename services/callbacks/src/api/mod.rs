//! gRPC handlers of the callbacks service: they read the caller from the
//! internal credential, open the transaction for the caller's tenant, let
//! `domain` decide and `store` persist, and append the events to the outbox
//! in the same transaction. One module per part of the contract; the trait
//! implementation below only routes.

mod attempts;
pub(crate) mod campaigns;
mod coverage;
mod policies;
mod responses;
mod scripts;
pub(crate) mod sms;
mod surveys;
pub(crate) mod tasks;

use chrono::{DateTime, Utc};
use kefu_kit::{
    auth::InternalAuth,
    context::{CallContext, PrincipalKind, TenantId},
    events::new_event,
    outbox,
    service::ServiceContext,
};
use kefu_proto::v1::{
    Actor, ActorKind, CallbackAttempt, CallbackCoverage, CallbackPolicy, CallbackScript,
    CallbackTask, Campaign, CancelCallbackTaskRequest, CancelCampaignRequest,
    CreateCallbackPolicyRequest, CreateCallbackScriptRequest, CreateCallbackTaskRequest,
    CreateCampaignRequest, CreateSurveyRequest, DeleteCallbackPolicyRequest,
    DeleteCallbackScriptRequest, DeleteSurveyRequest, GetCallbackAttemptRequest,
    GetCallbackPolicyRequest, GetCallbackScriptRequest, GetCallbackTaskRequest,
    GetCampaignCoverageRequest, GetCampaignRequest, GetPolicyCoverageRequest, GetSurveyRequest,
    GetSurveyResponseRequest, ListCallbackAttemptsRequest, ListCallbackAttemptsResponse,
    ListCallbackPoliciesRequest, ListCallbackPoliciesResponse, ListCallbackScriptsRequest,
    ListCallbackScriptsResponse, ListCallbackTasksRequest, ListCallbackTasksResponse,
    ListCampaignsRequest, ListCampaignsResponse, ListSurveyResponsesRequest,
    ListSurveyResponsesResponse, ListSurveysRequest, ListSurveysResponse,
    ListUncoveredCustomersRequest, ListUncoveredCustomersResponse, ReassignCallbackTaskRequest,
    RecordCallbackOutcomeRequest, RecordSmsSurveyReplyRequest, RecordSmsSurveyReplyResponse,
    RenderCallbackScriptRequest, RenderedCallbackScript, Role, SendSurveyBySmsRequest,
    StartCallbackAttemptRequest, StartCampaignRequest, SubmitSurveyResponseRequest, Survey,
    SurveyResponse, UpdateCallbackPolicyRequest, UpdateCallbackScriptRequest,
    UpdateCampaignRequest, UpdateSurveyRequest,
    callback_service_server::{CallbackService, CallbackServiceServer},
};
use prost::{Message, Name};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status, service::RoutesBuilder};

use crate::{
    NAME,
    error::{CallbacksError, Result},
};

/// What the handlers share: the service's database, outbox signal and
/// clock, with the tenant-scoped transactions they open.
pub type Shared = ServiceContext;

/// Adds every gRPC service of this target, each behind `auth`.
pub fn add_routes(routes: &mut RoutesBuilder, auth: &InternalAuth, shared: Shared) {
    routes.add_service(CallbackServiceServer::with_interceptor(
        CallbackApi(shared),
        auth.clone(),
    ));
}

/// Appends the event `payload` about `subject` to the outbox, in `txn`.
pub(crate) async fn append_event<M: Message + Name>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    subject: impl Into<String>,
    payload: &M,
    now: DateTime<Utc>,
) -> Result<()> {
    let event = new_event(NAME, Some(tenant), subject, payload, now);
    Ok(outbox::append(txn, &event).await?)
}

/// A request's `field`, or INVALID_ARGUMENT naming it.
pub(crate) fn required<T>(value: Option<T>, field: &str) -> Result<T> {
    value.ok_or_else(|| CallbacksError::invalid(field, format!("{field} is required")))
}

/// The caller of a request and its tenant: every method of this service
/// acts inside one tenant, as one of its users or keys.
pub(crate) fn caller<T>(request: &Request<T>) -> Result<(CallContext, TenantId)> {
    let context = kefu_kit::context::call_context(request)?.clone();
    match context.principal.kind {
        PrincipalKind::User | PrincipalKind::ApiKey | PrincipalKind::System => {
            let tenant = context.require_tenant()?;
            Ok((context, tenant))
        }
        _ => Err(CallbacksError::PermissionDenied(
            "callbacks are a tenant's: call as one of its users or keys".into(),
        )),
    }
}

/// True when the caller holds one of `roles` (a key or Kefu itself
/// holds what its scopes allowed at the gateway).
pub(crate) fn holds(context: &CallContext, roles: &[Role]) -> bool {
    context.principal.kind != PrincipalKind::User
        || context
            .principal
            .roles
            .iter()
            .any(|held| roles.iter().any(|role| role.as_str_name() == held))
}

/// The caller as `users/{user}`, when a user calls.
pub(crate) fn caller_user(context: &CallContext) -> Option<String> {
    (context.principal.kind == PrincipalKind::User)
        .then(|| format!("users/{}", context.principal.id))
}

/// The system, as the creator of triggered tasks and the actor of what
/// Kefu does by itself.
pub(crate) fn system_actor() -> Actor {
    Actor {
        kind: ActorKind::System as i32,
        ..Actor::default()
    }
}

/// The caller as an actor: a user with the display name of the copy of
/// the tenant, a key, or the system.
pub(crate) async fn actor_of(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    context: &CallContext,
) -> Result<Actor> {
    Ok(match context.principal.kind {
        PrincipalKind::User => {
            let name = format!("users/{}", context.principal.id);
            let display_name = kefu_tenants::replica::user(txn, tenant, &name)
                .await?
                .map(|user| user.display_name)
                .unwrap_or_default();
            Actor {
                kind: ActorKind::User as i32,
                name,
                display_name,
            }
        }
        PrincipalKind::ApiKey => Actor {
            kind: ActorKind::ApiKey as i32,
            name: format!("apiKeys/{}", context.principal.id),
            display_name: String::new(),
        },
        _ => system_actor(),
    })
}

/// Remembers `request_id` (when the caller gave one) as naming `resource`,
/// created by `method`, in the creating transaction: a retry with the same
/// id answers with that resource.
pub(crate) async fn remember_request(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    request_id: &str,
    method: &str,
    resource: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if !request_id.is_empty() {
        kefu_kit::idempotency::remember(txn, tenant.0, request_id, method, resource, now).await?;
    }
    Ok(())
}

/// The page size of a request, or INVALID_ARGUMENT naming `page_size`.
pub(crate) fn page_size(requested: i32) -> Result<usize> {
    kefu_kit::resource::page_size(requested)
        .ok_or_else(|| CallbacksError::invalid("page_size", "page_size must not be negative"))
}

/// Handlers of `kefu.v1.CallbackService`.
#[derive(Clone)]
pub struct CallbackApi(Shared);

#[tonic::async_trait]
impl CallbackService for CallbackApi {
    async fn start_callback_attempt(
        &self,
        request: Request<StartCallbackAttemptRequest>,
    ) -> Result<Response<CallbackAttempt>, Status> {
        attempts::start_callback_attempt(&self.0, request).await
    }

    async fn record_callback_outcome(
        &self,
        request: Request<RecordCallbackOutcomeRequest>,
    ) -> Result<Response<CallbackTask>, Status> {
        attempts::record_callback_outcome(&self.0, request).await
    }

    async fn get_callback_attempt(
        &self,
        request: Request<GetCallbackAttemptRequest>,
    ) -> Result<Response<CallbackAttempt>, Status> {
        attempts::get_callback_attempt(&self.0, request).await
    }

    async fn list_callback_attempts(
        &self,
        request: Request<ListCallbackAttemptsRequest>,
    ) -> Result<Response<ListCallbackAttemptsResponse>, Status> {
        attempts::list_callback_attempts(&self.0, request).await
    }

    async fn create_campaign(
        &self,
        request: Request<CreateCampaignRequest>,
    ) -> Result<Response<Campaign>, Status> {
        campaigns::create_campaign(&self.0, request).await
    }

    async fn get_campaign(
        &self,
        request: Request<GetCampaignRequest>,
    ) -> Result<Response<Campaign>, Status> {
        campaigns::get_campaign(&self.0, request).await
    }

    async fn list_campaigns(
        &self,
        request: Request<ListCampaignsRequest>,
    ) -> Result<Response<ListCampaignsResponse>, Status> {
        campaigns::list_campaigns(&self.0, request).await
    }

    async fn update_campaign(
        &self,
        request: Request<UpdateCampaignRequest>,
    ) -> Result<Response<Campaign>, Status> {
        campaigns::update_campaign(&self.0, request).await
    }

    async fn start_campaign(
        &self,
        request: Request<StartCampaignRequest>,
    ) -> Result<Response<Campaign>, Status> {
        campaigns::start_campaign(&self.0, request).await
    }

    async fn cancel_campaign(
        &self,
        request: Request<CancelCampaignRequest>,
    ) -> Result<Response<Campaign>, Status> {
        campaigns::cancel_campaign(&self.0, request).await
    }

    async fn get_campaign_coverage(
        &self,
        request: Request<GetCampaignCoverageRequest>,
    ) -> Result<Response<CallbackCoverage>, Status> {
        coverage::get_campaign_coverage(&self.0, request).await
    }

    async fn get_policy_coverage(
        &self,
        request: Request<GetPolicyCoverageRequest>,
    ) -> Result<Response<CallbackCoverage>, Status> {
        coverage::get_policy_coverage(&self.0, request).await
    }

    async fn list_uncovered_customers(
        &self,
        request: Request<ListUncoveredCustomersRequest>,
    ) -> Result<Response<ListUncoveredCustomersResponse>, Status> {
        coverage::list_uncovered_customers(&self.0, request).await
    }

    async fn create_callback_policy(
        &self,
        request: Request<CreateCallbackPolicyRequest>,
    ) -> Result<Response<CallbackPolicy>, Status> {
        policies::create_callback_policy(&self.0, request).await
    }

    async fn get_callback_policy(
        &self,
        request: Request<GetCallbackPolicyRequest>,
    ) -> Result<Response<CallbackPolicy>, Status> {
        policies::get_callback_policy(&self.0, request).await
    }

    async fn list_callback_policies(
        &self,
        request: Request<ListCallbackPoliciesRequest>,
    ) -> Result<Response<ListCallbackPoliciesResponse>, Status> {
        policies::list_callback_policies(&self.0, request).await
    }

    async fn update_callback_policy(
        &self,
        request: Request<UpdateCallbackPolicyRequest>,
    ) -> Result<Response<CallbackPolicy>, Status> {
        policies::update_callback_policy(&self.0, request).await
    }

    async fn delete_callback_policy(
        &self,
        request: Request<DeleteCallbackPolicyRequest>,
    ) -> Result<Response<()>, Status> {
        policies::delete_callback_policy(&self.0, request).await
    }

    async fn submit_survey_response(
        &self,
        request: Request<SubmitSurveyResponseRequest>,
    ) -> Result<Response<SurveyResponse>, Status> {
        responses::submit_survey_response(&self.0, request).await
    }

    async fn get_survey_response(
        &self,
        request: Request<GetSurveyResponseRequest>,
    ) -> Result<Response<SurveyResponse>, Status> {
        responses::get_survey_response(&self.0, request).await
    }

    async fn list_survey_responses(
        &self,
        request: Request<ListSurveyResponsesRequest>,
    ) -> Result<Response<ListSurveyResponsesResponse>, Status> {
        responses::list_survey_responses(&self.0, request).await
    }

    async fn create_callback_script(
        &self,
        request: Request<CreateCallbackScriptRequest>,
    ) -> Result<Response<CallbackScript>, Status> {
        scripts::create_callback_script(&self.0, request).await
    }

    async fn get_callback_script(
        &self,
        request: Request<GetCallbackScriptRequest>,
    ) -> Result<Response<CallbackScript>, Status> {
        scripts::get_callback_script(&self.0, request).await
    }

    async fn list_callback_scripts(
        &self,
        request: Request<ListCallbackScriptsRequest>,
    ) -> Result<Response<ListCallbackScriptsResponse>, Status> {
        scripts::list_callback_scripts(&self.0, request).await
    }

    async fn update_callback_script(
        &self,
        request: Request<UpdateCallbackScriptRequest>,
    ) -> Result<Response<CallbackScript>, Status> {
        scripts::update_callback_script(&self.0, request).await
    }

    async fn delete_callback_script(
        &self,
        request: Request<DeleteCallbackScriptRequest>,
    ) -> Result<Response<()>, Status> {
        scripts::delete_callback_script(&self.0, request).await
    }

    async fn render_callback_script(
        &self,
        request: Request<RenderCallbackScriptRequest>,
    ) -> Result<Response<RenderedCallbackScript>, Status> {
        scripts::render_callback_script(&self.0, request).await
    }

    async fn send_survey_by_sms(
        &self,
        request: Request<SendSurveyBySmsRequest>,
    ) -> Result<Response<CallbackAttempt>, Status> {
        sms::send_survey_by_sms(&self.0, request).await
    }

    async fn record_sms_survey_reply(
        &self,
        request: Request<RecordSmsSurveyReplyRequest>,
    ) -> Result<Response<RecordSmsSurveyReplyResponse>, Status> {
        sms::record_sms_survey_reply(&self.0, request).await
    }

    async fn create_survey(
        &self,
        request: Request<CreateSurveyRequest>,
    ) -> Result<Response<Survey>, Status> {
        surveys::create_survey(&self.0, request).await
    }

    async fn get_survey(
        &self,
        request: Request<GetSurveyRequest>,
    ) -> Result<Response<Survey>, Status> {
        surveys::get_survey(&self.0, request).await
    }

    async fn list_surveys(
        &self,
        request: Request<ListSurveysRequest>,
    ) -> Result<Response<ListSurveysResponse>, Status> {
        surveys::list_surveys(&self.0, request).await
    }

    async fn update_survey(
        &self,
        request: Request<UpdateSurveyRequest>,
    ) -> Result<Response<Survey>, Status> {
        surveys::update_survey(&self.0, request).await
    }

    async fn delete_survey(
        &self,
        request: Request<DeleteSurveyRequest>,
    ) -> Result<Response<()>, Status> {
        surveys::delete_survey(&self.0, request).await
    }

    async fn list_callback_tasks(
        &self,
        request: Request<ListCallbackTasksRequest>,
    ) -> Result<Response<ListCallbackTasksResponse>, Status> {
        tasks::list_callback_tasks(&self.0, request).await
    }

    async fn get_callback_task(
        &self,
        request: Request<GetCallbackTaskRequest>,
    ) -> Result<Response<CallbackTask>, Status> {
        tasks::get_callback_task(&self.0, request).await
    }

    async fn create_callback_task(
        &self,
        request: Request<CreateCallbackTaskRequest>,
    ) -> Result<Response<CallbackTask>, Status> {
        tasks::create_callback_task(&self.0, request).await
    }

    async fn reassign_callback_task(
        &self,
        request: Request<ReassignCallbackTaskRequest>,
    ) -> Result<Response<CallbackTask>, Status> {
        tasks::reassign_callback_task(&self.0, request).await
    }

    async fn cancel_callback_task(
        &self,
        request: Request<CancelCallbackTaskRequest>,
    ) -> Result<Response<CallbackTask>, Status> {
        tasks::cancel_callback_task(&self.0, request).await
    }
}
