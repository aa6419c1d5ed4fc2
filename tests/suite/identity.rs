//! The organisation and account methods of `kefu.v1.IdentityService` over
//! real gRPC on both backends: departments, teams and skills round trips
//! with field masks and etags, who may change what, passwords and sessions,
//! and tenant B probing tenant A's resources (NOT_FOUND, nothing changed).

use kefu_kit::{
    context::{Principal, TenantId},
    testing::Backend,
};
use kefu_proto::v1::{
    AcceptInvitationRequest, AddTeamMemberRequest, ChangePasswordRequest, CreateDepartmentRequest,
    CreateSkillRequest, CreateTeamRequest, DeactivateUserRequest, DeleteDepartmentRequest,
    DeleteSkillRequest, DeleteTeamRequest, Department, DepartmentKind, GetDepartmentRequest,
    GetSkillRequest, GetTeamRequest, GetUserRequest, InviteUserRequest, ListDepartmentsRequest,
    ListSessionsRequest, ListSkillsRequest, ListTeamsRequest, ListUsersRequest, LocalizedText,
    ReactivateUserRequest, RemoveTeamMemberRequest, ResendInvitationRequest, RevokeSessionRequest,
    Role, Skill, Team, TeamTier, Tenant, UpdateDepartmentRequest, UpdateSkillRequest,
    UpdateTeamRequest, UpdateUserRequest, User, UserSkill, UserState,
    identity_service_client::IdentityServiceClient,
};
use kefu_proto::v1::{
    ApiKey, ApiKeyAccess, ApiKeyScope, CreateApiKeyRequest, ListApiKeysRequest, LoginRequest,
    LogoutRequest, RevokeApiKeyRequest, SessionsRevoked, SuspendTenantRequest, UserCreated,
    UserDeactivated, UserUpdated,
};
use tonic::Code;

use super::tenants::{
    Intercepted, PASSWORD, World, admin, field_of, key_principal, tenant_id, user,
};

/// `request` with its `update_mask` set to `paths`.
macro_rules! masked {
    ($request:expr, [$($path:expr),+ $(,)?]) => {{
        let mut request = $request;
        request.update_mask = Some(Default::default());
        request.update_mask.as_mut().expect("mask").paths = vec![$(String::from($path)),+];
        request
    }};
}

/// The user `user_name` holding `role`, signed in with the session
/// `session` (a session's resource name).
fn user_principal(user_name: &str, role: Role, session: Option<&str>) -> Principal {
    Principal {
        session: session.map(|name| {
            name.rsplit_once("/sessions/")
                .expect("session name")
                .1
                .to_owned()
        }),
        ..user(user_name, role)
    }
}

fn label(text: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        values: [("zh-CN".to_owned(), text.to_owned())]
            .into_iter()
            .collect(),
    })
}

/// A tenant and the name of its first administrator.
async fn tenant_with_admin(world: &World, slug: &str) -> (Tenant, TenantId, String) {
    let tenant = world.tenant(slug).await;
    let id = tenant_id(&tenant);
    let users = world
        .identity(Some(id), key_principal())
        .list_users(ListUsersRequest::default())
        .await
        .expect("list users")
        .into_inner()
        .users;
    (tenant, id, users[0].name.clone())
}

async fn invite(client: &mut IdentityServiceClient<Intercepted>, email: &str, role: Role) -> User {
    client
        .invite_user(InviteUserRequest {
            user: Some(User {
                display_name: "李娜".into(),
                email: email.into(),
                roles: vec![role as i32],
                ..User::default()
            }),
            ..InviteUserRequest::default()
        })
        .await
        .expect("invite")
        .into_inner()
        .user
        .expect("user")
}

