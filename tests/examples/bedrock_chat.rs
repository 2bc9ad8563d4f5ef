//! `examples/bedrock_chat` as a process, its real Bedrock client pointed at the test kit's
//! fixture (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME`): the request's prompt and system prompt reach
//! the Converse request, and a request without a prompt is refused before Bedrock is asked.

use lambda_stream::testing::{BedrockFixture, BedrockStep};
use tokio::process::Child;

use crate::common::{get, read_all, send, start_bedrock_chat, within};

/// Starts bedrock_chat against `fixture` with `env` added.
async fn start(fixture: &BedrockFixture, env: &[(&str, &str)]) -> (u16, Child) {
    let mut all = vec![("RUST_LOG", "warn")];
    all.extend_from_slice(env);
    start_bedrock_chat(fixture, &all).await
}

/// GET `path`: the status and the body.
async fn ask(port: u16, path: &str) -> (u16, String) {
    let response = within(send(([127, 0, 0, 1], port).into(), get(path))).await;
    let status = response.status().as_u16();
    let (body, _, _) = within(read_all(response)).await;
    (status, String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn the_prompt_and_the_system_prompt_make_the_converse_request() {
    let fixture = BedrockFixture::start(vec![
        BedrockStep::text("Yes."),
        BedrockStep::stop("end_turn"),
    ])
    .await
    .unwrap();
    let (port, _chat) = start(&fixture, &[("BEDROCK_SYSTEM_PROMPT", "Be kind.")]).await;
    let (status, body) = ask(
        port,
        "/tokens?prompt=Is%20it%20streaming%3F&system=Be%20brief.",
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.starts_with("event: delta\ndata: Yes.\n\n"), "{body:?}");
    let (_, body) = ask(port, "/tokens?prompt=Again").await;
    assert!(body.contains("event: stop\ndata: end_turn"), "{body:?}");
    ask(port, "/tokens?prompt=Third&system=%20").await;

    let requests = fixture.requests();
    let first = &requests[0];
    assert_eq!(first["messages"][0]["role"], "user");
    assert_eq!(
        first["messages"][0]["content"][0]["text"],
        "Is it streaming?"
    );
    assert_eq!(first["system"][0]["text"], "Be brief.", "?system= wins");
    assert_eq!(first["inferenceConfig"]["maxTokens"], 1024);
    assert_eq!(
        requests[1]["system"][0]["text"], "Be kind.",
        "else BEDROCK_SYSTEM_PROMPT"
    );
    assert_eq!(
        requests[2]["system"][0]["text"], "Be kind.",
        "a blank ?system= is none"
    );
}

#[tokio::test]
async fn a_request_without_a_prompt_is_refused_before_bedrock_is_asked() {
    let fixture = BedrockFixture::start(vec![BedrockStep::stop("end_turn")])
        .await
        .unwrap();
    let (port, _chat) = start(&fixture, &[]).await;
    let (status, body) = ask(port, "/tokens?prompt=%20").await;
    assert_eq!((status, body.as_str()), (400, "ask with ?prompt=<text>\n"));
    let (status, page) = ask(port, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("A model on Amazon Bedrock"));
    assert!(fixture.requests().is_empty(), "Bedrock was never asked");
}
