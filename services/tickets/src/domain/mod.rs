//! The rules of tickets, complaints and dispatch: pure functions over the
//! contract's messages, the time passed in.
pub mod assignment;
pub mod business_time;
pub mod comment;
pub mod complaint;
pub mod custom_fields;
pub mod dispatch;
pub mod dispatch_filter;
/// The filters of the conversation lists, shared with the other services.
pub use kefu_kit::filter as record_filter;
pub mod handover;
pub mod incident;
pub mod sla;
pub mod taxonomy;
pub mod taxonomy_filter;
pub mod ticket;
pub mod ticket_filter;
