//! The customer archive's records through the gateway on both backends, as
//! an agent notices them: phones typed any way are one number, a repeated
//! request creates one customer, a taken identifier or a bad field is
//! refused by name with nothing stored, a stale etag is ABORTED, search
//! finds a customer by name, pinyin, initials, phone, e-mail, identifier and
//! tag in pinyin order across pages, and a deleted customer is gone.

use kefu_kit::testing::Backend;
use kefu_proto::v1::{
    CreateCustomerRequest, Customer, CustomerEmail, CustomerIdentifier, CustomerIdentifierKind,
    CustomerPhone, CustomerPhoneType, CustomerState, DeleteCustomerRequest, GetCustomerRequest,
    Industry, SearchCustomersRequest, SearchCustomersResponse, UpdateCustomerRequest,
    customer_service_client::CustomerServiceClient,
};
use prost_types::FieldMask;
use tonic::Code;

use crate::{
    gateway::reason,
    stack::{Bearer, Stack},
    tenants::field_of,
};

fn person(name: &str, phone: &str) -> Customer {
    Customer {
        display_name: name.into(),
        phones: vec![CustomerPhone {
            raw: phone.into(),
            ..CustomerPhone::default()
        }],
        ..Customer::default()
    }
}

async fn create(client: &mut CustomerServiceClient<Bearer>, customer: Customer) -> Customer {
    client
        .create_customer(CreateCustomerRequest {
            customer: Some(customer),
            ..CreateCustomerRequest::default()
        })
        .await
        .expect("create")
        .into_inner()
}

async fn search(
    client: &mut CustomerServiceClient<Bearer>,
    request: SearchCustomersRequest,
) -> Vec<String> {
    let SearchCustomersResponse { customers, .. } = client
        .search_customers(request)
        .await
        .expect("search")
        .into_inner();
    customers.into_iter().map(|c| c.display_name).collect()
}

