//! What an object really is, against what its name says: executables, scripts, shortcuts, disk images.

use super::names::{DOCUMENT_EXTENSIONS, EXECUTABLE_EXTENSIONS};
use super::{CHM, DISK_IMAGE, EXECUTABLE, MISMATCH, ONENOTE, SCRIPT, SHORTCUT, extension};
use crate::filetype::FileType;

const SCRIPT_EXTENSIONS: &[&str] = &[
    "js", "jse", "vbs", "vbe", "wsf", "wsh", "hta", "ps1", "bat", "cmd", "scr", "pif", "cpl",
    "reg", "jar",
];

/// Extensions of native programs: an attachment so named is an executable to whoever opens it.
const BINARY_EXTENSIONS: &[&str] = &[
    "exe", "com", "msi", "dll", "cpl", "sys", "ocx", "appx", "msix",
];

const LNK_MAGIC: &[u8] = b"\x4c\x00\x00\x00\x01\x14\x02\x00";
const ONENOTE_MAGIC: &[u8] = b"\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d\xae\xb1\x53\x78\xd0\x29\x96\xd3";
const CHM_MAGIC: &[u8] = b"ITSF";

fn is_vhd(data: &[u8], footer: Option<&[u8]>) -> bool {
    data.starts_with(b"conectix")
        || data.starts_with(b"vhdxfile")
        || footer.is_some_and(|f| f.starts_with(b"conectix"))
}

/// `data` is the object's first bytes; `footer` the 8 bytes 512 from the end of what heuristics read of it
/// ([`super::footer_offset`]).
pub(crate) fn inspect(
    data: &[u8],
    footer: Option<&[u8]>,
    file_type: FileType,
    name: Option<&str>,
    in_archive: bool,
    found: &mut Vec<(&'static str, String)>,
) {
    let ext = name.and_then(extension);
    let where_ = if in_archive { " inside an archive" } else { "" };
    let is_msi = file_type == FileType::Ole2 && ext.as_deref() == Some("msi");
    let by_content = matches!(file_type, FileType::Pe | FileType::Elf | FileType::MachO) || is_msi;
    if !by_content
        && let Some(e) = &ext
        && BINARY_EXTENSIONS.contains(&e.as_str())
    {
        found.push((EXECUTABLE, format!("named .{e}{where_}")));
    }
    if by_content {
        found.push((
            EXECUTABLE,
            format!(
                "{} executable{where_}",
                if is_msi { "msi" } else { file_type.name() }
            ),
        ));
        if let Some(e) = &ext
            && DOCUMENT_EXTENSIONS.contains(&e.as_str())
            && !EXECUTABLE_EXTENSIONS.contains(&e.as_str())
        {
            found.push((
                MISMATCH,
                format!("named .{e} but is a {} executable", file_type.name()),
            ));
        }
    }
    if let Some(e) = &ext
        && SCRIPT_EXTENSIONS.contains(&e.as_str())
        && !matches!(file_type, FileType::Pe)
    {
        found.push((SCRIPT, format!(".{e} file{where_}")));
    }
    if data.starts_with(LNK_MAGIC) || ext.as_deref() == Some("lnk") {
        found.push((SHORTCUT, format!("Windows shortcut{where_}")));
    }
    if file_type == FileType::Iso
        || is_vhd(data, footer)
        || matches!(ext.as_deref(), Some("iso" | "img" | "vhd" | "vhdx"))
    {
        found.push((DISK_IMAGE, format!("disk image{where_}")));
    }
    if data.starts_with(ONENOTE_MAGIC) {
        found.push((ONENOTE, format!("OneNote document{where_}")));
    }
    if data.starts_with(CHM_MAGIC) {
        found.push((CHM, format!("compiled HTML help{where_}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(data: &[u8], t: FileType, name: Option<&str>) -> Vec<&'static str> {
        let mut f = Vec::new();
        let footer = super::super::footer_offset(data.len()).and_then(|at| data.get(at..at + 8));
        inspect(data, footer, t, name, false, &mut f);
        f.into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn types_table() {
        assert_eq!(rules(b"MZ", FileType::Pe, Some("a.exe")), [EXECUTABLE]);
        assert_eq!(
            rules(b"MZ", FileType::Pe, Some("a.pdf")),
            [EXECUTABLE, MISMATCH]
        );
        assert_eq!(rules(b"var x", FileType::Text, Some("a.js")), [SCRIPT]);
        assert_eq!(
            rules(b"var x", FileType::Text, Some("a.txt")),
            Vec::<&str>::new()
        );
        assert_eq!(
            rules(b"hello", FileType::Text, Some("hello.exe")),
            [EXECUTABLE]
        );
        assert_eq!(rules(LNK_MAGIC, FileType::Binary, None), [SHORTCUT]);
        assert_eq!(rules(b"x", FileType::Iso, None), [DISK_IMAGE]);
        assert_eq!(
            rules(ONENOTE_MAGIC, FileType::Binary, Some("a.one")),
            [ONENOTE]
        );
        assert_eq!(rules(b"ITSF\x03", FileType::Binary, None), [CHM]);
        assert_eq!(
            rules(b"\xd0\xcf", FileType::Ole2, Some("setup.msi")),
            [EXECUTABLE]
        );
    }
}
