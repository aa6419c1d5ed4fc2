//! Scripts (话术): CRUD with every text checked as a template (an unknown
//! placeholder or a malformed one is refused on save, naming the text and
//! locale), and the script rendered for the agent about to call.

use chrono_tz::Tz;
use kefu_kit::{
    events::from_timestamp,
    filter::{FieldValue, Kind},
    resource,
};
use kefu_proto::v1::{
    CallbackScript, CreateCallbackScriptRequest, DeleteCallbackScriptRequest,
    GetCallbackScriptRequest, ListCallbackScriptsRequest, ListCallbackScriptsResponse,
    RenderCallbackScriptRequest, RenderedCallbackScript, UpdateCallbackScriptRequest,
};
use prost_types::Timestamp;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared, caller,
    policies::{
        Catalogued, admin_only, check_request_id, delete_at, for_change, get_entry,
        insert_remembered, list_entries, mask_paths, recalled, replace_at, stamp, text,
        unused_by_campaigns, unused_by_open_tasks, unused_by_policies,
    },
    required,
};
use crate::{
    domain::{
        script::{self as rules, RenderInput, check_script},
        template::Value,
    },
    error::{CallbacksError, Result},
    store::{resources, scripts as store, tasks},
};

/// The paths `UpdateCallbackScript` may change; repeated fields are
/// replaced whole.
const MUTABLE: &[&str] = &[
    "display_name",
    "description",
    "default_locale",
    "target_duration",
    "greeting",
    "identity_check",
    "wrong_person",
    "introduction",
    "questions",
    "satisfied",
    "dissatisfied",
    "seasonal_greetings",
    "off_season_greeting",
];

/// The fields `ListCallbackScripts` filters on.
const FILTERS: &[(&str, Kind)] = &[("default_locale", Kind::Text), ("template_key", Kind::Text)];

/// The zone of a tenant without one (the contract's default).
const DEFAULT_ZONE: Tz = chrono_tz::Asia::Shanghai;

/// CreateCallbackScript.
pub(super) async fn create_callback_script(
    shared: &Shared,
    request: Request<CreateCallbackScriptRequest>,
) -> Result<Response<CallbackScript>, Status> {
    let (context, tenant) = caller(&request)?;
    admin_only(&context, "callback scripts")?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let input = required(request.callback_script, "callback_script")?;
    let now = shared.now();
    let mut script = CallbackScript {
        name: store::name_of(Uuid::now_v7()),
        template_key: String::new(),
        create_time: stamp(now),
        update_time: stamp(now),
        etag: resource::etag(1),
        ..input
    };
    check_script(&mut script, "callback_script")?;
    let txn = shared.begin(tenant).await?;
    if let Some(earlier) = recalled(&txn, tenant, &request.request_id).await? {
        return Ok(Response::new(earlier));
    }
    let method = "CreateCallbackScript";
    insert_remembered(&txn, tenant, &script, &request.request_id, method, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(script))
}

/// GetCallbackScript.
pub(super) async fn get_callback_script(
    shared: &Shared,
    request: Request<GetCallbackScriptRequest>,
) -> Result<Response<CallbackScript>, Status> {
    get_entry(shared, request.map(|request| request.name)).await
}

impl Catalogued for CallbackScript {
    const FILTERS: &'static [(&'static str, Kind)] = FILTERS;

    fn filter_values(&self, field: &str) -> Vec<FieldValue> {
        match field {
            "default_locale" => text(&self.default_locale),
            "template_key" => text(&self.template_key),
            _ => Vec::new(),
        }
    }

    fn times(&self) -> (Option<&Timestamp>, Option<&Timestamp>) {
        (self.create_time.as_ref(), self.update_time.as_ref())
    }
}

/// ListCallbackScripts: oldest first unless asked otherwise.
pub(super) async fn list_callback_scripts(
    shared: &Shared,
    request: Request<ListCallbackScriptsRequest>,
) -> Result<Response<ListCallbackScriptsResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let (callback_scripts, next_page_token, total_size) = list_entries(
        shared,
        tenant,
        &request.filter,
        &request.order_by,
        &request.page_token,
        request.page_size,
    )
    .await?;
    Ok(Response::new(ListCallbackScriptsResponse {
        callback_scripts,
        next_page_token,
        total_size,
    }))
}

/// UpdateCallbackScript: the merged script is checked as on create.
pub(super) async fn update_callback_script(
    shared: &Shared,
    request: Request<UpdateCallbackScriptRequest>,
) -> Result<Response<CallbackScript>, Status> {
    let (context, tenant) = caller(&request)?;
    admin_only(&context, "callback scripts")?;
    let request = request.into_inner();
    let input = required(request.callback_script, "callback_script")?;
    let paths = mask_paths(request.update_mask, MUTABLE, &[], &[])?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let stored = for_change::<CallbackScript>(&txn, tenant, &input.name, &input.etag).await?;
    let mut script = stored.resource.clone();
    for path in &paths {
        match path.as_str() {
            "display_name" => script.display_name.clone_from(&input.display_name),
            "description" => script.description.clone_from(&input.description),
            "default_locale" => script.default_locale.clone_from(&input.default_locale),
            "target_duration" => script.target_duration = input.target_duration,
            "greeting" => script.greeting.clone_from(&input.greeting),
            "identity_check" => script.identity_check.clone_from(&input.identity_check),
            "wrong_person" => script.wrong_person.clone_from(&input.wrong_person),
            "introduction" => script.introduction.clone_from(&input.introduction),
            "questions" => script.questions.clone_from(&input.questions),
            "satisfied" => script.satisfied.clone_from(&input.satisfied),
            "dissatisfied" => script.dissatisfied.clone_from(&input.dissatisfied),
            "seasonal_greetings" => script
                .seasonal_greetings
                .clone_from(&input.seasonal_greetings),
            _ => script
                .off_season_greeting
                .clone_from(&input.off_season_greeting),
        }
    }
    check_script(&mut script, "callback_script")?;
    script.update_time = stamp(now);
    replace_at(&txn, tenant, &mut script, stored.revision, &input.name, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(script))
}

