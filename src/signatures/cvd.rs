//! ClamAV's database containers, `.cvd` and `.cld`.
//!
//! A container is a 512-byte text header, `ClamAV-VDB:time:version:sigs:flevel:md5:dsig:builder:stime`
//! padded with spaces, followed by a tar archive (gzipped in a `.cvd`, usually plain in a `.cld`). The
//! loader checks, for a `.cvd`, the MD5 of everything after the header against the header's; for both, the
//! SHA-256 and size of each file against the container's own `.info` manifest when it has one. It does
//! **not** check the digital signature (`dsig`, RSA over the MD5 with ClamAV's key): a container from an
//! untrusted source must be checked with `sigtool --info` before use.

use std::path::Path;

use md5::{Digest, Md5};
use sha2::Sha256;

use super::SignatureSet;
use crate::error::{Error, ErrorKind, Result};
use crate::unpack::tar;

const HEADER_LEN: usize = 512;

fn container_error(path: &Path, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Container, message).with_path(path)
}

/// The fields of a container's header that the loader uses.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) version: String,
    pub(crate) signatures: String,
    pub(crate) md5: String,
}

pub(crate) fn parse_header(path: &Path, bytes: &[u8]) -> Result<Header> {
    let head = bytes
        .get(..HEADER_LEN)
        .ok_or_else(|| container_error(path, "shorter than the 512-byte header"))?;
    let text = std::str::from_utf8(head)
        .map_err(|_| container_error(path, "header is not text"))?
        .trim_end_matches([' ', '\0']);
    let fields: Vec<&str> = text.split(':').collect();
    if fields.first() != Some(&"ClamAV-VDB") || fields.len() < 6 {
        return Err(container_error(
            path,
            "header does not start with 'ClamAV-VDB:'",
        ));
    }
    Ok(Header {
        version: fields[2].to_string(),
        signatures: fields[3].to_string(),
        md5: fields[5].to_ascii_lowercase(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn load(set: &mut SignatureSet, path: &Path, bytes: &[u8]) -> Result<()> {
    let header = parse_header(path, bytes)?;
    let body = &bytes[HEADER_LEN..];
    let is_cvd = super::extension(path) == "cvd";
    let mut verified = Vec::new();
    if is_cvd {
        let actual = hex(&Md5::digest(body));
        if actual != header.md5 {
            return Err(container_error(
                path,
                format!("MD5 {actual} does not match the header's {}", header.md5),
            ));
        }
        verified.push("MD5");
    }
    let owned;
    let tar_bytes: &[u8] = if body.starts_with(&[0x1f, 0x8b]) {
        owned = super::gunzip(path, body)?;
        &owned
    } else {
        body
    };
    let listing = tar::list(tar_bytes);
    if let Some(damage) = listing.damage.first() {
        return Err(container_error(
            path,
            format!("tar archive is damaged: {damage}"),
        ));
    }
    // The container's manifest: `name:size:sha256` a line, in `<base>.info`.
    let manifest: Vec<(String, u64, String)> = listing
        .entries
        .iter()
        .filter(|e| e.name.ends_with(".info"))
        .flat_map(|e| {
            String::from_utf8_lossy(e.data)
                .into_owned()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() == 3 && f[2].len() == 64).then(|| {
                (
                    f[0].to_string(),
                    f[1].parse().unwrap_or(u64::MAX),
                    f[2].to_ascii_lowercase(),
                )
            })
        })
        .collect();
    if !manifest.is_empty() {
        verified.push("SHA-256 of each file");
    }
    for entry in &listing.entries {
        // Only the last path component counts: a hostile name like ../../x never leaves the container.
        let name = entry.name.rsplit(['/', '\\']).next().unwrap_or("");
        if name.is_empty() {
            continue;
        }
        if let Some((_, size, sha)) = manifest.iter().find(|(n, _, _)| n == name) {
            let actual = hex(&Sha256::digest(entry.data));
            if *size != entry.data.len() as u64 || actual != *sha {
                return Err(container_error(
                    path,
                    format!("{name} does not match the container's manifest"),
                ));
            }
        }
        let inner = path.join(name);
        set.load_bytes(&inner, entry.data, false)?;
    }
    set.report.containers.push(format!(
        "{}: version {}, {} signatures declared, verified: {}; digital signature not checked",
        path.display(),
        header.version,
        header.signatures,
        if verified.is_empty() {
            "nothing".to_string()
        } else {
            verified.join(", ")
        }
    ));
    Ok(())
}
