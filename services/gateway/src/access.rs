//! Who may call which `kefu.v1` method: the gateway's role and scope check,
//! made before a call is forwarded.
//!
//! Every method of the contract has a [`Rule`]. Most follow from the verb
//! (reads are open to every role, writes to the working roles); the methods
//! whose documentation restricts them (administrators, managers, the
//! platform operator, approvers) are listed in [`OVERRIDES`]. A test reads
//! the contract's own comments and fails when a method documented as
//! "Admins only" or "Platform operator only" is not restricted here, so the
//! table and the promise partners read cannot drift apart.
//!
//! The services check again what only they can see (an approval against the
//! amount, an agent assigning only within their team, a user editing only
//! their own profile); the gateway's check is the first of two.

use kefu_kit::context::{Principal, PrincipalKind};
use kefu_proto::v1::{ApiKeyAccess, Role};

use crate::GatewayError;

/// Who a method is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Callers without a credential yet (Login, AcceptInvitation).
    Anonymous,
    /// The platform operator only: tenants as a whole, never their contents.
    Operator,
    /// The operator and every caller of a tenant (industry templates, who am I).
    Everyone,
    /// A tenant's users and API keys.
    Tenant,
}

/// What a method does to a tenant's data, for API key scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads: a READ or WRITE scope on the owning service suffices.
    Read,
    /// Changes: a WRITE scope on the owning service is needed.
    Write,
    /// About the caller itself (its tenant, its session): no scope needed.
    Open,
}

/// Which users of a tenant may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clearance {
    /// Any role, viewers and technicians included.
    AnyRole,
    /// The working roles: agent, supervisor, manager, admin.
    Staff,
    /// The working roles and field technicians (work recorded on site).
    Field,
    /// Supervisors (客服主管), managers, admins.
    Supervisor,
    /// Managers (客服部经理), admins.
    Manager,
    /// Tenant administrators (a key with the write scope passes).
    Admin,
    /// Tenant administrators signed in to the portal: what a key could
    /// grant itself or others (a user, an invitation, another key) stays
    /// with people.
    AdminUser,
    /// A user with an approval level (部门经理 / 副总经理 / 总经理); the service
    /// checks that the level covers the amount. API keys never approve.
    Approver,
    /// A caller acting on its own account (password, sessions): any role;
    /// an API key is let through for the service to answer that it has no
    /// account (FAILED_PRECONDITION), as the contract promises.
    Account,
}

/// The access rule of one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Who it is for.
    pub audience: Audience,
    /// Read or write, for key scopes.
    pub access: Access,
    /// Which users.
    pub clearance: Clearance,
}

const fn tenant(access: Access, clearance: Clearance) -> Rule {
    Rule {
        audience: Audience::Tenant,
        access,
        clearance,
    }
}

const OPERATOR: Rule = Rule {
    audience: Audience::Operator,
    access: Access::Write,
    clearance: Clearance::Admin,
};
const EVERYONE: Rule = Rule {
    audience: Audience::Everyone,
    access: Access::Read,
    clearance: Clearance::AnyRole,
};
const ANONYMOUS: Rule = Rule {
    audience: Audience::Anonymous,
    access: Access::Write,
    clearance: Clearance::AnyRole,
};
const ADMIN: Rule = tenant(Access::Write, Clearance::Admin);
const ADMIN_USER: Rule = tenant(Access::Write, Clearance::AdminUser);
const ADMIN_READ: Rule = tenant(Access::Read, Clearance::Admin);
const MANAGER: Rule = tenant(Access::Write, Clearance::Manager);
const MANAGER_READ: Rule = tenant(Access::Read, Clearance::Manager);
const SUPERVISOR: Rule = tenant(Access::Write, Clearance::Supervisor);
const FIELD: Rule = tenant(Access::Write, Clearance::Field);
const APPROVER: Rule = tenant(Access::Write, Clearance::Approver);
const ACCOUNT: Rule = tenant(Access::Open, Clearance::Account);
const OWN_TENANT: Rule = tenant(Access::Open, Clearance::AnyRole);

