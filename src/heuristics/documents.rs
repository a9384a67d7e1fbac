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

/// A PDF's bytes, and the same with `#xx` name escapes decoded (only when it has any), made once so that
/// each name looked for costs one search of each.
struct PdfNames<'a> {
    data: &'a [u8],
    unescaped: Option<Vec<u8>>,
}

impl<'a> PdfNames<'a> {
    fn new(data: &'a [u8]) -> PdfNames<'a> {
        let (decoded, any) = crate::decode::unescape_hex(data, b'#');
        PdfNames {
            data,
            unescaped: any.then_some(decoded),
        }
    }

    /// Whether a name token (`/JavaScript`) appears, plainly or escaped (`/J#61vaScript`).
    fn has(&self, name: &str) -> bool {
        contains(self.data, name.as_bytes())
            || self
                .unescaped
                .as_deref()
                .is_some_and(|d| contains(d, name.as_bytes()))
    }
}

pub(crate) fn inspect(
    data: &[u8],
    file_type: FileType,
    name: Option<&str>,
    found: &mut Vec<(&'static str, String)>,
) {
    match file_type {
        FileType::Ole2 => {
            let vba = contains(data, &utf16("_VBA_PROJECT"))
                || contains(data, &utf16("VBA\0")) && contains(data, b"Attribute VB_");
            if vba {
                found.push((OLE2_MACROS, "VBA project in an OLE2 document".to_string()));
            }
            if vba && let Some(a) = AUTORUN.iter().find(|a| contains(data, a.as_bytes())) {
                found.push((AUTORUN_MACRO, format!("auto-run procedure {a}")));
            }
        }
        FileType::Pdf => {
            let pdf = PdfNames::new(data);
            if pdf.has("/JavaScript") || pdf.has("/JS") {
                let open = if pdf.has("/OpenAction") || pdf.has("/AA") {
                    ", run on open"
                } else {
                    ""
                };
                found.push((PDF_JAVASCRIPT, format!("JavaScript in a PDF{open}")));
            }
            if pdf.has("/Launch") {
                found.push((PDF_LAUNCH, "a /Launch action".to_string()));
            }
            if pdf.has("/EmbeddedFile") {
                found.push((PDF_EMBEDDED, "an embedded file".to_string()));
            }
        }
        _ => {}
    }
    if let Some(n) = name
        && n.to_ascii_lowercase().ends_with("vbaproject.bin")
    {
        found.push((OOXML_MACROS, format!("{n} in an Office Open XML package")));
        if AUTORUN.iter().any(|a| contains(data, a.as_bytes())) {
            found.push((
                AUTORUN_MACRO,
                "auto-run procedure in vbaProject.bin".to_string(),
            ));
        }
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
