//! `ConverseStream` events as SSE events, and its exceptions as typed errors.

use aws_sdk_bedrockruntime::config::http::HttpResponse;
use aws_sdk_bedrockruntime::error::SdkError;
use aws_sdk_bedrockruntime::operation::converse_stream::{
    ConverseStreamError, ConverseStreamOutput,
};
use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_sdk_bedrockruntime::types::{
    ContentBlockDelta, ConverseStreamOutput as Output, ReasoningContentBlockDelta,
};
use futures_util::{Stream, StreamExt};

use super::errors::{request_error, stream_error};

use crate::body::Response;
use crate::sse::{Event, KeepAlive, Sse};
use crate::wire::FunctionError;

/// What `ConverseStream` hands out.
type Receiver = EventReceiver<Output, ConverseStreamOutputError>;

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
                Err(error) => return Some((Err(stream_error(error)), None)),
            }
        }
    })
}

/// The answer to a `ConverseStream` request (what `send()` returned) as an SSE response:
/// [`converse_events`], an `error` event before an error's trailer, and a keep-alive comment
/// after 15 s of silence (API Gateway's edge closes a connection idle for 30 s). When the
/// request itself failed (access denied, throttled, a model id that does not exist), the
/// response is a `200` whose one event is that `error` event, with the error trailer
/// `Function.Bedrock<ExceptionName>`: a browser's `EventSource` reads only a `200`.
pub fn converse_response(
    answer: Result<ConverseStreamOutput, SdkError<ConverseStreamError, HttpResponse>>,
) -> Response {
    let events = match answer {
        Ok(answer) => converse_events(answer.stream).boxed(),
        Err(error) => futures_util::stream::once(async move { Err(request_error(error)) }).boxed(),
    };
    Sse::new(events)
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
fn sse_event(output: Output) -> Option<Event> {
    match output {
        Output::ContentBlockDelta(delta) => match delta.delta? {
            ContentBlockDelta::Text(text) => Some(named("delta").data(text)),
            ContentBlockDelta::ToolUse(tool) => Some(named("tool_use").data(tool.input)),
            ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Text(text)) => {
                Some(named("reasoning").data(text))
            }
            _ => None,
        },
        Output::MessageStop(stop) => Some(named("stop").data(stop.stop_reason.as_str().to_owned())),
        Output::Metadata(metadata) => {
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
