//! Triggers that an object's first bytes decide, so that a session stops searching for a regular
//! expression that can never run.
//!
//! A PCRE subsignature is run only when its trigger holds ([`crate::matcher::logical`]), and the trigger
//! is known only at the object's end. A session cannot wait for it, since it lets go of the bytes long
//! before ([`crate::matcher::regexes::PcreStream`]), so it searches for every expression that applies. But
//! many triggers name only subsignatures anchored near the start: 401 of the official database's 426
//! expressions for a part of a message are triggered by `0:504B` or `0:526172211a07` (the part starts as a
//! zip or a RAR archive). Once the first bytes are in, such a trigger is decided. When none of the
//! subsignatures can match there, and the trigger cannot hold without them, it never will: the expression
//! is not searched for, as the scan of a whole object does not run it either.
//!
//! The check is one-sided. A gate is shut only when the first part of every form of each subsignature it
//! reads fails to verify at every start its offset allows ([`Part::verify_from`], the verification the body
//! matcher runs), and the trigger cannot hold with those at zero, whatever the others count
//! ([`Expr::can_hold`]). Anything the check cannot decide leaves the gate open, and the expression is
//! searched as before.

use std::collections::HashMap;

use super::pattern::{Part, Scratch};
use crate::signatures::expr::Expr;
use crate::signatures::offset::Offset;

/// Most bytes from the object's start a gate reads: what a session holds when it first searches an
/// object (`src/stream.rs`'s search step), so that the first search decides every gate.
const MAX_GATE_REACH: usize = 8 << 10;

/// Most starts an offset may allow to a subsignature a gate reads.
const MAX_STARTS: u64 = 256;

/// The forms of a hex subsignature (ASCII, wide): each one's offset and first part, where its matches
/// start (`None` for a pattern with no part, which leaves the gate open).
pub(crate) type Forms<'a> = Vec<(Offset, Option<&'a Part>)>;

/// A trigger decided by an object's first bytes.
#[derive(Clone, Debug)]
pub(crate) struct Gate {
    /// The subsignatures it reads.
    subs: Vec<GateSub>,
    /// How many of the object's first bytes decide it.
    reach: usize,
}

/// One hex subsignature a gate reads.
#[derive(Clone, Debug)]
struct GateSub {
    sub: u8,
    /// The first and last starts its offset allows.
    first: usize,
    last: usize,
    /// The first part of each of its forms (ASCII, wide).
    heads: Vec<Part>,
}

impl Gate {
    /// The gate of `trigger`, if the first bytes of an object may decide it. `forms` gives each hex
    /// subsignature of the signature (by index) with its forms' offsets and first parts; a subsignature
    /// it does not give is never read.
    pub(crate) fn new(trigger: &Expr, forms: &HashMap<u8, Forms<'_>>) -> Option<Gate> {
        let mut subs = Vec::new();
        let mut reach = 0usize;
        for n in trigger.subs() {
            let Some(sub) = forms.get(&n).and_then(|f| GateSub::new(n, f)) else {
                continue;
            };
            reach = reach.max(sub.reach());
            subs.push(sub);
        }
        // A gate that even all of its subsignatures at zero leaves open is no gate.
        let read = |n: u8| subs.iter().any(|s| s.sub == n);
        let useful = !subs.is_empty() && !trigger.can_hold(&read) && reach <= MAX_GATE_REACH;
        useful.then_some(Gate { subs, reach })
    }

    /// Whether `trigger` can never hold, given `head`, the object's first bytes (all of them when
    /// `complete`); `None` when too few have arrived to say.
    pub(crate) fn shut(
        &self,
        trigger: &Expr,
        head: &[u8],
        complete: bool,
        scratch: &mut Scratch,
    ) -> Option<bool> {
        if head.len() < self.reach && !complete {
            return None;
        }
        // Decided at every object's first search, so without allocating: a bit per subsignature (a trigger
        // names 0 to 63, the expression parser refuses more; one past them would count as unknown).
        let mut zero = 0u64;
        for s in &self.subs {
            if s.sub < 64 && !s.may_match(head, scratch) {
                zero |= 1 << s.sub;
            }
        }
        Some(!trigger.can_hold(&|n| n < 64 && zero >> n & 1 != 0))
    }
}

impl GateSub {
    /// The subsignature `sub`, if every form of it has an offset that allows few starts from the
    /// object's start and a first part to verify.
    fn new(sub: u8, forms: &[(Offset, Option<&Part>)]) -> Option<GateSub> {
        let mut span: Option<(u64, u64)> = None;
        let mut heads = Vec::new();
        for &(offset, head) in forms {
            let (Offset::Absolute { at, shift }, Some(head)) = (offset, head) else {
                return None;
            };
            if shift >= MAX_STARTS || span.is_some_and(|s| s != (at, shift)) {
                return None;
            }
            span = Some((at, shift));
            heads.push(head.clone());
        }
        let (at, shift) = span?;
        let first = usize::try_from(at).ok()?;
        let last = first.checked_add(usize::try_from(shift).ok()?)?;
        Some(GateSub {
            sub,
            first,
            last,
            heads,
        })
    }

    /// The bytes from the object's start that decide whether it may match.
    fn reach(&self) -> usize {
        let widest = self.heads.iter().map(Part::max_width).max().unwrap_or(0);
        self.last.saturating_add(widest)
    }

    /// Whether a form may match at a start its offset allows, in `head`.
    fn may_match(&self, head: &[u8], scratch: &mut Scratch) -> bool {
        (self.first..=self.last.min(head.len())).any(|start| {
            self.heads
                .iter()
                .any(|part| part.verify_from(head, start, scratch).is_some())
        })
    }
}
