//! A deleted tenant leaves nothing behind in any service: each service's
//! purge finds its tables with a `tenant_id` itself, deletes the tenant's
//! rows in an order its foreign keys allow, keeps other tenants' rows, and
//! stays a no-op when TenantDeleted is delivered again. Through the whole
//! stack, deleting a tenant reaches every service's purge over the bus.

use std::time::Duration;

use kefu_kit::{
    context::TenantId,
    db::begin_for_tenant,
    purge::{purge_tenant, tenant_tables},
    testing::{Backend, SERVICE_NAMES, TestDatabase},
};
use kefu_proto::v1::{DeleteTenantRequest, Industry};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::{eventually::eventually, stack::Stack};

async fn count(db: &DatabaseConnection, sql: &str, tenant: TenantId) -> i64 {
    let backend = db.get_database_backend();
    db.query_one_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [tenant.0.into()],
    ))
    .await
    .expect("count")
    .expect("row")
    .try_get_by_index::<i64>(0)
    .expect("n")
}

async fn purge_follows_foreign_keys_and_spares_other_tenants(backend: Backend) {
    let Some(database) = TestDatabase::new(backend, "customers").await else {
        return;
    };
    let owner = database.owner_connection().await;
    let (uuid, placeholder) = match backend {
        Backend::Postgres => ("uuid", "$1"),
        Backend::Sqlite => ("blob", "?"),
    };
    // A parent and a child that references it: the child must go first.
    for sql in [
        format!(
            "CREATE TABLE purge_parents (tenant_id {uuid} NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tenant_id, id))"
        ),
        format!(
            "CREATE TABLE purge_children (tenant_id {uuid} NOT NULL, id TEXT NOT NULL, parent TEXT NOT NULL, \
             PRIMARY KEY (tenant_id, id), FOREIGN KEY (tenant_id, parent) REFERENCES purge_parents (tenant_id, id))"
        ),
    ] {
        owner.execute_unprepared(&sql).await.expect("test tables");
    }
    let (a, b) = (TenantId::new(), TenantId::new());
    for tenant in [a, b] {
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        for (table, columns) in [
            ("purge_parents", "(tenant_id, id) VALUES (PH, 'p')"),
            (
                "purge_children",
                "(tenant_id, id, parent) VALUES (PH, 'c', 'p')",
            ),
        ] {
            txn.execute_raw(Statement::from_sql_and_values(
                txn.get_database_backend(),
                format!("INSERT INTO {table} {}", columns.replace("PH", placeholder)),
                [tenant.0.into()],
            ))
            .await
            .expect("insert");
        }
        txn.commit().await.expect("commit");
    }

    let txn = begin_for_tenant(&database.db, a).await.expect("begin");
    let tables = tenant_tables(&txn).await.expect("tables");
    for expected in [
        "purge_children",
        "purge_parents",
        "processed_events",
        "outbox",
    ] {
        assert!(
            tables.iter().any(|table| table == expected),
            "{expected} found in {tables:?}"
        );
    }
    // Listed parent first on purpose: the purge must sort it out.
    let mut ordered = tables.clone();
    ordered.sort_by_key(|table| table != "purge_parents");
    let removed = purge_tenant(&txn, &ordered, a, &uuid::Uuid::now_v7().to_string())
        .await
        .expect("purge");
    txn.commit().await.expect("commit");
    assert_eq!(removed, 2);
    for table in ["purge_parents", "purge_children"] {
        let sql = format!("SELECT count(*) FROM {table} WHERE tenant_id = {placeholder}");
        assert_eq!(count(&owner, &sql, a).await, 0, "A's {table} rows are gone");
        assert_eq!(count(&owner, &sql, b).await, 1, "B's {table} row stays");
    }
}

#[tokio::test]
async fn purge_follows_foreign_keys_and_spares_other_tenants_on_sqlite() {
    purge_follows_foreign_keys_and_spares_other_tenants(Backend::Sqlite).await;
}

#[tokio::test]
async fn purge_follows_foreign_keys_and_spares_other_tenants_on_postgres() {
    purge_follows_foreign_keys_and_spares_other_tenants(Backend::Postgres).await;
}

/// Deleting a tenant through the gateway reaches every other service's
/// purge, which records it once.
async fn deleting_a_tenant_reaches_every_service(backend: Backend) {
    let Some(stack) = Stack::start(backend, |_| {}).await else {
        return;
    };
    let acme = stack.onboard("acme", Industry::Hospitality).await;
    stack
        .tenants(Some(&stack.operator_token))
        .delete_tenant(DeleteTenantRequest {
            name: acme.tenant.name.clone(),
            skip_export: true,
            grace_period: Some(prost_types::Duration::default()),
            ..DeleteTenantRequest::default()
        })
        .await
        .expect("the operator deletes the tenant");
    let tenant: TenantId = acme
        .tenant
        .name
        .trim_start_matches("tenants/")
        .parse()
        .expect("id");
    // The tenants service keeps of A's events only TenantDeleted itself: the
    // others carried its people's names and e-mails.
    let tenants = stack.service_connection("tenants").await;
    let txn = begin_for_tenant(&tenants, tenant).await.expect("begin");
    let left = txn
        .query_all_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            match backend {
                Backend::Postgres => "SELECT event_type FROM outbox WHERE tenant_id = $1",
                Backend::Sqlite => "SELECT event_type FROM outbox WHERE tenant_id = ?",
            },
            [tenant.0.into()],
        ))
        .await
        .expect("outbox")
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("type"))
        .collect::<Vec<_>>();
    txn.commit().await.expect("commit");
    assert_eq!(left, ["kefu.v1.TenantDeleted"]);
    for service in SERVICE_NAMES
        .iter()
        .filter(|service| **service != "tenants")
    {
        let connection = stack.service_connection(service).await;
        let group = format!("{service}.tenant-purge");
        let sql = match backend {
            Backend::Postgres => {
                "SELECT count(*) FROM processed_events WHERE tenant_id = $1 AND consumer = $2"
            }
            Backend::Sqlite => {
                "SELECT count(*) FROM processed_events WHERE tenant_id = ? AND consumer = ?"
            }
        };
        eventually(
            &format!("{service} purged the tenant"),
            Duration::from_secs(20),
            || {
                let connection = connection.clone();
                let group = group.clone();
                async move {
                    let txn = begin_for_tenant(&connection, tenant).await.expect("begin");
                    let row = txn
                        .query_one_raw(Statement::from_sql_and_values(
                            txn.get_database_backend(),
                            sql,
                            [tenant.0.into(), group.into()],
                        ))
                        .await
                        .expect("query")
                        .expect("row");
                    row.try_get_by_index::<i64>(0).expect("n") == 1
                }
            },
        )
        .await;
    }
}

#[tokio::test]
async fn deleting_a_tenant_reaches_every_service_on_sqlite() {
    deleting_a_tenant_reaches_every_service(Backend::Sqlite).await;
}

#[tokio::test]
async fn deleting_a_tenant_reaches_every_service_on_postgres_and_redis() {
    deleting_a_tenant_reaches_every_service(Backend::Postgres).await;
}
