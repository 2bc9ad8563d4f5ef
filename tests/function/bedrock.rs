//! The Bedrock relay (`lambda_stream::bedrock`): the real `aws-sdk-bedrockruntime` client
//! against the test kit's `BedrockFixture`, the relay behind the in-process emulator, and a
//! real HTTP client reading the SSE answer.

use std::time::Duration;

use aws_sdk_bedrockruntime::config::{Credentials, Region};
use aws_sdk_bedrockruntime::types::{ContentBlock, ConversationRole, Message};
use lambda_stream::emulator::EmulatorConfig;
use lambda_stream::testing::{BedrockFixture, BedrockStep, TestEmulator};
use lambda_stream::{Budget, Context, Request};

use crate::common::{get_with_trailers, send, within};

/// The real SDK client, pointed at `fixture`.
fn bedrock_client(fixture: &BedrockFixture) -> aws_sdk_bedrockruntime::Client {
    let config = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(fixture.url())
        .build();
    aws_sdk_bedrockruntime::Client::from_conf(config)
}

/// The relay behind the emulator (deployed as `config` says), asking `fixture` for an answer
/// to "hi", with `budget`.
async fn relay(
    fixture: &BedrockFixture,
    config: EmulatorConfig,
    budget: Option<u64>,
) -> TestEmulator {
    let bedrock = bedrock_client(fixture);
    let handler = move |_: Request, _: Context| {
        let bedrock = bedrock.clone();
        async move {
            let message = Message::builder()
                .role(ConversationRole::User)
                .content(ContentBlock::Text("hi".into()))
                .build()?;
            let answer = bedrock
                .converse_stream()
                .model_id("test-model")
                .messages(message)
                .send()
                .await;
            let mut response = lambda_stream::bedrock::converse_response(answer);
            if let Some(bytes) = budget {
                response.extensions_mut().insert(Budget::bytes(bytes));
            }
            Ok::<_, lambda_stream::BoxError>(response)
        }
    };
    TestEmulator::start(config, handler).await.unwrap()
}

/// What the client reads: each SSE event (name and data) with when it arrived, and the error
/// trailer's type if the answer had one.
async fn read_events(function: &TestEmulator) -> (Events, Option<String>) {
    let response = within(send(function.url_addr(), get_with_trailers("/"))).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let (mut text, mut events, mut trailer) = (String::new(), Vec::new(), None);
    while let Some(frame) = within(http_body_util::BodyExt::frame(&mut body)).await {
        let frame = frame.unwrap();
        if let Some(trailers) = frame.trailers_ref() {
            trailer = trailers
                .get("lambda-runtime-function-error-type")
                .map(|v| v.to_str().unwrap().to_owned());
            continue;
        }
        text.push_str(std::str::from_utf8(frame.data_ref().unwrap()).unwrap());
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            let field = |name: &str| {
                let prefix = format!("{name}: ");
                let values: Vec<&str> = event
                    .lines()
                    .filter_map(|l| l.strip_prefix(&prefix))
                    .collect();
                values.join("\n")
            };
            if !event.starts_with(':') {
                events.push((field("event"), field("data"), tokio::time::Instant::now()));
            }
        }
    }
    (events, trailer)
}

/// Events as the client read them.
type Events = Vec<(String, String, tokio::time::Instant)>;

/// The relay's answer from `fixture`, deployed with the defaults.
async fn answer(fixture: &BedrockFixture) -> (Events, Option<String>) {
    let function = relay(fixture, EmulatorConfig::default(), None).await;
    read_events(&function).await
}

/// Each event's name and data.
fn names(events: &Events) -> Vec<(&str, &str)> {
    events.iter().map(|(n, d, _)| (&n[..], &d[..])).collect()
}

