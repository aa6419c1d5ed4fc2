//! Update masks (AIP-134, AIP-161) of the identity resources: which paths an
//! update may name.

use prost_types::FieldMask;

use crate::error::{Result, TenantsError};

/// The paths of `mask`, each one of `updatable`; `*` stands for all of them.
/// A missing or empty mask, an unknown path or one of `fixed` (output only,
/// immutable or changed by another method) is INVALID_ARGUMENT naming
/// `update_mask`, so a caller never believes a change was made that was not.
pub fn paths(mask: Option<&FieldMask>, updatable: &[&str], fixed: &[&str]) -> Result<Vec<String>> {
    let requested = mask.map(|mask| mask.paths.as_slice()).unwrap_or_default();
    if requested.is_empty() {
        return Err(TenantsError::invalid(
            "update_mask",
            format!(
                "is required: name the paths to change ({})",
                updatable.join(", ")
            ),
        ));
    }
    let mut chosen: Vec<String> = Vec::new();
    for path in requested {
        let path = path.trim();
        if path == "*" {
            return Ok(updatable.iter().map(|path| (*path).to_owned()).collect());
        }
        if updatable.contains(&path) {
            if !chosen.iter().any(|seen| seen == path) {
                chosen.push(path.to_owned());
            }
        } else if fixed.contains(&path) {
            return Err(TenantsError::invalid(
                "update_mask",
                format!("{path} cannot be changed with this method"),
            ));
        } else {
            return Err(TenantsError::invalid(
                "update_mask",
                format!(
                    "{path:?} is not a field; updatable: {}",
                    updatable.join(", ")
                ),
            ));
        }
    }
    Ok(chosen)
}

/// Whether `paths` holds `path`.
pub fn has(paths: &[String], path: &str) -> bool {
    paths.iter().any(|chosen| chosen == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(paths: &[&str]) -> FieldMask {
        FieldMask {
            paths: paths.iter().map(|path| (*path).to_owned()).collect(),
        }
    }

    #[test]
    fn paths_are_checked_and_deduplicated() {
        let updatable = &["display_name", "kind"];
        let fixed = &["name", "members"];
        assert_eq!(
            paths(Some(&mask(&["kind", "kind"])), updatable, fixed).expect("ok"),
            vec!["kind".to_owned()]
        );
        assert_eq!(
            paths(Some(&mask(&["*"])), updatable, fixed).expect("ok"),
            vec!["display_name".to_owned(), "kind".to_owned()]
        );
        for bad in [
            None,
            Some(mask(&[])),
            Some(mask(&["members"])),
            Some(mask(&["colour"])),
        ] {
            let error = paths(bad.as_ref(), updatable, fixed).expect_err("refused");
            assert!(
                matches!(&error, TenantsError::Invalid(violation, _) if violation.field == "update_mask")
            );
        }
    }
}
