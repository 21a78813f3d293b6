//! The same scripts through Apache's zkCli.sh and through the C client's `cli_mt`, once against
//! Apache's standalone server and once against ours: the outputs must match after normalising
//! times, zxids, session ids and ports. Covers create/get/set/delete, a watch firing, ACLs (digest
//! `addauth`, a denial) and multi (zkCli's `deleteall` deletes through multi).

mod common;

use common::{CliMt, OurServer};
use zk_testkit::ApacheServer;

const ZKCLI_SCRIPT: &[&str] = &[
    "create /diff hello",
    "create /diff/a",
    "get /diff/a",
    "get -s /diff",
    "set /diff world",
    "get /diff",
    "set -s /diff again",
    "create /diff",
    "create -e /diff/e",
    "create -s /diff/s- x",
    "ls /diff",
    "delete /diff/a",
    "get /diff/a",
    "delete /diff",
    "create /diff/ro x world:anyone:r",
    "set /diff/ro y",
    "delete /diff/ro/nope",
    "getAcl /diff/ro",
    "addauth digest user:pass",
    "create /diff/secret s auth::cdrwa",
    "getAcl -s /diff/secret",
    "whoami",
    "create /diff/gone",
    "create /diff/gone/x",
    "create /diff/gone/y",
    "deleteall /diff/gone",
    "stat /diff/gone",
    "get -w /diff",
    "set /diff w1",
    "ls -R /diff",
    "quit",
];

const CLI_MT_SCRIPT: &[&str] = &[
    "get /diff",
    "get /diff/secret",
    "set /diff/secret x",
    "addauth digest user:wrong",
    "get /diff/secret",
    "create /diff/c",
    "create /diff/c",
    "create +s /diff/seq-",
    "ls /diff/nope",
    "get /diff/c",
    "set /diff/c changed",
    "get /diff/c",
    "ls /diff/c",
    "create /diff/c/kid",
    "delete /diff/c",
    "delete /diff/c/kid",
    "delete /diff/c",
    "delete /diff/c",
    "exists /diff/c",
    "get /diff/ro",
    "set /diff/ro denied",
];

/// Replaces what differs between runs and servers: times, zxids, session ids, ports, the JVM's and
/// the C client's log lines, and cli_mt's `sync /` barriers.
fn normalize(text: &str, port: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.contains("ZOO_INFO@")
            || line.contains("ZOO_DEBUG@")
            || line == "[/]: rc = 0"
            || line == "\tname = /"
        {
            continue;
        }
        let line = line.replace(port, "<port>");
        let line = if let Some((key, _)) = line.split_once(" = ") {
            match key {
                "ctime" | "mtime" | "\tctime" => format!("{key} = <time>"),
                "cZxid" | "mZxid" | "pZxid" => format!("{key} = <zxid>"),
                "ephemeralOwner" | "\tephemeralOwner"
                    if !line.ends_with("= 0x0") && !line.ends_with("= 0") =>
                {
                    format!("{key} = <session>")
                }
                "time" => "time = <ms>".to_owned(),
                _ => line,
            }
        } else if line.starts_with("\tczxid=") || line.starts_with("\tmzxid=") {
            format!("{}=<zxid>", &line[..6])
        } else if line.starts_with("\tmtime=") {
            "\tmtime=<time>".to_owned()
        } else if line.starts_with("Got a new session id: ") {
            "Got a new session id: <session>".to_owned()
        } else if let Some(i) = line.find(":ZOO_") {
            // A warning or error of the C client: drop its timestamp and thread.
            line[i..].to_owned()
        } else {
            line
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// zkCli.sh's stdout and stderr, then cli_mt's output, against the server at `address`.
fn run_both(address: &str) -> (String, String, String) {
    let port = address.rsplit(':').next().expect("port").to_owned();
    let (out, err) = common::zkcli(address, ZKCLI_SCRIPT);
    assert!(
        out.contains("Welcome to ZooKeeper!"),
        "zkCli.sh did not run: {out}\n{err}"
    );
    let mut cli = CliMt::connect(address);
    for command in CLI_MT_SCRIPT {
        cli.run(command);
    }
    let c = cli.output.join("\n");
    (
        normalize(&out, &port),
        normalize(&err, &port),
        normalize(&c, &port),
    )
}

#[test]
fn zkcli_and_cli_mt_see_the_same_server() {
    common::require_zkcli();
    common::require_cli_mt();
    let apache = ApacheServer::start();
    let (a_out, a_err, a_c) = run_both(&apache.address());
    drop(apache);
    let ours = OurServer::start(None, &[]);
    let (o_out, o_err, o_c) = run_both(&ours.address());
    if let Ok(dir) = std::env::var("CLI_DIFF_DIR") {
        for (name, text) in [
            ("apache.zkcli.out", &a_out),
            ("apache.zkcli.err", &a_err),
            ("apache.cli_mt", &a_c),
            ("ours.zkcli.out", &o_out),
            ("ours.zkcli.err", &o_err),
            ("ours.cli_mt", &o_c),
        ] {
            std::fs::write(format!("{dir}/{name}"), text).expect("write");
        }
    }
    // The scripts must have exercised what they claim to: a denial, a watch, multi.
    assert!(a_c.contains("rc = -102"), "no NoAuth in cli_mt:\n{a_c}");
    assert!(
        a_c.contains("Watcher CHANGED_EVENT"),
        "no watch in cli_mt:\n{a_c}"
    );
    assert!(
        a_out.contains("WatchedEvent state:SyncConnected type:NodeDataChanged"),
        "{a_out}"
    );
    zk_testkit::assert_same_text(
        "zkCli.sh stdout",
        ("against Apache", &a_out),
        ("against ours", &o_out),
    );
    zk_testkit::assert_same_text(
        "zkCli.sh stderr",
        ("against Apache", &a_err),
        ("against ours", &o_err),
    );
    zk_testkit::assert_same_text(
        "cli_mt output",
        ("against Apache", &a_c),
        ("against ours", &o_c),
    );
}