#[tokio::test]
async fn deltas_stop_and_usage_arrive_as_bedrock_sends_them() {
    let pause = BedrockStep::Pause(Duration::from_millis(100));
    let fixture = BedrockFixture::start(vec![
        BedrockStep::Event("messageStart", serde_json::json!({ "role": "assistant" })),
        BedrockStep::text("Hel"),
        pause.clone(),
        BedrockStep::text("lo,\nworld"),
        pause,
        BedrockStep::text("!"),
        BedrockStep::Event(
            "contentBlockStop",
            serde_json::json!({ "contentBlockIndex": 0 }),
        ),
        BedrockStep::stop("end_turn"),
        BedrockStep::usage(12, 3),
    ])
    .await
    .unwrap();
    let (events, trailer) = answer(&fixture).await;
    assert_eq!(
        names(&events),
        [
            ("delta", "Hel"),
            ("delta", "lo,\nworld"),
            ("delta", "!"),
            ("stop", "end_turn"),
            (
                "usage",
                r#"{"inputTokens":12,"outputTokens":3,"totalTokens":15}"#
            ),
        ],
        "{events:?}"
    );
    assert_eq!(trailer, None);
    // Each delta reached the client before the fixture sent the next, 100 ms later (the
    // fixture's frames: messageStart, then the three deltas).
    let sent = fixture.sent();
    for (index, (_, _, arrived)) in events.iter().take(2).enumerate() {
        eprintln!(
            "delta {index}: {:?} after it was sent",
            arrived.duration_since(sent[index + 1])
        );
        assert!(
            *arrived < sent[index + 2],
            "delta {index} arrived after the next was sent"
        );
    }
    assert_eq!(
        fixture.requests()[0]["messages"][0]["content"][0]["text"],
        "hi"
    );
}

#[tokio::test]
async fn an_exception_mid_stream_is_an_error_event_and_the_error_trailer() {
    let fixture = BedrockFixture::start(vec![
        BedrockStep::text("Hel"),
        BedrockStep::Exception("throttlingException", "Too many tokens, slow down".into()),
        BedrockStep::text("never sent"),
    ])
    .await
    .unwrap();
    let (events, trailer) = answer(&fixture).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!((&events[0].0[..], &events[0].1[..]), ("delta", "Hel"));
    assert_eq!(events[1].0, "error");
    let error: serde_json::Value = serde_json::from_str(&events[1].1).unwrap();
    assert_eq!(error["type"], "Function.BedrockThrottlingException");
    assert_eq!(error["message"], "Too many tokens, slow down");
    assert_eq!(
        trailer.as_deref(),
        Some("Function.BedrockThrottlingException")
    );
}

#[tokio::test]
async fn a_budget_cut_closes_the_connection_to_bedrock() {
    // Deltas, then a long silence: the answer is cut by its 300-byte budget first, and the
    // relay must close the upstream connection then, not after the silence.
    let mut script: Vec<BedrockStep> = (0..40)
        .map(|i| BedrockStep::text(&format!("token{i} ")))
        .collect();
    script.push(BedrockStep::Pause(Duration::from_secs(30)));
    script.push(BedrockStep::stop("end_turn"));
    let fixture = BedrockFixture::start(script).await.unwrap();
    let function = relay(&fixture, EmulatorConfig::default(), Some(300)).await;
    let (events, trailer) = read_events(&function).await;
    let ended = tokio::time::Instant::now();
    assert!(events.len() < 40, "cut: {} events", events.len());
    assert!(
        events.iter().all(|(name, _, _)| name == "delta"),
        "{events:?}"
    );
    assert_eq!(trailer.as_deref(), Some("Function.ResponseSizeTooLarge"));
    let closed = within(fixture.closed()).await;
    eprintln!(
        "upstream closed {:?} after the client's end",
        closed.saturating_duration_since(ended)
    );
    assert!(
        fixture.sent().len() < 41,
        "the rest of the script was never sent"
    );
}

#[tokio::test]
async fn a_deadline_cut_closes_the_connection_to_bedrock() {
    let fixture = BedrockFixture::start(vec![
        BedrockStep::text("thinking"),
        BedrockStep::Pause(Duration::from_secs(30)),
        BedrockStep::stop("end_turn"),
    ])
    .await
    .unwrap();
    let config = EmulatorConfig::default().with_timeout(Duration::from_secs(3));
    let function = relay(&fixture, config, None).await;
    let (events, trailer) = read_events(&function).await;
    let ended = tokio::time::Instant::now();
    assert_eq!(events[0].1, "thinking");
    assert_eq!(trailer.as_deref(), Some("Function.DeadlineExceeded"));
    let closed = within(fixture.closed()).await;
    eprintln!(
        "upstream closed {:?} after the client's end",
        closed.saturating_duration_since(ended)
    );
    assert_eq!(fixture.sent().len(), 1, "nothing after the cut");
}

