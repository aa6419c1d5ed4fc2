//! Tenant slugs, caller-chosen resource ids and login e-mails.

/// Words no tenant may take as its slug (they name parts of the platform).
const RESERVED: &[&str] = &["admin", "api", "www", "kefu", "platform"];

/// Why a slug or resource id is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSlug {
    /// Too short or too long.
    #[error("must be {min} to {max} characters")]
    Length {
        /// Fewest characters.
        min: usize,
        /// Most characters.
        max: usize,
    },
    /// A character outside `a-z`, `0-9`, `-`.
    #[error("may contain only lower-case letters a-z, digits and -")]
    Character,
    /// Does not start with a letter.
    #[error("must start with a letter")]
    Start,
    /// Ends with `-` or contains `--`.
    #[error("must not end with - nor contain --")]
    Hyphens,
    /// A reserved word.
    #[error("{0:?} is reserved")]
    Reserved(String),
}

fn check_shape(value: &str, min: usize, max: usize) -> Result<(), InvalidSlug> {
    let length = value.chars().count();
    if length < min || length > max {
        return Err(InvalidSlug::Length { min, max });
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(InvalidSlug::Character);
    }
    if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(InvalidSlug::Start);
    }
    if value.ends_with('-') || value.contains("--") {
        return Err(InvalidSlug::Hyphens);
    }
    Ok(())
}

/// A tenant slug: 3 to 40 characters of `a-z`, `0-9` and `-`, starting with
/// a letter, not ending with `-`, no `--`, not a reserved word.
pub fn check_slug(slug: &str) -> Result<(), InvalidSlug> {
    check_shape(slug, 3, 40)?;
    if RESERVED.contains(&slug) {
        return Err(InvalidSlug::Reserved(slug.to_owned()));
    }
    Ok(())
}

/// A resource id chosen by a caller (`repair-standard`): 1 to 63
/// characters of the same alphabet.
pub fn check_resource_id(id: &str) -> Result<(), InvalidSlug> {
    check_shape(id, 1, 63)
}

/// Why an e-mail address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEmail(&'static str);

/// The trimmed, lower-cased form of a plausible e-mail address: at most 254
/// characters, one `@`, a local part of 1 to 64 characters, a domain with a
/// dot, no spaces or control characters.
pub fn normalise_email(email: &str) -> Result<String, InvalidEmail> {
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return Err(InvalidEmail("is required"));
    }
    if email.chars().count() > 254 {
        return Err(InvalidEmail("must be at most 254 characters"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(InvalidEmail("must not contain spaces"));
    }
    let (local, domain) = email
        .split_once('@')
        .ok_or(InvalidEmail("must look like name@example.com"))?;
    if local.is_empty() || local.chars().count() > 64 || domain.contains('@') {
        return Err(InvalidEmail("must look like name@example.com"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|label| label.is_empty()) {
        return Err(InvalidEmail("the domain must look like example.com"));
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_rules_at_their_boundaries() {
        assert!(check_slug("abc").is_ok());
        assert!(check_slug(&format!("a{}", "b".repeat(39))).is_ok());
        assert_eq!(
            check_slug("ab"),
            Err(InvalidSlug::Length { min: 3, max: 40 })
        );
        assert!(check_slug(&format!("a{}", "b".repeat(40))).is_err());
        assert_eq!(check_slug("Acme"), Err(InvalidSlug::Character));
        assert_eq!(check_slug("1acme"), Err(InvalidSlug::Start));
        assert_eq!(check_slug("acme-"), Err(InvalidSlug::Hyphens));
        assert_eq!(check_slug("ac--me"), Err(InvalidSlug::Hyphens));
        assert_eq!(
            check_slug("admin"),
            Err(InvalidSlug::Reserved("admin".into()))
        );
        assert!(check_slug("acme-property-2").is_ok());
        assert!(check_resource_id("a").is_ok());
        assert!(check_resource_id(&"a".repeat(64)).is_err());
    }

    #[test]
    fn e_mails_are_normalised_or_refused() {
        assert_eq!(
            normalise_email(" Li.Lei@Example.COM ").as_deref(),
            Ok("li.lei@example.com")
        );
        for bad in [
            "",
            "li",
            "li@",
            "@example.com",
            "li@example",
            "li lei@example.com",
            "a@b@c.d",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad:?} accepted");
        }
        assert!(normalise_email(&format!("{}@example.com", "a".repeat(65))).is_err());
    }
}
