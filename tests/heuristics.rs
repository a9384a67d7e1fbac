//! Each heuristic rule on a message built for it, and on a near miss that must not fire it; then how
//! findings become detections, scores and statuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use portcullis::heuristics::RULES;
use portcullis::{DetectionKind, Engine, HeuristicMode, Heuristics, Status, Verdict};
use support::corpusgen::{Method, base64, zip};

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

/// A message with a text body and one base64 attachment; `disposition` is the whole parameter list.
fn with_attachment(body: &str, disposition: &str, data: &[u8]) -> Vec<u8> {
    format!(
        "From: a@example.com\r\nSubject: t\r\nContent-Type: multipart/mixed; boundary=hb\r\n\r\n--hb\r\nContent-Type: text/plain\r\n\r\n{body}\r\n--hb\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; {disposition}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--hb--\r\n",
        base64(data)
    )
    .into_bytes()
}

fn named(name: &str, data: &[u8]) -> Vec<u8> {
    with_attachment("see attached", &format!("filename=\"{name}\""), data)
}

fn html_body(html: &str) -> Vec<u8> {
    format!("From: a@example.com\r\nSubject: t\r\nContent-Type: text/html\r\n\r\n<html><body>{html}</body></html>\r\n").into_bytes()
}

fn pe() -> Vec<u8> {
    let mut pe = b"MZ".to_vec();
    pe.resize(0x40, 0);
    pe[0x3c] = 0x40;
    pe.extend(b"PE\0\0");
    pe.resize(512, 0x90);
    pe
}

fn ole(extra: &[u8]) -> Vec<u8> {
    let mut v = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1".to_vec();
    v.resize(512, 0);
    v.extend(extra);
    v
}

fn encrypted_zip() -> Vec<u8> {
    zip(&[("secret.doc", b"not really encrypted", Method::Encrypted)])
}

fn scan(msg: &[u8]) -> Verdict {
    Engine::builder().build().unwrap().scan_bytes(msg).unwrap()
}

fn fires(rule: &str, msg: &[u8]) -> bool {
    has_finding(&scan(msg), rule)
}

/// Whether `verdict` holds a finding of `rule`.
fn has_finding(verdict: &Verdict, rule: &str) -> bool {
    verdict.findings().iter().any(|f| f.rule() == rule)
}

