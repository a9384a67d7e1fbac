//! File-type detection from content, never from names: what an object really is decides which signatures
//! apply to it (ClamAV's target types) and which unpacker opens it.

use memchr::memmem;

/// What an object's content is.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileType {
    /// Windows PE executable (MZ).
    Pe,
    /// ELF executable.
    Elf,
    /// Mach-O executable.
    MachO,
    /// OLE2 compound document (legacy Office, MSI).
    Ole2,
    /// PDF.
    Pdf,
    /// HTML.
    Html,
    /// An email message.
    Mail,
    /// An image (PNG, GIF, JPEG, BMP, TIFF, ICO).
    Graphics,
    /// Java class file.
    Java,
    /// Flash (SWF).
    Flash,
    /// zip archive (and formats built on it: OOXML, JAR, APK).
    Zip,
    /// gzip.
    Gzip,
    /// bzip2.
    Bzip2,
    /// tar.
    Tar,
    /// 7-Zip.
    SevenZip,
    /// RAR.
    Rar,
    /// Microsoft Cabinet.
    Cab,
    /// ARJ.
    Arj,
    /// cpio.
    Cpio,
    /// ISO 9660 disk image.
    Iso,
    /// xz.
    Xz,
    /// Mostly printable text.
    Text,
    /// Anything else.
    Binary,
}

impl FileType {
    /// ClamAV's target type for this file type (0 = any when none is specific).
    pub fn target(self) -> u8 {
        match self {
            FileType::Pe => 1,
            FileType::Ole2 => 2,
            FileType::Html => 3,
            FileType::Mail => 4,
            FileType::Graphics => 5,
            FileType::Elf => 6,
            FileType::Text => 7,
            FileType::MachO => 9,
            FileType::Pdf => 10,
            FileType::Flash => 11,
            FileType::Java => 12,
            _ => 0,
        }
    }

    /// A short name, as used in reports.
    pub fn name(self) -> &'static str {
        match self {
            FileType::Pe => "pe",
            FileType::Elf => "elf",
            FileType::MachO => "macho",
            FileType::Ole2 => "ole2",
            FileType::Pdf => "pdf",
            FileType::Html => "html",
            FileType::Mail => "mail",
            FileType::Graphics => "graphics",
            FileType::Java => "java",
            FileType::Flash => "flash",
            FileType::Zip => "zip",
            FileType::Gzip => "gzip",
            FileType::Bzip2 => "bzip2",
            FileType::Tar => "tar",
            FileType::SevenZip => "7z",
            FileType::Rar => "rar",
            FileType::Cab => "cab",
            FileType::Arj => "arj",
            FileType::Cpio => "cpio",
            FileType::Iso => "iso",
            FileType::Xz => "xz",
            FileType::Text => "text",
            FileType::Binary => "binary",
        }
    }
}

const MAGIC: &[(&[u8], FileType)] = &[
    (b"PK\x03\x04", FileType::Zip),
    (b"PK\x05\x06", FileType::Zip),
    (b"PK\x07\x08PK\x03\x04", FileType::Zip),
    (b"\x1f\x8b", FileType::Gzip),
    (b"BZh", FileType::Bzip2),
    (b"7z\xbc\xaf\x27\x1c", FileType::SevenZip),
    (b"Rar!\x1a\x07", FileType::Rar),
    (b"MSCF\0\0\0\0", FileType::Cab),
    (b"\x60\xea", FileType::Arj),
    (b"070701", FileType::Cpio),
    (b"070702", FileType::Cpio),
    (b"070707", FileType::Cpio),
    (b"\xc7\x71", FileType::Cpio),
    (b"\x71\xc7", FileType::Cpio),
    (b"\xfd7zXZ\0", FileType::Xz),
    (b"\x7fELF", FileType::Elf),
    (b"\xfe\xed\xfa\xce", FileType::MachO),
    (b"\xfe\xed\xfa\xcf", FileType::MachO),
    (b"\xce\xfa\xed\xfe", FileType::MachO),
    (b"\xcf\xfa\xed\xfe", FileType::MachO),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", FileType::Ole2),
    (b"%PDF-", FileType::Pdf),
    (b"\x89PNG\r\n\x1a\n", FileType::Graphics),
    (b"GIF87a", FileType::Graphics),
    (b"GIF89a", FileType::Graphics),
    (b"\xff\xd8\xff", FileType::Graphics),
    (b"II*\0", FileType::Graphics),
    (b"MM\0*", FileType::Graphics),
    (b"\xca\xfe\xba\xbe", FileType::Java),
    (b"FWS", FileType::Flash),
    (b"CWS", FileType::Flash),
    (b"ZWS", FileType::Flash),
];

/// Header fields that, at the start of a file, say it is a mail message.
const MAIL_FIELDS: &[&[u8]] = &[
    b"received:",
    b"return-path:",
    b"from:",
    b"to:",
    b"subject:",
    b"message-id:",
    b"mime-version:",
    b"date:",
    b"delivered-to:",
    b"x-",
    b"content-type:",
];

