//! Extended body signatures: `.ndb` (and `.ndu`).
//!
//! `MalwareName:TargetType:Offset:HexSignature[:MinFL[:MaxFL]]`. The hex syntax is parsed by
//! [`hexsig`](super::hexsig), the offset by [`offset`](super::offset). Signatures whose offset needs the
//! structure of an executable (`EP+n`, `Sx+n`, `SL+n`, `SEx`) are skipped and reported.

use std::path::Path;

use super::offset::{self, Parsed};
use super::{BodySig, SignatureSet, flevel_skip, hexsig, load_lines};
use crate::error::{Error, Result};

/// The highest target type ClamAV defines (14: "other").
const MAX_TARGET: u8 = 14;

/// Parses one line into a signature, or the reason it is skipped.
pub(crate) fn parse_line(
    path: &Path,
    n: usize,
    line: &str,
) -> Result<std::result::Result<BodySig, String>> {
    let fields: Vec<&str> = line.split(':').collect();
    if fields.len() < 4 {
        return Err(Error::syntax(
            path,
            n,
            "expected MalwareName:TargetType:Offset:HexSignature",
        ));
    }
    let name = fields[0];
    if name.is_empty() {
        return Err(Error::syntax(path, n, "the signature has no name"));
    }
    let target: u8 = fields[1].parse().map_err(|_| {
        Error::syntax(
            path,
            n,
            format!("target type '{}' is not a number", fields[1]),
        )
    })?;
    let pattern =
        hexsig::parse(fields[3]).map_err(|e| Error::syntax(path, n, format!("{name}: {e}")))?;
    let offset = match offset::parse(fields[2])
        .map_err(|e| Error::syntax(path, n, format!("{name}: {e}")))?
    {
        Parsed::Ok(o) => o,
        Parsed::Unsupported(reason) => return Ok(Err(reason.to_string())),
    };
    if target > MAX_TARGET {
        return Ok(Err(format!("target type {target} is unknown")));
    }
    if let Some(reason) = flevel_skip(path, n, &fields[4..])? {
        return Ok(Err(reason));
    }
    Ok(Ok(BodySig {
        name: name.to_string(),
        target,
        offset,
        pattern,
        owner: None,
        fullword: false,
    }))
}

pub(crate) fn load(set: &mut SignatureSet, path: &Path, bytes: &[u8]) -> Result<()> {
    load_lines(set, path, bytes, ':', 0, parse_line, |set, sig| {
        set.body.push(sig);
        set.report.count("ndb");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndb_lines_table() {
        let p = Path::new("t.ndb");
        let sig = parse_line(p, 1, "Test.A:0:*:41424344").unwrap().unwrap();
        assert_eq!((sig.name.as_str(), sig.target), ("Test.A", 0));
        let sig = parse_line(p, 1, "Test.B:3:EOF-10,4:41(42|43)44:51:255")
            .unwrap()
            .unwrap();
        assert_eq!(sig.target, 3);
        // Skipped, with a reason.
        for line in [
            "Test.C:1:EP+0,100:558bec",
            "Test.D:1:S2+4:558bec",
            "Test.E:0:*:41424344:999",
            "Test.F:0:*:41424344:20:30",
            "Test.G:42:*:41424344",
        ] {
            assert!(parse_line(p, 1, line).unwrap().is_err(), "{line}");
        }
        // Errors that name the line.
        let bad = [
            ("Test.H:0:*", "expected"),
            (":0:*:4142", "no name"),
            ("Test.I:x:*:4142", "target type"),
            ("Test.J:0:x:4142", "offset"),
            ("Test.K:0:*:41424", "odd number"),
            ("Test.L:0:*:41{2-1}42", "minimum above"),
        ];
        for (line, want) in bad {
            let err = parse_line(p, 9, line).unwrap_err();
            assert_eq!(err.line(), Some(9), "{line}");
            assert!(err.to_string().contains(want), "{line}: {err}");
        }
    }
}
