//! The function side: the runtime loop that runs inside Lambda.

mod client;
mod config;
mod context;
mod handler;
mod invoke;
mod metadata;
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
pub use runtime::Runtime;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use service::service;
pub use stats::{CompletionStats, Outcome};
