//! `zk-txnlog-toolkit [-dhrvyc] txn_log_file [-z zxid]`: prints, repairs or chops a txn log as
//! Apache ZooKeeper's `org.apache.zookeeper.server.persistence.TxnLogToolkit` (zkTxnLogToolkit.sh)
//! does, text for text.

#[path = "shared/java.rs"]
#[allow(dead_code)]
mod java;
#[path = "shared/progress.rs"]
mod progress;
#[path = "shared/rawlog.rs"]
#[allow(dead_code)]
mod rawlog;

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use zk_jute::persistence::FileHeader;
use zk_jute::txn::{TxnBody, TxnEntry};
use zk_jute::{Acl, Record};
use zk_persistence::adler32;

use java::Zone;
use progress::{Progress, mib};

const TOOL: &str = "zk-txnlog-toolkit";

const OPTIONS: &str = " -c,--chop         Chop mode. Chop txn file to a zxid.
 -d,--dump         Dump mode. Dump all entries of the log file with printing the content of a nodepath (default)
 -h,--help         Print help message
 -r,--recover      Recovery mode. Re-calculate CRC for broken entries.
 -v,--verbose      Be verbose in recovery mode: print all entries, not just fixed ones.
 -y,--yes          Non-interactive mode: repair all CRC errors without asking
 -z,--zxid <arg>   Used with chop. Zxid to which to chop.";

const ABOUT: &str = "
Prints a txn log file (version-2/log.<zxid>) as Apache ZooKeeper 3.8's TxnLogToolkit
(zkTxnLogToolkit.sh) does: one line per txn with its time, session, cxid, zxid, type and body,
then the count. Times print in the en-US short format in UTC, or in the fixed offset of TZ (such as
TZ=EST5).

-r writes <file>.fixed: every record, with the checksum of a damaged one recomputed once you agree
(or always with -y). It also ends the copy at a torn tail, the partial record a crash leaves at
the end of the newest log, and says how many bytes it left out. Replace the original with the
.fixed file only while the server is stopped, and keep the original.
-c -z <zxid> writes <file>.chopped<zxid> holding the txns up to and including <zxid>.

Differences from Apache's tool: the .fixed file is not preallocated with zeros; a torn or damaged
tail is explained on stderr (stdout stays as Apache prints it); an aborted recovery removes the
partial .fixed file and exits with status 1; a failed chop exits with status 1; files over 64 MiB
report progress on stderr (ZK_PROGRESS_MIN_BYTES sets the threshold).

Exit status: 0 done, 1 the log is unreadable or the operation failed, 2 bad invocation.";

fn help(to_stderr: bool) {
    let text = format!(
        "usage: zk-txnlog-toolkit [-dhrvc] <txn_log_file_name> (-z <zxid>)\n{OPTIONS}\n{ABOUT}"
    );
    if to_stderr {
        eprintln!("{text}");
    } else {
        println!("{text}");
    }
}

#[derive(Debug, Default)]
struct Args {
    help: bool,
    recover: bool,
    verbose: bool,
    yes: bool,
    chop: bool,
    zxid: Option<String>,
    files: Vec<String>,
}

