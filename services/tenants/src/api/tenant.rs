//! `kefu.v1.TenantService`.

use kefu_kit::{
    context::TenantId,
    db::{begin_platform, begin_read_platform, is_unique_violation},
    events::new_event,
    outbox,
};
use kefu_proto::v1::{
    ApprovalMatrix, CreateSlaPolicyRequest, CreateTenantRequest, DeleteSlaPolicyRequest,
    DeleteTenantRequest, DownloadTenantExportRequest, ExportTenantDataRequest,
    GetApprovalMatrixRequest, GetCurrentTenantRequest, GetIndustryTemplateRequest,
    GetSlaPolicyRequest, GetTenantExportRequest, GetTenantRequest, IndustryTemplate,
    IndustryTemplateView, ListIndustryTemplatesRequest, ListIndustryTemplatesResponse,
    ListSlaPoliciesRequest, ListSlaPoliciesResponse, ListTenantExportsRequest,
    ListTenantExportsResponse, ListTenantsRequest, ListTenantsResponse, ResumeTenantRequest, Role,
    SetTenantPlacementRequest, SlaPolicy, SuspendTenantRequest, Tenant, TenantCreated,
    TenantExport, TenantExportChunk, TenantResumed, TenantState, TenantSuspended,
    UpdateApprovalMatrixRequest, UpdateCurrentTenantRequest, UpdateSlaPolicyRequest,
    UpdateTenantRequest, User, tenant_service_server::TenantService,
};
use prost::Message;
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{Shared, caller, page, require_operator, require_tenant};
use crate::{
    NAME,
    domain::{names, seed::seed, slug::normalise_email, tenant as rules},
    error::{Result, TenantsError},
    store::{self, documents, documents::Collection, tenants::StoredTenant},
    templates,
};

/// Handlers of `kefu.v1.TenantService`.
#[derive(Clone)]
pub struct TenantApi(pub(super) Shared);

fn tenant_not_found(name: &str) -> TenantsError {
    TenantsError::NotFound(format!("tenant {name:?}"))
}

impl TenantApi {
    async fn create(&self, request: CreateTenantRequest) -> Result<Tenant> {
        let now = self.0.clock.now();
        let requested = request
            .tenant
            .ok_or_else(|| TenantsError::invalid("tenant", "is required"))?;
        let request_id = Some(request.request_id.clone()).filter(|id| !id.is_empty());
        if let Some(request_id) = &request_id {
            let txn = begin_platform(&self.0.db).await?;
            if let Some(existing) = store::tenants::by_request_id(&txn, request_id).await? {
                return Ok(existing.tenant);
            }
        }
        let catalogue = templates::catalogue();
        let industry = kefu_proto::v1::Industry::try_from(requested.industry)
            .unwrap_or(kefu_proto::v1::Industry::Unspecified);
        let template = match request.template_version {
            0 => catalogue.for_industry(industry),
            version => catalogue
                .for_industry(industry)
                .and_then(|latest| catalogue.get(&latest.name, version)),
        };
        let template = match template {
            Some(template) => template,
            None if industry == kefu_proto::v1::Industry::Unspecified => {
                return Err(TenantsError::invalid(
                    "tenant.industry",
                    "is required: one of the kefu.v1.Industry values",
                ));
            }
            None => {
                return Err(TenantsError::NotFound(format!(
                    "template version {} of industry {}",
                    request.template_version,
                    industry.as_str_name()
                )));
            }
        };
        let id = Uuid::now_v7();
        let tenant = rules::new_tenant(&requested, template, names::tenant(id), now)?;
        let admin_email = normalise_email(&request.initial_admin_email)
            .map_err(|error| TenantsError::invalid("initial_admin_email", error.to_string()))?;
        rules::check_length(
            "initial_admin_display_name",
            &request.initial_admin_display_name,
            1,
            100,
        )?;

        let tenant_id = TenantId(id);
        let txn = self.0.begin_for_tenant(tenant_id).await?;
        if let Err(error) = store::tenants::insert(&txn, id, &tenant, request_id.clone(), now).await
        {
            return Err(if is_unique_violation(&error) {
                TenantsError::AlreadyExists(format!("a tenant with slug {:?}", tenant.slug))
            } else {
                error.into()
            });
        }
        self.seed(&txn, id, template, &tenant.locale, now).await?;
        // CreateTenant is the platform operator's: it invites the first admin.
        let operator = kefu_proto::v1::Actor {
            kind: kefu_proto::v1::ActorKind::PlatformOperator as i32,
            ..kefu_proto::v1::Actor::default()
        };
        let (admin, token) = super::identity::invite_by(
            &txn,
            id,
            User {
                display_name: request.initial_admin_display_name.clone(),
                email: admin_email,
                roles: vec![Role::Admin as i32],
                ..User::default()
            },
            now,
            Some(operator),
        )
        .await?;
        let event = new_event(
            NAME,
            Some(tenant_id),
            tenant.name.clone(),
            &TenantCreated {
                tenant: Some(tenant.clone()),
                template: template.name.clone(),
                template_version: template.version,
                industry: tenant.industry,
                initial_admin: admin.name.clone(),
                locale: tenant.locale.clone(),
                time_zone: tenant.time_zone.clone(),
            },
            now,
        );
        outbox::append(&txn, &event).await?;
        txn.commit().await?;
        self.0.outbox.notify();
        super::identity::mail_invitation(&*self.0.mailer, &tenant, &admin, &token);
        Ok(Tenant {
            etag: store::etag(1),
            ..tenant
        })
    }

