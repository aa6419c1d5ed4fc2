//! The customers service's decisions: pure functions of their inputs and
//! the time they are given.

pub mod customer;
pub mod email;
pub mod identifier;
pub mod names;
pub mod phone;
