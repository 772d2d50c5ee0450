//! The post-task checkpoint in a real terminal: `hooks/post-task-checkpoint.sh`
//! runs a fake `claude` (which records an ad-hoc task through `modelfit ledger
//! append`, as the capture hook would) inside tmux; the test reads the pane
//! and types the answers. Needs tmux (`apt-get install -y tmux`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

const QUESTION: &str = "Did this task complete successfully? (y/n/p)";

struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(name: &str) -> Tmux {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "these tests need tmux on PATH: apt-get install -y tmux");
        Tmux {
            socket: format!("modelfit-checkpoint-{}-{name}", std::process::id()),
        }
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .unwrap()
    }

    /// Starts `command` (a shell command line) in a fresh 160x40 terminal.
    fn start(&self, command: &str) {
        let out = self.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "160",
            "-y",
            "40",
            command,
        ]);
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pane(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-J", "-t", "t"]).stdout)
            .into_owned()
    }

    fn wait_for(&self, text: &str) -> String {
        let t = Instant::now();
        loop {
            let pane = self.pane();
            if pane.contains(text) {
                return pane;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "waited 30s for {text:?}; pane:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        assert!(self.tmux(&args).status.success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Only the server on this test's own socket.
        let _ = self.tmux(&["kill-server"]);
    }
}

/// A home, a workspace and a fake `claude` on PATH.
struct Setup {
    _dir: TempDir,
    home: PathBuf,
    ws: PathBuf,
    bin: PathBuf,
}

fn setup() -> Setup {
    let dir = TempDir::new().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (home, ws, bin) = (root.join("home"), root.join("ws"), root.join("bin"));
    for d in [&home, &ws, &bin] {
        std::fs::create_dir_all(d).unwrap();
    }
    let fake = bin.join("claude");
    std::fs::write(
        &fake,
        r#"#!/bin/sh
# Fake `claude -p`: records an ad-hoc task as the capture hook would, then
# exits with $FAKE_EXIT. FAKE_RECORD=0 records nothing; FAKE_SLEEP delays.
echo "fake claude working on: $*"
if [ -n "${FAKE_SLEEP:-}" ]; then sleep "$FAKE_SLEEP"; fi
if [ "${FAKE_RECORD:-1}" = 1 ]; then
    now=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
    id="dispatch-$(date +%s%3N)-fake01"
    printf '{"id": "%s", "type": "claude-code", "cwd": "%s", "session_id": "fake", "created_at": "%s", "started_at": "%s", "completed_at": "%s", "status": "complete", "workspace": "ws", "task": "%s", "model": "claude-sonnet-4-5", "status_history": []}' \
        "$id" "$(pwd -P)" "$now" "$now" "$now" "$*" | "$MODELFIT" ledger append >/dev/null
fi
exit "${FAKE_EXIT:-0}"
"#,
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    Setup {
        _dir: dir,
        home,
        ws,
        bin,
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("hooks/post-task-checkpoint.sh")
}

/// The pane's command: the checkpoint around the fake claude, then the exit code.
fn command(s: &Setup, extra_env: &str) -> String {
    format!(
        "cd {ws} && env -u CI -u CLAUDE_CODE_SESSION_ID MODELFIT={mf} ORCHESTRATOR_HOME={home} \
         PATH={bin}:$PATH FAKE_EXIT=3 {extra_env} {script} claude -p fix the parser; \
         echo EXIT=$?; sleep 600",
        ws = s.ws.display(),
        mf = common::bin().display(),
        home = s.home.display(),
        bin = s.bin.display(),
        script = script().display(),
    )
}

fn tasks(home: &Path) -> Vec<Value> {
    match std::fs::read(home.join("logs/dispatches.json")) {
        Ok(b) => serde_json::from_slice(&b).unwrap(),
        Err(_) => vec![],
    }
}

/// Runs the checkpoint, answers with `keys` once asked, and returns the pane
/// and the one task recorded.
fn answer(name: &str, keys: &[&str]) -> (String, Value) {
    let s = setup();
    let t = Tmux::new(name);
    t.start(&command(&s, ""));
    let pane = t.wait_for(QUESTION);
    assert!(
        pane.contains("fake claude working on: -p fix the parser"),
        "{pane}"
    );
    // The question names the task it is about.
    assert!(
        pane.contains("[claude-sonnet-4-5] \"-p fix the parser\""),
        "{pane}"
    );
    t.keys(keys);
    let pane = t.wait_for("EXIT=");
    // The wrapped command's exit code passes through.
    assert!(pane.contains("EXIT=3"), "{pane}");
    let mut all = tasks(&s.home);
    assert_eq!(all.len(), 1);
    (pane, all.remove(0))
}

#[test]
fn yes_records_success_by_a_person() {
    let (pane, r) = answer("y", &["y", "Enter"]);
    assert_eq!(r["outcome"], "success");
    assert_eq!(r["outcome_source"], "human");
    assert!(r["rated_at"].is_string());
    assert!(
        pane.contains("rated success (newest task of this directory)"),
        "{pane}"
    );
}

#[test]
fn no_records_failure() {
    let (_, r) = answer("n", &["N", "Enter"]);
    assert_eq!(r["outcome"], "failure");
    assert_eq!(r["outcome_source"], "human");
}

#[test]
fn p_records_partial() {
    let (_, r) = answer("p", &["partial", "Enter"]);
    assert_eq!(r["outcome"], "partial");
}

#[test]
fn enter_skips_and_leaves_the_task_unrated() {
    let (pane, r) = answer("enter", &["Enter"]);
    assert!(r.get("outcome").is_none(), "{r}");
    assert!(r.get("rated_at").is_none(), "{r}");
    assert!(pane.contains("skipped;"), "{pane}");
}

#[test]
fn garbage_asks_again() {
    let s = setup();
    let t = Tmux::new("garbage");
    t.start(&command(&s, ""));
    t.wait_for(QUESTION);
    t.keys(&["maybe", "Enter"]);
    t.wait_for("Please answer y, n or p (Enter skips)");
    assert!(tasks(&s.home)[0].get("outcome").is_none());
    t.keys(&["yes", "Enter"]);
    t.wait_for("EXIT=3");
    assert_eq!(tasks(&s.home)[0]["outcome"], "success");
}

#[test]
fn no_answer_times_out_and_leaves_the_task_unrated() {
    let s = setup();
    let t = Tmux::new("timeout");
    let started = Instant::now();
    t.start(&command(&s, "MODELFIT_CHECKPOINT_TIMEOUT=2"));
    t.wait_for(QUESTION);
    let pane = t.wait_for("EXIT=");
    assert!(
        pane.contains("No answer after 2s; the task is left unrated."),
        "{pane}"
    );
    assert!(pane.contains("EXIT=3"), "{pane}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    let r = &tasks(&s.home)[0];
    assert!(
        r.get("outcome").is_none() && r.get("rated_at").is_none(),
        "{r}"
    );
}

#[test]
fn keys_typed_while_the_task_ran_do_not_answer() {
    let s = setup();
    let t = Tmux::new("typeahead");
    t.start(&command(&s, "FAKE_SLEEP=2"));
    t.wait_for("fake claude working on"); // the task runs (for 2 s)
    t.keys(&["y", "Enter"]); // typed while "claude" sleeps
    t.wait_for(QUESTION);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        tasks(&s.home)[0].get("outcome").is_none(),
        "type-ahead answered the question"
    );
    t.keys(&["n", "Enter"]);
    t.wait_for("EXIT=3");
    assert_eq!(tasks(&s.home)[0]["outcome"], "failure");
}

#[test]
fn nothing_recorded_says_so_and_asks_nothing() {
    let s = setup();
    let t = Tmux::new("none");
    t.start(&command(&s, "FAKE_RECORD=0"));
    let pane = t.wait_for("EXIT=");
    assert!(
        pane.contains(&format!("no task recorded in {}", s.ws.display())),
        "{pane}"
    );
    assert!(pane.contains("no rating recorded for this run"), "{pane}");
    assert!(!pane.contains(QUESTION), "{pane}");
    assert!(pane.contains("EXIT=3"), "{pane}");
}

#[test]
fn an_older_task_of_the_directory_is_not_the_one_asked_about() {
    // A task recorded before the checkpoint started belongs to another run.
    let s = setup();
    let t = Tmux::new("older");
    std::fs::create_dir_all(s.home.join("logs")).unwrap();
    std::fs::write(
        s.home.join("logs/dispatches.json"),
        format!(
            r#"[{{"id": "dispatch-1-old", "type": "claude-code", "cwd": "{}", "created_at": "2026-01-01T00:00:00.000Z", "started_at": "2026-01-01T00:00:00.000Z", "status": "complete", "workspace": "ws", "task": "old", "model": "opus", "status_history": []}}]"#,
            s.ws.display()
        ),
    )
    .unwrap();
    t.start(&command(&s, "FAKE_RECORD=0"));
    let pane = t.wait_for("EXIT=");
    assert!(pane.contains("no task recorded in"), "{pane}");
    assert!(tasks(&s.home)[0].get("outcome").is_none());
}

#[test]
fn stdin_on_dev_null_in_a_terminal_asks_nothing() {
    let s = setup();
    let t = Tmux::new("devnull");
    std::fs::create_dir_all(s.home.join("logs")).unwrap();
    std::fs::write(
        s.home.join("logs/dispatches.json"),
        r#"[{"id": "dispatch-1-x", "status": "complete", "task": "x", "status_history": []}]"#,
    )
    .unwrap();
    t.start(&format!(
        "env -u CI {mf} --home {home} rate dispatch-1-x < /dev/null; echo EXIT=$?; sleep 600",
        mf = common::bin().display(),
        home = s.home.display()
    ));
    let pane = t.wait_for("EXIT=");
    assert!(pane.contains("not asking (stdin is closed)"), "{pane}");
    assert!(pane.contains("EXIT=0"), "{pane}");
}
