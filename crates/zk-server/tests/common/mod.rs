//! Shared by the zk-server interop tests: our server as a child process (the binary cargo built),
//! the C client `cli_mt`, and zkCli.sh driven through stdin.

#![allow(dead_code)]

pub(crate) mod ensemble;
pub(crate) mod http;
pub(crate) mod raw;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zk_testkit::{ZKCLI, four_letter_word, free_port};

/// The C client's shell from Debian's `zookeeper-bin`.
pub(crate) const CLI_MT: &str = "/usr/lib/zookeeper/bin/cli_mt";

/// Panics, saying what to install, when cli_mt is missing.
pub(crate) fn require_cli_mt() {
    assert!(
        Path::new(CLI_MT).exists(),
        "{CLI_MT} is missing: this test needs Debian's zookeeper-bin package; run `cargo xtask test` (or `apt-get install -y zookeeper-bin`)"
    );
}

/// Panics, saying what to install, when zkCli.sh or Java is missing.
pub(crate) fn require_zkcli() {
    zk_testkit::java_classpath();
    assert!(
        Path::new(ZKCLI).exists(),
        "{ZKCLI} is missing: this test needs Debian's zookeeper package and Java; run `cargo xtask test` (or `apt-get install -y zookeeper`)"
    );
}

/// Our `zk-server start-foreground` on a free loopback port; killed when dropped.
pub(crate) struct OurServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl OurServer {
    /// Serves `data_dir` (a fresh one when `None`) with the extra `zoo.cfg` lines.
    pub(crate) fn start(data_dir: Option<&Path>, extra: &[&str]) -> OurServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let data: PathBuf = data_dir.map_or_else(|| dir.path().join("data"), Path::to_path_buf);
        std::fs::create_dir_all(&data).expect("data dir");
        let port = free_port();
        let mut cfg = format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=0\n",
            data.display()
        );
        for line in extra {
            cfg.push_str(line);
            cfg.push('\n');
        }
        let cfg_path = dir.path().join("zoo.cfg");
        std::fs::write(&cfg_path, cfg).expect("write zoo.cfg");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_zk-server"))
            .arg("start-foreground")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start zk-server");
        let mut server = OurServer { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("zk-server exited with {status}:\n{}", server.log());
            }
            if four_letter_word(&server.address(), "srvr").starts_with("Zookeeper version") {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "zk-server did not serve within 30 s:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub(crate) fn four_letter_word(&self, word: &str) -> String {
        four_letter_word(&self.address(), word)
    }
}

impl Drop for OurServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a zkCli.sh script through stdin; returns stdout and stderr, JVM noise dropped.
pub(crate) fn zkcli(server: &str, script: &[&str]) -> (String, String) {
    let mut child = Command::new(ZKCLI)
        .args(["-server", server])
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {ZKCLI}: {e}"));
    let text = script.join("\n") + "\n";
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write script");
    let out = child.wait_with_output().expect("wait for zkCli.sh");
    let keep = |s: &[u8]| {
        String::from_utf8_lossy(s)
            .lines()
            .filter(|l| !l.starts_with("SLF4J:"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    (keep(&out.stdout), keep(&out.stderr))
}

/// An interactive cli_mt session. Every command is followed by `sync /`, whose completion
/// (`[/]: rc = 0`, `\tname = /`) comes after the command's own: the C client delivers async
/// completions in reply order, so waiting for it makes the output complete and ordered.
pub(crate) struct CliMt {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    pub(crate) output: Vec<String>,
}

impl CliMt {
    pub(crate) fn connect(server: &str) -> CliMt {
        require_cli_mt();
        let mut child = Command::new(CLI_MT)
            .arg(server)
            .env("TZ", "UTC")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {CLI_MT}: {e}"));
        let stdin = child.stdin.take().expect("stdin");
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut cli = CliMt {
            child,
            stdin,
            lines: rx,
            output: Vec::new(),
        };
        cli.wait_for(|l| l.starts_with("Got a new session id"));
        cli
    }

    fn wait_for(&mut self, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let finished = done(&line);
                    self.output.push(line);
                    if finished {
                        return;
                    }
                }
                Err(_) => panic!(
                    "cli_mt did not answer within 20 s; output so far:\n{}",
                    self.output.join("\n")
                ),
            }
        }
    }

    /// Runs one command and waits until its output is complete.
    pub(crate) fn run(&mut self, command: &str) {
        self.output.push(format!(">>> {command}"));
        writeln!(self.stdin, "{command}\nsync /").expect("write to cli_mt");
        self.wait_for(|l| l == "\tname = /" || l.starts_with("[/]: rc = -"));
    }
}

impl Drop for CliMt {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
