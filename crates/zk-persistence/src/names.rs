//! File names of the data directories: `log.<hex zxid>`, `snapshot.<hex zxid>[.gz|.snappy]`, and
//! how directories are listed and ordered (by parsed zxid, as `Util.sortDataDir`).

use std::path::{Path, PathBuf};

use zk_jute::Zxid;

use crate::error::{Error, Result};

pub(crate) const LOG_PREFIX: &str = "log";
pub(crate) const SNAPSHOT_PREFIX: &str = "snapshot";
/// The sub-directory of dataDir and dataLogDir that holds the files (`version-2`).
pub const VERSION_DIR: &str = "version-2";

/// `log.<hex>`: lower-case hex without padding, as `Long.toHexString`.
pub(crate) fn log_name(zxid: Zxid) -> String {
    format!("{LOG_PREFIX}.{:x}", zxid.0)
}

/// `snapshot.<hex>` (plain, uncompressed).
pub(crate) fn snapshot_name(zxid: Zxid) -> String {
    format!("{SNAPSHOT_PREFIX}.{:x}", zxid.0)
}

/// The zxid in a file name `<prefix>.<hex>[.<anything>]`, as `Util.getZxidFromName` (which parses a
/// Java long, so `-1` style names parse too and a name like `log.x` does not).
pub(crate) fn zxid_from_name(name: &str, prefix: &str) -> Option<Zxid> {
    let mut parts = name.split('.');
    if parts.next()? != prefix {
        return None;
    }
    let hex = parts.next()?;
    let (negative, digits) = match hex.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, hex.strip_prefix('+').unwrap_or(hex)),
    };
    if digits.is_empty() {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, 16).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok().map(Zxid)
}

/// A `log.*` or `snapshot.*` file and the zxid its name carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamedFile {
    pub(crate) zxid: Zxid,
    pub(crate) path: PathBuf,
}

/// The files of `dir` named `<prefix>.<zxid>`, in ascending zxid order. A missing directory lists as
/// empty, as Java's `listFiles` returning null.
pub(crate) fn list(dir: &Path, prefix: &str) -> Result<Vec<NamedFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", dir)(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::io("list", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(zxid) = zxid_from_name(name, prefix) {
            files.push(NamedFile {
                zxid,
                path: entry.path(),
            });
        }
    }
    // Equal zxids (snapshot.5 and snapshot.5.gz) keep a stable, name-based order.
    files.sort_by(|a, b| a.zxid.cmp(&b.zxid).then_with(|| a.path.cmp(&b.path)));
    Ok(files)
}

/// Whether `dir` holds any file whose name starts with `<prefix>.` (`Util.isLogFileName`, ...).
pub(crate) fn any_with_prefix(dir: &Path, prefix: &str) -> Result<bool> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io("list", dir)(e)),
    };
    let dotted = format!("{prefix}.");
    for entry in entries {
        let entry = entry.map_err(Error::io("list", dir))?;
        if entry.file_name().to_string_lossy().starts_with(&dotted) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// fsyncs a directory so that files created or removed in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("sync directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unpadded_lower_hex() {
        assert_eq!(log_name(Zxid(1)), "log.1");
        assert_eq!(log_name(Zxid(0x1_0000_0001)), "log.100000001");
        assert_eq!(snapshot_name(Zxid(0x1d)), "snapshot.1d");
    }

    #[test]
    fn zxids_parse_from_names_as_java_does() {
        assert_eq!(zxid_from_name("log.1d", "log"), Some(Zxid(0x1d)));
        assert_eq!(zxid_from_name("snapshot.1D", "snapshot"), Some(Zxid(0x1d)));
        assert_eq!(zxid_from_name("snapshot.5.gz", "snapshot"), Some(Zxid(5)));
        assert_eq!(zxid_from_name("snapshot.5", "log"), None);
        assert_eq!(zxid_from_name("log", "log"), None);
        assert_eq!(zxid_from_name("log.xyz", "log"), None);
        assert_eq!(zxid_from_name("logs.1", "log"), None);
    }
}
