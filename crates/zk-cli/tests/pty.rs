//! zkcli as a person uses it, in a real terminal (tmux): the prompt, typing commands, tab
//! completion of commands and of znode paths from the server, Ctrl-C dropping a line, the history
//! file, Ctrl-D exiting. The screen is read back with `capture-pane`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use zk_testkit::ApacheServer;

/// A tmux server of our own (its own socket), killed when dropped.
struct Terminal {
    socket: PathBuf,
}

impl Terminal {
    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is not installed: the pty test needs it; run `apt-get install -y tmux`")
    }

    /// Runs `command` in a 160x40 terminal.
    fn start(dir: &Path, command: &str) -> Self {
        let terminal = Terminal {
            socket: dir.join("tmux.sock"),
        };
        let out = terminal.tmux(&[
            "new-session",
            "-d",
            "-s",
            "zk",
            "-x",
            "160",
            "-y",
            "40",
            command,
        ]);
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        terminal
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "zk"]).stdout).into_owned()
    }

    /// Waits until the screen shows `text` `times` times (prompts repeat, so counting matters).
    /// `capture-pane` trims trailing spaces, so texts end without them.
    fn wait_for(&self, text: &str, times: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= times {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {text:?} {times} time(s):\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn type_text(&self, text: &str) {
        assert!(
            self.tmux(&["send-keys", "-t", "zk", "-l", text])
                .status
                .success()
        );
    }

    fn press(&self, key: &str) {
        assert!(self.tmux(&["send-keys", "-t", "zk", key]).status.success());
    }

    fn is_running(&self) -> bool {
        self.tmux(&["has-session", "-t", "zk"]).status.success()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

#[test]
fn interactive_session_with_completion_history_and_ctrl_keys() {
    let server = ApacheServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let history = dir.path().join("history");
    let addr = server.address();
    let command = format!(
        "env TERM=xterm TZ=UTC ZKCLI_HISTORY={} {} -server {addr}",
        history.display(),
        env!("CARGO_BIN_EXE_zkcli"),
    );
    let term = Terminal::start(dir.path(), &command);
    term.wait_for("JLine support is enabled", 1);
    // The connection event prints above the prompt, as zkCli does; type only once it is there.
    term.wait_for("WatchedEvent state:SyncConnected type:None path:null", 1);
    term.wait_for(") 0]", 1);

    term.type_text("create /ptynode hello");
    term.press("Enter");
    term.wait_for("Created /ptynode", 1);
    term.wait_for(&format!("[zk: {addr}(CONNECTED) 1]"), 1);

    // Znode path completion from the server: "/ptyn" + Tab completes to "/ptynode".
    term.type_text("get /ptyn");
    term.press("Tab");
    term.wait_for("get /ptynode", 1);
    term.press("Enter");
    term.wait_for("(CONNECTED) 2]", 1);
    assert!(
        term.screen().lines().any(|l| l == "hello"),
        "{}",
        term.screen()
    );

    // Command completion: "getAllCh" + Tab becomes "getAllChildrenNumber".
    term.type_text("getAllCh");
    term.press("Tab");
    term.wait_for("getAllChildrenNumber", 1);
    term.type_text("/ptynode");
    term.press("Enter");
    term.wait_for("(CONNECTED) 3]", 1);

    // Ctrl-C drops the line being typed; the counter does not move and nothing is deleted.
    term.type_text("delete /ptynode");
    term.press("C-c");
    term.wait_for("(CONNECTED) 3]", 2);
    term.type_text("ls /");
    term.press("Enter");
    term.wait_for("[ptynode, zookeeper]", 1);
    term.wait_for("(CONNECTED) 4]", 1);

    // Ctrl-D exits.
    term.press("C-d");
    let deadline = Instant::now() + Duration::from_secs(30);
    while term.is_running() {
        assert!(
            Instant::now() < deadline,
            "zkcli did not exit on Ctrl-D:\n{}",
            term.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let saved = std::fs::read_to_string(&history).expect("history file");
    assert!(saved.contains("create /ptynode hello"), "{saved}");
    assert!(saved.contains("ls /"), "{saved}");
    assert!(
        !saved.contains("delete /ptynode"),
        "a cancelled line is not history: {saved}"
    );
}
