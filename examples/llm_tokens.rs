//! Progressive LLM-style output as server-sent events: a simulated model "thinks" for 300 ms,
//! then streams its answer token by token (20-60 ms apart), then a `done` event.
//!
//! `cargo run --example llm_tokens`, then `curl -N -d 'what is streaming?' localhost:9000/`

use std::time::Duration;

use futures_util::{StreamExt, stream};
use lambda_stream::sse::{Event, KeepAlive, Sse, token_events};
use lambda_stream::{BoxError, Context, Request, Response};

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

async fn answer(request: Request, _context: Context) -> Result<Response, BoxError> {
    let prompt = String::from_utf8_lossy(request.body()).trim().to_owned();
    let prompt = if prompt.is_empty() {
        "nothing in particular".to_owned()
    } else {
        prompt
    };
    let text = format!(
        "You asked about {prompt}. With response streaming the first words reach you while \
         the rest of the answer is still being generated, so the wait feels shorter."
    );
    // Deterministic, uneven pacing: 300 ms to the first token, then 20-60 ms per token.
    let paced =
        stream::iter(tokenize(&text).into_iter().enumerate()).then(|(index, token)| async move {
            let pause = if index == 0 {
                300
            } else {
                20 + (index as u64 * 37) % 41
            };
            tokio::time::sleep(Duration::from_millis(pause)).await;
            token
        });
    let done = Event::default().event("done")?.data("[DONE]");
    let events = token_events(paced).chain(stream::once(async move { Ok(done) }));
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

#[tokio::main]
async fn main() -> Result<(), lambda_stream::Error> {
    lambda_stream::run(answer).await
}
