//! Erasure on request (PIPL / GDPR): what an erased customer leaves behind
//! (a tombstone with no personal data) and what an erasure request must say.

use chrono::{DateTime, Utc};
use kefu_kit::events::to_timestamp;
use kefu_proto::v1::{Customer, CustomerState, EraseCustomerRequest, ErasureRequester};

use crate::error::{CustomersError, Result};

/// The tombstone an erased customer becomes: only `name`, `state`,
/// `erase_time` and `create_time`, as the contract lists them. Everything
/// else (names, phones, e-mails, addresses, identifiers, tags, attributes,
/// external id, contact preferences, owner) is dropped.
pub fn tombstone(customer: &Customer, now: DateTime<Utc>) -> Customer {
    Customer {
        name: customer.name.clone(),
        state: CustomerState::Erased as i32,
        erase_time: Some(to_timestamp(now)),
        create_time: customer.create_time,
        ..Customer::default()
    }
}

/// Checks an erasure request's own fields (the customer is looked up
/// afterwards). Errors name the field.
pub fn check_request(request: &EraseCustomerRequest) -> Result<()> {
    let reason = request.reason.trim();
    if reason.is_empty() {
        return Err(CustomersError::invalid(
            "reason",
            "reason is required (why, without personal data)",
        ));
    }
    if request.reason.chars().count() > 500 {
        return Err(CustomersError::invalid(
            "reason",
            "reason is longer than 500 characters",
        ));
    }
    match ErasureRequester::try_from(request.requested_by) {
        Ok(ErasureRequester::Unspecified) => {
            return Err(CustomersError::invalid(
                "requested_by",
                "requested_by is required",
            ));
        }
        Err(_) => {
            return Err(CustomersError::invalid(
                "requested_by",
                "requested_by is not a known requester",
            ));
        }
        Ok(_) => {}
    }
    if request.request_reference.chars().count() > 100 {
        return Err(CustomersError::invalid(
            "request_reference",
            "request_reference is longer than 100 characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{CustomerPhone, CustomerState};

    use super::*;

    fn request() -> EraseCustomerRequest {
        EraseCustomerRequest {
            name: "customers/c".into(),
            reason: "PIPL 第47条 删除请求".into(),
            requested_by: ErasureRequester::DataSubject as i32,
            request_reference: "T-1024".into(),
            request_id: String::new(),
        }
    }

    #[test]
    fn a_tombstone_keeps_no_personal_data() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let customer = Customer {
            name: "customers/c".into(),
            display_name: "张三".into(),
            phones: vec![CustomerPhone {
                raw: "13800138000".into(),
                e164: "+8613800138000".into(),
                ..CustomerPhone::default()
            }],
            external_id: "ERP-1".into(),
            owner: "users/u".into(),
            state: CustomerState::Active as i32,
            create_time: Some(to_timestamp(now - chrono::Duration::days(30))),
            ..Customer::default()
        };
        let erased = tombstone(&customer, now);
        assert_eq!(
            erased,
            Customer {
                name: "customers/c".into(),
                state: CustomerState::Erased as i32,
                erase_time: Some(to_timestamp(now)),
                create_time: customer.create_time,
                ..Customer::default()
            }
        );
    }

    #[test]
    fn a_request_says_why_and_who_asked() {
        assert!(check_request(&request()).is_ok());
        let field = |request: EraseCustomerRequest| match check_request(&request) {
            Err(CustomersError::Invalid(violation, _)) => violation.field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(EraseCustomerRequest {
                reason: "  ".into(),
                ..request()
            }),
            "reason"
        );
        assert_eq!(
            field(EraseCustomerRequest {
                reason: "删".repeat(501),
                ..request()
            }),
            "reason"
        );
        assert_eq!(
            field(EraseCustomerRequest {
                requested_by: 0,
                ..request()
            }),
            "requested_by"
        );
        assert_eq!(
            field(EraseCustomerRequest {
                requested_by: 99,
                ..request()
            }),
            "requested_by"
        );
        assert_eq!(
            field(EraseCustomerRequest {
                request_reference: "x".repeat(101),
                ..request()
            }),
            "request_reference"
        );
    }
}
