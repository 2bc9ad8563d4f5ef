//! The function side: the runtime loop that runs inside Lambda.

mod buffered_body;
mod client;
mod config;
mod context;
mod flush_rule;
mod handler;
mod invoke;
mod limited;
mod metadata;
mod payload_limit;
mod request_body;
mod runtime;
#[cfg(feature = "tower")]
mod service;
mod stats;

pub use config::{
    BufferedOverflow, Config, ConfigError, EarlyErrors, FunctionInfo, Hold, InvokeMode,
};
pub use context::Context;
pub use handler::Handler;
pub use metadata::{ExecutionEnvironment, MetadataError};
#[cfg(test)]
pub(crate) use request_body::test_exports;
#[cfg(feature = "testing")]
pub(crate) use request_body::{StreamLimits, StreamingBody};
pub use runtime::Runtime;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use service::service;
pub use stats::{CompletionStats, Outcome};
