//! The tenant's custom attribute schema (a singleton). Replacing it never
//! deletes a customer's values: customers whose values no longer fit are
//! marked `attributes_valid = false` in the same transaction (see
//! `classify`), and must fit again on their next update of `attributes`.

use kefu_kit::{events::to_timestamp, resource};
use kefu_proto::v1::{
    CustomerAttributeSchema, GetCustomerAttributeSchemaRequest,
    UpdateCustomerAttributeSchemaRequest,
};
use tonic::{Request, Response, Status};

use super::{Shared, caller, classify, required};
use crate::{
    domain::attributes,
    error::{CustomersError, Result},
    store::schema,
};

/// The singleton's name.
const NAME: &str = "customerAttributeSchema";

/// The name is optional; any other than the singleton's names nothing.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name == NAME {
        Ok(())
    } else {
        Err(CustomersError::not_found(name))
    }
}

/// The stored schema as the API shows it: an empty one (etag of revision
/// 0) until the first update.
fn shown(stored: Option<(CustomerAttributeSchema, i64)>) -> CustomerAttributeSchema {
    let (mut schema, revision) = stored.unwrap_or_default();
    schema.name = NAME.to_owned();
    schema.etag = resource::etag(revision);
    schema
}

/// GetCustomerAttributeSchema.
pub(super) async fn get_customer_attribute_schema(
    shared: &Shared,
    request: Request<GetCustomerAttributeSchemaRequest>,
) -> Result<Response<CustomerAttributeSchema>, Status> {
    let (_, tenant) = caller(&request)?;
    check_name(&request.get_ref().name)?;
    let txn = shared.begin_read(tenant).await?;
    let stored = schema::get(&txn, tenant.0, false)
        .await
        .map_err(CustomersError::from)?;
    txn.commit().await.map_err(CustomersError::from)?;
    Ok(Response::new(shown(stored)))
}

/// UpdateCustomerAttributeSchema.
pub(super) async fn update_customer_attribute_schema(
    shared: &Shared,
    request: Request<UpdateCustomerAttributeSchemaRequest>,
) -> Result<Response<CustomerAttributeSchema>, Status> {
    let (_, tenant) = caller(&request)?;
    let input = required(request.into_inner().schema, "schema")?;
    check_name(&input.name)?;
    attributes::check_schema(&input)?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let revision = schema::get(&txn, tenant.0, true)
        .await
        .map_err(CustomersError::from)?
        .map_or(0, |(_, revision)| revision);
    if !resource::etag_matches(&input.etag, revision) {
        return Err(CustomersError::StaleEtag(NAME.to_owned()).into());
    }
    let updated = CustomerAttributeSchema {
        name: NAME.to_owned(),
        attributes: input.attributes,
        update_time: Some(to_timestamp(now)),
        etag: String::new(),
    };
    if !schema::put(&txn, tenant.0, &updated, revision + 1, now)
        .await
        .map_err(CustomersError::from)?
    {
        return Err(CustomersError::StaleEtag(NAME.to_owned()).into());
    }
    // Which customers still fit, and segments over `attributes.<key>`.
    classify::reclassify_all(&txn, tenant, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(shown(Some((updated, revision + 1)))))
}
