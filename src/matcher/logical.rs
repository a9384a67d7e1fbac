//! Logical signatures at scan time: the body matcher counts each hex subsignature's matches; here the
//! target conditions are checked, PCRE subsignatures whose trigger holds are run, and the expression decides.

use std::collections::BTreeMap;
use std::collections::HashMap;

use crate::filetype::FileType;
use crate::matcher::regexes::{self, PcreStream};
use crate::signatures::ldb::{LogicalSig, SubSig};

/// What the scanner knows of the object being matched.
pub(crate) struct Subject<'d> {
    /// The object's bytes, for regular expressions (empty when a session let go of them: then `pcre`
    /// holds what they found as the object arrived).
    pub(crate) data: &'d [u8],
    pub(crate) pcre: Option<&'d PcreStream>,
    /// With `pcre`: where the bytes its object's stream holds start, and those bytes, to finish the
    /// searches it left unfinished ([`PcreStream::count`]).
    pub(crate) held: Option<(usize, &'d [u8])>,
    pub(crate) len: usize,
    pub(crate) target: u8,
    /// The type of the container the object came out of (`Mail` for a MIME part).
    pub(crate) container: Option<FileType>,
}

/// The names of the logical signatures that match, given the subsignature counts the body matcher made.
pub(crate) fn evaluate<'a>(
    sigs: &'a [LogicalSig],
    subs: &HashMap<(u32, u8), u32>,
    subject: &Subject<'_>,
) -> Vec<&'a str> {
    let mut by_sig: BTreeMap<u32, Vec<(u8, u32)>> = BTreeMap::new();
    for (&(sig, sub), &n) in subs {
        by_sig.entry(sig).or_default().push((sub, n));
    }
    let len = subject.len;
    let mut out = Vec::new();
    for (index, counts_found) in by_sig {
        let Some(sig) = sigs.get(index as usize) else {
            continue;
        };
        if sig.target != 0 && sig.target != subject.target {
            continue;
        }
        if let Some((lo, hi)) = sig.file_size
            && !(lo..=hi).contains(&(len as u64))
        {
            continue;
        }
        let in_right_container = match sig.container {
            None => true,
            Some(None) => false,
            Some(Some(t)) => subject.container == Some(t),
        };
        if !in_right_container {
            continue;
        }
        let mut counts = vec![0u32; sig.subs.len()];
        for (sub, n) in counts_found {
            if let Some(c) = counts.get_mut(sub as usize) {
                *c = n;
            }
        }
        for (i, sub) in sig.subs.iter().enumerate() {
            let SubSig::Pcre(p) = sub else { continue };
            if !p.trigger.eval(&counts).holds {
                continue;
            }
            // Counted as the object arrived, when its bytes were let go of; else searched now, the same way.
            let ran = subject
                .pcre
                .and_then(|ran| ran.count(sigs, index, i as u8, len, subject.held));
            let n = ran.unwrap_or_else(|| regexes::count_whole(p, subject.data));
            counts[i] = n;
        }
        if sig.expr.eval(&counts).holds {
            out.push(sig.name.as_str());
        }
    }
    out
}
