//! Saved segments (客户分群) and their members. A segment's membership is
//! recomputed over the tenant's ACTIVE customers in the transaction that
//! creates it or changes its filter (see `classify`), and kept current by
//! every customer write after that.

use std::cmp::Ordering;

use kefu_kit::{
    context::TenantId, db::is_unique_violation, events::to_timestamp, idempotency, resource,
};
use kefu_proto::v1::{
    CreateSegmentRequest, Customer, DeleteSegmentRequest, GetSegmentRequest,
    ListSegmentMembersRequest, ListSegmentMembersResponse, ListSegmentsRequest,
    ListSegmentsResponse, PreviewSegmentRequest, PreviewSegmentResponse, Segment, SegmentChanged,
    UpdateSegmentRequest,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared, append_event, caller, classify, page_size, records::check_request_id, required,
};
use crate::{
    domain::filter::{self, Field, Filter, Vocabulary},
    error::{CustomersError, Result},
    store::{
        customers,
        segments::{self, StoredSegment},
    },
};

/// The longest filter a segment may have.
const MAX_FILTER: usize = 2000;
/// The largest PreviewSegment sample.
const MAX_SAMPLE: i32 = 50;
/// Customers read per batch when evaluating a preview.
const BATCH: usize = 500;
/// The paths UpdateSegment may change.
const MUTABLE: &[&str] = &["display_name", "description", "filter"];

/// The segment id in `segments/{id}`, or NOT_FOUND naming it.
fn segment_id(name: &str) -> Result<&str> {
    resource::id_in(name, "segments").ok_or_else(|| CustomersError::not_found(name))
}

/// `[a-z][a-z0-9-]{0,62}`.
fn is_segment_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && id.len() <= 63
        && bytes.all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

/// Parses a segment filter over the tenant's fields (not `segments`);
/// INVALID_ARGUMENT names `field`.
async fn parse_segment_filter(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    text: &str,
    field: &str,
) -> Result<Filter> {
    if text.trim().is_empty() {
        return Err(CustomersError::invalid(
            field,
            format!("{field} is required"),
        ));
    }
    if text.chars().count() > MAX_FILTER {
        return Err(CustomersError::invalid(
            field,
            format!("{field} is longer than {MAX_FILTER} characters"),
        ));
    }
    let definitions = classify::definitions(txn, tenant).await?;
    filter::parse(text, &classify::vocabulary(&definitions, true))
        .map_err(|error| CustomersError::invalid(field, format!("{field}: {error}")))
}

/// Checks the caller-writable texts of `segment`.
fn check_texts(segment: &Segment) -> Result<()> {
    let length = segment.display_name.trim().chars().count();
    if length == 0 || segment.display_name.chars().count() > 100 {
        return Err(CustomersError::invalid(
            "segment.display_name",
            "segment.display_name must be 1 to 100 characters",
        ));
    }
    if segment.description.chars().count() > 1000 {
        return Err(CustomersError::invalid(
            "segment.description",
            "segment.description is longer than 1000 characters",
        ));
    }
    Ok(())
}

/// `segment` with its member count, counted now.
async fn with_count(
    shared: &Shared,
    txn: &DatabaseTransaction,
    tenant: TenantId,
    mut segment: Segment,
) -> Result<Segment> {
    let counts = segments::member_counts(txn, tenant.0).await?;
    let id = segment.name.strip_prefix("segments/").unwrap_or_default();
    segment.member_count = counts.get(id).copied().unwrap_or(0);
    segment.member_count_time = Some(to_timestamp(shared.now()));
    Ok(segment)
}

/// The stored segment `name`, or NOT_FOUND.
async fn load(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    for_update: bool,
) -> Result<StoredSegment> {
    let id = segment_id(name)?;
    segments::get(txn, tenant.0, id, for_update)
        .await?
        .ok_or_else(|| CustomersError::not_found(name))
}

