//! The tenant's own identifiers of customers (房号, VIN, 资金账号, …):
//! compared case-insensitively with spaces and hyphens removed, unique per
//! tenant and kind (and label, for OTHER).

use kefu_proto::v1::CustomerIdentifierKind;

/// The comparison key of an identifier value: lowercase, without spaces
/// and hyphens (`3-2-1502` and `3 2 1502` are one unit).
pub fn value_key(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '－' | '—'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The label part of the uniqueness key: the lowercase label for OTHER
/// (two OTHER identifiers with different labels are different keys), empty
/// for the named kinds.
pub fn label_key(kind: CustomerIdentifierKind, label: &str) -> String {
    if kind == CustomerIdentifierKind::Other {
        label.trim().to_lowercase()
    } else {
        String::new()
    }
}

/// What is wrong with a value of `kind`, if anything (its key given).
pub fn check(kind: CustomerIdentifierKind, key: &str) -> Option<&'static str> {
    match kind {
        CustomerIdentifierKind::Unspecified => Some("needs a kind"),
        // ISO 3779: 17 characters, no I, O or Q.
        CustomerIdentifierKind::CarVin
            if key.chars().count() != 17
                || !key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() && !matches!(c, 'i' | 'o' | 'q')) =>
        {
            Some("is not a vehicle identification number (17 letters and digits, no I, O or Q)")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_numbers_compare_without_separators() {
        assert_eq!(value_key("3-2-1502"), value_key("3 2 1502"));
        assert_eq!(value_key("AB-12"), "ab12");
    }

    #[test]
    fn vins_are_checked() {
        assert_eq!(
            check(
                CustomerIdentifierKind::CarVin,
                &value_key("LSVAU2180N2183294")
            ),
            None
        );
        assert!(
            check(
                CustomerIdentifierKind::CarVin,
                &value_key("LSVAU2180N218329")
            )
            .is_some()
        );
        assert!(
            check(
                CustomerIdentifierKind::CarVin,
                &value_key("LSVAU2180N218329O")
            )
            .is_some()
        );
    }

    #[test]
    fn other_identifiers_are_keyed_by_label() {
        assert_eq!(
            label_key(CustomerIdentifierKind::Other, " 车牌号 "),
            "车牌号"
        );
        assert_eq!(label_key(CustomerIdentifierKind::UnitNumber, "房号"), "");
    }
}
