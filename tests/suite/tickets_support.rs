//! Setup the tickets, complaints and dispatch suites share: people of a
//! tenant, a customer, a ticket of a seeded kind, waiting for the copies the
//! tickets service keeps of other services' data, and the outbox it writes.
//!
//! The tickets service learns tenants, users, customers and the seeded
//! taxonomy from events, so a call naming them right after their creation
//! may be refused until the copy arrives: the helpers here retry those.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use kefu_kit::{db::begin_read_platform, outbox};
use kefu_proto::v1::{
    Channel, CreateCustomerRequest, CreateTicketRequest, Customer, CustomerPhone, GetTicketRequest,
    InviteUserRequest, Role, Ticket, User, ticket_service_client::TicketServiceClient,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::{Code, Status};

use crate::{
    eventually::eventually,
    stack::{Bearer, Stack},
};

/// How long a copy may take to reach the tickets service.
pub(super) const WAIT: Duration = Duration::from_secs(30);

/// Invites `invitation` (its user's email set) into the tenant `slug` and
/// signs the user in: (user name, session).
pub(super) async fn join_invited(
    stack: &Stack,
    admin: &str,
    slug: &str,
    invitation: InviteUserRequest,
) -> (String, String) {
    let email = invitation
        .user
        .as_ref()
        .map(|user| user.email.clone())
        .expect("the invitation names a user");
    stack
        .identity(Some(admin))
        .invite_user(invitation)
        .await
        .expect("invite");
    stack.join(slug, &email).await
}

/// `who` with `roles`, mailed at `who@slug.example`, ready to be invited.
pub(super) fn person(slug: &str, who: &str, roles: &[Role]) -> User {
    User {
        display_name: who.into(),
        email: format!("{who}@{slug}.example"),
        roles: roles.iter().map(|role| *role as i32).collect(),
        ..User::default()
    }
}

/// Invites `who` with `roles` into the tenant `slug` and signs them in:
/// (user name, session).
pub(super) async fn join_as(
    stack: &Stack,
    admin: &str,
    slug: &str,
    who: &str,
    roles: &[Role],
) -> (String, String) {
    let invitation = InviteUserRequest {
        user: Some(person(slug, who, roles)),
        ..InviteUserRequest::default()
    };
    join_invited(stack, admin, slug, invitation).await
}

/// Creates the customer `name` with one phone: the customer's name.
pub(super) async fn new_customer(stack: &Stack, session: &str, name: &str, phone: &str) -> String {
    stack
        .customers(Some(session))
        .create_customer(CreateCustomerRequest {
            customer: Some(Customer {
                display_name: name.into(),
                phones: vec![CustomerPhone {
                    raw: phone.into(),
                    ..CustomerPhone::default()
                }],
                ..Customer::default()
            }),
            ..CreateCustomerRequest::default()
        })
        .await
        .expect("customer created")
        .into_inner()
        .name
}

/// Calls `call` until it answers, while `waiting` says its refusal means a
/// copy has not arrived yet; any other refusal, or one past [`WAIT`], is
/// returned.
pub(super) async fn until_known<T, F, Fut>(
    waiting: impl Fn(&Status) -> bool,
    mut call: F,
) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, Status>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        match call().await {
            Ok(answer) => return Ok(answer.into_inner()),
            Err(status) if waiting(&status) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => return Err(status),
        }
    }
}

/// Calls `call` until it answers, while it refuses with INVALID_ARGUMENT
/// (how the tickets service refuses a reference its copies lack yet).
pub(super) async fn retry<T, F, Fut>(what: &str, call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, Status>>,
{
    until_known(|status| status.code() == Code::InvalidArgument, call)
        .await
        .unwrap_or_else(|status| panic!("{what}: {status:?}"))
}

/// A ticket of the seeded `kind` (`ticketKinds/inquiry`) for `customer`,
/// once the copies of the taxonomy and the customer have arrived.
pub(super) async fn new_ticket(
    client: &TicketServiceClient<Bearer>,
    kind: &str,
    customer: &str,
    subject: &str,
) -> Ticket {
    let request = CreateTicketRequest {
        ticket: Some(Ticket {
            kind: kind.into(),
            channel: Channel::Phone as i32,
            customer: customer.into(),
            subject: subject.into(),
            ..Ticket::default()
        }),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    retry(&format!("a {kind} ticket {subject} is created"), || {
        let mut client = client.clone();
        let request = request.clone();
        async move { client.create_ticket(request).await }
    })
    .await
}

/// How many events of each type (`TicketReplied`, without `kefu.v1.`) the
/// tickets service wrote about `subject`.
pub(super) async fn event_counts(stack: &Stack, subject: &str) -> BTreeMap<String, usize> {
    let db = stack.service_connection("tickets").await;
    let txn = begin_read_platform(&db).await.expect("begin");
    let rows = outbox::entity::Entity::find()
        .filter(outbox::entity::Column::Subject.eq(subject))
        .all(&txn)
        .await
        .expect("outbox");
    txn.commit().await.expect("commit");
    let mut counts = BTreeMap::new();
    for row in rows {
        let short = row.event_type.trim_start_matches("kefu.v1.").to_owned();
        *counts.entry(short).or_insert(0) += 1;
    }
    counts
}

/// How many events of `event_type` (`TicketReplied`) the tickets service
/// wrote about `subject`.
pub(super) async fn count_events(stack: &Stack, subject: &str, event_type: &str) -> usize {
    event_counts(stack, subject)
        .await
        .get(event_type)
        .copied()
        .unwrap_or(0)
}

/// Waits until the ticket `name` reads as `expected` says (a change made by
/// an event the tickets service consumes), failing with `what`.
pub(super) async fn wait_for_ticket(
    client: &TicketServiceClient<Bearer>,
    name: &str,
    what: &str,
    expected: impl Fn(&Ticket) -> bool,
) {
    let expected = &expected;
    eventually(what, WAIT, || {
        let mut client = client.clone();
        let name = name.to_owned();
        async move {
            client
                .get_ticket(GetTicketRequest { name })
                .await
                .is_ok_and(|ticket| expected(ticket.get_ref()))
        }
    })
    .await;
}
