//! `zk-restore [--zxid ZXID] [--force] [--data-log-dir DIR] BACKUP DATADIR`: restores a data
//! directory from a backup snapshot, the body the AdminServer `snapshot` command streams.

#[path = "shared/progress.rs"]
mod progress;

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use zk_datatree::TreeConfig;
use zk_jute::Zxid;
use zk_persistence::{
    ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE, FileSnap, FileTxnSnapLog, StoreOptions, TreeLoader,
    VERSION_DIR, load_epochs, restore_tree, write_epoch,
};

use progress::{Progress, mib};

const TOOL: &str = "zk-restore";

const HELP: &str = "\
Usage: zk-restore [--zxid ZXID] [--force] [--data-log-dir DIR] BACKUP DATADIR

Restores a ZooKeeper data directory from a backup snapshot: the body the AdminServer `snapshot`
command streams (GET /commands/snapshot?streaming=true, as ZooKeeper 3.9 serves it), which is a
complete snapshot file in the format of version-2/snapshot.<zxid>. BACKUP is that file, or - to
read it from standard input:

  curl -sD headers.txt -o backup.snap 'http://host:8080/commands/snapshot?streaming=true'
  zk-restore --zxid \"$(sed -n 's/^last_zxid: *//ip' headers.txt | tr -d '\\r')\" backup.snap /var/lib/zookeeper

The backup is copied to DATADIR/version-2, verified (both checksums, every node's parent, the
digest section), renamed to snapshot.<zxid>, loaded back as a server would load it, and
acceptedEpoch and currentEpoch are set to the epoch of the zxid (the high 32 bits), so a quorum
member starts from it as well as a standalone server.

The zxid, in this order of preference:
  --zxid ZXID      the last_zxid header of the backup response (0x<hex> or decimal)
  the file name    when BACKUP is named snapshot.<hex>, like the files of a data directory
  the digest       the zxid of the backup's digest section, accepted only when the digest matches
                   the tree, which proves a consistent snapshot at that zxid; a fuzzy snapshot
                   (such as Apache ZooKeeper's, taken while writes go on) needs --zxid

Options:
  --zxid ZXID          the zxid the backup was taken at
  --force              restore into a directory that already holds a database: its snapshots,
                       txn logs and epoch files are moved into version-2.before-restore-<time>
                       next to version-2 (nothing is deleted)
  --data-log-dir DIR   the dataLogDir of zoo.cfg: pass it whenever zoo.cfg sets one, since txn
                       logs left there from the replaced history would be replayed on top of the
                       backup (with --force they are moved aside too)
  -h, --help           this text

DATADIR is the dataDir of zoo.cfg, which holds version-2 (a myid file there is kept). Stop the
server first. In an ensemble, a restored member that starts alone syncs from the current leader
and gives up the restored state; to roll the whole ensemble back, stop every member, restore the
same backup into each (or restore one and empty the others' data directories), then start them.

Exit status: 0 restored and verified, 1 the restore failed (the directory is left as it was,
except for a moved-aside database when the failure came after it), 2 bad invocation.";

fn usage(problem: &str) -> ExitCode {
    eprintln!("{TOOL}: {problem}");
    eprintln!(
        "usage: zk-restore [--zxid ZXID] [--force] [--data-log-dir DIR] BACKUP DATADIR (see --help)"
    );
    ExitCode::from(2)
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{TOOL}: {message}");
    ExitCode::FAILURE
}

#[derive(Debug, Default)]
struct Args {
    zxid: Option<Zxid>,
    force: bool,
    data_log_dir: Option<PathBuf>,
    backup: String,
    data_dir: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Option<Args>, String> {
    let mut parsed = Args::default();
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
            _ => (arg, None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            let v = args
                .get(i)
                .cloned()
                .ok_or_else(|| format!("{name} needs {what}"))?;
            i += 1;
            Ok(v)
        };
        match name {
            "-h" | "--help" => return Ok(None),
            "--force" | "-f" => parsed.force = true,
            "--zxid" | "-z" => {
                let text = value("a zxid")?;
                parsed.zxid = Some(parse_zxid(&text).ok_or_else(|| {
                    format!("{text:?} is not a zxid; give it as 0x<hex> (the last_zxid header) or a decimal number")
                })?);
            }
            "--data-log-dir" => parsed.data_log_dir = Some(PathBuf::from(value("a directory")?)),
            "-" => positional.push(arg.to_owned()),
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}")),
            _ => positional.push(arg.to_owned()),
        }
    }
    match positional.as_slice() {
        [backup, data_dir] => {
            parsed.backup = backup.clone();
            parsed.data_dir = PathBuf::from(data_dir);
            Ok(Some(parsed))
        }
        _ => Err("give the backup file (or -) and the data directory".into()),
    }
}

/// `0x<hex>` or a decimal number, non-negative.
fn parse_zxid(text: &str) -> Option<Zxid> {
    let text = text.trim();
    let value = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => text.parse::<u64>().ok()?,
    };
    i64::try_from(value).ok().map(Zxid)
}

