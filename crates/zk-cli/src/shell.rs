//! The shell: zkCli's `ZooKeeperMain` and its `CliCommand`s, run against a `zk_client::Client`,
//! writing stdout and stderr text to the writers it is given (so it runs without a terminal).

use std::collections::BTreeMap;
use std::future::poll_fn;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use zk_client::{
    Acl, AddWatchMode, Client, CreateMode, Error, EventStream, EventType, Id, OneshotWatcher,
    Perms, SessionState, WatchedEvent, WatcherType,
};

use crate::parse::{Group, Invocation, Opt, Parsed, flag, parse_opts, split_words, valued};
use crate::stat::{Zone, format_stat};

/// Every command name with its option text, sorted as zkCli's usage lists them.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "addWatch",
        "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE",
    ),
    ("addauth", "scheme auth"),
    ("close", ""),
    ("config", "[-c] [-w] [-s]"),
    ("connect", "host:port"),
    ("create", "[-s] [-e] [-c] [-t ttl] path [data] [acl]"),
    ("delete", "[-v version] path"),
    ("deleteall", "path [-b batch size]"),
    ("delquota", "[-n|-b|-N|-B] path"),
    ("get", "[-s] [-w] path"),
    ("getAcl", "[-s] path"),
    ("getAllChildrenNumber", "path"),
    ("getEphemerals", "path"),
    ("history", ""),
    ("listquota", "path"),
    ("ls", "[-s] [-w] [-R] path"),
    ("printwatches", "on|off"),
    ("quit", ""),
    (
        "reconfig",
        "[-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]",
    ),
    ("redo", "cmdno"),
    ("removewatches", "path [-c|-d|-a] [-l]"),
    ("set", "[-s] [-v version] path data"),
    ("setAcl", "[-s] [-v version] [-R] path acl"),
    ("setquota", "-n|-b|-N|-B val path"),
    ("stat", "[-w] path"),
    ("sync", "path"),
    ("version", ""),
    ("whoami", ""),
];

/// The version line of `version`, as Debian's ZooKeeper 3.8.0 prints it.
pub const VERSION: &str = "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC";

const QUOTA_ROOT: &str = "/zookeeper/quota";
const LIMIT_NODE: &str = "zookeeper_limits";
const STAT_NODE: &str = "zookeeper_stats";
const MAX_TTL_MS: i64 = 0xFF_FFFF_FFFF;

/// The zkCli usage text (to stderr for an unknown command).
pub fn usage() -> String {
    let mut s = String::from(
        "ZooKeeper -server host:port -client-configuration properties-file cmd args\n",
    );
    for (cmd, opts) in COMMANDS {
        s.push_str(&format!("\t{cmd} {opts}\n"));
    }
    s
}

fn usage_of(cmd: &str) -> String {
    let opts = COMMANDS.iter().find(|(c, _)| *c == cmd).map_or("", |c| c.1);
    format!("{cmd} {opts}")
}

/// The text zkCli prints for a watch event (`MyWatcher`): blank line, `WATCHER::`, blank line,
/// the event.
pub fn format_event(e: &WatchedEvent) -> String {
    format!(
        "\nWATCHER::\n\nWatchedEvent state:{:?} type:{:?} path:{}\n",
        e.state,
        e.event_type,
        e.path.as_deref().unwrap_or("null")
    )
}

/// A failed command: the message for stderr and the exit code (`CliException`).
#[derive(Debug)]
struct CliError {
    message: String,
    exit_code: i32,
}

impl CliError {
    fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            exit_code: 1,
        }
    }
}

type CliResult<T = ()> = Result<T, CliError>;

/// `CliWrapperException`'s text for a client error about `path`.
pub fn error_text(e: &Error, path: Option<&str>) -> String {
    let p = path.unwrap_or("null");
    match e {
        Error::NoNode => format!("Node does not exist: {p}"),
        Error::NoChildrenForEphemerals => format!("Ephemerals cannot have children: {p}"),
        Error::NodeExists => format!("Node already exists: {p}"),
        Error::NotEmpty => format!("Node not empty: {p}"),
        Error::NotReadOnly => format!("Not a read-only call: {p}"),
        Error::InvalidAcl => format!("Acl is not valid : {p}"),
        Error::NoAuth => format!("Insufficient permission : {p}"),
        Error::BadArguments => format!("Arguments are not valid : {p}"),
        Error::BadVersion => format!("version No is not valid : {p}"),
        Error::QuotaExceeded => format!("Quota has exceeded : {p}"),
        Error::ReconfigInProgress => {
            "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
                .into()
        }
        Error::NewConfigNoQuorum => "No quorum of new config is connected and up-to-date with the leader of last commmitted config - try invoking reconfiguration after new servers are connected and synced".into(),
        Error::InvalidArgument(m) => path
            .and_then(|p| java_path_error(p, false))
            .unwrap_or_else(|| m.clone()),
        Error::Multi { source, .. } => error_text(source, path),
        other => keeper_message(other, path),
    }
}

/// `KeeperException.getMessage()`: `KeeperErrorCode = <text>[ for <path>]`.
fn keeper_message(e: &Error, path: Option<&str>) -> String {
    let base = match e {
        Error::Closed => Error::SessionExpired.to_string(),
        Error::Unknown(_) | Error::Protocol(_) => Error::MarshallingError.to_string(),
        other => other.to_string(),
    };
    match path {
        Some(p) if !p.is_empty() => format!("{base} for {p}"),
        _ => base,
    }
}

fn wrap(e: Error, path: &str) -> CliError {
    CliError::new(error_text(&e, Some(path)))
}

/// The watches whose events the shell prints: session events, one-shot watches, persistent ones.
#[derive(Debug, Default)]
struct Watches {
    pending: Vec<WatchedEvent>,
    sessions: Vec<EventStream>,
    oneshots: Vec<OneshotWatcher>,
    streams: Vec<EventStream>,
}

impl Watches {
    /// The next event that is ready. Node watches' copies of session events are skipped: Java
    /// delivers those once, to the one default watcher.
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<WatchedEvent> {
        if !self.pending.is_empty() {
            return Poll::Ready(self.pending.remove(0));
        }
        let mut i = 0;
        while i < self.sessions.len() {
            match Pin::new(&mut self.sessions[i]).poll_next(cx) {
                Poll::Ready(Some(e)) => return Poll::Ready(e),
                Poll::Ready(None) => {
                    self.sessions.remove(i);
                }
                Poll::Pending => i += 1,
            }
        }
        let mut i = 0;
        while i < self.oneshots.len() {
            match Pin::new(&mut self.oneshots[i]).poll(cx) {
                Poll::Ready(e) => {
                    drop(self.oneshots.remove(i));
                    if e.event_type != EventType::None {
                        return Poll::Ready(e);
                    }
                }
                Poll::Pending => i += 1,
            }
        }
        let mut i = 0;
        while i < self.streams.len() {
            match Pin::new(&mut self.streams[i]).poll_next(cx) {
                Poll::Ready(Some(e)) if e.event_type != EventType::None => {
                    return Poll::Ready(e);
                }
                Poll::Ready(Some(_)) => {}
                Poll::Ready(None) => {
                    self.streams.remove(i);
                }
                Poll::Pending => i += 1,
            }
        }
        Poll::Pending
    }

