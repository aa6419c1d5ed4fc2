//! Field masks (AIP-134, AIP-161) of the tenant settings resources: the
//! paths an update names, checked before any value is read so an unknown
//! path never half-applies. Paths may have sub-paths (`calendar.holidays`),
//! which the flat identity masks (`update_paths`) do not need.

use crate::error::{Result, TenantsError};

/// The paths of a required `update_mask`, trimmed and without repeats, in
/// the order given.
pub fn required_paths(mask: Option<&prost_types::FieldMask>) -> Result<Vec<String>> {
    let paths = mask.map(|mask| mask.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return Err(TenantsError::invalid(
            "update_mask",
            "is required: name the fields to change",
        ));
    }
    let mut seen: Vec<String> = Vec::with_capacity(paths.len());
    for (index, path) in paths.iter().enumerate() {
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
        if !seen.iter().any(|known| known == path) {
            seen.push(path.to_owned());
        }
    }
    Ok(seen)
}

/// The field path of mask entry `path`, for a violation.
pub fn path_field(paths: &[String], path: &str) -> String {
    let index = paths.iter().position(|known| known == path).unwrap_or(0);
    format!("update_mask.paths[{index}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(paths: &[&str]) -> prost_types::FieldMask {
        prost_types::FieldMask {
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
}