/// (rule, a message that must fire it, a near miss that must not).
fn table() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let lnk =
        b"\x4c\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46rest"
            .to_vec();
    let onenote = b"\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d\xae\xb1\x53\x78\xd0\x29\x96\xd3 rest".to_vec();
    let mut onenote_near = onenote.clone();
    onenote_near[3] ^= 1;
    let mut vba = utf16("_VBA_PROJECT");
    vba.extend(b" Attribute VB_Name Sub AutoOpen() End Sub");
    let mut vba_plain = utf16("_VBA_PROJECT");
    vba_plain.extend(b" Attribute VB_Name Sub Main() End Sub");
    vec![
        ("Heuristics.Executable.DoubleExtension", named("invoice.pdf.exe", b"x"), named("invoice.pdf", b"x")),
        (
            "Heuristics.Executable.RTLO",
            with_attachment("x", "filename*=utf-8''photo%E2%80%AEgpj.exe", b"x"),
            named("photo.jpg", b"x"),
        ),
        ("Heuristics.Executable.PaddedName", named("document__________.exe", b"x"), named("my_document.exe", b"x")),
        (
            "Heuristics.Executable.Homoglyph",
            with_attachment("x", "filename*=utf-8''p%D0%B0yment.zip", b"x"),
            named("payment.zip", b"x"),
        ),
        ("Heuristics.Executable.Attachment", named("setup.bin", &pe()), named("setup.bin", &[7u8; 600])),
        ("Heuristics.Executable.Mismatch", named("scan.jpg", &pe()), named("scan.exe", &pe())),
        ("Heuristics.Script.Attachment", named("run.js", b"WScript.Shell"), named("run.json", b"{}")),
        ("Heuristics.Shortcut.LNK", named("a.dat", &lnk), named("a.dat", b"LNK? no")),
        ("Heuristics.DiskImage.Attachment", named("disk.iso", b"x"), named("disk.txt", b"x")),
        ("Heuristics.OneNote.Attachment", named("n.bin", &onenote), named("n.bin", &onenote_near)),
        ("Heuristics.CHM.Attachment", named("h.bin", b"ITSF\x03\0\0\0"), named("h.bin", b"ITSX\x03\0\0\0")),
        (
            "Heuristics.Encrypted.Zip",
            named("secret.zip", &encrypted_zip()),
            named("open.zip", &zip(&[("open.doc", b"plain", Method::Stored)])),
        ),
        (
            "Heuristics.Encrypted.PasswordInMessage",
            with_attachment("The password is 1234.", "filename=\"secret.zip\"", &encrypted_zip()),
            with_attachment("Here are the files.", "filename=\"secret.zip\"", &encrypted_zip()),
        ),
        ("Heuristics.OLE2.ContainsMacros", named("a.doc", &ole(&vba_plain)), named("a.doc", &ole(b"plain text"))),
        ("Heuristics.Macro.AutoRun", named("a.doc", &ole(&vba)), named("a.doc", &ole(&vba_plain))),
        (
            "Heuristics.OOXML.ContainsMacros",
            named("a.docm", &zip(&[("word/vbaProject.bin", b"vba", Method::Deflate)])),
            named("a.docx", &zip(&[("word/document.xml", b"<w/>", Method::Deflate)])),
        ),
        ("Heuristics.PDF.JavaScript", named("a.pdf", b"%PDF-1.7\n<< /S /JavaScript >>"), named("a.pdf", b"%PDF-1.7\n<< /S /Java >>")),
        ("Heuristics.PDF.Launch", named("a.pdf", b"%PDF-1.7\n<< /S /Launch >>"), named("a.pdf", b"%PDF-1.7\n<< /S /Lunch >>")),
        ("Heuristics.PDF.EmbeddedFile", named("a.pdf", b"%PDF-1.7\n<< /Type /EmbeddedFile >>"), named("a.pdf", b"%PDF-1.7\n<< /Type /Embedded >>")),
        (
            "Heuristics.HTML.Smuggling",
            named("a.html", b"<html><script>var d=atob(p); var b=new Blob([d]); a.href=URL.createObjectURL(b)</script></html>"),
            named("a.html", b"<html><script>var d=atob(p); console.log(d)</script></html>"),
        ),
        (
            "Heuristics.HTML.ExternalForm",
            named("login.html", b"<html><form action=\"https://collect.example.net/p\"><input type=\"password\"></form></html>"),
            named("login.html", b"<html><form action=\"https://collect.example.net/p\"><input type=\"text\"></form></html>"),
        ),
        (
            "Heuristics.HTML.MetaRefresh",
            html_body("<meta http-equiv=\"refresh\" content=\"0; url=https://x.example.net/\">"),
            html_body("<meta http-equiv=\"refresh\" content=\"300\">"),
        ),
        (
            "Heuristics.Phishing.Email.SpoofedDomain",
            html_body("<a href=\"https://login.evil.example.net/\">www.mybank.com</a>"),
            html_body("<a href=\"https://login.mybank.com/\">www.mybank.com</a>"),
        ),
        (
            "Heuristics.Phishing.IPHost",
            html_body("<a href=\"http://10.1.2.3/login\">log in</a>"),
            html_body("<a href=\"http://bank.example.com/login\">log in</a>"),
        ),
        (
            "Heuristics.Phishing.Punycode",
            html_body("<a href=\"https://xn--pypal-4ve.com/\">log in</a>"),
            html_body("<a href=\"https://paypal.com/\">log in</a>"),
        ),
        (
            "Heuristics.Broken.MIME",
            b"Subject: t\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\n\r\nhello\r\n".to_vec(),
            b"Subject: t\r\nContent-Type: text/plain\r\nContent-Type: text/plain\r\n\r\nhello\r\n".to_vec(),
        ),
    ]
}

#[test]
fn every_rule_fires_on_its_case_and_not_on_the_near_miss() {
    let table = table();
    for rule in RULES {
        assert!(
            table.iter().any(|(r, _, _)| *r == rule.name),
            "{} has no test case",
            rule.name
        );
    }
    for (rule, fire, near) in &table {
        assert!(
            RULES.iter().any(|r| r.name == *rule),
            "{rule} is not in RULES"
        );
        assert!(
            fires(rule, fire),
            "{rule} did not fire: {:?}",
            scan(fire).findings()
        );
        assert!(
            !fires(rule, near),
            "{rule} fired on its near miss: {:?}",
            scan(near).findings()
        );
    }
}

#[test]
fn alerting_rules_infect_and_say_why() {
    let v = scan(&named("invoice.pdf.exe", b"x"));
    assert_eq!(v.status(), Status::Infected);
    let d = v
        .detections()
        .iter()
        .find(|d| d.kind() == DetectionKind::Heuristic)
        .unwrap();
    assert_eq!(d.name(), "Heuristics.Executable.DoubleExtension");
    assert_eq!(d.location().as_str(), "message/part[2] \"invoice.pdf.exe\"");
    let f = v.findings().iter().find(|f| f.rule() == d.name()).unwrap();
    assert!(f.reason().contains(".pdf.exe"), "{}", f.reason());
    assert!(f.alerts() && f.points() == 6);
}

