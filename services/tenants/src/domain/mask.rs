//! Update masks (AIP-134, AIP-161): the paths an update names, checked
//! before any value is read so an unknown path never half-applies.
//!
//! Two kinds of resource, one module:
//! - flat resources (users, departments, teams, skills) name their
//!   updatable and fixed fields up front: [`allowed_paths`] checks the mask
//!   against them and expands `*`;
//! - resources with sub-paths and per-editor rules (tenant settings
//!   `calendar.holidays`, SLA policies) check each path in their domain
//!   module: [`required_paths`] only reads the mask, and [`path_field`]
//!   names the offending entry in a violation.
//!
//! Either way the result is trimmed, each path once, in the order given;
//! [`has`] asks whether an update names a path.

use prost_types::FieldMask;

use crate::error::{Result, TenantsError};

/// The paths of a required `update_mask`, trimmed and without repeats, in
/// the order given. Empty paths and the wildcard are INVALID_ARGUMENT
/// naming `update_mask.paths[i]`; whether each path exists is for the
/// caller to check (see [`path_field`]).
pub fn required_paths(mask: Option<&FieldMask>) -> Result<Vec<String>> {
    let requested = given(mask);
    if requested.is_empty() {
        return Err(TenantsError::invalid(
            "update_mask",
            "is required: name the fields to change",
        ));
    }
    let mut chosen: Vec<String> = Vec::with_capacity(requested.len());
    for (index, path) in requested.iter().enumerate() {
        let path = path.trim();
        if path.is_empty() {
            return Err(TenantsError::invalid(
                &format!("update_mask.paths[{index}]"),
                "is empty",
            ));
        }
        if path == "*" {
            // A full replacement would silently reset every field the
            // caller did not send; name the fields instead.
            return Err(TenantsError::invalid(
                &format!("update_mask.paths[{index}]"),
                "the wildcard is not supported; name the fields to change",
            ));
        }
        push_once(&mut chosen, path);
    }
    Ok(chosen)
}

/// The paths of `mask`, each one of `updatable`; `*` stands for all of them.
/// A missing or empty mask, an unknown path or one of `fixed` (output only,
/// immutable or changed by another method) is INVALID_ARGUMENT naming
/// `update_mask`, so a caller never believes a change was made that was not.
pub fn allowed_paths(
    mask: Option<&FieldMask>,
    updatable: &[&str],
    fixed: &[&str],
) -> Result<Vec<String>> {
    let requested = given(mask);
    if requested.is_empty() {
        return Err(TenantsError::invalid(
            "update_mask",
            format!(
                "is required: name the paths to change ({})",
                updatable.join(", ")
            ),
        ));
    }
    let mut chosen: Vec<String> = Vec::with_capacity(requested.len());
    for path in requested {
        let path = path.trim();
        if path == "*" {
            return Ok(updatable.iter().map(|path| (*path).to_owned()).collect());
        }
        if updatable.contains(&path) {
            push_once(&mut chosen, path);
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

/// The field path of mask entry `path`, for a violation.
pub fn path_field(paths: &[String], path: &str) -> String {
    let index = paths.iter().position(|known| known == path).unwrap_or(0);
    format!("update_mask.paths[{index}]")
}

/// The paths a mask names, none when it is missing.
fn given(mask: Option<&FieldMask>) -> &[String] {
    mask.map(|mask| mask.paths.as_slice()).unwrap_or_default()
}

/// Adds `path` to `chosen` unless it is there already.
fn push_once(chosen: &mut Vec<String>, path: &str) {
    if !has(chosen, path) {
        chosen.push(path.to_owned());
    }
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
    fn a_mask_is_required_and_deduplicated() {
        assert!(required_paths(None).is_err());
        assert!(required_paths(Some(&mask(&[]))).is_err());
        assert!(required_paths(Some(&mask(&["*"]))).is_err());
        assert!(required_paths(Some(&mask(&["a", " "]))).is_err());
        assert_eq!(
            required_paths(Some(&mask(&["a", " b", "a"]))).expect("valid"),
            vec!["a".to_owned(), "b".to_owned()]
        );
    }

    #[test]
    fn paths_are_checked_and_deduplicated() {
        let updatable = &["display_name", "kind"];
        let fixed = &["name", "members"];
        assert_eq!(
            allowed_paths(Some(&mask(&["kind", "kind"])), updatable, fixed).expect("ok"),
            vec!["kind".to_owned()]
        );
        assert_eq!(
            allowed_paths(Some(&mask(&["*"])), updatable, fixed).expect("ok"),
            vec!["display_name".to_owned(), "kind".to_owned()]
        );
        for bad in [
            None,
            Some(mask(&[])),
            Some(mask(&["members"])),
            Some(mask(&["colour"])),
        ] {
            let error = allowed_paths(bad.as_ref(), updatable, fixed).expect_err("refused");
            assert!(
                matches!(&error, TenantsError::Invalid(violation, _) if violation.field == "update_mask")
            );
        }
    }
}
