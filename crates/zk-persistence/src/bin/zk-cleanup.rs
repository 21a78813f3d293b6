//! `zk-cleanup dataLogDir [snapDir] -n count`: removes old snapshots and txn logs, keeping the
//! `count` newest snapshots (at least 3) and the logs needed to replay them, as Apache ZooKeeper's
//! `PurgeTxnLog` (zkCleanup.sh) does. Run it only on a directory no server is writing to, or on
//! one whose server does not purge by itself.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::UNIX_EPOCH;

const USAGE: &str = "Usage:
zk-cleanup dataLogDir [snapDir] -n count
\tdataLogDir -- path to the txn log directory
\tsnapDir -- path to the snapshot directory
\tcount -- the number of old snaps/logs you want to keep, value should be greater than or equal to 3";

fn usage(problem: &str) -> ExitCode {
    if !problem.is_empty() {
        eprintln!("{problem}");
    }
    println!("{USAGE}");
    ExitCode::from(2)
}

/// `yyyy-mm-dd hh:mm:ss` UTC of a file's modification time.
fn modified(path: &Path) -> String {
    let Some(secs) = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
    else {
        return "?".into();
    };
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (log_dir, snap_dir, flag, count) = match args.as_slice() {
        [log, flag, count] => (log, log, flag, count),
        [log, snap, flag, count] => (log, snap, flag, count),
        _ => return usage(""),
    };
    if flag != "-n" {
        return usage("");
    }
    for dir in [log_dir, snap_dir] {
        if !Path::new(dir).exists() {
            let shown = std::path::absolute(dir).unwrap_or_else(|_| PathBuf::from(dir));
            return usage(&format!("Path '{}' does not exist. ", shown.display()));
        }
    }
    let count: usize = match count.parse() {
        Ok(n) if n >= zk_persistence::MIN_SNAP_RETAIN_COUNT => n,
        Ok(_) => return usage("count should be greater than or equal to 3"),
        Err(_) => return usage(&format!("'{count}' can not be parsed to integer.")),
    };
    // Modification times must be read before the files go.
    let log_v2 = Path::new(log_dir).join(zk_persistence::VERSION_DIR);
    let snap_v2 = Path::new(snap_dir).join(zk_persistence::VERSION_DIR);
    let mut times = std::collections::HashMap::new();
    for dir in [&log_v2, &snap_v2] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                times.insert(e.path(), modified(&e.path()));
            }
        }
    }
    match zk_persistence::purge(Path::new(log_dir), Path::new(snap_dir), count) {
        Ok(removed) => {
            for path in removed {
                let when = times.get(&path).cloned().unwrap_or_default();
                println!("Removing file: {when}\t{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zk-cleanup: {e}");
            ExitCode::FAILURE
        }
    }
}
