//! The interactive loop: line editing with history across sessions, completion of commands and of
//! znode paths from the server, Ctrl-C cancels the line, Ctrl-D exits; and the plain loop over
//! piped standard input (zkCli's "JLine support is disabled" mode).
//!
//! rustyline reads lines on its own thread (it blocks); the async side runs commands and prints
//! watch events as they come, through rustyline's external printer while a prompt is shown.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, ExternalPrinter, Helper};
use tokio::sync::mpsc;
use zk_client::Client;

use crate::shell::{COMMANDS, Io, Shell, format_event};

/// The history file: `$ZKCLI_HISTORY`, else `~/.zkcli_history`.
pub fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ZKCLI_HISTORY") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".zkcli_history"))
}

/// Completion as zkCli's `JLineZNodeCompleter`: a word starting with `/` completes to the children
/// of its parent znode, anything else to a command name.
#[derive(Debug)]
pub struct ZkHelper {
    client: Arc<Mutex<Option<Client>>>,
    runtime: tokio::runtime::Handle,
}

impl ZkHelper {
    pub fn new(runtime: tokio::runtime::Handle) -> ZkHelper {
        ZkHelper {
            client: Arc::new(Mutex::new(None)),
            runtime,
        }
    }

    /// Where the loop puts the client of the current session.
    pub fn client_slot(&self) -> Arc<Mutex<Option<Client>>> {
        self.client.clone()
    }

    /// The candidates for the text before the cursor, and where the replaced part starts.
    pub fn candidates(&self, line: &str) -> (usize, Vec<String>) {
        let token = if line.ends_with(' ') {
            ""
        } else {
            line.rsplit(' ').next().unwrap_or("")
        };
        if token.starts_with('/') {
            let idx = token.rfind('/').map_or(0, |i| i + 1);
            let prefix = &token[idx..];
            let dir = if idx == 1 { "/" } else { &token[..idx - 1] };
            let client = self.client.lock().expect("client slot").clone();
            let Some(client) = client else {
                return (line.len(), Vec::new());
            };
            let children = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(5), client.get_children(dir)).await
            });
            let mut found: Vec<String> = match children {
                Ok(Ok(c)) => c.into_iter().filter(|c| c.starts_with(prefix)).collect(),
                _ => Vec::new(),
            };
            found.sort();
            let start = if found.is_empty() {
                line.len()
            } else {
                line.rfind('/').map_or(0, |i| i + 1)
            };
            (start, found)
        } else {
            let found = COMMANDS
                .iter()
                .map(|(c, _)| *c)
                .filter(|c| c.starts_with(token))
                .map(str::to_owned)
                .collect();
            (line.rfind(' ').map_or(0, |i| i + 1), found)
        }
    }
}

impl Completer for ZkHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, found) = self.candidates(&line[..pos]);
        let single = found.len() == 1;
        let pairs = found
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                // A sole command completes with a space after it, as JLine does.
                replacement: if single && !line[..pos].contains('/') {
                    format!("{c} ")
                } else {
                    c
                },
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ZkHelper {
    type Hint = String;
}
impl Highlighter for ZkHelper {}
impl Validator for ZkHelper {}
impl Helper for ZkHelper {}

enum Input {
    Line(String),
    Interrupted,
    Eof,
}

/// The interactive loop on a terminal. Returns the exit code.
pub async fn interactive(mut shell: Shell) -> i32 {
    let helper = ZkHelper::new(tokio::runtime::Handle::current());
    let slot = helper.client_slot();
    let history = history_path();
    let (prompt_tx, prompt_rx) = std::sync::mpsc::channel::<String>();
    let (input_tx, mut input_rx) = mpsc::unbounded_channel::<Input>();
    let (printer_tx, printer_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let config = rustyline::Config::builder()
            .auto_add_history(false)
            .completion_type(rustyline::CompletionType::List)
            .build();
        let mut editor: Editor<ZkHelper, DefaultHistory> = match Editor::with_config(config) {
            Ok(e) => e,
            Err(_) => {
                let _ = input_tx.send(Input::Eof);
                return;
            }
        };
        editor.set_helper(Some(helper));
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        let _ = printer_tx.send(editor.create_external_printer().ok());
        while let Ok(prompt) = prompt_rx.recv() {
            let input = match editor.readline(&prompt) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                        if let Some(h) = &history {
                            let _ = editor.save_history(h);
                        }
                    }
                    Input::Line(line)
                }
                Err(ReadlineError::Interrupted) => Input::Interrupted,
                Err(_) => Input::Eof,
            };
            if input_tx.send(input).is_err() {
                break;
            }
        }
    });
    let mut printer = printer_rx.recv().ok().flatten();
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    loop {
        *slot.lock().expect("client slot") = shell.client();
        shell.drain_events(&mut stdout);
        if prompt_tx.send(shell.prompt()).is_err() {
            break;
        }
        let input = loop {
            tokio::select! {
                input = input_rx.recv() => break input.unwrap_or(Input::Eof),
                event = shell.next_event() => {
                    let text = format_event(&event);
                    match printer.as_mut() {
                        Some(p) => {
                            let _ = p.print(text.trim_end_matches('\n').to_owned());
                        }
                        None => shell.print_event(&event, &mut stdout),
                    }
                }
            }
        };
        match input {
            Input::Line(line) => {
                let mut io = Io {
                    out: &mut stdout,
                    err: &mut stderr,
                };
                shell.execute_line(&line, &mut io).await;
                if shell.quit_requested() {
                    break;
                }
            }
            Input::Interrupted => {}
            Input::Eof => break,
        }
    }
    shell.exit_code()
}

/// The loop over piped standard input: no prompt, no echo, as zkCli without JLine.
pub async fn piped(mut shell: Shell) -> i32 {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    loop {
        let line = tokio::select! {
            biased;
            line = rx.recv() => line,
            event = shell.next_event() => {
                shell.print_event(&event, &mut stdout);
                continue;
            }
        };
        let Some(line) = line else { break };
        let mut io = Io {
            out: &mut stdout,
            err: &mut stderr,
        };
        shell.execute_line(&line, &mut io).await;
        let _ = stdout.flush();
        if shell.quit_requested() {
            break;
        }
    }
    shell.exit_code()
}
