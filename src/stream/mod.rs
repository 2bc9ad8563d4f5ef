//! The response pipeline, one module: what happens to a handler's body between the handler
//! and the socket, streamed or `BUFFERED` alike.
//!
//! ```text
//! handler's Body (chunks that know their records)
//!   -> coalesce   Body::coalesce: items merged, waiting a little for more (coalesce.rs)
//!   -> source     the chunks held before the head was committed, then the body, panics
//!                 caught (held.rs, source.rs); compressed when the response asks for it (compress/:
//!                 flushed per merge, handed the room the policy leaves before it compresses)
//!   -> limit      the policy (budget, deadline, bandwidth: policy.rs) admits each chunk whole,
//!                 or its leading records, or cuts, then asks the source for the closing (the
//!                 continuation, compressed when the body is); a BUFFERED answer's payload
//!                 limit beside it
//!   -> merge      small chunks already ready behind one travel with it (merge.rs, ready.rs)
//!   -> streamed   head frames (prelude, 8 NULs), the flush rule's give-way (flush.rs), the
//!                 continuation or the error trailer at a cut, the report (outcome.rs)
//!   -> collect    or, BUFFERED: the same limited body collected into one payload
//! ```
//!
//! A page with a continuation gets its link to slow readers too: the policy measures the
//! reader's pace (pace.rs) and ends the page early enough for the bytes that may still be on
//! their way to the Runtime API, which both ends of that connection keep few (in_flight.rs).

mod coalesce;
mod collect;
#[cfg(feature = "compression")]
#[cfg_attr(docsrs, doc(cfg(feature = "compression")))]
pub mod compress;
mod flush;
mod held;
pub(crate) mod in_flight;
mod limit;
pub(crate) mod merge;
mod outcome;
mod pace;
mod payload_limit;
mod per_response;
mod policy;
pub(crate) mod ready;
mod sent;
mod source;
mod streamed;

pub use coalesce::Coalesce;
pub(crate) use collect::{CollectedEnd, collect};
pub use outcome::Outcome;
pub(crate) use per_response::PerResponse;
#[cfg(feature = "emulator")]
pub(crate) use policy::BudgetMeter;
pub use policy::{BandwidthModel, Budget};
#[cfg(test)]
pub(crate) use streamed::test_exports;
pub(crate) use streamed::{MERGE, StreamLimits, StreamingBody};
