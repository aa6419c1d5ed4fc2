//! A new tenant's surveys, scripts and callback policies from its industry
//! template (行业模板): on TenantCreated (tenants service) each template
//! survey, script and policy is written under an id derived from its kind
//! and template key, so seeding is idempotent: the event is claimed once,
//! and a resource already present (seeded before, then perhaps edited or
//! deactivated by an admin) is left as it is.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kefu_kit::{
    bus::{EventHandler, HandlerError},
    clock::SharedClock,
    context::TenantId,
    db::begin_for_event,
    events::{payload_as, to_timestamp},
    inbox, resource,
    service::{ServiceContext, ServiceSubscription},
};
use kefu_proto::v1::{
    CallbackAssignment, CallbackAssignmentMode, CallbackPolicy, CallbackRetryPolicy,
    CallbackScript, CallbackScriptBranch, CallbackScriptQuestion, CallbackSeasonalGreeting,
    CallbackTrigger, CallbackTriggerFilter, Date, EventEnvelope, IndustryTemplate, LocalizedText,
    Survey, SurveyDimension, TenantCreated,
};
use prost::Name;
use prost_types::Duration;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use uuid::Uuid;

use crate::{
    domain::{
        policy::{DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_SECONDS, DEFAULT_SMS_REPLY_SECONDS},
        script::DEFAULT_TARGET_SECONDS,
    },
    error::{CallbacksError, Result},
    store::{policies, scripts, surveys},
};

/// The consumer group.
const GROUP: &str = "callbacks.seed";

/// The subscription seeding new tenants' surveys, scripts and policies.
pub fn subscription(context: &ServiceContext) -> ServiceSubscription {
    ServiceSubscription {
        group: GROUP.to_owned(),
        producers: vec!["tenants".to_owned()],
        handler: Arc::new(Seeder {
            db: context.db.clone(),
            clock: context.clock.clone(),
        }),
    }
}

/// Seeds on TenantCreated.
struct Seeder {
    db: DatabaseConnection,
    clock: SharedClock,
}

impl Seeder {
    async fn apply(&self, event: &EventEnvelope) -> Result<()> {
        if event.r#type != TenantCreated::full_name() {
            return Ok(());
        }
        let Some(created) = payload_as::<TenantCreated>(event) else {
            return Ok(());
        };
        let tenant = event.tenant_id.parse::<TenantId>().map_err(|error| {
            CallbacksError::Internal(format!("event {} tenant: {error}", event.id))
        })?;
        let catalogue = kefu_tenants::templates::catalogue();
        let template = catalogue
            .get(&created.template, created.template_version)
            .or_else(|| catalogue.for_industry(created.industry()));
        let Some(template) = template else {
            return Ok(());
        };
        let now = self.clock.now();
        let txn = begin_for_event(&self.db, event).await?;
        if !inbox::claim(&txn, GROUP, event, now).await? {
            return Ok(());
        }
        seed(&txn, tenant, template, now).await?;
        txn.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl EventHandler for Seeder {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), HandlerError> {
        self.apply(event).await.map_err(HandlerError::from_error)
    }
}

/// Writes the surveys, scripts and policies of `template` for `tenant`,
/// skipping those already present. Answers how many were written.
pub async fn seed(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    template: &IndustryTemplate,
    now: DateTime<Utc>,
) -> Result<usize> {
    let seeded = from_template(template, now);
    let mut written = 0;
    for survey in &seeded.surveys {
        if surveys::get(txn, tenant, &survey.name, false)
            .await?
            .is_none()
        {
            surveys::insert(txn, tenant, survey, now).await?;
            written += 1;
        }
    }
    for script in &seeded.scripts {
        if scripts::get(txn, tenant, &script.name, false)
            .await?
            .is_none()
        {
            scripts::insert(txn, tenant, script, now).await?;
            written += 1;
        }
    }
    for policy in &seeded.policies {
        if policies::get(txn, tenant, &policy.name, false)
            .await?
            .is_none()
        {
            policies::insert(txn, tenant, policy, now).await?;
            written += 1;
        }
    }
    Ok(written)
}

