//! The Invoke API's log tail (`X-Amz-Log-Type: Tail`), as both routes hand it over: base64 in
//! `X-Amz-Log-Result` on `Invoke`, in `InvokeComplete.LogResult` on
//! `InvokeWithResponseStream`.

use std::sync::Arc;

use base64::Engine as _;

use crate::emulator::EmulatorConfig;
use crate::emulator::runtime::output::TailRequest;

/// Where an invocation that asked for its log tail takes it from.
pub(crate) struct LogTail {
    pub(crate) request: Arc<TailRequest>,
    pub(crate) request_id: String,
}

/// The invocation's log tail, base64; `None` when none was asked for (or no instance ran it).
pub(crate) async fn log_result(tail: Option<LogTail>) -> Option<String> {
    let tail = tail?;
    let log = tail
        .request
        .log(&tail.request_id, EmulatorConfig::FUNCTION_MEMORY_MB)
        .await?;
    Some(base64::engine::general_purpose::STANDARD.encode(log))
}
