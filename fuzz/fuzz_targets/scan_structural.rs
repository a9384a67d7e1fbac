//! Whole-message scanning of input remapped onto MIME's structural tokens, so that the fuzzer
//! reaches deep MIME states (nested multiparts, boundaries, encodings) instead of spending itself on text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static ENGINE: OnceLock<portcullis::Engine> = OnceLock::new();

const TOKENS: &[&[u8]] = &[
    b"-", b"--", b"\r\n", b"\n", b":", b"=", b";", b"\"", b" ", b"\t", b"a", b"b", b"x",
    b"Content-Type: ", b"multipart/mixed", b"message/rfc822", b"boundary=", b"Content-Transfer-Encoding: ",
    b"base64", b"quoted-printable", b"x-uuencode", b"Content-Disposition: attachment", b"filename=",
    b"filename*0*=", b"name=", b"=?utf-8?b?", b"?=", b"begin 644 f\r\n", b"end\r\n", b"PK\x03\x04",
    b"WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNU", b"=3D", b"=\r\n", b"\r\n\r\n",
];

fuzz_target!(|data: &[u8]| {
    let engine = ENGINE.get_or_init(|| {
        portcullis::Engine::builder()
            .limits(portcullis::Limits::default().max_scan_size(16 << 20).max_file_size(8 << 20))
            .build()
            .unwrap()
    });
    let mut message = Vec::with_capacity(data.len() * 4);
    for &b in data {
        message.extend_from_slice(TOKENS[b as usize % TOKENS.len()]);
    }
    let _ = engine.scan_bytes(&message);
});