/// CreateSegment.
pub(super) async fn create_segment(
    shared: &Shared,
    request: Request<CreateSegmentRequest>,
) -> Result<Response<Segment>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let input = required(request.segment, "segment")?;
    let id = if request.segment_id.is_empty() {
        Uuid::now_v7().to_string()
    } else if is_segment_id(&request.segment_id) {
        request.segment_id
    } else {
        return Err(CustomersError::invalid(
            "segment_id",
            "segment_id must be 1 to 63 characters of [a-z0-9-], starting with a letter",
        )
        .into());
    };
    check_texts(&input)?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if !request.request_id.is_empty()
        && let Some(remembered) = idempotency::recall(&txn, tenant.0, &request.request_id)
            .await
            .map_err(CustomersError::from)?
    {
        let stored = load(&txn, tenant, &remembered.resource_name, false).await?;
        return Ok(Response::new(
            with_count(shared, &txn, tenant, stored.segment).await?,
        ));
    }
    parse_segment_filter(&txn, tenant, &input.filter, "segment.filter").await?;
    let name = format!("segments/{id}");
    let segment = Segment {
        name: name.clone(),
        display_name: input.display_name.trim().to_owned(),
        description: input.description,
        filter: input.filter,
        member_count: 0,
        member_count_time: None,
        create_time: Some(to_timestamp(now)),
        update_time: Some(to_timestamp(now)),
        etag: resource::etag(1),
    };
    match segments::insert(&txn, tenant.0, &id, &segment, now).await {
        Err(error) if is_unique_violation(&error) => {
            return Err(
                CustomersError::AlreadyExists(format!("{name} already exists"), None).into(),
            );
        }
        other => other.map_err(CustomersError::from)?,
    }
    classify::reclassify_all(&txn, tenant, now).await?;
    let event = SegmentChanged {
        segment: name.clone(),
        display_name: segment.display_name.clone(),
        deleted: false,
    };
    append_event(&txn, tenant, &name, &event, now).await?;
    if !request.request_id.is_empty() {
        idempotency::remember(
            &txn,
            tenant.0,
            &request.request_id,
            "CreateSegment",
            &name,
            now,
        )
        .await
        .map_err(CustomersError::from)?;
    }
    let created = with_count(shared, &txn, tenant, segment).await?;
    shared.commit(txn).await?;
    Ok(Response::new(created))
}

/// GetSegment.
pub(super) async fn get_segment(
    shared: &Shared,
    request: Request<GetSegmentRequest>,
) -> Result<Response<Segment>, Status> {
    let (_, tenant) = caller(&request)?;
    let txn = shared.begin_read(tenant).await?;
    let stored = load(&txn, tenant, &request.get_ref().name, false).await?;
    let segment = with_count(shared, &txn, tenant, stored.segment).await?;
    txn.commit().await.map_err(CustomersError::from)?;
    Ok(Response::new(segment))
}

/// The order of ListSegments: by display name or creation, then name.
fn segment_order(order_by: &str) -> Result<(bool, bool)> {
    let bad = || {
        CustomersError::invalid(
            "order_by",
            "order_by is `display_name` or `create_time`, optionally followed by ` desc`",
        )
    };
    let words: Vec<&str> = order_by.split_whitespace().collect();
    let (field, descending) = match words.as_slice() {
        [] => ("display_name", false),
        [field] => (*field, false),
        [field, direction] if direction.eq_ignore_ascii_case("desc") => (*field, true),
        [field, direction] if direction.eq_ignore_ascii_case("asc") => (*field, false),
        _ => return Err(bad()),
    };
    match field {
        "display_name" => Ok((true, descending)),
        "create_time" => Ok((false, descending)),
        _ => Err(bad()),
    }
}