/// The methods whose rule is not the default of their verb, as
/// `Service/Method` (the `kefu.v1.` package left out).
pub const OVERRIDES: &[(&str, Rule)] = &[
    // Tenants as a whole: the platform operator's business alone.
    ("TenantService/CreateTenant", OPERATOR),
    ("TenantService/GetTenant", OPERATOR),
    ("TenantService/ListTenants", OPERATOR),
    ("TenantService/UpdateTenant", OPERATOR),
    ("TenantService/SuspendTenant", OPERATOR),
    ("TenantService/ResumeTenant", OPERATOR),
    ("TenantService/DeleteTenant", OPERATOR),
    ("TenantService/ExportTenantData", OPERATOR),
    ("TenantService/GetTenantExport", OPERATOR),
    ("TenantService/ListTenantExports", OPERATOR),
    ("TenantService/DownloadTenantExport", OPERATOR),
    ("TenantService/SetTenantPlacement", OPERATOR),
    ("TenantService/ListIndustryTemplates", EVERYONE),
    ("TenantService/GetIndustryTemplate", EVERYONE),
    ("IdentityService/GetCurrentPrincipal", EVERYONE),
    // Before a credential exists.
    ("IdentityService/Login", ANONYMOUS),
    ("IdentityService/AcceptInvitation", ANONYMOUS),
    // One's own account.
    ("IdentityService/ChangePassword", ACCOUNT),
    ("IdentityService/Logout", ACCOUNT),
    ("IdentityService/ListSessions", ACCOUNT),
    ("IdentityService/RevokeSession", ACCOUNT),
    // Any user or key of the tenant, whatever its scopes.
    ("TenantService/GetCurrentTenant", OWN_TENANT),
    // The tenant's configuration.
    ("TenantService/UpdateCurrentTenant", ADMIN),
    ("TenantService/CreateSlaPolicy", ADMIN),
    ("TenantService/UpdateSlaPolicy", ADMIN),
    ("TenantService/DeleteSlaPolicy", ADMIN),
    ("TenantService/UpdateApprovalMatrix", ADMIN),
    ("IdentityService/InviteUser", ADMIN_USER),
    ("IdentityService/ResendInvitation", ADMIN_USER),
    ("IdentityService/DeactivateUser", ADMIN_USER),
    ("IdentityService/ReactivateUser", ADMIN_USER),
    ("IdentityService/CreateDepartment", ADMIN),
    ("IdentityService/UpdateDepartment", ADMIN),
    ("IdentityService/DeleteDepartment", ADMIN),
    ("IdentityService/CreateTeam", MANAGER),
    ("IdentityService/UpdateTeam", MANAGER),
    ("IdentityService/DeleteTeam", ADMIN),
    ("IdentityService/AddTeamMember", MANAGER),
    ("IdentityService/RemoveTeamMember", MANAGER),
    ("IdentityService/CreateSkill", ADMIN),
    ("IdentityService/UpdateSkill", ADMIN),
    ("IdentityService/DeleteSkill", ADMIN),
    ("IdentityService/CreateApiKey", ADMIN_USER),
    ("IdentityService/GetApiKey", ADMIN_READ),
    ("IdentityService/ListApiKeys", ADMIN_READ),
    ("IdentityService/RevokeApiKey", ADMIN_USER),
    ("CustomerService/UpdateCustomerAttributeSchema", ADMIN),
    ("CustomerService/CreateTier", ADMIN),
    ("CustomerService/UpdateTier", ADMIN),
    ("CustomerService/DeleteTier", ADMIN),
    ("TicketService/CreateTicketKind", ADMIN),
    ("TicketService/UpdateTicketKind", ADMIN),
    ("TicketService/DeleteTicketKind", ADMIN),
    ("TicketService/CreateTicketCategory", ADMIN),
    ("TicketService/UpdateTicketCategory", ADMIN),
    ("TicketService/DeleteTicketCategory", ADMIN),
    ("TicketService/CreateTicketFieldDefinition", ADMIN),
    ("TicketService/UpdateTicketFieldDefinition", ADMIN),
    ("TicketService/DeleteTicketFieldDefinition", ADMIN),
    ("CallbackService/CreateCallbackPolicy", ADMIN),
    ("CallbackService/UpdateCallbackPolicy", ADMIN),
    ("CallbackService/DeleteCallbackPolicy", ADMIN),
    ("CallbackService/CreateCallbackScript", ADMIN),
    ("CallbackService/UpdateCallbackScript", ADMIN),
    ("CallbackService/DeleteCallbackScript", ADMIN),
    ("CallbackService/CreateSurvey", ADMIN),
    ("CallbackService/UpdateSurvey", ADMIN),
    ("CallbackService/DeleteSurvey", ADMIN),
    // Management: dispatch, countersigning, reports, bulk personal data.
    ("DispatchService/DispatchTechnician", MANAGER),
    ("DispatchService/CountersignDispatch", MANAGER),
    ("DispatchService/ApproveOutOfTownDispatch", MANAGER),
    ("DispatchService/RejectOutOfTownDispatch", MANAGER),
    ("AnalyticsService/CreateReportSubscription", MANAGER),
    ("AnalyticsService/UpdateReportSubscription", MANAGER),
    ("AnalyticsService/DeleteReportSubscription", MANAGER),
    ("AnalyticsService/DeliverReportSubscription", MANAGER),
    ("CustomerService/DeleteCustomer", MANAGER),
    ("CustomerService/ExportCustomers", MANAGER_READ),
    ("CustomerService/EraseCustomer", MANAGER),
    // Supervision: classifying, assigning, merging, campaigns, quality.
    ("AnalyticsService/CreateQualityReview", SUPERVISOR),
    ("CustomerService/AssignCustomerOwner", SUPERVISOR),
    ("CustomerService/AutoAssignCustomers", SUPERVISOR),
    ("CustomerService/ReassignCustomers", SUPERVISOR),
    ("CustomerService/MergeCustomers", SUPERVISOR),
    ("CustomerService/UndoCustomerMerge", SUPERVISOR),
    ("CustomerService/CreateSegment", SUPERVISOR),
    ("CustomerService/UpdateSegment", SUPERVISOR),
    ("CustomerService/DeleteSegment", SUPERVISOR),
    ("CustomerService/CreateCustomerImport", SUPERVISOR),
    ("CustomerService/CancelCustomerImport", SUPERVISOR),
    ("CallbackService/ReassignCallbackTask", SUPERVISOR),
    ("CallbackService/CancelCallbackTask", SUPERVISOR),
    ("CallbackService/CreateCampaign", SUPERVISOR),
    ("CallbackService/UpdateCampaign", SUPERVISOR),
    ("CallbackService/StartCampaign", SUPERVISOR),
    ("CallbackService/CancelCampaign", SUPERVISOR),
    ("ComplaintService/JudgeComplaint", SUPERVISOR),
    ("TicketService/CreateIncident", SUPERVISOR),
    ("TicketService/ResolveIncident", SUPERVISOR),
    // Approval by amount: the service compares the level with the amount.
    ("ComplaintService/ApproveProposal", APPROVER),
    ("ComplaintService/RejectProposal", APPROVER),
    // On site: the technician records the visit.
    ("DispatchService/RecordArrival", FIELD),
    ("DispatchService/RecordWork", FIELD),
    ("DispatchService/RecordCustomerSignOff", FIELD),
    ("DispatchService/CompleteDispatch", FIELD),
];

