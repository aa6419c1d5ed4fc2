//! The tenants service as the operator uses it: `kefu.v1.TenantService`
//! through the gateway, as the platform operator.
//!
//! Why the gateway and the operator token, not an internal credential
//! signed with `auth.internal_key`: the gateway is where DESIGN.md puts
//! authentication. The operator is one more client of the operator API
//! (like `grpcurl` with the token) and goes through the same door, access
//! rules and rate limits; the token it holds can manage tenants and nothing
//! else, while the internal key could sign a call as any user of any
//! tenant. The operator uses that key for nothing but handing it to the
//! services of a silo ([`crate::silo`]); a pool-only installation need not
//! give it.

use std::time::Duration;

use kefu_proto::v1::{
    CreateTenantRequest, DeleteTenantRequest, ExportTenantDataRequest, GetTenantRequest,
    IsolationTier as ProtoTier, PlanTier, SetTenantPlacementRequest, Tenant, TenantExport,
    TenantPlacement, UpdateTenantRequest, tenant_service_client::TenantServiceClient,
};
use tonic::{
    Code,
    metadata::{Ascii, MetadataValue},
    service::interceptor::InterceptedService,
    transport::{Channel, Endpoint},
};

use crate::{
    Error, Result,
    resource::{Industry, IsolationTier, Plan, TenantSpec},
};

/// How long one call may take before it counts as failed (and is retried
/// by the controller's backoff).
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// How long connecting to the gateway may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Adds the operator's bearer token to every call.
#[derive(Clone)]
pub struct OperatorBearer(MetadataValue<Ascii>);

impl OperatorBearer {
    /// Sends `authorization` (`Bearer …`) with every call.
    pub fn new(authorization: MetadataValue<Ascii>) -> Self {
        Self(authorization)
    }
}

impl tonic::service::Interceptor for OperatorBearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        kefu_kit::telemetry::inject_trace_context(request.metadata_mut());
        Ok(request)
    }
}

/// `kefu.v1.TenantService` as the platform operator.
#[derive(Clone)]
pub struct TenantsClient {
    client: TenantServiceClient<InterceptedService<Channel, OperatorBearer>>,
}

impl TenantsClient {
    /// A client of the gateway at `gateway_url` (`http://kefu-gateway:8080`)
    /// presenting `operator_token`. Connects lazily: an unreachable gateway
    /// is an error of each call, retried, not of the start.
    pub fn connect(gateway_url: &str, operator_token: &str) -> Result<Self> {
        let endpoint = Endpoint::from_shared(gateway_url.to_owned())
            .map_err(|error| {
                Error::Config(format!("operator.gateway_url {gateway_url:?}: {error}"))
            })?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT);
        Self::with_channel(endpoint.connect_lazy(), operator_token)
    }

    /// A client over `channel`.
    pub fn with_channel(channel: Channel, operator_token: &str) -> Result<Self> {
        let bearer: MetadataValue<Ascii> = format!("Bearer {operator_token}")
            .parse()
            .map_err(|_| Error::Config("auth.operator_token is not valid header text".into()))?;
        Ok(Self {
            client: TenantServiceClient::with_interceptor(channel, OperatorBearer(bearer)),
        })
    }

    /// The tenant `tenants/{id}`, or `None` when the service does not know it.
    pub async fn get(&self, id: &str) -> Result<Option<Tenant>> {
        let request = GetTenantRequest { name: name_of(id) };
        match self.client.clone().get_tenant(request).await {
            Ok(response) => Ok(Some(response.into_inner())),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(Error::tenants("GetTenant", status)),
        }
    }

    /// Creates the tenant of `spec`. `request_id` (the resource's uid) makes
    /// a repeat answer the tenant the first call created.
    pub async fn create(&self, spec: &TenantSpec, request_id: &str) -> Result<Tenant> {
        let request = CreateTenantRequest {
            tenant: Some(desired(spec)),
            request_id: request_id.to_owned(),
            template_version: 0,
            initial_admin_email: spec.initial_admin.email.clone(),
            initial_admin_display_name: spec.initial_admin.display_name.clone(),
        };
        self.client
            .clone()
            .create_tenant(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| Error::tenants("CreateTenant", status))
    }

    /// Changes `paths` of `current` to the values of `spec`, under
    /// `current`'s etag (a concurrent change answers ABORTED and is retried).
    pub async fn update(
        &self,
        current: &Tenant,
        spec: &TenantSpec,
        paths: Vec<String>,
    ) -> Result<Tenant> {
        let tenant = Tenant {
            name: current.name.clone(),
            etag: current.etag.clone(),
            ..desired(spec)
        };
        let request = UpdateTenantRequest {
            tenant: Some(tenant),
            update_mask: Some(prost_types::FieldMask { paths }),
        };
        self.client
            .clone()
            .update_tenant(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| Error::tenants("UpdateTenant", status))
    }

    /// Records where a silo tenant's services run.
    pub async fn set_placement(&self, id: &str, placement: TenantPlacement) -> Result<Tenant> {
        let request = SetTenantPlacementRequest {
            name: name_of(id),
            placement: Some(placement),
        };
        self.client
            .clone()
            .set_tenant_placement(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| Error::tenants("SetTenantPlacement", status))
    }

    /// Starts (or, for the same `request_id`, finds) an export of the tenant.
    pub async fn export(&self, id: &str, request_id: &str) -> Result<TenantExport> {
        let request = ExportTenantDataRequest {
            name: name_of(id),
            request_id: request_id.to_owned(),
        };
        self.client
            .clone()
            .export_tenant_data(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| Error::tenants("ExportTenantData", status))
    }

    /// Requests the tenant's deletion after `grace_period_days` (unset: the
    /// service's default).
    pub async fn delete(&self, id: &str, grace_period_days: Option<i32>) -> Result<()> {
        let request = DeleteTenantRequest {
            name: name_of(id),
            skip_export: false,
            grace_period: grace_period_days.map(|days| prost_types::Duration {
                seconds: i64::from(days) * 86_400,
                nanos: 0,
            }),
            etag: String::new(),
        };
        self.client
            .clone()
            .delete_tenant(request)
            .await
            .map(|_| ())
            .map_err(|status| Error::tenants("DeleteTenant", status))
    }
}

