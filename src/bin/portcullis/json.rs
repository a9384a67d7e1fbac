//! A small JSON writer for the scanner's output (the library stays free of serialization dependencies).

use portcullis::Verdict;

/// Quotes and escapes a string as JSON.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One file's verdict as a JSON object.
pub fn verdict(path: &str, v: &Verdict) -> String {
    let detections: Vec<String> = v
        .detections()
        .iter()
        .map(|d| {
            format!(
                "{{\"name\":{},\"kind\":{},\"location\":{}}}",
                string(d.name()),
                string(d.kind().as_str()),
                string(d.location().as_str())
            )
        })
        .collect();
    let damage: Vec<String> = v
        .damage()
        .iter()
        .map(|d| {
            format!(
                "{{\"location\":{},\"description\":{}}}",
                string(d.location().as_str()),
                string(d.description())
            )
        })
        .collect();
    let unscanned: Vec<String> = v
        .unscanned()
        .iter()
        .map(|u| {
            format!(
                "{{\"location\":{},\"reason\":{}}}",
                string(u.location().as_str()),
                string(&u.reason().to_string())
            )
        })
        .collect();
    let findings: Vec<String> = v
        .findings()
        .iter()
        .map(|f| {
            format!(
                "{{\"rule\":{},\"points\":{},\"alerts\":{},\"location\":{},\"reason\":{}}}",
                string(f.rule()),
                f.points(),
                f.alerts(),
                string(f.location().as_str()),
                string(f.reason())
            )
        })
        .collect();
    format!(
        "{{\"path\":{},\"status\":{},\"detections\":[{}],\"score\":{},\"findings\":[{}],\"damage\":[{}],\"unscanned\":[{}],\"objects\":{},\"bytes_scanned\":{}}}",
        string(path),
        string(v.status().as_str()),
        detections.join(","),
        v.score(),
        findings.join(","),
        damage.join(","),
        unscanned.join(","),
        v.objects_scanned(),
        v.bytes_scanned()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        assert_eq!(super::string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }
}
