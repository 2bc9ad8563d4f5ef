//! The local emulator as AWS runs it: the Function URL (streaming and `BUFFERED`), `AWS_IAM`,
//! bad input, kept-alive connections, function timeouts, CORS and the invoke routes, the
//! access log, the REST API front, Managed Instances, and `lambda-stream serve` with runtimes in
//! other languages.

#[path = "../common.rs"]
mod common;

mod access_log;
mod auth;
mod bad_input;
mod cli;
mod connections;
mod deadlines;
mod fidelity;
mod function_url;
mod invoke_api;
mod managed_instances;
mod rest_api;
mod rest_api_front;