/// commons-cli's DefaultParser over the toolkit's options: bundled short flags (`-rv`), long
/// names (`--recover`), `-z value`, `-zvalue`, `--zxid value`, `--zxid=value`.
fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args::default();
    let mut i = 0;
    let mut only_files = false;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if only_files || arg == "-" || !arg.starts_with('-') {
            parsed.files.push(arg.clone());
            continue;
        }
        if arg == "--" {
            only_files = true;
            continue;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            match name {
                "chop" => parsed.chop = true,
                "dump" => {}
                "help" => parsed.help = true,
                "recover" => parsed.recover = true,
                "verbose" => parsed.verbose = true,
                "yes" => parsed.yes = true,
                "zxid" => {
                    let value = match value {
                        Some(v) => v,
                        None if i < args.len() => {
                            i += 1;
                            args[i - 1].clone()
                        }
                        None => return Err("Missing argument for option: z".into()),
                    };
                    parsed.zxid = Some(value);
                }
                _ => return Err(format!("Unrecognized option: {arg}")),
            }
            continue;
        }
        let flags = &arg[1..];
        for (at, flag) in flags.char_indices() {
            match flag {
                'c' => parsed.chop = true,
                'd' => {}
                'h' => parsed.help = true,
                'r' => parsed.recover = true,
                'v' => parsed.verbose = true,
                'y' => parsed.yes = true,
                'z' => {
                    let rest = &flags[at + 1..];
                    let value = if !rest.is_empty() {
                        rest.to_owned()
                    } else if i < args.len() {
                        i += 1;
                        args[i - 1].clone()
                    } else {
                        return Err("Missing argument for option: z".into());
                    };
                    parsed.zxid = Some(value);
                    break;
                }
                _ => return Err(format!("Unrecognized option: {arg}")),
            }
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&args) {
        Ok(a) => a,
        Err(message) => {
            eprintln!("{message}\n");
            help(true);
            return ExitCode::from(2);
        }
    };
    if args.help {
        help(false);
        return ExitCode::SUCCESS;
    }
    let Some(file) = args.files.first() else {
        help(true);
        return ExitCode::from(2);
    };
    let path = PathBuf::from(file);
    if !path.is_file() || File::open(&path).is_err() {
        eprintln!(
            "{TOOL}: file doesn't exist or is not readable: {}; pass the path of a log.<zxid> file",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    let result = match (&args.zxid, args.chop) {
        (Some(zxid), true) => match java_long_decode(zxid) {
            Some(zxid) => chop(&path, zxid),
            None => {
                eprintln!("{TOOL}: {zxid:?} is not a zxid; give it as 0x<hex> or a decimal number");
                return ExitCode::from(2);
            }
        },
        _ => dump(&path, &args),
    };
    match result {
        Ok(code) => code,
        Err(Failure::Quiet) => ExitCode::FAILURE,
        Err(Failure::Message(message)) => {
            let _ = io::stdout().flush();
            eprintln!("{TOOL}: {message}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    /// Already reported, or the output was closed.
    Quiet,
    Message(String),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::Quiet
        } else {
            Failure::Message(format!("cannot write the output: {e}"))
        }
    }
}

/// `Long.decode`: decimal, `0x`/`0X`/`#` hex, `0` octal, with an optional sign.
fn java_long_decode(text: &str) -> Option<i64> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(hex) = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))
        .or_else(|| rest.strip_prefix('#'))
    {
        (16, hex)
    } else if rest.len() > 1 && rest.starts_with('0') {
        (8, &rest[1..])
    } else {
        (10, rest)
    };
    if digits.is_empty() || digits.starts_with(['-', '+']) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// A txn log read record by record the way TxnLogToolkit reads it.
struct LogReader {
    input: BufReader<File>,
    pos: u64,
    len: u64,
    path: PathBuf,
    progress: Progress,
}

/// The next record, or where and why reading stopped.
enum Next {
    Record {
        offset: u64,
        crc: i64,
        payload: Vec<u8>,
    },
    /// A zero length: preallocated space, the end of the log.
    End { offset: u64 },
    /// The file ends inside a record, or its length cannot be right.
    Partial { offset: u64, why: &'static str },
}

impl LogReader {
    fn open(path: &Path) -> Result<(LogReader, FileHeader), Failure> {
        let file = File::open(path).map_err(|e| {
            Failure::Message(format!(
                "cannot open {}: {e}; check the path and its permissions",
                path.display()
            ))
        })?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut reader = LogReader {
            input: BufReader::with_capacity(1 << 20, file),
            pos: 0,
            len,
            path: path.to_path_buf(),
            progress: Progress::for_file(TOOL, len),
        };
        let mut header = [0u8; 16];
        if !reader.read_full(&mut header)? {
            return Err(Failure::Message(format!(
                "{} is {len} bytes, shorter than the 16-byte header of a txn log; it is not a txn log or was cut short, remove it from the data directory",
                path.display()
            )));
        }
        let header = FileHeader::from_bytes(&header).expect("16 bytes hold a file header");
        Ok((reader, header))
    }