/// The verbs that only read.
const READ_VERBS: &[&str] = &[
    "Get", "List", "Search", "Find", "Preview", "Render", "Export",
];

/// The leading verb of a method name (`GetTicket` → `Get`).
fn verb(method: &str) -> &str {
    let end = method
        .char_indices()
        .skip(1)
        .find(|(_, character)| character.is_ascii_uppercase())
        .map_or(method.len(), |(index, _)| index);
    &method[..end]
}

/// The rule of `path` (`kefu.v1.TicketService/GetTicket`), or `None` when
/// the contract has no such method.
pub fn rule_of(path: &str) -> Option<Rule> {
    let short = path.strip_prefix("kefu.v1.")?;
    let (service, method) = short.split_once('/')?;
    crate::contract::method(service, method)?;
    if let Some((_, rule)) = OVERRIDES.iter().find(|(method, _)| *method == short) {
        return Some(*rule);
    }
    let method = short.rsplit('/').next().unwrap_or_default();
    Some(if READ_VERBS.contains(&verb(method)) {
        tenant(Access::Read, Clearance::AnyRole)
    } else {
        tenant(Access::Write, Clearance::Staff)
    })
}

/// The scope an API key needs for a method of `target` (`tickets`);
/// `None` when the method needs none.
pub fn scope_name(target: &str, access: Access) -> Option<String> {
    match access {
        Access::Read => Some(format!("{target}:read")),
        Access::Write => Some(format!("{target}:write")),
        Access::Open => None,
    }
}

