//! When a function wrote each item to its Runtime API socket, measured from the other end
//! without counting the reader: a Runtime API of its own for one function process, which
//! reads the function's streamed responses with the kernel's receive timestamp of each read
//! (`SO_TIMESTAMPNS`). On loopback the kernel stamps a segment while the sender's write hands it
//! over, so that stamp is when the function's bytes left it, however late the reader wakes.

use std::io::{IoSliceMut, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Bytes read from the function, each read with the time its last segment was written.
#[derive(Default)]
struct Received {
    bytes: Vec<u8>,
    /// `(end offset in bytes, written ns)` of each read.
    reads: Vec<(usize, u128)>,
    /// How far `bytes` has been consumed by the parser.
    parsed: usize,
}

impl Received {
    /// Reads once more from `socket`; false at its end.
    fn read_more(&mut self, socket: &TcpStream) -> Result<bool, BoxError> {
        let mut buffer = vec![0_u8; 256 * 1024];
        let mut space = nix::cmsg_space!(nix::sys::time::TimeSpec);
        let (read, stamp) = {
            let mut iov = [IoSliceMut::new(&mut buffer)];
            let message = recvmsg::<()>(
                socket.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::empty(),
            )?;
            let stamp = message.cmsgs()?.find_map(|control| match control {
                ControlMessageOwned::ScmTimestampns(at) => {
                    Some(at.tv_sec() as u128 * 1_000_000_000 + at.tv_nsec() as u128)
                }
                _ => None,
            });
            (message.bytes, stamp)
        };
        if read == 0 {
            return Ok(false);
        }
        self.bytes.extend_from_slice(&buffer[..read]);
        let stamp = stamp.ok_or("a read without its kernel timestamp")?;
        self.reads.push((self.bytes.len(), stamp));
        Ok(true)
    }

    /// When the byte at `offset` was written.
    fn written_at(&self, offset: usize) -> u128 {
        let index = self.reads.partition_point(|(end, _)| *end <= offset);
        self.reads[index.min(self.reads.len() - 1)].1
    }

    /// The next line (without its CRLF), reading as needed.
    fn line(&mut self, socket: &TcpStream) -> Result<String, BoxError> {
        loop {
            if let Some(end) = self.bytes[self.parsed..]
                .windows(2)
                .position(|w| w == b"\r\n")
            {
                let line = String::from_utf8_lossy(&self.bytes[self.parsed..self.parsed + end]);
                self.parsed += end + 2;
                return Ok(line.into_owned());
            }
            if !self.read_more(socket)? {
                return Err("the function closed its connection".into());
            }
        }
    }

    /// A request's head, up to its empty line.
    fn head(&mut self, socket: &TcpStream) -> Result<Vec<String>, BoxError> {
        let mut lines = Vec::new();
        loop {
            let line = self.line(socket)?;
            if line.is_empty() {
                return Ok(lines);
            }
            lines.push(line);
        }
    }

    /// A chunked body, de-chunked: each data byte's offset in `self.bytes`, in order.
    fn chunked_body(&mut self, socket: &TcpStream) -> Result<Vec<usize>, BoxError> {
        let mut offsets = Vec::new();
        loop {
            let size_line = self.line(socket)?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)?;
            if size == 0 {
                // Trailers, up to the empty line.
                self.head(socket)?;
                return Ok(offsets);
            }
            while self.bytes.len() < self.parsed + size + 2 {
                if !self.read_more(socket)? {
                    return Err("the function closed its connection mid-chunk".into());
                }
            }
            offsets.extend(self.parsed..self.parsed + size);
            self.parsed += size + 2;
        }
    }
}

/// Serves `invocations` invocations of `path` to the one function that connects to
/// `listener`; for each item of `item` bytes in their streamed bodies (a 20-digit stamp of
/// when it became ready, then padding), `(ready ns, written ns)`.
pub(crate) fn serve(
    listener: &TcpListener,
    path: &str,
    invocations: usize,
    item: usize,
) -> Result<Vec<(u128, u128)>, BoxError> {
    let (mut socket, _) = listener.accept()?;
    setsockopt(&socket, sockopt::ReceiveTimestampns, &true)?;
    let mut received = Received::default();
    let mut samples = Vec::new();
    for invocation in 0..invocations {
        received.head(&socket)?;
        socket.write_all(&next_answer(invocation, path))?;
        let head = received.head(&socket)?;
        if head.first().is_some_and(|line| line.contains("/error ")) {
            return Err(format!("the function reported an error: {head:?}").into());
        }
        let body = received.chunked_body(&socket)?;
        socket.write_all(
            b"HTTP/1.1 202 Accepted\r\ncontent-length: 16\r\n\r\n{\"status\":\"OK\"}\n",
        )?;
        samples.extend(items(&received, &body, item)?);
    }
    Ok(samples)
}

/// The answer to `/next`: a Function URL event for `GET path`.
fn next_answer(invocation: usize, path: &str) -> Vec<u8> {
    let event = format!(
        r#"{{"version":"2.0","routeKey":"$default","rawPath":"{path}","rawQueryString":"","headers":{{"host":"localhost"}},"requestContext":{{"accountId":"anonymous","apiId":"bench","domainName":"localhost","domainPrefix":"bench","http":{{"method":"GET","path":"{path}","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"bench"}},"requestId":"bench","routeKey":"$default","stage":"$default","time":"07/Dec/2026:00:00:00 +0000","timeEpoch":0}},"isBase64Encoded":false}}"#
    );
    let deadline_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        + 900_000;
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
         lambda-runtime-aws-request-id: bench-{invocation}\r\n\
         lambda-runtime-deadline-ms: {deadline_ms}\r\n\
         lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:bench\r\n\
         lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\n\
         content-length: {}\r\n\r\n{event}",
        event.len()
    )
    .into_bytes()
}

/// The items of a streamed body (its prelude and the 8 NULs after it skipped): each one's
/// stamp and when its first bytes were written.
fn items(received: &Received, body: &[usize], item: usize) -> Result<Vec<(u128, u128)>, BoxError> {
    let data: Vec<u8> = body.iter().map(|&offset| received.bytes[offset]).collect();
    let start = data
        .windows(8)
        .position(|window| window == [0; 8])
        .ok_or("no prelude separator")?
        + 8;
    let mut samples = Vec::new();
    let mut at = start;
    while at + 20 <= data.len() {
        let ready: u128 = std::str::from_utf8(&data[at..at + 20])?.parse()?;
        samples.push((ready, received.written_at(body[at])));
        at += item;
    }
    Ok(samples)
}
