//! The tenants service over real gRPC on both backends: tenants created
//! by the operator from their template, invitations, login, the resolution
//! of secrets the gateway asks for, suspension, bad input, and tenant B
//! probing tenant A's users and keys (NOT_FOUND, nothing changed). On
//! PostgreSQL also the database itself: the services' role sees no tenant
//! row and writes none without a tenant set.

use std::sync::{Arc, Mutex};

use kefu_kit::{
    auth::{InternalAuth, OutgoingCredential, RESOLVE_BEARER_HEADER},
    clock::{SharedClock, SystemClock},
    context::{Principal, PrincipalKind, TenantId},
    credential::{CredentialKey, CredentialSigner, CredentialVerifier},
    outbox::OutboxSignal,
    service::{KefuService, ServiceContext},
    testing::{Backend, TestDatabase},
};
use kefu_proto::v1::{
    AcceptInvitationRequest, ApiKey, ApiKeyAccess, ApiKeyScope, ApiKeyState, CreateApiKeyRequest,
    CreateTenantRequest, GetApiKeyRequest, GetCurrentPrincipalRequest, GetUserRequest, Industry,
    ListTenantsRequest, ListUsersRequest, LoginRequest, LoginResponse, RevokeApiKeyRequest, Role,
    SuspendTenantRequest, Tenant, User, identity_service_client::IdentityServiceClient,
    tenant_service_client::TenantServiceClient,
};
use kefu_tenants::mail::{Mail, Mailer};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, service::interceptor::InterceptedService, transport::Channel};

/// Keeps what the service mailed, for the invitation tokens.
#[derive(Default, Clone)]
struct Outbox(Arc<Mutex<Vec<Mail>>>);

impl Mailer for Outbox {
    fn send(&self, mail: Mail) {
        self.0.lock().expect("lock").push(mail);
    }
}

/// The password the tests' users accept their invitations with.
pub(super) const PASSWORD: &str = "correct horse battery";

pub(super) struct World {
    pub(super) database: TestDatabase,
    channel: Channel,
    signer: Arc<CredentialSigner>,
    clock: SharedClock,
    mail: Outbox,
    _shutdown: tokio_util::sync::DropGuard,
}

pub(super) type Intercepted = InterceptedService<Channel, OutgoingCredential>;

impl World {
    pub(super) async fn start(backend: Backend) -> Option<Self> {
        let database = TestDatabase::new(backend, "tenants").await?;
        let key = CredentialKey::generate();
        let clock: SharedClock = Arc::new(SystemClock);
        let signer = Arc::new(CredentialSigner::new(
            key.clone(),
            chrono::Duration::seconds(60),
        ));
        let auth = InternalAuth::new(CredentialVerifier::new(vec![key]), clock.clone());
        let mail = Outbox::default();
        let context = ServiceContext {
            db: database.db.clone(),
            outbox: OutboxSignal::default(),
            clock: clock.clone(),
        };
        let service = kefu_tenants::TenantsService::new(Arc::new(mail.clone()));
        let mut routes = tonic::service::RoutesBuilder::default();
        service.add_routes(&mut routes, auth, &context);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let shutdown = CancellationToken::new();
        kefu_kit::server::serve(listener, routes.routes(), shutdown.clone()).expect("serve");
        let channel = Channel::from_shared(format!("http://{address}"))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        Some(Self {
            database,
            channel,
            signer,
            clock,
            mail,
            _shutdown: shutdown.drop_guard(),
        })
    }

    fn credential(&self, tenant: Option<TenantId>, principal: Principal) -> OutgoingCredential {
        OutgoingCredential::new(self.signer.clone(), self.clock.clone(), tenant, principal)
    }

    pub(super) fn tenants(
        &self,
        tenant: Option<TenantId>,
        principal: Principal,
    ) -> TenantServiceClient<Intercepted> {
        TenantServiceClient::with_interceptor(
            self.channel.clone(),
            self.credential(tenant, principal),
        )
    }

