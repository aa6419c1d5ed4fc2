//! The values a record's field has for the list filters
//! ([`record_filter`](kefu_kit::filter)): an empty text or a
//! missing time has none.

use kefu_kit::events::from_timestamp;

use kefu_kit::filter::FieldValue;

/// A text field's value; an empty text has none.
pub(super) fn text(value: &str) -> Vec<FieldValue> {
    if value.is_empty() {
        Vec::new()
    } else {
        vec![FieldValue::Text(value.to_owned())]
    }
}

/// A time field's value; an unset or unreadable time has none.
pub(super) fn time(value: Option<&prost_types::Timestamp>) -> Vec<FieldValue> {
    value
        .and_then(from_timestamp)
        .map(FieldValue::Time)
        .into_iter()
        .collect()
}
