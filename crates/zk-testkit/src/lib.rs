//! Test support for interop tests: starts the real Apache ZooKeeper 3.8 from Debian's `zookeeper`
//! package as a standalone server on a free loopback port, waits until it serves, speaks
//! four-letter words to it, and kills it when dropped. [`ensemble`] runs whole ensembles of real
//! processes, each member ours or Apache's.
//!
//! Dev-only. Invariant: a missing Java or jar is a loud panic saying what to install, never a
//! silently skipped test.

pub mod ensemble;
mod ports;

pub use ensemble::{Ensemble, EnsembleBuilder, Kind, Mode};
pub use ports::free_port;

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Debian's jars of the server and client.
pub const APACHE_JAR: &str = "/usr/share/java/zookeeper.jar";
pub const APACHE_JUTE_JAR: &str = "/usr/share/java/zookeeper-jute.jar";
/// A logger binding so the JVM logs to stderr.
pub const SLF4J_SIMPLE: &str = "/usr/share/java/slf4j-simple.jar";
/// The servlet API Jetty needs: with it on the classpath Apache starts its AdminServer when a
/// test asks for one (`admin.enableServer=true`); Debian's zookeeper package pulls it in.
pub const SERVLET_API: &str = "/usr/share/java/servlet-api.jar";
/// Debian's zkCli.sh.
pub const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

/// The classpath of Apache ZooKeeper 3.8; panics, saying what to install, when Java or the jars
/// are missing.
pub fn java_classpath() -> String {
    static CLASSPATH: OnceLock<String> = OnceLock::new();
    CLASSPATH.get_or_init(check_java_classpath).clone()
}

fn check_java_classpath() -> String {
    let java = Command::new("java").arg("-version").output();
    assert!(
        java.is_ok_and(|o| o.status.success()),
        "java is not installed: interop tests need it; run `cargo xtask test` (or `apt-get install -y zookeeper`)"
    );
    for jar in [APACHE_JAR, APACHE_JUTE_JAR, SLF4J_SIMPLE, SERVLET_API] {
        assert!(
            Path::new(jar).exists(),
            "{jar} is missing: interop tests need Debian's zookeeper package; run `cargo xtask test` (or `apt-get install -y zookeeper`)"
        );
    }
    format!("{APACHE_JAR}:{APACHE_JUTE_JAR}:{SLF4J_SIMPLE}:{SERVLET_API}")
}