async fn organisation_round_trips_and_stays_in_its_tenant(backend: Backend) {
    let Some(world) = World::start(backend).await else {
        return;
    };
    let (_, a, a_admin) = tenant_with_admin(&world, "acme").await;
    let (_, b, b_admin) = tenant_with_admin(&world, "bravo").await;
    let mut admin_a = world.identity(Some(a), admin(&a_admin));

    // Departments: idempotent create, taken id, bad input naming the field.
    let request_id = uuid::Uuid::now_v7().to_string();
    let create = CreateDepartmentRequest {
        department: Some(Department {
            display_name: "售后服务部".into(),
            kind: DepartmentKind::AfterSales as i32,
            description: "上门维修".into(),
            ..Department::default()
        }),
        request_id: request_id.clone(),
        department_id: "field-service".into(),
    };
    let department = admin_a
        .create_department(create.clone())
        .await
        .expect("create department")
        .into_inner();
    assert_eq!(department.name, "departments/field-service");
    assert!(!department.etag.is_empty());
    let again = admin_a
        .create_department(create.clone())
        .await
        .expect("repeated create answers the first")
        .into_inner();
    assert_eq!(again.name, department.name);
    let taken = admin_a
        .create_department(CreateDepartmentRequest {
            request_id: String::new(),
            ..create.clone()
        })
        .await
        .expect_err("taken id");
    assert_eq!(taken.code(), Code::AlreadyExists);
    let no_kind = admin_a
        .create_department(CreateDepartmentRequest {
            department: Some(Department {
                display_name: "无类".into(),
                ..Department::default()
            }),
            ..CreateDepartmentRequest::default()
        })
        .await
        .expect_err("no kind");
    assert_eq!(no_kind.code(), Code::InvalidArgument);
    assert_eq!(field_of(&no_kind), "department.kind");
    let listed = admin_a
        .list_departments(ListDepartmentsRequest {
            filter: "kind = AFTER_SALES".into(),
            ..ListDepartmentsRequest::default()
        })
        .await
        .expect("list departments")
        .into_inner();
    assert!(listed.departments.iter().any(|d| d.name == department.name));
    assert!(
        listed
            .departments
            .iter()
            .all(|d| d.kind == DepartmentKind::AfterSales as i32)
    );

    // A mask changes only its paths; a stale etag is ABORTED.
    let renamed = admin_a
        .update_department(masked!(
            UpdateDepartmentRequest {
                department: Some(Department {
                    name: department.name.clone(),
                    display_name: "现场服务部".into(),
                    description: "not in the mask".into(),
                    etag: department.etag.clone(),
                    ..Department::default()
                }),
                update_mask: None,
            },
            ["display_name"]
        ))
        .await
        .expect("update department")
        .into_inner();
    assert_eq!(renamed.display_name, "现场服务部");
    assert_eq!(renamed.description, "上门维修");
    assert_eq!(renamed.kind, DepartmentKind::AfterSales as i32);
    assert_ne!(renamed.etag, department.etag);
    let stale = admin_a
        .update_department(masked!(
            UpdateDepartmentRequest {
                department: Some(Department {
                    name: department.name.clone(),
                    display_name: "旧的".into(),
                    etag: department.etag.clone(),
                    ..Department::default()
                }),
                update_mask: None,
            },
            ["display_name"]
        ))
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    let output_only = admin_a
        .update_department(masked!(
            UpdateDepartmentRequest {
                department: Some(renamed.clone()),
                update_mask: None,
            },
            ["template_key"]
        ))
        .await
        .expect_err("output-only path");
    assert_eq!(field_of(&output_only), "update_mask");

    // Skills.
    let skill = admin_a
        .create_skill(CreateSkillRequest {
            skill: Some(Skill {
                key: "boilers".into(),
                label: label("锅炉"),
                ..Skill::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("create skill")
        .into_inner();
    assert_eq!(skill.name, "skills/boilers");
    let relabelled = admin_a
        .update_skill(masked!(
            UpdateSkillRequest {
                skill: Some(Skill {
                    name: skill.name.clone(),
                    label: label("锅炉维修"),
                    ..Skill::default()
                }),
                update_mask: None,
            },
            ["label"]
        ))
        .await
        .expect("update skill")
        .into_inner();
    assert_eq!(relabelled.label, label("锅炉维修"));
    assert_eq!(relabelled.key, "boilers");
    let found = admin_a
        .list_skills(ListSkillsRequest {
            filter: "key = \"boilers\"".into(),
            ..ListSkillsRequest::default()
        })
        .await
        .expect("list skills")
        .into_inner();
    assert_eq!(found.total_size, 1);
    assert_eq!(found.skills[0].label, label("锅炉维修"));

    // Teams: agents may not create them, managers may.
    let agent_user = invite(&mut admin_a, "agent@acme.example", Role::Agent).await;
    let refused = world
        .identity(Some(a), user(&agent_user.name, Role::Agent))
        .create_team(CreateTeamRequest {
            team: Some(Team {
                display_name: "偷偷的".into(),
                ..Team::default()
            }),
            ..CreateTeamRequest::default()
        })
        .await
        .expect_err("agents cannot create teams");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let mut manager_a = world.identity(Some(a), user(&a_admin, Role::Manager));
    let unknown_skill = manager_a
        .create_team(CreateTeamRequest {
            team: Some(Team {
                display_name: "锅炉组".into(),
                skills: vec!["boilers".into(), "unicorns".into()],
                ..Team::default()
            }),
            ..CreateTeamRequest::default()
        })
        .await
        .expect_err("unknown skill");
    assert_eq!(field_of(&unknown_skill), "team.skills[1]");
    let team = manager_a
        .create_team(CreateTeamRequest {
            team: Some(Team {
                display_name: "锅炉组".into(),
                department: department.name.clone(),
                skills: vec!["boilers".into()],
                ..Team::default()
            }),
            request_id: String::new(),
            team_id: "boiler-crew".into(),
        })
        .await
        .expect("create team")
        .into_inner();
    assert_eq!(team.name, "teams/boiler-crew");
    assert_eq!(team.tier, TeamTier::FrontLine as i32, "default tier");

    // Members: adding twice changes nothing; GetUser shows the team.
    for _ in 0..2 {
        let with_member = manager_a
            .add_team_member(AddTeamMemberRequest {
                name: team.name.clone(),
                user: agent_user.name.clone(),
            })
            .await
            .expect("add member")
            .into_inner();
        assert_eq!(with_member.members, vec![agent_user.name.clone()]);
    }
    let agent_now = admin_a
        .get_user(GetUserRequest {
            name: agent_user.name.clone(),
        })
        .await
        .expect("get user")
        .into_inner();
    assert_eq!(agent_now.teams, vec![team.name.clone()]);
    let by_member = admin_a
        .list_teams(ListTeamsRequest {
            filter: format!("members:{}", agent_user.name),
            ..ListTeamsRequest::default()
        })
        .await
        .expect("list teams")
        .into_inner();
    assert_eq!(by_member.total_size, 1);
    assert_eq!(by_member.teams[0].name, team.name);
    let members_path = manager_a
        .update_team(masked!(
            UpdateTeamRequest {
                team: Some(team.clone()),
                update_mask: None,
            },
            ["members"]
        ))
        .await
        .expect_err("members are not updatable here");
    assert_eq!(field_of(&members_path), "update_mask");
    let specialist = manager_a
        .update_team(masked!(
            UpdateTeamRequest {
                team: Some(Team {
                    name: team.name.clone(),
                    tier: TeamTier::Specialist as i32,
                    etag: team.etag.clone(),
                    ..Team::default()
                }),
                update_mask: None,
            },
            ["tier"]
        ))
        .await
        .expect("update team")
        .into_inner();
    assert_eq!(specialist.tier, TeamTier::Specialist as i32);
    assert_eq!(specialist.display_name, "锅炉组");
    assert_eq!(specialist.members, vec![agent_user.name.clone()]);

    // The department is in use while the team belongs to it.
    let in_use = admin_a
        .delete_department(DeleteDepartmentRequest {
            name: department.name.clone(),
        })
        .await
        .expect_err("in use");
    assert_eq!(in_use.code(), Code::FailedPrecondition);

    // Tenant B finds none of it and changes nothing.
    let mut admin_b = world.identity(Some(b), admin(&b_admin));
    let b_team = admin_b
        .create_team(CreateTeamRequest {
            team: Some(Team {
                display_name: "B 组".into(),
                ..Team::default()
            }),
            ..CreateTeamRequest::default()
        })
        .await
        .expect("B creates a team")
        .into_inner();
    let probes = [
        admin_b
            .get_department(GetDepartmentRequest {
                name: department.name.clone(),
            })
            .await
            .map(|_| ()),
        admin_b
            .update_department(masked!(
                UpdateDepartmentRequest {
                    department: Some(Department {
                        name: department.name.clone(),
                        display_name: "B 改的".into(),
                        ..Department::default()
                    }),
                    update_mask: None,
                },
                ["display_name"]
            ))
            .await
            .map(|_| ()),
        admin_b
            .delete_department(DeleteDepartmentRequest {
                name: department.name.clone(),
            })
            .await
            .map(|_| ()),
        admin_b
            .get_team(GetTeamRequest {
                name: team.name.clone(),
            })
            .await
            .map(|_| ()),
        admin_b
            .delete_team(DeleteTeamRequest {
                name: team.name.clone(),
            })
            .await
            .map(|_| ()),
        admin_b
            .remove_team_member(RemoveTeamMemberRequest {
                name: team.name.clone(),
                user: agent_user.name.clone(),
            })
            .await
            .map(|_| ()),
        admin_b
            .add_team_member(AddTeamMemberRequest {
                name: b_team.name.clone(),
                user: agent_user.name.clone(),
            })
            .await
            .map(|_| ()),
        admin_b
            .get_skill(GetSkillRequest {
                name: skill.name.clone(),
            })
            .await
            .map(|_| ()),
        admin_b
            .delete_skill(DeleteSkillRequest {
                name: skill.name.clone(),
            })
            .await
            .map(|_| ()),
    ];
    for (index, probe) in probes.into_iter().enumerate() {
        assert_eq!(
            probe.expect_err("another tenant's resource").code(),
            Code::NotFound,
            "probe {index}"
        );
    }
    let untouched = admin_a
        .get_team(GetTeamRequest {
            name: team.name.clone(),
        })
        .await
        .expect("A still has its team")
        .into_inner();
    assert_eq!(untouched.members, vec![agent_user.name.clone()]);
    assert_eq!(
        admin_a
            .get_department(GetDepartmentRequest {
                name: department.name.clone(),
            })
            .await
            .expect("A still has its department")
            .into_inner()
            .display_name,
        "现场服务部"
    );

    // Deleting a skill takes it from its team; then team and department go.
    admin_a
        .delete_skill(DeleteSkillRequest {
            name: skill.name.clone(),
        })
        .await
        .expect("delete skill");
    let without_skill = admin_a
        .get_team(GetTeamRequest {
            name: team.name.clone(),
        })
        .await
        .expect("get team")
        .into_inner();
    assert!(without_skill.skills.is_empty());
    let removed = manager_a
        .remove_team_member(RemoveTeamMemberRequest {
            name: team.name.clone(),
            user: agent_user.name.clone(),
        })
        .await
        .expect("remove member")
        .into_inner();
    assert!(removed.members.is_empty());

    // An invitation may name teams at once; its request id makes it
    // idempotent, and references it names must exist.
    let invite_request = InviteUserRequest {
        user: Some(User {
            display_name: "张伟".into(),
            email: "tech@acme.example".into(),
            roles: vec![Role::Technician as i32],
            ..User::default()
        }),
        request_id: uuid::Uuid::now_v7().to_string(),
        teams: vec![team.name.clone()],
    };
    let invited = admin_a
        .invite_user(invite_request.clone())
        .await
        .expect("invite into a team")
        .into_inner();
    let technician = invited.user.expect("user");
    assert_eq!(technician.teams, vec![team.name.clone()]);
    assert!(!invited.invitation_token.is_empty());
    let repeated = admin_a
        .invite_user(invite_request.clone())
        .await
        .expect("repeated invite")
        .into_inner();
    assert_eq!(repeated.user.expect("user").name, technician.name);
    assert!(repeated.invitation_token.is_empty());
    let nowhere = admin_a
        .invite_user(InviteUserRequest {
            user: Some(User {
                display_name: "无部门".into(),
                email: "nowhere@acme.example".into(),
                roles: vec![Role::Agent as i32],
                department: "departments/nowhere".into(),
                ..User::default()
            }),
            ..InviteUserRequest::default()
        })
        .await
        .expect_err("unknown department");
    assert_eq!(field_of(&nowhere), "user.department");
    let manager_delete = manager_a
        .delete_team(DeleteTeamRequest {
            name: team.name.clone(),
        })
        .await
        .expect_err("only admins delete teams");
    assert_eq!(manager_delete.code(), Code::PermissionDenied);
    admin_a
        .delete_team(DeleteTeamRequest {
            name: team.name.clone(),
        })
        .await
        .expect("delete team");
    admin_a
        .delete_department(DeleteDepartmentRequest {
            name: department.name.clone(),
        })
        .await
        .expect("delete department");
    let gone = admin_a
        .get_department(GetDepartmentRequest {
            name: department.name.clone(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
}

async fn accounts_passwords_and_sessions(backend: Backend) {
    let Some(world) = World::start(backend).await else {
        return;
    };
    let (_, a, a_admin) = tenant_with_admin(&world, "acme").await;
    world.accept("admin@acme.example").await;
    let mut admin_a = world.identity(Some(a), admin(&a_admin));
    let agent = invite(&mut admin_a, "agent@acme.example", Role::Agent).await;
    world.accept("agent@acme.example").await;
    let first = world.login("acme", "agent@acme.example", PASSWORD).await;
    let second = world.login("acme", "agent@acme.example", PASSWORD).await;
    let first_session = first.session.clone().expect("session").name;
    let second_session = second.session.clone().expect("session").name;
    let mut agent_a = world.identity(
        Some(a),
        user_principal(&agent.name, Role::Agent, Some(&first_session)),
    );

    // A user updates their own profile, not their roles.
    let current = agent_a
        .get_user(GetUserRequest {
            name: "users/me".into(),
        })
        .await
        .expect("me")
        .into_inner();
    let profile = agent_a
        .update_user(masked!(
            UpdateUserRequest {
                user: Some(User {
                    name: "users/me".into(),
                    display_name: "李娜娜".into(),
                    locale: "en".into(),
                    title: "not in the mask".into(),
                    etag: current.etag.clone(),
                    ..User::default()
                }),
                update_mask: None,
            },
            ["display_name", "locale"]
        ))
        .await
        .expect("own profile")
        .into_inner();
    assert_eq!(profile.display_name, "李娜娜");
    assert_eq!(profile.locale, "en");
    assert_eq!(profile.title, "");
    let promote_self = agent_a
        .update_user(masked!(
            UpdateUserRequest {
                user: Some(User {
                    name: "users/me".into(),
                    roles: vec![Role::Admin as i32],
                    ..User::default()
                }),
                update_mask: None,
            },
            ["roles"]
        ))
        .await
        .expect_err("roles are for admins");
    assert_eq!(promote_self.code(), Code::PermissionDenied);
    let stale = admin_a
        .update_user(masked!(
            UpdateUserRequest {
                user: Some(User {
                    name: agent.name.clone(),
                    roles: vec![Role::Supervisor as i32],
                    etag: current.etag.clone(),
                    ..User::default()
                }),
                update_mask: None,
            },
            ["roles"]
        ))
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    let unknown_skill = admin_a
        .update_user(masked!(
            UpdateUserRequest {
                user: Some(User {
                    name: agent.name.clone(),
                    skills: vec![UserSkill {
                        key: "unicorns".into(),
                        level: 3,
                    }],
                    ..User::default()
                }),
                update_mask: None,
            },
            ["skills"]
        ))
        .await
        .expect_err("unknown skill");
    assert_eq!(field_of(&unknown_skill), "user.skills[0].key");
    let promoted = admin_a
        .update_user(masked!(
            UpdateUserRequest {
                user: Some(User {
                    name: agent.name.clone(),
                    roles: vec![Role::Agent as i32, Role::Supervisor as i32],
                    etag: profile.etag.clone(),
                    ..User::default()
                }),
                update_mask: None,
            },
            ["roles"]
        ))
        .await
        .expect("admin changes roles")
        .into_inner();
    assert_eq!(
        promoted.roles,
        vec![Role::Agent as i32, Role::Supervisor as i32]
    );
    assert_eq!(promoted.display_name, "李娜娜");
    let last_admin = admin_a
        .update_user(masked!(
            UpdateUserRequest {
                user: Some(User {
                    name: a_admin.clone(),
                    roles: vec![Role::Agent as i32],
                    ..User::default()
                }),
                update_mask: None,
            },
            ["roles"]
        ))
        .await
        .expect_err("last admin");
    assert_eq!(last_admin.code(), Code::FailedPrecondition);

    // Sessions: one's own, or anyone's for admins.
    let mine = agent_a
        .list_sessions(ListSessionsRequest {
            parent: "users/me".into(),
            ..ListSessionsRequest::default()
        })
        .await
        .expect("own sessions")
        .into_inner();
    assert_eq!(mine.total_size, 2);
    assert_eq!(mine.sessions[0].name, second_session, "newest first");
    assert!(
        mine.sessions
            .iter()
            .any(|session| session.current && session.name == first_session)
    );
    let others = agent_a
        .list_sessions(ListSessionsRequest {
            parent: a_admin.clone(),
            ..ListSessionsRequest::default()
        })
        .await
        .expect_err("another user's sessions");
    assert_eq!(others.code(), Code::PermissionDenied);
    assert_eq!(
        admin_a
            .list_sessions(ListSessionsRequest {
                parent: agent.name.clone(),
                ..ListSessionsRequest::default()
            })
            .await
            .expect("admin lists")
            .into_inner()
            .total_size,
        2
    );

    // ChangePassword: the current password is checked, the new one must be
    // strong, and every other session ends.
    let wrong = agent_a
        .change_password(ChangePasswordRequest {
            current_password: "wrong horse battery".into(),
            new_password: "a much better passphrase".into(),
        })
        .await
        .expect_err("wrong current password");
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let weak = agent_a
        .change_password(ChangePasswordRequest {
            current_password: PASSWORD.into(),
            new_password: "short".into(),
        })
        .await
        .expect_err("weak");
    assert_eq!(weak.code(), Code::InvalidArgument);
    assert_eq!(field_of(&weak), "new_password");
    assert!(world.resolve(&second.session_token).await.is_ok());
    agent_a
        .change_password(ChangePasswordRequest {
            current_password: PASSWORD.into(),
            new_password: "a much better passphrase".into(),
        })
        .await
        .expect("change password");
    assert_eq!(
        world
            .resolve(&second.session_token)
            .await
            .expect_err("the other session ended")
            .code(),
        Code::Unauthenticated
    );
    assert!(world.resolve(&first.session_token).await.is_ok());
    let third = world
        .login("acme", "agent@acme.example", "a much better passphrase")
        .await;

    // RevokeSession: tenant B cannot, the admin can, twice changes nothing.
    let third_session = third.session.expect("session").name;
    let (_, b, b_admin) = tenant_with_admin(&world, "bravo").await;
    let admin_b = world.identity(Some(b), admin(&b_admin));
    let probes = [
        admin_b
            .clone()
            .revoke_session(RevokeSessionRequest {
                name: third_session.clone(),
            })
            .await
            .map(|_| ()),
        admin_b
            .clone()
            .list_sessions(ListSessionsRequest {
                parent: agent.name.clone(),
                ..ListSessionsRequest::default()
            })
            .await
            .map(|_| ()),
    ];
    for probe in probes {
        assert_eq!(probe.expect_err("A's session").code(), Code::NotFound);
    }
    assert!(world.resolve(&third.session_token).await.is_ok());
    for _ in 0..2 {
        admin_a
            .revoke_session(RevokeSessionRequest {
                name: third_session.clone(),
            })
            .await
            .expect("revoke");
    }
    assert_eq!(
        world
            .resolve(&third.session_token)
            .await
            .expect_err("revoked")
            .code(),
        Code::Unauthenticated
    );

    // Deactivated and back, once.
    admin_a
        .deactivate_user(DeactivateUserRequest {
            name: agent.name.clone(),
            ..DeactivateUserRequest::default()
        })
        .await
        .expect("deactivate");
    let back = admin_a
        .reactivate_user(ReactivateUserRequest {
            name: agent.name.clone(),
        })
        .await
        .expect("reactivate")
        .into_inner();
    assert_eq!(back.state, UserState::Active as i32);
    assert!(back.deactivate_time.is_none());
    let twice = admin_a
        .reactivate_user(ReactivateUserRequest {
            name: agent.name.clone(),
        })
        .await
        .expect_err("already active");
    assert_eq!(twice.code(), Code::FailedPrecondition);

    // ResendInvitation: a new token, the old one forgotten.
    let newcomer = invite(&mut admin_a, "new@acme.example", Role::Agent).await;
    let old_token = world.invitation_for("new@acme.example");
    let resent = admin_a
        .resend_invitation(ResendInvitationRequest {
            name: newcomer.name.clone(),
        })
        .await
        .expect("resend")
        .into_inner();
    assert_ne!(resent.invitation_token, old_token);
    assert_eq!(
        world.invitation_for("new@acme.example"),
        resent.invitation_token
    );
    let anonymous = world.identity(None, Principal::anonymous());
    let old = anonymous
        .clone()
        .accept_invitation(AcceptInvitationRequest {
            invitation_token: old_token,
            password: PASSWORD.into(),
        })
        .await
        .expect_err("old token");
    assert_eq!(old.code(), Code::Unauthenticated);
    anonymous
        .clone()
        .accept_invitation(AcceptInvitationRequest {
            invitation_token: resent.invitation_token,
            password: PASSWORD.into(),
        })
        .await
        .expect("new token");
    let accepted = admin_a
        .resend_invitation(ResendInvitationRequest {
            name: newcomer.name.clone(),
        })
        .await
        .expect_err("already accepted");
    assert_eq!(accepted.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn sqlite_organisation_round_trips_and_stays_in_its_tenant() {
    organisation_round_trips_and_stays_in_its_tenant(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_organisation_round_trips_and_stays_in_its_tenant() {
    organisation_round_trips_and_stays_in_its_tenant(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_accounts_passwords_and_sessions() {
    accounts_passwords_and_sessions(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_accounts_passwords_and_sessions() {
    accounts_passwords_and_sessions(Backend::Postgres).await;
}

/// The events of type `M` the tenants service wrote to its outbox for
/// `tenant`, oldest first: read past row-level security on PostgreSQL (the
/// owner), directly on SQLite.
async fn events_of<M: prost::Message + prost::Name + Default>(
    world: &World,
    backend: Backend,
    tenant: TenantId,
) -> Vec<M> {
    use prost::Message as _;
    use sea_orm::ConnectionTrait;
    let inspector = match backend {
        Backend::Postgres => world.database.owner_connection().await,
        Backend::Sqlite => world.database.db.clone(),
    };
    let rows = inspector
        .query_all_raw(sea_orm::Statement::from_string(
            inspector.get_database_backend(),
            format!(
                "SELECT payload FROM outbox WHERE event_type = '{}' ORDER BY seq",
                M::full_name()
            ),
        ))
        .await
        .expect("read the outbox");
    rows.iter()
        .map(|row| {
            let payload: Vec<u8> = row.try_get("", "payload").expect("payload");
            kefu_proto::v1::EventEnvelope::decode(payload.as_slice()).expect("envelope")
        })
        .filter(|envelope| envelope.tenant_id == tenant.to_string())
        .map(|envelope| kefu_kit::events::payload_as::<M>(&envelope).expect("payload type"))
        .collect()
}

/// The ACTIVE administrators of a tenant.
async fn active_admins(client: &mut IdentityServiceClient<Intercepted>) -> Vec<String> {
    client
        .list_users(ListUsersRequest {
            filter: "state = ACTIVE AND roles:ROLE_ADMIN".into(),
            page_size: 500,
            ..ListUsersRequest::default()
        })
        .await
        .expect("list admins")
        .into_inner()
        .users
        .into_iter()
        .map(|user| user.name)
        .collect()
}

/// Two administrators deactivating each other at once: one wins, the other
/// is refused LAST_ADMIN, and an active administrator always remains (the
/// tenant's row serialises the count on PostgreSQL). Ten rounds, each with
/// the last round's survivor and a fresh administrator.
async fn admins_deactivating_each_other_leave_one(backend: Backend) {
    let Some(world) = World::start(backend).await else {
        return;
    };
    let (_, a, first_admin) = tenant_with_admin(&world, "acme").await;
    world.accept("admin@acme.example").await;
    let mut survivor = first_admin;
    for round in 0..10 {
        let email = format!("admin{round}@acme.example");
        let fresh = invite(
            &mut world.identity(Some(a), admin(&survivor)),
            &email,
            Role::Admin,
        )
        .await;
        world.accept(&email).await;
        let mut by_survivor = world.identity(Some(a), admin(&survivor));
        let mut by_fresh = world.identity(Some(a), admin(&fresh.name));
        assert_eq!(active_admins(&mut by_survivor).await.len(), 2);
        let (fresh_gone, survivor_gone) = tokio::join!(
            by_survivor.deactivate_user(DeactivateUserRequest {
                name: fresh.name.clone(),
                ..DeactivateUserRequest::default()
            }),
            by_fresh.deactivate_user(DeactivateUserRequest {
                name: survivor.clone(),
                ..DeactivateUserRequest::default()
            }),
        );
        for refused in [&fresh_gone, &survivor_gone]
            .into_iter()
            .filter_map(|result| result.as_ref().err())
        {
            assert_eq!(refused.code(), Code::FailedPrecondition, "round {round}");
        }
        assert!(
            fresh_gone.is_ok() != survivor_gone.is_ok(),
            "round {round}: exactly one deactivation succeeds"
        );
        let left = active_admins(&mut by_survivor).await;
        assert_eq!(left.len(), 1, "round {round}: {left:?}");
        survivor = left[0].clone();
    }
}

/// Invitations racing for the last seat of a STARTER plan (20): exactly one
/// gets it.
async fn concurrent_invitations_take_the_last_seat_once(backend: Backend) {
    let Some(world) = World::start(backend).await else {
        return;
    };
    let (_, a, a_admin) = tenant_with_admin(&world, "acme").await;
    let mut admin_a = world.identity(Some(a), admin(&a_admin));
    // The administrator holds the first seat.
    for seat in 2..=19 {
        invite(
            &mut admin_a,
            &format!("agent{seat}@acme.example"),
            Role::Agent,
        )
        .await;
    }
    let racing = (0..4).map(|racer| {
        let mut client = admin_a.clone();
        async move {
            client
                .invite_user(InviteUserRequest {
                    user: Some(User {
                        display_name: "抢座".into(),
                        email: format!("racer{racer}@acme.example"),
                        roles: vec![Role::Agent as i32],
                        ..User::default()
                    }),
                    ..InviteUserRequest::default()
                })
                .await
        }
    });
    let results = futures::future::join_all(racing).await;
    let invited = results.iter().filter(|result| result.is_ok()).count();
    for refused in results.iter().filter_map(|result| result.as_ref().err()) {
        assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    }
    assert_eq!(invited, 1, "one invitation takes the 20th seat");
    let users = admin_a
        .list_users(ListUsersRequest {
            page_size: 500,
            ..ListUsersRequest::default()
        })
        .await
        .expect("list users")
        .into_inner();
    assert_eq!(users.total_size, 20);
}

/// Logins write the last login time without moving the revision: two at
/// once both succeed, and an administrator's etag stays good.
async fn concurrent_logins_keep_the_etag(backend: Backend) {
    let Some(world) = World::start(backend).await else {
        return;
    };
    let (_, a, a_admin) = tenant_with_admin(&world, "acme").await;
    let mut admin_a = world.identity(Some(a), admin(&a_admin));
    let agent = invite(&mut admin_a, "agent@acme.example", Role::Agent).await;
    world.accept("agent@acme.example").await;
    let before = admin_a
        .get_user(GetUserRequest {
            name: agent.name.clone(),
        })
        .await
        .expect("get user")
        .into_inner();
    let login = || {
        let mut client = world.identity(None, Principal::anonymous());
        async move {
            client
                .login(LoginRequest {
                    tenant_slug: "acme".into(),
                    email: "agent@acme.example".into(),
                    password: PASSWORD.into(),
                })
                .await
        }
    };
    for _ in 0..3 {
        let (first, second) = tokio::join!(login(), login());
        let first = first.expect("first login").into_inner();
        second.expect("second login");
        assert_eq!(first.user.expect("user").etag, before.etag);
    }
    let after = admin_a
        .get_user(GetUserRequest {
            name: agent.name.clone(),
        })
        .await
        .expect("get user")
        .into_inner();
    assert_eq!(after.etag, before.etag, "a login moves no etag");
    assert!(after.last_login_time.is_some());
    admin_a
        .update_user(masked!(
            UpdateUserRequest {
                user: Some(User {
                    name: agent.name.clone(),
                    title: "客服组长".into(),
                    etag: before.etag.clone(),
                    ..User::default()
                }),
                update_mask: None,
            },
            ["title"]
        ))
        .await
        .expect("the etag read before the logins still holds");
}

/// ListUsers and ListApiKeys apply their documented filters and orders and
/// name `filter` or `order_by` for anything else.
async fn users_and_keys_filter_and_order(backend: Backend) {
    let Some(world) = World::start(backend).await else {
        return;
    };
    let (_, a, a_admin) = tenant_with_admin(&world, "acme").await;
    world.accept("admin@acme.example").await;
    let mut admin_a = world.identity(Some(a), admin(&a_admin));
    let agent = invite(&mut admin_a, "Agent@Acme.example", Role::Agent).await;
    let manager = invite(&mut admin_a, "manager@acme.example", Role::Manager).await;
    world.accept("manager@acme.example").await;
    world.login("acme", "manager@acme.example", PASSWORD).await;
    let names = |users: Vec<User>| users.into_iter().map(|user| user.name).collect::<Vec<_>>();
    let list = |filter: &str, order_by: &str| {
        let mut client = admin_a.clone();
        let request = ListUsersRequest {
            filter: filter.into(),
            order_by: order_by.into(),
            ..ListUsersRequest::default()
        };
        async move { client.list_users(request).await }
    };
    let agents = list("roles:ROLE_AGENT", "")
        .await
        .expect("agents")
        .into_inner();
    assert_eq!(names(agents.users), vec![agent.name.clone()]);
    assert_eq!(agents.total_size, 1);
    let invited = list("state = INVITED", "")
        .await
        .expect("invited")
        .into_inner();
    assert_eq!(names(invited.users), vec![agent.name.clone()]);
    let by_email = list(r#"email = "AGENT@acme.example""#, "")
        .await
        .expect("by e-mail")
        .into_inner();
    assert_eq!(names(by_email.users), vec![agent.name.clone()]);
    let not_agents = list("roles != ROLE_AGENT", "").await;
    assert_eq!(
        field_of(&not_agents.expect_err("!= on a repeated field")),
        "filter"
    );
    let active = list("state = USER_STATE_ACTIVE AND roles:MANAGER", "")
        .await
        .expect("active managers")
        .into_inner();
    assert_eq!(names(active.users), vec![manager.name.clone()]);
    let by_creation = list("", "create_time desc")
        .await
        .expect("newest first")
        .into_inner();
    assert_eq!(
        names(by_creation.users),
        vec![manager.name.clone(), agent.name.clone(), a_admin.clone()]
    );
    let by_login = list("", "last_login_time desc, create_time")
        .await
        .expect("by last login")
        .into_inner();
    assert_eq!(by_login.users[0].name, manager.name, "the only login");
    for (filter, order_by, field) in [
        ("colour = red", "", "filter"),
        ("state", "", "filter"),
        ("", "email", "order_by"),
        ("", "display_name up", "order_by"),
    ] {
        let refused = list(filter, order_by).await.expect_err(filter);
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(field_of(&refused), field, "{filter:?} {order_by:?}");
    }

    // API keys: by state (EXPIRED as callers see it) and scope service.
    let key = |display_name: &str, service: &str| CreateApiKeyRequest {
        api_key: Some(ApiKey {
            display_name: display_name.into(),
            scopes: vec![ApiKeyScope {
                service: service.into(),
                access: ApiKeyAccess::Read as i32,
            }],
            ..ApiKey::default()
        }),
        request_id: String::new(),
    };
    let erp = admin_a
        .create_api_key(key("ERP", "tickets"))
        .await
        .expect("create key")
        .into_inner()
        .api_key
        .expect("key");
    let crm = admin_a
        .create_api_key(key("CRM", "customers"))
        .await
        .expect("create key")
        .into_inner()
        .api_key
        .expect("key");
    admin_a
        .revoke_api_key(RevokeApiKeyRequest {
            name: crm.name.clone(),
        })
        .await
        .expect("revoke");
    let keys = |filter: &str, order_by: &str| {
        let mut client = admin_a.clone();
        let request = ListApiKeysRequest {
            filter: filter.into(),
            order_by: order_by.into(),
            ..ListApiKeysRequest::default()
        };
        async move { client.list_api_keys(request).await }
    };
    let key_names = |keys: Vec<ApiKey>| keys.into_iter().map(|key| key.name).collect::<Vec<_>>();
    let default = keys("", "").await.expect("keys").into_inner();
    assert_eq!(
        key_names(default.api_keys),
        vec![crm.name.clone(), erp.name.clone()],
        "newest first"
    );
    let by_name = keys("", "display_name")
        .await
        .expect("by name")
        .into_inner();
    assert_eq!(
        key_names(by_name.api_keys),
        vec![crm.name.clone(), erp.name.clone()]
    );
    let by_creation = keys("", "create_time")
        .await
        .expect("oldest first")
        .into_inner();
    assert_eq!(
        key_names(by_creation.api_keys),
        vec![erp.name.clone(), crm.name.clone()]
    );
    let revoked = keys("state = REVOKED", "")
        .await
        .expect("revoked")
        .into_inner();
    assert_eq!(key_names(revoked.api_keys), vec![crm.name.clone()]);
    assert_eq!(revoked.total_size, 1);
    let tickets = keys(r#"scopes.service = "tickets""#, "")
        .await
        .expect("by service")
        .into_inner();
    assert_eq!(key_names(tickets.api_keys), vec![erp.name.clone()]);
    for (filter, order_by, field) in [("prefix = kefu", "", "filter"), ("", "prefix", "order_by")] {
        let refused = keys(filter, order_by).await.expect_err(filter);
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(field_of(&refused), field);
    }
}

/// Account changes publish what their events document: UserCreated with
/// who invited, UserUpdated when an invitation is accepted, UserDeactivated
/// with the user's teams, SessionsRevoked on logout and on deactivation.
async fn account_changes_publish_their_events(backend: Backend) {
    let Some(world) = World::start(backend).await else {
        return;
    };
    let (_, a, a_admin) = tenant_with_admin(&world, "acme").await;
    world.accept("admin@acme.example").await;
    let mut admin_a = world.identity(Some(a), admin(&a_admin));
    let team = admin_a
        .create_team(CreateTeamRequest {
            team: Some(Team {
                display_name: "一线".into(),
                ..Team::default()
            }),
            ..CreateTeamRequest::default()
        })
        .await
        .expect("create team")
        .into_inner();
    let agent = admin_a
        .invite_user(InviteUserRequest {
            user: Some(User {
                display_name: "李娜".into(),
                email: "agent@acme.example".into(),
                roles: vec![Role::Agent as i32],
                ..User::default()
            }),
            teams: vec![team.name.clone()],
            ..InviteUserRequest::default()
        })
        .await
        .expect("invite")
        .into_inner()
        .user
        .expect("user");
    let created = events_of::<UserCreated>(&world, backend, a).await;
    let created = created
        .iter()
        .find(|event| event.user.as_ref().map(|user| &user.name) == Some(&agent.name))
        .expect("UserCreated");
    assert_eq!(
        created.actor.as_ref().map(|actor| actor.name.clone()),
        Some(a_admin.clone())
    );

    world.accept("agent@acme.example").await;
    let updated = events_of::<UserUpdated>(&world, backend, a).await;
    let accepted = updated
        .iter()
        .find(|event| event.user.as_ref().map(|user| &user.name) == Some(&agent.name))
        .expect("UserUpdated on acceptance");
    assert_eq!(accepted.changed_paths, vec!["state".to_owned()]);
    assert_eq!(
        accepted.user.as_ref().map(|user| user.state),
        Some(UserState::Active as i32)
    );

    // Logout ends the one session.
    let first = world.login("acme", "agent@acme.example", PASSWORD).await;
    let second = world.login("acme", "agent@acme.example", PASSWORD).await;
    let first_session = first.session.expect("session").name;
    world
        .identity(
            Some(a),
            user_principal(&agent.name, Role::Agent, Some(&first_session)),
        )
        .logout(LogoutRequest::default())
        .await
        .expect("logout");
    let revoked = events_of::<SessionsRevoked>(&world, backend, a).await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].user, agent.name);
    assert_eq!(revoked[0].sessions, vec![first_session.clone()]);

    // Deactivation ends the others and names the teams.
    admin_a
        .deactivate_user(DeactivateUserRequest {
            name: agent.name.clone(),
            ..DeactivateUserRequest::default()
        })
        .await
        .expect("deactivate");
    let deactivated = events_of::<UserDeactivated>(&world, backend, a).await;
    assert_eq!(deactivated.len(), 1);
    assert_eq!(deactivated[0].teams, vec![team.name.clone()]);
    let revoked = events_of::<SessionsRevoked>(&world, backend, a).await;
    assert_eq!(revoked.len(), 2);
    assert_eq!(
        revoked[1].sessions,
        vec![second.session.expect("session").name]
    );
}

/// A suspended tenant's invitations are refused like its logins; a made-up
/// e-mail's old failed logins are forgotten when a new one is recorded.
async fn suspended_tenants_accept_no_invitation_and_failures_are_pruned(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let Some(world) = World::start(backend).await else {
        return;
    };
    let (tenant, a, a_admin) = tenant_with_admin(&world, "acme").await;
    world.accept("admin@acme.example").await;
    let mut admin_a = world.identity(Some(a), admin(&a_admin));
    invite(&mut admin_a, "agent@acme.example", Role::Agent).await;
    world
        .operator()
        .suspend_tenant(SuspendTenantRequest {
            name: tenant.name.clone(),
            reason: "unpaid".into(),
        })
        .await
        .expect("suspend");
    let refused = world
        .identity(None, Principal::anonymous())
        .accept_invitation(AcceptInvitationRequest {
            invitation_token: world.invitation_for("agent@acme.example"),
            password: PASSWORD.into(),
        })
        .await
        .expect_err("suspended");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let agent = world
        .identity(Some(a), key_principal())
        .list_users(ListUsersRequest {
            filter: r#"email = "agent@acme.example""#.into(),
            ..ListUsersRequest::default()
        })
        .await
        .expect("list")
        .into_inner()
        .users;
    assert_eq!(agent[0].state, UserState::Invited as i32, "still invited");

    // Failed logins: an hour-old failure of a made-up e-mail goes when the
    // next failure is recorded.
    let inspector = match backend {
        Backend::Postgres => world.database.owner_connection().await,
        Backend::Sqlite => world.database.db.clone(),
    };
    let sql_backend = inspector.get_database_backend();
    let (first, second) = match sql_backend {
        sea_orm::DbBackend::Postgres => ("$1", "$2"),
        _ => ("?", "?"),
    };
    let old = chrono::Utc::now() - chrono::Duration::hours(1);
    inspector
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sql_backend,
            format!(
                "INSERT INTO login_failures (tenant_id, email, failed_at) \
                 VALUES ({first}, 'nobody@acme.example', {second})"
            ),
            [a.0.into(), old.into()],
        ))
        .await
        .expect("an old failure");
    let count = |email: &'static str| {
        let inspector = inspector.clone();
        async move {
            let row = inspector
                .query_one_raw(sea_orm::Statement::from_sql_and_values(
                    sql_backend,
                    format!("SELECT count(*) AS n FROM login_failures WHERE email = {first}"),
                    [email.into()],
                ))
                .await
                .expect("count")
                .expect("row");
            row.try_get::<i64>("", "n").expect("n")
        }
    };
    assert_eq!(count("nobody@acme.example").await, 1);
    let wrong = world
        .identity(None, Principal::anonymous())
        .login(LoginRequest {
            tenant_slug: "acme".into(),
            email: "someone@acme.example".into(),
            password: PASSWORD.into(),
        })
        .await
        .expect_err("no such user");
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(count("nobody@acme.example").await, 0, "pruned");
    assert_eq!(count("someone@acme.example").await, 1, "recorded");
}

#[tokio::test]
async fn sqlite_admins_deactivating_each_other_leave_one() {
    admins_deactivating_each_other_leave_one(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_admins_deactivating_each_other_leave_one() {
    admins_deactivating_each_other_leave_one(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_concurrent_invitations_take_the_last_seat_once() {
    concurrent_invitations_take_the_last_seat_once(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_concurrent_invitations_take_the_last_seat_once() {
    concurrent_invitations_take_the_last_seat_once(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_concurrent_logins_keep_the_etag() {
    concurrent_logins_keep_the_etag(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_concurrent_logins_keep_the_etag() {
    concurrent_logins_keep_the_etag(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_users_and_keys_filter_and_order() {
    users_and_keys_filter_and_order(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_users_and_keys_filter_and_order() {
    users_and_keys_filter_and_order(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_account_changes_publish_their_events() {
    account_changes_publish_their_events(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_account_changes_publish_their_events() {
    account_changes_publish_their_events(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_suspended_tenants_accept_no_invitation_and_failures_are_pruned() {
    suspended_tenants_accept_no_invitation_and_failures_are_pruned(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_suspended_tenants_accept_no_invitation_and_failures_are_pruned() {
    suspended_tenants_accept_no_invitation_and_failures_are_pruned(Backend::Postgres).await;
}