    fn try_event(&mut self) -> Option<WatchedEvent> {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        match self.poll_event(&mut cx) {
            Poll::Ready(e) => Some(e),
            Poll::Pending => None,
        }
    }
}

use std::future::Future as _;

/// Where a command writes: zkCli's `System.out` and `System.err`.
#[derive(Debug)]
pub struct Io<'a, O: Write, E: Write> {
    pub out: &'a mut O,
    pub err: &'a mut E,
}

/// zkCli's session: the client, the command history and counter, and the printwatches switch.
#[derive(Debug)]
pub struct Shell {
    invocation: Invocation,
    client: Option<Client>,
    host: String,
    history: BTreeMap<i64, String>,
    command_count: i64,
    print_watches: bool,
    exit_code: i32,
    quit: bool,
    zone: Zone,
    watches: Watches,
    /// Show progress of bulk work (deleteall, ls -R) on stderr.
    pub progress: bool,
}

impl Shell {
    /// A shell with the invocation's options (not connected yet: see [`Shell::connect`]).
    pub fn new(invocation: Invocation) -> Shell {
        Shell {
            host: invocation.server.clone(),
            invocation,
            client: None,
            history: BTreeMap::new(),
            command_count: 0,
            print_watches: true,
            exit_code: 0,
            quit: false,
            zone: Zone::from_tz(std::env::var("TZ").ok().as_deref()),
            watches: Watches::default(),
            progress: false,
        }
    }

    /// The zone stat times are printed in (default from `TZ`).
    pub fn set_zone(&mut self, zone: Zone) {
        self.zone = zone;
    }

    /// The client of the current session.
    pub fn client(&self) -> Option<Client> {
        self.client.clone()
    }

