//! Streaming export as CSV or JSON lines.
//!
//! The ACTIVE customers are read by one streamed SELECT in `name` order
//! inside one read transaction: one statement sees one snapshot on both
//! backends (PostgreSQL's statement snapshot, SQLite's read transaction),
//! so customers written during a long export are either wholly in it or
//! not, and none is seen twice. The ListCustomers filter is evaluated over
//! each decoded customer. A task reads ahead at most two chunks of about
//! 1 MiB: a slow client slows the read instead of filling memory.
//!
//! One export per tenant at a time is enforced per process: with several
//! replicas of the customers service, each replica admits one, so a tenant
//! can run as many at once as there are replicas.

use std::{
    collections::HashSet,
    sync::{LazyLock, Mutex},
};

use futures::StreamExt;
use kefu_kit::context::TenantId;
use kefu_proto::v1::{CustomerExportFormat, CustomerState, ExportCustomersRequest};
use sea_orm::{
    DatabaseTransaction, StreamTrait,
    sea_query::{Expr, ExprTrait, Order},
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{ExportStream, Shared, caller, classify};
use crate::{
    domain::{
        export_format::{BOM, CHUNK_BYTES, Chunker, csv_header, csv_line, csv_record, json_line},
        filter::{self, Filter},
    },
    error::{CustomersError, Result},
    store::{customers, ident},
};

/// Tenants with an export running in this process.
static RUNNING: LazyLock<Mutex<HashSet<Uuid>>> = LazyLock::new(Default::default);

/// A tenant's export slot, freed when dropped.
struct Slot(Uuid);

impl Slot {
    fn take(tenant: TenantId) -> Option<Self> {
        RUNNING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(tenant.0)
            .then_some(Self(tenant.0))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        RUNNING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&self.0);
    }
}

/// What one export writes.
struct Plan {
    format: CustomerExportFormat,
    filter: Filter,
    /// The schema's attribute keys, the CSV's `attr.<key>` columns.
    attribute_keys: Vec<String>,
}

/// ExportCustomers.
pub(super) async fn export_customers(
    shared: &Shared,
    request: Request<ExportCustomersRequest>,
) -> Result<Response<ExportStream>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let format = match CustomerExportFormat::try_from(request.format) {
        Ok(CustomerExportFormat::Unspecified | CustomerExportFormat::Csv) => {
            CustomerExportFormat::Csv
        }
        Ok(CustomerExportFormat::JsonLines) => CustomerExportFormat::JsonLines,
        Err(_) => {
            return Err(
                CustomersError::invalid("format", "format is not a known export format").into(),
            );
        }
    };
    let slot = Slot::take(tenant).ok_or_else(|| {
        CustomersError::Exhausted(
            "the tenant already has an export running; wait for it to end".into(),
        )
    })?;
    let txn = shared.begin_read(tenant).await?;
    let definitions = classify::definitions(&txn, tenant).await?;
    let filter = filter::parse(&request.filter, &classify::vocabulary(&definitions, false))
        .map_err(|error| CustomersError::invalid("filter", format!("filter: {error}")))?;
    let plan = Plan {
        format,
        filter,
        attribute_keys: definitions
            .iter()
            .map(|definition| definition.key.clone())
            .collect(),
    };
    let (sender, receiver) = mpsc::channel(2);
    tokio::spawn(async move {
        let _slot = slot;
        if let Err(error) = write(txn, tenant, &plan, &sender).await {
            let _ = sender.send(Err(Status::from(error))).await;
        }
    });
    Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
}

/// Streams the export into `sender`; stops quietly when the client left.
async fn write(
    txn: DatabaseTransaction,
    tenant: TenantId,
    plan: &Plan,
    sender: &mpsc::Sender<Result<kefu_proto::v1::ExportCustomersChunk, Status>>,
) -> Result<()> {
    let statement = customers::select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("state")).eq(CustomerState::Active as i32))
        .order_by(ident("id"), Order::Asc)
        .to_owned();
    let mut chunker = Chunker::new(CHUNK_BYTES);
    if plan.format == CustomerExportFormat::Csv {
        chunker.preamble(BOM);
        chunker.preamble(&csv_line(&csv_header(&plan.attribute_keys)));
    }
    {
        let mut rows = txn.stream(&statement).await?;
        while let Some(row) = rows.next().await {
            let stored = customers::from_row(&row?)?;
            if !plan.filter.matches(&stored.customer) {
                continue;
            }
            let line = match plan.format {
                CustomerExportFormat::JsonLines => {
                    json_line(&stored.customer).ok_or_else(|| {
                        CustomersError::Internal("the contract's descriptors lack Customer".into())
                    })?
                }
                _ => csv_line(&csv_record(&stored.customer, &plan.attribute_keys)),
            };
            if let Some(chunk) = chunker.push(&line)
                && sender.send(Ok(chunk)).await.is_err()
            {
                return Ok(());
            }
        }
    }
    txn.commit().await?;
    let _ = sender.send(Ok(chunker.finish())).await;
    Ok(())
}
