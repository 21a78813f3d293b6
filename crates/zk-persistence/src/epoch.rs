//! `currentEpoch` and `acceptedEpoch` in the snap directory: decimal text without a newline,
//! written atomically (`<name>.tmp`, fsync, rename), and the start-up checks of
//! `QuorumPeer.loadDataBase`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tracing::info;
use zk_jute::Zxid;

use crate::error::{Error, Result};
use crate::names;

pub const CURRENT_EPOCH_FILE: &str = "currentEpoch";
pub const ACCEPTED_EPOCH_FILE: &str = "acceptedEpoch";

/// Reads the epoch file `name` of `snap_dir`: `None` if it does not exist. Only the first line
/// counts, as `BufferedReader.readLine` then `Long.parseLong`.
pub fn read_epoch(snap_dir: &Path, name: &str) -> Result<Option<i64>> {
    let path = snap_dir.join(name);
    let text = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read epoch file", &path)(e)),
    };
    let text = String::from_utf8_lossy(&text);
    let line = text.split(['\n', '\r']).next().unwrap_or("");
    line.parse::<i64>().map(Some).map_err(|_| Error::BadEpoch {
        path,
        content: line.to_owned(),
    })
}

/// Writes `value` to the epoch file `name` of `snap_dir` atomically (`AtomicFileWritingIdiom`).
pub fn write_epoch(snap_dir: &Path, name: &str, value: i64) -> Result<()> {
    let path = snap_dir.join(name);
    let tmp = snap_dir.join(format!("{name}.tmp"));
    let written = File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(value.to_string().as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io("write epoch file", &path)(e));
    }
    names::sync_dir(snap_dir)
}

/// The epochs of a quorum peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epochs {
    pub current: i64,
    pub accepted: i64,
}

/// Reads both epochs after the database was loaded up to `last_zxid` (-1 if unknown), creating
/// missing files from the epoch of `last_zxid` and applying 3.8's consistency checks.
pub fn load_epochs(snap_dir: &Path, last_zxid: Zxid) -> Result<Epochs> {
    let epoch_of_zxid = last_zxid.0 >> 32;
    let current = match read_epoch(snap_dir, CURRENT_EPOCH_FILE)? {
        Some(e) => e,
        None => {
            info!(
                epoch = epoch_of_zxid,
                "currentEpoch not found, creating it with a reasonable default; this should only happen when you are upgrading your installation"
            );
            write_epoch(snap_dir, CURRENT_EPOCH_FILE, epoch_of_zxid)?;
            epoch_of_zxid
        }
    };
    let current = if epoch_of_zxid > current {
        let tmp = format!("{CURRENT_EPOCH_FILE}.tmp");
        match read_epoch(snap_dir, &tmp)? {
            Some(e) => {
                info!(
                    epoch = e,
                    "currentEpoch.tmp found, setting the current epoch from it"
                );
                write_epoch(snap_dir, CURRENT_EPOCH_FILE, e)?;
                e
            }
            None => {
                return Err(Error::EpochBehindZxid {
                    path: snap_dir.join(CURRENT_EPOCH_FILE),
                    current_epoch: current as u64,
                    last_zxid,
                });
            }
        }
    } else {
        current
    };
    let accepted = match read_epoch(snap_dir, ACCEPTED_EPOCH_FILE)? {
        Some(e) => e,
        None => {
            info!(
                epoch = epoch_of_zxid,
                "acceptedEpoch not found, creating it with a reasonable default; this should only happen when you are upgrading your installation"
            );
            write_epoch(snap_dir, ACCEPTED_EPOCH_FILE, epoch_of_zxid)?;
            epoch_of_zxid
        }
    };
    if accepted < current {
        return Err(Error::AcceptedBelowCurrent {
            dir: PathBuf::from(snap_dir),
            accepted_epoch: accepted as u64,
            current_epoch: current as u64,
        });
    }
    Ok(Epochs { current, accepted })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_decimal_text_without_newline() {
        let dir = tempfile::tempdir().unwrap();
        write_epoch(dir.path(), CURRENT_EPOCH_FILE, 5).unwrap();
        assert_eq!(fs::read(dir.path().join("currentEpoch")).unwrap(), b"5");
        assert!(!dir.path().join("currentEpoch.tmp").exists());
        assert_eq!(read_epoch(dir.path(), CURRENT_EPOCH_FILE).unwrap(), Some(5));
        fs::write(dir.path().join("acceptedEpoch"), "7\n").unwrap();
        assert_eq!(
            read_epoch(dir.path(), ACCEPTED_EPOCH_FILE).unwrap(),
            Some(7)
        );
        fs::write(dir.path().join("acceptedEpoch"), "seven").unwrap();
        let err = read_epoch(dir.path(), ACCEPTED_EPOCH_FILE).unwrap_err();
        assert!(err.to_string().contains("\"seven\""), "{err}");
    }

    #[test]
    fn missing_epochs_come_from_the_last_zxid() {
        let dir = tempfile::tempdir().unwrap();
        let epochs = load_epochs(dir.path(), Zxid::new(3, 10)).unwrap();
        assert_eq!(
            epochs,
            Epochs {
                current: 3,
                accepted: 3
            }
        );
        assert_eq!(fs::read(dir.path().join("acceptedEpoch")).unwrap(), b"3");
        // Unknown last zxid: -1 >> 32 = -1.
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_epochs(dir.path(), Zxid(-1)).unwrap().current, -1);
    }

    #[test]
    fn inconsistent_epochs_stop_the_start() {
        let dir = tempfile::tempdir().unwrap();
        write_epoch(dir.path(), CURRENT_EPOCH_FILE, 2).unwrap();
        write_epoch(dir.path(), ACCEPTED_EPOCH_FILE, 4).unwrap();
        let err = load_epochs(dir.path(), Zxid::new(3, 1)).unwrap_err();
        assert!(matches!(err, Error::EpochBehindZxid { .. }), "{err}");
        // A currentEpoch.tmp left by a crash during the update explains it.
        fs::write(dir.path().join("currentEpoch.tmp"), "3").unwrap();
        assert_eq!(
            load_epochs(dir.path(), Zxid::new(3, 1)).unwrap(),
            Epochs {
                current: 3,
                accepted: 4
            }
        );
        write_epoch(dir.path(), ACCEPTED_EPOCH_FILE, 1).unwrap();
        let err = load_epochs(dir.path(), Zxid::new(3, 1)).unwrap_err();
        assert!(matches!(err, Error::AcceptedBelowCurrent { .. }), "{err}");
    }
}
