//! Ignore lists: `.ign2` (one signature name a line, optionally `Name:md5`) and the older `.ign`
//! (`database:line:Name`). A name listed here is never reported.

use std::path::Path;

use super::{SignatureSet, lines};
use crate::error::Result;

pub(crate) fn load(set: &mut SignatureSet, path: &Path, bytes: &[u8]) -> Result<()> {
    let legacy = super::extension(path) == "ign";
    let format = if legacy { "ign" } else { "ign2" };
    for line in lines(path, bytes) {
        let (_, text) = line?;
        let fields: Vec<&str> = text.split(':').collect();
        let name = if legacy && fields.len() >= 3 {
            fields[2]
        } else {
            fields[0]
        };
        set.ignored.insert(name.to_string());
        set.report.count(format);
    }
    Ok(())
}