    /// The exit code of the last command (`0`, `1`, or `127` for an unknown command).
    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }

    /// Whether `quit` was run.
    pub fn quit_requested(&self) -> bool {
        self.quit
    }

    /// The prompt, `[zk: host:port(CONNECTED) 3] `.
    pub fn prompt(&self) -> String {
        let state = match self.client.as_ref().map(Client::state) {
            Some(SessionState::Connecting) => "CONNECTING",
            Some(SessionState::Connected) => "CONNECTED",
            Some(SessionState::ConnectedReadOnly) => "CONNECTEDREADONLY",
            Some(SessionState::AuthFailed) => "AUTH_FAILED",
            Some(SessionState::Expired | SessionState::Closed) => "CLOSED",
            None => "NOT_CONNECTED",
        };
        format!("[zk: {}({}) {}] ", self.host, state, self.command_count)
    }

    /// Starts a session with `host` (closing the current one), as `connectToZK`.
    pub async fn connect(&mut self, host: &str) -> Result<(), String> {
        if let Some(c) = self.client.take()
            && c.state().is_alive()
        {
            c.close().await;
        }
        self.host = host.to_owned();
        let client = Client::builder(host)
            .session_timeout(Duration::from_millis(self.invocation.timeout_ms))
            .can_be_read_only(self.invocation.read_only)
            .start()
            .map_err(|e| error_text(&e, None))?;
        let events = client.session_events();
        self.watches.sessions.push(events);
        if client.state().is_connected() {
            // Connected before we listened: the event went out before we did.
            self.watches.pending.push(WatchedEvent {
                event_type: EventType::None,
                state: zk_client::KeeperState::SyncConnected,
                path: None,
            });
        }
        self.client = Some(client.clone());
        if self.invocation.wait_for_connection {
            let limit = Duration::from_millis(self.invocation.timeout_ms);
            let waited = tokio::time::timeout(
                limit,
                client.wait_for_state(|s| *s != SessionState::Connecting),
            )
            .await;
            if !matches!(waited, Ok(s) if s.is_connected()) {
                client.close().await;
                return Err(keeper_message(&Error::ConnectionLoss, None));
            }
        }
        Ok(())
    }

    /// The next watch or session event, waiting for it (forever when there are no watches).
    pub async fn next_event(&mut self) -> WatchedEvent {
        poll_fn(|cx| self.watches.poll_event(cx)).await
    }

    /// Writes an event as zkCli's watcher does (nothing when printwatches is off).
    pub fn print_event<W: Write>(&self, e: &WatchedEvent, out: &mut W) {
        if self.print_watches {
            let _ = out.write_all(format_event(e).as_bytes());
            let _ = out.flush();
        }
    }

    /// Prints the events that are already in.
    pub fn drain_events<W: Write>(&mut self, out: &mut W) {
        while let Some(e) = self.watches.try_event() {
            self.print_event(&e, out);
        }
    }

    /// Runs one line typed at the prompt (`executeLine`): blank lines are skipped; others go to
    /// the history and bump the command counter.
    pub async fn execute_line<O: Write, E: Write>(&mut self, line: &str, io: &mut Io<'_, O, E>) {
        if line.is_empty() {
            return;
        }
        let words = split_words(line);
        if words.is_empty() {
            return;
        }
        self.history.insert(self.command_count, line.to_owned());
        self.process(words, io).await;
        self.command_count += 1;
        self.drain_events(io.out);
    }

    /// Runs one command given as words (`processCmd`), setting the exit code.
    pub async fn process<O: Write, E: Write>(&mut self, words: Vec<String>, io: &mut Io<'_, O, E>) {
        match Box::pin(self.process_zk(words, io)).await {
            Ok(()) => {
                if !self.quit {
                    self.exit_code = 0;
                }
            }
            Err(e) => {
                self.exit_code = e.exit_code;
                let _ = writeln!(io.err, "{}", e.message);
            }
        }
        let _ = io.out.flush();
        let _ = io.err.flush();
    }

    async fn process_zk<O: Write, E: Write>(
        &mut self,
        words: Vec<String>,
        io: &mut Io<'_, O, E>,
    ) -> CliResult {
        let Some(cmd) = words.first().cloned() else {
            let _ = write!(io.err, "{}", usage());
            return Err(CliError::new("No command entered"));
        };
        if !COMMANDS.iter().any(|(c, _)| *c == cmd) {
            let _ = write!(io.err, "{}", usage());
            return Err(CliError {
                message: format!("Command not found: Command not found {cmd}"),
                exit_code: 127,
            });
        }
        match cmd.as_str() {
            "quit" => {
                if let Some(c) = &self.client {
                    c.close().await;
                }
                self.quit = true;
                return Ok(());
            }
            "redo" if words.len() >= 2 => {
                let i = decode_int(&words[1])
                    .ok_or_else(|| CliError::new(format!("For input string: \"{}\"", words[1])))?;
                if self.command_count <= i || i < 0 {
                    return Err(CliError::new("Command index out of range"));
                }
                let line = self.history.get(&i).cloned().unwrap_or_default();
                let again = split_words(&line);
                if again.first().map(String::as_str) == Some("redo") {
                    return Err(CliError::new("No redoing redos"));
                }
                self.history.insert(self.command_count, line);
                Box::pin(self.process(again, io)).await;
            }
            "history" => {
                for i in (self.command_count - 10).max(0)..=self.command_count {
                    let line = self.history.get(&i).map_or("null", String::as_str);
                    let _ = writeln!(io.out, "{i} - {line}");
                }
            }
            "printwatches" => {
                if words.len() == 1 {
                    let on = if self.print_watches { "on" } else { "off" };
                    let _ = writeln!(io.out, "printwatches is {on}");
                } else {
                    self.print_watches = words[1] == "on";
                }
            }
            "connect" => {
                let host = words.get(1).cloned().unwrap_or_else(|| self.host.clone());
                self.connect(&host).await.map_err(CliError::new)?;
            }
            _ => {}
        }
        let client = match &self.client {
            Some(c) if c.state().is_alive() => c.clone(),
            _ => {
                let _ = writeln!(io.out, "Not connected");
                return Ok(());
            }
        };
        if matches!(
            cmd.as_str(),
            "quit" | "redo" | "history" | "printwatches" | "connect"
        ) {
            return Ok(());
        }
        // Requests wait for the connection anyway; waiting here first prints the connection
        // event before the command's output, as zkCli shows it.
        if client.state() == SessionState::Connecting {
            let limit = Duration::from_millis(self.invocation.timeout_ms);
            let _ = tokio::time::timeout(
                limit,
                client.wait_for_state(|s| *s != SessionState::Connecting),
            )
            .await;
            self.drain_events(io.out);
        }
        self.run_command(&cmd, words, &client, io).await
    }

    async fn run_command<O: Write, E: Write>(
        &mut self,
        cmd: &str,
        mut words: Vec<String>,
        zk: &Client,
        io: &mut Io<'_, O, E>,
    ) -> CliResult {
        let usage_err = || CliError::new(usage_of(cmd));
        match cmd {
            "ls" => {
                let opts = [flag('?'), flag('s'), flag('w'), flag('R')];
                let mut p = parse(&words, &opts)?;
                if p.args.len() > 2 {
                    words[2] = "-w".into();
                    let _ = writeln!(
                        io.err,
                        "'ls path [watch]' has been deprecated. Please use 'ls [-w] path' instead."
                    );
                    p = parse(&words, &opts)?;
                }
                if p.args.len() < 2 {
                    return Err(usage_err());
                }
                let path = p.args[1].clone();
                let watch = p.has('w');
                if p.has('R') {
                    self.visit_dfs(zk, &path, watch, io, |_: &mut (), p, out| {
                        let _ = writeln!(out, "{p}");
                    })
                    .await?;
                } else {
                    let (mut children, stat) = match (watch, p.has('s')) {
                        (false, false) => (zk.get_children(&path).await, None),
                        (false, true) => match zk.get_children2(&path).await {
                            Ok((c, s)) => (Ok(c), Some(s)),
                            Err(e) => (Err(e), None),
                        },
                        (true, false) => match zk.get_children_watch(&path).await {
                            Ok((c, w)) => {
                                self.watches.oneshots.push(w);
                                (Ok(c), None)
                            }
                            Err(e) => (Err(e), None),
                        },
                        (true, true) => match zk.get_children2_watch(&path).await {
                            Ok((c, s, w)) => {
                                self.watches.oneshots.push(w);
                                (Ok(c), Some(s))
                            }
                            Err(e) => (Err(e), None),
                        },
                    };
                    let children = children.as_mut().map_err(|e| wrap(e.clone(), &path))?;
                    children.sort();
                    let _ = writeln!(io.out, "[{}]", children.join(", "));
                    if let Some(stat) = stat {
                        let _ = write!(io.out, "{}", format_stat(&stat, &self.zone));
                    }
                }
            }
            "get" => {
                let opts = [flag('s'), flag('w')];
                let mut p = parse(&words, &opts)?;
                if p.args.len() < 2 {
                    return Err(usage_err());
                }
                if p.args.len() > 2 {
                    words[2] = "-w".into();
                    let _ = writeln!(
                        io.err,
                        "'get path [watch]' has been deprecated. Please use 'get [-s] [-w] path' instead."
                    );
                    p = parse(&words, &opts)?;
                }
                let path = &p.args[1];
                let (data, stat, watcher) = zk
                    .get_data_nullable(path, p.has('w'))
                    .await
                    .map_err(|e| wrap(e, path))?;
                self.watches.oneshots.extend(watcher);
                let text = data.map_or_else(
                    || "null".to_owned(),
                    |d| String::from_utf8_lossy(&d).into_owned(),
                );
                let _ = writeln!(io.out, "{text}");
                if p.has('s') {
                    let _ = write!(io.out, "{}", format_stat(&stat, &self.zone));
                }
            }
            "create" => self.create(&words, zk, io).await?,
            "delete" => {
                let opts = [valued('v')];
                let mut p = parse(&words, &opts)?;
                if p.args.len() < 2 {
                    return Err(usage_err());
                }
                if p.args.len() > 2 {
                    let _ = writeln!(
                        io.err,
                        "'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead."
                    );
                    p = parse(&words, &opts)?;
                }
                let path = &p.args[1];
                let version = opt_int(&p, 'v')?;
                zk.delete(path, version).await.map_err(|e| wrap(e, path))?;
            }
            "deleteall" => {
                let p = parse(&words, &[valued('b')])?;
                if p.args.len() < 2 {
                    return Err(usage_err());
                }
                let batch = match p.value('b') {
                    Some(v) => v
                        .parse::<i32>()
                        .map_err(|_| CliError::new("-b argument must be an int value"))?,
                    None => 1000,
                };
                let path = p.args[1].clone();
                if !self
                    .delete_recursive(zk, &path, batch.max(1) as usize, io)
                    .await?
                {
                    let _ = writeln!(io.err, "Failed to delete some node(s) in the subtree!");
                }
            }
            "set" => {
                let p = parse(&words, &[flag('s'), valued('v')])?;
                if p.args.len() < 3 {
                    return Err(usage_err());
                }
                let path = &p.args[1];
                let version = opt_int(&p, 'v')?;
                let stat = zk
                    .set_data(path, p.args[2].as_bytes(), version)
                    .await
                    .map_err(|e| wrap(e, path))?;
                if p.has('s') {
                    let _ = write!(io.out, "{}", format_stat(&stat, &self.zone));
                }
            }
            "stat" => {
                let opts = [flag('w')];
                let mut p = parse(&words, &opts)?;
                if p.args.len() < 2 {
                    return Err(usage_err());
                }
                if p.args.len() > 2 {
                    words[2] = "-w".into();
                    let _ = writeln!(
                        io.err,
                        "'stat path [watch]' has been deprecated. Please use 'stat [-w] path' instead."
                    );
                    p = parse(&words, &opts)?;
                }
                let path = &p.args[1];
                let stat = if p.has('w') {
                    let (stat, w) = zk.exists_watch(path).await.map_err(|e| wrap(e, path))?;
                    self.watches.oneshots.push(w);
                    stat
                } else {
                    zk.exists(path).await.map_err(|e| wrap(e, path))?
                };
                let stat = stat.ok_or_else(|| wrap(Error::NoNode, path))?;
                let _ = write!(io.out, "{}", format_stat(&stat, &self.zone));
            }
            "getAcl" => {
                let p = parse(&words, &[flag('s')])?;
                if p.args.len() < 2 {
                    return Err(usage_err());
                }
                let path = &p.args[1];
                let (acl, stat) = zk.get_acl(path).await.map_err(|e| wrap(e, path))?;
                for a in &acl {
                    let _ = writeln!(
                        io.out,
                        "{}: {}",
                        id_text(&a.id),
                        perm_string(Perms(a.perms))
                    );
                }
                if p.has('s') {
                    let _ = write!(io.out, "{}", format_stat(&stat, &self.zone));
                }
            }
            "setAcl" => {
                let p = parse(&words, &[flag('s'), valued('v'), flag('R')])?;
                if p.args.len() < 3 {
                    return Err(usage_err());
                }
                let path = p.args[1].clone();
                let acl = parse_acl(&p.args[2], io.err);
                let version = opt_int(&p, 'v')?;
                check_path(&path, false)?;
                if acl.is_empty() {
                    return Err(CliError::new("Acl is not valid : null"));
                }
                if p.has('R') {
                    let acl2 = acl.clone();
                    let mut targets = Vec::new();
                    self.visit_dfs(zk, &path, false, io, |t: &mut Vec<String>, p, _| {
                        t.push(p.to_owned())
                    })
                    .await
                    .map(|t| targets = t)?;
                    for t in targets {
                        if let Err(e) = zk.set_acl(&t, &acl2, version).await {
                            let _ = write!(io.out, "{}", keeper_message(&e, Some(&t)));
                        }
                    }
                } else {
                    let stat = zk
                        .set_acl(&path, &acl, version)
                        .await
                        .map_err(|e| wrap(e, &path))?;
                    if p.has('s') {
                        let _ = write!(io.out, "{}", format_stat(&stat, &self.zone));
                    }
                }
            }
            "addauth" => {
                let p = parse(&words, &[])?;
                if p.args.len() < 2 {
                    return Err(usage_err());
                }
                let auth = p.args.get(2).map_or(&[][..], |a| a.as_bytes());
                // zkCli's addAuthInfo does not wait for the answer; a failure ends the session.
                let zk = zk.clone();
                let scheme = p.args[1].clone();
                let auth = auth.to_vec();
                let done = tokio::spawn(async move { zk.add_auth(&scheme, &auth).await });
                let _ = done.await;
            }
            "sync" => {
                let p = parse(&words, &[])?;
                if p.args.len() < 2 {
                    return Err(usage_err());
                }
                let path = &p.args[1];
                check_path(path, false)?;
                match zk.sync(path).await {
                    Ok(()) => {
                        let _ = writeln!(io.out, "Sync is OK");
                    }
                    Err(e) => {
                        let _ = writeln!(io.out, "Sync has failed. rc={}", e.code().code());
                    }
                }
            }
            "whoami" => {
                let infos = zk
                    .who_am_i()
                    .await
                    .map_err(|e| CliError::new(keeper_message(&e, None)))?;
                let _ = writeln!(io.out, "Auth scheme: User");
                for i in infos {
                    let _ = writeln!(io.out, "{}: {}", i.auth_scheme, i.user);
                }
            }
            "version" => {
                let _ = writeln!(io.out, "ZooKeeper CLI version: {VERSION}");
            }
            "getEphemerals" => {
                let p = parse(&words, &[])?;
                let path = p.args.get(1).map_or("/", String::as_str);
                let eph = zk.get_ephemerals(path).await.map_err(|e| wrap(e, path))?;
                let _ = writeln!(io.out, "[{}]", eph.join(", "));
            }
            "getAllChildrenNumber" => {
                let p = parse(&words, &[])?;
                if p.args.len() < 2 {
                    return Err(usage_err());
                }
                let path = &p.args[1];
                let n = zk
                    .get_all_children_number(path)
                    .await
                    .map_err(|e| wrap(e, path))?;
                let _ = writeln!(io.out, "{n}");
            }
            "close" => {
                zk.close().await;
            }
            "config" => {
                let p = parse(&words, &[flag('s'), flag('w'), flag('c')])?;
                let path = "/zookeeper/config";
                let (data, stat, w) = zk
                    .get_data_nullable(path, p.has('w'))
                    .await
                    .map_err(|e| wrap(e, path))?;
                self.watches.oneshots.extend(w);
                let text = data.map_or_else(
                    || "null".to_owned(),
                    |d| String::from_utf8_lossy(&d).into_owned(),
                );
                if p.has('c') {
                    let _ = writeln!(io.out, "{}", client_config_str(&text));
                } else {
                    let _ = writeln!(io.out, "{text}");
                }
                if p.has('s') {
                    let _ = write!(io.out, "{}", format_stat(&stat, &self.zone));
                }
            }
            "reconfig" => self.reconfig(&words, zk, io).await?,
            "removewatches" => {
                let p = parse(&words, &[flag('c'), flag('d'), flag('a'), flag('l')])?;
                if p.args.len() < 2 {
                    return Err(usage_err());
                }
                let path = &p.args[1];
                let kind = if p.has('c') {
                    WatcherType::Children
                } else if p.has('d') {
                    WatcherType::Data
                } else {
                    WatcherType::Any
                };
                zk.remove_watches(path, kind)
                    .await
                    .map_err(|e| wrap(e, path))?;
            }
            "addWatch" => {
                let p = parse(&words, &[valued('m')])?;
                if p.args.len() != 2 {
                    return Err(usage_err());
                }
                let mode = match p.value('m').map(str::to_uppercase).as_deref() {
                    None | Some("PERSISTENT_RECURSIVE") => AddWatchMode::PersistentRecursive,
                    Some("PERSISTENT") => AddWatchMode::Persistent,
                    Some(_) => return Err(usage_err()),
                };
                let path = &p.args[1];
                let stream = zk.add_watch(path, mode).await.map_err(|e| wrap(e, path))?;
                self.watches.streams.push(stream);
            }
            "setquota" => self.set_quota(&words, zk, io).await?,
            "listquota" => {
                let p = parse(&words, &[])?;
                if p.args.len() < 2 {
                    return Err(usage_err());
                }
                let path = &p.args[1];
                let limit = format!("{QUOTA_ROOT}{path}/{LIMIT_NODE}");
                let _ = writeln!(io.err, "absolute path is {limit}");
                let stat_path = format!("{QUOTA_ROOT}{path}/{STAT_NODE}");
                let read = async {
                    let l = zk.get_data_nullable(&limit, false).await?.0;
                    let s = zk.get_data_nullable(&stat_path, false).await?.0;
                    Ok::<_, Error>((l, s))
                };
                match read.await {
                    Ok((l, s)) => {
                        let _ = writeln!(
                            io.out,
                            "Output quota for {path} {}",
                            StatsTrack::parse_bytes(l)
                        );
                        let _ = writeln!(
                            io.out,
                            "Output stat for {path} {}",
                            StatsTrack::parse_bytes(s)
                        );
                    }
                    Err(Error::NoNode) => {
                        let _ = writeln!(io.err, "quota for {path} does not exist.");
                    }
                    Err(e) => return Err(wrap(e, path)),
                }
            }
            "delquota" => self.del_quota(&words, zk, io).await?,
            _ => {
                let _ = write!(io.err, "{}", usage());
            }
        }
        Ok(())
    }

    async fn create<O: Write, E: Write>(
        &mut self,
        words: &[String],
        zk: &Client,
        io: &mut Io<'_, O, E>,
    ) -> CliResult {
        let p = parse(words, &[flag('e'), flag('s'), flag('c'), valued('t')])?;
        if p.args.len() < 2 {
            return Err(CliError::new(usage_of("create")));
        }
        let (e, s, c, t) = (p.has('e'), p.has('s'), p.has('c'), p.has('t'));
        if c && (e || s) {
            return Err(CliError::new(
                "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.",
            ));
        }
        let ttl: i64 = match p.value('t') {
            Some(v) if t => v
                .parse()
                .map_err(|_| CliError::new("-t argument must be a long value"))?,
            _ => 0,
        };
        if t && e {
            return Err(CliError::new("TTLs cannot be used with Ephemeral znodes"));
        }
        if t && c {
            return Err(CliError::new("TTLs cannot be used with Container znodes"));
        }
        let mode = match (e, s, c, t) {
            (true, true, _, _) => CreateMode::EphemeralSequential,
            (true, false, _, _) => CreateMode::Ephemeral,
            (false, true, _, true) => CreateMode::PersistentSequentialWithTtl,
            (false, true, _, false) => CreateMode::PersistentSequential,
            (false, false, true, _) => CreateMode::Container,
            (false, false, false, true) => CreateMode::PersistentWithTtl,
            (false, false, false, false) => CreateMode::Persistent,
        };
        if t && (ttl <= 0 || ttl > MAX_TTL_MS) {
            return Err(CliError::new(format!(
                "ttl must be positive and cannot be larger than: {MAX_TTL_MS}"
            )));
        }
        let path = &p.args[1];
        let data = p.args.get(2).map(String::as_bytes);
        let acl = match p.args.get(3) {
            Some(text) => parse_acl(text, io.err),
            None => Acl::open_unsafe(),
        };
        check_path(path, mode.is_sequential())?;
        if acl.is_empty() {
            let _ = writeln!(io.err, "{}", keeper_message(&Error::InvalidAcl, None));
            return Err(CliError::new("Acl is not valid : null"));
        }
        let ttl = t.then(|| Duration::from_millis(ttl as u64));
        match zk.create_nullable(path, data, &acl, mode, ttl).await {
            Ok(created) => {
                let _ = writeln!(io.err, "Created {created}");
                Ok(())
            }
            Err(Error::EphemeralOnLocalSession) => {
                let _ = writeln!(io.err, "Unable to create ephemeral node on a local session");
                Err(wrap(Error::EphemeralOnLocalSession, path))
            }
            Err(Error::InvalidAcl) => {
                let _ = writeln!(io.err, "{}", keeper_message(&Error::InvalidAcl, Some(path)));
                Err(wrap(Error::InvalidAcl, path))
            }
            Err(e) => Err(wrap(e, path)),
        }
    }

    /// `ZKUtil.visitSubTreeDFS`: the node, then each node's sorted children before their own
    /// children; `visit` gets every path. Returns the visitor's state.
    async fn visit_dfs<O: Write, E: Write, T: Default>(
        &mut self,
        zk: &Client,
        path: &str,
        watch: bool,
        io: &mut Io<'_, O, E>,
        mut visit: impl FnMut(&mut T, &str, &mut O),
    ) -> CliResult<T> {
        let mut state = T::default();
        check_path(path, false)?;
        if watch {
            let (_, _, w) = zk.get_data_watch(path).await.map_err(|e| wrap(e, path))?;
            self.watches.oneshots.push(w);
        } else {
            zk.get_data(path).await.map_err(|e| wrap(e, path))?;
        }
        visit(&mut state, path, io.out);
        let mut progress = Progress::new("ls -R", self.progress);
        // Each frame: the children still to descend into, in order.
        let mut stack: Vec<std::vec::IntoIter<String>> = Vec::new();
        let mut next = Some(path.to_owned());
        loop {
            if let Some(node) = next.take() {
                let children = if watch {
                    zk.get_children_watch(&node).await.map(|(c, w)| {
                        self.watches.oneshots.push(w);
                        c
                    })
                } else {
                    zk.get_children(&node).await
                };
                match children {
                    Ok(mut children) => {
                        children.sort();
                        let paths: Vec<String> = children
                            .iter()
                            .map(|c| zk_client::path::join(&node, c))
                            .collect();
                        for p in &paths {
                            visit(&mut state, p, io.out);
                        }
                        progress.add(paths.len(), io.err);
                        stack.push(paths.into_iter());
                    }
                    Err(Error::NoNode) => {}
                    Err(e) => return Err(wrap(e, &node)),
                }
            }
            match stack.last_mut() {
                None => break,
                Some(frame) => match frame.next() {
                    Some(child) => next = Some(child),
                    None => {
                        stack.pop();
                    }
                },
            }
        }
        progress.finish(io.err);
        Ok(state)
    }

    /// `ZKUtil.deleteRecursive`: list the tree breadth first, then delete it deepest first in
    /// multis of `batch` deletes. False when a multi failed.
    async fn delete_recursive<O: Write, E: Write>(
        &mut self,
        zk: &Client,
        root: &str,
        batch: usize,
        io: &mut Io<'_, O, E>,
    ) -> CliResult<bool> {
        check_path(root, false)?;
        let mut tree = vec![root.to_owned()];
        let mut progress = Progress::new("deleteall: listed", self.progress);
        let mut i = 0;
        while i < tree.len() {
            let node = tree[i].clone();
            let children = zk.get_children(&node).await.map_err(|e| wrap(e, &node))?;
            progress.add(children.len(), io.err);
            tree.extend(children.iter().map(|c| zk_client::path::join(&node, c)));
            i += 1;
        }
        progress.finish(io.err);
        let mut progress = Progress::new("deleteall: deleted", self.progress);
        for chunk in tree.rchunks(batch) {
            let mut multi = zk.multi();
            for p in chunk.iter().rev() {
                multi = multi.delete(p, None);
            }
            if multi.commit().await.is_err() {
                progress.finish(io.err);
                return Ok(false);
            }
            progress.add(chunk.len(), io.err);
        }
        progress.finish(io.err);
        Ok(true)
    }

    async fn reconfig<O: Write, E: Write>(
        &mut self,
        words: &[String],
        zk: &Client,
        io: &mut Io<'_, O, E>,
    ) -> CliResult {
        // Options with long names: -s, -v, -file, -members, -add, -remove.
        let mut opts: BTreeMap<&str, Option<String>> = BTreeMap::new();
        let mut it = words.iter().skip(1);
        while let Some(w) = it.next() {
            let name = match w.as_str() {
                "-s" => "s",
                "-v" => "v",
                "-file" => "file",
                "-members" => "members",
                "-add" => "add",
                "-remove" => "remove",
                other if other.starts_with('-') => {
                    return Err(CliError::new(format!(
                        "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: {other}"
                    )));
                }
                _ => continue,
            };
            let value = if name == "s" {
                None
            } else {
                Some(it.next().cloned().ok_or_else(|| {
                    CliError::new(format!(
                        "org.apache.commons.cli.MissingArgumentException: Missing argument for option: {name}"
                    ))
                })?)
            };
            opts.insert(name, value);
        }
        let has = |k: &str| opts.contains_key(k);
        let get = |k: &str| opts.get(k).cloned().flatten().map(|v| v.to_lowercase());
        if !(has("file") || has("members") || has("add") || has("remove")) {
            return Err(CliError::new(usage_of("reconfig")));
        }
        let version = match opts.get("v").cloned().flatten() {
            Some(v) => i64::from_str_radix(&v, 16).map_err(|_| {
                CliError::new("-v must be followed by a long (configuration version)")
            })?,
            None => -1,
        };
        if (has("file") || has("members")) && (has("add") || has("remove")) {
            return Err(CliError::new(
                "Can't use -file or -members together with -add or -remove (mixing incremental and non-incremental modes is not allowed)",
            ));
        }
        if has("file") && has("members") {
            return Err(CliError::new(
                "Can't use -file and -members together (conflicting non-incremental modes)",
            ));
        }
        let members = match opts.get("file").cloned().flatten() {
            Some(file) => {
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| CliError::new(format!("Error processing {file}{e}")))?;
                Some(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| l.starts_with("server."))
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
            }
            None => get("members"),
        };
        let (data, stat) = zk
            .reconfig(
                get("add").as_deref(),
                get("remove").as_deref(),
                members.as_deref(),
                version,
            )
            .await
            .map_err(|e| CliError::new(error_text(&e, None)))?;
        let _ = writeln!(
            io.out,
            "Committed new configuration:\n{}",
            String::from_utf8_lossy(&data)
        );
        if has("s") {
            let _ = write!(io.out, "{}", format_stat(&stat, &self.zone));
        }
        Ok(())
    }

    async fn set_quota<O: Write, E: Write>(
        &mut self,
        words: &[String],
        zk: &Client,
        io: &mut Io<'_, O, E>,
    ) -> CliResult {
        let group = [
            quota_opt('n', true, "num soft quota"),
            quota_opt('b', true, "bytes soft quota"),
            quota_opt('N', true, "num hard quota"),
            quota_opt('B', true, "bytes hard quota"),
        ];
        let p = parse_opts(
            words,
            &[],
            Some(Group {
                opts: &group,
                required: true,
            }),
        )
        .map_err(CliError::new)?;
        if p.args.len() < 2 {
            return Err(CliError::new(usage_of("setquota")));
        }
        let path = p.args[1].clone();
        if path.starts_with(QUOTA_ROOT) {
            let _ = writeln!(io.err, "cannot set a quota under the path: {QUOTA_ROOT}");
            return Ok(());
        }
        let mut quota = StatsTrack::default();
        quota.set("count", -1);
        quota.set("bytes", -1);
        quota.set("countHardLimit", -1);
        quota.set("byteHardLimit", -1);
        for (o, key, min) in [
            ('n', "count", 1),
            ('b', "bytes", 0),
            ('N', "countHardLimit", 1),
            ('B', "byteHardLimit", 0),
        ] {
            if let Some(v) = p.value(o) {
                let Ok(n) = v.parse::<i64>() else {
                    let _ = writeln!(
                        io.err,
                        "NumberFormatException happens when parsing the option value"
                    );
                    return Ok(());
                };
                if n < min {
                    let _ = writeln!(
                        io.err,
                        "{}",
                        if min == 1 {
                            "the num quota must be greater than zero"
                        } else {
                            "the bytes quota must be greater than or equal to zero"
                        }
                    );
                    return Ok(());
                }
                quota.set(key, n);
            }
        }
        match create_quota(zk, &path, &quota, io.out).await {
            Ok(()) => Ok(()),
            Err(QuotaError::Arg(m)) => Err(CliError::new(m)),
            Err(QuotaError::Zk(e, p)) => Err(wrap(e, &p)),
        }
    }

    async fn del_quota<O: Write, E: Write>(
        &mut self,
        words: &[String],
        zk: &Client,
        io: &mut Io<'_, O, E>,
    ) -> CliResult {
        let group = [
            quota_opt('n', false, "num soft quota"),
            quota_opt('b', false, "bytes soft quota"),
            quota_opt('N', false, "num hard quota"),
            quota_opt('B', false, "bytes hard quota"),
        ];
        let p = parse_opts(
            words,
            &[],
            Some(Group {
                opts: &group,
                required: false,
            }),
        )
        .map_err(CliError::new)?;
        if p.args.len() < 2 {
            return Err(CliError::new(usage_of("delquota")));
        }
        let path = p.args[1].clone();
        let which: Vec<&str> = [
            ('n', "count"),
            ('b', "bytes"),
            ('N', "countHardLimit"),
            ('B', "byteHardLimit"),
        ]
        .iter()
        .filter(|(o, _)| p.has(*o))
        .map(|(_, k)| *k)
        .collect();
        let parent = format!("{QUOTA_ROOT}{path}");
        let limit = format!("{parent}/{LIMIT_NODE}");
        let run = async {
            if zk.exists(&limit).await?.is_none() {
                let _ = writeln!(io.out, "Quota does not exist for {path}");
                return Ok(());
            }
            let data = zk.get_data_nullable(&limit, false).await?.0;
            let mut track = StatsTrack::parse_bytes(data);
            if which.is_empty() {
                for child in zk.get_children(&parent).await? {
                    zk.delete(&format!("{parent}/{child}"), None).await?;
                }
                // Prune the quota nodes left empty, up to /zookeeper/quota.
                let mut node = parent.clone();
                while node != QUOTA_ROOT {
                    if !zk.get_children(&node).await?.is_empty() {
                        break;
                    }
                    zk.delete(&node, None).await?;
                    node = node[..node.rfind('/').unwrap_or(0)].to_owned();
                }
            } else {
                for k in which {
                    track.set(k, -1);
                }
                zk.set_data(&limit, track.to_string().as_bytes(), None)
                    .await?;
            }
            Ok::<(), Error>(())
        };
        match run.await {
            Ok(()) => Ok(()),
            Err(Error::NoNode) => {
                let _ = writeln!(io.err, "quota for {path} does not exist.");
                Ok(())
            }
            Err(e) => Err(wrap(e, &path)),
        }
    }
}

