//! `zk-server`: the standalone ZooKeeper server, with zkServer.sh's verbs.
//!
//! ```text
//! zk-server start-foreground [zoo.cfg]   serve in the foreground (logs to stderr)
//! zk-server start [zoo.cfg]              serve in the background, pid in dataDir/zookeeper_server.pid
//! zk-server stop [zoo.cfg]               stop the background server (SIGTERM)
//! zk-server status [zoo.cfg]             ask the server its mode (srvr)
//! zk-server restart [zoo.cfg]            stop, then start
//! ```
//! Without a zoo.cfg the server keeps its data in `./zk-data` and listens on port 2181.
//! Logs go to stderr in a human format; `--log-format json` (or `ZK_LOG_FORMAT=json`) writes one
//! JSON object per line instead. `ZK_LOG` filters them (`info` by default, e.g. `zk_server=debug`).
//! `-Dkey=value` words in `SERVER_JVMFLAGS` or `JVMFLAGS` are read as zkServer.sh passes them
//! to Java (`zookeeper.<key>`, `jute.maxbuffer`, `readonlymode.enabled`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tracing::{info, warn};
use zk_server::{Server, ServerConfig};

const USAGE: &str = "usage: zk-server {start-foreground|start|stop|status|restart} [--log-format human|json] [zoo.cfg]";

fn load_config(path: Option<&Path>) -> anyhow::Result<ServerConfig> {
    let mut cfg = match path {
        Some(p) => ServerConfig::load(p)?,
        None => ServerConfig::default_standalone(),
    };
    for var in ["JVMFLAGS", "SERVER_JVMFLAGS"] {
        if let Ok(flags) = std::env::var(var) {
            for word in flags.split_whitespace() {
                if let Some((k, v)) = word.strip_prefix("-D").and_then(|d| d.split_once('=')) {
                    cfg.apply_system_property(k, v)?;
                }
            }
        }
    }
    cfg.read_myid()?;
    Ok(cfg)
}

/// `--log-format json` was given.
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn json_logs() -> bool {
    JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed)
        || std::env::var("ZK_LOG_FORMAT").is_ok_and(|f| f == "json")
}

fn pid_file(cfg: &ServerConfig) -> PathBuf {
    cfg.data_dir.join("zookeeper_server.pid")
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // The log format travels in the environment, so `start` hands it to the server it spawns.
    if let Some(i) = args.iter().position(|a| a == "--log-format") {
        let format = args.get(i + 1).cloned().unwrap_or_default();
        if format != "json" && format != "human" {
            eprintln!("error: --log-format takes human or json, not '{format}'\n{USAGE}");
            return ExitCode::from(2);
        }
        args.drain(i..i + 2);
        JSON_LOGS.store(format == "json", std::sync::atomic::Ordering::Relaxed);
    }
    let verb = args.first().map(String::as_str);
    let cfg_path = args.get(1).map(PathBuf::from);
    let result = match verb {
        Some("start-foreground") => foreground(cfg_path.as_deref()),
        Some("start") => start(cfg_path.as_deref()),
        Some("stop") => stop(cfg_path.as_deref()),
        Some("status") => status(cfg_path.as_deref()),
        Some("restart") => stop(cfg_path.as_deref()).and_then(|_| start(cfg_path.as_deref())),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn foreground(cfg_path: Option<&Path>) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    if json_logs() {
        logs.json().flatten_event(true).init();
    } else {
        logs.init();
    }
    let cfg = load_config(cfg_path)?;
    match &cfg.config_path {
        Some(p) => info!(config = %p.display(), "reading configuration"),
        None => info!("no zoo.cfg given: dataDir=./zk-data, clientPort=2181"),
    }
    for key in &cfg.unknown_keys {
        warn!("unknown key '{key}' in zoo.cfg is ignored: check its spelling");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        let mut server = Server::start(cfg).await?;
        info!(addr = %server.client_addr(), "serving clients");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => info!("SIGINT: shutting down"),
            _ = server.wait() => bail!("the server stopped: see the log above"),
        }
        server.shutdown().await;
        Ok(())
    })
}

fn start(cfg_path: Option<&Path>) -> anyhow::Result<()> {
    let cfg = load_config(cfg_path)?;
    let pid_path = pid_file(&cfg);
    if let Some(pid) = read_pid(&pid_path)
        && alive(pid)
    {
        bail!("already running as process {pid}: run 'zk-server stop' first");
    }
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create dataDir {}", cfg.data_dir.display()))?;
    let log_path = cfg.data_dir.join("zookeeper.out");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("start-foreground");
    if json_logs() {
        cmd.args(["--log-format", "json"]);
    }
    if let Some(p) = cfg_path {
        cmd.arg(p);
    }
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot start the server process")?;
    std::fs::write(&pid_path, child.id().to_string())?;
    // Wait until it answers on its port, or died.
    let port = cfg.client_port.unwrap_or(2181);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if srvr(port).is_ok() {
            println!("STARTED");
            return Ok(());
        }
        if !alive(child.id()) {
            bail!("the server exited: see {}", log_path.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "the server did not answer within 30 s: see {}",
        log_path.display()
    )
}

fn stop(cfg_path: Option<&Path>) -> anyhow::Result<()> {
    let cfg = load_config(cfg_path)?;
    let pid_path = pid_file(&cfg);
    let Some(pid) = read_pid(&pid_path) else {
        println!(
            "no zookeeper to stop (could not find file {})",
            pid_path.display()
        );
        return Ok(());
    };
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(&pid_path);
    println!("STOPPED");
    Ok(())
}

fn status(cfg_path: Option<&Path>) -> anyhow::Result<()> {
    let cfg = load_config(cfg_path)?;
    let port = cfg.client_port.unwrap_or(2181);
    let text = srvr(port).with_context(|| {
        format!("cannot reach the server on port {port}: it is probably not running")
    })?;
    match text.lines().find_map(|l| l.strip_prefix("Mode: ")) {
        Some(mode) => {
            println!("Client port found: {port}. Client address: localhost. Client SSL: false.");
            println!("Mode: {mode}");
            Ok(())
        }
        None => bail!("unexpected answer to srvr: {text}"),
    }
}

fn srvr(port: u16) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"srvr")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn alive(pid: u32) -> bool {
    // A zombie child of ours still has a /proc entry; look at its state.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