/// Sends a four-letter word and returns the whole answer (empty if the connection failed).
pub fn four_letter_word(address: &str, word: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    if stream.write_all(word.as_bytes()).is_err() {
        return String::new();
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// Whether the server at `address` serves requests: `srvr` answers with its status (`ruok`
/// answers before the database is loaded, `srvr` only once requests are served).
pub fn serves(address: &str) -> bool {
    four_letter_word(address, "srvr").starts_with("Zookeeper version")
}

/// Apache's entry points.
const QUORUM_PEER_MAIN: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";
const STANDALONE_MAIN: &str = "org.apache.zookeeper.server.ZooKeeperServerMain";

/// The `zoo.cfg` every launched server gets (the tick, the data directory, the client port on
/// loopback, every four-letter word, no AdminServer), then `extra` lines.
fn zoo_cfg(tick_time_ms: u64, data_dir: &Path, client_port: u16, extra: &[String]) -> String {
    let mut cfg = format!(
        "tickTime={tick_time_ms}\ndataDir={}\nclientPort={client_port}\nclientPortAddress=127.0.0.1\n\
         4lw.commands.whitelist=*\nadmin.enableServer=false\n",
        data_dir.display()
    );
    for line in extra {
        cfg.push_str(line);
        cfg.push('\n');
    }
    cfg
}

/// Creates `data_dir` with the `myid` file of ensemble member `id`.
fn write_myid(data_dir: &Path, id: u64) {
    std::fs::create_dir_all(data_dir).expect("data dir");
    std::fs::write(data_dir.join("myid"), format!("{id}\n")).expect("write myid");
}

/// `java -cp <3.8's jars> -Dzookeeper.preAllocSize=64 <jvm_args> <main_class> <cfg>`.
fn apache_command(main_class: &str, jvm_args: &[String], cfg: &Path) -> Command {
    let mut command = Command::new("java");
    command
        .arg("-cp")
        .arg(java_classpath())
        .arg("-Dzookeeper.preAllocSize=64")
        .args(jvm_args)
        .arg(main_class)
        .arg(cfg);
    command
}

/// Spawns `command` with stdin closed and stdout and stderr appended to `log`.
fn spawn_logged(mut command: Command, log: &Path) -> Child {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
    let err = file.try_clone().expect("clone log file");
    command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", command.get_program()))
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> &str {
    let start = text.rmatch_indices('\n').nth(n).map_or(0, |(i, _)| i + 1);
    &text[start..]
}

/// Options of a standalone Apache server.
#[derive(Debug, Clone, Default)]
pub struct ApacheOptions {
    /// Extra `zoo.cfg` lines, `key=value`.
    pub config: Vec<String>,
    /// Extra JVM system properties, `-Dkey=value`.
    pub jvm_args: Vec<String>,
    /// Serve this data directory instead of a fresh temporary one.
    pub data_dir: Option<PathBuf>,
    /// Run as member `myid` of an ensemble (`config` then holds the `server.N` lines): a `myid`
    /// file is written and start-up waits only for the process to answer, not for a quorum.
    pub myid: Option<u64>,
    /// Use this client port instead of a free one.
    pub client_port: Option<u16>,
}

/// A running standalone Apache ZooKeeper 3.8.
#[derive(Debug)]
pub struct ApacheServer {
    child: Child,
    port: u16,
    data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl ApacheServer {
    /// Starts a fresh server with default settings and every four-letter word enabled.
    pub fn start() -> Self {
        Self::start_with(ApacheOptions::default())
    }

    pub fn start_with(options: ApacheOptions) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = options
            .data_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("data"));
        let port = options.client_port.unwrap_or_else(free_port);
        if let Some(myid) = options.myid {
            write_myid(&data_dir, myid);
        }
        let cfg_path = dir.path().join("zoo.cfg");
        std::fs::write(&cfg_path, zoo_cfg(2000, &data_dir, port, &options.config))
            .expect("write zoo.cfg");
        let main_class = if options.myid.is_some() {
            QUORUM_PEER_MAIN
        } else {
            STANDALONE_MAIN
        };
        let child = spawn_logged(
            apache_command(main_class, &options.jvm_args, &cfg_path),
            &dir.path().join("server.log"),
        );
        let mut server = ApacheServer {
            child,
            port,
            data_dir,
            _dir: dir,
        };
        server.wait_until_ready(options.myid.is_none());
        server
    }

    fn wait_until_ready(&mut self, serving: bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("Apache ZooKeeper exited with {status}:\n{}", self.log());
            }
            let ready = if serving {
                serves(&self.address())
            } else {
                four_letter_word(&self.address(), "ruok") == "imok"
            };
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "Apache ZooKeeper did not start within 60 s:\n{}",
            self.log()
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn four_letter_word(&self, word: &str) -> String {
        four_letter_word(&self.address(), word)
    }
}

impl Drop for ApacheServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts two texts are equal; on a difference, shows both from a few lines before the first
/// differing line, labelled.
pub fn assert_same_text(
    what: &str,
    (left_label, left): (&str, &str),
    (right_label, right): (&str, &str),
) {
    if left == right {
        return;
    }
    let l: Vec<&str> = left.lines().collect();
    let r: Vec<&str> = right.lines().collect();
    let first = l
        .iter()
        .zip(&r)
        .position(|(a, b)| a != b)
        .unwrap_or(l.len().min(r.len()));
    let from = first.saturating_sub(3);
    panic!(
        "{what} differs at line {first}:\n--- {left_label} ---\n{}\n--- {right_label} ---\n{}",
        l[from..].join("\n"),
        r[from..].join("\n")
    );
}
