//! Tables written as SQL once for both backends: `{uuid}`, `{time}` and
//! `{bytes}` stand for each backend's column types, `{binary}` for the
//! byte-wise collation that prefix ranges (`key >= 'zh' AND key < 'zh\u{10ffff}'`)
//! need to be exact.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

use crate::rls;

/// Creates `tables` (name, SQL) and `indexes`, protects every table in
/// `tenant_tables` with row-level security, and grants the service role.
pub async fn create(
    manager: &SchemaManager<'_>,
    tables: &[(&str, &str)],
    indexes: &[&str],
    tenant_tables: &[&str],
) -> Result<(), DbErr> {
    let (uuid, time, bytes, binary) = match manager.get_database_backend() {
        DbBackend::Postgres => ("uuid", "timestamptz", "bytea", "COLLATE \"C\""),
        _ => ("blob", "text", "blob", "COLLATE BINARY"),
    };
    let connection = manager.get_connection();
    for (_, sql) in tables {
        let sql = sql
            .replace("{uuid}", uuid)
            .replace("{time}", time)
            .replace("{bytes}", bytes)
            .replace("{binary}", binary);
        connection.execute_unprepared(&sql).await?;
    }
    for sql in indexes {
        connection.execute_unprepared(sql).await?;
    }
    for table in tenant_tables {
        rls::tenant_table(manager, table).await?;
    }
    rls::grant_service_role(manager).await
}

/// Drops `tables` in reverse order.
pub async fn drop(manager: &SchemaManager<'_>, tables: &[(&str, &str)]) -> Result<(), DbErr> {
    for (table, _) in tables.iter().rev() {
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
            .await?;
    }
    Ok(())
}

/// Panics when a table of `tables` lacks `tenant_id` or row-level security.
#[cfg(test)]
pub fn assert_protected(tables: &[(&str, &str)], tenant_tables: &[&str]) {
    for (table, sql) in tables {
        assert!(
            tenant_tables.contains(table),
            "{table} is not protected by row-level security"
        );
        assert!(
            sql.contains("tenant_id {uuid} NOT NULL"),
            "{table} lacks tenant_id"
        );
    }
}
