//! Team memberships and the references that keep departments in use
//! (tenant tables). Teams, departments and skills themselves are documents
//! (`documents`).

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    sea_query::{Alias, Expr, ExprTrait, OnConflict, Order, Query},
};
use uuid::Uuid;

use super::entities::user;

fn members_table() -> Alias {
    Alias::new("team_members")
}

/// Adds `user` to `team`; false when already a member.
pub async fn add_member<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    team: &str,
    user: Uuid,
) -> Result<bool, DbErr> {
    // ON CONFLICT DO NOTHING: two concurrent adds of the same member both
    // succeed, and neither aborts its transaction (PostgreSQL would).
    let statement = Query::insert()
        .into_table(members_table())
        .columns([
            Alias::new("tenant_id"),
            Alias::new("team_id"),
            Alias::new("user_id"),
        ])
        .values([tenant.into(), team.into(), user.into()])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(
            OnConflict::columns([
                Alias::new("tenant_id"),
                Alias::new("team_id"),
                Alias::new("user_id"),
            ])
            .do_nothing()
            .to_owned(),
        )
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

/// Removes `user` from `team`; false when not a member.
pub async fn remove_member<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    team: &str,
    user: Uuid,
) -> Result<bool, DbErr> {
    let statement = Query::delete()
        .from_table(members_table())
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .and_where(Expr::col(Alias::new("team_id")).eq(team))
        .and_where(Expr::col(Alias::new("user_id")).eq(user))
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

/// Removes every member of `team`.
pub async fn remove_all_members<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    team: &str,
) -> Result<(), DbErr> {
    let statement = Query::delete()
        .from_table(members_table())
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .and_where(Expr::col(Alias::new("team_id")).eq(team))
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// Every membership of `tenant` as `(team id, user id)`, by team then user.
pub async fn memberships<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    team: Option<&str>,
) -> Result<Vec<(String, Uuid)>, DbErr> {
    let mut statement = Query::select();
    statement
        .columns([Alias::new("team_id"), Alias::new("user_id")])
        .from(members_table())
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .order_by(Alias::new("team_id"), Order::Asc)
        .order_by(Alias::new("user_id"), Order::Asc);
    if let Some(team) = team {
        statement.and_where(Expr::col(Alias::new("team_id")).eq(team));
    }
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", "team_id")?, row.try_get("", "user_id")?)))
        .collect()
}

/// How many users of `tenant` belong to `department`.
pub async fn users_in_department<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    department: &str,
) -> Result<u64, DbErr> {
    user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::DepartmentId.eq(department))
        .count(db)
        .await
}

/// How many teams of `tenant` belong to `department`.
pub async fn teams_in_department<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    department: &str,
) -> Result<i64, DbErr> {
    let statement = Query::select()
        .expr_as(Expr::col(Alias::new("id")).count(), Alias::new("n"))
        .from(Alias::new("teams"))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .and_where(Expr::col(Alias::new("department_id")).eq(department))
        .to_owned();
    match db.query_one(&statement).await? {
        Some(row) => row.try_get("", "n"),
        None => Ok(0),
    }
}