fn quota_opt(name: char, takes_value: bool, description: &'static str) -> Opt {
    Opt {
        name,
        takes_value,
        description,
    }
}

enum QuotaError {
    Arg(String),
    Zk(Error, String),
}

async fn create_quota<O: Write>(
    zk: &Client,
    path: &str,
    quota: &StatsTrack,
    out: &mut O,
) -> Result<(), QuotaError> {
    let zke = |p: &str| {
        let p = p.to_owned();
        move |e: Error| match e {
            Error::InvalidArgument(m) => QuotaError::Arg(m),
            e => QuotaError::Zk(e, p),
        }
    };
    if zk.exists(path).await.map_err(zke(path))?.is_none() {
        return Err(QuotaError::Arg(format!("{path} does not exist.")));
    }
    // No quota below this node...
    let real = format!("{QUOTA_ROOT}{path}");
    let mut stack = vec![real.clone()];
    while let Some(q) = stack.pop() {
        let children = match zk.get_children(&q).await {
            Ok(c) => c,
            Err(Error::NoNode) => continue,
            Err(e) => return Err(QuotaError::Zk(e, q)),
        };
        if q != real && children.iter().any(|c| c == LIMIT_NODE) {
            return Err(QuotaError::Arg(format!(
                "{path} has a child {} which has a quota",
                &q[QUOTA_ROOT.len()..]
            )));
        }
        stack.extend(children.iter().map(|c| format!("{q}/{c}")));
    }
    // ...nor above it.
    let parts: Vec<&str> = path.split('/').collect();
    let mut q = QUOTA_ROOT.to_owned();
    for part in parts.iter().take(parts.len().saturating_sub(1)).skip(1) {
        q.push('/');
        q.push_str(part);
        let children = match zk.get_children(&q).await {
            Ok(c) => c,
            Err(Error::NoNode) => break,
            Err(e) => return Err(QuotaError::Zk(e, q)),
        };
        if children.is_empty() {
            break;
        }
        if q != real && children.iter().any(|c| c == LIMIT_NODE) {
            return Err(QuotaError::Arg(format!(
                "{path} has a parent {} which has a quota",
                &q[QUOTA_ROOT.len()..]
            )));
        }
    }
    let open = Acl::open_unsafe();
    let mkdir = |p: String| {
        let open = open.clone();
        async move {
            if zk.exists(&p).await.map_err(zke(&p))?.is_none() {
                match zk
                    .create_nullable(&p, None, &open, CreateMode::Persistent, None)
                    .await
                {
                    Ok(_) | Err(Error::NodeExists) => {}
                    Err(e) => return Err(zke(&p)(e)),
                }
            }
            Ok(())
        }
    };
    if zk
        .exists(QUOTA_ROOT)
        .await
        .map_err(zke(QUOTA_ROOT))?
        .is_none()
    {
        mkdir("/zookeeper".into()).await?;
        mkdir(QUOTA_ROOT.into()).await?;
    }
    let mut q = QUOTA_ROOT.to_owned();
    for part in parts.iter().skip(1) {
        q.push('/');
        q.push_str(part);
        mkdir(q.clone()).await?;
    }
    let stat_path = format!("{q}/{STAT_NODE}");
    let limit_path = format!("{q}/{LIMIT_NODE}");
    let read = |p: String| async move {
        let data = zk.get_data_nullable(&p, false).await.map_err(zke(&p))?.0;
        Ok::<_, QuotaError>(StatsTrack::parse_bytes(data))
    };
    if zk
        .exists(&limit_path)
        .await
        .map_err(zke(&limit_path))?
        .is_none()
    {
        zk.create(
            &limit_path,
            quota.to_string().as_bytes(),
            &open,
            CreateMode::Persistent,
        )
        .await
        .map_err(zke(&limit_path))?;
        let mut stats = StatsTrack::default();
        stats.set("count", 0);
        stats.set("bytes", 0);
        zk.create(
            &stat_path,
            stats.to_string().as_bytes(),
            &open,
            CreateMode::Persistent,
        )
        .await
        .map_err(zke(&stat_path))?;
        let limits = read(limit_path).await?;
        let stats = read(stat_path).await?;
        check_quota(&limits, &stats, out);
    } else {
        let mut limits = read(limit_path.clone()).await?;
        for k in ["count", "bytes", "countHardLimit", "byteHardLimit"] {
            if quota.get(k) > -1 {
                limits.set(k, quota.get(k));
            }
        }
        let stats = read(stat_path).await?;
        check_quota(&limits, &stats, out);
        zk.set_data(&limit_path, limits.to_string().as_bytes(), None)
            .await
            .map_err(zke(&limit_path))?;
    }
    Ok(())
}