/// The scope strings an API key's `ApiKeyScope`s grant, as carried in the
/// principal's roles: WRITE grants read too.
pub fn scopes_granted(scopes: &[kefu_proto::v1::ApiKeyScope]) -> Vec<String> {
    let mut granted = Vec::new();
    for scope in scopes {
        match ApiKeyAccess::try_from(scope.access) {
            Ok(ApiKeyAccess::Write) => {
                granted.extend(scope_name(&scope.service, Access::Read));
                granted.extend(scope_name(&scope.service, Access::Write));
            }
            Ok(ApiKeyAccess::Read) => granted.extend(scope_name(&scope.service, Access::Read)),
            _ => {}
        }
    }
    granted
}

fn holds(principal: &Principal, roles: &[Role]) -> bool {
    principal
        .roles
        .iter()
        .any(|held| roles.iter().any(|role| role.as_str_name() == held))
}

fn denied(message: String) -> GatewayError {
    GatewayError::PermissionDenied(message)
}

/// Whether `principal` may call a method of `target` under `rule`.
pub fn authorize(rule: &Rule, target: &str, principal: &Principal) -> Result<(), GatewayError> {
    let operator = principal.kind == PrincipalKind::PlatformOperator;
    match (rule.audience, operator) {
        (Audience::Anonymous | Audience::Everyone, _) => return Ok(()),
        (Audience::Operator, true) => return Ok(()),
        (Audience::Operator, false) => {
            return Err(denied("only the platform operator manages tenants".into()));
        }
        (Audience::Tenant, true) => {
            return Err(denied(
                "the platform operator manages tenants and sees nothing inside them".into(),
            ));
        }
        (Audience::Tenant, false) => {}
    }
    match principal.kind {
        PrincipalKind::ApiKey => authorize_key(rule, target, principal),
        PrincipalKind::User => authorize_user(rule, principal),
        _ => Err(denied("this caller cannot act inside a tenant".into())),
    }
}

fn authorize_key(rule: &Rule, target: &str, principal: &Principal) -> Result<(), GatewayError> {
    match rule.clearance {
        Clearance::Approver => {
            return Err(denied(
                "approvals are decided by a user with approval authority, not by an API key".into(),
            ));
        }
        Clearance::AdminUser => {
            return Err(denied(
                "user and key administration needs an administrator signed in to the portal".into(),
            ));
        }
        _ => {}
    }
    match scope_name(target, rule.access) {
        Some(needed) if !principal.roles.contains(&needed) => {
            Err(GatewayError::ScopeMissing(needed))
        }
        _ => Ok(()),
    }
}

