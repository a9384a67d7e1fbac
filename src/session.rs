//! One message's scan, fed as the bytes arrive.

use crate::engine::Engine;
use crate::error::Result;
use crate::verdict::Verdict;

/// The scan of one message, fed chunk by chunk during SMTP DATA.
///
/// Chunks may split the message anywhere; the verdict is the same as [`Engine::scan_bytes`] on the whole.
///
/// ```
/// let engine = portcullis::Engine::builder().build()?;
/// let mut session = engine.session();
/// for chunk in [&b"Subject: hi\r\n"[..], b"\r\nhello", b" world\r\n"] {
///     session.feed(chunk)?;
/// }
/// let verdict = session.finish()?;
/// assert!(verdict.is_clean());
/// # Ok::<(), portcullis::Error>(())
/// ```
///
/// # Limits
/// This version keeps the message in memory up to `max_message_size` and takes it apart in
/// [`finish`](Self::finish); bytes beyond that size are counted, not kept, and the verdict reports
/// `Heuristics.Limits.Exceeded.MaxMessageSize`.
#[derive(Debug)]
pub struct ScanSession {
    engine: Engine,
    buffer: Vec<u8>,
    received: u64,
}

impl ScanSession {
    pub(crate) fn new(engine: Engine) -> ScanSession {
        ScanSession {
            engine,
            buffer: Vec::new(),
            received: 0,
        }
    }

    /// Adds the next bytes of the message.
    ///
    /// # Errors
    /// None today; the `Result` leaves room for streaming stages that can fail.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        let max = self.engine.limits().get_max_message_size();
        let room = max.saturating_sub(self.buffer.len() as u64);
        let take = usize::try_from(room).unwrap_or(usize::MAX).min(chunk.len());
        self.buffer.extend_from_slice(&chunk[..take]);
        self.received = self.received.saturating_add(chunk.len() as u64);
        Ok(())
    }

    /// How many bytes have been fed so far.
    pub fn bytes_received(&self) -> u64 {
        self.received
    }

    /// Ends the message and returns the verdict.
    ///
    /// # Errors
    /// None today; see [`Engine::scan_bytes`].
    pub fn finish(self) -> Result<Verdict> {
        let cut = self.received > self.buffer.len() as u64;
        Ok(crate::scan::scan_message(
            self.engine.db(),
            self.engine.limits(),
            self.engine.heuristics(),
            &self.buffer,
            cut,
        ))
    }
}
