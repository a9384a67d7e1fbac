//! One message's scan, fed as the bytes arrive.

use crate::engine::Engine;
use crate::error::Result;
use crate::matcher::AtomStream;
use crate::scan::{Early, Prescan};
use crate::verdict::{Detection, Verdict};

/// The least growth of the message between two looks for newly completed parts (every chunk).
const PRESCAN_STEP: usize = 1;

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
/// # Work while the message arrives
/// A multipart message's parts are scanned as soon as they are complete (when the delimiter line after them
/// is): each `feed` searches the new bytes for delimiter lines and scans the parts they complete,
/// attachments, archives and all, and it runs the body-signature search of the message itself over the new
/// bytes. The scan works in stream order (each part is counted against the limits when it is scanned, after
/// the parts before it), so a part's outcome is final as soon as it is scanned; [`finish`](Self::finish)
/// takes those outcomes over and is left with the message's own matching, the rest of its walk and the last
/// part. [`Engine::scan_bytes`] does the same two steps on the whole message, so the verdict does not depend
/// on how the message was split. [`decided`](Self::decided) tells early when a signature has matched.
///
/// # Limits
/// This version keeps the message in memory up to `max_message_size`; bytes beyond that size are counted,
/// not kept, and the verdict reports `Heuristics.Limits.Exceeded.MaxMessageSize`.
#[derive(Debug)]
pub struct ScanSession {
    engine: Engine,
    buffer: Vec<u8>,
    received: u64,
    prescan: Prescan,
    /// Buffer length at the last look for completed parts.
    prescanned_len: usize,
    /// The least growth between two looks (tests set it to reach other splits).
    step: usize,
    /// The body-signature search of the message itself, carried from chunk to chunk.
    atoms: AtomStream,
}

impl ScanSession {
    pub(crate) fn new(engine: Engine, buffer: Vec<u8>) -> ScanSession {
        ScanSession {
            engine,
            buffer,
            received: 0,
            prescan: Prescan::default(),
            prescanned_len: 0,
            step: PRESCAN_STEP,
            atoms: AtomStream::default(),
        }
    }

    /// Looks for completed parts only after every `bytes` of growth (by default after every chunk): for
    /// tests that check that early scanning changes no verdict whatever the split.
    #[doc(hidden)]
    pub fn with_prescan_step(mut self, bytes: usize) -> ScanSession {
        self.step = bytes.max(1);
        self
    }

    /// A signature or hash detection already found in a completed part, before the end of the message: a
    /// caller may stop spending effort on it (an SMTP server still answers only after the final dot, with
    /// [`finish`](Self::finish)'s verdict). A part's outcome is final once it is scanned, so the final
    /// verdict reports this detection too, unless the message as a whole turns out to be on the allow-list
    /// (`.fp`/`.sfp`).
    ///
    /// ```
    /// let engine = portcullis::Engine::builder()
    ///     .load_str("local.ndb", "Local.Test:0:*:6576696c2d6d61726b6572\n")?
    ///     .build()?;
    /// let mut session = engine.session().with_prescan_step(1);
    /// session.feed(b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")?;
    /// session.feed(b"--b\r\n\r\nan evil-marker\r\n--b\r\n\r\nmore text")?;
    /// assert_eq!(session.decided().map(|d| d.name()), Some("Local.Test"));
    /// # Ok::<(), portcullis::Error>(())
    /// ```
    pub fn decided(&self) -> Option<&Detection> {
        self.prescan.decided()
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
        if take > 0 {
            self.engine
                .db()
                .body
                .advance(&mut self.atoms, &self.buffer, false);
        }
        // Finding newly completed parts searches only the new bytes, so it can follow every chunk.
        let due = self.buffer.len() - self.prescanned_len >= self.step;
        if take > 0 && due {
            self.prescanned_len = self.buffer.len();
            self.prescan.advance(
                self.engine.db(),
                self.engine.limits(),
                self.engine.heuristics(),
                &self.buffer,
            );
        }
        Ok(())
    }

    /// The heap memory the session holds, in bytes: the message so far, the state of the signature search
    /// carried across chunks, and what the parts scanned early found.
    pub fn memory_usage(&self) -> usize {
        self.buffer.capacity() + self.atoms.memory_usage() + self.prescan.memory_usage()
    }

    /// How many bytes have been fed so far.
    pub fn bytes_received(&self) -> u64 {
        self.received
    }

    /// Ends the message and returns the verdict.
    ///
    /// # Errors
    /// None today; see [`Engine::scan_bytes`].
    pub fn finish(mut self) -> Result<Verdict> {
        let cut = self.received > self.buffer.len() as u64;
        // Parts completed since the last look (when looks are spaced by a step) are scanned now, in order.
        self.prescan.advance(
            self.engine.db(),
            self.engine.limits(),
            self.engine.heuristics(),
            &self.buffer,
        );
        self.engine
            .db()
            .body
            .advance(&mut self.atoms, &self.buffer, true);
        Ok(crate::scan::scan_message(
            self.engine.db(),
            self.engine.limits(),
            self.engine.heuristics(),
            &self.buffer,
            cut,
            Early {
                prescan: Some(&self.prescan),
                root_atoms: Some(&self.atoms),
            },
        ))
    }
}

impl Drop for ScanSession {
    /// The message buffer goes back to the engine for the next session: freeing it here would cost
    /// milliseconds at the end of a large message, inside [`finish`](ScanSession::finish).
    fn drop(&mut self) {
        self.engine.recycle(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
mod tests {
    use crate::Engine;

    #[test]
    fn finished_sessions_leave_their_buffer_to_the_next() {
        let message = vec![b'a'; 300_000];
        for (keep, reused) in [(4, true), (0, false)] {
            let engine = Engine::builder().session_buffers(keep).build().unwrap();
            let mut first = engine.session();
            first.feed(&message).unwrap();
            let capacity = first.memory_usage();
            assert!(first.finish().unwrap().is_clean());
            let second = engine.session();
            assert_eq!(second.memory_usage() >= capacity / 2, reused, "keep {keep}");
            drop(second);
            engine.release_buffers();
            assert!(engine.session().memory_usage() < 1000);
        }
        // An abandoned session gives its buffer back too.
        let engine = Engine::builder().build().unwrap();
        let mut s = engine.session();
        s.feed(&message).unwrap();
        drop(s);
        assert!(engine.session().memory_usage() >= message.len());
    }
}
