//! Tenant settings over real gRPC on both backends, as an administrator and
//! the operator notice them: a masked update changes only what it names, a
//! stale etag and invalid values change nothing and name the field, SLA
//! policies and the approval matrix are the admin's (an agent is refused,
//! another tenant finds nothing), and a deleted tenant leaves no row and no
//! working session behind.

use std::time::Duration;

use kefu_kit::{context::TenantId, testing::Backend};
use kefu_proto::v1::{
    ApprovalLevel, ApprovalMatrix, ApprovalThreshold, BusinessCalendar, CreateSlaPolicyRequest,
    DayHours, DayOfWeek, DeleteSlaPolicyRequest, DeleteTenantRequest, ExportTenantDataRequest,
    GetApprovalMatrixRequest, GetCurrentTenantRequest, GetSlaPolicyRequest, GetTenantExportRequest,
    GetTenantRequest, ListTenantExportsRequest, Money, PlanTier, Priority, Role,
    SetTenantPlacementRequest, SlaPolicy, SlaTarget, Tenant, TenantExportState, TenantPlacement,
    TenantSettings, TimeOfDay, TimeSpan, UpdateApprovalMatrixRequest, UpdateCurrentTenantRequest,
    UpdateSlaPolicyRequest, UpdateTenantRequest, WeeklySchedule,
    tenant_service_client::TenantServiceClient,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tonic::Code;

use crate::{
    eventually::eventually,
    tenants::{Intercepted, World, field_of, tenant_id, user},
};

type Client = TenantServiceClient<Intercepted>;

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|path| (*path).to_owned()).collect(),
    })
}

fn hours(hours: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: hours * 3_600,
        nanos: 0,
    })
}

fn span(start: i32, end: i32) -> TimeSpan {
    TimeSpan {
        start: Some(TimeOfDay {
            hours: start,
            minutes: 0,
        }),
        end: Some(TimeOfDay {
            hours: end,
            minutes: 0,
        }),
    }
}

fn policy(targets: Vec<(Priority, i64, i64)>) -> SlaPolicy {
    SlaPolicy {
        display_name: "VIP repairs".into(),
        targets: targets
            .into_iter()
            .map(|(priority, first, resolution)| SlaTarget {
                priority: priority as i32,
                first_response_target: hours(first),
                resolution_target: hours(resolution),
            })
            .collect(),
        ..SlaPolicy::default()
    }
}

fn threshold(bound: Option<i64>, level: ApprovalLevel) -> ApprovalThreshold {
    ApprovalThreshold {
        currency_code: "CNY".into(),
        upper_bound: bound.map(|amount_minor| Money {
            currency_code: "CNY".into(),
            amount_minor,
        }),
        level: level as i32,
    }
}

async fn current(client: &Client) -> Tenant {
    client
        .clone()
        .get_current_tenant(GetCurrentTenantRequest {})
        .await
        .expect("current tenant")
        .into_inner()
}

async fn rows_of(db: &DatabaseConnection, table: &str, column: &str, tenant: TenantId) -> i64 {
    let backend = db.get_database_backend();
    let placeholder = if backend == sea_orm::DbBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    db.query_one_raw(Statement::from_sql_and_values(
        backend,
        format!("SELECT count(*) FROM {table} WHERE {column} = {placeholder}"),
        [tenant.0.into()],
    ))
    .await
    .expect("count")
    .expect("row")
    .try_get_by_index::<i64>(0)
    .expect("n")
}

/// Every table of the tenants service holding a tenant's rows, with the
/// column naming the tenant.
const TENANT_ROWS: &[(&str, &str)] = &[
    ("tenants", "id"),
    ("credential_lookups", "tenant_id"),
    ("departments", "tenant_id"),
    ("users", "tenant_id"),
    ("login_failures", "tenant_id"),
    ("sessions", "tenant_id"),
    ("api_keys", "tenant_id"),
    ("teams", "tenant_id"),
    ("team_members", "tenant_id"),
    ("skills", "tenant_id"),
    ("sla_policies", "tenant_id"),
    ("approval_matrices", "tenant_id"),
    ("idempotency_keys", "tenant_id"),
    ("tenant_exports", "tenant_id"),
];