/// The files of a version-2 directory that make up a database.
fn database_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("snapshot.")
            || name.starts_with("log.")
            || name.starts_with(ACCEPTED_EPOCH_FILE)
            || name.starts_with(CURRENT_EPOCH_FILE)
        {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes the temporary copy unless it was renamed into place.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&args) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => return usage(&problem),
    };
    match restore(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(message),
    }
}

fn restore(args: &Args) -> Result<(), String> {
    let data_dir = std::path::absolute(&args.data_dir).unwrap_or_else(|_| args.data_dir.clone());
    let log_dir = args
        .data_log_dir
        .as_ref()
        .map(|d| std::path::absolute(d).unwrap_or_else(|_| d.clone()))
        .unwrap_or_else(|| data_dir.clone());
    let snap_v2 = data_dir.join(VERSION_DIR);
    let log_v2 = log_dir.join(VERSION_DIR);
    let mut existing = database_files(&snap_v2).map_err(|e| {
        format!(
            "cannot list {}: {e}; check its permissions",
            snap_v2.display()
        )
    })?;
    if log_v2 != snap_v2 {
        existing.extend(database_files(&log_v2).map_err(|e| {
            format!(
                "cannot list {}: {e}; check its permissions",
                log_v2.display()
            )
        })?);
    }
    if !existing.is_empty() && !args.force {
        return Err(format!(
            "{} already holds a database ({} files such as {}); restore into an empty directory, or pass --force to move the old files aside",
            data_dir.display(),
            existing.len(),
            existing[0].display()
        ));
    }
    for dir in [&snap_v2, &log_v2] {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create {}: {e}; check that the parent is writable",
                dir.display()
            )
        })?;
    }

    // Copy the backup next to its final place, then verify it there.
    let tmp_path = snap_v2.join(format!(".restore-{}.tmp", std::process::id()));
    let mut tmp = TempFile(Some(tmp_path.clone()));
    let bytes = copy_backup(&args.backup, &tmp_path)?;
    let mut loader = TreeLoader::new(tree_config());
    let summary = FileSnap::read_file(&tmp_path, &mut loader).map_err(|e| {
        format!(
            "the backup is not a valid snapshot: {e}; take a new backup (the copy was {bytes} bytes: check that the download was complete)"
        )
    })?;
    let tree = loader
        .finish()
        .map_err(|e| format!("the backup's tree is unusable: {e}; take a new backup"))?;
    let digest = tree.digest();
    let name_zxid = Path::new(&args.backup)
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("snapshot."))
        .and_then(|hex| i64::from_str_radix(hex.split('.').next().unwrap_or(hex), 16).ok())
        .filter(|z| *z >= 0)
        .map(Zxid);
    let section = summary.digest.filter(|d| d.zxid.0 > 0);
    let zxid = match (args.zxid.or(name_zxid), section) {
        (Some(z), Some(d)) => {
            if d.zxid == z && d.digest != digest {
                eprintln!(
                    "{TOOL}: warning: the digest section (zxid {z}) does not match the tree: a fuzzy snapshot that took in txns after {z}; a server loading it logs one digest mismatch"
                );
            } else if d.zxid < z {
                eprintln!(
                    "{TOOL}: warning: the digest section is at zxid {}, before {z}: check that {z} is the last_zxid of this backup",
                    d.zxid
                );
            }
            z
        }
        (Some(z), None) => z,
        (None, Some(d)) if d.digest == digest => d.zxid,
        (None, Some(d)) => {
            return Err(format!(
                "the backup's digest section (zxid {}) does not match its tree: it is a fuzzy snapshot, whose digest zxid is not the zxid to restore at; pass --zxid with the last_zxid header of the backup response",
                d.zxid
            ));
        }
        (None, None) => {
            return Err(
                "the backup has no digest section to take its zxid from; pass --zxid with the last_zxid header of the backup response".into(),
            );
        }
    };
    let epoch = i64::from(zxid.epoch());

    if !existing.is_empty() {
        move_aside(&existing, &snap_v2, &log_v2)?;
    }
    let target = FileSnap::new(&snap_v2).path_for(zxid);
    File::open(&tmp_path)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp_path, &target))
        .and_then(|()| sync_dir(&snap_v2))
        .map_err(|e| {
            format!(
                "cannot write {}: {e}; check that the disk is not full",
                target.display()
            )
        })?;
    tmp.0 = None;
    for name in [ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE] {
        write_epoch(&snap_v2, name, epoch).map_err(|e| e.to_string())?;
    }

    // Load it back the way a server does.
    let options = StoreOptions {
        autocreate_dirs: false,
        ..StoreOptions::default()
    };
    let mut store = FileTxnSnapLog::open(&data_dir, &log_dir, options)
        .map_err(|e| format!("the restored directory does not open: {e}"))?;
    let restored = restore_tree(&mut store, tree_config())
        .map_err(|e| format!("the restored directory does not load: {e}"))?;
    let loaded = restored.restored.snapshot.as_ref().map(|s| s.path.clone());
    if loaded.as_deref() != Some(target.as_path())
        || restored.restored.zxid != zxid
        || restored.tree.digest() != digest
        || restored.tree.node_count() != tree.node_count()
    {
        return Err(format!(
            "the restored directory loads as zxid {} from {}, not as the backup at {zxid}; remove {} and check the directory for other files",
            restored.restored.zxid,
            loaded.map_or("no snapshot".into(), |p| p.display().to_string()),
            target.display()
        ));
    }
    let epochs = load_epochs(&snap_v2, zxid).map_err(|e| e.to_string())?;
    if epochs.current != epoch || epochs.accepted != epoch {
        return Err(format!(
            "the epoch files read back as accepted {} and current {} instead of {epoch}; check {} for other writers",
            epochs.accepted,
            epochs.current,
            snap_v2.display()
        ));
    }
    println!(
        "restored {} ({} nodes, {} sessions, digest {:#x}) at zxid {zxid}; acceptedEpoch and currentEpoch set to {epoch}",
        target.display(),
        summary.nodes,
        summary.sessions,
        digest as u64
    );
    println!("verified: the data directory loads to the backup's tree; start the server");
    Ok(())
}

