//! What each fuzz target checks, shared with the corpus replay in `tests/fuzz_corpus.rs` so a
//! plain `cargo test` runs the same checks on every committed input.

use bytes::BytesMut;
use lambda_stream::wire::{
    ChunkedDecoder, ChunkedEvent, EventContext, InvocationHeaders, PreludeDecoder, RequestId,
    RuntimeRoute, decode_buffered_response, encode_buffered_response, encode_prelude,
    event_from_request, request_from_event,
};

/// The first byte picks where the input is split, so splits are explored too.
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.split_first() {
        Some((&at, rest)) => rest.split_at(usize::from(at).min(rest.len())),
        None => (&[], &[]),
    }
}

/// Prelude decoding never panics; split input decodes as whole input does; a decoded head
/// encodes again.
pub(crate) fn prelude_decoder(data: &[u8]) {
    let (first, second) = split(data);
    let whole = [first, second].concat();
    let mut buf = BytesMut::from(&whole[..]);
    let at_once = PreludeDecoder::new().decode(&mut buf);

    let mut decoder = PreludeDecoder::new();
    let mut parts = BytesMut::from(first);
    let mut in_parts = decoder.decode(&mut parts);
    if matches!(in_parts, Ok(None)) {
        parts.extend_from_slice(second);
        in_parts = decoder.decode(&mut parts);
    }
    match (&at_once, &in_parts) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "split decoding differs"),
        (Err(_), Err(_)) => {}
        _ => panic!("split decoding disagrees: {at_once:?} vs {in_parts:?}"),
    }
    if let Ok(Some(head)) = at_once {
        let _ = encode_prelude(&head);
    }
}

/// Chunked decoding never panics, and the payload does not depend on where input is split.
pub(crate) fn chunked_decoder(data: &[u8]) {
    let (first, second) = split(data);
    let decode = |parts: &[&[u8]]| {
        let mut decoder = ChunkedDecoder::new();
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut trailers = None;
        for part in parts {
            buf.extend_from_slice(part);
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(ChunkedEvent::Data(d))) => body.extend_from_slice(&d),
                    Ok(Some(ChunkedEvent::End(t))) => trailers = Some(t),
                    // Events a later version may add carry nothing checked here.
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => return None,
                }
            }
        }
        Some((body, trailers))
    };
    let whole = [first, second].concat();
    if let (Some(a), Some(b)) = (decode(&[&whole]), decode(&[first, second])) {
        assert_eq!(a, b, "split decoding differs");
    }
}

/// Event parsing never panics; a parsed request maps back to an event.
pub(crate) fn event_parser(data: &[u8]) {
    if let Ok(request) = request_from_event(data) {
        let _ = event_from_request(&request, &EventContext::default());
    }
}

/// Buffered mapping never panics; a mapped response encodes again.
pub(crate) fn buffered_response(data: &[u8]) {
    if let Ok((head, body)) = decode_buffered_response(data) {
        let _ = encode_buffered_response(&head, &body);
    }
}

/// SigV4 fields: the parsers never panic and what they accept is well-formed (the check lives
/// in the crate, whose SigV4 module is public only under `cfg(fuzzing)`; its unit tests
/// replay this target's seeds and corpus).
#[cfg(fuzzing)]
pub(crate) fn sigv4_fields(data: &[u8]) {
    lambda_stream::emulator::sigv4::check_parsers(data);
}

/// `Accept-Encoding` negotiation never panics and only picks an encoding the header names
/// (or allows with `*`).
pub(crate) fn accept_encoding(data: &[u8]) {
    use lambda_stream::compression::Compression;
    let Ok(value) = http::HeaderValue::from_bytes(data) else {
        return;
    };
    if let Some(encoding) = Compression::new().negotiate(Some(&value)) {
        let text = String::from_utf8_lossy(data).to_ascii_lowercase();
        assert!(
            text.contains(encoding.as_str()) || text.contains('*'),
            "{encoding:?} picked from {text:?}"
        );
    }
}

/// Runtime API route parsing and `/next` headers: never a panic; a parsed route prints back
/// as a path naming the same route; an accepted request id never changes the path's shape;
/// parsed invocation headers write back and parse to the same value.
pub(crate) fn runtime_api(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for method in [http::Method::GET, http::Method::POST] {
        if let Ok(route) = RuntimeRoute::parse(&method, &text) {
            assert_eq!(
                RuntimeRoute::parse(&route.method(), &route.path()),
                Ok(route)
            );
        }
    }
    let (id, rest) = text.split_once('\n').unwrap_or((&text, ""));
    if let Ok(id) = RequestId::new(id) {
        let route = RuntimeRoute::Response(id.clone());
        assert_eq!(
            route.path().matches('/').count(),
            5,
            "{id} changed the path"
        );
        assert_eq!(
            RuntimeRoute::parse(&route.method(), &route.path()),
            Ok(route)
        );
    }
    let mut headers = http::HeaderMap::new();
    for line in rest.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = http::HeaderName::from_bytes(name.trim().as_bytes());
        let value = http::HeaderValue::from_str(value.trim());
        if let (Ok(name), Ok(value)) = (name, value) {
            headers.insert(name, value);
        }
    }
    if let Ok(invocation) = InvocationHeaders::from_headers(&headers) {
        let mut written = http::HeaderMap::new();
        invocation.write_to(&mut written);
        assert_eq!(InvocationHeaders::from_headers(&written), Ok(invocation));
    }
}

/// A client's page reading never panics, and a page read in two parts gives the records and
/// the link it gives read whole.
#[cfg(fuzzing)]
pub(crate) fn page_reader(data: &[u8]) {
    lambda_stream::client::check_page_reader(data);
}
