//! The database's own guard, checked as the services' role on PostgreSQL:
//! every table of every service schema has row-level security enabled and
//! forced with a policy on `kefu.tenant_id`; the role owns nothing and
//! cannot bypass it; with no tenant set it reads zero rows of any table and
//! cannot write one. The tables are read from the catalog, so a table a
//! later migration adds is checked without anyone remembering to list it.

use kefu_kit::testing::TestDatabase;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    rows(db, &format!("SELECT count(*) AS n FROM {table}")).await[0]
        .try_get::<i64>("", "n")
        .expect("count")
}

/// Checks every table of every service schema in `database`, which must
/// hold some rows (after a suite ran through it).
pub async fn every_table_is_sealed_without_a_tenant(database: &TestDatabase) {
    let owner = database.owner_connection().await;
    let service = &database.db;
    let schemas = kefu_migrations::SERVICES
        .iter()
        .map(|schema| format!("'{schema}'"))
        .collect::<Vec<_>>()
        .join(", ");

    let role = &rows(
        &owner,
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'kefu_service'",
    )
    .await[0];
    assert!(!role.try_get::<bool>("", "rolsuper").expect("rolsuper"));
    assert!(
        !role
            .try_get::<bool>("", "rolbypassrls")
            .expect("rolbypassrls")
    );

    let tables = rows(
        &owner,
        &format!(
            "SELECT n.nspname AS schema, c.relname AS name, c.relrowsecurity AS enabled, \
                    c.relforcerowsecurity AS forced, pg_get_userbyid(c.relowner) AS owner, \
                    (SELECT count(*) FROM pg_policies p \
                      WHERE p.schemaname = n.nspname AND p.tablename = c.relname \
                        AND p.qual LIKE '%kefu.tenant_id%' \
                        AND p.with_check LIKE '%kefu.tenant_id%') AS policies \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r' AND n.nspname IN ({schemas}) \
               AND c.relname <> 'seaql_migrations' \
             ORDER BY 1, 2"
        ),
    )
    .await;
    assert!(tables.len() >= 15, "found only {} tables", tables.len());
    let mut with_rows = 0;
    for table in &tables {
        let schema: String = table.try_get("", "schema").expect("schema");
        let name: String = table.try_get("", "name").expect("name");
        let qualified = format!("\"{schema}\".\"{name}\"");
        assert!(
            table.try_get::<bool>("", "enabled").expect("enabled"),
            "{qualified}: RLS off"
        );
        assert!(
            table.try_get::<bool>("", "forced").expect("forced"),
            "{qualified}: RLS not forced"
        );
        assert_ne!(
            table.try_get::<String>("", "owner").expect("owner"),
            "kefu_service",
            "{qualified} is owned by the services' role"
        );
        assert!(
            table.try_get::<i64>("", "policies").expect("policies") >= 1,
            "{qualified}: no policy on kefu.tenant_id for USING and WITH CHECK"
        );

        assert_eq!(
            count(service, &qualified).await,
            0,
            "{qualified} shows rows to the services' role without a tenant"
        );
        if count(&owner, &qualified).await == 0 {
            continue;
        }
        with_rows += 1;
        let sample: String = rows(
            &owner,
            &format!("SELECT row_to_json(t)::text AS row FROM {qualified} t LIMIT 1"),
        )
        .await[0]
            .try_get("", "row")
            .expect("row");
        let copy = service
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!("INSERT INTO {qualified} SELECT * FROM json_populate_record(NULL::{qualified}, $1::json)"),
                [sample.into()],
            ))
            .await
            .expect_err("a write without a tenant is refused");
        assert!(
            copy.to_string().contains("row-level security"),
            "{qualified}: refused for another reason than row-level security: {copy}"
        );
        let update = service
            .execute_unprepared(&format!("UPDATE {qualified} SET tenant_id = tenant_id"))
            .await;
        if let Ok(result) = update {
            assert_eq!(
                result.rows_affected(),
                0,
                "{qualified}: updated without a tenant"
            );
        }
        let delete = service
            .execute_unprepared(&format!("DELETE FROM {qualified}"))
            .await
            .expect("a delete runs");
        assert_eq!(
            delete.rows_affected(),
            0,
            "{qualified}: deleted without a tenant"
        );
    }
    assert!(
        with_rows >= 5,
        "only {with_rows} tables held rows: the check proves little"
    );
    eprintln!(
        "row security: {} tables sealed, {with_rows} of them holding rows",
        tables.len()
    );
}