/// ListSegments: a tenant has tens of segments, so pages are offsets over
/// the filtered, ordered list.
pub(super) async fn list_segments(
    shared: &Shared,
    request: Request<ListSegmentsRequest>,
) -> Result<Response<ListSegmentsResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let (by_display_name, descending) = segment_order(&request.order_by)?;
    // The customers' filter language, limited to `display_name`.
    let filter = filter::parse(&request.filter, &Vocabulary::default())
        .map_err(|error| CustomersError::invalid("filter", format!("filter: {error}")))?;
    if filter
        .conditions()
        .iter()
        .any(|condition| condition.field != Field::DisplayName)
    {
        return Err(
            CustomersError::invalid("filter", "segments filter only on display_name").into(),
        );
    }
    let offset = if request.page_token.is_empty() {
        0
    } else {
        request
            .page_token
            .strip_prefix('o')
            .and_then(|offset| offset.parse::<usize>().ok())
            .ok_or_else(|| {
                CustomersError::invalid("page_token", "page_token is not a token of this list")
            })?
    };
    let txn = shared.begin_read(tenant).await?;
    let mut all: Vec<Segment> = segments::list(&txn, tenant.0)
        .await
        .map_err(CustomersError::from)?
        .into_iter()
        .map(|stored| stored.segment)
        .filter(|segment| {
            filter.matches(&Customer {
                display_name: segment.display_name.clone(),
                ..Customer::default()
            })
        })
        .collect();
    let counts = segments::member_counts(&txn, tenant.0)
        .await
        .map_err(CustomersError::from)?;
    txn.commit().await.map_err(CustomersError::from)?;
    all.sort_by(|a, b| {
        let ordering = if by_display_name {
            a.display_name.cmp(&b.display_name)
        } else {
            let time = |s: &Segment| s.create_time.map(|t| (t.seconds, t.nanos));
            time(a).cmp(&time(b))
        };
        let ordering = if descending {
            ordering.reverse()
        } else {
            ordering
        };
        match ordering {
            Ordering::Equal => a.name.cmp(&b.name),
            other => other,
        }
    });
    let total = all.len();
    let now = to_timestamp(shared.now());
    let page: Vec<Segment> = all
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|mut segment| {
            let id = segment.name.strip_prefix("segments/").unwrap_or_default();
            segment.member_count = counts.get(id).copied().unwrap_or(0);
            segment.member_count_time = Some(now);
            segment
        })
        .collect();
    let next = offset + page.len();
    Ok(Response::new(ListSegmentsResponse {
        segments: page,
        next_page_token: if next < total {
            format!("o{next}")
        } else {
            String::new()
        },
        total_size: i32::try_from(total).unwrap_or(i32::MAX),
    }))
}

/// UpdateSegment.
pub(super) async fn update_segment(
    shared: &Shared,
    request: Request<UpdateSegmentRequest>,
) -> Result<Response<Segment>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let input = required(request.segment, "segment")?;
    let mask = required(request.update_mask, "update_mask")?;
    if mask.paths.is_empty() {
        return Err(CustomersError::invalid(
            "update_mask",
            "update_mask must list the paths to change",
        )
        .into());
    }
    if let Some(path) = mask
        .paths
        .iter()
        .find(|path| !MUTABLE.contains(&path.as_str()))
    {
        return Err(CustomersError::invalid(
            "update_mask",
            format!(
                "update_mask names {path:?}, which UpdateSegment cannot change; mutable: {}",
                MUTABLE.join(", ")
            ),
        )
        .into());
    }
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let stored = load(&txn, tenant, &input.name, true).await?;
    if !resource::etag_matches(&input.etag, stored.revision) {
        return Err(CustomersError::StaleEtag(input.name).into());
    }
    let mut segment = stored.segment.clone();
    for path in &mask.paths {
        match path.as_str() {
            "display_name" => segment.display_name = input.display_name.trim().to_owned(),
            "description" => segment.description = input.description.clone(),
            _ => segment.filter = input.filter.clone(),
        }
    }
    check_texts(&segment)?;
    let refilter = segment.filter != stored.segment.filter;
    if refilter {
        parse_segment_filter(&txn, tenant, &segment.filter, "segment.filter").await?;
    }
    segment.update_time = Some(to_timestamp(now));
    segment.etag = resource::etag(stored.revision + 1);
    let id = segment_id(&input.name)?.to_owned();
    if !segments::replace(&txn, tenant.0, &id, stored.revision, &segment)
        .await
        .map_err(CustomersError::from)?
    {
        return Err(CustomersError::StaleEtag(input.name).into());
    }
    if refilter {
        classify::reclassify_all(&txn, tenant, now).await?;
    }
    let updated = with_count(shared, &txn, tenant, segment).await?;
    shared.commit(txn).await?;
    Ok(Response::new(updated))
}

