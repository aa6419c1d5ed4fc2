//! Which rate-limit buckets a call draws from, and at what rate.
//!
//! A tenant's calls share one bucket sized by its plan; each API key or user
//! inside it has its own smaller bucket, so one runaway integration cannot
//! use up its whole tenant. Calls without credential (Login) draw from a
//! bucket per client address. Buckets are keyed by tenant, so tenants never
//! compete with each other for tokens.

use kefu_kit::{config::LimitsConfig, context::PrincipalKind};
use kefu_proto::v1::PlanTier;

use crate::{
    authn::Authenticated,
    ratelimit::{BucketKey, Rate},
};

/// The tenant slot of the operator's bucket (the operator has no tenant).
const PLATFORM: &str = "platform";
/// The tenant slot of calls without credential.
const ANONYMOUS: &str = "anonymous";

/// The rates of each plan, from configuration.
#[derive(Debug, Clone)]
pub struct RateLimits {
    config: LimitsConfig,
}

impl RateLimits {
    /// Limits as configured.
    pub fn new(config: LimitsConfig) -> Self {
        Self { config }
    }

    /// Whether calls are limited at all.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    fn rate(&self, per_second: f64) -> Rate {
        Rate {
            per_second,
            // Never below one token, or a bucket could refuse every call.
            burst: (per_second * self.config.burst_seconds).ceil().max(1.0) as u32,
        }
    }

    /// A tenant's rate under `plan`.
    pub fn tenant_rate(&self, plan: PlanTier) -> Rate {
        self.rate(match plan {
            PlanTier::Professional => self.config.professional_per_second,
            PlanTier::Enterprise => self.config.enterprise_per_second,
            PlanTier::Starter | PlanTier::Unspecified => self.config.starter_per_second,
        })
    }

    /// The buckets of an authenticated caller's call.
    pub fn buckets(&self, caller: &Authenticated) -> Vec<(BucketKey, Rate)> {
        let Some(tenant) = caller.tenant_id else {
            let rate = self.rate(self.config.enterprise_per_second);
            return vec![(BucketKey::tenant(PLATFORM), rate)];
        };
        let tenant_rate = self.tenant_rate(caller.plan_tier);
        let credential_rate = self.rate(tenant_rate.per_second * self.config.credential_share);
        let tenant_key = tenant.to_string();
        let credential = match caller.principal.kind {
            PrincipalKind::ApiKey => BucketKey::api_key(tenant_key.clone(), &caller.principal.id),
            _ => BucketKey::user(tenant_key.clone(), &caller.principal.id),
        };
        vec![
            (BucketKey::tenant(tenant_key), tenant_rate),
            (credential, credential_rate),
        ]
    }

    /// The bucket of a call without credential from `client` (its address).
    pub fn anonymous_buckets(&self, client: &str) -> Vec<(BucketKey, Rate)> {
        vec![(
            BucketKey {
                tenant: ANONYMOUS.to_owned(),
                scope: format!("client:{client}"),
            },
            self.rate(self.config.anonymous_per_second),
        )]
    }
}

#[cfg(test)]
mod tests {
    use kefu_kit::context::{Principal, TenantId};

    use super::*;

    fn caller(tenant: TenantId, kind: PrincipalKind, id: &str, plan: PlanTier) -> Authenticated {
        Authenticated {
            tenant_id: Some(tenant),
            principal: Principal {
                kind,
                id: id.into(),
                ..Principal::system()
            },
            plan_tier: plan,
        }
    }

    #[test]
    fn a_call_draws_from_its_tenant_and_its_credential() {
        let limits = RateLimits::new(LimitsConfig::default());
        let tenant = TenantId::new();
        let buckets = limits.buckets(&caller(
            tenant,
            PrincipalKind::ApiKey,
            "k1",
            PlanTier::Professional,
        ));
        assert_eq!(buckets.len(), 2);
        assert_eq!(buckets[0].0, BucketKey::tenant(tenant.to_string()));
        assert_eq!(buckets[0].1.per_second, 100.0);
        assert_eq!(buckets[0].1.burst, 200);
        assert_eq!(buckets[1].0, BucketKey::api_key(tenant.to_string(), "k1"));
        assert_eq!(buckets[1].1.per_second, 50.0);
    }

    #[test]
    fn plans_set_the_tenant_rate() {
        let limits = RateLimits::new(LimitsConfig::default());
        assert_eq!(limits.tenant_rate(PlanTier::Unspecified).per_second, 20.0);
        assert_eq!(limits.tenant_rate(PlanTier::Starter).per_second, 20.0);
        assert_eq!(limits.tenant_rate(PlanTier::Enterprise).per_second, 500.0);
    }

    #[test]
    fn two_tenants_never_share_a_bucket() {
        let limits = RateLimits::new(LimitsConfig::default());
        let a = limits.buckets(&caller(
            TenantId::new(),
            PrincipalKind::User,
            "same-id",
            PlanTier::Starter,
        ));
        let b = limits.buckets(&caller(
            TenantId::new(),
            PrincipalKind::User,
            "same-id",
            PlanTier::Starter,
        ));
        for (key, _) in &a {
            assert!(b.iter().all(|(other, _)| other != key));
        }
    }
}