#[test]
fn points_add_up_to_suspicious() {
    // A shortcut (6) inside a disk image's name (4) reaches the default threshold of 10; each rule once.
    let msg = named("photos.iso", b"\x4c\x00\x00\x00\x01\x14\x02\x00 lnk");
    let v = scan(&msg);
    assert_eq!(v.score(), 10, "{:?}", v.findings());
    assert_eq!(v.status(), Status::Suspicious);
    assert!(v.detections().is_empty());
    // Raising the threshold, or the Alert mode, leaves it clean; Off drops the findings.
    let e = |h: Heuristics| {
        Engine::builder()
            .heuristics(h)
            .build()
            .unwrap()
            .scan_bytes(&msg)
            .unwrap()
    };
    assert_eq!(
        e(Heuristics::default().threshold(11)).status(),
        Status::Clean
    );
    let alert_only = e(Heuristics::default().mode(HeuristicMode::Alert));
    assert_eq!(
        (alert_only.status(), alert_only.score()),
        (Status::Clean, 0)
    );
    assert!(
        e(Heuristics::default().mode(HeuristicMode::Off))
            .findings()
            .is_empty()
    );
    // Weights are per rule.
    let v = e(Heuristics::default().weight("Heuristics.Shortcut.LNK", 1));
    assert_eq!(v.score(), 5);
}

#[test]
fn alerts_can_be_switched_off() {
    let h = Heuristics::default().alert("Heuristics.Executable.DoubleExtension", false);
    let v = Engine::builder()
        .heuristics(h)
        .build()
        .unwrap()
        .scan_bytes(&named("invoice.pdf.exe", b"x"))
        .unwrap();
    assert!(v.detections().is_empty());
    assert!(has_finding(&v, "Heuristics.Executable.DoubleExtension"));
}

#[test]
fn a_password_in_text_let_go_of_is_still_seen() {
    // The text that gives the password comes first, 200 KB of other parts follow (let go of by a session
    // fed in small chunks), the encrypted archive comes last: the finding needs the mention that is gone.
    let engine = Engine::builder().build().unwrap();
    for (filler, mention) in [
        (0, "The password is 1234."),
        (5000, "PaSsWoRd: 1234"),
        (0, "Here are the files."),
    ] {
        let mut msg = "From: a@example.com\r\nSubject: t\r\nContent-Type: multipart/mixed; boundary=hb\r\n\r\n".to_string();
        msg += &format!(
            "--hb\r\nContent-Type: text/plain\r\n\r\n{}{mention}\r\n",
            "words ".repeat(filler)
        );
        for i in 0..40 {
            msg += &format!(
                "--hb\r\nContent-Type: text/plain\r\n\r\n{}\r\n",
                format!("part {i} ").repeat(700)
            );
        }
        msg += &format!(
            "--hb\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"secret.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--hb--\r\n",
            base64(&encrypted_zip())
        );
        let whole = engine.scan_bytes(msg.as_bytes()).unwrap();
        let gives = has_finding(&whole, "Heuristics.Encrypted.PasswordInMessage");
        assert_eq!(
            gives,
            mention.to_lowercase().contains("password"),
            "{mention}"
        );
        for chunk in [1000, 7000] {
            let mut session = engine.session().with_let_go_step(1);
            for c in msg.as_bytes().chunks(chunk) {
                session.feed(c).unwrap();
            }
            assert!(session.let_go_bytes() > 100_000);
            assert_eq!(session.finish().unwrap(), whole, "{mention} {chunk}");
        }
    }
}

/// Feeds `msg` in 4 KiB chunks: the session holds under the streaming issue's 256 KiB and gives `whole`.
fn streams_within_bound(engine: &Engine, msg: &[u8], whole: &Verdict, what: &str) {
    let mut session = engine.session();
    let mut most = 0;
    for c in msg.chunks(4096) {
        session.feed(c).unwrap();
        most = most.max(session.memory_usage());
    }
    assert!(most < 256 << 10, "{what}: held {most} bytes");
    assert_eq!(session.finish().unwrap(), *whole, "{what}");
}