/// A template's callbacks setup as the tenant's resources.
#[derive(Debug, Default)]
pub struct Seeded {
    /// The surveys.
    pub surveys: Vec<Survey>,
    /// The scripts.
    pub scripts: Vec<CallbackScript>,
    /// The policies.
    pub policies: Vec<CallbackPolicy>,
}

/// The id a template resource gets in every tenant: a UUID (version 8,
/// RFC 4122 variant) from a 128-bit FNV-1a hash of its kind and key — the
/// tables are keyed by UUID, and the same key must find the same row on
/// every delivery of the event.
pub fn seeded_id(kind: &str, key: &str) -> Uuid {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut hash = OFFSET;
    for byte in kind.bytes().chain([b'/']).chain(key.bytes()) {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash = (hash & !(0xf << 76)) | (0x8 << 76);
    hash = (hash & !(0x3 << 62)) | (0x2 << 62);
    Uuid::from_u128(hash)
}

fn both(zh: &str, en: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        values: [
            ("zh-CN".to_owned(), zh.to_owned()),
            ("en".to_owned(), en.to_owned()),
        ]
        .into(),
    })
}

fn seconds(seconds: i64) -> Option<Duration> {
    Some(Duration { seconds, nanos: 0 })
}

fn yearly(
    key: &str,
    name: (&str, &str),
    from: (i32, i32),
    to: (i32, i32),
    text: (&str, &str),
) -> CallbackSeasonalGreeting {
    // The year of a yearly greeting is ignored; 2024 is a leap year, so
    // any day of the year can be written.
    CallbackSeasonalGreeting {
        key: key.to_owned(),
        display_name: both(name.0, name.1),
        start_date: Some(Date {
            year: 2024,
            month: from.0,
            day: from.1,
        }),
        end_date: Some(Date {
            year: 2024,
            month: to.0,
            day: to.1,
        }),
        recurs_yearly: true,
        text: both(text.0, text.1),
    }
}

/// The fixed-date holidays every seeded script greets.
fn seasonal_greetings() -> Vec<CallbackSeasonalGreeting> {
    vec![
        yearly(
            "new_year",
            ("元旦", "New Year"),
            (1, 1),
            (1, 3),
            ("新年快乐", "a happy New Year"),
        ),
        yearly(
            "labour_day",
            ("劳动节", "Labour Day"),
            (5, 1),
            (5, 5),
            ("劳动节快乐", "a happy Labour Day holiday"),
        ),
        yearly(
            "national_day",
            ("国庆节", "National Day"),
            (10, 1),
            (10, 7),
            ("国庆快乐", "a happy National Day holiday"),
        ),
    ]
}

