//! sea-orm entities of the tenants service's tables (see the migration
//! `m20261123_000003_tenants`). `resource` columns hold the contract's
//! message, encoded.

/// `tenants`: one row per tenant (a platform table).
pub mod tenant {
    use sea_orm::entity::prelude::*;

    /// A tenant.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tenants")]
    pub struct Model {
        /// The tenant id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The unique slug.
        pub slug: String,
        /// `kefu.v1.TenantState`.
        pub state: i32,
        /// The create's idempotency key.
        pub request_id: Option<String>,
        /// The encoded `kefu.v1.Tenant`.
        pub resource: Vec<u8>,
        /// Bumped on every change; the etag.
        pub revision: i64,
        /// When created.
        pub create_time: DateTimeUtc,
        /// When a DELETING tenant's data is purged.
        pub purge_time: Option<DateTimeUtc>,
    }

    /// No relations are navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `credential_lookups`: which tenant a presented secret belongs to (a
/// platform table, keyed by the secret's digest).
pub mod credential_lookup {
    use sea_orm::entity::prelude::*;

    /// One issued secret.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "credential_lookups")]
    pub struct Model {
        /// SHA-256 of the secret, hex.
        #[sea_orm(primary_key, auto_increment = false)]
        pub digest: String,
        /// Its tenant.
        pub tenant_id: Uuid,
        /// `session`, `api_key` or `invitation`.
        pub kind: String,
        /// The session, key or user id.
        pub subject: Uuid,
    }

    /// No relations are navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `users`.
pub mod user {
    use sea_orm::entity::prelude::*;

    /// A user of a tenant.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        /// The tenant.
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        /// The user id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Normalised login e-mail, unique in the tenant.
        pub email: String,
        /// `kefu.v1.UserState`.
        pub state: i32,
        /// The department id, if any.
        pub department_id: Option<String>,
        /// argon2id PHC string, once a password is set.
        pub password_hash: Option<String>,
        /// Digest of the pending invitation token.
        pub invitation_digest: Option<String>,
        /// When the pending invitation expires.
        pub invitation_expire_time: Option<DateTimeUtc>,
        /// The encoded `kefu.v1.User`.
        pub resource: Vec<u8>,
        /// Bumped on every change; the etag.
        pub revision: i64,
        /// When invited.
        pub create_time: DateTimeUtc,
    }

    /// No relations are navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `login_failures`: recent failed logins per e-mail, for the lock-out.
pub mod login_failure {
    use sea_orm::entity::prelude::*;

    /// One failed login.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_failures")]
    pub struct Model {
        /// The tenant.
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        /// The e-mail tried.
        #[sea_orm(primary_key, auto_increment = false)]
        pub email: String,
        /// When.
        #[sea_orm(primary_key, auto_increment = false)]
        pub failed_at: DateTimeUtc,
    }

    /// No relations are navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `sessions`: portal logins.
pub mod session {
    use sea_orm::entity::prelude::*;

    /// One session.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        /// The tenant.
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        /// The session id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Whose.
        pub user_id: Uuid,
        /// Digest of the session token.
        pub digest: String,
        /// The login.
        pub create_time: DateTimeUtc,
        /// Last authenticated call.
        pub last_used_time: DateTimeUtc,
        /// The latest end, whatever the activity.
        pub expire_time: DateTimeUtc,
        /// When revoked (logout, password change, deactivation).
        pub revoke_time: Option<DateTimeUtc>,
        /// The client's user agent.
        pub user_agent: String,
        /// The client's address as the gateway saw it.
        pub client_address: String,
    }

    /// No relations are navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `api_keys`.
pub mod api_key {
    use sea_orm::entity::prelude::*;

    /// One partner key.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub struct Model {
        /// The tenant.
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        /// The key id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Digest of the secret.
        pub digest: String,
        /// `kefu.v1.ApiKeyState` as stored (REVOKED or ACTIVE; EXPIRED is
        /// computed on read).
        pub state: i32,
        /// The create's idempotency key.
        pub request_id: Option<String>,
        /// The encoded `kefu.v1.ApiKey`.
        pub resource: Vec<u8>,
        /// When created.
        pub create_time: DateTimeUtc,
    }

    /// No relations are navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
