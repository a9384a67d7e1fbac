//! Logical signatures (`.ldb`) end to end: expressions, counts, modifiers, PCRE, target conditions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use portcullis::Engine;
use support::corpusgen::{Method, base64, zip};

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn names(ldb: &str, message: &[u8]) -> Vec<String> {
    let engine = Engine::builder()
        .load_str("t.ldb", ldb)
        .unwrap()
        .build()
        .unwrap();
    let v = engine.scan_bytes(message).unwrap();
    let mut n: Vec<String> = v
        .detections()
        .iter()
        .map(|d| d.name().to_string())
        .collect();
    n.dedup();
    n
}

fn text(body: &str) -> Vec<u8> {
    format!("Subject: t\r\n\r\n{body}\r\n").into_bytes()
}

fn attachment(name: &str, data: &[u8]) -> Vec<u8> {
    format!(
        "Subject: t\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--b--\r\n",
        base64(data)
    )
    .into_bytes()
}

#[test]
fn expressions_and_counts() {
    let ldb = format!(
        "L.And;Target:0;0&1;{};{}\nL.Count;Target:0;0>2;{}\nL.Not;Target:0;0&(1=0);{};{}\n",
        hex("alpha"),
        hex("beta"),
        hex("tick"),
        hex("gamma"),
        hex("delta")
    );
    assert_eq!(names(&ldb, &text("alpha and beta")), ["L.And"]);
    assert!(names(&ldb, &text("alpha only")).is_empty());
    assert_eq!(names(&ldb, &text("tick tick tick")), ["L.Count"]);
    assert!(names(&ldb, &text("tick tick")).is_empty());
    assert_eq!(names(&ldb, &text("gamma")), ["L.Not"]);
    assert!(names(&ldb, &text("gamma delta")).is_empty());
}

#[test]
fn modifiers() {
    let ldb = format!(
        "L.Nocase;Target:0;0;{}::i\nL.Wide;Target:0;0;{}::w\nL.Word;Target:0;0;{}::f\nL.Both;Target:0;0;{}::wa\n",
        hex("shouting"),
        hex("widestr"),
        hex("cat"),
        hex("dual")
    );
    assert_eq!(names(&ldb, &text("SHOUTING here")), ["L.Nocase"]);
    let mut wide = b"Subject: t\r\n\r\n".to_vec();
    wide.extend(b"w\0i\0d\0e\0s\0t\0r\0");
    assert_eq!(names(&ldb, &wide), ["L.Wide"]);
    assert!(names(&ldb, &text("widestr")).is_empty());
    assert_eq!(names(&ldb, &text("a cat sat")), ["L.Word"]);
    assert!(names(&ldb, &text("concatenate")).is_empty());
    assert_eq!(names(&ldb, &text("dual")), ["L.Both"]);
    let mut both = b"Subject: t\r\n\r\n".to_vec();
    both.extend(b"d\0u\0a\0l\0");
    assert_eq!(names(&ldb, &both), ["L.Both"]);
}

#[test]
fn pcre_subsignatures() {
    let ldb = format!(
        "L.Pcre;Target:0;0&1;{};0/inv(oice|o1ce)\\s+#\\d{{4}}/i\n",
        hex("invoice")
    );
    assert_eq!(
        names(&ldb, &text("please pay INVOICE   #1234 today, invoice")),
        ["L.Pcre"]
    );
    assert!(names(&ldb, &text("invoice without a number")).is_empty());
}

#[test]
fn target_conditions() {
    let ldb = format!(
        "L.Html;Target:3;0;{}\nL.Size;Target:0,FileSize:10-20;0;{}\nL.Zip;Target:0,Container:CL_TYPE_ZIP;0;{}\n",
        hex("marker-h"),
        hex("marker-s"),
        hex("marker-z")
    );
    assert!(names(&ldb, &text("marker-h")).is_empty(), "not HTML");
    assert_eq!(
        names(&ldb, &attachment("a.html", b"<html>marker-h</html>")),
        ["L.Html"]
    );
    assert_eq!(
        names(&ldb, &attachment("a.bin", b"12 marker-s")),
        ["L.Size"]
    );
    assert!(
        names(
            &ldb,
            &attachment("a.bin", b"a larger file with marker-s in it")
        )
        .is_empty()
    );
    assert!(
        names(&ldb, &attachment("a.bin", b"marker-z")).is_empty(),
        "not in a zip"
    );
    let z = zip(&[("in.txt", b"marker-z", Method::Deflate)]);
    assert_eq!(names(&ldb, &attachment("a.zip", &z)), ["L.Zip"]);
}
