//! Snapshot (insta) of every command's stdout and stderr, run in-process through the library
//! against a real Apache ZooKeeper 3.8, normalised for times, zxids and session ids.

mod common;

use zk_cli::stat::Zone;
use zk_cli::{Invocation, Io, Shell};
use zk_testkit::{ApacheOptions, ApacheServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_output() {
    let server = ApacheServer::start_with(ApacheOptions {
        config: vec!["extendedTypesEnabled=true".into()],
        jvm_args: vec!["-Dzookeeper.extendedTypesEnabled=true".into()],
        ..ApacheOptions::default()
    });
    let invocation = Invocation {
        server: server.address(),
        ..Invocation::default()
    };
    let mut shell = Shell::new(invocation);
    shell.set_zone(Zone::utc());
    shell.connect(&server.address()).await.expect("connect");
    // A fixed first prompt: CONNECTED, not a race with CONNECTING.
    let client = shell.client().expect("client");
    client.wait_for_state(|s| s.is_connected()).await;
    let mut transcript = String::new();
    for line in common::SCRIPT {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut io = Io {
            out: &mut out,
            err: &mut err,
        };
        let prompt = shell.prompt().replace(&server.address(), "HOST");
        shell.execute_line(line, &mut io).await;
        transcript.push_str(&format!("{prompt}{line}\n"));
        for l in common::normalize(&String::from_utf8_lossy(&out)).lines() {
            transcript.push_str(&format!("  out| {l}\n"));
        }
        for l in common::normalize(&String::from_utf8_lossy(&err)).lines() {
            transcript.push_str(&format!("  err| {l}\n"));
        }
        transcript.push_str(&format!("  exit {}\n", shell.exit_code()));
    }
    insta::assert_snapshot!(transcript);
}
