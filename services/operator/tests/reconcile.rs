//! The reconciler against the real tenants service (SQLite, behind the real
//! gateway) and a Kubernetes API faked with `tower_test`: create, update,
//! silo provisioning, deletion through the finalizer, and a tenants service
//! that cannot be reached.

mod support;

use std::{sync::Arc, time::Duration};

use http::Method;
use kefu_gateway::placement::PlacementSource;
use kefu_operator::{
    FINALIZER, Tenant, error_policy, reconcile,
    resource::{Phase, condition},
    silo::SILO_SERVICES,
};
use kefu_proto::v1::{
    Industry, PlanTier, SuspendTenantRequest, TenantExportState, TenantState, UpdateTenantRequest,
};
use kube::{ResourceExt, runtime::controller::Action};
use serde_json::json;
use support::{
    TenantsStack, context, eventually,
    fake_kube::{FakeKube, tenant_path},
    tenant_resource, unreachable_tenants,
};

const RESYNC: Action = Action::requeue(Duration::from_secs(300));

fn arc(tenant: Option<Tenant>) -> Arc<Tenant> {
    Arc::new(tenant.expect("the resource exists"))
}

fn mark_deleted(kube: &FakeKube, path: &str) {
    kube.edit(path, |object| {
        object["metadata"]["deletionTimestamp"] = json!("2026-12-01T10:00:00Z");
    });
}

#[tokio::test]
async fn a_tenant_resource_creates_one_tenant_and_reports_it_ready() {
    let stack = TenantsStack::start().await;
    let (client, kube) = FakeKube::start();
    let path = tenant_path("default", "acme");
    kube.put(&path, tenant_resource("acme", "acme-shop", "Pool"));
    let ctx = context(&client, stack.client());

    let action = reconcile(arc(kube.tenant("default", "acme")), ctx.clone())
        .await
        .expect("reconciled");
    assert_eq!(action, RESYNC);

    let resource = kube.tenant("default", "acme").expect("resource");
    assert_eq!(resource.finalizers(), [FINALIZER]);
    let status = resource.status.expect("status written");
    assert_eq!(status.phase, Phase::Ready);
    assert_eq!(status.observed_generation, Some(1));
    let ready = status.condition(condition::READY).expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Ready")
    );
    assert_eq!(
        status.condition(condition::SYNCED).expect("Synced").status,
        "True"
    );
    assert!(
        status.condition(condition::SILO_READY).is_none(),
        "a pool tenant has no silo"
    );
    let id = status.tenant_id.expect("tenant id recorded");
    let created = stack.tenant(&id).await.expect("tenant exists");
    assert_eq!(created.slug, "acme-shop");
    assert_eq!(created.display_name, "Acme Shop");
    assert_eq!(created.industry, Industry::Ecommerce as i32);
    assert_eq!(created.state, TenantState::Active as i32);
    assert_eq!(kube.event_reasons(), ["Created"]);

    // Reconciling again changes nothing, not even the status.
    let writes = kube.requests_to(&Method::PATCH, &path).len();
    reconcile(arc(kube.tenant("default", "acme")), ctx.clone())
        .await
        .expect("reconciled again");
    assert_eq!(stack.tenants().await.len(), 1);
    assert_eq!(kube.event_reasons(), ["Created"]);
    assert_eq!(kube.requests_to(&Method::PATCH, &path).len(), writes);

    // A status lost after the create (say, the write failed): the next
    // create carries the same request id and finds the same tenant.
    kube.edit(&path, |object| {
        object.as_object_mut().expect("object").remove("status");
    });
    reconcile(arc(kube.tenant("default", "acme")), ctx.clone())
        .await
        .expect("reconciled without status");
    let tenants = stack.tenants().await;
    assert_eq!(tenants.len(), 1, "no second tenant");
    let status = kube
        .tenant("default", "acme")
        .and_then(|t| t.status)
        .expect("status");
    assert_eq!(status.tenant_id.as_deref(), Some(id.as_str()));
    assert_eq!(ctx.metrics.snapshot().reconciles, 3);
}

