//! How many bytes of a streamed response may be on their way between the handler and the
//! Runtime API: bounded, so that a slow reader's backpressure reaches the function within a
//! known amount and a page the deadline ends gets its continuation through in time.
//!
//! A byte the Runtime API has read has reached the platform: what happens to it next (relayed,
//! buffered, delivered after the deadline) is the platform's. A byte still in the function's
//! write buffer or in the kernel between the two is lost when the function is stopped at its
//! deadline, continuation included. Left to themselves, loopback sockets grow their buffers to
//! megabytes (Linux's autotuning), which a 1 MB/s reader takes seconds to drain; the function
//! cannot see how much of that is still unread. So both ends of a Runtime API connection keep
//! their buffers small and fixed: the function's send buffer and hyper's write buffer, and the
//! emulator's receive buffer (AWS's Runtime API is its own).

use tokio::net::TcpStream;

/// The kernel buffer each end of a Runtime API connection asks for (Linux doubles it for its
/// bookkeeping). Loopback still moves hundreds of MB/s through it.
pub(crate) const SOCKET_BUFFER: usize = 64 * 1024;

/// What hyper may hold in its write buffer before it waits for the socket (its minimum is
/// 8 KiB; its default ~400 KiB).
pub(crate) const WRITE_BUFFER: usize = 64 * 1024;

/// What the Runtime API may hold of a response without having passed it on, at most: AWS does
/// not say, so this allows about what the emulator holds (its receive buffer, hyper's read
/// buffer and the eight chunks its relay keeps for a slow client).
const RUNTIME_API_HOLDS: u64 = 1024 * 1024;

/// The most of a streamed response that may still be on its way to the Runtime API when the
/// handler's body hands over its last record: hyper's write buffer and the frame it takes past
/// it, the function's send buffer (as Linux doubles it) and what the Runtime API holds.
pub(crate) const MOST_ON_THE_WAY: u64 =
    2 * WRITE_BUFFER as u64 + 2 * SOCKET_BUFFER as u64 + RUNTIME_API_HOLDS;

/// Fixes the send buffer of the function's connection to the Runtime API.
///
/// # Errors
/// When the socket refuses the option.
pub(crate) fn bound_sender(stream: &TcpStream) -> std::io::Result<()> {
    socket2::SockRef::from(stream).set_send_buffer_size(SOCKET_BUFFER)
}

/// Fixes the receive buffer of the connections a Runtime API listener accepts (they inherit
/// it, and the window they advertise is sized from it from the start).
///
/// # Errors
/// When the socket refuses the option.
#[cfg(feature = "emulator")]
pub(crate) fn bound_receiver(listener: &tokio::net::TcpListener) -> std::io::Result<()> {
    socket2::SockRef::from(listener).set_recv_buffer_size(SOCKET_BUFFER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[cfg(feature = "emulator")]
    #[tokio::test]
    async fn both_ends_keep_small_fixed_buffers() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        bound_receiver(&listener).unwrap();
        let address = listener.local_addr().unwrap();
        let (sender, accepted) = tokio::join!(TcpStream::connect(address), listener.accept());
        let sender = sender.unwrap();
        bound_sender(&sender).unwrap();
        let (receiver, _) = accepted.unwrap();
        let sent = socket2::SockRef::from(&sender).send_buffer_size().unwrap();
        let received = socket2::SockRef::from(&receiver)
            .recv_buffer_size()
            .unwrap();
        // Linux reports twice what was asked (its bookkeeping share), and never grows it.
        for size in [sent, received] {
            assert!(
                (SOCKET_BUFFER..=2 * SOCKET_BUFFER).contains(&size),
                "{size}"
            );
        }
    }
}
