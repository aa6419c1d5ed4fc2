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
    /// Tenant administrators.
    Admin,
    /// A user with an approval level (部门经理 / 副总经理 / 总经理); the service
    /// checks that the level covers the amount. API keys never approve.
    Approver,
    /// A portal user acting on their own account (password, sessions);
    /// API keys have no account.
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
const ADMIN_READ: Rule = tenant(Access::Read, Clearance::Admin);
const MANAGER: Rule = tenant(Access::Write, Clearance::Manager);
const MANAGER_READ: Rule = tenant(Access::Read, Clearance::Manager);
const SUPERVISOR: Rule = tenant(Access::Write, Clearance::Supervisor);
const FIELD: Rule = tenant(Access::Write, Clearance::Field);
const APPROVER: Rule = tenant(Access::Write, Clearance::Approver);
const ACCOUNT: Rule = tenant(Access::Write, Clearance::Account);
const ACCOUNT_READ: Rule = tenant(Access::Read, Clearance::Account);

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
    ("IdentityService/ListSessions", ACCOUNT_READ),
    ("IdentityService/RevokeSession", ACCOUNT),
    // The tenant's configuration.
    ("TenantService/UpdateCurrentTenant", ADMIN),
    ("TenantService/CreateSlaPolicy", ADMIN),
    ("TenantService/UpdateSlaPolicy", ADMIN),
    ("TenantService/DeleteSlaPolicy", ADMIN),
    ("TenantService/UpdateApprovalMatrix", ADMIN),
    ("IdentityService/InviteUser", ADMIN),
    ("IdentityService/ResendInvitation", ADMIN),
    ("IdentityService/DeactivateUser", ADMIN),
    ("IdentityService/ReactivateUser", ADMIN),
    ("IdentityService/CreateDepartment", ADMIN),
    ("IdentityService/UpdateDepartment", ADMIN),
    ("IdentityService/DeleteDepartment", ADMIN),
    ("IdentityService/CreateTeam", ADMIN),
    ("IdentityService/UpdateTeam", ADMIN),
    ("IdentityService/DeleteTeam", ADMIN),
    ("IdentityService/AddTeamMember", ADMIN),
    ("IdentityService/RemoveTeamMember", ADMIN),
    ("IdentityService/CreateSkill", ADMIN),
    ("IdentityService/UpdateSkill", ADMIN),
    ("IdentityService/DeleteSkill", ADMIN),
    ("IdentityService/CreateApiKey", ADMIN),
    ("IdentityService/GetApiKey", ADMIN_READ),
    ("IdentityService/ListApiKeys", ADMIN_READ),
    ("IdentityService/RevokeApiKey", ADMIN),
    ("CustomerService/UpdateCustomerAttributeSchema", ADMIN),
    ("CustomerService/CreateTier", ADMIN),
    ("CustomerService/UpdateTier", ADMIN),
    ("CustomerService/DeleteTier", ADMIN),
    ("CustomerService/EraseCustomer", ADMIN),
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

/// The rule of `path` (`kefu.v1.TicketService/GetTicket`).
pub fn rule_of(path: &str) -> Rule {
    let short = path.strip_prefix("kefu.v1.").unwrap_or(path);
    if let Some((_, rule)) = OVERRIDES.iter().find(|(method, _)| *method == short) {
        return *rule;
    }
    let method = short.rsplit('/').next().unwrap_or_default();
    if READ_VERBS.iter().any(|verb| method.starts_with(verb)) {
        tenant(Access::Read, Clearance::AnyRole)
    } else {
        tenant(Access::Write, Clearance::Staff)
    }
}

/// The scope an API key needs for a method of `target` (`tickets`).
pub fn scope_name(target: &str, access: Access) -> String {
    match access {
        Access::Read => format!("{target}:read"),
        Access::Write => format!("{target}:write"),
    }
}