fn looks_like_mail(data: &[u8]) -> bool {
    let head = &data[..data.len().min(4096)];
    if head.starts_with(b"From ") {
        return true;
    }
    // The first line must be a header field, and two known fields must be among the first lines, before
    // any blank line: a quoted reply ("Bob wrote:" then "To: ...") is text, not a message.
    if !crate::mime::header::has_header(head) {
        return false;
    }
    let mut known = 0;
    for line in head.split(|&b| b == b'\n').take(20) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            continue;
        }
        let lower: Vec<u8> = line.iter().take(16).map(u8::to_ascii_lowercase).collect();
        if MAIL_FIELDS.iter().any(|f| lower.starts_with(f)) {
            known += 1;
        } else if !line.contains(&b':') {
            return false;
        }
    }
    known >= 2
}

fn looks_like_html(data: &[u8]) -> bool {
    let head = &data[..data.len().min(1024)];
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let trimmed_start = lower
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let start = &lower[trimmed_start..];
    [
        &b"<!doctype html"[..],
        b"<html",
        b"<head",
        b"<body",
        b"<script",
        b"<iframe",
        b"<meta",
        b"<!--",
    ]
    .iter()
    .any(|t| start.starts_with(t))
        || memmem::find(&lower, b"<html").is_some()
}

fn looks_like_text(data: &[u8]) -> bool {
    let head = &data[..data.len().min(4096)];
    if head.is_empty() {
        return false;
    }
    let printable = head
        .iter()
        .filter(|&&b| b >= 0x20 || matches!(b, b'\n' | b'\r' | b'\t' | 0x0c))
        .count();
    !head.contains(&0) && printable * 100 >= head.len() * 95
}

fn is_pe(data: &[u8]) -> bool {
    if !data.starts_with(b"MZ") {
        return false;
    }
    let Some(off) = data
        .get(0x3c..0x40)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    else {
        return false;
    };
    data.get(off..off + 4) == Some(b"PE\0\0")
}

/// Detects an object's type from its first bytes.
///
/// ```
/// use portcullis::FileType;
/// assert_eq!(portcullis::detect_file_type(b"PK\x03\x04rest"), FileType::Zip);
/// assert_eq!(portcullis::detect_file_type(b"<html><body>hi</body></html>"), FileType::Html);
/// assert_eq!(portcullis::detect_file_type(b"plain words\n"), FileType::Text);
/// ```
pub fn detect(data: &[u8]) -> FileType {
    if is_pe(data) {
        return FileType::Pe;
    }
    if let Some((_, t)) = MAGIC.iter().find(|(m, _)| data.starts_with(m)) {
        return *t;
    }
    if data.len() >= 512 && crate::unpack::tar::is_header(&data[..512]) {
        return FileType::Tar;
    }
    if data.get(0x8001..0x8006) == Some(b"CD001") {
        return FileType::Iso;
    }
    if data.starts_with(b"MZ")
        || data.starts_with(b"BM") && data.len() > 54 && data.get(14) == Some(&40)
    {
        return if data.starts_with(b"MZ") {
            FileType::Pe
        } else {
            FileType::Graphics
        };
    }
    if looks_like_text(data) {
        if looks_like_mail(data) {
            return FileType::Mail;
        }
        if looks_like_html(data) {
            return FileType::Html;
        }
        return FileType::Text;
    }
    FileType::Binary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_table() {
        let mut pe = b"MZ".to_vec();
        pe.resize(0x40, 0);
        pe[0x3c] = 0x40;
        pe.extend(b"PE\0\0");
        let table: &[(&[u8], FileType)] = &[
            (&pe, FileType::Pe),
            (b"\x7fELF\x02\x01", FileType::Elf),
            (b"%PDF-1.7\n", FileType::Pdf),
            (b"\x1f\x8b\x08\0", FileType::Gzip),
            (b"BZh91AY&SY", FileType::Bzip2),
            (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0\0", FileType::Ole2),
            (b"GIF89a....", FileType::Graphics),
            (b"  <!DOCTYPE html><html>", FileType::Html),
            (
                b"Received: from x\r\nSubject: y\r\n\r\nbody",
                FileType::Mail,
            ),
            (b"Subject: only one field\r\n\r\nbody", FileType::Text),
            (
                b"Bob <b@example.com> wrote:\nTo: x\nSubject: y\n\ntext",
                FileType::Text,
            ),
            (b"Dear friend,\nhello\n", FileType::Text),
            (b"\0\x01\x02\x03binary", FileType::Binary),
            (b"", FileType::Binary),
        ];
        for (data, want) in table {
            assert_eq!(
                detect(data),
                *want,
                "{:?}",
                String::from_utf8_lossy(&data[..data.len().min(20)])
            );
        }
    }
}