/// `tenants/{id}`.
pub fn name_of(id: &str) -> String {
    format!("tenants/{id}")
}

/// The id in `tenants/{id}`.
pub fn id_of(name: &str) -> &str {
    name.strip_prefix("tenants/").unwrap_or(name)
}

/// The tenant as the spec describes it (the fields the operator manages).
pub fn desired(spec: &TenantSpec) -> Tenant {
    Tenant {
        slug: spec.slug.clone(),
        display_name: spec.display_name.clone(),
        industry: industry(spec.industry) as i32,
        plan_tier: plan(spec.plan) as i32,
        isolation_tier: tier(spec.isolation_tier) as i32,
        time_zone: spec.time_zone.clone(),
        locale: spec.locale.tag().to_owned(),
        ..Tenant::default()
    }
}

/// The fields the tenants service may change (`UpdateTenant` mask paths)
/// whose values differ between `current` and `spec`.
pub fn changed_paths(current: &Tenant, spec: &TenantSpec) -> Vec<String> {
    let wanted = desired(spec);
    let mut paths = Vec::new();
    if current.display_name != wanted.display_name {
        paths.push("display_name".to_owned());
    }
    // An unset plan reads as STARTER, as the service applies it.
    let current_plan = match PlanTier::try_from(current.plan_tier) {
        Ok(PlanTier::Unspecified) | Err(_) => PlanTier::Starter as i32,
        Ok(plan) => plan as i32,
    };
    if current_plan != wanted.plan_tier {
        paths.push("plan_tier".to_owned());
    }
    if current.time_zone != wanted.time_zone {
        paths.push("time_zone".to_owned());
    }
    if current.locale != wanted.locale {
        paths.push("locale".to_owned());
    }
    paths
}

/// The fields the tenants service refuses to change, where they differ.
pub fn immutable_differences(current: &Tenant, spec: &TenantSpec) -> Vec<&'static str> {
    let wanted = desired(spec);
    let current_tier = match ProtoTier::try_from(current.isolation_tier) {
        Ok(ProtoTier::Unspecified) | Err(_) => ProtoTier::Pool as i32,
        Ok(tier) => tier as i32,
    };
    let mut fields = Vec::new();
    if current.slug != wanted.slug {
        fields.push("slug");
    }
    if current.industry != wanted.industry {
        fields.push("industry");
    }
    if current_tier != wanted.isolation_tier {
        fields.push("isolationTier");
    }
    fields
}

fn industry(industry: Industry) -> kefu_proto::v1::Industry {
    use kefu_proto::v1::Industry as Proto;
    match industry {
        Industry::PropertyManagement => Proto::PropertyManagement,
        Industry::Ecommerce => Proto::Ecommerce,
        Industry::SecuritiesBrokerage => Proto::SecuritiesBrokerage,
        Industry::CarDealership => Proto::CarDealership,
        Industry::HealthcareConsulting => Proto::HealthcareConsulting,
        Industry::Hospitality => Proto::Hospitality,
        Industry::Generic => Proto::Generic,
    }
}

fn plan(plan: Plan) -> PlanTier {
    match plan {
        Plan::Starter => PlanTier::Starter,
        Plan::Professional => PlanTier::Professional,
        Plan::Enterprise => PlanTier::Enterprise,
    }
}

fn tier(tier: IsolationTier) -> ProtoTier {
    match tier {
        IsolationTier::Pool => ProtoTier::Pool,
        IsolationTier::Silo => ProtoTier::Silo,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{InitialAdmin, Locale};

    fn spec() -> TenantSpec {
        TenantSpec {
            slug: "acme".into(),
            display_name: "Acme".into(),
            industry: Industry::Ecommerce,
            plan: Plan::Starter,
            isolation_tier: IsolationTier::Pool,
            time_zone: "Asia/Shanghai".into(),
            locale: Locale::ZhCn,
            initial_admin: InitialAdmin {
                email: "it@acme.example".into(),
                display_name: "IT".into(),
            },
            deletion_grace_period_days: None,
        }
    }

    #[test]
    fn only_the_fields_that_differ_are_updated() {
        let current = Tenant {
            name: "tenants/1".into(),
            plan_tier: PlanTier::Unspecified as i32,
            ..desired(&spec())
        };
        assert!(
            changed_paths(&current, &spec()).is_empty(),
            "unset plan is STARTER"
        );
        let wanted = TenantSpec {
            display_name: "Acme Ltd".into(),
            plan: Plan::Enterprise,
            locale: Locale::En,
            ..spec()
        };
        assert_eq!(
            changed_paths(&current, &wanted),
            ["display_name", "plan_tier", "locale"]
        );
    }

    #[test]
    fn immutable_fields_are_reported_not_updated() {
        let current = desired(&spec());
        let moved = TenantSpec {
            isolation_tier: IsolationTier::Silo,
            industry: Industry::Generic,
            ..spec()
        };
        assert_eq!(
            immutable_differences(&current, &moved),
            ["industry", "isolationTier"]
        );
        assert!(immutable_differences(&current, &spec()).is_empty());
    }
}
