//! A model's answer relayed as it is generated (feature `bedrock`): Amazon Bedrock's
//! `ConverseStream` read with `aws-sdk-bedrockruntime`, sent on as server-sent events.
//!
//! | Bedrock event | SSE event | data |
//! |---|---|---|
//! | `contentBlockDelta`, text | `delta` | the text |
//! | `contentBlockDelta`, tool use | `tool_use` | the fragment of the tool's input JSON |
//! | `contentBlockDelta`, reasoning | `reasoning` | the reasoning text |
//! | `messageStop` | `stop` | the stop reason (`end_turn`, `max_tokens`...) |
//! | `metadata` | `usage` | `{"inputTokens":..,"outputTokens":..,"totalTokens":..}` |
//!
//! An exception inside the stream (`throttlingException`, `modelStreamErrorException`,
//! `validationException`, `internalServerException`, `serviceUnavailableException`) ends it
//! with an `error` event, `{"type":"Function.BedrockThrottlingException","message":..}` (for
//! browsers, which never see trailers), and with the error trailer of that type (for SDK
//! clients). [`converse_response`] also sends keep-alive comments while the model is silent.
//!
//! **Stop paying when the answer is cut.** Lambda does not tell a function that its client went
//! away; but when the budget or the deadline ends the response, the body is dropped, and with it
//! the `ConverseStream` receiver: the connection to Bedrock closes at once and no more tokens
//! are generated or billed.
//!
//! ```no_run
//! use lambda_stream::{BoxError, Response};
//! use aws_sdk_bedrockruntime::types::{ContentBlock, ConversationRole, Message};
//!
//! async fn chat(
//!     bedrock: &aws_sdk_bedrockruntime::Client,
//!     prompt: String,
//! ) -> Result<Response, BoxError> {
//!     let message = Message::builder()
//!         .role(ConversationRole::User)
//!         .content(ContentBlock::Text(prompt))
//!         .build()?;
//!     let answer = bedrock
//!         .converse_stream()
//!         .model_id("amazon.nova-lite-v1:0")
//!         .messages(message)
//!         .send()
//!         .await;
//!     Ok(lambda_stream::bedrock::converse_response(answer))
//! }
//! ```

mod errors;
mod events;

pub use events::{converse_events, converse_response};
