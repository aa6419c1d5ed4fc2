//! The seats of a plan, through the gateway: a STARTER tenant has 20 users
//! (invitations included); the 21st invitation is refused with
//! RESOURCE_EXHAUSTED and reason USER_QUOTA_EXCEEDED, nothing is created,
//! and deactivating someone frees a seat.

use kefu_kit::testing::Backend;
use kefu_proto::v1::{
    DeactivateUserRequest, Industry, InviteUserRequest, ListUsersRequest, Role, User,
};
use tonic::Code;
use tonic_types::StatusExt;

use crate::stack::Stack;

fn invitation(email: String) -> InviteUserRequest {
    InviteUserRequest {
        user: Some(User {
            email,
            display_name: "客服专员".into(),
            roles: vec![Role::Agent as i32],
            ..User::default()
        }),
        ..InviteUserRequest::default()
    }
}

async fn a_starter_tenant_has_twenty_seats(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let acme = stack.onboard("acme", Industry::Ecommerce).await;
    let mut identity = stack.identity(Some(&acme.admin_session));
    let mut first = String::new();
    // The administrator holds the first seat.
    for seat in 2..=20 {
        let user = identity
            .invite_user(invitation(format!("agent{seat}@acme.example")))
            .await
            .unwrap_or_else(|status| panic!("seat {seat}: {status:?}"))
            .into_inner()
            .user
            .expect("user");
        if first.is_empty() {
            first = user.name;
        }
    }
    let full = identity
        .invite_user(invitation("agent21@acme.example".into()))
        .await
        .expect_err("the 21st user does not fit a STARTER plan");
    assert_eq!(full.code(), Code::ResourceExhausted);
    assert_eq!(
        full.get_error_details()
            .error_info()
            .map(|info| info.reason.clone()),
        Some("USER_QUOTA_EXCEEDED".to_owned())
    );
    let users = identity
        .list_users(ListUsersRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(users.total_size, 20, "nothing half-created");

    identity
        .deactivate_user(DeactivateUserRequest {
            name: first,
            ..DeactivateUserRequest::default()
        })
        .await
        .expect("deactivated");
    identity
        .invite_user(invitation("agent21@acme.example".into()))
        .await
        .expect("a deactivated user's seat is free again");
}

#[tokio::test]
async fn a_starter_tenant_has_twenty_seats_on_sqlite() {
    a_starter_tenant_has_twenty_seats(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_starter_tenant_has_twenty_seats_on_postgres() {
    a_starter_tenant_has_twenty_seats(Backend::Postgres).await;
}
