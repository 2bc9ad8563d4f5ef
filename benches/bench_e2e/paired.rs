//! Our stream against raw TCP, in paired rounds: each round moves the same bytes along every
//! path (a one-hop copy, our two hops, a copying and a zero-copy relay), one right after the
//! other, and each two-hop path is reported as its share of that round's one-hop copy.
//!
//! Why paired, alternating and long: on two CPUs a one-hop copy swings from run to run (with
//! where its two ends are scheduled), so a ratio of medians taken minutes apart says as much
//! about the machine as about the code. And a short sample is not steady state: with 64 MiB
//! samples (about 25 ms of ours), our stream right after a raw copy ran 30-40% slower than
//! right after itself (the function's threads wake from idle, the copy left the caches cold),
//! which is how one run printed 69% from medians and 37% from rounds. 190 MiB samples (under
//! the 200 MB budget) and an order that alternates each round leave neither side the warm one.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{BoxError, Client, Function, MIB, Workload, cpu_per_gib, machine_cpu_ms};
use lambda_stream::emulator::Emulator;

/// Bytes each path moves per round.
const SAMPLE: usize = 190 * MIB;
/// Rounds: the order of the paths is reversed every other round.
pub(crate) const ROUNDS: usize = 10;

/// How the raw baseline moves its bytes from writer to reader.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RawPath {
    /// One loopback TCP connection: the physical limit of one hop.
    Direct,
    /// Through a proxy that copies through user space (256 KiB reads): the topology of
    /// function -> emulator -> client (two hops) with no HTTP at all.
    CopyRelay,
    /// Through a proxy that moves pages with `splice(2)` (socket -> pipe -> socket, no user-space
    /// copy): the best any two-hop relay could do.
    SpliceRelay,
}

/// One path of the rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Path {
    Raw(RawPath),
    Ours,
}

/// The median and range of repeated measurements (MiB/s, or percent of the one-hop copy).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spread {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Spread {
        values.sort_by(f64::total_cmp);
        Spread {
            median: values[values.len() / 2],
            min: values[0],
            max: values[values.len() - 1],
        }
    }
}

/// What the rounds measured of one path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PathResult {
    /// MiB/s over the rounds.
    pub(crate) rate: Spread,
    /// Percent of the same round's one-hop copy.
    pub(crate) share: Spread,
    /// Machine CPU ms per GiB over its runs.
    pub(crate) cpu_per_gib: Option<f64>,
}

/// Every path's results: the one-hop copy, ours, the copying relay, the splice relay (Linux).
pub(crate) struct Paired {
    pub(crate) direct: PathResult,
    pub(crate) ours: PathResult,
    pub(crate) copy_relay: PathResult,
    pub(crate) splice_relay: Option<PathResult>,
}

/// Runs the rounds, our loop serving `SAMPLE` bytes in 64 KiB chunks behind `emulator`.
pub(crate) async fn paired_rounds(emulator: &mut Emulator) -> Result<Paired, BoxError> {
    let _function = Function::start(emulator, "ours").await?;
    let mut client = Client::connect(emulator.url_addr()).await?;
    let mut paths = vec![
        Path::Raw(RawPath::Direct),
        Path::Ours,
        Path::Raw(RawPath::CopyRelay),
    ];
    if cfg!(target_os = "linux") {
        paths.push(Path::Raw(RawPath::SpliceRelay));
    }
    run_once(&mut client, Path::Ours).await?; // warm up
    let mut rates = vec![Vec::new(); paths.len()];
    let mut cpu = vec![Some(0); paths.len()];
    for round in 0..ROUNDS {
        let mut order: Vec<usize> = (0..paths.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            let before = machine_cpu_ms();
            rates[index].push(run_once(&mut client, paths[index]).await?);
            let used = machine_cpu_ms()
                .zip(before)
                .map(|(after, before)| after - before);
            cpu[index] = cpu[index].zip(used).map(|(sum, used)| sum + used);
        }
    }
    let result = |index: usize| path_result(&rates[index], &rates[0], cpu[index]);
    Ok(Paired {
        direct: result(0),
        ours: result(1),
        copy_relay: result(2),
        splice_relay: (paths.len() > 3).then(|| result(3)),
    })
}

