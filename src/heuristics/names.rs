//! File-name tricks: double extensions, bidirectional overrides, padding, look-alike letters.

use super::{DOUBLE_EXTENSION, HOMOGLYPH, PADDED_NAME, RTLO, extension};
use crate::filetype::FileType;

/// Extensions that run something when opened on Windows.
pub(crate) const EXECUTABLE_EXTENSIONS: &[&str] = &[
    "exe", "scr", "pif", "com", "cpl", "msi", "dll", "bat", "cmd", "js", "jse", "vbs", "vbe",
    "wsf", "wsh", "hta", "ps1", "lnk", "jar", "reg", "msc", "iso", "img", "vhd", "vhdx", "one",
    "chm", "appx", "msix",
];

/// Extensions that look harmless to a reader.
pub(crate) const DOCUMENT_EXTENSIONS: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "rtf", "txt", "jpg", "jpeg", "png", "gif",
    "bmp", "mp3", "mp4", "avi", "wav", "csv", "odt", "htm", "html", "zip",
];

fn is_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

pub(crate) fn inspect(name: &str, _file_type: FileType, found: &mut Vec<(&'static str, String)>) {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    if base.chars().any(is_override) {
        let shown: String = base.chars().filter(|c| !is_override(*c)).collect();
        found.push((
            RTLO,
            format!(
                "the name \"{}\" holds a bidirectional override",
                shown.escape_debug()
            ),
        ));
    }
    // Mixed scripts within the name itself (the extension is always Latin).
    let stem = base.rsplit_once('.').map_or(base, |(s, _)| s);
    let latin = stem.chars().any(|c| c.is_ascii_alphabetic());
    let lookalike = stem
        .chars()
        .any(|c| matches!(c, '\u{0400}'..='\u{04FF}' | '\u{0370}'..='\u{03FF}'));
    if latin && lookalike {
        found.push((
            HOMOGLYPH,
            format!("\"{base}\" mixes Latin with Cyrillic or Greek letters"),
        ));
    }
    let Some(ext) = extension(base) else { return };
    let executable = EXECUTABLE_EXTENSIONS.contains(&ext.as_str());
    if executable {
        let stem = &base[..base.len() - ext.len() - 1];
        if let Some(prev) = extension(stem.trim_end())
            && DOCUMENT_EXTENSIONS.contains(&prev.as_str())
        {
            found.push((
                DOUBLE_EXTENSION,
                format!("\"{base}\" ends in .{prev}.{ext}"),
            ));
        }
        let tail: String = stem
            .chars()
            .rev()
            .take_while(|c| matches!(c, ' ' | '.' | '_' | '\u{a0}'))
            .collect();
        if tail.chars().count() >= 5 {
            found.push((
                PADDED_NAME,
                format!("{} padding characters before .{ext}", tail.chars().count()),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(name: &str) -> Vec<&'static str> {
        let mut f = Vec::new();
        inspect(name, FileType::Binary, &mut f);
        f.into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn name_tricks_table() {
        let table: &[(&str, &[&str])] = &[
            ("invoice.pdf.exe", &[DOUBLE_EXTENSION]),
            ("invoice.pdf", &[]),
            ("archive.tar.gz", &[]),
            ("report.2024.exe", &[]),
            ("photo\u{202E}gpj.exe", &[RTLO]),
            (
                "document.pdf                    .exe",
                &[DOUBLE_EXTENSION, PADDED_NAME],
            ),
            ("setup.exe", &[]),
            ("p\u{0430}yment.pdf", &[HOMOGLYPH]),
            ("Привет.txt", &[]),
            ("dir/scan.jpg.js", &[DOUBLE_EXTENSION]),
        ];
        for (name, want) in table {
            assert_eq!(rules(name), *want, "{name}");
        }
    }
}
