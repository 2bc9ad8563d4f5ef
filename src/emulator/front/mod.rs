//! The fronts: what differs between a Function URL, an API Gateway REST API and the Lambda
//! API's invoke routes (events, head mapping, failure shapes, auth scope, CORS model). Each is
//! a [`FrontEnd`](super::lifecycle::FrontEnd) the one lifecycle runs.

pub(crate) mod event_stream;
pub(crate) mod function_url;
pub(crate) mod invoke_api;
pub(crate) mod log_tail;
pub(crate) mod rest_api;
pub(crate) mod tenant;
