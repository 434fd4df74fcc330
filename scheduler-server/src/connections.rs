//! Connection hygiene below HTTP: how many connections one client address may hold open, and
//! how long a connection may take to send a request head or sit idle between requests. A
//! client that opens hundreds of connections and sends half a request on each (slowloris)
//! is cut off in bounded time, and cannot take more than its share of the server's sockets.
//!
//! Written here rather than configured: poem builds hyper's connection itself without a
//! timer, so hyper's own `header_read_timeout` is off, and it has no per-client bound. An
//! acceptor wrapping the TCP one ([`GuardedAcceptor`]) is the seam poem leaves; the work per
//! read is a scan of the bytes read for the end of a request head, only while a head is
//! expected.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// The bounds a [`GuardedAcceptor`] applies.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Most connections one client address may hold open at once (0: no bound). A further
    /// connection is closed as soon as it is accepted.
    pub per_client: usize,
    /// Peers the bound does not apply to (trusted proxies: every client of theirs shares
    /// their address).
    pub exempt: Vec<ipnet::IpNet>,
    /// Longest a connection may take from its first byte (or its opening) to the end of a
    /// request head.
    pub head_timeout: Duration,
    /// Longest a connection may stay silent between two requests.
    pub idle_timeout: Duration,
}

/// Open connections per client address.
type OpenCounts = Arc<Mutex<HashMap<IpAddr, usize>>>;

fn counts(open: &OpenCounts) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
    scheduler_core::lock(open)
}

/// A TCP acceptor applying [`ConnectionLimits`]; its streams are [`GuardedStream`]s.
pub struct GuardedAcceptor {
    /// The TCP acceptor.
    inner: TcpAcceptor,
    /// The bounds.
    limits: Arc<ConnectionLimits>,
    /// Open connections per client address.
    open: OpenCounts,
}

impl GuardedAcceptor {
    /// Applies `limits` to the connections `inner` accepts.
    pub fn new(inner: TcpAcceptor, limits: ConnectionLimits) -> Self {
        Self {
            inner,
            limits: Arc::new(limits),
            open: OpenCounts::default(),
        }
    }

    /// A place for a connection from `ip`, or `None` when it already holds its share.
    fn admit(&self, ip: Option<IpAddr>) -> Option<Option<ClientSlot>> {
        let Some(ip) = ip else {
            return Some(None);
        };
        if self.limits.per_client == 0 || self.limits.exempt.iter().any(|net| net.contains(&ip)) {
            return Some(None);
        }
        let mut open = counts(&self.open);
        let count = open.entry(ip).or_insert(0);
        if *count >= self.limits.per_client {
            return None;
        }
        *count += 1;
        Some(Some(ClientSlot {
            ip,
            open: self.open.clone(),
        }))
    }
}

impl Acceptor for GuardedAcceptor {
    type Io = GuardedStream<TcpStream>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        loop {
            let (stream, local, remote, scheme) = self.inner.accept().await?;
            let ip = remote.as_socket_addr().map(|addr| addr.ip().to_canonical());
            let Some(slot) = self.admit(ip) else {
                // Over its share: closed at once (dropping the stream), the next one awaited.
                tracing::debug!(client = ?ip, "connection refused: the client holds its share");
                continue;
            };
            let stream = GuardedStream::new(stream, &self.limits, slot);
            return Ok((stream, local, remote, scheme));
        }
    }
}

/// One open connection counted against its client address; released when dropped.
struct ClientSlot {
    /// The client.
    ip: IpAddr,
    /// The counts it is in.
    open: OpenCounts,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = counts(&self.open);
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Where a connection is in its request cycle, as far as the bytes tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A request head is expected (or has begun); `tail` holds how much of `\r\n\r\n` (or
    /// `\n\n`) the last bytes matched. The deadline is the head timeout.
    Head {
        /// The last bytes seen, newest in the low byte.
        tail: u32,
        /// Whether any byte of this head arrived (the connection's first bytes decide HTTP/2).
        started: bool,
    },
    /// The head is complete: the request is being served (no deadline here; the request
    /// deadline middleware bounds it).
    Serving,
    /// A response was written; the connection waits for the next request. The deadline is the
    /// idle timeout.
    Idle,
    /// An HTTP/2 connection (prior knowledge): its frames are not HTTP/1 heads.
    Http2,
}

/// A stream that fails its reads when a request head or an idle spell outlasts its bound.
pub struct GuardedStream<T> {
    /// The connection.
    inner: T,
    /// Where it is.
    phase: Phase,
    /// The current deadline (head or idle).
    deadline: Pin<Box<Sleep>>,
    /// See [`ConnectionLimits::head_timeout`].
    head_timeout: Duration,
    /// See [`ConnectionLimits::idle_timeout`].
    idle_timeout: Duration,
    /// Its place in the per-client count (released with the stream).
    _slot: Option<ClientSlot>,
}

/// `\r\n\r\n` in the low bytes of a `tail`.
const CRLF_CRLF: u32 = 0x0d0a_0d0a;
/// `\n\n` in the low bytes of a `tail`.
const LF_LF: u32 = 0x0a0a;
/// How an HTTP/2 connection begins (`PRI * HTTP/2.0`).
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2";

impl<T> GuardedStream<T> {
    fn new(inner: T, limits: &ConnectionLimits, slot: Option<ClientSlot>) -> Self {
        Self {
            inner,
            phase: Phase::Head {
                tail: 0,
                started: false,
            },
            deadline: Box::pin(tokio::time::sleep(limits.head_timeout)),
            head_timeout: limits.head_timeout,
            idle_timeout: limits.idle_timeout,
            _slot: slot,
        }
    }

