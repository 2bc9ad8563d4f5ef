//! Faults on the Runtime API side, injected by a hand-written Runtime API over raw TCP: a
//! failing or malformed `/next`, and a connection closed in the middle of a streamed response.
//! Each ends in a typed error or a clean recovery, never a panic or a stuck loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use lambda_stream::{Body, Config, Context, Error, Request, Runtime, RuntimeApiAddress};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::common::within;

/// Reads one request head; returns its request line.
async fn read_head(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut first = String::new();
    if reader.read_line(&mut first).await.ok()? == 0 {
        return None;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.ok()? == 0 || line == "\r\n" {
            return Some(first.trim_end().to_owned());
        }
    }
}

/// Accepts the runtime's connection and reads its `/next` request.
async fn accept(listener: &TcpListener) -> BufReader<TcpStream> {
    let mut reader = BufReader::new(listener.accept().await.unwrap().0);
    assert_eq!(read_head(&mut reader).await.as_deref(), Some(NEXT));
    reader
}

const NEXT: &str = "GET /2018-06-01/runtime/invocation/next HTTP/1.1";

const INVOCATION: &str =
    "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: req-1\r\nContent-Length: 2\r\n\r\n{}";

async fn start_api() -> (TcpListener, Config) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = RuntimeApiAddress::from_socket_addr(listener.local_addr().unwrap());
    (listener, Config::new(address))
}

async fn handler(_: Request, _: Context) -> Result<lambda_stream::Response, http::Error> {
    http::Response::builder().body(Body::from("ok"))
}