fn authorize_user(rule: &Rule, principal: &Principal) -> Result<(), GatewayError> {
    const STAFF: &[Role] = &[Role::Agent, Role::Supervisor, Role::Manager, Role::Admin];
    let (allowed, what): (bool, &str) = match rule.clearance {
        Clearance::AnyRole | Clearance::Account => (true, ""),
        Clearance::Staff => (
            holds(principal, STAFF),
            "an agent, supervisor, manager or admin",
        ),
        Clearance::Field => (
            holds(principal, STAFF) || holds(principal, &[Role::Technician]),
            "an agent, technician, supervisor, manager or admin",
        ),
        Clearance::Supervisor => (
            holds(principal, &[Role::Supervisor, Role::Manager, Role::Admin]),
            "a supervisor, manager or admin",
        ),
        Clearance::Manager => (
            holds(principal, &[Role::Manager, Role::Admin]),
            "a manager or admin",
        ),
        Clearance::Admin | Clearance::AdminUser => {
            (holds(principal, &[Role::Admin]), "the tenant administrator")
        }
        Clearance::Approver => (
            principal.approval_level > 0,
            "a user with approval authority",
        ),
    };
    if allowed {
        Ok(())
    } else {
        Err(denied(format!("this needs {what}")))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use prost::Message;

    use super::*;

    /// Every `kefu.v1` method (`TicketService/GetTicket`) with its comment.
    fn documented_methods() -> BTreeMap<String, String> {
        let set = prost_types::FileDescriptorSet::decode(kefu_proto::FILE_DESCRIPTOR_SET)
            .expect("descriptors decode");
        let mut methods = BTreeMap::new();
        for file in set.file.iter().filter(|file| file.package() == "kefu.v1") {
            let comments: BTreeMap<Vec<i32>, String> = file
                .source_code_info
                .iter()
                .flat_map(|info| info.location.iter())
                .map(|location| {
                    (
                        location.path.clone(),
                        location.leading_comments().replace('\n', " "),
                    )
                })
                .collect();
            for (service_index, service) in file.service.iter().enumerate() {
                for (method_index, method) in service.method.iter().enumerate() {
                    let path = vec![6, service_index as i32, 2, method_index as i32];
                    methods.insert(
                        format!("{}/{}", service.name(), method.name()),
                        comments.get(&path).cloned().unwrap_or_default(),
                    );
                }
            }
        }
        methods
    }

    fn user(roles: &[Role], approval_level: i32) -> Principal {
        Principal {
            kind: PrincipalKind::User,
            id: "u".into(),
            roles: roles.iter().map(|role| role.as_str_name().into()).collect(),
            session: None,
            approval_level,
        }
    }

    fn key(scopes: &[&str]) -> Principal {
        Principal {
            kind: PrincipalKind::ApiKey,
            id: "k".into(),
            roles: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
            session: None,
            approval_level: 0,
        }
    }

    #[test]
    fn every_override_names_a_method_of_the_contract_once() {
        let methods = documented_methods();
        let mut seen = BTreeSet::new();
        for (method, _) in OVERRIDES {
            assert!(methods.contains_key(*method), "{method} is not in kefu.v1");
            assert!(seen.insert(*method), "{method} is listed twice");
        }
    }

    #[test]
    fn the_table_enforces_what_the_contract_documents() {
        for (method, comment) in documented_methods() {
            let rule = rule_of(&format!("kefu.v1.{method}")).expect("in the contract");
            let names = |words: &[&str]| words.iter().any(|phrase| comment.contains(phrase));
            if names(&["Admins and managers"]) {
                assert_eq!(rule.clearance, Clearance::Manager, "{method}: {comment}");
            }
            if names(&["Supervisors and managers"]) {
                assert_eq!(rule.clearance, Clearance::Supervisor, "{method}: {comment}");
            }
            if names(&["with a portal session"]) {
                assert_eq!(rule.clearance, Clearance::AdminUser, "{method}: {comment}");
            }
            if names(&["Any user or API key"]) {
                assert_eq!(rule.access, Access::Open, "{method}: {comment}");
            }
            if comment.contains("Platform operator only") {
                assert_eq!(rule.audience, Audience::Operator, "{method}: {comment}");
            }
            if comment.contains("Admins only") || comment.contains("ROLE_ADMIN only") {
                assert!(
                    matches!(rule.clearance, Clearance::Admin | Clearance::AdminUser),
                    "{method}: {comment}"
                );
            }
            if comment.contains("Managers only") {
                assert_eq!(rule.clearance, Clearance::Manager, "{method}: {comment}");
            }
            if comment.contains("Managers and admins only") {
                assert_eq!(rule.clearance, Clearance::Manager, "{method}: {comment}");
            }
            let name = method.rsplit('/').next().unwrap_or_default();
            if READ_VERBS.contains(&verb(name)) && rule.audience == Audience::Tenant {
                assert_ne!(rule.access, Access::Write, "{method} only reads");
            }
        }
    }

    #[test]
    fn methods_outside_the_contract_have_no_rule() {
        assert!(rule_of("kefu.v1.TicketService/GetTicket").is_some());
        assert!(rule_of("kefu.v1.TicketService/GetawayTicket").is_none());
        assert!(rule_of("kefu.v1.NoService/GetTicket").is_none());
        assert!(rule_of("TicketService/GetTicket").is_none());
        assert_eq!(verb("GetTicket"), "Get");
        assert_eq!(verb("Getaway"), "Getaway");
    }

    #[test]
    fn keys_never_administer_users_or_keys() {
        let writer = key(&["tenants:read", "tenants:write"]);
        for method in [
            "kefu.v1.IdentityService/InviteUser",
            "kefu.v1.IdentityService/ResendInvitation",
            "kefu.v1.IdentityService/CreateApiKey",
            "kefu.v1.IdentityService/RevokeApiKey",
        ] {
            let rule = rule_of(method).expect("rule");
            assert!(authorize(&rule, "tenants", &writer).is_err(), "{method}");
            assert!(
                authorize(&rule, "tenants", &user(&[Role::Admin], 0)).is_ok(),
                "{method}"
            );
        }
        let own = rule_of("kefu.v1.TenantService/GetCurrentTenant").expect("rule");
        assert!(authorize(&own, "tenants", &key(&["customers:read"])).is_ok());
    }

    #[test]
    fn the_operator_manages_tenants_and_reads_nothing_inside_them() {
        let operator = Principal::platform_operator();
        let create = rule_of("kefu.v1.TenantService/CreateTenant").expect("rule");
        assert!(authorize(&create, "tenants", &operator).is_ok());
        for method in [
            "kefu.v1.TicketService/GetTicket",
            "kefu.v1.CustomerService/ListCustomers",
            "kefu.v1.IdentityService/ListUsers",
            "kefu.v1.TenantService/GetCurrentTenant",
        ] {
            let error =
                authorize(&rule_of(method).expect("rule"), "tickets", &operator).expect_err(method);
            assert!(matches!(error, GatewayError::PermissionDenied(_)));
        }
        let admin = user(&[Role::Admin], 3);
        assert!(authorize(&create, "tenants", &admin).is_err());
        let templates = rule_of("kefu.v1.TenantService/ListIndustryTemplates").expect("rule");
        assert!(authorize(&templates, "tenants", &operator).is_ok());
        assert!(authorize(&templates, "tenants", &admin).is_ok());
    }

    #[test]
    fn roles_gate_configuration_and_management() {
        let agent = user(&[Role::Agent], 0);
        let viewer = user(&[Role::Viewer], 0);
        let admin = user(&[Role::Admin], 0);
        let sla = rule_of("kefu.v1.TenantService/UpdateSlaPolicy").expect("rule");
        assert!(authorize(&sla, "tenants", &agent).is_err());
        assert!(authorize(&sla, "tenants", &admin).is_ok());
        let create_ticket = rule_of("kefu.v1.TicketService/CreateTicket").expect("rule");
        assert!(authorize(&create_ticket, "tickets", &agent).is_ok());
        assert!(authorize(&create_ticket, "tickets", &viewer).is_err());
        let read = rule_of("kefu.v1.TicketService/ListTickets").expect("rule");
        assert!(authorize(&read, "tickets", &viewer).is_ok());
        let countersign = rule_of("kefu.v1.DispatchService/CountersignDispatch").expect("rule");
        assert!(authorize(&countersign, "tickets", &agent).is_err());
        assert!(authorize(&countersign, "tickets", &user(&[Role::Manager], 0)).is_ok());
        let arrival = rule_of("kefu.v1.DispatchService/RecordArrival").expect("rule");
        assert!(authorize(&arrival, "tickets", &user(&[Role::Technician], 0)).is_ok());
        assert!(authorize(&countersign, "tickets", &user(&[Role::Technician], 0)).is_err());
    }

    #[test]
    fn only_users_with_approval_authority_approve() {
        let approve = rule_of("kefu.v1.ComplaintService/ApproveProposal").expect("rule");
        assert!(authorize(&approve, "tickets", &user(&[Role::Agent], 0)).is_err());
        assert!(authorize(&approve, "tickets", &user(&[Role::Agent], 1)).is_ok());
        let writer = key(&["tickets:read", "tickets:write"]);
        assert!(authorize(&approve, "tickets", &writer).is_err());
    }

    #[test]
    fn api_keys_act_within_their_scopes() {
        let reader = key(&scopes_granted(&[kefu_proto::v1::ApiKeyScope {
            service: "tickets".into(),
            access: ApiKeyAccess::Read as i32,
        }])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
        let get = rule_of("kefu.v1.TicketService/GetTicket").expect("rule");
        let create = rule_of("kefu.v1.TicketService/CreateTicket").expect("rule");
        assert!(authorize(&get, "tickets", &reader).is_ok());
        assert!(authorize(&create, "tickets", &reader).is_err());
        assert!(authorize(&get, "customers", &reader).is_err());
        let writer = key(&scopes_granted(&[kefu_proto::v1::ApiKeyScope {
            service: "tickets".into(),
            access: ApiKeyAccess::Write as i32,
        }])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
        assert!(authorize(&get, "tickets", &writer).is_ok());
        assert!(authorize(&create, "tickets", &writer).is_ok());
        // A key has no password: the service answers FAILED_PRECONDITION.
        let password = rule_of("kefu.v1.IdentityService/ChangePassword").expect("rule");
        assert!(authorize(&password, "tenants", &key(&[])).is_ok());
    }
}