    async fn seed(
        &self,
        txn: &DatabaseTransaction,
        tenant: Uuid,
        template: &IndustryTemplate,
        locale: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let seed = seed(template, locale, now);
        for (key, department) in &seed.departments {
            documents::insert(
                txn,
                Collection::Departments,
                tenant,
                key,
                department.encode_to_vec(),
                now,
                &[],
            )
            .await?;
        }
        for (key, skill) in &seed.skills {
            documents::insert(
                txn,
                Collection::Skills,
                tenant,
                key,
                skill.encode_to_vec(),
                now,
                &[],
            )
            .await?;
        }
        for (key, team) in &seed.teams {
            let department = names::id_in(&team.department, "departments").map(str::to_owned);
            documents::insert(
                txn,
                Collection::Teams,
                tenant,
                key,
                team.encode_to_vec(),
                now,
                &[("department_id", department.into())],
            )
            .await?;
        }
        for (key, policy) in &seed.sla_policies {
            documents::insert(
                txn,
                Collection::SlaPolicies,
                tenant,
                key,
                policy.encode_to_vec(),
                now,
                &[],
            )
            .await?;
        }
        documents::insert_approval_matrix(txn, tenant, seed.approval_matrix.encode_to_vec())
            .await?;
        Ok(())
    }

    /// The tenant `name`, read in a platform transaction.
    async fn load(&self, name: &str) -> Result<(DatabaseTransaction, StoredTenant)> {
        let id = names::uuid_in(name, "tenants").ok_or_else(|| tenant_not_found(name))?;
        let txn = begin_platform(&self.0.db).await?;
        let stored = store::tenants::get(&txn, id)
            .await?
            .ok_or_else(|| tenant_not_found(name))?;
        Ok((txn, stored))
    }

    /// Applies `change` to the tenant `name`, stores it and its event.
    async fn transition<E: prost::Message + prost::Name>(
        &self,
        name: &str,
        etag: &str,
        change: impl FnOnce(&mut Tenant) -> Result<(Option<chrono::DateTime<chrono::Utc>>, E)>,
    ) -> Result<Tenant> {
        let (txn, mut stored) = self.load(name).await?;
        if !store::etag_matches(etag, stored.revision) {
            return Err(TenantsError::StaleEtag(name.to_owned()));
        }
        let (purge_time, payload) = change(&mut stored.tenant)?;
        if !store::tenants::replace(&txn, stored.id, stored.revision, &stored.tenant, purge_time)
            .await?
        {
            return Err(TenantsError::StaleEtag(name.to_owned()));
        }
        let event = new_event(
            NAME,
            Some(TenantId(stored.id)),
            name.to_owned(),
            &payload,
            self.0.clock.now(),
        );
        outbox::append(&txn, &event).await?;
        txn.commit().await?;
        self.0.outbox.notify();
        stored.tenant.etag = store::etag(stored.revision + 1);
        Ok(stored.tenant)
    }

