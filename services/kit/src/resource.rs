//! Conventions every service's resources share (common.proto): names
//! (AIP-122), etags (AIP-154) and page sizes (AIP-158).

/// The id in `{collection}/{id}` when `name` has that shape.
pub fn id_in<'a>(name: &'a str, collection: &str) -> Option<&'a str> {
    name.strip_prefix(collection)?
        .strip_prefix('/')
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

/// An etag from a revision: opaque to callers.
pub fn etag(revision: i64) -> String {
    format!("r{revision}")
}

/// Whether `sent` (possibly empty: no check) matches `revision`.
pub fn etag_matches(sent: &str, revision: i64) -> bool {
    sent.is_empty() || sent == etag(revision)
}

/// The page size to use for a request's `page_size`: 50 when unset, at most
/// 500; `None` when negative (the caller answers INVALID_ARGUMENT).
pub fn page_size(requested: i32) -> Option<usize> {
    match requested {
        size if size < 0 => None,
        0 => Some(50),
        size => Some(size.min(500) as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_only_from_names_of_the_collection() {
        assert_eq!(id_in("customers/c-1", "customers"), Some("c-1"));
        assert_eq!(id_in("customers/", "customers"), None);
        assert_eq!(id_in("customers/a/b", "customers"), None);
        assert_eq!(id_in("tiers/gold", "customers"), None);
    }

    #[test]
    fn an_empty_etag_skips_the_check() {
        assert!(etag_matches("", 7));
        assert!(etag_matches("r7", 7));
        assert!(!etag_matches("r6", 7));
    }

    #[test]
    fn page_sizes_default_and_cap() {
        assert_eq!(page_size(0), Some(50));
        assert_eq!(page_size(900), Some(500));
        assert_eq!(page_size(-1), None);
    }
}