fn check_quota<O: Write>(limits: &StatsTrack, stats: &StatsTrack, out: &mut O) {
    let below =
        |soft: i64, hard: i64, have: i64| (soft > -1 && soft < have) || (hard > -1 && hard < have);
    if below(
        limits.get("count"),
        limits.get("countHardLimit"),
        stats.get("count"),
    ) {
        let _ = writeln!(
            out,
            "[Warning]: the count quota you create is less than the existing count:{}",
            stats.get("count")
        );
    }
    if below(
        limits.get("bytes"),
        limits.get("byteHardLimit"),
        stats.get("bytes"),
    ) {
        let _ = writeln!(
            out,
            "[Warning]: the bytes quota you create is less than the existing bytes:{}",
            stats.get("bytes")
        );
    }
}

/// `StatsTrack`: the text of quota nodes, `count=1,bytes=2` and, with hard limits,
/// `=;byteHardLimit=3;countHardLimit=4`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StatsTrack {
    values: BTreeMap<String, i64>,
}

impl StatsTrack {
    pub fn parse(text: &str) -> StatsTrack {
        let mut values = BTreeMap::new();
        for pair in text.split([',', ';']).filter(|p| !p.is_empty()) {
            let mut kv = pair.split('=');
            let key = kv.next().unwrap_or_default();
            let value = kv.next().filter(|v| !v.is_empty()).unwrap_or("-1");
            values.insert(key.to_owned(), value.parse().unwrap_or(-1));
        }
        StatsTrack { values }
    }