    /// The caller's own tenant, without the operator-only placement.
    async fn current(&self, tenant: TenantId) -> Result<Tenant> {
        let txn = self.0.begin_read(tenant).await?;
        let stored = store::tenants::get(&txn, tenant.0)
            .await?
            .ok_or_else(|| tenant_not_found("current tenant"))?;
        txn.commit().await?;
        Ok(Tenant {
            placement: None,
            ..stored.tenant
        })
    }
}

fn template_view(
    template: &IndustryTemplate,
    view: i32,
    default: IndustryTemplateView,
) -> IndustryTemplate {
    let view = match IndustryTemplateView::try_from(view) {
        Ok(IndustryTemplateView::Unspecified) | Err(_) => default,
        Ok(view) => view,
    };
    if view == IndustryTemplateView::Full {
        return template.clone();
    }
    IndustryTemplate {
        name: template.name.clone(),
        industry: template.industry,
        version: template.version,
        title: template.title.clone(),
        description: template.description.clone(),
        create_time: template.create_time,
        ..IndustryTemplate::default()
    }
}

/// A filter of the form `field = "value"` (or without quotes), the subset of
/// AIP-160 these small lists need; `None` for an empty filter.
pub(super) fn equality_filter<'a>(
    filter: &'a str,
    fields: &[&str],
) -> Result<Option<(&'a str, &'a str)>> {
    let filter = filter.trim();
    if filter.is_empty() {
        return Ok(None);
    }
    let (field, value) = filter.split_once('=').ok_or_else(|| {
        TenantsError::invalid(
            "filter",
            "use field = \"value\" with one of the documented fields",
        )
    })?;
    let field = field.trim();
    if !fields.contains(&field) {
        return Err(TenantsError::invalid(
            "filter",
            format!(
                "cannot filter on {field:?}; filter fields: {}",
                fields.join(", ")
            ),
        ));
    }
    Ok(Some((field, value.trim().trim_matches('"'))))
}

fn enum_matches(value: &str, full_name: &str, prefix: &str) -> bool {
    full_name == value || full_name.strip_prefix(prefix) == Some(value)
}

#[tonic::async_trait]
impl TenantService for TenantApi {
    async fn create_tenant(
        &self,
        request: Request<CreateTenantRequest>,
    ) -> Result<Response<Tenant>, Status> {
        require_operator(&caller(&request)?)?;
        Ok(Response::new(self.create(request.into_inner()).await?))
    }

    async fn get_tenant(
        &self,
        request: Request<GetTenantRequest>,
    ) -> Result<Response<Tenant>, Status> {
        require_operator(&caller(&request)?)?;
        let (_, stored) = self.load(&request.get_ref().name).await?;
        Ok(Response::new(stored.tenant))
    }

    async fn list_tenants(
        &self,
        request: Request<ListTenantsRequest>,
    ) -> Result<Response<ListTenantsResponse>, Status> {
        require_operator(&caller(&request)?)?;
        let request = request.into_inner();
        let filter = equality_filter(&request.filter, &["slug", "state", "industry"])?;
        let txn = begin_read_platform(&self.0.db)
            .await
            .map_err(TenantsError::from)?;
        let all = store::tenants::list(&txn)
            .await
            .map_err(TenantsError::from)?;
        let tenants: Vec<Tenant> = all
            .into_iter()
            .map(|stored| stored.tenant)
            .filter(|tenant| match filter {
                None => true,
                Some(("slug", slug)) => tenant.slug == slug,
                Some(("state", state)) => TenantState::try_from(tenant.state)
                    .is_ok_and(|s| enum_matches(state, s.as_str_name(), "TENANT_STATE_")),
                Some((_, industry)) => kefu_proto::v1::Industry::try_from(tenant.industry)
                    .is_ok_and(|i| enum_matches(industry, i.as_str_name(), "INDUSTRY_")),
            })
            .collect();
        let (tenants, next_page_token, total_size) =
            page(tenants, request.page_size, &request.page_token)?;
        Ok(Response::new(ListTenantsResponse {
            tenants,
            next_page_token,
            total_size,
        }))
    }

    async fn suspend_tenant(
        &self,
        request: Request<SuspendTenantRequest>,
    ) -> Result<Response<Tenant>, Status> {
        require_operator(&caller(&request)?)?;
        let request = request.into_inner();
        let now = self.0.clock.now();
        let tenant = self
            .transition(&request.name, "", |tenant| {
                rules::suspend(tenant, &request.reason, now)?;
                Ok((
                    None,
                    TenantSuspended {
                        tenant: tenant.name.clone(),
                        reason: request.reason.clone(),
                        suspend_time: tenant.suspend_time,
                    },
                ))
            })
            .await?;
        Ok(Response::new(tenant))
    }