#[test]
fn a_long_text_body_is_let_go_of_and_its_password_mention_still_counts() {
    // A text body without a name, in base64, is matched as it arrives and let go of; what heuristics ask of
    // it, whether its first MiB gives a password, is looked for on the way. The mention at several places:
    // near the start, across where pieces of 8 KiB meet, deep in, and just past the first MiB.
    let engine = Engine::builder().build().unwrap();
    let zip = base64(&encrypted_zip());
    for (at, gives) in [
        (Some(100), true),
        (Some(8190), true),
        (Some(700_000), true),
        (Some((1 << 20) + 10), false),
        (None, false),
    ] {
        let mut text = "all the words of a long letter\r\n"
            .repeat(1_300_000 / 32)
            .into_bytes();
        if let Some(at) = at {
            text[at..at + 8].copy_from_slice(b"PASSWORD");
        }
        let msg = format!(
            "From: a@example.com\r\nSubject: t\r\nContent-Type: multipart/mixed; boundary=hb\r\n\r\n--hb\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--hb\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"secret.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{zip}--hb--\r\n",
            base64(&text)
        );
        let whole = engine.scan_bytes(msg.as_bytes()).unwrap();
        let found = has_finding(&whole, "Heuristics.Encrypted.PasswordInMessage");
        assert_eq!(found, gives, "{at:?}");
        streams_within_bound(&engine, msg.as_bytes(), &whole, &format!("{at:?}"));
    }
}

#[test]
fn a_long_html_body_is_let_go_of_and_its_links_and_forms_still_count() {
    // HTML is matched as it arrives and let go of; what heuristics read of it (its links, forms, scripts and
    // refreshes, in its first 4 MiB) is found on the way. A spoofed link and a password form far in, a link
    // whose text runs across many pieces, an unclosed link at the end; in base64 and as sent.
    let engine = Engine::builder().build().unwrap();
    let filler = "<p>Our newsletter, with nothing in it to judge.</p>\r\n".repeat(20_000);
    let long_text = "www.mybank.com".to_string() + &" ".repeat(30_000);
    let docs = [
        (
            format!(
                "<html><body>{filler}<a href=\"https://evil.example.net/x\">www.mybank.com</a>{filler}</body></html>"
            ),
            &["Heuristics.Phishing.Email.SpoofedDomain"][..],
        ),
        (
            format!(
                "<html>{filler}<form action=\"https://collect.example/p\">{filler}<input type=\"password\"></form></html>"
            ),
            &["Heuristics.HTML.ExternalForm"][..],
        ),
        (
            format!(
                "<html>{filler}<a href=\"http://10.1.2.3/\">{long_text}</a>{filler}<a href=\"https://x.example/\">"
            ),
            &[
                "Heuristics.Phishing.Email.SpoofedDomain",
                "Heuristics.Phishing.IPHost",
            ][..],
        ),
        (format!("<html>{filler}</html>"), &[][..]),
    ];
    for (doc, rules) in &docs {
        for cte in ["base64", "8bit"] {
            let body = match cte {
                "base64" => base64(doc.as_bytes()),
                _ => doc.clone(),
            };
            let msg = format!(
                "From: a@example.com\r\nSubject: t\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{body}"
            );
            let whole = engine.scan_bytes(msg.as_bytes()).unwrap();
            let fired: Vec<&str> = whole.findings().iter().map(|f| f.rule()).collect();
            assert_eq!(fired, *rules, "{cte}: {whole:?}");
            streams_within_bound(&engine, msg.as_bytes(), &whole, &format!("{rules:?} {cte}"));
        }
    }
}

#[test]
fn a_password_is_read_in_text_bodies_and_the_header_block() {
    // Where a reader is told a password: the subject, or a text body (decoded: a quoted-printable soft
    // line break inside the word hides nothing). Not the bytes of an attachment.
    let zip = base64(&encrypted_zip());
    let attachment = format!(
        "--hb\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"secret.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{zip}--hb--\r\n"
    );
    let table = [
        ("Subject: your password is 1234", "see attached", "", true),
        (
            "Subject: files",
            "the pass=\r\nword is 1234",
            "quoted-printable",
            true,
        ),
        ("Subject: files", "see attached", "", false),
    ];
    let engine = Engine::builder().build().unwrap();
    for (subject, body, cte, gives) in table {
        let msg = format!(
            "From: a@example.com\r\n{subject}\r\nContent-Type: multipart/mixed; boundary=hb\r\n\r\n--hb\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{body}\r\n{attachment}"
        );
        let v = engine.scan_bytes(msg.as_bytes()).unwrap();
        let found = has_finding(&v, "Heuristics.Encrypted.PasswordInMessage");
        assert_eq!(found, gives, "{subject} {body}");
    }
}