/// The resources `template` seeds: its surveys (dimensions from the
/// template's catalogue), its scripts (the survey's questions first, then
/// the script's own, the template's closing on both branches) and its
/// policies (least loaded over the template team, the template's script and
/// that script's survey). Policies without a due window read the tenant's
/// `callback_due_window` when scheduling.
pub fn from_template(template: &IndustryTemplate, now: DateTime<Utc>) -> Seeded {
    let template_key = format!(
        "{}@{}",
        template
            .name
            .strip_prefix("industryTemplates/")
            .unwrap_or(&template.name),
        template.version
    );
    let time = Some(to_timestamp(now));
    let etag = resource::etag(1);
    let survey_name = |key: &str| surveys::name_of(seeded_id("survey", key));
    let script_name = |key: &str| scripts::name_of(seeded_id("script", key));
    let dimension = |key: &str| {
        template
            .survey_dimensions
            .iter()
            .find(|dimension| dimension.key == key)
    };
    let mut seeded = Seeded::default();
    for survey in &template.surveys {
        seeded.surveys.push(Survey {
            name: survey_name(&survey.key),
            display_name: survey.title.clone(),
            description: String::new(),
            dimensions: survey
                .dimensions
                .iter()
                .map(|key| SurveyDimension {
                    key: key.clone(),
                    label: dimension(key).and_then(|found| found.label.clone()),
                    question: dimension(key).and_then(|found| found.question.clone()),
                    required: true,
                })
                .collect(),
            suggestion_enabled: Some(true),
            suggestion_prompt: both(
                "您对我们的服务有什么建议吗?",
                "Do you have any suggestions for us?",
            ),
            sms_template: both(
                "【{{tenant.display_name}}】感谢您选择我们的服务,请按顺序回复每项评分的数字:{{survey.reply_instructions}}",
                "{{tenant.display_name}}: thank you for choosing us. Please reply with one digit per question, in order: {{survey.reply_instructions}}",
            ),
            follow_up_ticket_kind: String::new(),
            follow_up_priority: 0,
            template_key: template_key.clone(),
            create_time: time,
            update_time: time,
            etag: etag.clone(),
        });
    }
    for script in &template.callback_scripts {
        let survey = template
            .surveys
            .iter()
            .find(|survey| survey.key == script.survey);
        let mut questions: Vec<CallbackScriptQuestion> = survey
            .into_iter()
            .flat_map(|survey| &survey.dimensions)
            .map(|key| CallbackScriptQuestion {
                key: key.clone(),
                dimension: key.clone(),
                text: dimension(key).and_then(|found| found.question.clone()),
            })
            .collect();
        questions.extend(script.questions.iter().enumerate().map(|(index, text)| {
            CallbackScriptQuestion {
                key: format!("question_{}", index + 1),
                dimension: String::new(),
                text: Some(text.clone()),
            }
        }));
        questions.truncate(20);
        seeded.scripts.push(CallbackScript {
            name: script_name(&script.key),
            display_name: script.title.clone(),
            description: String::new(),
            default_locale: "zh-CN".to_owned(),
            target_duration: seconds(DEFAULT_TARGET_SECONDS),
            greeting: script.greeting.clone(),
            identity_check: both(
                "为了核实身份,请问您登记的手机尾号是{{customer.phone_last4}}吗?",
                "Just to check it is you: does your registered number end in {{customer.phone_last4}}?",
            ),
            wrong_person: both(
                "不好意思打扰了,请问{{customer.display_name}}什么时候方便接听?我们稍后再联系。",
                "Sorry to disturb you. When would be a good time to reach {{customer.display_name}}? We will call back later.",
            ),
            introduction: both(
                "感谢您选择我们的服务,关于“{{task.subject}}”想耽误您一分钟做个回访。",
                "Thank you for choosing us. May I take a minute to follow up on “{{task.subject}}”?",
            ),
            questions,
            satisfied: Some(CallbackScriptBranch {
                follow_up_question: both(
                    "您对我们的服务有什么建议吗?",
                    "Do you have any suggestions for us?",
                ),
                closing: script.closing.clone(),
            }),
            dissatisfied: Some(CallbackScriptBranch {
                follow_up_question: both(
                    "能否告诉我您对哪方面不满意?我们会尽快改进。",
                    "Could you tell me what you were not satisfied with? We will improve quickly.",
                ),
                closing: script.closing.clone(),
            }),
            seasonal_greetings: seasonal_greetings(),
            off_season_greeting: both("生活愉快", "a pleasant day"),
            template_key: template_key.clone(),
            create_time: time,
            update_time: time,
            etag: etag.clone(),
        });
    }
    // A policy without a team falls back to the template's first team, so
    // its tasks still have agents to go to.
    let first_team = template
        .teams
        .first()
        .map(|team| team.key.clone())
        .unwrap_or_default();
    for policy in &template.callback_policies {
        let trigger =
            CallbackTrigger::from_str_name(&format!("CALLBACK_TRIGGER_{}", policy.trigger))
                .unwrap_or(CallbackTrigger::Manual);
        let script = template
            .callback_scripts
            .iter()
            .find(|script| script.key == policy.script);
        let team = if policy.team.is_empty() {
            first_team.clone()
        } else {
            policy.team.clone()
        };
        seeded.policies.push(CallbackPolicy {
            name: policies::name_of(seeded_id("policy", &policy.key)),
            display_name: policy.label.clone(),
            description: String::new(),
            trigger: trigger as i32,
            trigger_filter: Some(CallbackTriggerFilter {
                ticket_kinds: policy.ticket_kinds.clone(),
                ..Default::default()
            }),
            start_delay: Some(policy.start_delay.unwrap_or_default()),
            due_window: policy.due_window,
            calling_hours: policy.calling_hours.clone(),
            channel: if policy.channel == 0 {
                kefu_proto::v1::Channel::Phone as i32
            } else {
                policy.channel
            },
            assignment: Some(CallbackAssignment {
                mode: CallbackAssignmentMode::TeamLeastLoaded as i32,
                team: format!("teams/{team}"),
            }),
            retry: Some(CallbackRetryPolicy {
                max_attempts: DEFAULT_MAX_ATTEMPTS,
                retry_interval: seconds(DEFAULT_RETRY_SECONDS),
                sms_fallback: false,
                sms_reply_window: seconds(DEFAULT_SMS_REPLY_SECONDS),
            }),
            script: script
                .map(|script| script_name(&script.key))
                .unwrap_or_default(),
            survey: script
                .filter(|script| !script.survey.is_empty())
                .map(|script| survey_name(&script.survey))
                .unwrap_or_default(),
            escalation_contact: String::new(),
            active: Some(true),
            template_key: template_key.clone(),
            create_time: time,
            update_time: time,
            etag: etag.clone(),
        });
    }
    seeded
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::Industry;

    use super::*;
    use crate::domain::{policy::check_policy, script::check_script, survey::check_survey};

    #[test]
    fn seeded_ids_are_stable_uuids_per_kind_and_key() {
        let id = seeded_id("policy", "after-repair");
        assert_eq!(id, seeded_id("policy", "after-repair"));
        assert_ne!(id, seeded_id("script", "after-repair"));
        assert_eq!(id.get_version_num(), 8);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn every_template_seeds_resources_its_own_rules_accept() {
        for template in kefu_tenants::templates::catalogue().latest() {
            let seeded = from_template(template, Utc::now());
            assert!(!seeded.policies.is_empty(), "{}", template.name);
            for survey in &seeded.surveys {
                let mut checked = survey.clone();
                check_survey(&mut checked, "survey")
                    .unwrap_or_else(|error| panic!("{} {}: {error}", template.name, survey.name));
                assert_eq!(&checked, survey);
            }
            for script in &seeded.scripts {
                let mut checked = script.clone();
                check_script(&mut checked, "callback_script")
                    .unwrap_or_else(|error| panic!("{} {}: {error:?}", template.name, script.name));
                assert_eq!(&checked, script);
            }
            for policy in &seeded.policies {
                let mut checked = policy.clone();
                check_policy(&mut checked, "callback_policy")
                    .unwrap_or_else(|error| panic!("{} {}: {error:?}", template.name, policy.name));
                assert_eq!(&checked, policy, "{}", template.name);
                assert!(
                    policy.script.is_empty()
                        || seeded
                            .scripts
                            .iter()
                            .any(|script| script.name == policy.script)
                );
                assert!(
                    policy.survey.is_empty()
                        || seeded
                            .surveys
                            .iter()
                            .any(|survey| survey.name == policy.survey)
                );
            }
        }
    }

    #[test]
    fn the_property_template_seeds_the_repair_callback_with_its_survey() {
        let template = kefu_tenants::templates::catalogue()
            .for_industry(Industry::PropertyManagement)
            .expect("template");
        let seeded = from_template(template, Utc::now());
        let repair = seeded
            .policies
            .iter()
            .find(|policy| policy.name == policies::name_of(seeded_id("policy", "after-repair")))
            .expect("after-repair policy");
        assert_eq!(repair.trigger, CallbackTrigger::DispatchCompleted as i32);
        assert_eq!(repair.due_window.map(|d| d.seconds), Some(259_200));
        assert_eq!(
            repair.assignment.as_ref().map(|a| a.team.as_str()),
            Some("teams/front-desk")
        );
        assert_eq!(repair.template_key, "property-management@1");
        let survey = seeded
            .surveys
            .iter()
            .find(|survey| survey.name == repair.survey)
            .expect("its survey");
        let keys: Vec<&str> = survey.dimensions.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, ["attitude", "skill", "timeliness", "promises_kept"]);
        let script = seeded
            .scripts
            .iter()
            .find(|script| script.name == repair.script)
            .expect("its script");
        assert_eq!(script.questions[0].dimension, "attitude");
        assert_eq!(script.questions[4].key, "question_1");
    }

    mod on_a_database {
        use std::sync::Arc;

        use kefu_kit::{
            clock::SystemClock,
            db::begin_for_tenant,
            events::new_event,
            testing::{Backend, TestDatabase},
        };
        use kefu_proto::v1::{Industry, Tenant, TenantCreated};

        use super::super::*;

        async fn scenario(backend: Backend) {
            let Some(database) = TestDatabase::new(backend, "callbacks").await else {
                return;
            };
            let seeder = Seeder {
                db: database.db.clone(),
                clock: Arc::new(SystemClock),
            };
            let template = kefu_tenants::templates::catalogue()
                .for_industry(Industry::CarDealership)
                .expect("template");
            let tenant = TenantId::new();
            let other = TenantId::new();
            let now = Utc::now();
            let created = TenantCreated {
                tenant: Some(Tenant {
                    name: format!("tenants/{}", tenant.0),
                    industry: Industry::CarDealership as i32,
                    ..Tenant::default()
                }),
                template: template.name.clone(),
                template_version: template.version,
                industry: Industry::CarDealership as i32,
                ..TenantCreated::default()
            };
            let event = new_event(
                "tenants",
                Some(tenant),
                format!("tenants/{}", tenant.0),
                &created,
                now,
            );
            seeder.apply(&event).await.expect("seeded");
            let expected = from_template(template, now);

            // An admin's change survives a redelivery and a second seeding.
            let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
            let first = &expected.policies[0];
            let stored = policies::get(&txn, tenant, &first.name, true)
                .await
                .expect("read")
                .expect("seeded policy");
            let mut edited = stored.resource.clone();
            edited.active = Some(false);
            assert!(
                policies::replace(&txn, tenant, &edited, stored.revision, now)
                    .await
                    .expect("edit")
            );
            txn.commit().await.expect("commit");
            seeder.apply(&event).await.expect("again");
            let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
            assert_eq!(seed(&txn, tenant, template, now).await.expect("reseed"), 0);
            let kept = policies::find(&txn, tenant, &first.name)
                .await
                .expect("read")
                .expect("policy");
            assert_eq!(kept.active, Some(false));
            assert_eq!(kept.etag, "r2");
            assert_eq!(
                policies::list(&txn, tenant).await.expect("list").len(),
                expected.policies.len()
            );
            assert_eq!(
                scripts::list(&txn, tenant).await.expect("list").len(),
                expected.scripts.len()
            );
            let css = surveys::list(&txn, tenant).await.expect("list");
            assert!(css.iter().any(|survey| {
                survey
                    .dimensions
                    .iter()
                    .any(|d| d.key == "sales_satisfaction")
            }));
            txn.commit().await.expect("commit");

            // Another tenant has none of it.
            let txn = begin_for_tenant(&database.db, other).await.expect("begin");
            assert!(policies::list(&txn, other).await.expect("list").is_empty());
            assert!(
                policies::find(&txn, other, &first.name)
                    .await
                    .expect("read")
                    .is_none()
            );
            txn.commit().await.expect("commit");
        }

        #[tokio::test]
        async fn seeding_is_idempotent_and_per_tenant_on_sqlite() {
            scenario(Backend::Sqlite).await;
        }

        #[tokio::test]
        async fn seeding_is_idempotent_and_per_tenant_on_postgres() {
            scenario(Backend::Postgres).await;
        }
    }
}
