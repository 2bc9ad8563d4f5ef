//! Where the function runs: [`FunctionInfo`] (the variables Lambda sets, on every
//! [`Context`](crate::Context) as `context.function`) and the execution environment's metadata
//! ([`FunctionInfo::execution_environment`]).

pub use crate::function::{ExecutionEnvironment, FunctionInfo, MetadataError};
