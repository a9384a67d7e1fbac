//! Office documents (VBA macros, auto-run entry points) and PDF actions.

use memchr::memmem;

use super::{AUTORUN_MACRO, OLE2_MACROS, OOXML_MACROS, PDF_EMBEDDED, PDF_JAVASCRIPT, PDF_LAUNCH};
use crate::filetype::FileType;

/// Names under which VBA runs a procedure without being asked.
const AUTORUN: &[&str] = &[
    "AutoOpen",
    "Auto_Open",
    "AutoExec",
    "AutoClose",
    "Document_Open",
    "Document_Close",
    "DocumentOpen",
    "Workbook_Open",
    "Workbook_Activate",
    "Auto_Close",
];

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

fn contains(data: &[u8], needle: &[u8]) -> bool {
    memmem::find(data, needle).is_some()
}

/// The PDF names looked for, plainly or with `#xx` escapes.
const PDF_NAMES: [&str; 6] = [
    "/JavaScript",
    "/JS",
    "/OpenAction",
    "/AA",
    "/Launch",
    "/EmbeddedFile",
];

/// What a document is searched for: for OLE2, the VBA markers (`_VBA_PROJECT` and `VBA\0` in UTF-16, and
/// `Attribute VB_`) and the auto-run names; for a PDF, its names. A found set is a bit per needle.
/// The auto-run names come last, from [`autorun_from`].
fn needles(file_type: FileType) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = match file_type {
        FileType::Pdf => PDF_NAMES.iter().map(|n| n.as_bytes().to_vec()).collect(),
        _ => vec![
            utf16("_VBA_PROJECT"),
            utf16("VBA\0"),
            b"Attribute VB_".to_vec(),
        ],
    };
    out.extend(AUTORUN.iter().map(|a| a.as_bytes().to_vec()));
    out
}

/// Where the auto-run names start among [`needles`].
fn autorun_from(file_type: FileType) -> usize {
    match file_type {
        FileType::Pdf => PDF_NAMES.len(),
        _ => 3,
    }
}

/// The needles of `file_type` found in `data` (a PDF's also in its `#xx`-unescaped form), as bits.
fn found_in(data: &[u8], file_type: FileType, needles: &[Vec<u8>], mut seen: u64) -> u64 {
    let unescaped = match file_type {
        FileType::Pdf => {
            let (decoded, any) = crate::decode::unescape_hex(data, b'#');
            any.then_some(decoded)
        }
        _ => None,
    };
    for (i, n) in needles.iter().enumerate() {
        if seen & (1 << i) == 0
            && (contains(data, n) || unescaped.as_deref().is_some_and(|u| contains(u, n)))
        {
            seen |= 1 << i;
        }
    }
    seen
}