    async fn resume_tenant(
        &self,
        request: Request<ResumeTenantRequest>,
    ) -> Result<Response<Tenant>, Status> {
        require_operator(&caller(&request)?)?;
        let request = request.into_inner();
        let now = self.0.clock.now();
        let tenant = self
            .transition(&request.name, "", |tenant| {
                rules::resume(tenant, now)?;
                Ok((
                    None,
                    TenantResumed {
                        tenant: tenant.name.clone(),
                    },
                ))
            })
            .await?;
        Ok(Response::new(tenant))
    }

    async fn delete_tenant(
        &self,
        request: Request<DeleteTenantRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&request)?;
        self.delete_tenant_as_operator(&caller, request.into_inner())
            .await?;
        Ok(Response::new(()))
    }

    async fn update_tenant(
        &self,
        request: Request<UpdateTenantRequest>,
    ) -> Result<Response<Tenant>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.update_tenant_as_operator(&caller, request.into_inner())
                .await?,
        ))
    }

    async fn update_current_tenant(
        &self,
        request: Request<UpdateCurrentTenantRequest>,
    ) -> Result<Response<Tenant>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.update_current(&caller, request.into_inner()).await?,
        ))
    }

    async fn set_tenant_placement(
        &self,
        request: Request<SetTenantPlacementRequest>,
    ) -> Result<Response<Tenant>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.set_placement(&caller, request.into_inner()).await?,
        ))
    }

    async fn export_tenant_data(
        &self,
        request: Request<ExportTenantDataRequest>,
    ) -> Result<Response<TenantExport>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.start_export(&caller, request.into_inner()).await?,
        ))
    }

    async fn get_tenant_export(
        &self,
        request: Request<GetTenantExportRequest>,
    ) -> Result<Response<TenantExport>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.read_export(&caller, request.into_inner()).await?,
        ))
    }

    async fn download_tenant_export(
        &self,
        request: Request<DownloadTenantExportRequest>,
    ) -> Result<Response<tonic::codegen::BoxStream<TenantExportChunk>>, Status> {
        let caller = caller(&request)?;
        let chunks = self.download_export(&caller, request.into_inner()).await?;
        Ok(Response::new(Box::pin(futures::stream::iter(
            chunks.into_iter().map(Ok),
        ))))
    }

    async fn list_tenant_exports(
        &self,
        request: Request<ListTenantExportsRequest>,
    ) -> Result<Response<ListTenantExportsResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.list_exports(&caller, request.into_inner()).await?,
        ))
    }

    async fn create_sla_policy(
        &self,
        request: Request<CreateSlaPolicyRequest>,
    ) -> Result<Response<SlaPolicy>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.create_policy(&caller, request.into_inner()).await?,
        ))
    }

    async fn update_sla_policy(
        &self,
        request: Request<UpdateSlaPolicyRequest>,
    ) -> Result<Response<SlaPolicy>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.change_policy(&caller, request.into_inner()).await?,
        ))
    }

    async fn delete_sla_policy(
        &self,
        request: Request<DeleteSlaPolicyRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&request)?;
        self.remove_policy(&caller, request.into_inner()).await?;
        Ok(Response::new(()))
    }

    async fn update_approval_matrix(
        &self,
        request: Request<UpdateApprovalMatrixRequest>,
    ) -> Result<Response<ApprovalMatrix>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.replace_matrix(&caller, request.into_inner()).await?,
        ))
    }

    async fn get_current_tenant(
        &self,
        request: Request<GetCurrentTenantRequest>,
    ) -> Result<Response<Tenant>, Status> {
        let tenant = require_tenant(&caller(&request)?)?;
        Ok(Response::new(self.current(tenant).await?))
    }

    async fn list_industry_templates(
        &self,
        request: Request<ListIndustryTemplatesRequest>,
    ) -> Result<Response<ListIndustryTemplatesResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let filter = equality_filter(&request.filter, &["industry", "version"])?;
        let catalogue = templates::catalogue();
        let candidates: Vec<&IndustryTemplate> = if request.all_versions {
            catalogue.all().iter().collect()
        } else {
            catalogue.latest()
        };
        let items: Vec<IndustryTemplate> = candidates
            .into_iter()
            .filter(|template| match filter {
                None => true,
                Some(("version", version)) => template.version.to_string() == version,
                Some((_, industry)) => kefu_proto::v1::Industry::try_from(template.industry)
                    .is_ok_and(|i| enum_matches(industry, i.as_str_name(), "INDUSTRY_")),
            })
            .map(|template| template_view(template, request.view, IndustryTemplateView::Basic))
            .collect();
        let (industry_templates, next_page_token, total_size) =
            page(items, request.page_size, &request.page_token)?;
        Ok(Response::new(ListIndustryTemplatesResponse {
            industry_templates,
            next_page_token,
            total_size,
        }))
    }

    async fn get_industry_template(
        &self,
        request: Request<GetIndustryTemplateRequest>,
    ) -> Result<Response<IndustryTemplate>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let template = templates::catalogue()
            .get(&request.name, request.version)
            .ok_or_else(|| {
                TenantsError::NotFound(format!(
                    "industry template {:?} version {}",
                    request.name, request.version
                ))
            })?;
        Ok(Response::new(template_view(
            template,
            request.view,
            IndustryTemplateView::Full,
        )))
    }

    async fn get_sla_policy(
        &self,
        request: Request<GetSlaPolicyRequest>,
    ) -> Result<Response<SlaPolicy>, Status> {
        let tenant = require_tenant(&caller(&request)?)?;
        let name = &request.get_ref().name;
        let not_found = || TenantsError::NotFound(format!("SLA policy {name:?}"));
        let id = names::id_in(name, "slaPolicies").ok_or_else(not_found)?;
        let txn = self.0.begin_read(tenant).await?;
        let document = documents::get(&txn, Collection::SlaPolicies, tenant.0, id)
            .await
            .map_err(TenantsError::from)?
            .ok_or_else(not_found)?;
        let mut policy =
            SlaPolicy::decode(document.resource.as_slice()).map_err(TenantsError::from)?;
        policy.etag = store::etag(document.revision);
        Ok(Response::new(policy))
    }

    async fn list_sla_policies(
        &self,
        request: Request<ListSlaPoliciesRequest>,
    ) -> Result<Response<ListSlaPoliciesResponse>, Status> {
        let tenant = require_tenant(&caller(&request)?)?;
        let request = request.into_inner();
        let filter = equality_filter(&request.filter, &["display_name", "template_key"])?;
        let txn = self.0.begin_read(tenant).await?;
        let mut policies = Vec::new();
        for document in documents::list(&txn, Collection::SlaPolicies, tenant.0)
            .await
            .map_err(TenantsError::from)?
        {
            let mut policy =
                SlaPolicy::decode(document.resource.as_slice()).map_err(TenantsError::from)?;
            policy.etag = store::etag(document.revision);
            let keep = match filter {
                None => true,
                Some(("display_name", name)) => policy.display_name == name,
                Some((_, key)) => policy.template_key == key,
            };
            if keep {
                policies.push(policy);
            }
        }
        policies.sort_by(|a, b| {
            a.display_name
                .cmp(&b.display_name)
                .then(a.name.cmp(&b.name))
        });
        let (sla_policies, next_page_token, total_size) =
            page(policies, request.page_size, &request.page_token)?;
        Ok(Response::new(ListSlaPoliciesResponse {
            sla_policies,
            next_page_token,
            total_size,
        }))
    }

    async fn get_approval_matrix(
        &self,
        request: Request<GetApprovalMatrixRequest>,
    ) -> Result<Response<ApprovalMatrix>, Status> {
        let tenant = require_tenant(&caller(&request)?)?;
        let name = &request.get_ref().name;
        if !name.is_empty() && name != "approvalMatrix" {
            return Err(TenantsError::NotFound(format!("approval matrix {name:?}")).into());
        }
        let txn = self.0.begin_read(tenant).await?;
        let (resource, revision) = documents::approval_matrix(&txn, tenant.0)
            .await
            .map_err(TenantsError::from)?
            .ok_or_else(|| TenantsError::NotFound("approval matrix".into()))?;
        let mut matrix = ApprovalMatrix::decode(resource.as_slice()).map_err(TenantsError::from)?;
        matrix.etag = store::etag(revision);
        Ok(Response::new(matrix))
    }
}
