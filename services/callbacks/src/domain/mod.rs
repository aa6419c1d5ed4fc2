//! The rules of return visits: pure functions over the contract's messages,
//! the time passed in.

pub mod answers;
pub mod assignment;
pub mod attempt;
pub mod campaign;
pub mod coverage;
pub mod policy;
pub mod script;
pub mod sms_reply;
pub mod survey;
pub mod task;
pub mod template;
pub mod window;