/// A path's rates, its shares of the one-hop copies of the same rounds, and its CPU per GiB.
fn path_result(rates: &[f64], direct: &[f64], cpu_ms: Option<u64>) -> PathResult {
    let shares = rates
        .iter()
        .zip(direct)
        .map(|(r, d)| 100.0 * r / d)
        .collect();
    PathResult {
        rate: Spread::of(rates.to_vec()),
        share: Spread::of(shares),
        cpu_per_gib: cpu_per_gib(Some(0), cpu_ms, ROUNDS * SAMPLE),
    }
}

/// One sample of `path`, in MiB/s.
async fn run_once(client: &mut Client, path: Path) -> Result<f64, BoxError> {
    match path {
        Path::Raw(raw) => raw_copy(raw, SAMPLE).await,
        Path::Ours => {
            let workload = Workload::Bytes {
                chunk: 64 * 1024,
                total: SAMPLE,
            };
            let (bytes, elapsed, _) = client.run(workload).await?;
            assert_eq!(bytes, SAMPLE, "every byte arrived");
            Ok(bytes as f64 / MIB as f64 / elapsed.as_secs_f64())
        }
    }
}

/// A one-hop copy of `total` bytes, in MiB/s (the quick profile's baseline).
pub(crate) async fn one_hop(total: usize) -> Result<f64, BoxError> {
    raw_copy(RawPath::Direct, total).await
}

/// One copy of `total` bytes in 64 KiB writes along `path`, in MiB/s.
async fn raw_copy(path: RawPath, total: usize) -> Result<f64, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let upstream = listener.local_addr()?;
    let address = match path {
        RawPath::Direct => upstream,
        RawPath::CopyRelay => {
            let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let address = proxy.local_addr()?;
            tokio::spawn(async move {
                let (mut inbound, _) = proxy.accept().await?;
                let outbound = tokio::net::TcpStream::connect(upstream).await?;
                let mut outbound = tokio::io::BufReader::with_capacity(256 * 1024, outbound);
                tokio::io::copy_buf(&mut outbound, &mut inbound).await?;
                inbound.shutdown().await
            });
            address
        }
        RawPath::SpliceRelay => splice_relay(upstream)?,
    };
    let writer = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await?;
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..total / chunk.len() {
            socket.write_all(&chunk).await?;
        }
        socket.shutdown().await
    });
    let started = Instant::now();
    let mut socket = tokio::net::TcpStream::connect(address).await?;
    let mut buffer = vec![0; 64 * 1024];
    let mut received = 0;
    loop {
        let n = socket.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        received += n;
    }
    writer.await??;
    if received != total {
        return Err(format!("{path:?}: {received} of {total} bytes arrived").into());
    }
    Ok(received as f64 / MIB as f64 / started.elapsed().as_secs_f64())
}

/// A zero-copy proxy on its own thread: accepts one connection and splices it to `upstream`
/// through a pipe. Returns the address to connect to.
#[cfg(target_os = "linux")]
fn splice_relay(upstream: SocketAddr) -> Result<SocketAddr, BoxError> {
    use rustix::pipe::{SpliceFlags, fcntl_setpipe_size, pipe, splice};
    let proxy = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = proxy.local_addr()?;
    std::thread::spawn(move || -> std::io::Result<()> {
        let (inbound, _) = proxy.accept()?;
        let outbound = std::net::TcpStream::connect(upstream)?;
        let (pipe_out, pipe_in) = pipe()?;
        let capacity = fcntl_setpipe_size(&pipe_in, 1024 * 1024)?;
        loop {
            let n = splice(&outbound, None, &pipe_in, None, capacity, SpliceFlags::MOVE)?;
            if n == 0 {
                break;
            }
            let mut left = n;
            while left > 0 {
                left -= splice(&pipe_out, None, &inbound, None, left, SpliceFlags::MOVE)?;
            }
        }
        inbound.shutdown(std::net::Shutdown::Write)
    });
    Ok(address)
}

/// `splice(2)` is Linux's: elsewhere the zero-copy row is left out (never called).
#[cfg(not(target_os = "linux"))]
fn splice_relay(_upstream: SocketAddr) -> Result<SocketAddr, BoxError> {
    Err("the splice relay needs Linux".into())
}
