//! The offset field of `.ndb` signatures: where in an object a match may start.

/// Where a signature's match may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Offset {
    /// `*`: anywhere.
    Any,
    /// `n` or `n,shift`: from `at` to `at + shift`.
    Absolute { at: u64, shift: u64 },
    /// `EOF-n` or `EOF-n,shift`: from `len - back` to `len - back + shift`.
    FromEnd { back: u64, shift: u64 },
}

/// What parsing an offset gives: a supported offset, or the reason it needs data the engine lacks.
pub(crate) enum Parsed {
    Ok(Offset),
    Unsupported(&'static str),
}

impl Offset {
    /// Whether a match starting at `start` in an object of `len` bytes satisfies the offset.
    pub(crate) fn allows(self, start: usize, len: usize) -> bool {
        let start = start as u64;
        match self {
            Offset::Any => true,
            Offset::Absolute { at, shift } => start >= at && start - at <= shift,
            Offset::FromEnd { back, shift } => match (len as u64).checked_sub(back) {
                Some(base) => start >= base && start - base <= shift,
                None => false,
            },
        }
    }

    /// The first and last start positions this offset allows in an object of `len` bytes, when they are few
    /// enough to verify directly without an atom.
    pub(crate) fn window(self, len: usize) -> Option<(usize, usize)> {
        let (base, shift) = match self {
            Offset::Any => return None,
            Offset::Absolute { at, shift } => (at, shift),
            Offset::FromEnd { back, shift } => ((len as u64).checked_sub(back)?, shift),
        };
        let first = usize::try_from(base).ok()?;
        let last = usize::try_from(base.saturating_add(shift)).ok()?.min(len);
        (first <= last).then_some((first, last))
    }

    /// True when the number of possible starts is small, so that direct verification beats an atom.
    pub(crate) fn is_narrow(self) -> bool {
        match self {
            Offset::Any => false,
            Offset::Absolute { shift, .. } | Offset::FromEnd { shift, .. } => shift <= 64,
        }
    }
}

fn number(s: &str) -> Result<u64, String> {
    s.parse::<u64>()
        .map_err(|_| format!("offset '{s}' is not a number"))
}

/// Parses `*`, `n`, `n,m`, `EOF-n`, `EOF-n,m`; executable-relative forms are recognised and reported as
/// unsupported.
pub(crate) fn parse(field: &str) -> Result<Parsed, String> {
    if field == "*" {
        return Ok(Parsed::Ok(Offset::Any));
    }
    let (base, shift) = match field.split_once(',') {
        Some((b, s)) => (b, number(s)?),
        None => (field, 0),
    };
    if let Some(back) = base.strip_prefix("EOF-") {
        return Ok(Parsed::Ok(Offset::FromEnd {
            back: number(back)?,
            shift,
        }));
    }
    if base.starts_with("EP+") || base.starts_with("EP-") {
        return Ok(Parsed::Unsupported(
            "offset relative to the entry point (EP)",
        ));
    }
    if base.starts_with("SL+") {
        return Ok(Parsed::Unsupported(
            "offset relative to the last section (SL)",
        ));
    }
    if base.starts_with("SE") {
        return Ok(Parsed::Unsupported("offset of a whole section (SE)"));
    }
    if base.starts_with('S') && base[1..].split_once('+').is_some() {
        return Ok(Parsed::Unsupported("offset relative to a section (Sx)"));
    }
    if base == "VI" || base.starts_with("VI") {
        return Ok(Parsed::Unsupported("version-information offset (VI)"));
    }
    if base.starts_with("$") {
        return Ok(Parsed::Unsupported("macro offset"));
    }
    Ok(Parsed::Ok(Offset::Absolute {
        at: number(base)?,
        shift,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Offset {
        match parse(s) {
            Ok(Parsed::Ok(o)) => o,
            Ok(Parsed::Unsupported(r)) => panic!("{s}: unsupported {r}"),
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn offsets_table() {
        // (offset, start, object length, allowed)
        let table = [
            ("*", 5, 10, true),
            ("0", 0, 10, true),
            ("0", 1, 10, false),
            ("4", 4, 10, true),
            ("4,3", 7, 10, true),
            ("4,3", 8, 10, false),
            ("4,3", 3, 10, false),
            ("EOF-4", 6, 10, true),
            ("EOF-4", 5, 10, false),
            ("EOF-4,2", 8, 10, true),
            ("EOF-20", 0, 10, false),
        ];
        for (field, start, len, want) in table {
            assert_eq!(
                ok(field).allows(start, len),
                want,
                "{field} start {start} len {len}"
            );
        }
    }

    #[test]
    fn executable_offsets_are_unsupported_not_errors() {
        for field in ["EP+0", "EP-10", "EP+0,100", "S2+4", "SL+0", "SE1", "VI"] {
            assert!(
                matches!(parse(field), Ok(Parsed::Unsupported(_))),
                "{field}"
            );
        }
    }

    #[test]
    fn malformed_offsets_are_errors() {
        for field in ["", "x", "EOF-", "EOF-x", "4,", "4,x", "-3"] {
            assert!(parse(field).is_err(), "{field}");
        }
    }

    #[test]
    fn windows() {
        assert_eq!(ok("4,3").window(100), Some((4, 7)));
        assert_eq!(ok("EOF-4").window(10), Some((6, 6)));
        assert_eq!(ok("EOF-40").window(10), None);
        assert_eq!(ok("*").window(10), None);
    }
}