async fn customer_records(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let a = stack.onboard("recs", Industry::PropertyManagement).await;
    let mut client = stack.customers(Some(&a.admin_session));

    // A customer as an agent types it.
    let mut zhang = person("张三", "+86-138-0013-8000");
    zhang.phones.push(CustomerPhone {
        raw: "010-8888 6666 转 123".into(),
        ..CustomerPhone::default()
    });
    zhang.emails = vec![CustomerEmail {
        address: "Zhang.San@Example.com".into(),
        ..CustomerEmail::default()
    }];
    zhang.identifiers = vec![CustomerIdentifier {
        kind: CustomerIdentifierKind::UnitNumber as i32,
        value: "3-2-1502".into(),
        label: String::new(),
    }];
    zhang.tags = vec!["业主".into(), "VIP".into(), "vip".into()];
    let request_id = uuid::Uuid::now_v7().to_string();
    let created = client
        .create_customer(CreateCustomerRequest {
            customer: Some(zhang.clone()),
            request_id: request_id.clone(),
            ..CreateCustomerRequest::default()
        })
        .await
        .expect("create")
        .into_inner();
    assert!(created.name.starts_with("customers/"));
    assert_eq!(created.state, CustomerState::Active as i32);
    assert_eq!(created.pinyin, "zhang san");
    assert_eq!(created.phones[0].e164, "+8613800138000");
    assert_eq!(created.phones[0].r#type, CustomerPhoneType::Mobile as i32);
    assert!(created.phones[0].primary);
    assert_eq!(created.phones[1].e164, "+861088886666");
    assert_eq!(created.tags, ["业主", "VIP"]);
    assert!(
        created.customer_since.is_some(),
        "customer_since defaults to today"
    );
    assert!(!created.etag.is_empty());

    // The same request again answers the same customer and creates no other.
    let again = client
        .create_customer(CreateCustomerRequest {
            customer: Some(zhang.clone()),
            request_id,
            ..CreateCustomerRequest::default()
        })
        .await
        .expect("repeat")
        .into_inner();
    assert_eq!(again.name, created.name);
    let by_phone = SearchCustomersRequest {
        phone: "13800138000".into(),
        ..SearchCustomersRequest::default()
    };
    assert_eq!(search(&mut client, by_phone.clone()).await, ["张三"]);

    // The unit number written differently is the same identifier.
    let mut other = person("李四", "13900139000");
    other.identifiers = vec![CustomerIdentifier {
        kind: CustomerIdentifierKind::UnitNumber as i32,
        value: "3 2 1502".into(),
        label: String::new(),
    }];
    let taken = client
        .create_customer(CreateCustomerRequest {
            customer: Some(other.clone()),
            ..CreateCustomerRequest::default()
        })
        .await
        .expect_err("identifier taken");
    assert_eq!(taken.code(), Code::AlreadyExists);
    assert_eq!(reason(&taken), "IDENTIFIER_TAKEN");
    assert!(
        taken.message().contains("customer.identifiers[0].value"),
        "{}",
        taken.message()
    );

    // Bad fields are named; nothing is stored.
    let mut bad_phone = person("王五", "138 0013 8000");
    bad_phone.phones.push(CustomerPhone {
        raw: "8888 6666".into(),
        ..CustomerPhone::default()
    });
    let refused = client
        .create_customer(CreateCustomerRequest {
            customer: Some(bad_phone),
            ..CreateCustomerRequest::default()
        })
        .await
        .expect_err("local number without area code");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(reason(&refused), "PHONE_INVALID");
    assert_eq!(field_of(&refused), "customer.phones[1].raw");
    let mut bad_email = person("王五", "13700137000");
    bad_email.emails = vec![CustomerEmail {
        address: "wang@".into(),
        ..CustomerEmail::default()
    }];
    let refused = client
        .create_customer(CreateCustomerRequest {
            customer: Some(bad_email),
            ..CreateCustomerRequest::default()
        })
        .await
        .expect_err("bad e-mail");
    assert_eq!(reason(&refused), "EMAIL_INVALID");
    assert_eq!(field_of(&refused), "customer.emails[0].address");
    let long = client
        .create_customer(CreateCustomerRequest {
            customer: Some(person(&"长".repeat(201), "13700137000")),
            ..CreateCustomerRequest::default()
        })
        .await
        .expect_err("over-long name");
    assert_eq!(field_of(&long), "customer.display_name");
    assert!(
        search(
            &mut client,
            SearchCustomersRequest {
                phone: "13700137000".into(),
                ..SearchCustomersRequest::default()
            }
        )
        .await
        .is_empty(),
        "refused customers left nothing behind"
    );

    // Search: name, pinyin, initials, e-mail, identifier, tag; pinyin order.
    let li = create(&mut client, person("李四", "13900139000")).await;
    create(&mut client, person("安娜", "13600136000")).await;
    create(&mut client, person("张伟", "13500135000")).await;
    let by = |f: fn(&mut SearchCustomersRequest)| {
        let mut request = SearchCustomersRequest::default();
        f(&mut request);
        request
    };
    assert_eq!(
        search(&mut client, by(|r| r.name_prefix = "张".into())).await,
        ["张三", "张伟"]
    );
    assert_eq!(
        search(&mut client, by(|r| r.name_prefix = "zhang s".into())).await,
        ["张三"]
    );
    assert_eq!(
        search(&mut client, by(|r| r.name_prefix = "zw".into())).await,
        ["张伟"]
    );
    assert_eq!(
        search(
            &mut client,
            by(|r| r.email = "zhang.san@example.COM".into())
        )
        .await,
        ["张三"]
    );
    assert_eq!(
        search(
            &mut client,
            by(|r| {
                r.identifier = Some(CustomerIdentifier {
                    kind: CustomerIdentifierKind::UnitNumber as i32,
                    value: "3 2-1502".into(),
                    label: String::new(),
                })
            })
        )
        .await,
        ["张三"]
    );
    assert_eq!(
        search(&mut client, by(|r| r.tag = "vip".into())).await,
        ["张三"]
    );
    assert_eq!(
        search(
            &mut client,
            by(|r| {
                r.tag = "vip".into();
                r.name_prefix = "li".into();
            })
        )
        .await,
        Vec::<String>::new(),
        "criteria combine with AND"
    );
    let refused = client
        .search_customers(SearchCustomersRequest::default())
        .await
        .expect_err("no criterion");
    assert_eq!(refused.code(), Code::InvalidArgument);
    // Pages of one, in pinyin order: an, li, zhang san, zhang wei.
    let mut pages = Vec::new();
    let mut token = String::new();
    for prefix in ["a", "l", "z"] {
        let mut request = by(|r| r.page_size = 1);
        request.name_prefix = prefix.into();
        loop {
            request.page_token = token.clone();
            let page = client
                .search_customers(request.clone())
                .await
                .expect("page")
                .into_inner();
            pages.extend(page.customers.into_iter().map(|c| c.display_name));
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
    }
    assert_eq!(pages, ["安娜", "李四", "张三", "张伟"]);
    let bad_phone = client
        .search_customers(by(|r| r.phone = "12345".into()))
        .await
        .expect_err("bad phone");
    assert_eq!(field_of(&bad_phone), "phone");

    // Update with a mask and an etag; a stale etag is ABORTED.
    let mut change = li.clone();
    change.display_name = "李四光".into();
    change.phones = vec![CustomerPhone {
        raw: "0086 139 0013 9001".into(),
        ..CustomerPhone::default()
    }];
    let updated = client
        .update_customer(UpdateCustomerRequest {
            customer: Some(change.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".into(), "phones".into()],
            }),
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.display_name, "李四光");
    assert_eq!(updated.pinyin, "li si guang");
    assert_ne!(updated.etag, li.etag);
    let stale = client
        .update_customer(UpdateCustomerRequest {
            customer: Some(change),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(
        search(&mut client, by(|r| r.phone = "13900139001".into())).await,
        ["李四光"]
    );
    assert!(
        search(&mut client, by(|r| r.phone = "13900139000".into()))
            .await
            .is_empty(),
        "the replaced phone no longer finds the customer"
    );
    let mut bad = updated.clone();
    bad.phones[0].raw = "not a phone".into();
    let refused = client
        .update_customer(UpdateCustomerRequest {
            customer: Some(bad),
            update_mask: Some(FieldMask {
                paths: vec!["phones".into()],
            }),
        })
        .await
        .expect_err("bad phone");
    assert_eq!(field_of(&refused), "customer.phones[0].raw");
    let not_mutable = client
        .update_customer(UpdateCustomerRequest {
            customer: Some(updated.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["owner".into()],
            }),
        })
        .await
        .expect_err("owner is output only");
    assert_eq!(field_of(&not_mutable), "update_mask");
    let unchanged = client
        .get_customer(GetCustomerRequest {
            name: updated.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(unchanged, updated, "refused updates changed nothing");

    // Another tenant finds nothing, and its own search is empty.
    let b = stack.onboard("recsb", Industry::Ecommerce).await;
    let mut b_client = stack.customers(Some(&b.admin_session));
    let hidden = b_client
        .get_customer(GetCustomerRequest {
            name: created.name.clone(),
        })
        .await
        .expect_err("another tenant's customer");
    assert_eq!(hidden.code(), Code::NotFound);
    assert!(search(&mut b_client, by_phone.clone()).await.is_empty());

    // Delete: gone from search and from Get.
    client
        .delete_customer(DeleteCustomerRequest {
            name: created.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("delete");
    assert!(search(&mut client, by_phone).await.is_empty());
    let gone = client
        .get_customer(GetCustomerRequest {
            name: created.name.clone(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
    // Its identifier is free again.
    create(&mut client, other).await;
}

#[tokio::test]
async fn sqlite_customer_records() {
    customer_records(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_customer_records() {
    customer_records(Backend::Postgres).await;
}
