//! Resource names (AIP-122) of the tenants service.

use uuid::Uuid;

pub use kefu_kit::resource::id_in;

/// The UUID in `{collection}/{uuid}`.
pub fn uuid_in(name: &str, collection: &str) -> Option<Uuid> {
    id_in(name, collection).and_then(|id| Uuid::parse_str(id).ok())
}

/// `tenants/{id}`.
pub fn tenant(id: Uuid) -> String {
    format!("tenants/{id}")
}

/// `users/{id}`.
pub fn user(id: Uuid) -> String {
    format!("users/{id}")
}

/// `apiKeys/{id}`.
pub fn api_key(id: Uuid) -> String {
    format!("apiKeys/{id}")
}

/// `users/{user}/sessions/{id}`.
pub fn session(user: Uuid, id: Uuid) -> String {
    format!("users/{user}/sessions/{id}")
}

/// The user part (`me` or a user id) and the session id of
/// `users/{user}/sessions/{session}`.
pub fn session_in(name: &str) -> Option<(&str, Uuid)> {
    let rest = name.strip_prefix("users/")?;
    let (user, session) = rest.split_once("/sessions/")?;
    if user.is_empty() || user.contains('/') {
        return None;
    }
    Some((user, Uuid::parse_str(session).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_only_in_their_collection() {
        let id = Uuid::now_v7();
        assert_eq!(uuid_in(&tenant(id), "tenants"), Some(id));
        assert_eq!(uuid_in(&tenant(id), "users"), None);
        assert_eq!(uuid_in("tenants/", "tenants"), None);
        assert_eq!(uuid_in(&format!("tenants/{id}/x"), "tenants"), None);
        assert_eq!(id_in("teams/front-line", "teams"), Some("front-line"));
        let user = Uuid::now_v7();
        assert_eq!(
            session_in(&session(user, id)),
            Some((user.to_string().as_str(), id))
        );
        assert_eq!(
            session_in(&format!("users/me/sessions/{id}")),
            Some(("me", id))
        );
        assert_eq!(session_in(&format!("users/me/keys/{id}")), None);
        assert_eq!(session_in("users/me/sessions/x"), None);
    }
}
