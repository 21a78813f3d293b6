//! zkCli for this project: the command set, syntax and output text of Apache ZooKeeper 3.8's
//! `zkCli.sh`, on top of `zk-client`, so scripts and habits carry over.
//!
//! The logic lives here, free of any terminal: [`parse`] splits lines and options as zkCli does,
//! [`Shell`] runs commands against a `zk_client::Client` and writes their stdout and stderr text to
//! the writers it is given, [`stat`] prints stat blocks, and [`repl`] is the line editor (history
//! file, completion of commands and znode paths). The `zkcli` binary only wires them together.
//! Invariant: for the same server state, each command writes the same text to the same stream as
//! Apache's zkCli.sh.

pub mod parse;
pub mod repl;
mod shell;
pub mod stat;

pub use parse::{Invocation, split_words};
pub use shell::{
    COMMANDS, Io, Shell, StatsTrack, VERSION, error_text, format_event, java_path_error, parse_acl,
    perm_string, usage,
};