    fn parse_bytes(data: Option<zk_client::Bytes>) -> StatsTrack {
        StatsTrack::parse(&String::from_utf8_lossy(
            data.as_deref().unwrap_or_default(),
        ))
    }

    pub fn get(&self, key: &str) -> i64 {
        self.values.get(key).copied().unwrap_or(-1)
    }

    pub fn set(&mut self, key: &str, value: i64) {
        self.values.insert(key.to_owned(), value);
    }
}

impl std::fmt::Display for StatsTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "count={},bytes={}", self.get("count"), self.get("bytes"))?;
        let rest: Vec<_> = self
            .values
            .iter()
            .filter(|(k, _)| *k != "count" && *k != "bytes")
            .collect();
        if !rest.is_empty() {
            write!(f, "=")?;
            for (k, v) in rest {
                write!(f, ";{k}={v}")?;
            }
        }
        Ok(())
    }
}

/// Progress of bulk work on stderr (only when enabled: an interactive terminal).
struct Progress {
    label: &'static str,
    enabled: bool,
    count: usize,
    shown: usize,
}

impl Progress {
    fn new(label: &'static str, enabled: bool) -> Progress {
        Progress {
            label,
            enabled,
            count: 0,
            shown: 0,
        }
    }

    fn add<E: Write>(&mut self, n: usize, err: &mut E) {
        self.count += n;
        if self.enabled && self.count >= self.shown + 1000 {
            self.shown = self.count;
            let _ = write!(err, "\r{} {} nodes", self.label, self.count);
            let _ = err.flush();
        }
    }

