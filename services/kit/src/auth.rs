//! The interceptor every service puts in front of its `kefu.v1` methods.
//!
//! It admits a call only with a valid internal credential and refuses any
//! attempt by the caller to name a tenant itself: the tenant is whatever the
//! gateway signed, nothing else.

use std::sync::Arc;

use tonic::{Request, Status, metadata::MetadataMap, service::Interceptor};

use crate::{
    KitError,
    clock::SharedClock,
    context::{CallContext, Principal, TenantId},
    credential::{CREDENTIAL_HEADER, CredentialSigner, CredentialVerifier},
    error::to_status,
};

/// Set by the gateway only (a caller's copy is removed at the edge): the
/// bearer secret the gateway asks the tenants service to resolve, on a call
/// the gateway makes as the system principal.
pub const RESOLVE_BEARER_HEADER: &str = "x-kefu-resolve-bearer";

/// Set by the gateway only: the client's address as the gateway saw it
/// (recorded on portal sessions).
pub const CLIENT_ADDRESS_HEADER: &str = "x-kefu-client-address";

/// Headers only the gateway may set; the gateway drops a caller's copies.
pub const GATEWAY_ONLY_HEADERS: &[&str] = &[RESOLVE_BEARER_HEADER, CLIENT_ADDRESS_HEADER];

/// Headers with which a caller might try to choose a tenant. A call that
/// carries one is refused outright rather than silently ignoring it, so a
/// misconfigured client learns at once that it cannot work this way.
pub const CALLER_SET_TENANT_HEADERS: &[&str] = &[
    "x-kefu-tenant",
    "x-kefu-tenant-id",
    "x-tenant-id",
    "tenant-id",
];

/// Verifies the internal credential and stores the [`CallContext`] in the
/// request's extensions.
#[derive(Clone)]
pub struct InternalAuth {
    verifier: Arc<CredentialVerifier>,
    clock: SharedClock,
}

impl InternalAuth {
    /// An interceptor verifying with `verifier` at `clock`'s time.
    pub fn new(verifier: CredentialVerifier, clock: SharedClock) -> Self {
        Self {
            verifier: Arc::new(verifier),
            clock,
        }
    }

    /// The verified context of a call's metadata.
    pub fn authenticate(&self, metadata: &MetadataMap) -> Result<CallContext, KitError> {
        if let Some(header) = CALLER_SET_TENANT_HEADERS
            .iter()
            .find(|header| metadata.contains_key(**header))
        {
            return Err(KitError::CallerSetTenant((*header).to_owned()));
        }
        let token = metadata
            .get(CREDENTIAL_HEADER)
            .ok_or(KitError::MissingCredential)?
            .to_str()
            .map_err(|_| {
                KitError::InvalidCredential(crate::credential::CredentialError::Malformed)
            })?;
        Ok(self.verifier.verify(token, self.clock.now())?)
    }
}

impl Interceptor for InternalAuth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        match self.authenticate(request.metadata()) {
            Ok(context) => {
                if let Some(tenant_id) = context.tenant_id {
                    tracing::Span::current()
                        .record("tenant_id", tracing::field::display(tenant_id));
                }
                request.extensions_mut().insert(context);
                Ok(request)
            }
            Err(error) => {
                tracing::debug!(error = %error, "call refused");
                Err(to_status(&error))
            }
        }
    }
}

/// Signs outgoing calls from one service to another: attaches a fresh
/// credential and the current trace context.
#[derive(Clone)]
pub struct OutgoingCredential {
    signer: Arc<CredentialSigner>,
    clock: SharedClock,
    tenant_id: Option<TenantId>,
    principal: Principal,
}

impl OutgoingCredential {
    /// Calls made as `principal` in `tenant_id`.
    pub fn new(
        signer: Arc<CredentialSigner>,
        clock: SharedClock,
        tenant_id: Option<TenantId>,
        principal: Principal,
    ) -> Self {
        Self {
            signer,
            clock,
            tenant_id,
            principal,
        }
    }
}

impl Interceptor for OutgoingCredential {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let token = self
            .signer
            .mint(self.tenant_id, self.principal.clone(), self.clock.now());
        let value = token
            .parse()
            .map_err(|_| Status::internal("credential is not valid metadata"))?;
        request.metadata_mut().insert(CREDENTIAL_HEADER, value);
        crate::telemetry::inject_trace_context(request.metadata_mut());
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use tonic::Code;

    use super::*;
    use crate::{clock::SystemClock, credential::CredentialKey};

    fn auth(key: &CredentialKey) -> InternalAuth {
        InternalAuth::new(
            CredentialVerifier::new(vec![key.clone()]),
            Arc::new(SystemClock),
        )
    }

    #[test]
    fn a_call_without_credential_is_unauthenticated() {
        let key = CredentialKey::generate();
        let error = auth(&key).call(Request::new(())).expect_err("refused");
        assert_eq!(error.code(), Code::Unauthenticated);
    }

    #[test]
    fn a_caller_set_tenant_header_is_unauthenticated_even_with_a_credential() {
        let key = CredentialKey::generate();
        let token = CredentialSigner::new(key.clone(), Duration::seconds(60)).mint(
            Some(TenantId::new()),
            Principal::system(),
            chrono::Utc::now(),
        );
        let mut request = Request::new(());
        request
            .metadata_mut()
            .insert(CREDENTIAL_HEADER, token.parse().expect("ascii"));
        request.metadata_mut().insert(
            "x-kefu-tenant",
            TenantId::new().to_string().parse().expect("ascii"),
        );
        let error = auth(&key).call(request).expect_err("refused");
        assert_eq!(error.code(), Code::Unauthenticated);
        assert!(error.message().contains("x-kefu-tenant"));
    }

    #[test]
    fn a_valid_credential_puts_the_context_on_the_request() {
        let key = CredentialKey::generate();
        let tenant = TenantId::new();
        let token = CredentialSigner::new(key.clone(), Duration::seconds(60)).mint(
            Some(tenant),
            Principal::system(),
            chrono::Utc::now(),
        );
        let mut request = Request::new(());
        request
            .metadata_mut()
            .insert(CREDENTIAL_HEADER, token.parse().expect("ascii"));
        let admitted = auth(&key).call(request).expect("admitted");
        let context = admitted
            .extensions()
            .get::<CallContext>()
            .expect("context stored");
        assert_eq!(context.tenant_id, Some(tenant));
    }
}