async fn settings_policies_and_deletion(backend: Backend) {
    let Some(world) = World::start(backend).await else {
        return;
    };
    let a = world.tenant("acme-settings").await;
    let b = world.tenant("bravo-settings").await;
    let (a_admin_name, a_session) = world.admin_login("acme-settings").await;
    let a_admin = world.tenants(Some(tenant_id(&a)), user(&a_admin_name, Role::Admin));
    let a_agent = world.tenants(
        Some(tenant_id(&a)),
        user(&format!("users/{}", uuid::Uuid::now_v7()), Role::Agent),
    );
    let b_admin = world.tenants(
        Some(tenant_id(&b)),
        user(&format!("users/{}", uuid::Uuid::now_v7()), Role::Admin),
    );

    // A masked update changes only the masked fields.
    let before = current(&a_admin).await;
    let updated = a_admin
        .clone()
        .update_current_tenant(UpdateCurrentTenantRequest {
            tenant: Some(Tenant {
                display_name: "Acme 物业服务".into(),
                locale: "en".into(),
                settings: Some(TenantSettings {
                    complaint_deadline_days: 5,
                    ..TenantSettings::default()
                }),
                etag: before.etag.clone(),
                ..Tenant::default()
            }),
            update_mask: mask(&["display_name", "settings.complaint_deadline_days"]),
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.display_name, "Acme 物业服务");
    assert_eq!(updated.locale, before.locale, "locale was not in the mask");
    let settings = updated.settings.clone().expect("settings");
    assert_eq!(settings.complaint_deadline_days, 5);
    assert_eq!(
        settings.first_contact_days,
        before
            .settings
            .clone()
            .expect("settings")
            .first_contact_days
    );
    assert_ne!(updated.etag, before.etag);
    assert_eq!(current(&a_admin).await, updated);

    // A stale etag and invalid values are refused, naming the field, and
    // change nothing.
    let refusals: Vec<(Tenant, Vec<&str>, Code, &str)> = vec![
        (
            Tenant {
                display_name: "Lost update".into(),
                etag: before.etag.clone(),
                ..Tenant::default()
            },
            vec!["display_name"],
            Code::Aborted,
            "",
        ),
        (
            Tenant {
                time_zone: "Asia/Beijing".into(),
                ..Tenant::default()
            },
            vec!["time_zone"],
            Code::InvalidArgument,
            "tenant.time_zone",
        ),
        (
            Tenant {
                calendar: Some(BusinessCalendar {
                    business_hours: Some(WeeklySchedule {
                        days: vec![DayHours {
                            day: DayOfWeek::Monday as i32,
                            spans: vec![span(8, 12), span(11, 17)],
                        }],
                    }),
                    ..BusinessCalendar::default()
                }),
                ..Tenant::default()
            },
            vec!["calendar.business_hours"],
            Code::InvalidArgument,
            "tenant.calendar.business_hours.days[0].spans[1]",
        ),
        (
            Tenant {
                plan_tier: PlanTier::Enterprise as i32,
                ..Tenant::default()
            },
            vec!["plan_tier"],
            Code::InvalidArgument,
            "update_mask.paths[0]",
        ),
        (
            Tenant::default(),
            vec!["colour"],
            Code::InvalidArgument,
            "update_mask.paths[0]",
        ),
    ];
    for (tenant, paths, code, field) in refusals {
        let refused = a_admin
            .clone()
            .update_current_tenant(UpdateCurrentTenantRequest {
                tenant: Some(tenant),
                update_mask: mask(&paths),
            })
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), code, "{paths:?}: {refused:?}");
        if !field.is_empty() {
            assert_eq!(field_of(&refused), field, "{paths:?}");
        }
    }
    assert_eq!(current(&a_admin).await, updated, "nothing changed");

    // The operator changes the plan; the slug is immutable; a tenant user
    // cannot call UpdateTenant.
    let operator_view = world
        .operator()
        .update_tenant(UpdateTenantRequest {
            tenant: Some(Tenant {
                name: a.name.clone(),
                plan_tier: PlanTier::Professional as i32,
                etag: updated.etag.clone(),
                ..Tenant::default()
            }),
            update_mask: mask(&["plan_tier"]),
        })
        .await
        .expect("operator update")
        .into_inner();
    assert_eq!(operator_view.plan_tier, PlanTier::Professional as i32);
    assert_eq!(operator_view.display_name, "Acme 物业服务");
    let immutable = world
        .operator()
        .update_tenant(UpdateTenantRequest {
            tenant: Some(Tenant {
                name: a.name.clone(),
                slug: "renamed".into(),
                ..Tenant::default()
            }),
            update_mask: mask(&["slug"]),
        })
        .await
        .expect_err("slug is immutable");
    assert_eq!(immutable.code(), Code::InvalidArgument);
    assert_eq!(
        a_admin
            .clone()
            .update_tenant(UpdateTenantRequest {
                tenant: Some(Tenant {
                    name: a.name.clone(),
                    ..Tenant::default()
                }),
                update_mask: mask(&["display_name"]),
            })
            .await
            .expect_err("operator only")
            .code(),
        Code::PermissionDenied
    );
    let pool = world
        .operator()
        .set_tenant_placement(SetTenantPlacementRequest {
            name: a.name.clone(),
            placement: Some(TenantPlacement {
                namespace: "kefu-t-acme".into(),
                ..TenantPlacement::default()
            }),
        })
        .await
        .expect_err("pool tenant");
    assert_eq!(pool.code(), Code::FailedPrecondition);

    // SLA policies: the admin creates and edits; duplicates and agents are
    // refused; tenant B finds nothing of A's.
    let created = a_admin
        .clone()
        .create_sla_policy(CreateSlaPolicyRequest {
            sla_policy: Some(policy(vec![
                (Priority::Unspecified, 4, 48),
                (Priority::Urgent, 1, 8),
            ])),
            sla_policy_id: "vip-repairs".into(),
            request_id: String::new(),
        })
        .await
        .expect("create policy")
        .into_inner();
    assert_eq!(created.name, "slaPolicies/vip-repairs");
    assert_eq!(created.warning_percent, 80);
    let taken = a_admin
        .clone()
        .create_sla_policy(CreateSlaPolicyRequest {
            sla_policy: Some(policy(vec![(Priority::High, 1, 8)])),
            sla_policy_id: "vip-repairs".into(),
            request_id: String::new(),
        })
        .await
        .expect_err("id taken");
    assert_eq!(taken.code(), Code::AlreadyExists);
    let twice = a_admin
        .clone()
        .create_sla_policy(CreateSlaPolicyRequest {
            sla_policy: Some(policy(vec![(Priority::High, 1, 8), (Priority::High, 2, 8)])),
            sla_policy_id: "twice".into(),
            request_id: String::new(),
        })
        .await
        .expect_err("two targets of one priority");
    assert_eq!(twice.code(), Code::InvalidArgument);
    assert_eq!(field_of(&twice), "sla_policy.targets[1].priority");
    let short = a_admin
        .clone()
        .create_sla_policy(CreateSlaPolicyRequest {
            sla_policy: Some(policy(vec![(Priority::High, 8, 4)])),
            sla_policy_id: "short".into(),
            request_id: String::new(),
        })
        .await
        .expect_err("resolution before first response");
    assert_eq!(field_of(&short), "sla_policy.targets[0].resolution_target");
    let agent = a_agent
        .clone()
        .update_sla_policy(UpdateSlaPolicyRequest {
            sla_policy: Some(SlaPolicy {
                name: created.name.clone(),
                warning_percent: 50,
                ..SlaPolicy::default()
            }),
            update_mask: mask(&["warning_percent"]),
        })
        .await
        .expect_err("agent");
    assert_eq!(agent.code(), Code::PermissionDenied);
    assert_eq!(
        a_agent
            .clone()
            .create_sla_policy(CreateSlaPolicyRequest {
                sla_policy: Some(policy(vec![(Priority::High, 1, 8)])),
                ..CreateSlaPolicyRequest::default()
            })
            .await
            .expect_err("agent")
            .code(),
        Code::PermissionDenied
    );
    let probes = [
        b_admin
            .clone()
            .get_sla_policy(GetSlaPolicyRequest {
                name: created.name.clone(),
            })
            .await
            .map(|_| ()),
        b_admin
            .clone()
            .update_sla_policy(UpdateSlaPolicyRequest {
                sla_policy: Some(SlaPolicy {
                    name: created.name.clone(),
                    warning_percent: 50,
                    ..SlaPolicy::default()
                }),
                update_mask: mask(&["warning_percent"]),
            })
            .await
            .map(|_| ()),
        b_admin
            .clone()
            .delete_sla_policy(DeleteSlaPolicyRequest {
                name: created.name.clone(),
                etag: String::new(),
            })
            .await
            .map(|_| ()),
    ];
    for probe in probes {
        assert_eq!(
            probe.expect_err("another tenant's policy").code(),
            Code::NotFound
        );
    }
    let edited = a_admin
        .clone()
        .update_sla_policy(UpdateSlaPolicyRequest {
            sla_policy: Some(SlaPolicy {
                name: created.name.clone(),
                display_name: "not in the mask".into(),
                warning_percent: 90,
                etag: created.etag.clone(),
                ..SlaPolicy::default()
            }),
            update_mask: mask(&["warning_percent"]),
        })
        .await
        .expect("admin edits")
        .into_inner();
    assert_eq!(edited.warning_percent, 90);
    assert_eq!(edited.display_name, "VIP repairs");
    assert_eq!(edited.targets, created.targets);
    let stale = a_admin
        .clone()
        .update_sla_policy(UpdateSlaPolicyRequest {
            sla_policy: Some(SlaPolicy {
                name: created.name.clone(),
                warning_percent: 70,
                etag: created.etag.clone(),
                ..SlaPolicy::default()
            }),
            update_mask: mask(&["warning_percent"]),
        })
        .await
        .expect_err("stale");
    assert_eq!(stale.code(), Code::Aborted);
    a_admin
        .clone()
        .delete_sla_policy(DeleteSlaPolicyRequest {
            name: created.name.clone(),
            etag: edited.etag.clone(),
        })
        .await
        .expect("delete policy");
    assert_eq!(
        a_admin
            .clone()
            .get_sla_policy(GetSlaPolicyRequest {
                name: created.name.clone(),
            })
            .await
            .expect_err("deleted")
            .code(),
        Code::NotFound
    );

    // The approval matrix: thresholds must increase; a refusal changes
    // nothing.
    let matrix = a_admin
        .clone()
        .get_approval_matrix(GetApprovalMatrixRequest::default())
        .await
        .expect("matrix")
        .into_inner();
    let not_increasing = a_admin
        .clone()
        .update_approval_matrix(UpdateApprovalMatrixRequest {
            approval_matrix: Some(ApprovalMatrix {
                thresholds: vec![
                    threshold(Some(500_000), ApprovalLevel::DepartmentManager),
                    threshold(Some(100_000), ApprovalLevel::VicePresident),
                    threshold(None, ApprovalLevel::GeneralManager),
                ],
                etag: matrix.etag.clone(),
                ..ApprovalMatrix::default()
            }),
            update_mask: None,
        })
        .await
        .expect_err("not increasing");
    assert_eq!(not_increasing.code(), Code::InvalidArgument);
    assert_eq!(
        field_of(&not_increasing),
        "approval_matrix.thresholds[1].upper_bound"
    );
    let unchanged = a_admin
        .clone()
        .get_approval_matrix(GetApprovalMatrixRequest::default())
        .await
        .expect("matrix")
        .into_inner();
    assert_eq!(unchanged, matrix);
    let replaced = a_admin
        .clone()
        .update_approval_matrix(UpdateApprovalMatrixRequest {
            approval_matrix: Some(ApprovalMatrix {
                thresholds: vec![
                    threshold(Some(199_999), ApprovalLevel::DepartmentManager),
                    threshold(None, ApprovalLevel::GeneralManager),
                ],
                etag: matrix.etag.clone(),
                ..ApprovalMatrix::default()
            }),
            update_mask: mask(&["thresholds"]),
        })
        .await
        .expect("replace thresholds")
        .into_inner();
    assert_eq!(replaced.thresholds.len(), 2);
    assert_ne!(replaced.etag, matrix.etag);

    // Deletion needs an export first; after it nothing of A remains.
    let refused = world
        .operator()
        .delete_tenant(DeleteTenantRequest {
            name: a.name.clone(),
            grace_period: Some(prost_types::Duration::default()),
            ..DeleteTenantRequest::default()
        })
        .await
        .expect_err("no export offered");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let export = world
        .operator()
        .export_tenant_data(ExportTenantDataRequest {
            name: a.name.clone(),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("export")
        .into_inner();
    assert!(export.name.starts_with(&format!("{}/exports/", a.name)));
    let export_name = export.name.clone();
    eventually("the export succeeds", Duration::from_secs(10), || {
        let operator = world.operator();
        let name = export_name.clone();
        async move {
            operator
                .clone()
                .get_tenant_export(GetTenantExportRequest { name })
                .await
                .is_ok_and(|done| {
                    let done = done.into_inner();
                    done.state == TenantExportState::Succeeded as i32
                        && done.size_bytes > 0
                        && done.sha256.len() == 64
                })
        }
    })
    .await;
    let listed = world
        .operator()
        .list_tenant_exports(ListTenantExportsRequest {
            parent: a.name.clone(),
            ..ListTenantExportsRequest::default()
        })
        .await
        .expect("list exports")
        .into_inner();
    assert_eq!(listed.total_size, 1);
    assert_eq!(
        world
            .operator()
            .get_tenant_export(GetTenantExportRequest {
                name: export_name.replace(&a.name, &b.name),
            })
            .await
            .expect_err("not B's export")
            .code(),
        Code::NotFound
    );
    world.resolve(&a_session).await.expect("session resolves");
    world
        .operator()
        .delete_tenant(DeleteTenantRequest {
            name: a.name.clone(),
            grace_period: Some(prost_types::Duration::default()),
            ..DeleteTenantRequest::default()
        })
        .await
        .expect("delete after export");
    assert_eq!(
        world
            .operator()
            .get_tenant(GetTenantRequest {
                name: a.name.clone(),
            })
            .await
            .expect_err("purged")
            .code(),
        Code::NotFound
    );
    assert_eq!(
        world.resolve(&a_session).await.expect_err("purged").code(),
        Code::Unauthenticated
    );
    // Past row-level security on PostgreSQL (the owner), directly on SQLite.
    let inspector = match backend {
        Backend::Postgres => world.database.owner_connection().await,
        Backend::Sqlite => world.database.db.clone(),
    };
    for (table, column) in TENANT_ROWS {
        assert_eq!(
            rows_of(&inspector, table, column, tenant_id(&a)).await,
            0,
            "{table} keeps rows of the deleted tenant"
        );
    }
    assert!(
        rows_of(&inspector, "users", "tenant_id", tenant_id(&b)).await >= 1,
        "B keeps its rows"
    );
    current(&b_admin).await;
}

#[tokio::test]
async fn sqlite_settings_policies_and_deletion() {
    settings_policies_and_deletion(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_settings_policies_and_deletion() {
    settings_policies_and_deletion(Backend::Postgres).await;
}
