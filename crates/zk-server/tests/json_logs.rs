//! `--log-format json`: every log line is one JSON object with the fields log shippers index
//! (timestamp, level, target, message) and the event's own fields beside them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use zk_testkit::free_port;

#[test]
fn json_log_lines_parse_and_carry_the_event_fields() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=0\nnoSuchKey=1\n",
            dir.path().join("data").display()
        ),
    )
    .expect("write zoo.cfg");
    let mut child = Command::new(env!("CARGO_BIN_EXE_zk-server"))
        .args(["start-foreground", "--log-format", "json"])
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start zk-server");
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let serving = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no 'serving clients' line within 30 s: {lines:?}"));
        let event: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        lines.push(line);
        if event["message"] == "serving clients" {
            break event;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    for line in &lines {
        let event: serde_json::Value = serde_json::from_str(line).expect("JSON");
        for key in ["timestamp", "level", "target", "message"] {
            assert!(event.get(key).is_some(), "{key} missing in {line}");
        }
    }
    assert_eq!(serving["level"], "INFO");
    assert_eq!(serving["addr"], format!("127.0.0.1:{port}"));
    let warned = lines
        .iter()
        .any(|l| l.contains("\"level\":\"WARN\"") && l.contains("noSuchKey"));
    assert!(warned, "the unknown key is warned about: {lines:#?}");
}