/// DeleteSegment: its members leave it (each publishing
/// CustomerSegmentMembershipChanged).
pub(super) async fn delete_segment(
    shared: &Shared,
    request: Request<DeleteSegmentRequest>,
) -> Result<Response<()>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let stored = load(&txn, tenant, &request.name, true).await?;
    if !resource::etag_matches(&request.etag, stored.revision) {
        return Err(CustomersError::StaleEtag(request.name).into());
    }
    let id = segment_id(&request.name)?;
    segments::delete(&txn, tenant.0, id)
        .await
        .map_err(CustomersError::from)?;
    classify::reclassify_all(&txn, tenant, now).await?;
    let event = SegmentChanged {
        segment: request.name.clone(),
        display_name: stored.segment.display_name.clone(),
        deleted: true,
    };
    append_event(&txn, tenant, &request.name, &event, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(()))
}

/// ListSegmentMembers: ACTIVE members by name, paged after the last id.
pub(super) async fn list_segment_members(
    shared: &Shared,
    request: Request<ListSegmentMembersRequest>,
) -> Result<Response<ListSegmentMembersResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let after = if request.page_token.is_empty() {
        None
    } else {
        Some(
            request
                .page_token
                .strip_prefix('a')
                .filter(|id| !id.is_empty())
                .ok_or_else(|| {
                    CustomersError::invalid("page_token", "page_token is not a token of this list")
                })?
                .to_owned(),
        )
    };
    let txn = shared.begin_read(tenant).await?;
    let stored = load(&txn, tenant, &request.segment, false).await?;
    let id = segment_id(&stored.segment.name)?;
    let mut page = segments::members_page(&txn, tenant.0, id, after.as_deref(), limit + 1)
        .await
        .map_err(CustomersError::from)?;
    let total = segments::member_counts(&txn, tenant.0)
        .await
        .map_err(CustomersError::from)?
        .get(id)
        .copied()
        .unwrap_or(0);
    txn.commit().await.map_err(CustomersError::from)?;
    let more = page.len() > limit;
    page.truncate(limit);
    let next_page_token = match page.last() {
        Some(last) if more => format!(
            "a{}",
            customers::id_of(&last.customer.name).unwrap_or_default()
        ),
        _ => String::new(),
    };
    Ok(Response::new(ListSegmentMembersResponse {
        customers: page.into_iter().map(|stored| stored.customer).collect(),
        next_page_token,
        total_size: i32::try_from(total).unwrap_or(i32::MAX),
    }))
}

/// PreviewSegment: evaluates the filter over every ACTIVE customer.
pub(super) async fn preview_segment(
    shared: &Shared,
    request: Request<PreviewSegmentRequest>,
) -> Result<Response<PreviewSegmentResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    if !(0..=MAX_SAMPLE).contains(&request.sample_size) {
        return Err(CustomersError::invalid(
            "sample_size",
            format!("sample_size must be 0 to {MAX_SAMPLE}"),
        )
        .into());
    }
    let sample_size = usize::try_from(request.sample_size).unwrap_or(0);
    let txn = shared.begin_read(tenant).await?;
    let filter = parse_segment_filter(&txn, tenant, &request.filter, "filter").await?;
    let mut member_count = 0;
    let mut sample = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let batch = segments::active_batch(&txn, tenant.0, after.as_deref(), BATCH, &[])
            .await
            .map_err(CustomersError::from)?;
        let Some(last) = batch.last() else {
            break;
        };
        after = customers::id_of(&last.customer.name).map(str::to_owned);
        // Batches come by id, so the first matches are the sample by name.
        for stored in batch {
            if filter.matches(&stored.customer) {
                member_count += 1;
                if sample.len() < sample_size {
                    sample.push(stored.customer);
                }
            }
        }
        if after.is_none() {
            break;
        }
    }
    txn.commit().await.map_err(CustomersError::from)?;
    Ok(Response::new(PreviewSegmentResponse {
        member_count,
        sample,
    }))
}