    fn finish<E: Write>(&mut self, err: &mut E) {
        if self.enabled && self.shown > 0 {
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.shown = 0;
        }
    }
}

/// `PathUtils.validatePath` with its exact messages (a sequential path is checked with a `1`
/// appended, as Java does).
pub fn java_path_error(path: &str, sequential: bool) -> Option<String> {
    let path = if sequential {
        format!("{path}1")
    } else {
        path.to_owned()
    };
    let chars: Vec<u16> = path.encode_utf16().collect();
    if chars.is_empty() {
        return Some("Path length must be > 0".into());
    }
    if chars[0] != u16::from(b'/') {
        return Some("Path must start with / character".into());
    }
    if chars.len() == 1 {
        return None;
    }
    if chars[chars.len() - 1] == u16::from(b'/') {
        return Some("Path must not end with / character".into());
    }
    let (slash, dot) = (u16::from(b'/'), u16::from(b'.'));
    let mut lastc = slash;
    for i in 1..chars.len() {
        let c = chars[i];
        let next_ends = i + 1 == chars.len() || chars[i + 1] == slash;
        let reason = if c == 0 {
            Some("null character not allowed")
        } else if c == slash && lastc == slash {
            Some("empty node name specified")
        } else if c == dot && lastc == dot {
            (chars[i - 2] == slash && next_ends).then_some("relative paths not allowed")
        } else if c == dot {
            (chars[i - 1] == slash && next_ends).then_some("relative paths not allowed")
        } else if (c > 0 && c <= 0x1f)
            || (0x7f..=0x9f).contains(&c)
            || (0xd800..=0xf8ff).contains(&c)
            || c >= 0xfff0
        {
            Some("invalid character")
        } else {
            None
        };
        if let Some(r) = reason {
            return Some(format!("Invalid path string \"{path}\" caused by {r} @{i}"));
        }
        lastc = c;
    }
    None
}

