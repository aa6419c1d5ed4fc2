//! A new tenant's taxonomy from its industry template (行业模板): on
//! TenantCreated (tenants service) the template's ticket kinds, their
//! category trees and its ticket custom fields are written, each under its
//! template key. Seeding is idempotent: the event is claimed once, and a key
//! already present (seeded before, or created by an admin) is left as it is.

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
    EventEnvelope, IndustryTemplate, Priority, TemplateCategory, TenantCreated, TicketBaseKind,
    TicketCategory, TicketFieldDefinition, TicketFieldOption, TicketFieldRequirement,
    TicketFieldType, TicketKind, TicketKindField, TicketRouting,
};
use prost::Name;
use sea_orm::{DatabaseConnection, DatabaseTransaction};

use crate::{
    domain::taxonomy::{CATEGORIES, FIELD_DEFINITIONS, KINDS},
    error::{Result, TicketsError},
    store::taxonomy as store,
};

/// The consumer group.
const GROUP: &str = "tickets.taxonomy";

/// The subscription seeding new tenants' taxonomies.
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
            TicketsError::Internal(format!("event {} tenant: {error}", event.id))
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

/// Writes the taxonomy of `template` for `tenant`, skipping keys already
/// present. Answers how many resources were written.
pub async fn seed(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    template: &IndustryTemplate,
    now: DateTime<Utc>,
) -> Result<usize> {
    let taxonomy = from_template(template, now);
    let mut written = 0;
    for field in &taxonomy.fields {
        if store::get_field(txn, tenant, &field.key, false)
            .await?
            .is_none()
        {
            store::insert_field(txn, tenant, field, now).await?;
            written += 1;
        }
    }
    for kind in &taxonomy.kinds {
        if store::get_kind(txn, tenant, &kind.key, false)
            .await?
            .is_none()
        {
            store::insert_kind(txn, tenant, kind, now).await?;
            written += 1;
        }
    }
    for category in &taxonomy.categories {
        if store::get_category(txn, tenant, &category.key, false)
            .await?
            .is_none()
        {
            store::insert_category(txn, tenant, category, now).await?;
            written += 1;
        }
    }
    Ok(written)
}

/// A template's taxonomy as the tenant's resources.
#[derive(Debug, Default)]
pub struct Seeded {
    /// The ticket custom fields.
    pub fields: Vec<TicketFieldDefinition>,
    /// The kinds.
    pub kinds: Vec<TicketKind>,
    /// The categories, parents before children.
    pub categories: Vec<TicketCategory>,
}

