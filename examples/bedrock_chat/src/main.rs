//! A chat page whose answer comes from a model on Amazon Bedrock as it is generated:
//! `ConverseStream` relayed as server-sent events by `lambda_stream::bedrock`.
//!
//! `GET /` is the page of `examples/llm_tokens` (each token appended as its event arrives, the
//! stop reason and token usage shown at the end, an error in red); `GET /tokens?prompt=..`
//! (and an optional `&system=..`) is the answer. The Bedrock client is built once, in
//! `run_with_init`, from the standard AWS configuration (`aws-config`: region, credentials).
//!
//! ```sh
//! AWS_REGION=us-east-1 BEDROCK_MODEL_ID=amazon.nova-lite-v1:0 cargo run -p bedrock_chat
//! # then open http://localhost:9000/, or
//! curl -N 'localhost:9000/tokens?prompt=What%20is%20response%20streaming%3F&system=Answer%20in%20one%20sentence.'
//! ```
//!
//! Environment: `BEDROCK_MODEL_ID` (default `amazon.nova-lite-v1:0`), `BEDROCK_SYSTEM_PROMPT`
//! (a system prompt for every request without `system`), and what `aws-config` reads
//! (`AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`...). The function's role
//! needs `bedrock:InvokeModelWithResponseStream` on the model (docs/bedrock.md).

use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, InferenceConfiguration, Message, SystemContentBlock,
};
use lambda_stream::{Body, BoxError, Context, Request, RequestExt, Response};

/// The page: a form, the answer as it grows, how it ended.
const PAGE: &str = include_str!("../../llm_tokens/page.html");

/// The page as this example serves it: its own title, and no "fail after" box (a real model
/// fails on its own).
fn page() -> String {
    PAGE.replace(
        "<label><input id=\"fail\" type=\"checkbox\"> fail after 8 tokens</label>",
        "",
    )
    .replace(
        "Streaming tokens from a Lambda Function URL",
        "A model on Amazon Bedrock, streamed through a Lambda Function URL",
    )
}

/// What every request shares: the client, built once, and the settings.
#[derive(Clone)]
struct Chat {
    bedrock: aws_sdk_bedrockruntime::Client,
    model_id: String,
    system: Option<String>,
}

impl Chat {
    async fn from_environment() -> Chat {
        let config = aws_config::load_from_env().await;
        Chat {
            bedrock: aws_sdk_bedrockruntime::Client::new(&config),
            model_id: std::env::var("BEDROCK_MODEL_ID")
                .unwrap_or_else(|_| "amazon.nova-lite-v1:0".to_owned()),
            system: std::env::var("BEDROCK_SYSTEM_PROMPT")
                .ok()
                .filter(|s| !s.trim().is_empty()),
        }
    }

    /// The model's answer to `prompt`, relayed as it is generated.
    async fn answer(&self, prompt: String, system: Option<String>) -> Result<Response, BoxError> {
        let message = Message::builder()
            .role(ConversationRole::User)
            .content(ContentBlock::Text(prompt))
            .build()?;
        let mut request = self
            .bedrock
            .converse_stream()
            .model_id(&self.model_id)
            .messages(message)
            .inference_config(InferenceConfiguration::builder().max_tokens(1024).build());
        if let Some(system) = system.or_else(|| self.system.clone()) {
            request = request.system(SystemContentBlock::Text(system));
        }
        Ok(lambda_stream::bedrock::converse_response(
            request.send().await,
        ))
    }
}

async fn route(chat: Chat, request: Request) -> Result<Response, BoxError> {
    match (request.method().as_str(), request.uri().path()) {
        ("GET", "/tokens") => {
            let prompt = request
                .query_param("prompt")
                .unwrap_or_default()
                .trim()
                .to_owned();
            if prompt.is_empty() {
                return Ok(http::Response::builder()
                    .status(400)
                    .body(Body::from("ask with ?prompt=<text>\n"))?);
            }
            // A blank one is none: Bedrock refuses empty text.
            let system = request
                .query_param("system")
                .map(|s| s.into_owned())
                .filter(|s| !s.trim().is_empty());
            chat.answer(prompt, system).await
        }
        ("GET", "/") => Ok(http::Response::builder()
            .header("content-type", "text/html; charset=utf-8")
            .body(Body::from(page()))?),
        _ => Ok(http::Response::builder()
            .status(404)
            .body(Body::from("not found\n"))?),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_stream::Error> {
    lambda_stream::run_with_init(|| async {
        let chat = Chat::from_environment().await;
        Ok::<_, BoxError>(move |request: Request, _context: Context| {
            let chat = chat.clone();
            async move { route(chat, request).await }
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_has_its_own_title_and_no_fail_box() {
        let page = super::page();
        assert!(!page.contains("id=\"fail\""));
        assert!(page.contains("A model on Amazon Bedrock"));
    }
}
