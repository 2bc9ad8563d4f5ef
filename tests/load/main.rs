//! Load, memory and descriptors, measured on this process (`/proc/self`): in a test binary of
//! their own, one test at a time (`common::measured`), so that no other test's memory counts.

#[path = "../common.rs"]
mod common;

mod load;
mod soak;
mod uploads;
