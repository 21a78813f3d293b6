//! Shared by the zk-cli tests: making outputs comparable across runs.

#![allow(dead_code)]

/// Replaces what changes from run to run: times, zxids, session ids, Java's logging noise.
pub(crate) fn normalize(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("SLF4J:") {
            continue;
        }
        let line = if let Some((key, _)) = line.split_once(" = ") {
            match key {
                "ctime" | "mtime" => format!("{key} = <time>"),
                "cZxid" | "mZxid" | "pZxid" => format!("{key} = <zxid>"),
                "ephemeralOwner" if !line.ends_with("= 0x0") => format!("{key} = <session>"),
                _ => line.to_owned(),
            }
        } else {
            line.to_owned()
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A script that touches every command, ending with `quit` (so ephemerals go away) and leaving
/// the server as it found it.
pub(crate) const SCRIPT: &[&str] = &[
    "create /d hello",
    "create /d/a",
    "get /d/a",
    "get -s /d",
    "set /d world",
    "get /d",
    "set -s /d again",
    "create /d",
    "get /nope",
    "ls /d",
    "ls -s /d",
    "ls -R /d",
    "create -s /d/s-",
    "create -s /d/s- data",
    "create -e /d/e",
    "getEphemerals /d",
    "create -c /d/c",
    "create -c -e /d/c2",
    "create -t 5000 /d/t x",
    "create -t 1 -e /d/t2",
    "create /d/acl x world:anyone:cdrwa",
    "create /d/bad x bogus",
    "getAcl /d/acl",
    "getAcl -s /d/acl",
    "setAcl /d/acl world:anyone:r",
    "getAcl /d/acl",
    "setAcl /d/acl bogus",
    "setAcl -s /d/a world:anyone:cdrwa",
    "stat /d",
    "stat /nope",
    "getAllChildrenNumber /d",
    "delete /d",
    "delete -v 7 /d/a",
    "delete /nope",
    "sync /d",
    "whoami",
    "addauth digest user:pass",
    "whoami",
    "ls",
    "ls -x /d",
    "get",
    "foo",
    "create d",
    "get /d/../a",
    "printwatches",
    "get -w /d",
    "set /d w1",
    "create /d/w1",
    "stat -w /d/w1",
    "delete /d/w1",
    "create /d/w2",
    "addWatch -m PERSISTENT /d/a",
    "set /d/a p1",
    "create /d/w3",
    "removewatches /d/a",
    "create /d/w4",
    "removewatches /d/a",
    "addWatch -m bogus /d",
    "printwatches off",
    "printwatches",
    "get -w /d",
    "set /d w2",
    "setquota -n 5 /d",
    "listquota /d",
    "setquota -B 100 /d",
    "listquota /d",
    "setquota /d",
    "setquota -n 1 /zookeeper/quota/x",
    "delquota -n /d",
    "listquota /d",
    "delquota /d",
    "listquota /d",
    "delquota /d",
    "config",
    "config -c",
    "reconfig -remove 3",
    "history",
    "redo 5",
    "redo 500",
    "deleteall /d -b 2",
    "ls /",
    "deleteall /nope",
    // Switched back on well after `set /d w2`: zkCli.sh decides whether to print an event on
    // its event thread, so turning printing on right after the change races with that event.
    "printwatches on",
    "close",
    "ls /",
    "quit",
];