    fn read_full(&mut self, buf: &mut [u8]) -> Result<bool, Failure> {
        match self.input.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(Failure::Message(format!(
                "cannot read {}: {e}; check the disk",
                self.path.display()
            ))),
        }
    }

    /// `readLong("crcvalue")`, `readBuffer("txnEntry")`.
    fn next(&mut self) -> Result<Next, Failure> {
        let offset = self.pos;
        let (pos, len) = (self.pos, self.len);
        self.progress.tick(|| {
            format!(
                "read {} of {} ({}%)",
                mib(pos),
                mib(len),
                pos * 100 / len.max(1)
            )
        });
        let mut head = [0u8; 12];
        if !self.read_full(&mut head)? {
            return Ok(Next::Partial {
                offset,
                why: "the file ends inside a record header",
            });
        }
        let crc = i64::from_be_bytes(head[..8].try_into().expect("8 bytes"));
        let length = i32::from_be_bytes(head[8..].try_into().expect("4 bytes"));
        if length == 0 {
            return Ok(Next::End { offset });
        }
        if length < 0 {
            return Ok(Next::Partial {
                offset,
                why: "a record has a negative length",
            });
        }
        if offset + 12 + length as u64 > self.len {
            return Ok(Next::Partial {
                offset,
                why: "the file ends inside a record",
            });
        }
        let mut payload = vec![0u8; length as usize];
        if !self.read_full(&mut payload)? {
            return Ok(Next::Partial {
                offset,
                why: "the file ends inside a record",
            });
        }
        Ok(Next::Record {
            offset,
            crc,
            payload,
        })
    }

    /// `readByte("EOR")`: `None` at the end of the file.
    fn end_of_record(&mut self) -> Result<Option<u8>, Failure> {
        let mut b = [0u8; 1];
        Ok(self.read_full(&mut b)?.then_some(b[0]))
    }

    /// Whether any byte from `from` to the end of the file is not zero, and where the last one
    /// ends.
    fn nonzero_end(&self, from: u64) -> Result<Option<u64>, Failure> {
        let mut file = File::open(&self.path)
            .map_err(|e| Failure::Message(format!("cannot read {}: {e}", self.path.display())))?;
        io::Seek::seek(&mut file, io::SeekFrom::Start(from))
            .map_err(|e| Failure::Message(format!("cannot read {}: {e}", self.path.display())))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let (mut at, mut last) = (from, None);
        loop {
            let chunk = reader.fill_buf().map_err(|e| {
                Failure::Message(format!("cannot read {}: {e}", self.path.display()))
            })?;
            if chunk.is_empty() {
                return Ok(last);
            }
            if let Some(i) = chunk.iter().rposition(|&b| b != 0) {
                last = Some(at + i as u64 + 1);
            }
            let n = chunk.len();
            at += n as u64;
            reader.consume(n);
        }
    }

    /// The first offset after `from` where a valid record starts (whether valid data follows a
    /// damaged spot).
    fn next_valid_record(&self, from: u64) -> Result<Option<u64>, Failure> {
        let data = std::fs::read(&self.path)
            .map_err(|e| Failure::Message(format!("cannot read {}: {e}", self.path.display())))?;
        Ok(rawlog::next_valid_record(&data, from as usize).map(|p| p as u64))
    }
}

/// What follows the point where reading stopped, when it is not only zeros.
struct Tail {
    message: String,
    /// A valid record follows: the txns after the damage cannot be read (not a torn write).
    damaged: bool,
}