fn check_path(path: &str, sequential: bool) -> CliResult {
    match java_path_error(path, sequential) {
        Some(m) => Err(CliError::new(m)),
        None => Ok(()),
    }
}

fn parse(words: &[String], opts: &[Opt]) -> CliResult<Parsed> {
    parse_opts(words, opts, None).map_err(CliError::new)
}

fn opt_int(p: &Parsed, name: char) -> CliResult<Option<i32>> {
    match p.value(name) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| CliError::new(format!("For input string: \"{v}\""))),
    }
}

/// `Integer.decode`: decimal, `0x`/`#` hex, leading-zero octal.
fn decode_int(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = s
        .strip_prefix("0x")
        .or(s.strip_prefix("0X"))
        .or(s.strip_prefix('#'))
    {
        i64::from_str_radix(h, 16).ok()?
    } else if s.len() > 1 && s.starts_with('0') {
        i64::from_str_radix(&s[1..], 8).ok()?
    } else {
        s.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

/// `AclParser.parse`: `scheme:id:perms,...`; bad entries are reported on stderr and skipped.
pub fn parse_acl<E: Write>(text: &str, err: &mut E) -> Vec<Acl> {
    let mut acl = Vec::new();
    for a in text.split(',') {
        let (Some(first), Some(last)) = (a.find(':'), a.rfind(':')) else {
            let _ = writeln!(err, "{a} does not have the form scheme:id:perm");
            continue;
        };
        if first == last {
            let _ = writeln!(err, "{a} does not have the form scheme:id:perm");
            continue;
        }
        let mut perms = 0;
        for c in a[last + 1..].chars() {
            perms |= match c {
                'r' => Perms::READ.0,
                'w' => Perms::WRITE.0,
                'c' => Perms::CREATE.0,
                'd' => Perms::DELETE.0,
                'a' => Perms::ADMIN.0,
                other => {
                    let _ = writeln!(err, "Unknown perm type: {other}");
                    0
                }
            };
        }
        acl.push(Acl {
            perms,
            id: Id {
                scheme: a[..first].to_owned(),
                id: a[first + 1..last].to_owned(),
            },
        });
    }
    acl
}

/// `ZKUtil.getPermString`: the letters c, d, r, w, a.
pub fn perm_string(perms: Perms) -> String {
    [
        (Perms::CREATE, 'c'),
        (Perms::DELETE, 'd'),
        (Perms::READ, 'r'),
        (Perms::WRITE, 'w'),
        (Perms::ADMIN, 'a'),
    ]
    .iter()
    .filter(|(p, _)| perms.0 & p.0 != 0)
    .map(|(_, c)| *c)
    .collect()
}

/// The jute `Id.toString()` (CSV archive): `'scheme,'id` and a newline.
fn id_text(id: &Id) -> String {
    format!("'{},'{}\n", csv_escape(&id.scheme), csv_escape(&id.id))
}

fn csv_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push_str("%00"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            ',' => out.push_str("%2C"),
            '}' => out.push_str("%7D"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// `ConfigUtils.getClientConfigStr`: the config version and the servers' client addresses.
fn client_config_str(config: &str) -> String {
    let mut version = String::new();
    let mut addrs = Vec::new();
    for line in config.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key == "version" {
            version = value.to_owned();
        } else if key.starts_with("server.") {
            // `host:port:port[:role];[clientHost:]clientPort`
            let client = value.split_once(';').map(|(_, c)| c).unwrap_or("");
            let host = value.split(':').next().unwrap_or("");
            let addr = match client.rsplit_once(':') {
                Some((h, p)) => format!("{h}:{p}"),
                None if client.is_empty() => String::new(),
                None => format!("{host}:{client}"),
            };
            addrs.push(addr);
        }
    }
    format!("{version} {}", addrs.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_track_round_trip() {
        let t = StatsTrack::parse("count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1");
        assert_eq!(t.get("count"), 5);
        assert_eq!(
            t.to_string(),
            "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
        );
        assert_eq!(
            StatsTrack::parse("count=1,bytes=0").to_string(),
            "count=1,bytes=0"
        );
    }

    #[test]
    fn acl_text() {
        let mut err = Vec::new();
        let acl = parse_acl("world:anyone:cdrwa,bogus,digest:u:x=:rq", &mut err);
        assert_eq!(acl.len(), 2);
        assert_eq!(perm_string(Perms(acl[0].perms)), "cdrwa");
        assert_eq!(acl[1].id.id, "u:x=");
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "bogus does not have the form scheme:id:perm\nUnknown perm type: q\n"
        );
    }

    #[test]
    fn java_integer_decode() {
        assert_eq!(decode_int("10"), Some(10));
        assert_eq!(decode_int("0x10"), Some(16));
        assert_eq!(decode_int("010"), Some(8));
        assert_eq!(decode_int("x"), None);
    }
}
