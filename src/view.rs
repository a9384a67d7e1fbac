//! The bytes of one object as held: whole, or a message's head and tail when its session let go of the
//! middle (`session.rs`). Matching (`matcher`) and the MIME walker (`mime::walker`) read objects through it.

/// The bytes of an object, whole or in two pieces: a session may keep only the head and the tail of a
/// large message ([`crate::session`]). Positions are always the object's own.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View<'a> {
    head: &'a [u8],
    tail_start: usize,
    tail: &'a [u8],
}

impl<'a> View<'a> {
    /// The whole object.
    pub(crate) fn whole(data: &'a [u8]) -> View<'a> {
        View {
            head: data,
            tail_start: data.len(),
            tail: &[],
        }
    }

    /// Bytes `0..head.len()` and `tail_start..tail_start + tail.len()` of an object that long.
    pub(crate) fn split(head: &'a [u8], tail_start: usize, tail: &'a [u8]) -> View<'a> {
        View {
            head,
            tail_start,
            tail,
        }
    }

    /// An object as a stream holds it: `tail` is the object from `base` on, and once `base` is past 0,
    /// `head` its first bytes (a session's message, `session.rs`; an attachment, `stream.rs`).
    pub(crate) fn held(head: &'a [u8], base: usize, tail: &'a [u8]) -> View<'a> {
        match base {
            0 => View::whole(tail),
            base => View::split(head, base, tail),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.tail_start.max(self.head.len()) + self.tail.len()
    }

    /// The first piece: the whole object, or its head.
    pub(crate) fn head(&self) -> &'a [u8] {
        self.head
    }

    /// The second piece, when the object is not held whole in one: where it starts, and its bytes.
    pub(crate) fn tail(&self) -> Option<(usize, &'a [u8])> {
        (!self.is_whole()).then_some((self.tail_start, self.tail))
    }

    /// Whether every byte is held, in one piece.
    pub(crate) fn is_whole(&self) -> bool {
        self.tail.is_empty() && self.tail_start == self.head.len()
    }

    /// The piece holding `lo..hi` (clipped to the object), as its start and its bytes.
    pub(crate) fn covering(&self, lo: usize, hi: usize) -> Option<(usize, &'a [u8])> {
        let hi = hi.min(self.len());
        if hi <= self.head.len() {
            return Some((0, self.head));
        }
        (lo >= self.tail_start).then_some((self.tail_start, self.tail))
    }

    /// Bytes `range` of the object, if held.
    pub(crate) fn get(&self, range: std::ops::Range<usize>) -> Option<&'a [u8]> {
        let (base, piece) = self.covering(range.start, range.end)?;
        piece.get(range.start.checked_sub(base)?..range.end.checked_sub(base)?)
    }
}

#[cfg(test)]
mod tests {
    use super::View;

    #[test]
    fn pieces_table() {
        let message = b"0123456789abcdefghij";
        let split = View::split(&message[..4], 12, &message[12..]);
        let whole = View::whole(message);
        assert_eq!((split.len(), whole.len()), (20, 20));
        assert!(whole.is_whole() && !split.is_whole());
        type Held<'a> = Option<&'a [u8]>;
        let table: &[(std::ops::Range<usize>, Held, Held)] = &[
            (0..4, Some(b"0123"), Some(b"0123")),
            (1..3, Some(b"12"), Some(b"12")),
            (2..6, None, Some(b"2345")),
            (8..12, None, Some(b"89ab")),
            (12..20, Some(b"cdefghij"), Some(b"cdefghij")),
            (15..25, None, None),
            (11..13, None, Some(b"bc")),
        ];
        for (range, in_split, in_whole) in table {
            assert_eq!(split.get(range.clone()), *in_split, "{range:?}");
            assert_eq!(whole.get(range.clone()), *in_whole, "{range:?}");
        }
        assert_eq!(split.covering(13, 30), Some((12, &message[12..])));
        assert_eq!(split.covering(3, 13), None);
    }
}