pub(crate) fn inspect(
    data: &[u8],
    file_type: FileType,
    name: Option<&str>,
    found: &mut Vec<(&'static str, String)>,
) {
    let searched = matches!(file_type, FileType::Ole2 | FileType::Pdf) || is_vba_project(name);
    let seen = if searched {
        let kind = if file_type == FileType::Pdf {
            FileType::Pdf
        } else {
            FileType::Ole2
        };
        found_in(data, kind, &needles(kind), 0)
    } else {
        0
    };
    decide(file_type, name, seen, found);
}

/// Whether an object is named as an Office Open XML VBA project (then it is searched for auto-run names).
pub(crate) fn is_vba_project(name: Option<&str>) -> bool {
    name.is_some_and(|n| n.to_ascii_lowercase().ends_with("vbaproject.bin"))
}

/// The findings, from what the search of the document found (`seen`, bits of [`needles`]).
fn decide(
    file_type: FileType,
    name: Option<&str>,
    seen: u64,
    found: &mut Vec<(&'static str, String)>,
) {
    let has = |i: usize| seen & (1 << i) != 0;
    let from = autorun_from(file_type);
    let autorun = AUTORUN.iter().enumerate().find(|&(i, _)| has(from + i));
    match file_type {
        FileType::Ole2 => {
            let vba = has(0) || has(1) && has(2);
            if vba {
                found.push((OLE2_MACROS, "VBA project in an OLE2 document".to_string()));
            }
            if vba && let Some((_, a)) = autorun {
                found.push((AUTORUN_MACRO, format!("auto-run procedure {a}")));
            }
        }
        FileType::Pdf => {
            if has(0) || has(1) {
                let open = if has(2) || has(3) {
                    ", run on open"
                } else {
                    ""
                };
                found.push((PDF_JAVASCRIPT, format!("JavaScript in a PDF{open}")));
            }
            if has(4) {
                found.push((PDF_LAUNCH, "a /Launch action".to_string()));
            }
            if has(5) {
                found.push((PDF_EMBEDDED, "an embedded file".to_string()));
            }
        }
        _ => {}
    }
    if let Some(n) = name.filter(|_| is_vba_project(name)) {
        found.push((OOXML_MACROS, format!("{n} in an Office Open XML package")));
        if autorun.is_some() {
            found.push((
                AUTORUN_MACRO,
                "auto-run procedure in vbaProject.bin".to_string(),
            ));
        }
    }
}

/// [`inspect`]'s search of a PDF or OLE2 document a piece at a time, for one a session matches as it
/// arrives: the same findings as the search of the whole. Each piece is searched with the bytes before it
/// that a needle across the two could start in; a PDF's escapes are undone in each, and a piece that
/// starts inside an escape reads at most its first two bytes otherwise than the whole would, which no
/// name can start with.
#[derive(Debug)]
pub(crate) struct DocumentScan {
    file_type: FileType,
    needles: Vec<Vec<u8>>,
    seen: u64,
    /// The last bytes fed, searched again with the next piece.
    carry: Vec<u8>,
    fed: usize,
}

/// Bytes carried from one piece to the next: longer than any needle, escaped (3 bytes a byte), and an
/// escape read out of step.
const CARRY: usize = 64;

impl DocumentScan {
    /// A search of a document of type `file_type`, if heuristics search it.
    pub(crate) fn new(file_type: FileType) -> Option<DocumentScan> {
        matches!(file_type, FileType::Ole2 | FileType::Pdf).then(|| DocumentScan {
            file_type,
            needles: needles(file_type),
            seen: 0,
            carry: Vec::new(),
            fed: 0,
        })
    }

    /// Searches the next bytes of the document (only its first `limit` bytes count, as for [`inspect`]).
    pub(crate) fn feed(&mut self, piece: &[u8], limit: usize) {
        let take = limit.saturating_sub(self.fed).min(piece.len());
        if take == 0 {
            return;
        }
        self.fed += take;
        let mut window = std::mem::take(&mut self.carry);
        window.extend_from_slice(&piece[..take]);
        self.seen = found_in(&window, self.file_type, &self.needles, self.seen);
        let keep = window.len().saturating_sub(CARRY);
        window.drain(..keep);
        self.carry = window;
    }

    /// The findings, as [`inspect`] gives them on the whole.
    pub(crate) fn finish(&self, name: Option<&str>, found: &mut Vec<(&'static str, String)>) {
        decide(self.file_type, name, self.seen, found);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(data: &[u8], t: FileType, name: Option<&str>) -> Vec<&'static str> {
        let mut f = Vec::new();
        inspect(data, t, name, &mut f);
        f.into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn a_document_searched_in_pieces_gives_what_the_whole_gives() {
        // Names plain, escaped, and split anywhere between pieces, escapes included.
        let mut rng = crate::testing::XorShift::new(5);
        let mut next = move |n: u64| rng.next_u64() % n;
        let mut ole_parts: Vec<Vec<u8>> = vec![utf16("_VBA_PROJECT"), utf16("VBA\0")];
        ole_parts.push(b"Attribute VB_".to_vec());
        ole_parts.push(b"Sub AutoOpen()".to_vec());
        let pdf_parts: Vec<Vec<u8>> = [
            "/J#61vaScript",
            "/JS",
            "/#4FpenAction",
            "/AA",
            "/Launch",
            "/Embedded#46ile",
            "#2341",
            "##",
        ]
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
        let mut with_findings = 0;
        for round in 0..300 {
            let (file_type, parts, magic): (FileType, &[Vec<u8>], &[u8]) = if round % 2 == 0 {
                (FileType::Pdf, &pdf_parts, b"%PDF-1.4 ")
            } else {
                (FileType::Ole2, &ole_parts, b"\xd0\xcf\x11\xe0")
            };
            let mut data = magic.to_vec();
            for _ in 0..next(12) {
                data.extend(std::iter::repeat_n(b'x', next(90) as usize));
                data.extend_from_slice(&parts[next(parts.len() as u64) as usize]);
            }
            let limit = if next(4) == 0 {
                next(data.len() as u64 + 1) as usize
            } else {
                usize::MAX
            };
            let mut whole = Vec::new();
            inspect(&data[..data.len().min(limit)], file_type, None, &mut whole);
            let mut scan = DocumentScan::new(file_type).unwrap();
            let mut at = 0;
            while at < data.len() {
                let n = (1 + next(40) as usize).min(data.len() - at);
                scan.feed(&data[at..at + n], limit);
                at += n;
            }
            let mut pieces = Vec::new();
            scan.finish(None, &mut pieces);
            assert_eq!(pieces, whole, "{:?}", String::from_utf8_lossy(&data));
            with_findings += usize::from(!whole.is_empty());
        }
        assert!(with_findings > 100, "{with_findings}");
    }

    #[test]
    fn documents_table() {
        let mut ole = b"\xd0\xcf\x11\xe0".to_vec();
        ole.extend(utf16("_VBA_PROJECT"));
        assert_eq!(rules(&ole, FileType::Ole2, None), [OLE2_MACROS]);
        ole.extend(b"Sub AutoOpen()");
        assert_eq!(
            rules(&ole, FileType::Ole2, None),
            [OLE2_MACROS, AUTORUN_MACRO]
        );
        assert!(
            rules(
                b"\xd0\xcf\x11\xe0 plain document AutoOpen",
                FileType::Ole2,
                None
            )
            .is_empty()
        );
        assert_eq!(
            rules(b"%PDF-1.4 /OpenAction /JavaScript", FileType::Pdf, None),
            [PDF_JAVASCRIPT]
        );
        assert_eq!(
            rules(b"%PDF-1.4 /J#61vaScript", FileType::Pdf, None),
            [PDF_JAVASCRIPT]
        );
        assert_eq!(
            rules(b"%PDF-1.4 /Launch /EmbeddedFile", FileType::Pdf, None),
            [PDF_LAUNCH, PDF_EMBEDDED]
        );
        assert!(rules(b"%PDF-1.4 plain", FileType::Pdf, None).is_empty());
        assert_eq!(
            rules(b"x", FileType::Binary, Some("word/vbaProject.bin")),
            [OOXML_MACROS]
        );
    }
}