/// Explains the bytes from a stop at `offset` on; `None` when only zeros follow.
fn describe_tail(reader: &LogReader, offset: u64, why: &str) -> Result<Option<Tail>, Failure> {
    let Some(end) = reader.nonzero_end(offset)? else {
        return Ok(None);
    };
    let bytes = end - offset;
    Ok(Some(match reader.next_valid_record(offset)? {
        None => Tail {
            message: format!(
                "{} ends with a torn write at offset {offset}: {why}, {bytes} bytes that are not a complete record (a write cut short by a crash, never acknowledged); a server cuts them off when it starts, and -r writes a copy without them",
                reader.path.display()
            ),
            damaged: false,
        },
        Some(next) => Tail {
            message: format!(
                "{} is damaged at offset {offset}: {why}, yet a valid record follows at offset {next}; the txns after the damage cannot be read: restore this server's data directory from another server or a backup",
                reader.path.display()
            ),
            damaged: true,
        },
    }))
}

fn dump(path: &Path, args: &Args) -> Result<ExitCode, Failure> {
    let recovery_path = PathBuf::from(format!("{}.fixed", path.display()));
    if args.recover && recovery_path.exists() {
        return Err(Failure::Message(format!(
            "recovery file {} already exists; move it away or delete it, then run again",
            recovery_path.display()
        )));
    }
    let (mut reader, header) = LogReader::open(path)?;
    if header.magic != FileHeader::TXN_LOG_MAGIC {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        eprintln!(
            "{TOOL}: invalid magic number for {name}: {:#010x} instead of {:#010x} (\"ZKLG\"); this is not a txn log",
            header.magic,
            FileHeader::TXN_LOG_MAGIC
        );
        return Ok(ExitCode::from(2));
    }
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    writeln!(
        out,
        "ZooKeeper Transactional Log File with dbid {} txnlog format version {}",
        header.dbid, header.version
    )?;
    let mut recovery = if args.recover {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&recovery_path)
            .map_err(|e| {
                Failure::Message(format!(
                    "cannot create recovery file {}: {e}; check that its directory is writable",
                    recovery_path.display()
                ))
            })?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        w.write_all(&header.to_bytes())
            .map_err(|e| write_failure(&recovery_path, e))?;
        Some(w)
    } else {
        None
    };
    let zone = Zone::from_env();
    let stdin = io::stdin();
    let mut answers = stdin.lock();
    let (mut count, mut fixed, mut unreadable) = (0u64, 0u64, 0u64);
    let notice;
    loop {
        let (offset, mut crc, payload) = match reader.next()? {
            Next::Record {
                offset,
                crc,
                payload,
            } => (offset, crc, payload),
            Next::End { offset } => {
                writeln!(out, "EOF reached after {count} txns.")?;
                notice = describe_tail(&reader, offset, "a zero length ends the log")?;
                break;
            }
            Next::Partial { offset, why } => {
                writeln!(out, "EOF reached after {count} txns.")?;
                notice = describe_tail(&reader, offset, why)?;
                break;
            }
        };
        let eor = reader.end_of_record()?;
        if args.recover && eor != Some(b'B') {
            // A partial record is not offered for a CRC repair (Apache's tool would "fix" it,
            // then stop at the missing end-of-record byte): the copy ends before it.
            let why = match eor {
                None => "the file ends before the end-of-record byte",
                Some(_) => "a record is not followed by its end-of-record byte",
            };
            writeln!(out, "EOF reached after {count} txns.")?;
            notice = describe_tail(&reader, offset, why)?;
            break;
        }
        let computed = i64::from(adler32(&payload));
        if crc != computed {
            if args.recover {
                if args.yes {
                    crc = computed;
                    print_txn(
                        &mut out,
                        &payload,
                        offset,
                        "CRC FIXED",
                        &zone,
                        &mut unreadable,
                    )?;
                    fixed += 1;
                } else {
                    print_txn(
                        &mut out,
                        &payload,
                        offset,
                        "CRC ERROR",
                        &zone,
                        &mut unreadable,
                    )?;
                    match ask_for_fix(&mut out, &mut answers)? {
                        Some(true) => {
                            crc = computed;
                            fixed += 1;
                        }
                        Some(false) => {}
                        None => {
                            out.flush()?;
                            drop(recovery);
                            let _ = std::fs::remove_file(&recovery_path);
                            eprintln!(
                                "{TOOL}: recovery aborted; {} was removed, run again (with -y to fix every CRC error without asking)",
                                recovery_path.display()
                            );
                            return Ok(ExitCode::FAILURE);
                        }
                    }
                }
            } else {
                print_txn(
                    &mut out,
                    &payload,
                    offset,
                    "CRC ERROR",
                    &zone,
                    &mut unreadable,
                )?;
            }
        }
        if !args.recover || args.verbose {
            print_txn(&mut out, &payload, offset, "", &zone, &mut unreadable)?;
        }
        match eor {
            Some(b'B') => {}
            Some(_) => {
                let why = "a record is not followed by its end-of-record byte";
                notice = describe_tail(&reader, offset, why)?;
                out.flush()?;
                eprintln!("Last transaction was partial.");
                if let Some(tail) = notice {
                    eprintln!("{TOOL}: {}", tail.message);
                }
                return Ok(ExitCode::FAILURE);
            }
            None => {
                writeln!(out, "EOF reached after {count} txns.")?;
                notice = describe_tail(
                    &reader,
                    offset,
                    "the file ends before the end-of-record byte",
                )?;
                break;
            }
        }
        if let Some(w) = recovery.as_mut() {
            w.write_all(&crc.to_be_bytes())
                .and_then(|()| w.write_all(&(payload.len() as i32).to_be_bytes()))
                .and_then(|()| w.write_all(&payload))
                .and_then(|()| w.write_all(b"B"))
                .map_err(|e| write_failure(&recovery_path, e))?;
        }
        count += 1;
    }
    reader.progress.done(&format!("read {count} txns"));
    let damaged = notice.as_ref().is_some_and(|t| t.damaged);
    if recovery.is_some() {
        finish_recovery(
            &mut out,
            recovery,
            &recovery_path,
            fixed,
            notice.map(|t| t.message).as_deref(),
        )?;
    } else {
        out.flush()?;
        if let Some(notice) = notice {
            eprintln!("{TOOL}: {}", notice.message);
        }
    }
    if damaged {
        return Ok(ExitCode::FAILURE);
    }
    if unreadable > 0 {
        eprintln!(
            "{TOOL}: {unreadable} record(s) of {} hold no txn this tool can decode (see the lines above); the file was written by an incompatible server or is damaged",
            path.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn write_failure(path: &Path, e: io::Error) -> Failure {
    Failure::Message(format!(
        "cannot write {}: {e}; check that the disk is not full",
        path.display()
    ))
}

/// Syncs the .fixed file and prints `printStat`'s line, with what the copy leaves out.
fn finish_recovery(
    out: &mut impl Write,
    recovery: Option<BufWriter<File>>,
    path: &Path,
    fixed: u64,
    tail: Option<&str>,
) -> Result<(), Failure> {
    if let Some(w) = recovery {
        let file = w
            .into_inner()
            .map_err(|e| write_failure(path, e.into_error()))?;
        file.sync_all().map_err(|e| write_failure(path, e))?;
    }
    writeln!(
        out,
        "Recovery file {} has been written with {fixed} fixed CRC error(s)",
        path.display()
    )?;
    out.flush()?;
    if let Some(tail) = tail {
        eprintln!(
            "{TOOL}: {tail}; {} holds the records before it",
            path.display()
        );
    }
    Ok(())
}

/// `askForFix`: `Some(true)` yes, `Some(false)` no, `None` abort (or no more input).
fn ask_for_fix(out: &mut impl Write, input: &mut impl BufRead) -> Result<Option<bool>, Failure> {
    let mut words: Vec<String> = Vec::new();
    loop {
        write!(out, "Would you like to fix it (Yes/No/Abort) ? ")?;
        out.flush()?;
        while words.is_empty() {
            let mut line = String::new();
            match input.read_line(&mut line) {
                Ok(0) | Err(_) => return Ok(None),
                Ok(_) => words = line.split_whitespace().rev().map(str::to_owned).collect(),
            }
        }
        let word = words.pop().unwrap_or_default();
        match word.chars().next().map(|c| c.to_ascii_uppercase()) {
            Some('Y') => return Ok(Some(true)),
            Some('N') => return Ok(Some(false)),
            Some('A') => return Ok(None),
            _ => {}
        }
    }
}

/// `printTxn(bytes, prefix)`.
fn print_txn(
    out: &mut impl Write,
    payload: &[u8],
    offset: u64,
    prefix: &str,
    zone: &Zone,
    unreadable: &mut u64,
) -> io::Result<()> {
    if !prefix.trim().is_empty() {
        write!(out, "{prefix} - ")?;
    }
    match format_txn(payload, zone) {
        Ok(line) if line.ends_with('\n') => out.write_all(line.as_bytes()),
        Ok(line) => writeln!(out, "{line}"),
        Err(reason) => {
            *unreadable += 1;
            writeln!(out, "unreadable txn at offset {offset}: {reason}")
        }
    }
}

/// The txn line: `time session 0x.. cxid 0x.. zxid 0x.. type body`.
fn format_txn(payload: &[u8], zone: &Zone) -> Result<String, String> {
    let entry = TxnEntry::read(&mut &payload[..]).map_err(|e| e.to_string())?;
    let h = &entry.header;
    Ok(format!(
        "{} session 0x{:x} cxid 0x{:x} zxid 0x{:x} {} {}",
        java::short_long_date(h.time, zone),
        h.client_id.0,
        i64::from(h.cxid),
        h.zxid.0,
        op_name(h.r#type),
        format_body(&entry.body)
    ))
}

/// `Request.op2String` of 3.8.0.
fn op_name(op: i32) -> String {
    match op {
        0 => "notification",
        1 => "create",
        2 => "delete",
        3 => "exists",
        4 => "getData",
        5 => "setData",
        6 => "getACL",
        7 => "setACL",
        8 => "getChildren",
        9 => "sync",
        11 => "ping",
        12 => "getChildren2",
        13 => "check",
        14 => "multi",
        15 => "create2",
        16 => "reconfig",
        17 => "checkWatches",
        18 => "removeWatches",
        19 => "createContainer",
        20 => "deleteContainer",
        21 => "createTtl",
        22 => "multiRead",
        100 => "auth",
        101 => "setWatches",
        105 => "setWatches2",
        102 => "sasl",
        103 => "getEphemerals",
        104 => "getAllChildrenNumber",
        -10 => "createSession",
        -11 => "closeSession",
        -1 => "error",
        107 => "whoAmI",
        other => return format!("unknown {other}"),
    }
    .to_owned()
}

/// `checkNullToEmpty`: the data as UTF-8 text.
fn text(data: Option<&[u8]>) -> String {
    data.map(|d| java::utf8_lossy(d).into_owned())
        .unwrap_or_default()
}

/// `TxnLogToolkit.getFormattedTxnStr` of 3.8.0.
fn format_body(body: &TxnBody) -> String {
    match body {
        TxnBody::Create(t) => format!(
            "{},{},{},{},{}",
            t.path,
            text(t.data.as_deref()),
            acl_list(&t.acl),
            t.ephemeral,
            t.parent_c_version
        ),
        TxnBody::SetData(t) => format!("{},{},{}", t.path, text(t.data.as_deref()), t.version),
        TxnBody::CreateContainer(t) => format!(
            "{},{},{},{}",
            t.path,
            text(t.data.as_deref()),
            acl_list(&t.acl),
            t.parent_c_version
        ),
        TxnBody::CreateTtl(t) => format!(
            "{},{},{},{},{}",
            t.path,
            text(t.data.as_deref()),
            acl_list(&t.acl),
            t.parent_c_version,
            t.ttl
        ),
        TxnBody::Multi(m) => m
            .txns
            .iter()
            .map(|t| format!("{}:{}", op_name(t.r#type), text(Some(&t.data))))
            .collect::<Vec<_>>()
            .join(";"),
        // Everything else prints as jute's `toString()` (ToStringOutputArchive).
        TxnBody::CreateSession(t) => format!("{}\n", t.time_out),
        TxnBody::CloseSession(None) => String::new(),
        TxnBody::CloseSession(Some(t)) => format!(
            "v{{{}}}\n",
            t.paths2_delete
                .iter()
                .map(|p| csv_string(p))
                .collect::<Vec<_>>()
                .join(",")
        ),
        TxnBody::Delete(t) => format!("{}\n", csv_string(&t.path)),
        TxnBody::SetAcl(t) => format!(
            "{},v{{{}}},{}\n",
            csv_string(&t.path),
            t.acl
                .iter()
                .map(|a| format!("s{{{}}}", acl_fields(a)))
                .collect::<Vec<_>>()
                .join(","),
            t.version
        ),
        TxnBody::Check(t) => format!("{},{}\n", csv_string(&t.path), t.version),
        TxnBody::Error(t) => format!("{}\n", t.err),
    }
}

/// `perms,s{'scheme,'id}`: the fields of an ACL record.
fn acl_fields(a: &Acl) -> String {
    format!(
        "{},s{{{},{}}}",
        a.perms,
        csv_string(&a.id.scheme),
        csv_string(&a.id.id)
    )
}

/// `List<ACL>.toString()`: each `ACL.toString()` (its fields and a newline), comma-separated.
fn acl_list(acls: &[Acl]) -> String {
    let items: Vec<String> = acls
        .iter()
        .map(|a| format!("{}\n", acl_fields(a)))
        .collect();
    format!("[{}]", items.join(", "))
}

/// `ToStringOutputArchive.escapeString`.
fn csv_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\0' => out.push_str("%00"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            ',' => out.push_str("%2C"),
            '}' => out.push_str("%7D"),
            '%' => out.push_str("%25"),
            _ => out.push(c),
        }
    }
    out
}

/// `LogChopper.chop`: copies the records up to and including `zxid` to `<file>.chopped<zxid>`.
fn chop(path: &Path, zxid: i64) -> Result<ExitCode, Failure> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let target = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!("{name}.chopped{zxid}"));
    let (mut reader, header) = LogReader::open(path)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut chopped = header.to_bytes().to_vec();
    let (mut count, mut has_zxid, mut previous) = (0u64, false, -1i64);
    // TxnLogToolkit.chop prints what went wrong as "Got exception: <message>" on stdout.
    let failed_to_chop = format!("Failed to chop {name}");
    let failed =
        |out: &mut io::StdoutLock<'_>, exception: &str, why: String| -> Result<ExitCode, Failure> {
            writeln!(out, "Got exception: {exception}")?;
            out.flush()?;
            eprintln!("{TOOL}: failed to chop {name}: {why}");
            Ok(ExitCode::FAILURE)
        };
    if header.magic != FileHeader::TXN_LOG_MAGIC {
        eprintln!("Invalid magic number in txn log file");
        return failed(&mut out, &failed_to_chop, "it is not a txn log".into());
    }
    writeln!(
        out,
        "ZooKeeper Transactional Log File with dbid {} txnlog format version {}",
        header.dbid, header.version
    )?;
    loop {
        let (crc, payload) = match reader.next()? {
            Next::Record { crc, payload, .. } => (crc, payload),
            Next::End { .. } | Next::Partial { .. } => {
                writeln!(out, "EOF reached after {count} txns.")?;
                return failed(
                    &mut out,
                    &failed_to_chop,
                    format!(
                        "the log ends before a txn after 0x{zxid:x}, so there is nothing to chop off"
                    ),
                );
            }
        };
        let computed = i64::from(adler32(&payload));
        if crc != computed {
            let exception = format!("CRC doesn't match {crc} vs {computed}");
            return failed(
                &mut out,
                &exception,
                "a record fails its checksum; repair the file with -r first".into(),
            );
        }
        let entry = match TxnEntry::read(&mut &payload[..]) {
            Ok(e) => e,
            Err(e) => {
                let why = format!("undecodable txn: {e}");
                return failed(&mut out, &e.to_string(), why);
            }
        };
        if reader.end_of_record()? != Some(b'B') {
            writeln!(out, "Last transaction was partial.")?;
            return failed(
                &mut out,
                "Last transaction was partial.",
                "the last transaction was partial".into(),
            );
        }
        let txn_zxid = entry.header.zxid.0;
        if txn_zxid == zxid {
            has_zxid = true;
        }
        if previous != -1 && txn_zxid != previous + 1 {
            let (epoch, counter) = (txn_zxid >> 32, txn_zxid & 0xffff_ffff);
            if epoch == previous >> 32 {
                writeln!(
                    out,
                    "There is intra-epoch gap between {previous:x} and {txn_zxid:x}"
                )?;
            } else if counter != 1 {
                writeln!(
                    out,
                    "There is inter-epoch gap between {previous:x} and {txn_zxid:x}"
                )?;
            }
        }
        previous = txn_zxid;
        if txn_zxid > zxid {
            if count == 0 || !has_zxid {
                writeln!(out, "This log does not contain zxid {zxid:x}")?;
                return failed(
                    &mut out,
                    &failed_to_chop,
                    format!("it holds no txn 0x{zxid:x}"),
                );
            }
            std::fs::write(&target, &chopped).map_err(|e| write_failure(&target, e))?;
            writeln!(out, "Chopping at {zxid:x} new log has {count} records")?;
            return Ok(ExitCode::SUCCESS);
        }
        chopped.extend_from_slice(&crc.to_be_bytes());
        chopped.extend_from_slice(&(payload.len() as i32).to_be_bytes());
        chopped.extend_from_slice(&payload);
        chopped.push(b'B');
        count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_parse_as_commons_cli() {
        let a = args(&["-rv", "log.1"]).unwrap();
        assert!(a.recover && a.verbose && !a.yes);
        assert_eq!(a.files, ["log.1"]);
        let a = args(&["--recover", "--yes", "log.1", "extra"]).unwrap();
        assert!(a.recover && a.yes);
        assert_eq!(a.files[0], "log.1");
        let a = args(&["-c", "-z", "0x5", "log.1"]).unwrap();
        assert!(a.chop);
        assert_eq!(a.zxid.as_deref(), Some("0x5"));
        assert_eq!(args(&["-z0x7", "f"]).unwrap().zxid.as_deref(), Some("0x7"));
        assert_eq!(
            args(&["--zxid=12", "f"]).unwrap().zxid.as_deref(),
            Some("12")
        );
        assert_eq!(args(&["-x", "f"]).unwrap_err(), "Unrecognized option: -x");
        assert!(args(&["-z"]).is_err());
    }

    #[test]
    fn zxids_decode_as_java_long_decode() {
        assert_eq!(java_long_decode("0x1f"), Some(31));
        assert_eq!(java_long_decode("#1F"), Some(31));
        assert_eq!(java_long_decode("017"), Some(15));
        assert_eq!(java_long_decode("42"), Some(42));
        assert_eq!(java_long_decode("-0x10"), Some(-16));
        assert_eq!(java_long_decode("0"), Some(0));
        assert_eq!(java_long_decode("x"), None);
        assert_eq!(java_long_decode(""), None);
    }

    #[test]
    fn jute_strings_escape_as_to_string_output_archive() {
        assert_eq!(csv_string("/a,b}%\n"), "'/a%2Cb%7D%25%0A");
        let acl = Acl {
            perms: 31,
            id: zk_jute::Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        };
        assert_eq!(
            acl_list(&[acl.clone(), acl]),
            "[31,s{'world,'anyone}\n, 31,s{'world,'anyone}\n]"
        );
        assert_eq!(acl_list(&[]), "[]");
    }

    #[test]
    fn answers_are_read_word_by_word() {
        let mut out = Vec::new();
        let mut input = io::Cursor::new("maybe yes\nno\n");
        assert_eq!(ask_for_fix(&mut out, &mut input).ok().flatten(), Some(true));
        assert_eq!(
            ask_for_fix(&mut out, &mut input).ok().flatten(),
            Some(false)
        );
        assert_eq!(ask_for_fix(&mut out, &mut input).ok().flatten(), None);
        let prompts = String::from_utf8(out).unwrap();
        assert_eq!(prompts.matches("(Yes/No/Abort) ? ").count(), 4);
    }
}
