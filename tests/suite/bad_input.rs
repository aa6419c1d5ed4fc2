//! Bad input through the gateway, as the issue lists it: an invalid slug,
//! an unknown industry, a duplicate slug or e-mail, a weak password, an
//! unknown role, an over-long field, an invalid time zone. Each answers
//! INVALID_ARGUMENT naming the field (or ALREADY_EXISTS), and nothing is
//! half-created: the tenant and user lists are as before, and a refused
//! invitation acceptance leaves the invitation usable.

use kefu_kit::testing::Backend;
use kefu_proto::v1::{
    AcceptInvitationRequest, CreateTenantRequest, Industry, InviteUserRequest, ListTenantsRequest,
    ListUsersRequest, Role, Tenant, User,
};
use tonic::Code;
use tonic_types::StatusExt;

use crate::stack::{PASSWORD, Stack};

fn field(status: &tonic::Status) -> Option<String> {
    status.get_error_details().bad_request().and_then(|bad| {
        bad.field_violations
            .first()
            .map(|violation| violation.field.clone())
    })
}

fn tenant(slug: &str, industry: i32, time_zone: &str, display_name: String) -> CreateTenantRequest {
    CreateTenantRequest {
        tenant: Some(Tenant {
            slug: slug.into(),
            display_name,
            industry,
            time_zone: time_zone.into(),
            ..Tenant::default()
        }),
        initial_admin_email: format!("admin@{slug}.example"),
        initial_admin_display_name: "管理员".into(),
        ..CreateTenantRequest::default()
    }
}

fn invitation(email: &str, roles: Vec<i32>, display_name: String) -> InviteUserRequest {
    InviteUserRequest {
        user: Some(User {
            email: email.into(),
            display_name,
            roles,
            ..User::default()
        }),
        ..InviteUserRequest::default()
    }
}

async fn bad_input_names_the_field_and_creates_nothing(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let acme = stack.onboard("acme", Industry::HealthcareConsulting).await;
    let mut operator = stack.tenants(Some(&stack.operator_token));
    let generic = Industry::Generic as i32;
    let long = "长".repeat(201);
    let cases: Vec<(&str, CreateTenantRequest, Code, Option<&str>)> = vec![
        (
            "invalid slug",
            tenant("Bad Slug", generic, "", "x".into()),
            Code::InvalidArgument,
            Some("tenant.slug"),
        ),
        (
            "unknown industry",
            tenant("fresh-one", 99, "", "x".into()),
            Code::InvalidArgument,
            Some("tenant.industry"),
        ),
        (
            "duplicate slug",
            tenant(&acme.tenant.slug, generic, "", "x".into()),
            Code::AlreadyExists,
            None,
        ),
        (
            "invalid time zone",
            tenant("fresh-two", generic, "Mars/Olympus", "x".into()),
            Code::InvalidArgument,
            Some("tenant.time_zone"),
        ),
        (
            "over-long name",
            tenant("fresh-three", generic, "", long.clone()),
            Code::InvalidArgument,
            Some("tenant.display_name"),
        ),
    ];
    for (case, request, code, named) in cases {
        let refused = operator.create_tenant(request).await.expect_err(case);
        assert_eq!(refused.code(), code, "{case}: {refused:?}");
        if let Some(named) = named {
            assert_eq!(
                field(&refused).as_deref(),
                Some(named),
                "{case}: {refused:?}"
            );
        }
    }
    let tenants = operator
        .list_tenants(ListTenantsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(tenants.tenants.len(), 1, "no tenant half-created");

    let mut identity = stack.identity(Some(&acme.admin_session));
    let agent = vec![Role::Agent as i32];
    let cases: Vec<(&str, InviteUserRequest, Code, Option<&str>)> = vec![
        (
            "duplicate e-mail",
            invitation(&acme.admin_email.to_uppercase(), agent.clone(), "x".into()),
            Code::AlreadyExists,
            None,
        ),
        (
            "unknown role",
            invitation("new@acme.example", vec![42], "x".into()),
            Code::InvalidArgument,
            Some("user.roles"),
        ),
        (
            "no role",
            invitation("new@acme.example", Vec::new(), "x".into()),
            Code::InvalidArgument,
            Some("user.roles"),
        ),
        (
            "over-long name",
            invitation("new@acme.example", agent.clone(), long),
            Code::InvalidArgument,
            Some("user.display_name"),
        ),
        (
            "bad e-mail",
            invitation("not-an-address", agent.clone(), "x".into()),
            Code::InvalidArgument,
            Some("user.email"),
        ),
    ];
    for (case, request, code, named) in cases {
        let refused = identity.invite_user(request).await.expect_err(case);
        assert_eq!(refused.code(), code, "{case}: {refused:?}");
        if let Some(named) = named {
            assert_eq!(
                field(&refused).as_deref(),
                Some(named),
                "{case}: {refused:?}"
            );
        }
    }
    let users = identity
        .list_users(ListUsersRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(users.total_size, 1, "no user half-created");

    // A weak password is refused and the invitation stays good.
    identity
        .invite_user(invitation("new@acme.example", agent, "新同事".into()))
        .await
        .expect("invited");
    let token = stack.invitation_for("new@acme.example");
    let weak = stack
        .identity(None)
        .accept_invitation(AcceptInvitationRequest {
            invitation_token: token.clone(),
            password: "short".into(),
        })
        .await
        .expect_err("weak password");
    assert_eq!(weak.code(), Code::InvalidArgument);
    assert_eq!(field(&weak).as_deref(), Some("password"));
    stack
        .identity(None)
        .accept_invitation(AcceptInvitationRequest {
            invitation_token: token,
            password: PASSWORD.into(),
        })
        .await
        .expect("the invitation still works with a good password");
}

#[tokio::test]
async fn bad_input_names_the_field_and_creates_nothing_on_sqlite() {
    bad_input_names_the_field_and_creates_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_creates_nothing_on_postgres() {
    bad_input_names_the_field_and_creates_nothing(Backend::Postgres).await;
}
