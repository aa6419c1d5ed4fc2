//! The gateway on both backends, through real gRPC: who may call what
//! (roles, API key scopes, the platform operator), secrets that stop working
//! the moment they are revoked, suspended tenants, rate limits that keep a
//! flooding tenant from slowing another, and credentials a caller forges or
//! smuggles past the gateway.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use kefu_kit::{
    context::{Principal, PrincipalKind, TenantId},
    credential::{CREDENTIAL_HEADER, CredentialKey, CredentialSigner},
    testing::Backend,
};
use kefu_proto::v1::{
    ApiKey, ApiKeyAccess, ApiKeyScope, CreateApiKeyRequest, CreateDepartmentRequest,
    CreateSlaPolicyRequest, GetCurrentPrincipalRequest, GetCurrentTenantRequest, Industry,
    InviteUserRequest, ListIndustryTemplatesRequest, ListSessionsRequest, ListSlaPoliciesRequest,
    ListTenantsRequest, ListUsersRequest, LogoutRequest, ResumeTenantRequest, RevokeApiKeyRequest,
    RevokeSessionRequest, Role, SlaPolicy, SuspendTenantRequest, User,
    identity_service_client::IdentityServiceClient,
};
use prost::Message;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

use crate::{
    eventually::eventually,
    stack::{Stack, raw_call},
};

