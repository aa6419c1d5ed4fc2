//! E-mail addresses: checked for shape, compared case-insensitively.

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Not `local@domain.tld`, or characters an address cannot hold.
    #[error("is not a valid e-mail address")]
    Malformed,
    /// Longer than 254 characters (or a local part over 64).
    #[error("is longer than an e-mail address may be")]
    TooLong,
}

/// Checks `address` and returns its comparison key (lowercase).
pub fn key(address: &str) -> Result<String, EmailError> {
    let address = address.trim();
    if address.len() > 254 {
        return Err(EmailError::TooLong);
    }
    let (local, domain) = address.rsplit_once('@').ok_or(EmailError::Malformed)?;
    if local.len() > 64 {
        return Err(EmailError::TooLong);
    }
    let local_ok = !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(address.to_lowercase())
    } else {
        Err(EmailError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_compare_case_insensitively() {
        assert_eq!(
            key(" Wang.Li@Example.COM ").as_deref(),
            Ok("wang.li@example.com")
        );
        assert_eq!(key("李@例子.中国").as_deref(), Ok("李@例子.中国"));
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "wang",
            "wang@",
            "@example.com",
            "wang@example",
            "wang li@example.com",
            "a..b@x.cn",
            "a@-x.cn",
        ] {
            assert_eq!(key(bad), Err(EmailError::Malformed), "{bad}");
        }
        assert_eq!(
            key(&format!("{}@x.cn", "a".repeat(65))),
            Err(EmailError::TooLong)
        );
    }
}