    pub(super) fn identity(
        &self,
        tenant: Option<TenantId>,
        principal: Principal,
    ) -> IdentityServiceClient<Intercepted> {
        IdentityServiceClient::with_interceptor(
            self.channel.clone(),
            self.credential(tenant, principal),
        )
    }

    pub(super) fn operator(&self) -> TenantServiceClient<Intercepted> {
        self.tenants(None, Principal::platform_operator())
    }

    pub(super) async fn create(&self, slug: &str, admin: &str) -> Result<Tenant, tonic::Status> {
        self.operator()
            .create_tenant(CreateTenantRequest {
                tenant: Some(Tenant {
                    slug: slug.into(),
                    display_name: format!("{slug} 物业"),
                    industry: Industry::PropertyManagement as i32,
                    ..Tenant::default()
                }),
                initial_admin_email: admin.into(),
                initial_admin_display_name: "管理员".into(),
                ..CreateTenantRequest::default()
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// A tenant created with `admin@{slug}.example` invited as its first
    /// administrator.
    pub(super) async fn tenant(&self, slug: &str) -> Tenant {
        self.create(slug, &format!("admin@{slug}.example"))
            .await
            .expect("create tenant")
    }

    /// The user invited as `email` accepts with `PASSWORD`.
    pub(super) async fn accept(&self, email: &str) -> User {
        self.identity(None, Principal::anonymous())
            .accept_invitation(AcceptInvitationRequest {
                invitation_token: self.invitation_for(email),
                password: PASSWORD.into(),
            })
            .await
            .expect("accept")
            .into_inner()
    }

    pub(super) async fn login(&self, slug: &str, email: &str, password: &str) -> LoginResponse {
        self.identity(None, Principal::anonymous())
            .login(LoginRequest {
                tenant_slug: slug.into(),
                email: email.into(),
                password: password.into(),
            })
            .await
            .expect("login")
            .into_inner()
    }

    /// The first administrator of the tenant `slug` (see `tenant`) accepts
    /// the invitation and logs in; returns the user's name and the session
    /// token.
    pub(super) async fn admin_login(&self, slug: &str) -> (String, String) {
        let email = format!("admin@{slug}.example");
        let user = self.accept(&email).await;
        let login = self.login(slug, &email, PASSWORD).await;
        (user.name, login.session_token)
    }

    pub(super) fn invitation_for(&self, email: &str) -> String {
        self.mail
            .0
            .lock()
            .expect("lock")
            .iter()
            .rev()
            .find(|mail| mail.to == email)
            .and_then(|mail| mail.data.get("invitation_token").cloned())
            .expect("invitation mailed")
    }

    /// Resolves `bearer` as the gateway does.
    pub(super) async fn resolve(
        &self,
        bearer: &str,
    ) -> Result<kefu_proto::v1::CurrentPrincipal, tonic::Status> {
        let mut request = Request::new(GetCurrentPrincipalRequest {});
        request
            .metadata_mut()
            .insert(RESOLVE_BEARER_HEADER, bearer.parse().expect("ascii"));
        self.identity(None, Principal::system())
            .get_current_principal(request)
            .await
            .map(tonic::Response::into_inner)
    }
}

pub(super) fn tenant_id(tenant: &Tenant) -> TenantId {
    tenant
        .name
        .trim_start_matches("tenants/")
        .parse()
        .expect("tenant id")
}

/// The user `user_name` holding `role`, outside any session.
pub(super) fn user(user_name: &str, role: Role) -> Principal {
    Principal {
        kind: PrincipalKind::User,
        id: user_name.trim_start_matches("users/").to_owned(),
        roles: vec![role.as_str_name().to_owned()],
        session: None,
        approval_level: 0,
    }
}

pub(super) fn admin(user_name: &str) -> Principal {
    user(user_name, Role::Admin)
}

/// A new API key (the gateway has checked its scopes).
pub(super) fn key_principal() -> Principal {
    Principal {
        kind: PrincipalKind::ApiKey,
        id: uuid::Uuid::now_v7().to_string(),
        roles: vec![],
        session: None,
        approval_level: 0,
    }
}

pub(super) fn field_of(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .and_then(|bad| bad.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}

async fn tenants_are_isolated_and_secrets_resolve(backend: Backend) {
    let Some(world) = World::start(backend).await else {
        return;
    };
    let a = world
        .create("acme", "admin@acme.example")
        .await
        .expect("create A");
    let b = world
        .create("bravo", "admin@bravo.example")
        .await
        .expect("create B");
    assert_eq!(a.template, "industryTemplates/property-management");

    // Bad input names the field and creates nothing.
    let bad = world
        .create("Not A Slug", "x@y.example")
        .await
        .expect_err("bad slug");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(field_of(&bad), "tenant.slug");
    let taken = world
        .create("acme", "x@y.example")
        .await
        .expect_err("taken slug");
    assert_eq!(taken.code(), Code::AlreadyExists);
    let listed = world
        .operator()
        .list_tenants(ListTenantsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.total_size, 2);

    // A's admin accepts the invitation and logs in.
    let token = world.invitation_for("admin@acme.example");
    let anonymous = world.identity(None, Principal::anonymous());
    let weak = anonymous
        .clone()
        .accept_invitation(AcceptInvitationRequest {
            invitation_token: token.clone(),
            password: "short".into(),
        })
        .await
        .expect_err("weak password");
    assert_eq!(weak.code(), Code::InvalidArgument);
    assert_eq!(field_of(&weak), "password");
    let a_admin = world.accept("admin@acme.example").await;
    let reused = anonymous
        .clone()
        .accept_invitation(AcceptInvitationRequest {
            invitation_token: token,
            password: PASSWORD.into(),
        })
        .await
        .expect_err("token used");
    assert_eq!(reused.code(), Code::Unauthenticated);
    let wrong = anonymous
        .clone()
        .login(LoginRequest {
            tenant_slug: "acme".into(),
            email: "admin@acme.example".into(),
            password: "wrong horse battery".into(),
        })
        .await
        .expect_err("wrong password");
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let login = world.login("acme", "ADMIN@acme.example", PASSWORD).await;
    let resolved = world
        .resolve(&login.session_token)
        .await
        .expect("session resolves");
    assert_eq!(resolved.tenant, a.name);
    assert_eq!(resolved.actor.expect("actor").name, a_admin.name);
    assert_eq!(resolved.roles, vec![Role::Admin as i32]);

    // A's admin creates a key; it resolves to A with its scopes.
    let a_identity = world.identity(Some(tenant_id(&a)), admin(&a_admin.name));
    let created = a_identity
        .clone()
        .create_api_key(CreateApiKeyRequest {
            api_key: Some(ApiKey {
                display_name: "ERP".into(),
                scopes: vec![ApiKeyScope {
                    service: "tickets".into(),
                    access: ApiKeyAccess::Write as i32,
                }],
                ..ApiKey::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("create key")
        .into_inner();
    let key = created.api_key.expect("key");
    let by_key = world.resolve(&created.secret).await.expect("key resolves");
    assert_eq!(by_key.tenant, a.name);
    assert_eq!(by_key.scopes.len(), 1);
    assert_eq!(
        world
            .resolve("kefu_ak_0000000000000000000000000000000000000000")
            .await
            .expect_err("unknown key")
            .code(),
        Code::Unauthenticated
    );

    // Tenant B, even as an admin, finds nothing of A's and changes nothing.
    let b_admin_name = world
        .identity(Some(tenant_id(&b)), key_principal())
        .list_users(ListUsersRequest::default())
        .await
        .expect("B lists users")
        .into_inner();
    assert_eq!(b_admin_name.users.len(), 1, "B sees only its own admin");
    assert_ne!(b_admin_name.users[0].name, a_admin.name);
    let b_identity = world.identity(Some(tenant_id(&b)), admin(&b_admin_name.users[0].name));
    let probes = [
        b_identity
            .clone()
            .get_user(GetUserRequest {
                name: a_admin.name.clone(),
            })
            .await
            .map(|_| ()),
        b_identity
            .clone()
            .get_api_key(GetApiKeyRequest {
                name: key.name.clone(),
            })
            .await
            .map(|_| ()),
        b_identity
            .clone()
            .revoke_api_key(RevokeApiKeyRequest {
                name: key.name.clone(),
            })
            .await
            .map(|_| ()),
    ];
    for probe in probes {
        assert_eq!(
            probe.expect_err("another tenant's resource").code(),
            Code::NotFound
        );
    }
    let still = a_identity
        .clone()
        .get_api_key(GetApiKeyRequest {
            name: key.name.clone(),
        })
        .await
        .expect("A reads its key")
        .into_inner();
    assert_eq!(
        still.state,
        ApiKeyState::Active as i32,
        "B's revoke changed nothing"
    );

    // Suspension refuses A's key with a clear reason, and leaves B alone.
    world
        .operator()
        .suspend_tenant(SuspendTenantRequest {
            name: a.name.clone(),
            reason: "unpaid".into(),
        })
        .await
        .expect("suspend");
    let refused = world.resolve(&created.secret).await.expect_err("suspended");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(refused.message().contains("unpaid"));

    // The operator manages tenants and nothing inside them.
    let inside = world
        .identity(None, Principal::platform_operator())
        .list_users(ListUsersRequest::default())
        .await
        .expect_err("operator inside a tenant");
    assert_eq!(inside.code(), Code::PermissionDenied);

    if backend == Backend::Postgres {
        rows_are_invisible_without_a_tenant(&world.database, tenant_id(&a)).await;
    }
}

/// The tables the tenants service keeps per tenant.
const TENANT_TABLES: &[&str] = &[
    "departments",
    "users",
    "login_failures",
    "sessions",
    "api_keys",
    "teams",
    "team_members",
    "skills",
    "sla_policies",
    "approval_matrices",
    "idempotency_keys",
];

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect("count")
        .expect("row")
        .try_get_by_index::<i64>(0)
        .expect("n")
}

async fn rows_are_invisible_without_a_tenant(database: &TestDatabase, tenant: TenantId) {
    let service = &database.db;
    let owner = database.owner_connection().await;
    assert!(
        count(&owner, "SELECT count(*) FROM users").await >= 2,
        "the owner sees both admins"
    );
    for table in TENANT_TABLES {
        assert_eq!(
            count(service, &format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table} is readable without a tenant"
        );
    }
    assert_eq!(count(service, "SELECT count(*) FROM tenants").await, 0);
    let write = service
        .execute_unprepared(&format!(
            "INSERT INTO skills (tenant_id, id, resource, create_time) VALUES ('{tenant}', 'x', '\\x00', now())"
        ))
        .await;
    assert!(write.is_err(), "a write without a tenant is refused");
    // Set to A, the service sees only A's rows.
    let txn = kefu_kit::db::begin_for_tenant(service, tenant)
        .await
        .expect("begin");
    assert_eq!(count_in(&txn, "SELECT count(*) FROM users").await, 1);
    let other = TenantId::new();
    let cross = txn
        .execute_unprepared(&format!(
            "INSERT INTO skills (tenant_id, id, resource, create_time) VALUES ('{other}', 'x', '\\x00', now())"
        ))
        .await;
    assert!(cross.is_err(), "a row for another tenant is refused");
}

async fn count_in(txn: &sea_orm::DatabaseTransaction, sql: &str) -> i64 {
    txn.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect("count")
        .expect("row")
        .try_get_by_index::<i64>(0)
        .expect("n")
}

#[tokio::test]
async fn sqlite_tenants_are_isolated_and_secrets_resolve() {
    tenants_are_isolated_and_secrets_resolve(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_tenants_are_isolated_and_secrets_resolve() {
    tenants_are_isolated_and_secrets_resolve(Backend::Postgres).await;
}