/// The scope strings an API key's `ApiKeyScope`s grant, as carried in the
/// principal's roles: WRITE grants read too.
pub fn scopes_granted(scopes: &[kefu_proto::v1::ApiKeyScope]) -> Vec<String> {
    let mut granted = Vec::new();
    for scope in scopes {
        match ApiKeyAccess::try_from(scope.access) {
            Ok(ApiKeyAccess::Write) => {
                granted.push(scope_name(&scope.service, Access::Read));
                granted.push(scope_name(&scope.service, Access::Write));
            }
            Ok(ApiKeyAccess::Read) => granted.push(scope_name(&scope.service, Access::Read)),
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
        Clearance::Account => {
            return Err(denied(
                "this method acts on a user's own account: call it from a portal session".into(),
            ));
        }
        Clearance::Approver => {
            return Err(denied(
                "approvals are decided by a user with approval authority, not by an API key".into(),
            ));
        }
        _ => {}
    }
    let needed = scope_name(target, rule.access);
    if principal.roles.contains(&needed) {
        Ok(())
    } else {
        Err(GatewayError::ScopeMissing(needed))
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
        Clearance::Admin => (holds(principal, &[Role::Admin]), "the tenant administrator"),
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
            let rule = rule_of(&format!("kefu.v1.{method}"));
            if comment.contains("Platform operator only") {
                assert_eq!(rule.audience, Audience::Operator, "{method}: {comment}");
            }
            if comment.contains("Admins only") || comment.contains("ROLE_ADMIN only") {
                assert_eq!(rule.clearance, Clearance::Admin, "{method}: {comment}");
            }
            if comment.contains("Managers only") {
                assert_eq!(rule.clearance, Clearance::Manager, "{method}: {comment}");
            }
            if comment.contains("Managers and admins only") {
                assert_eq!(rule.clearance, Clearance::Manager, "{method}: {comment}");
            }
            if comment.contains("Supervisors and managers only") {
                assert_eq!(rule.clearance, Clearance::Supervisor, "{method}: {comment}");
            }
            let verb_reads = READ_VERBS.iter().any(|verb| {
                method
                    .rsplit('/')
                    .next()
                    .is_some_and(|name| name.starts_with(verb))
            });
            if verb_reads && rule.audience == Audience::Tenant {
                assert_eq!(rule.access, Access::Read, "{method} only reads");
            }
        }
    }

    #[test]
    fn the_operator_manages_tenants_and_reads_nothing_inside_them() {
        let operator = Principal::platform_operator();
        let create = rule_of("kefu.v1.TenantService/CreateTenant");
        assert!(authorize(&create, "tenants", &operator).is_ok());
        for method in [
            "kefu.v1.TicketService/GetTicket",
            "kefu.v1.CustomerService/ListCustomers",
            "kefu.v1.IdentityService/ListUsers",
            "kefu.v1.TenantService/GetCurrentTenant",
        ] {
            let error = authorize(&rule_of(method), "tickets", &operator).expect_err(method);
            assert!(matches!(error, GatewayError::PermissionDenied(_)));
        }
        let admin = user(&[Role::Admin], 3);
        assert!(authorize(&create, "tenants", &admin).is_err());
        let templates = rule_of("kefu.v1.TenantService/ListIndustryTemplates");
        assert!(authorize(&templates, "tenants", &operator).is_ok());
        assert!(authorize(&templates, "tenants", &admin).is_ok());
    }

    #[test]
    fn roles_gate_configuration_and_management() {
        let agent = user(&[Role::Agent], 0);
        let viewer = user(&[Role::Viewer], 0);
        let admin = user(&[Role::Admin], 0);
        let sla = rule_of("kefu.v1.TenantService/UpdateSlaPolicy");
        assert!(authorize(&sla, "tenants", &agent).is_err());
        assert!(authorize(&sla, "tenants", &admin).is_ok());
        let create_ticket = rule_of("kefu.v1.TicketService/CreateTicket");
        assert!(authorize(&create_ticket, "tickets", &agent).is_ok());
        assert!(authorize(&create_ticket, "tickets", &viewer).is_err());
        let read = rule_of("kefu.v1.TicketService/ListTickets");
        assert!(authorize(&read, "tickets", &viewer).is_ok());
        let countersign = rule_of("kefu.v1.DispatchService/CountersignDispatch");
        assert!(authorize(&countersign, "tickets", &agent).is_err());
        assert!(authorize(&countersign, "tickets", &user(&[Role::Manager], 0)).is_ok());
        let arrival = rule_of("kefu.v1.DispatchService/RecordArrival");
        assert!(authorize(&arrival, "tickets", &user(&[Role::Technician], 0)).is_ok());
        assert!(authorize(&countersign, "tickets", &user(&[Role::Technician], 0)).is_err());
    }

    #[test]
    fn only_users_with_approval_authority_approve() {
        let approve = rule_of("kefu.v1.ComplaintService/ApproveProposal");
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
        let get = rule_of("kefu.v1.TicketService/GetTicket");
        let create = rule_of("kefu.v1.TicketService/CreateTicket");
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
        let password = rule_of("kefu.v1.IdentityService/ChangePassword");
        assert!(authorize(&password, "tenants", &writer).is_err());
    }
}