#[tokio::test(start_paused = true)]
async fn keep_alive_comments_flow_while_the_model_is_silent() {
    let fixture = BedrockFixture::start(vec![
        BedrockStep::text("Let me think."),
        BedrockStep::Pause(Duration::from_secs(20)),
        BedrockStep::text(" Done."),
        BedrockStep::stop("end_turn"),
    ])
    .await
    .unwrap();
    let function = relay(&fixture, EmulatorConfig::default(), None).await;
    let response = send(function.url_addr(), get_with_trailers("/")).await;
    let (body, _, clean) = crate::common::read_all(response).await;
    let body = String::from_utf8(body).unwrap();
    let first = body.find("Let me think.").unwrap();
    let last = body.find(" Done.").unwrap();
    assert!(
        body[first..last].contains("\n:"),
        "a keep-alive comment during the silence: {body:?}"
    );
    assert!(
        clean && body.contains("event: stop\ndata: end_turn"),
        "{body:?}"
    );
}

#[tokio::test]
async fn tool_use_and_reasoning_deltas_have_events_of_their_own() {
    let delta = |index: u32, delta: serde_json::Value| {
        BedrockStep::Event(
            "contentBlockDelta",
            serde_json::json!({ "contentBlockIndex": index, "delta": delta }),
        )
    };
    let fixture = BedrockFixture::start(vec![
        delta(
            0,
            serde_json::json!({ "reasoningContent": { "text": "The user wants weather." } }),
        ),
        delta(
            1,
            serde_json::json!({ "toolUse": { "input": "{\"city\":" } }),
        ),
        delta(
            1,
            serde_json::json!({ "toolUse": { "input": "\"Paris\"}" } }),
        ),
        BedrockStep::stop("tool_use"),
    ])
    .await
    .unwrap();
    let (events, trailer) = answer(&fixture).await;
    assert_eq!(
        names(&events),
        [
            ("reasoning", "The user wants weather."),
            ("tool_use", "{\"city\":"),
            ("tool_use", "\"Paris\"}"),
            ("stop", "tool_use"),
        ]
    );
    assert_eq!(trailer, None);
}

#[tokio::test]
async fn each_exception_bedrock_documents_has_its_error_type() {
    for (exception, error_type) in [
        (
            "modelStreamErrorException",
            "Function.BedrockModelStreamErrorException",
        ),
        ("validationException", "Function.BedrockValidationException"),
        (
            "internalServerException",
            "Function.BedrockInternalServerException",
        ),
        (
            "serviceUnavailableException",
            "Function.BedrockServiceUnavailableException",
        ),
    ] {
        let fixture = BedrockFixture::start(vec![
            BedrockStep::text("a"),
            BedrockStep::Exception(exception, format!("{exception} happened")),
        ])
        .await
        .unwrap();
        let function = relay(&fixture, EmulatorConfig::default(), None).await;
        let (events, trailer) = read_events(&function).await;
        assert_eq!(trailer.as_deref(), Some(error_type), "{exception}");
        let error: serde_json::Value = serde_json::from_str(&events[1].1).unwrap();
        assert_eq!(error["message"], format!("{exception} happened"));
    }
}

#[tokio::test]
async fn a_refused_request_is_one_error_event_a_browser_can_read() {
    let fixture = BedrockFixture::start(vec![BedrockStep::Refuse(
        403,
        "AccessDeniedException",
        "You don't have access to the model with the specified model ID.".into(),
    )])
    .await
    .unwrap();
    let (events, trailer) = answer(&fixture).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "error");
    let error: serde_json::Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(error["type"], "Function.BedrockAccessDeniedException");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("don't have access")
    );
    assert_eq!(
        trailer.as_deref(),
        Some("Function.BedrockAccessDeniedException")
    );
}
