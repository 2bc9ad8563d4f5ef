//! Progressive LLM-style output as server-sent events: a simulated model "thinks" for 300 ms,
//! then streams its answer token by token (20-60 ms apart), then a `done` event. `GET /` is a
//! page that asks and appends each token as it arrives.
//!
//! `cargo run --example llm_tokens`, then open <http://localhost:9000/>, or
//! `curl -N -d 'what is streaming?' localhost:9000/`, or
//! `curl -N 'localhost:9000/tokens?prompt=rust&fail_after=5'` (the model fails after 5 tokens:
//! an `error` event, then the stream ends with its error trailer).
//!
//! The page may be served from another origin: `?api=<Function URL>` points it there, which
//! works when that URL's CORS allows the page's origin (`LAMBDA_STREAM_CORS`).

use std::time::Duration;

use futures_util::{Stream, StreamExt, stream};
use lambda_stream::sse::{Event, KeepAlive, Sse};
use lambda_stream::wire::{ErrorType, FunctionError};
use lambda_stream::{Body, BoxError, Context, Request, RequestExt, Response};

/// The page: a form, the answer as it grows, and the stream's end or error.
const PAGE: &str = include_str!("page.html");

/// Splits text into word tokens, each with its leading space, as tokenizers tend to.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for (index, word) in text.split(' ').enumerate() {
        tokens.push(if index == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        });
    }
    tokens
}

/// The simulated model's answer to `prompt`, token by token, with deterministic, uneven pacing
/// (300 ms to the first token, then 20-60 ms per token); it fails after `fail_after` tokens.
fn model(
    prompt: &str,
    fail_after: Option<usize>,
) -> impl Stream<Item = Result<String, FunctionError>> + Send + 'static {
    let prompt = if prompt.is_empty() {
        "nothing in particular"
    } else {
        prompt
    };
    let text = format!(
        "You asked about {prompt}. With response streaming the first words reach you while \
         the rest of the answer is still being generated, so the wait feels shorter."
    );
    stream::iter(tokenize(&text).into_iter().enumerate()).then(move |(index, token)| async move {
        let pause = if index == 0 {
            300
        } else {
            20 + (index as u64 * 37) % 41
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
        match fail_after {
            Some(limit) if index >= limit => Err(FunctionError::new(
                ErrorType::new("Function.ModelFailed").expect("a valid error type"),
                format!("the model stopped after {limit} tokens"),
            )),
            _ => Ok(token),
        }
    })
}

/// The answer as SSE: a message per token, then `done`; a failure is an `error` event (what a
/// browser can see) and then the error trailer (what Lambda and SDK clients see).
fn answer(prompt: &str, fail_after: Option<usize>) -> Response {
    let tokens = model(prompt, fail_after).map(|token| match token {
        Ok(token) => Ok(Event::default().data(token)),
        Err(error) => Err(BoxError::from(error)),
    });
    let done = Event::default().data("[DONE]").event("done");
    let events = tokens.chain(stream::once(async move { done.map_err(BoxError::from) }));
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .error_event(|error| {
            let event = Event::default().data(error.to_string());
            event.clone().event("error").unwrap_or(event)
        })
        .into_response()
}

async fn route(request: Request, _context: Context) -> Result<Response, BoxError> {
    match (request.method().as_str(), request.uri().path()) {
        ("GET", "/tokens") => {
            let prompt = request
                .query_param("prompt")
                .unwrap_or_default()
                .into_owned();
            let Ok(fail_after) = request
                .query_param("fail_after")
                .map(|n| n.parse())
                .transpose()
            else {
                return Ok(http::Response::builder()
                    .status(400)
                    .body(Body::from("fail_after must be a number of tokens\n"))?);
            };
            Ok(answer(prompt.trim(), fail_after))
        }
        ("GET", "/") => Ok(http::Response::builder()
            .header("content-type", "text/html; charset=utf-8")
            .body(Body::from(PAGE))?),
        _ => {
            let prompt = String::from_utf8_lossy(request.body()).trim().to_owned();
            Ok(answer(&prompt, None))
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_stream::Error> {
    lambda_stream::run(route).await
}