    /// Moves the phase along the bytes just read.
    fn saw(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.phase == Phase::Idle {
            // The next request begins: its head has the head timeout from now.
            self.phase = Phase::Head {
                tail: 0,
                started: true,
            };
            let at = Instant::now() + self.head_timeout;
            self.deadline.as_mut().reset(at);
        }
        let Phase::Head { mut tail, started } = self.phase else {
            return;
        };
        if !started && bytes.starts_with(HTTP2_PREFACE) {
            self.phase = Phase::Http2;
            return;
        }
        for &byte in bytes {
            tail = (tail << 8) | u32::from(byte);
            if tail == CRLF_CRLF || tail & 0xffff == LF_LF {
                self.phase = Phase::Serving;
                return;
            }
        }
        self.phase = Phase::Head {
            tail,
            started: true,
        };
    }

    /// What a timed-out read fails with.
    fn timed_out(&self) -> io::Error {
        let what = if self.phase == Phase::Idle {
            "the connection stayed idle past its bound"
        } else {
            "the request head did not arrive within its bound"
        };
        io::Error::new(io::ErrorKind::TimedOut, what)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedStream<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = buf.filled()[before..].to_vec();
                this.saw(&read);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                let bounded = matches!(this.phase, Phase::Head { .. } | Phase::Idle);
                if bounded && this.deadline.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Err(this.timed_out()))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedStream<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        if this.phase == Phase::Serving && matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            // A response is going out: after it, the connection waits for the next request.
            this.phase = Phase::Idle;
            let at = Instant::now() + this.idle_timeout;
            this.deadline.as_mut().reset(at);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if this.phase == Phase::Serving && matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            this.phase = Phase::Idle;
            let at = Instant::now() + this.idle_timeout;
            this.deadline.as_mut().reset(at);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            per_client: 2,
            exempt: vec!["10.0.0.0/8".parse().unwrap()],
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_that_does_not_end_in_time_fails_the_read() {
        let (client, server) = tokio::io::duplex(1024);
        let mut guarded = GuardedStream::new(server, &limits(), None);
        let mut client = client;
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let n = guarded.read(&mut buf).await.unwrap();
        assert!(n > 0);
        let error = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_complete_head_is_served_without_a_deadline_then_idle_has_its_own() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut guarded = GuardedStream::new(server, &limits(), None);
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        assert!(guarded.read(&mut buf).await.unwrap() > 0);
        assert_eq!(guarded.phase, Phase::Serving);
        // Serving: reads wait past the head timeout (the handler's deadline bounds it).
        let waited = tokio::time::timeout(Duration::from_secs(30), guarded.read(&mut buf)).await;
        assert!(waited.is_err(), "a read while serving failed");
        guarded.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        assert_eq!(guarded.phase, Phase::Idle);
        let error = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(error.to_string().contains("idle"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_next_request_gets_a_fresh_head_deadline() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut guarded = GuardedStream::new(server, &limits(), None);
        client.write_all(b"GET / HTTP/1.1\n\n").await.unwrap();
        let mut buf = [0u8; 64];
        assert!(guarded.read(&mut buf).await.unwrap() > 0);
        guarded.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_secs(50)).await;
        client.write_all(b"GET /a HTTP/1.1\r\n").await.unwrap();
        assert!(guarded.read(&mut buf).await.unwrap() > 0);
        assert!(matches!(guarded.phase, Phase::Head { started: true, .. }));
        tokio::time::sleep(Duration::from_secs(5)).await;
        client.write_all(b"\r\n").await.unwrap();
        assert!(guarded.read(&mut buf).await.unwrap() > 0);
        assert_eq!(guarded.phase, Phase::Serving);
    }

    #[tokio::test(start_paused = true)]
    async fn an_http2_connection_is_left_alone() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut guarded = GuardedStream::new(server, &limits(), None);
        client
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        assert!(guarded.read(&mut buf).await.unwrap() > 0);
        assert_eq!(guarded.phase, Phase::Http2);
        let waited = tokio::time::timeout(Duration::from_secs(120), guarded.read(&mut buf)).await;
        assert!(waited.is_err(), "an HTTP/2 read failed");
    }

    #[tokio::test]
    async fn each_client_holds_at_most_its_share_and_exempt_peers_any() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let acceptor = GuardedAcceptor::new(TcpAcceptor::from_tokio(listener).unwrap(), limits());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let first = acceptor.admit(Some(ip)).unwrap();
        let second = acceptor.admit(Some(ip)).unwrap();
        assert!(
            acceptor.admit(Some(ip)).is_none(),
            "a third connection was admitted"
        );
        assert!(acceptor.admit(Some("192.0.2.2".parse().unwrap())).is_some());
        drop(first);
        let third = acceptor.admit(Some(ip));
        assert!(third.is_some(), "a freed place was not given back");
        for _ in 0..5 {
            assert!(acceptor.admit(Some("10.1.2.3".parse().unwrap())).is_some());
        }
        drop((second, third));
        assert!(counts(&acceptor.open).get(&ip).is_none());
    }
}