fn code<T>(answer: Result<T, Status>) -> Code {
    match answer {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

pub(super) fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

async fn key_with(
    stack: &Stack,
    admin_session: &str,
    scopes: Vec<ApiKeyScope>,
) -> (String, String) {
    let created = stack
        .identity(Some(admin_session))
        .create_api_key(CreateApiKeyRequest {
            api_key: Some(ApiKey {
                display_name: "集成".into(),
                scopes,
                ..ApiKey::default()
            }),
            ..CreateApiKeyRequest::default()
        })
        .await
        .expect("the admin creates a key")
        .into_inner();
    (created.api_key.expect("key").name, created.secret)
}

fn scope(service: &str, access: ApiKeyAccess) -> ApiKeyScope {
    ApiKeyScope {
        service: service.into(),
        access: access as i32,
    }
}

async fn roles_scopes_and_the_operator_are_checked(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let acme = stack.onboard("acme", Industry::PropertyManagement).await;
    let admin = Some(acme.admin_session.as_str());
    let agent_email = format!("agent@{}.example", acme.tenant.slug);
    stack
        .identity(admin)
        .invite_user(InviteUserRequest {
            user: Some(User {
                email: agent_email.clone(),
                display_name: "李客服".into(),
                roles: vec![Role::Agent as i32],
                ..User::default()
            }),
            ..InviteUserRequest::default()
        })
        .await
        .expect("the admin invites an agent");
    let (_, agent) = stack.join(&acme.tenant.slug, &agent_email).await;

    // An agent reads the SLA policies but cannot change them or invite.
    let agent = Some(agent.as_str());
    assert_eq!(
        code(
            stack
                .tenants(agent)
                .list_sla_policies(ListSlaPoliciesRequest::default())
                .await
        ),
        Code::Ok
    );
    let refused = stack
        .tenants(agent)
        .create_sla_policy(CreateSlaPolicyRequest {
            sla_policy: Some(SlaPolicy {
                display_name: "agent's own".into(),
                ..SlaPolicy::default()
            }),
            ..CreateSlaPolicyRequest::default()
        })
        .await
        .expect_err("agents do not edit SLA policies");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(
        refused.message().starts_with("permission denied:"),
        "refused at the gateway, before the service: {refused:?}"
    );
    assert_eq!(
        code(
            stack
                .identity(agent)
                .invite_user(InviteUserRequest::default())
                .await
        ),
        Code::PermissionDenied
    );

    // A read-only key of the tenants service reads users, nothing more.
    let (key_name, reader) = key_with(
        &stack,
        &acme.admin_session,
        vec![scope("tenants", ApiKeyAccess::Read)],
    )
    .await;
    let reader = Some(reader.as_str());
    assert_eq!(
        code(
            stack
                .identity(reader)
                .list_users(ListUsersRequest::default())
                .await
        ),
        Code::Ok
    );
    let write = stack
        .identity(reader)
        .create_department(CreateDepartmentRequest::default())
        .await
        .expect_err("a read key does not write");
    assert_eq!(write.code(), Code::PermissionDenied);
    assert!(write.message().contains("tenants:write"), "{write:?}");
    assert_eq!(reason(&write), "SCOPE_MISSING");
    // Even a write key never administers users or keys: an invitation
    // token or a new key would let it grant itself more than it holds.
    let (_, writer) = key_with(
        &stack,
        &acme.admin_session,
        vec![scope("tenants", ApiKeyAccess::Write)],
    )
    .await;
    for refused in [
        code(
            stack
                .identity(Some(&writer))
                .invite_user(InviteUserRequest::default())
                .await,
        ),
        code(
            stack
                .identity(Some(&writer))
                .create_api_key(CreateApiKeyRequest::default())
                .await,
        ),
    ] {
        assert_eq!(refused, Code::PermissionDenied);
    }
    let other_service = stack
        .raw_call("kefu.v1.CustomerService/ListCustomers", Vec::new(), reader)
        .await
        .expect_err("no customers scope");
    assert_eq!(other_service.code(), Code::PermissionDenied);
    assert_eq!(
        code(
            stack
                .identity(reader)
                .logout(LogoutRequest::default())
                .await
        ),
        Code::FailedPrecondition,
        "keys have no portal session to end"
    );

    // No key, whatever its scope, reaches the portal sessions of people.
    for answer in [
        stack
            .raw_call(
                "kefu.v1.IdentityService/ListSessions",
                ListSessionsRequest {
                    parent: acme.admin_user.clone(),
                    ..ListSessionsRequest::default()
                }
                .encode_to_vec(),
                reader,
            )
            .await,
        stack
            .raw_call(
                "kefu.v1.IdentityService/RevokeSession",
                RevokeSessionRequest {
                    name: format!("{}/sessions/{}", acme.admin_user, uuid::Uuid::now_v7()),
                }
                .encode_to_vec(),
                reader,
            )
            .await,
    ] {
        assert_eq!(code(answer), Code::FailedPrecondition);
    }

    // The operator manages tenants and sees nothing inside them.
    let operator = Some(stack.operator_token.as_str());
    assert_eq!(
        code(
            stack
                .tenants(operator)
                .list_tenants(ListTenantsRequest::default())
                .await
        ),
        Code::Ok
    );
    assert_eq!(
        code(
            stack
                .tenants(operator)
                .list_industry_templates(ListIndustryTemplatesRequest::default())
                .await
        ),
        Code::Ok
    );
    assert_eq!(
        code(
            stack
                .tenants(operator)
                .get_current_tenant(GetCurrentTenantRequest {})
                .await
        ),
        Code::PermissionDenied
    );
    assert_eq!(
        code(
            stack
                .identity(operator)
                .list_users(ListUsersRequest::default())
                .await
        ),
        Code::PermissionDenied
    );
    // And tenants do not manage tenants.
    assert_eq!(
        code(
            stack
                .tenants(admin)
                .list_tenants(ListTenantsRequest::default())
                .await
        ),
        Code::PermissionDenied
    );

    // No secret, a wrong one: UNAUTHENTICATED.
    assert_eq!(
        code(
            stack
                .identity(None)
                .list_users(ListUsersRequest::default())
                .await
        ),
        Code::Unauthenticated
    );
    assert_eq!(
        code(
            stack
                .identity(Some("kefu_sk_not-a-key"))
                .list_users(ListUsersRequest::default())
                .await
        ),
        Code::Unauthenticated
    );

    // A revoked key and an ended session stop working on the next call.
    stack
        .identity(admin)
        .revoke_api_key(RevokeApiKeyRequest { name: key_name })
        .await
        .expect("revoked");
    let revoked = stack
        .identity(reader)
        .list_users(ListUsersRequest::default())
        .await
        .expect_err("revoked key refused");
    assert_eq!(revoked.code(), Code::Unauthenticated);
    stack
        .identity(agent)
        .logout(LogoutRequest::default())
        .await
        .expect("logout");
    assert_eq!(
        code(
            stack
                .tenants(agent)
                .list_sla_policies(ListSlaPoliciesRequest::default())
                .await
        ),
        Code::Unauthenticated
    );

    // A suspended tenant's users are told why; resumed, they work again.
    stack
        .tenants(operator)
        .suspend_tenant(SuspendTenantRequest {
            name: acme.tenant.name.clone(),
            reason: "unpaid invoice".into(),
        })
        .await
        .expect("suspended");
    let suspended = stack
        .tenants(admin)
        .get_current_tenant(GetCurrentTenantRequest {})
        .await
        .expect_err("suspended tenant refused");
    assert_eq!(suspended.code(), Code::PermissionDenied);
    assert_eq!(reason(&suspended), "TENANT_SUSPENDED");
    stack
        .tenants(operator)
        .resume_tenant(ResumeTenantRequest {
            name: acme.tenant.name.clone(),
        })
        .await
        .expect("resumed");
    assert_eq!(
        code(
            stack
                .tenants(admin)
                .get_current_tenant(GetCurrentTenantRequest {})
                .await
        ),
        Code::Ok
    );
}

async fn a_flooding_tenant_does_not_slow_another(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| {
        config.limits.starter_per_second = 4.0;
        config.limits.burst_seconds = 2.0;
        config.limits.credential_share = 0.5;
    })
    .await
    else {
        return;
    };
    let acme = stack.onboard("acme", Industry::PropertyManagement).await;
    let bolt = stack.onboard("bolt", Industry::Ecommerce).await;
    let writes = |service| scope(service, ApiKeyAccess::Write);
    let (_, noisy) = key_with(&stack, &acme.admin_session, vec![writes("tenants")]).await;
    let (_, quiet) = key_with(&stack, &acme.admin_session, vec![writes("tenants")]).await;

    // A's noisy integration floods: its own bucket (4 calls of burst) runs
    // dry long before anyone else's.
    let mut limited = None;
    for _ in 0..40 {
        let answer = stack
            .tenants(Some(&noisy))
            .get_current_tenant(GetCurrentTenantRequest {})
            .await;
        if let Err(status) = answer {
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
            limited = Some(status);
            break;
        }
    }
    let limited = limited.expect("the flood is limited");
    assert_eq!(reason(&limited), "RATE_LIMITED");
    let delay = limited
        .get_error_details()
        .retry_info()
        .and_then(|info| info.retry_delay)
        .expect("the refusal says when to retry");
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(2),
        "{delay:?}"
    );

    // Meanwhile B is untouched, and so is A's other key.
    for _ in 0..3 {
        stack
            .tenants(Some(&bolt.admin_session))
            .get_current_tenant(GetCurrentTenantRequest {})
            .await
            .expect("B is not slowed by A's flood");
    }
    stack
        .tenants(Some(&quiet))
        .get_current_tenant(GetCurrentTenantRequest {})
        .await
        .expect("A's other key still has its own share");

    // Waiting as told is enough.
    eventually(
        "the noisy key may call again",
        Duration::from_secs(10),
        || async {
            stack
                .tenants(Some(&noisy))
                .get_current_tenant(GetCurrentTenantRequest {})
                .await
                .is_ok()
        },
    )
    .await;
}

