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