#[tokio::test]
async fn next_answering_500_stops_the_loop_with_a_typed_error() {
    let (listener, config) = start_api().await;
    tokio::spawn(async move {
        let mut reader = accept(&listener).await;
        let body = r#"{"errorType":"ServiceException"}"#;
        let answer = format!(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        reader.get_mut().write_all(answer.as_bytes()).await.unwrap();
    });
    let error = within(Runtime::new(config).run(handler)).await.unwrap_err();
    match error {
        Error::RuntimeApi {
            route,
            status,
            body,
        } => {
            assert_eq!(route, "/2018-06-01/runtime/invocation/next");
            assert_eq!(status, 500);
            assert!(body.contains("ServiceException"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn next_with_a_malformed_answer_is_tried_again_then_an_http_error() {
    let (listener, config) = start_api().await;
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = attempts.clone();
    tokio::spawn(async move {
        loop {
            let mut reader = accept(&listener).await;
            counted.fetch_add(1, Ordering::SeqCst);
            reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nBroken Header Line\r\n\r\n")
                .await
                .unwrap();
        }
    });
    let error = within(Runtime::new(config).run(handler)).await.unwrap_err();
    assert!(matches!(error, Error::Http(_)), "{error:?}");
    // Each on a new connection, with a bounded backoff, then the loop gives up.
    assert_eq!(attempts.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn next_on_a_connection_the_api_closed_after_a_500_reconnects() {
    let (listener, config) = start_api().await;
    let server = tokio::spawn(async move {
        let mut reader = accept(&listener).await;
        let socket = reader.get_mut();
        socket.write_all(INVOCATION.as_bytes()).await.unwrap();
        let line = read_head(&mut reader).await.unwrap();
        assert!(line.starts_with("POST /2018-06-01/runtime/invocation/req-1/response"));
        // The API fails the response mid-stream and closes the kept-alive connection.
        let answer = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\n{}";
        reader.get_mut().write_all(answer.as_bytes()).await.unwrap();
        drop(reader);
        let mut reader = BufReader::new(listener.accept().await.unwrap().0);
        read_head(&mut reader).await
    });
    let run = tokio::spawn(Runtime::new(config).run(handler));
    let next = within(server).await.unwrap();
    assert_eq!(next.as_deref(), Some(NEXT), "the loop asked again");
    assert!(!run.is_finished(), "the loop did not exit");
    run.abort();
}

#[tokio::test]
async fn a_request_id_that_would_change_the_path_is_refused() {
    for id in ["a b", "../../x"] {
        let (listener, config) = start_api().await;
        let server = tokio::spawn(async move {
            let mut reader = accept(&listener).await;
            let invocation = format!(
                "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nContent-Length: 2\r\n\r\n{{}}"
            );
            reader
                .get_mut()
                .write_all(invocation.as_bytes())
                .await
                .unwrap();
            // Nothing is posted for it: the next request is `/next` again.
            read_head(&mut reader).await
        });
        let run = tokio::spawn(Runtime::new(config).run(handler));
        let next = within(server).await.unwrap();
        assert_eq!(next.as_deref(), Some(NEXT), "{id:?}");
        run.abort();
    }
}

#[tokio::test]
async fn an_event_over_the_limit_is_not_read_and_answered_with_an_error() {
    let (listener, config) = start_api().await;
    let server = tokio::spawn(async move {
        let mut reader = accept(&listener).await;
        let size = 10 * 1024 * 1024;
        let head = format!(
            "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: req-1\r\nContent-Length: {size}\r\n\r\n"
        );
        let socket = reader.get_mut();
        socket.write_all(head.as_bytes()).await.unwrap();
        // Part of the event only: the loop must not wait for (or hold) the rest.
        let _ = socket.write_all(&vec![b' '; 2 * 1024 * 1024]).await;
        // The loop drops this connection and reports the invocation on a new one.
        let mut reader = BufReader::new(listener.accept().await.unwrap().0);
        let line = read_head(&mut reader).await.unwrap();
        let mut body = vec![0; 200];
        let n = reader.read(&mut body).await.unwrap();
        (line, String::from_utf8_lossy(&body[..n]).into_owned())
    });
    let config = config.with_max_event_size(1024 * 1024);
    let run = tokio::spawn(Runtime::new(config).run(handler));
    let (line, body) = within(server).await.unwrap();
    assert_eq!(
        line,
        "POST /2018-06-01/runtime/invocation/req-1/error HTTP/1.1"
    );
    assert!(body.contains("Function.EventTooLarge"), "{body}");
    assert!(body.contains("1048576-byte limit"), "{body}");
    run.abort();
}

#[tokio::test]
async fn an_invocation_without_a_request_id_is_skipped_and_the_loop_goes_on() {
    let (listener, config) = start_api().await;
    let server = tokio::spawn(async move {
        let mut reader = accept(&listener).await;
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            .await
            .unwrap();
        // The loop asks again: the bad invocation was dropped, not answered.
        read_head(&mut reader).await
    });
    let run = tokio::spawn(Runtime::new(config).run(handler));
    let next = within(server).await.unwrap();
    assert_eq!(next.as_deref(), Some(NEXT));
    run.abort();
}

#[tokio::test]
async fn a_connection_closed_mid_response_drops_the_stream_and_the_loop_goes_on() {
    let (listener, config) = start_api().await;
    let dropped = Arc::new(AtomicBool::new(false));
    struct Guard(Arc<AtomicBool>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let flag = dropped.clone();
    let handler = move |_: Request, _: Context| {
        let guard = Guard(flag.clone());
        async move {
            // Endless: only a dropped stream ends it.
            let chunks = stream::unfold(guard, |guard| async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Some((Ok::<_, std::io::Error>(Bytes::from_static(b"chunk")), guard))
            });
            http::Response::builder().body(Body::from_stream(chunks))
        }
    };
    let server = tokio::spawn(async move {
        let mut reader = accept(&listener).await;
        reader
            .get_mut()
            .write_all(INVOCATION.as_bytes())
            .await
            .unwrap();
        let line = read_head(&mut reader).await.unwrap();
        assert_eq!(
            line,
            "POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1"
        );
        let mut some = [0; 64];
        reader.read_exact(&mut some).await.unwrap();
        drop(reader); // the Runtime API goes away mid-response
        // The loop reconnects and asks for the next invocation.
        let mut reader = BufReader::new(listener.accept().await.unwrap().0);
        read_head(&mut reader).await
    });
    let run = tokio::spawn(Runtime::new(config).run(handler));
    let next = within(server).await.unwrap();
    assert_eq!(next.as_deref(), Some(NEXT));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the handler's stream was dropped"
    );
    run.abort();
}