/// The resources `template` seeds: its `ticket` custom fields, its kinds
/// (team and policy keys become `teams/{key}` and `slaPolicies/{key}`) and
/// each kind's categories, a root per top-level template category, allowed
/// for that kind only; a category's own team handles it instead of the
/// kind's specialist team.
pub fn from_template(template: &IndustryTemplate, now: DateTime<Utc>) -> Seeded {
    let industry = template.industry;
    let time = Some(to_timestamp(now));
    let etag = resource::etag(1);
    let mut seeded = Seeded::default();
    for field in template
        .custom_fields
        .iter()
        .filter(|field| field.entity == "ticket")
    {
        let field_type =
            TicketFieldType::from_str_name(&format!("TICKET_FIELD_TYPE_{}", field.r#type))
                .unwrap_or(TicketFieldType::Text);
        seeded.fields.push(TicketFieldDefinition {
            name: format!("{FIELD_DEFINITIONS}/{}", field.key),
            key: field.key.clone(),
            r#type: field_type as i32,
            labels: field.label.clone(),
            description: field.description.clone(),
            options: field
                .options
                .iter()
                .map(|option| TicketFieldOption {
                    value: option.key.clone(),
                    labels: option.label.clone(),
                    active: true,
                })
                .collect(),
            active: true,
            template_industry: industry,
            create_time: time,
            update_time: time,
            etag: etag.clone(),
            ..Default::default()
        });
    }
    let team = |key: &str| {
        if key.is_empty() {
            String::new()
        } else {
            format!("teams/{key}")
        }
    };
    for (order, kind) in template.ticket_kinds.iter().enumerate() {
        let name = format!("{KINDS}/{}", kind.key);
        let base_kind =
            TicketBaseKind::from_str_name(&format!("TICKET_BASE_KIND_{}", kind.base_kind))
                .unwrap_or(TicketBaseKind::Other);
        let default_priority = if kind.default_priority == Priority::Unspecified as i32 {
            Priority::Normal as i32
        } else {
            kind.default_priority
        };
        seeded.kinds.push(TicketKind {
            name: name.clone(),
            key: kind.key.clone(),
            labels: kind.label.clone(),
            description: kind.description.clone(),
            base_kind: base_kind as i32,
            default_priority,
            default_triage_class: 0,
            fields: kind
                .fields
                .iter()
                .map(|field| TicketKindField {
                    field_definition: format!("{FIELD_DEFINITIONS}/{}", field.field),
                    requirement: TicketFieldRequirement::from_str_name(&format!(
                        "TICKET_FIELD_REQUIREMENT_{}",
                        field.requirement
                    ))
                    .unwrap_or(TicketFieldRequirement::Optional)
                        as i32,
                })
                .collect(),
            sla_policy: if kind.sla_policy.is_empty() {
                String::new()
            } else {
                format!("slaPolicies/{}", kind.sla_policy)
            },
            routing: Some(TicketRouting {
                front_line_team: team(&kind.front_line_team),
                specialist_team: team(&kind.specialist_team),
                management_team: String::new(),
                required_skills: kind.required_skills.clone(),
            }),
            active: true,
            display_order: i32::try_from(order + 1).unwrap_or(i32::MAX),
            template_industry: industry,
            create_time: time,
            update_time: time,
            etag: etag.clone(),
        });
        let mut stack: Vec<(&TemplateCategory, String, Vec<String>, usize)> = kind
            .categories
            .iter()
            .enumerate()
            .rev()
            .map(|(index, category)| (category, String::new(), Vec::new(), index))
            .collect();
        while let Some((category, parent, above, index)) = stack.pop() {
            let mut path = above.clone();
            path.push(category.key.clone());
            let own = format!("{CATEGORIES}/{}", category.key);
            seeded.categories.push(TicketCategory {
                name: own.clone(),
                key: category.key.clone(),
                parent,
                labels: category.label.clone(),
                description: None,
                kinds: vec![name.clone()],
                routing: (!category.team.is_empty()).then(|| TicketRouting {
                    specialist_team: team(&category.team),
                    ..Default::default()
                }),
                active: true,
                display_order: i32::try_from(index + 1).unwrap_or(i32::MAX),
                path: path.clone(),
                template_industry: industry,
                create_time: time,
                update_time: time,
                etag: etag.clone(),
            });
            for (child_index, child) in category.children.iter().enumerate().rev() {
                stack.push((child, own.clone(), path.clone(), child_index));
            }
        }
    }
    seeded
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::Industry;

    use super::*;
    use crate::domain::{
        custom_fields::{When, validate},
        taxonomy::{check_category, check_field_definition, check_kind},
    };

    fn property() -> &'static IndustryTemplate {
        kefu_tenants::templates::catalogue()
            .for_industry(Industry::PropertyManagement)
            .expect("the property-management template")
    }

    fn label(text: &Option<kefu_proto::v1::LocalizedText>) -> &str {
        text.as_ref()
            .and_then(|labels| labels.values.get("zh-CN"))
            .map_or("", String::as_str)
    }

    #[test]
    fn the_property_template_seeds_repairs_and_their_ten_categories() {
        let seeded = from_template(property(), Utc::now());
        let repair = seeded
            .kinds
            .iter()
            .find(|kind| kind.key == "repair")
            .expect("repair kind");
        assert_eq!(repair.name, "ticketKinds/repair");
        assert_eq!(repair.base_kind, TicketBaseKind::Repair as i32);
        assert_eq!(repair.sla_policy, "slaPolicies/repair");
        assert_eq!(
            repair.routing.as_ref().map(|r| r.front_line_team.as_str()),
            Some("teams/front-desk")
        );
        assert_eq!(
            repair.template_industry,
            Industry::PropertyManagement as i32
        );
        let repairs: Vec<&str> = seeded
            .categories
            .iter()
            .filter(|category| category.kinds == ["ticketKinds/repair"])
            .map(|category| label(&category.labels))
            .collect();
        assert_eq!(
            repairs,
            [
                "土建",
                "水暖",
                "进户门",
                "车库门",
                "可视对讲",
                "电",
                "路灯声控灯",
                "天窗",
                "窗户",
                "漏水"
            ]
        );
        let civil = &seeded.categories[0];
        assert_eq!(civil.key, "repair-civil-works");
        assert_eq!(civil.path, ["repair-civil-works"]);
        assert_eq!(
            civil.routing.as_ref().map(|r| r.specialist_team.as_str()),
            Some("teams/contractor-crew")
        );
        let unit = seeded
            .fields
            .iter()
            .find(|field| field.key == "unit_number")
            .expect("unit_number");
        assert_eq!(unit.r#type, TicketFieldType::Text as i32);
        assert!(
            seeded
                .fields
                .iter()
                .all(|field| field.key != "resident_type")
        );
    }

    #[test]
    fn every_template_seeds_a_taxonomy_its_own_rules_accept() {
        for template in kefu_tenants::templates::catalogue().latest() {
            let seeded = from_template(template, Utc::now());
            assert!(!seeded.kinds.is_empty(), "{}", template.name);
            for field in &seeded.fields {
                check_field_definition(field)
                    .unwrap_or_else(|error| panic!("{} {}: {error}", template.name, field.key));
            }
            for kind in &seeded.kinds {
                let mut checked = kind.clone();
                check_kind(&mut checked)
                    .unwrap_or_else(|error| panic!("{} {}: {error}", template.name, kind.key));
                assert_eq!(&checked, kind, "{} {}", template.name, kind.key);
                for on_form in &kind.fields {
                    assert!(
                        seeded
                            .fields
                            .iter()
                            .any(|field| field.name == on_form.field_definition),
                        "{} {}: {}",
                        template.name,
                        kind.key,
                        on_form.field_definition
                    );
                }
                // A ticket of the kind with its required fields empty is
                // refused on create, so the form's requirements were kept.
                let required = kind.fields.iter().any(|field| {
                    field.requirement == TicketFieldRequirement::RequiredOnCreate as i32
                });
                let empty = validate(&seeded.fields, kind, &Default::default(), When::OnCreate);
                assert_eq!(empty.is_err(), required, "{} {}", template.name, kind.key);
            }
            for category in &seeded.categories {
                check_category(category)
                    .unwrap_or_else(|error| panic!("{} {}: {error}", template.name, category.key));
                assert!(category.path.len() <= crate::domain::taxonomy::MAX_DEPTH);
            }
        }
    }

    mod on_a_database {
        use std::sync::Arc;

        use kefu_kit::{
            clock::SystemClock,
            db::begin_for_tenant,
            error::ServiceError,
            events::new_event,
            testing::{Backend, TestDatabase},
        };
        use kefu_proto::v1::{Industry, Tenant, TenantCreated};

        use super::super::*;

        fn created(tenant: TenantId, industry: Industry) -> TenantCreated {
            let template = kefu_tenants::templates::catalogue()
                .for_industry(industry)
                .expect("template");
            TenantCreated {
                tenant: Some(Tenant {
                    name: format!("tenants/{}", tenant.0),
                    industry: industry as i32,
                    ..Tenant::default()
                }),
                template: template.name.clone(),
                template_version: template.version,
                industry: industry as i32,
                ..TenantCreated::default()
            }
        }

        async fn scenario(backend: Backend) {
            let Some(database) = TestDatabase::new(backend, "tickets").await else {
                return;
            };
            let seeder = Seeder {
                db: database.db.clone(),
                clock: Arc::new(SystemClock),
            };
            let tenant = TenantId::new();
            let other = TenantId::new();
            let now = Utc::now();
            let event = new_event(
                "tenants",
                Some(tenant),
                format!("tenants/{}", tenant.0),
                &created(tenant, Industry::PropertyManagement),
                now,
            );
            seeder.apply(&event).await.expect("seeded");

            // An admin's change survives the event delivered again and a
            // second seeding of the same template.
            let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
            let stored = store::get_kind(&txn, tenant, "repair", true)
                .await
                .expect("read")
                .expect("repair seeded");
            let mut edited = stored.resource.clone();
            edited.display_order = 42;
            assert!(
                store::replace_kind(&txn, tenant, &edited, stored.revision)
                    .await
                    .expect("edit")
            );
            txn.commit().await.expect("commit");
            seeder.apply(&event).await.expect("again");
            let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
            let template = kefu_tenants::templates::catalogue()
                .for_industry(Industry::PropertyManagement)
                .expect("template");
            assert_eq!(seed(&txn, tenant, template, now).await.expect("reseed"), 0);
            let repair = store::kind(&txn, tenant, "ticketKinds/repair")
                .await
                .expect("read")
                .expect("repair");
            assert_eq!(repair.display_order, 42);
            assert_eq!(
                store::categories(&txn, tenant)
                    .await
                    .expect("categories")
                    .len(),
                from_template(template, now).categories.len()
            );
            assert!(
                store::field_definitions(&txn, tenant)
                    .await
                    .expect("fields")
                    .iter()
                    .any(|field| field.key == "unit_number")
            );

            // The look-ups CreateTicket uses.
            let (kind, category) = store::check_kind_and_category(
                &txn,
                tenant,
                "ticketKinds/repair",
                "ticketCategories/repair-leak",
                "ticket.kind",
                "ticket.category",
            )
            .await
            .expect("repair in 漏水");
            assert_eq!(kind.key, "repair");
            assert_eq!(category.map(|c| c.key), Some("repair-leak".to_owned()));
            let mismatch = store::check_kind_and_category(
                &txn,
                tenant,
                "ticketKinds/inquiry",
                "ticketCategories/repair-leak",
                "ticket.kind",
                "ticket.category",
            )
            .await
            .unwrap_err();
            assert_eq!(mismatch.specific_reason(), Some("CATEGORY_KIND_MISMATCH"));
            let unknown = store::check_kind_and_category(
                &txn,
                tenant,
                "ticketKinds/nope",
                "",
                "ticket.kind",
                "ticket.category",
            )
            .await
            .unwrap_err();
            assert_eq!(unknown.specific_reason(), Some("UNKNOWN_REFERENCE"));
            let mut inactive = store::get_kind(&txn, tenant, "notice", true)
                .await
                .expect("read")
                .expect("notice");
            inactive.resource.active = false;
            store::replace_kind(&txn, tenant, &inactive.resource, inactive.revision)
                .await
                .expect("deactivate");
            let refused = store::check_kind_and_category(
                &txn,
                tenant,
                "ticketKinds/notice",
                "",
                "ticket.kind",
                "ticket.category",
            )
            .await
            .unwrap_err();
            assert_eq!(refused.specific_reason(), Some("KIND_INACTIVE"));
            txn.commit().await.expect("commit");

            // Another tenant has none of it.
            let txn = begin_for_tenant(&database.db, other).await.expect("begin");
            assert!(
                store::kind(&txn, other, "ticketKinds/repair")
                    .await
                    .expect("read")
                    .is_none()
            );
            assert!(
                store::categories(&txn, other)
                    .await
                    .expect("read")
                    .is_empty()
            );
            assert!(
                store::field_definitions(&txn, other)
                    .await
                    .expect("read")
                    .is_empty()
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