fn tree_config() -> TreeConfig {
    TreeConfig {
        extended_types_enabled: true,
        ..TreeConfig::default()
    }
}

/// Copies the backup (a file, or standard input for `-`) to `to`; returns its length.
fn copy_backup(backup: &str, to: &Path) -> Result<u64, String> {
    let (mut input, len): (Box<dyn Read>, u64) = if backup == "-" {
        (Box::new(io::stdin().lock()), 0)
    } else {
        let file = File::open(backup).map_err(|e| {
            format!("cannot open the backup {backup}: {e}; pass the file the snapshot command wrote, or - for standard input")
        })?;
        let len = file.metadata().map_or(0, |m| m.len());
        (Box::new(file), len)
    };
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(|e| {
            format!(
                "cannot create {}: {e}; check that the directory is writable",
                to.display()
            )
        })?;
    let mut progress = Progress::for_file(TOOL, len);
    let mut buf = vec![0u8; 1 << 20];
    let mut copied = 0u64;
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| format!("cannot read the backup: {e}"))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(|e| {
            format!(
                "cannot write {}: {e}; check that the disk is not full",
                to.display()
            )
        })?;
        copied += n as u64;
        progress.seen(copied);
        progress.tick(|| format!("copied {}", mib(copied)));
    }
    if copied == 0 {
        return Err("the backup is empty; the snapshot command failed or streaming was off, take a new backup".into());
    }
    progress.done(&format!("copied {}", mib(copied)));
    Ok(copied)
}

/// Moves the old database files into `version-2.before-restore-<secs>` next to their directory.
fn move_aside(files: &[PathBuf], snap_v2: &Path, log_v2: &Path) -> Result<(), String> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut moved_to = Vec::new();
    let dirs: &[&Path] = if snap_v2 == log_v2 {
        &[snap_v2]
    } else {
        &[snap_v2, log_v2]
    };
    for &dir in dirs {
        let ours: Vec<&PathBuf> = files.iter().filter(|f| f.parent() == Some(dir)).collect();
        if ours.is_empty() {
            continue;
        }
        let aside = dir.with_file_name(format!("{VERSION_DIR}.before-restore-{secs}"));
        std::fs::create_dir_all(&aside).map_err(|e| {
            format!(
                "cannot create {}: {e}; check that the directory is writable",
                aside.display()
            )
        })?;
        for file in &ours {
            let to = aside.join(file.file_name().unwrap_or_default());
            std::fs::rename(file, &to).map_err(|e| {
                format!(
                    "cannot move {} to {}: {e}; move the old database away yourself and run again without --force",
                    file.display(),
                    aside.display()
                )
            })?;
        }
        sync_dir(dir).map_err(|e| format!("cannot sync {}: {e}", dir.display()))?;
        moved_to.push((aside, ours.len()));
    }
    for (aside, n) in moved_to {
        println!(
            "moved {n} files of the old database to {}; delete them once the restored server works",
            aside.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxids_parse_from_the_header_format() {
        assert_eq!(parse_zxid("0x100000005"), Some(Zxid(0x1_0000_0005)));
        assert_eq!(parse_zxid(" 0xd5\r"), Some(Zxid(0xd5)));
        assert_eq!(parse_zxid("213"), Some(Zxid(213)));
        assert_eq!(parse_zxid("-1"), None);
        assert_eq!(parse_zxid("0xzz"), None);
    }

    #[test]
    fn arguments_parse() {
        let a: Vec<String> = ["--zxid=0x5", "--force", "b.snap", "/data"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let parsed = parse_args(&a).unwrap().unwrap();
        assert_eq!(parsed.zxid, Some(Zxid(5)));
        assert!(parsed.force);
        assert_eq!(parsed.backup, "b.snap");
        let a: Vec<String> = ["-", "/data", "--data-log-dir", "/logs"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let parsed = parse_args(&a).unwrap().unwrap();
        assert_eq!(parsed.backup, "-");
        assert_eq!(parsed.data_log_dir, Some(PathBuf::from("/logs")));
        assert!(parse_args(&["x".to_string()]).is_err());
        assert!(parse_args(&["--bogus".to_string()]).is_err());
    }
}
