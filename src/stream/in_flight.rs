//! How many bytes of a streamed response with a continuation may be on their way between the
//! handler and the Runtime API: bounded, so that a slow reader's backpressure reaches the
//! function within a known amount and a page the deadline ends gets its link through in time.
//!
//! A byte the Runtime API has read has reached the platform: what happens to it next (relayed,
//! buffered, delivered after the deadline) is the platform's. A byte still in the function's
//! write buffer or in the kernel between the two is lost when the function is stopped at its
//! deadline, the link included. Left to themselves, loopback sockets grow their buffers to
//! megabytes (Linux's autotuning), which a 1 MB/s reader takes seconds to drain, and the
//! function cannot see how much of that is unread. So while such a response streams, the
//! function's kernel keeps at most [`UNSENT`] bytes it could not send yet (`TCP_NOTSENT_LOWAT`,
//! on Linux, where Lambda runs), hyper's write buffer is small, and the emulator's Runtime API
//! gives its connections a fixed receive buffer (AWS's Runtime API is its own). Fixing the
//! function's send buffer instead would cost a fast reader about a quarter of its throughput.

use tokio::net::TcpStream;

/// What the function's kernel may hold unsent on the Runtime API connection while a response
/// with a continuation streams.
pub(crate) const UNSENT: u32 = 128 * 1024;

/// What hyper may hold in its write buffer before it waits for the socket (its minimum is
/// 8 KiB; its default ~400 KiB).
pub(crate) const WRITE_BUFFER: usize = 64 * 1024;

/// The receive buffer the emulator's Runtime API gives each connection (Linux doubles it for
/// its bookkeeping, and never grows it).
#[cfg(feature = "emulator")]
pub(crate) const RUNTIME_API_RECEIVE_BUFFER: usize = 256 * 1024;

/// What the Runtime API may hold of a response without having passed it on, at most: AWS does
/// not say, so this allows what the emulator holds (its receive buffer as Linux doubles it,
/// hyper's read buffer and the eight chunks its relay keeps for a slow client).
const RUNTIME_API_HOLDS: u64 = 3 * 512 * 1024;

/// The most of a streamed response with a continuation that may still be on its way to the
/// Runtime API when its body hands over a frame: hyper's write buffer and the frame it takes
/// past it, what the kernel keeps unsent, and what the Runtime API holds.
pub(crate) const MOST_ON_THE_WAY: u64 = 2 * WRITE_BUFFER as u64 + UNSENT as u64 + RUNTIME_API_HOLDS;

/// The function's end of a Runtime API connection, kept to set how much it may hold unsent
/// for each response.
pub(crate) struct SendSide {
    socket: socket2::Socket,
    bounded: bool,
}

impl SendSide {
    /// A handle on `stream`'s socket (the same socket, another descriptor).
    ///
    /// # Errors
    /// When the descriptor cannot be duplicated.
    pub(crate) fn of(stream: &TcpStream) -> std::io::Result<Self> {
        let socket = socket2::SockRef::from(stream).try_clone()?;
        Ok(SendSide {
            socket,
            bounded: false,
        })
    }

    /// Keeps at most [`UNSENT`] bytes unsent for the next response when its policy counts on
    /// [`MOST_ON_THE_WAY`] (a response with a continuation); the system's default (no bound)
    /// otherwise.
    pub(crate) fn bound_unsent(&mut self, bounded: bool) {
        if self.bounded == bounded {
            return;
        }
        self.bounded = bounded;
        let lowat = if bounded { UNSENT } else { 0 };
        if let Err(error) = set_unsent_limit(&self.socket, lowat) {
            tracing::debug!(%error, "could not bound the Runtime API connection's unsent bytes");
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_unsent_limit(socket: &socket2::Socket, lowat: u32) -> std::io::Result<()> {
    socket.set_tcp_notsent_lowat(lowat)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_unsent_limit(_: &socket2::Socket, _: u32) -> std::io::Result<()> {
    Ok(())
}

/// Fixes the receive buffer of the connections a Runtime API listener accepts (they inherit
/// it, and the window they advertise is sized from it from the start).
///
/// # Errors
/// When the socket refuses the option.
#[cfg(feature = "emulator")]
pub(crate) fn bound_receiver(listener: &tokio::net::TcpListener) -> std::io::Result<()> {
    socket2::SockRef::from(listener).set_recv_buffer_size(RUNTIME_API_RECEIVE_BUFFER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "emulator")]
    #[tokio::test]
    async fn the_runtime_api_keeps_a_small_fixed_receive_buffer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        bound_receiver(&listener).unwrap();
        let address = listener.local_addr().unwrap();
        let (_sender, accepted) = tokio::join!(TcpStream::connect(address), listener.accept());
        let (receiver, _) = accepted.unwrap();
        let size = socket2::SockRef::from(&receiver)
            .recv_buffer_size()
            .unwrap();
        // Linux reports twice what was asked (its bookkeeping share).
        let asked = RUNTIME_API_RECEIVE_BUFFER;
        assert!((asked..=2 * asked).contains(&size), "{size}");
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[tokio::test]
    async fn a_response_with_a_continuation_bounds_what_stays_unsent() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let mut side = SendSide::of(&stream).unwrap();
        let lowat = || socket2::SockRef::from(&stream).tcp_notsent_lowat().unwrap();
        let unbounded = lowat();
        side.bound_unsent(true);
        assert_eq!(lowat(), UNSENT);
        side.bound_unsent(false);
        assert_eq!(lowat(), unbounded);
    }
}
