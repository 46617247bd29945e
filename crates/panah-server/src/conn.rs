//! One connection's life. Headers have their deadline in hyper; here, what hyper does not
//! bound:
//! - a client that stops reading its answers: when a write has been waiting for
//!   [`WRITE_STALL`], the connection is dropped;
//! - a client that keeps one connection forever with a request every few seconds: after
//!   [`MAX_AGE`] the connection finishes the request in flight and closes;
//! - the hub stopping: every connection finishes what it is doing, then closes.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How long an answer may wait for the client to read it.
pub(crate) const WRITE_STALL: Duration = Duration::from_secs(20);
/// How long one connection is kept alive for further requests.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(60);

/// When a write started waiting, in milliseconds since the connection opened (0: none).
#[derive(Debug)]
pub(crate) struct Progress {
    opened: Instant,
    waiting_since: AtomicU64,
}

impl Progress {
    fn now(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    fn waiting(&self) {
        let _ = self.waiting_since.compare_exchange(
            0,
            self.now(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    fn moved(&self) {
        self.waiting_since.store(0, Ordering::Relaxed);
    }

    /// Whether a write has waited longer than [`WRITE_STALL`].
    pub(crate) fn stalled(&self) -> bool {
        let since = self.waiting_since.load(Ordering::Relaxed);
        since != 0 && self.now().saturating_sub(since) > WRITE_STALL.as_millis() as u64
    }
}

/// A TCP stream whose writes are watched.
#[derive(Debug)]
pub(crate) struct Watched {
    inner: TcpStream,
    progress: Arc<Progress>,
}

impl Watched {
    pub(crate) fn new(inner: TcpStream) -> (Watched, Arc<Progress>) {
        let progress = Arc::new(Progress {
            opened: Instant::now(),
            waiting_since: AtomicU64::new(0),
        });
        (
            Watched {
                inner,
                progress: progress.clone(),
            },
            progress,
        )
    }

    fn track<T>(&self, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match &poll {
            Poll::Pending => self.progress.waiting(),
            Poll::Ready(_) => self.progress.moved(),
        }
        poll
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.track(poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.track(poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.track(poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