#[tokio::test]
async fn a_spec_change_updates_the_tenant_and_a_change_behind_the_operators_back_is_undone() {
    let stack = TenantsStack::start().await;
    let (client, kube) = FakeKube::start();
    let path = tenant_path("default", "acme");
    kube.put(&path, tenant_resource("acme", "acme-shop", "Pool"));
    let ctx = context(&client, stack.client());
    reconcile(arc(kube.tenant("default", "acme")), ctx.clone())
        .await
        .expect("created");

    kube.edit(&path, |object| {
        object["spec"]["plan"] = json!("Enterprise");
        object["spec"]["displayName"] = json!("Acme Ltd");
        object["spec"]["locale"] = json!("en");
        object["metadata"]["generation"] = json!(2);
    });
    reconcile(arc(kube.tenant("default", "acme")), ctx.clone())
        .await
        .expect("updated");
    let status = kube
        .tenant("default", "acme")
        .and_then(|t| t.status)
        .expect("status");
    assert_eq!(status.observed_generation, Some(2));
    assert_eq!(status.phase, Phase::Ready);
    let id = status.tenant_id.expect("id");
    let updated = stack.tenant(&id).await.expect("tenant");
    assert_eq!(updated.plan_tier, PlanTier::Enterprise as i32);
    assert_eq!(updated.display_name, "Acme Ltd");
    assert_eq!(updated.locale, "en");
    assert_eq!(kube.event_reasons(), ["Created", "Updated"]);
    assert_eq!(ctx.metrics.snapshot().tenants_updated, 1);

    // Someone renames the tenant through the API: the spec wins.
    stack
        .api()
        .await
        .update_tenant(UpdateTenantRequest {
            tenant: Some(kefu_proto::v1::Tenant {
                display_name: "Renamed by hand".into(),
                ..updated
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .expect("renamed");
    reconcile(arc(kube.tenant("default", "acme")), ctx.clone())
        .await
        .expect("resynced");
    assert_eq!(
        stack.tenant(&id).await.expect("tenant").display_name,
        "Acme Ltd"
    );
    assert_eq!(ctx.metrics.snapshot().tenants_updated, 2);

    // Suspended through the API: reported, not undone.
    stack
        .api()
        .await
        .suspend_tenant(SuspendTenantRequest {
            name: format!("tenants/{id}"),
            reason: "unpaid invoice".into(),
        })
        .await
        .expect("suspended");
    reconcile(arc(kube.tenant("default", "acme")), ctx.clone())
        .await
        .expect("reconciled while suspended");
    let status = kube
        .tenant("default", "acme")
        .and_then(|t| t.status)
        .expect("status");
    assert_eq!(status.phase, Phase::Suspended);
    let ready = status.condition(condition::READY).expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Suspended")
    );
    assert!(
        ready.message.contains("unpaid invoice"),
        "{}",
        ready.message
    );
    assert_eq!(
        stack.tenant(&id).await.expect("tenant").state,
        TenantState::Suspended as i32
    );
}

#[tokio::test]
async fn a_silo_tenant_gets_its_namespace_and_placement_and_loses_them_when_offboarded() {
    let stack = TenantsStack::start().await;
    let (client, kube) = FakeKube::start();
    let path = tenant_path("default", "big");
    kube.put(&path, tenant_resource("big", "big-bank", "Silo"));
    let ctx = context(&client, stack.client());

    // First pass: everything applied, the services not serving yet.
    let action = reconcile(arc(kube.tenant("default", "big")), ctx.clone())
        .await
        .expect("provisioned");
    assert_eq!(action, Action::requeue(Duration::from_secs(5)));
    let namespace = "kefu-t-big-bank";
    let inside = format!("/namespaces/{namespace}/");
    assert!(
        kube.get(&format!("/api/v1/namespaces/{namespace}"))
            .is_some(),
        "namespace"
    );
    assert!(
        kube.get(&format!("/api/v1{inside}resourcequotas/kefu-quota"))
            .is_some(),
        "quota"
    );
    assert!(
        kube.get(&format!(
            "/apis/networking.k8s.io/v1{inside}networkpolicies/kefu-silo"
        ))
        .is_some(),
        "network policy"
    );
    let database = kube
        .get(&format!("/api/v1{inside}secrets/kefu-database"))
        .expect("database secret");
    assert_eq!(
        database["stringData"]["url"],
        "postgres://kefu@db:5432/kefu_t_big_bank"
    );
    assert!(
        kube.get(&format!("/api/v1{inside}secrets/kefu-runtime"))
            .is_some()
    );
    for service in SILO_SERVICES {
        let deployment = kube
            .get(&format!("/apis/apps/v1{inside}deployments/kefu-{service}"))
            .unwrap_or_else(|| panic!("deployment of {service}"));
        assert_eq!(
            deployment["spec"]["template"]["spec"]["containers"][0]["args"],
            json!(["serve", "--target", service])
        );
        assert!(
            kube.get(&format!("/api/v1{inside}services/kefu-{service}"))
                .is_some()
        );
    }
    // Every object but the database Secret went through server-side apply.
    let applies = kube
        .requests()
        .into_iter()
        .filter(|request| request.method == Method::PATCH && request.path.contains(namespace))
        .collect::<Vec<_>>();
    assert!(!applies.is_empty());
    assert!(
        applies
            .iter()
            .all(|request| request.content_type.starts_with("application/apply-patch")),
        "{applies:?}"
    );

    let status = kube
        .tenant("default", "big")
        .and_then(|t| t.status)
        .expect("status");
    assert_eq!(status.phase, Phase::Provisioning);
    assert_eq!(status.silo_namespace.as_deref(), Some(namespace));
    let silo = status.condition(condition::SILO_READY).expect("SiloReady");
    assert_eq!(
        (silo.status.as_str(), silo.reason.as_str()),
        ("False", "SiloStarting")
    );
    let id = status.tenant_id.expect("id");
    let placement = stack
        .tenant(&id)
        .await
        .and_then(|t| t.placement)
        .expect("placement");
    assert_eq!(placement.namespace, namespace);
    assert!(!placement.ready);
    assert_eq!(
        placement.upstreams["tickets"],
        format!("http://kefu-tickets.{namespace}.svc:50051")
    );

    // An administrator rotates the database password: the operator keeps
    // the Secret as it is.
    kube.edit(&format!("/api/v1{inside}secrets/kefu-database"), |secret| {
        secret["stringData"]["url"] = json!("postgres://kefu:rotated@db:5432/kefu_t_big_bank");
    });
    // The cluster starts the services.
    for service in SILO_SERVICES {
        kube.edit(
            &format!("/apis/apps/v1{inside}deployments/kefu-{service}"),
            |deployment| {
                deployment["status"] = json!({"availableReplicas": 1, "replicas": 1});
            },
        );
    }
    let action = reconcile(arc(kube.tenant("default", "big")), ctx.clone())
        .await
        .expect("ready");
    assert_eq!(action, RESYNC);
    let status = kube
        .tenant("default", "big")
        .and_then(|t| t.status)
        .expect("status");
    assert_eq!(status.phase, Phase::Ready);
    assert_eq!(
        status
            .condition(condition::SILO_READY)
            .expect("SiloReady")
            .status,
        "True"
    );
    assert!(
        stack
            .tenant(&id)
            .await
            .and_then(|t| t.placement)
            .expect("placement")
            .ready
    );
    // The gateway reads the same placement to route the tenant's calls.
    let routed = stack
        .placements
        .placement(id.parse().expect("tenant id"))
        .await
        .expect("placement readable by the gateway")
        .expect("a silo placement");
    assert!(routed.ready);
    assert_eq!(routed.upstreams.len(), SILO_SERVICES.len());
    assert_eq!(
        kube.get(&format!("/api/v1{inside}secrets/kefu-database"))
            .expect("secret")["stringData"]["url"],
        "postgres://kefu:rotated@db:5432/kefu_t_big_bank"
    );
    assert_eq!(
        kube.requests_to(&Method::POST, &format!("/api/v1{inside}secrets"))
            .len(),
        1,
        "the database Secret is written once"
    );
    assert_eq!(ctx.metrics.snapshot().silos_provisioned, 1);
    assert_eq!(
        kube.event_reasons(),
        ["Created", "PlacementRecorded", "PlacementRecorded"]
    );

    // Offboarding (grace period 0: purged at once) removes the namespace.
    mark_deleted(&kube, &path);
    eventually(|| {
        let kube = kube.clone();
        let ctx = ctx.clone();
        async move {
            let Some(tenant) = kube.tenant("default", "big") else {
                return Some(());
            };
            reconcile(Arc::new(tenant), ctx)
                .await
                .expect("offboarding step");
            kube.tenant("default", "big").is_none().then_some(())
        }
    })
    .await;
    assert!(
        kube.get(&format!("/api/v1/namespaces/{namespace}"))
            .is_none()
    );
    assert!(
        kube.paths(&format!("/api/v1{inside}")).is_empty(),
        "everything in it went too"
    );
    assert!(stack.tenant(&id).await.is_none(), "purged at once");
}

#[tokio::test]
async fn deleting_the_resource_exports_then_deletes_the_tenant_before_releasing_it() {
    let stack = TenantsStack::start().await;
    let (client, kube) = FakeKube::start();
    let path = tenant_path("default", "acme");
    let mut resource = tenant_resource("acme", "acme-shop", "Pool");
    // The default grace period: the tenant stays DELETING, its export offered.
    resource["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("deletionGracePeriodDays");
    kube.put(&path, resource);
    let ctx = context(&client, stack.client());
    reconcile(arc(kube.tenant("default", "acme")), ctx.clone())
        .await
        .expect("created");
    let id = kube
        .tenant("default", "acme")
        .and_then(|t| t.status)
        .and_then(|s| s.tenant_id)
        .expect("id");

    mark_deleted(&kube, &path);
    let mut passes = 0;
    eventually(|| {
        passes += 1;
        let kube = kube.clone();
        let ctx = ctx.clone();
        async move {
            let Some(tenant) = kube.tenant("default", "acme") else {
                return Some(());
            };
            assert!(
                tenant.finalizers().contains(&FINALIZER.to_owned()),
                "held until offboarded"
            );
            reconcile(Arc::new(tenant), ctx)
                .await
                .expect("offboarding step");
            kube.tenant("default", "acme").is_none().then_some(())
        }
    })
    .await;

    let deleted = stack
        .tenant(&id)
        .await
        .expect("DELETING tenants are still readable");
    assert_eq!(deleted.state, TenantState::Deleting as i32);
    let exports = stack.exports(&id).await;
    assert_eq!(
        exports.len(),
        1,
        "one export however many passes ({passes}) it took"
    );
    assert_eq!(exports[0].state, TenantExportState::Succeeded as i32);
    let reasons = kube.event_reasons();
    assert!(
        reasons.ends_with(&["Exported".to_owned(), "Offboarded".to_owned()]),
        "{reasons:?}"
    );
    // The export's idempotency key was written down before it was asked for.
    let first_status_with_key = kube
        .requests_to(&Method::PATCH, &format!("{path}/status"))
        .into_iter()
        .find(|request| request.body["status"]["offboarding"]["exportRequestId"].is_string())
        .expect("key recorded");
    assert_eq!(first_status_with_key.body["status"]["phase"], "Offboarding");
    assert_eq!(ctx.metrics.snapshot().tenants_offboarded, 1);
}

#[tokio::test]
async fn an_unreachable_tenants_service_is_retried_with_backoff_and_loses_nothing() {
    let (client, kube) = FakeKube::start();
    let path = tenant_path("default", "acme");
    kube.put(&path, tenant_resource("acme", "acme-shop", "Pool"));
    let offline = context(&client, unreachable_tenants().await);

    let error = reconcile(arc(kube.tenant("default", "acme")), offline.clone())
        .await
        .expect_err("the tenants service is down");
    assert!(error.is_transient(), "{error}");
    assert_eq!(error.reason(), "TenantsUnavailable");
    let resource = kube.tenant("default", "acme").expect("resource");
    assert_eq!(resource.finalizers(), [FINALIZER], "held from the start");
    let status = resource.status.clone().expect("status");
    assert_eq!(status.phase, Phase::Pending);
    assert_eq!(status.tenant_id, None);
    let ready = status.condition(condition::READY).expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "TenantsUnavailable")
    );
    assert_eq!(kube.event_reasons(), ["TenantsUnavailable"]);
    assert_eq!(
        offline.metrics.snapshot().failures["tenants_unavailable"],
        1
    );
    // Retried soon, then less and less often.
    let resource = Arc::new(resource);
    let delays: Vec<Action> = (0..3)
        .map(|_| error_policy(resource.clone(), &error, offline.clone()))
        .collect();
    assert_eq!(
        delays,
        [5, 10, 20].map(|seconds| Action::requeue(Duration::from_secs(seconds)))
    );

    // The service comes back: the tenant is created, once.
    let stack = TenantsStack::start().await;
    let online = context(&client, stack.client());
    reconcile(arc(kube.tenant("default", "acme")), online.clone())
        .await
        .expect("created once reachable");
    assert_eq!(stack.tenants().await.len(), 1);
    let status = kube
        .tenant("default", "acme")
        .and_then(|t| t.status)
        .expect("status");
    assert_eq!(
        status.condition(condition::READY).expect("Ready").status,
        "True"
    );
    let id = status.tenant_id.expect("id");

    // Deleted while the service is down again: the resource is kept.
    mark_deleted(&kube, &path);
    let error = reconcile(arc(kube.tenant("default", "acme")), offline.clone())
        .await
        .expect_err("cannot offboard");
    assert!(error.is_transient());
    let resource = kube.tenant("default", "acme").expect("still there");
    assert_eq!(resource.finalizers(), [FINALIZER]);
    assert_eq!(
        resource
            .status
            .and_then(|s| s.condition(condition::READY).map(|c| c.reason.clone())),
        Some("TenantsUnavailable".to_owned())
    );
    assert_eq!(
        stack.tenant(&id).await.expect("tenant").state,
        TenantState::Active as i32,
        "nothing deleted without its export"
    );

    // Back again: the offboarding completes.
    eventually(|| {
        let kube = kube.clone();
        let online = online.clone();
        async move {
            let Some(tenant) = kube.tenant("default", "acme") else {
                return Some(());
            };
            reconcile(Arc::new(tenant), online)
                .await
                .expect("offboarding step");
            kube.tenant("default", "acme").is_none().then_some(())
        }
    })
    .await;
    assert!(stack.tenant(&id).await.is_none(), "grace period 0: purged");
}

#[tokio::test]
async fn a_slug_taken_by_another_tenant_fails_the_resource_without_fast_retries() {
    let stack = TenantsStack::start().await;
    let (client, kube) = FakeKube::start();
    kube.put(
        &tenant_path("default", "first"),
        tenant_resource("first", "acme-shop", "Pool"),
    );
    kube.put(
        &tenant_path("default", "second"),
        tenant_resource("second", "acme-shop", "Pool"),
    );
    let ctx = context(&client, stack.client());
    reconcile(arc(kube.tenant("default", "first")), ctx.clone())
        .await
        .expect("first created");
    let error = reconcile(arc(kube.tenant("default", "second")), ctx.clone())
        .await
        .expect_err("slug taken");
    assert!(!error.is_transient());
    let status = kube
        .tenant("default", "second")
        .and_then(|t| t.status)
        .expect("status");
    assert_eq!(status.phase, Phase::Failed);
    assert_eq!(
        status
            .condition(condition::READY)
            .map(|c| c.reason.as_str()),
        Some("SlugTaken")
    );
    assert_eq!(
        error_policy(arc(kube.tenant("default", "second")), &error, ctx.clone()),
        RESYNC
    );
    assert_eq!(stack.tenants().await.len(), 1);
}
