//! `ConverseStream` events as SSE events, and its exceptions as typed errors.

use aws_sdk_bedrockruntime::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_sdk_bedrockruntime::types::{
    ContentBlockDelta, ConverseStreamOutput, ReasoningContentBlockDelta,
};
use aws_smithy_types::event_stream::RawMessage;
use futures_util::Stream;

use crate::body::Response;
use crate::sse::{Event, KeepAlive, Sse};
use crate::wire::{ErrorType, FunctionError};

/// What `ConverseStream` hands out.
type Receiver = EventReceiver<ConverseStreamOutput, ConverseStreamOutputError>;

/// The model's answer as SSE events (see the [module](super) docs), as Bedrock sends them. An
/// exception inside the stream, or the stream failing, ends it with a [`FunctionError`] of
/// type `Function.Bedrock<ExceptionName>` (`Function.BedrockThrottlingException`...: Lambda's
/// error types are `Function.*`). Dropping the stream drops `receiver`, which closes the
/// connection to Bedrock.
pub fn converse_events(
    receiver: Receiver,
) -> impl Stream<Item = Result<Event, FunctionError>> + Send + 'static {
    futures_util::stream::unfold(Some(receiver), |receiver| async move {
        let mut receiver = receiver?;
        loop {
            match receiver.recv().await {
                Ok(Some(output)) => {
                    if let Some(event) = sse_event(output) {
                        return Some((Ok(event), Some(receiver)));
                    }
                }
                Ok(None) => return None,
                // Nothing after an error: the receiver is dropped with it.
                Err(error) => return Some((Err(function_error(error)), None)),
            }
        }
    })
}

/// The answer as an SSE response: [`converse_events`], an `error` event before an error's
/// trailer, and a keep-alive comment after 15 s of silence (API Gateway's edge closes a
/// connection idle for 30 s).
pub fn converse_response(receiver: Receiver) -> Response {
    Sse::new(converse_events(receiver))
        .error_event(error_event)
        .keep_alive(KeepAlive::new())
        .into_response()
}

/// `event: error` with `{"type":..,"message":..}`.
fn error_event(error: &crate::BoxError) -> Event {
    let (error_type, message) = match error.downcast_ref::<FunctionError>() {
        Some(error) => (
            error.error_type().as_str().to_owned(),
            error.message().to_owned(),
        ),
        None => ("Function.StreamError".to_owned(), error.to_string()),
    };
    let data = serde_json::json!({ "type": error_type, "message": message });
    named("error").data(data.to_string())
}

/// An event with this name (a valid one: no line break).
fn named(name: &'static str) -> Event {
    Event::default().event(name).unwrap_or_default()
}

/// The SSE event for one `ConverseStream` event; `None` for those a page has no use for
/// (`messageStart`, `contentBlockStart`, `contentBlockStop`, what this SDK does not know).
fn sse_event(output: ConverseStreamOutput) -> Option<Event> {
    match output {
        ConverseStreamOutput::ContentBlockDelta(delta) => match delta.delta? {
            ContentBlockDelta::Text(text) => Some(named("delta").data(text)),
            ContentBlockDelta::ToolUse(tool) => Some(named("tool_use").data(tool.input)),
            ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Text(text)) => {
                Some(named("reasoning").data(text))
            }
            _ => None,
        },
        ConverseStreamOutput::MessageStop(stop) => {
            Some(named("stop").data(stop.stop_reason.as_str().to_owned()))
        }
        ConverseStreamOutput::Metadata(metadata) => {
            let usage = metadata.usage?;
            let counts = serde_json::json!({
                "inputTokens": usage.input_tokens,
                "outputTokens": usage.output_tokens,
                "totalTokens": usage.total_tokens,
            });
            Some(named("usage").data(counts.to_string()))
        }
        _ => None,
    }
}

/// A failed `recv` as the stream's error: `Function.Bedrock<ExceptionName>` and its message
/// for an exception Bedrock sent, `Function.BedrockStreamError` when the stream itself broke.
fn function_error(error: SdkError<ConverseStreamOutputError, RawMessage>) -> FunctionError {
    let (name, message) = match error {
        SdkError::ServiceError(failure) => {
            let exception = failure.into_err();
            let message = exception.message().unwrap_or_default().to_owned();
            (exception_name(&exception), message)
        }
        other => (
            "StreamError".to_owned(),
            DisplayErrorContext(&other).to_string(),
        ),
    };
    let error_type =
        ErrorType::new(format!("Function.Bedrock{name}")).unwrap_or(ErrorType::STREAM_ERROR);
    FunctionError::new(error_type, message)
}

/// The exception's name as AWS documents it, capitalised (`ThrottlingException`).
fn exception_name(exception: &ConverseStreamOutputError) -> String {
    let known = match exception {
        ConverseStreamOutputError::ThrottlingException(_) => "ThrottlingException",
        ConverseStreamOutputError::ModelStreamErrorException(_) => "ModelStreamErrorException",
        ConverseStreamOutputError::ValidationException(_) => "ValidationException",
        ConverseStreamOutputError::InternalServerException(_) => "InternalServerException",
        ConverseStreamOutputError::ServiceUnavailableException(_) => "ServiceUnavailableException",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    // One this SDK does not model: its code, capitalised, else a generic name.
    let code = exception.code().unwrap_or("UnknownException");
    let mut chars = code.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}