/// DeleteCallbackScript: refused while a policy, a draft or active
/// campaign, or an open task uses the script.
pub(super) async fn delete_callback_script(
    shared: &Shared,
    request: Request<DeleteCallbackScriptRequest>,
) -> Result<Response<()>, Status> {
    let (context, tenant) = caller(&request)?;
    admin_only(&context, "callback scripts")?;
    let request = request.into_inner();
    let txn = shared.begin(tenant).await?;
    let stored = for_change::<CallbackScript>(&txn, tenant, &request.name, &request.etag).await?;
    let name = stored.resource.name.as_str();
    unused_by_policies(&txn, tenant, name, |policy| &policy.script).await?;
    unused_by_campaigns(&txn, tenant, name, |campaign| &campaign.script, "").await?;
    unused_by_open_tasks::<CallbackScript>(&txn, tenant, name, "script_id", "").await?;
    delete_at(&txn, tenant, &stored, &request.name).await?;
    shared.commit(txn).await?;
    Ok(Response::new(()))
}

/// RenderCallbackScript: the task's script (or the one previewed) with the
/// values fixed on the task when it was created, the assignee's current
/// name and the seasonal greeting of the call's day.
pub(super) async fn render_callback_script(
    shared: &Shared,
    request: Request<RenderCallbackScriptRequest>,
) -> Result<Response<RenderedCallbackScript>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let call_time = match request.call_time.as_ref() {
        None => shared.now(),
        Some(time) => from_timestamp(time)
            .ok_or_else(|| CallbacksError::invalid("call_time", "call_time is not a time"))?,
    };
    if !request.locale.is_empty() && !rules::is_locale(&request.locale) {
        return Err(CallbacksError::invalid(
            "locale",
            format!("locale {:?} is not a BCP 47 locale", request.locale),
        )
        .into());
    }
    let txn = shared.begin_read(tenant).await?;
    let task = tasks::find(&txn, tenant, &request.name)
        .await?
        .ok_or_else(|| CallbacksError::not_found(&request.name))?;
    let script_name = if request.script.is_empty() {
        task.script.clone()
    } else {
        request.script.clone()
    };
    if script_name.is_empty() {
        return Err(CallbacksError::precondition(
            format!(
                "{} has no script (an SMS task); name one to preview",
                task.name
            ),
            "ILLEGAL_TRANSITION",
        )
        .into());
    }
    let script = match resources::find(&txn, tenant, &script_name).await? {
        Some(script) => script,
        None if !request.script.is_empty() => {
            return Err(CallbacksError::invalid(
                "script",
                format!("{script_name} is not a script of the tenant"),
            )
            .into());
        }
        None => return Err(CallbacksError::not_found(&script_name).into()),
    };
    let context = tasks::render_context(&txn, tenant, &task.name)
        .await?
        .unwrap_or_default();
    let profile = kefu_tenants::replica::tenant(&txn, tenant).await?;
    let agent = if task.assignee.is_empty() {
        None
    } else {
        kefu_tenants::replica::user(&txn, tenant, &task.assignee).await?
    };
    txn.commit().await.map_err(CallbacksError::from)?;
    let zone = profile
        .as_ref()
        .and_then(|profile| profile.time_zone.parse::<Tz>().ok())
        .unwrap_or(DEFAULT_ZONE);
    let tenant_locale = profile
        .as_ref()
        .map(|profile| profile.locale.as_str())
        .filter(|locale| !locale.is_empty())
        .unwrap_or("zh-CN")
        .to_owned();
    let tenant_name = profile
        .as_ref()
        .map(|profile| profile.display_name.clone())
        .unwrap_or_default();
    let agent_name = agent.map(|agent| agent.display_name).unwrap_or_default();
    let value = |field: &str| -> Option<Value> {
        match field {
            "agent.display_name" => Some(Value::Text(agent_name.clone())),
            "tenant.display_name" if !context.contains_key(field) => {
                Some(Value::Text(tenant_name.clone()))
            }
            _ => context
                .get(field)
                .map(|stored| Value::from_stored(field, stored)),
        }
    };
    let day = call_time.with_timezone(&zone).date_naive();
    let rendered = rules::render(
        &script,
        &RenderInput {
            task: &task.name,
            locale: &request.locale,
            tenant_locale: &tenant_locale,
            zone,
            day,
            value: &value,
        },
    );
    Ok(Response::new(rendered))
}