async fn forged_expired_and_smuggled_credentials_are_refused(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let acme = stack.onboard("acme", Industry::PropertyManagement).await;
    let bolt = stack.onboard("bolt", Industry::Ecommerce).await;
    let acme_id: TenantId = acme
        .tenant
        .name
        .trim_start_matches("tenants/")
        .parse()
        .expect("tenant id");
    let admin_of_acme = Principal {
        kind: PrincipalKind::User,
        id: acme.admin_user.trim_start_matches("users/").to_owned(),
        roles: vec![Role::Admin.as_str_name().to_owned()],
        session: None,
        approval_level: 0,
    };
    let list_users = "kefu.v1.IdentityService/ListUsers";
    let ttl = chrono::Duration::seconds(60);

    // Straight at the tenants service, past the gateway.
    let service =
        tonic::transport::Channel::from_shared(format!("http://{}", stack.service_addr("tenants")))
            .expect("uri")
            .connect()
            .await
            .expect("service reachable");
    let direct = |credential: Option<String>, tenant_header: bool| {
        let service = service.clone();
        async move {
            raw_call(service, list_users, Vec::new(), |metadata| {
                if let Some(credential) = credential {
                    metadata.insert(CREDENTIAL_HEADER, credential.parse().expect("ascii"));
                }
                if tenant_header {
                    metadata.insert("x-kefu-tenant", acme_id.to_string().parse().expect("ascii"));
                }
            })
            .await
        }
    };
    let genuine = CredentialSigner::new(stack.internal_key.clone(), ttl);
    let forger = CredentialSigner::new(CredentialKey::generate(), ttl);
    let now = chrono::Utc::now();
    assert_eq!(
        code(direct(None, false).await),
        Code::Unauthenticated,
        "no credential"
    );
    assert_eq!(
        code(
            direct(
                Some(forger.mint(Some(acme_id), admin_of_acme.clone(), now)),
                false
            )
            .await
        ),
        Code::Unauthenticated,
        "signed with another key"
    );
    let old = now - chrono::Duration::minutes(5);
    assert_eq!(
        code(
            direct(
                Some(genuine.mint(Some(acme_id), admin_of_acme.clone(), old)),
                false
            )
            .await
        ),
        Code::Unauthenticated,
        "expired"
    );
    // A genuine credential for B, its claims rewritten to name A, the
    // signature kept.
    let bolt_id: TenantId = bolt
        .tenant
        .name
        .trim_start_matches("tenants/")
        .parse()
        .expect("tenant id");
    let of_bolt = genuine.mint(Some(bolt_id), admin_of_acme.clone(), now);
    let parts: Vec<&str> = of_bolt.split('.').collect();
    let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).expect("claims"))
        .expect("json")
        .replace(&bolt_id.to_string(), &acme_id.to_string());
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims),
        parts[2]
    );
    assert_eq!(
        code(direct(Some(tampered), false).await),
        Code::Unauthenticated,
        "tampered"
    );
    assert_eq!(
        code(
            direct(
                Some(genuine.mint(Some(acme_id), admin_of_acme.clone(), now)),
                true
            )
            .await
        ),
        Code::Unauthenticated,
        "a tenant header beside a valid credential"
    );
    assert_eq!(
        code(
            direct(
                Some(genuine.mint(Some(acme_id), admin_of_acme.clone(), now)),
                false
            )
            .await
        ),
        Code::Ok,
        "the genuine credential itself is accepted (so the refusals above mean something)"
    );

    // Through the gateway: B names A in a header, or brings its own
    // credential for A, or asks the tenants service to resolve A's secret.
    let bolt_session = format!("Bearer {}", bolt.admin_session);
    let through_gateway = |decorate: Box<dyn FnOnce(&mut tonic::metadata::MetadataMap) + Send>| {
        let channel = stack.channel.clone();
        let bearer = bolt_session.clone();
        async move {
            let mut request = Request::new(GetCurrentPrincipalRequest {});
            request
                .metadata_mut()
                .insert("authorization", bearer.parse().expect("ascii"));
            decorate(request.metadata_mut());
            IdentityServiceClient::new(channel)
                .get_current_principal(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let header = through_gateway(Box::new(move |metadata| {
        metadata.insert("x-kefu-tenant", acme_id.to_string().parse().expect("ascii"));
    }))
    .await
    .expect_err("a tenant header is refused at the gateway");
    assert_eq!(header.code(), Code::Unauthenticated);
    let smuggled = genuine.mint(Some(acme_id), admin_of_acme.clone(), now);
    let me = through_gateway(Box::new(move |metadata| {
        metadata.insert(CREDENTIAL_HEADER, smuggled.parse().expect("ascii"));
    }))
    .await
    .expect("the gateway replaces a smuggled credential with the caller's own");
    assert_eq!(me.tenant, bolt.tenant.name, "B stays B");
    let acme_session = acme.admin_session.clone();
    let me = through_gateway(Box::new(move |metadata| {
        metadata.insert(
            kefu_kit::auth::RESOLVE_BEARER_HEADER,
            acme_session.parse().expect("ascii"),
        );
    }))
    .await
    .expect("the gateway drops a caller's resolve header");
    assert_eq!(
        me.tenant, bolt.tenant.name,
        "B cannot have A's secret resolved"
    );
}

#[tokio::test]
async fn roles_scopes_and_the_operator_are_checked_on_sqlite() {
    roles_scopes_and_the_operator_are_checked(Backend::Sqlite).await;
}

#[tokio::test]
async fn roles_scopes_and_the_operator_are_checked_on_postgres() {
    roles_scopes_and_the_operator_are_checked(Backend::Postgres).await;
}

#[tokio::test]
async fn a_flooding_tenant_does_not_slow_another_on_sqlite() {
    a_flooding_tenant_does_not_slow_another(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_flooding_tenant_does_not_slow_another_on_postgres_and_redis() {
    a_flooding_tenant_does_not_slow_another(Backend::Postgres).await;
}

#[tokio::test]
async fn forged_expired_and_smuggled_credentials_are_refused_on_sqlite() {
    forged_expired_and_smuggled_credentials_are_refused(Backend::Sqlite).await;
}

#[tokio::test]
async fn forged_expired_and_smuggled_credentials_are_refused_on_postgres() {
    forged_expired_and_smuggled_credentials_are_refused(Backend::Postgres).await;
}
