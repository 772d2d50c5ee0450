//! Outcome evidence and hook hardening through the binary: verdicts from the
//! transcript and the next prompt, the orchestrator's verdict behind a stale
//! `outcome_source`, complexity, and issue 12 rows 1, 2, 3 and 14. Every
//! spawn is bounded by a timeout that fails the test instead of hanging.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::{json, Value};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_modelfit");

struct Env {
    tmp: TempDir,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        for d in ["home/logs/modelfit", "ws", "fake", "projects"] {
            fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        fs::write(
            tmp.path().join("home/logs/modelfit/config.json"),
            r#"{"learn_every": 0}"#,
        )
        .unwrap();
        Env { tmp }
    }
    fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }
    fn ws(&self) -> String {
        fs::canonicalize(self.tmp.path().join("ws"))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
    fn transcript(&self) -> PathBuf {
        self.tmp.path().join("projects/s1.jsonl")
    }
    fn ledger(&self) -> Vec<Value> {
        fs::read(self.home().join("logs/dispatches.json"))
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or_default()
    }
    fn log(&self) -> String {
        fs::read_to_string(self.home().join("logs/modelfit/modelfit.log")).unwrap_or_default()
    }
    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("modelfit").unwrap();
        c.arg("--home")
            .arg(self.home())
            .env("HOME", self.tmp.path().join("fake"))
            .env_remove("ORCHESTRATOR_HOME")
            .env_remove("MODELFIT_FAILPOINT")
            .timeout(Duration::from_secs(20));
        c
    }
    fn hook(&self, payload: &Value, now: &str) {
        let out = self
            .cmd()
            .arg("hook")
            .env("MODELFIT_NOW", now)
            .write_stdin(payload.to_string())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "hook exit status");
        assert!(out.stdout.is_empty(), "hook printed on stdout");
    }
    fn payload(&self, event: &str, transcript: &Path) -> Value {
        json!({"hook_event_name": event, "session_id": "s1", "cwd": self.ws(),
               "transcript_path": transcript, "permission_mode": "default"})
    }
    fn prompt(&self, text: &str, now: &str) {
        let mut p = self.payload("UserPromptSubmit", &self.transcript());
        p["prompt"] = json!(text);
        self.hook(&p, now);
    }
    fn stop(&self, now: &str) {
        let mut p = self.payload("Stop", &self.transcript());
        p["stop_hook_active"] = json!(false);
        self.hook(&p, now);
    }
    fn append(&self, lines: &[Value]) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.transcript())
            .unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    }
}

fn user(text: &str) -> Value {
    json!({"type": "user", "sessionId": "s1", "timestamp": "2026-11-02T10:00:01.000Z",
           "message": {"role": "user", "content": text}})
}

fn assistant(content: Value, id: &str) -> Value {
    json!({"type": "assistant", "sessionId": "s1", "timestamp": "2026-11-02T10:00:02.000Z", "requestId": format!("req_{id}"),
           "message": {"id": format!("msg_{id}"), "model": "claude-sonnet-4-5", "role": "assistant", "content": content,
                       "usage": {"input_tokens": 3, "output_tokens": 20, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1000}}})
}

fn bash(id: &str, cmd: &str, out: &str, is_error: bool) -> Vec<Value> {
    vec![
        assistant(
            json!([{"type": "tool_use", "id": id, "name": "Bash", "input": {"command": cmd}}]),
            id,
        ),
        json!({"type": "user", "sessionId": "s1", "timestamp": "2026-11-02T10:00:03.000Z",
               "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": out, "is_error": is_error}]}}),
    ]
}

fn text(t: &str, id: &str) -> Value {
    assistant(json!([{"type": "text", "text": t}]), id)
}

/// A task whose last test run fails, then a rating in the next prompt.
#[test]
fn a_failing_last_run_is_a_failure_and_a_rating_is_a_persons_verdict() {
    let e = Env::new();
    e.prompt("fix the parser", "2026-11-02T10:00:00Z");
    let mut lines = vec![user("fix the parser")];
    lines.extend(bash(
        "t1",
        "pytest -q",
        "Exit code 1\n=== 1 failed, 4 passed in 0.2s ===",
        true,
    ));
    lines.extend(bash("t2", "grep -rn nothing src", "Exit code 1", true));
    lines.push(text("I changed the tokenizer; it should work now.", "a1"));
    e.append(&lines);
    e.stop("2026-11-02T10:05:00Z");
    let r = &e.ledger()[0];
    assert_eq!(r["outcome"], "failure", "{r}");
    assert!(r["p_success"].as_f64().unwrap() < 0.3, "{r}");
    assert_eq!(r["outcome_sources"]["tests"]["outcome"], "failure");
    assert_eq!(r["complexity_source"], "estimated");
    assert!(r["outcome_evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["source"] == "tests" && x["signal"] == "fail"));

    // The next prompt rates it 9/10: a person's verdict wins.
    e.prompt("9/10, thanks", "2026-11-02T10:06:00Z");
    let r = &e.ledger()[0];
    assert_eq!(r["outcome"], "success", "{r}");
    assert_eq!(r["outcome_source"], "human");
    assert_eq!(r["outcome_sources"]["human"]["rating"], 9.0);
    assert_eq!(r["rating"], 9.0);
    assert!(r["p_success"].as_f64().unwrap() > 0.9);
}

/// A green last run after a red one, then a complaint in the next prompt.
#[test]
fn a_correction_in_the_next_prompt_lands_on_the_previous_task() {
    let e = Env::new();
    e.prompt(
        "add pagination to the orders endpoint",
        "2026-11-02T10:00:00Z",
    );
    let mut lines = vec![user("add pagination to the orders endpoint")];
    lines.extend(bash(
        "t1",
        "cargo test",
        "Exit code 101\ntest result: FAILED. 3 passed; 1 failed;",
        true,
    ));
    lines.extend(bash(
        "t2",
        "cargo test",
        "test result: ok. 4 passed; 0 failed;",
        false,
    ));
    lines.push(text("Done, all tests pass.", "a1"));
    e.append(&lines);
    e.stop("2026-11-02T10:05:00Z");
    let r = &e.ledger()[0];
    assert_eq!(r["outcome"], "success", "{r}");
    let p_before = r["p_success"].as_f64().unwrap();
    assert!(p_before > 0.8);

    e.prompt(
        "it still returns all the rows, that doesn't work",
        "2026-11-02T10:07:00Z",
    );
    let r = &e.ledger()[0];
    assert_eq!(
        r["outcome_sources"]["followup"]["outcome"], "failure",
        "{r}"
    );
    assert!(r["p_success"].as_f64().unwrap() < p_before);

    // Two hours later the next prompt says nothing about it.
    let e2 = Env::new();
    e2.prompt("rename the module", "2026-11-02T10:00:00Z");
    e2.append(&[user("rename the module"), text("Renamed.", "a1")]);
    e2.stop("2026-11-02T10:01:00Z");
    e2.prompt("that doesn't work", "2026-11-02T13:00:00Z");
    assert!(e2.ledger()[0]["outcome_sources"].get("followup").is_none());
}

/// Issue 9 §6: the orchestrator's `update_task_outcome` rewrote `outcome`
/// and left `outcome_source: "hook"`; CI and the hook must not overwrite it.
#[test]
fn a_verdict_written_by_the_orchestrator_behind_a_stale_source_stands() {
    let e = Env::new();
    e.prompt("add a health check", "2026-11-02T10:00:00Z");
    e.append(&[user("add a health check"), text("Done.", "a1")]);
    e.stop("2026-11-02T10:01:00Z");
    let path = e.home().join("logs/dispatches.json");
    let mut v: Vec<Value> = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(v[0]["outcome"], "success");
    assert_eq!(v[0]["outcome_source"], "hook");
    let id = v[0]["id"].as_str().unwrap().to_string();
    // What update_task_outcome does: outcome only.
    v[0]["outcome"] = json!("failure");
    fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();

    let out = e
        .cmd()
        .args(["ci", "--status", "success", "--task", &id])
        .env("MODELFIT_NOW", "2026-11-02T10:30:00Z")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = &e.ledger()[0];
    assert_eq!(r["outcome"], "failure", "{r}");
    assert_eq!(r["outcome_source"], "orchestrator");
    assert_eq!(r["outcome_sources"]["orchestrator"]["outcome"], "failure");
    assert_eq!(r["outcome_sources"]["ci"]["outcome"], "success");

    // Praise in the next prompt is evidence, not a verdict over a person's.
    e.prompt("thanks, perfect", "2026-11-02T10:31:00Z");
    let r = &e.ledger()[0];
    assert_eq!(r["outcome"], "failure", "{r}");
    assert_eq!(r["p_success"], 0.03);
    // A person through modelfit still wins.
    let out = e.cmd().args(["rate", &id, "y"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(e.ledger()[0]["outcome"], "success");
}

/// `rate ID --complexity LEVEL` sets a person's level without a verdict.
#[test]
fn a_person_sets_the_complexity() {
    let e = Env::new();
    e.prompt("fix typo in README", "2026-11-02T10:00:00Z");
    e.append(&[user("fix typo in README"), text("Fixed.", "a1")]);
    e.stop("2026-11-02T10:01:00Z");
    let id = e.ledger()[0]["id"].as_str().unwrap().to_string();
    let out = e
        .cmd()
        .args(["rate", &id, "--complexity", "complex"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = &e.ledger()[0];
    assert_eq!(r["complexity"], "complex");
    assert_eq!(r["complexity_source"], "person");
    assert_eq!(r["outcome"], "success", "no verdict was given");
    let out = e
        .cmd()
        .args(["rate", &id, "--complexity", "gigantic"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("simple"));
    // A later Stop refresh never overwrites a person's level.
    e.stop("2026-11-02T10:02:00Z");
    assert_eq!(e.ledger()[0]["complexity"], "complex");
}

/// Runs the hook with `stdin`, fails the test past `limit`.
fn run_bounded(
    home: &Path,
    stdin: Stdio,
    limit: Duration,
    feed: Option<&[u8]>,
) -> (i32, Vec<u8>, String, Duration) {
    let start = Instant::now();
    let mut child = StdCommand::new(BIN)
        .arg("--home")
        .arg(home)
        .arg("hook")
        .env_remove("MODELFIT_FAILPOINT")
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut held = None;
    if let Some(bytes) = feed {
        let mut w = child.stdin.take().unwrap();
        w.write_all(bytes).unwrap();
        held = Some(w); // kept open: no EOF
    }
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            drop(held);
            let out = child.wait_with_output().unwrap();
            return (
                status.code().unwrap_or(-1),
                out.stdout,
                String::from_utf8_lossy(&out.stderr).into_owned(),
                start.elapsed(),
            );
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("modelfit hook still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 12 row 1: stdin that never ends (a pipe held open, /dev/zero).
#[test]
fn stdin_that_never_ends_is_given_up_and_logged() {
    let e = Env::new();
    let payload = e.payload("SessionStart", &e.transcript()).to_string();
    let (code, out, _, took) = run_bounded(
        &e.home(),
        Stdio::piped(),
        Duration::from_secs(10),
        Some(payload.as_bytes()),
    );
    assert_eq!(code, 0);
    assert!(out.is_empty());
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(e.log().contains("no end"), "{}", e.log());

    let zero = fs::File::open("/dev/zero").unwrap();
    let (code, out, _, took) =
        run_bounded(&e.home(), Stdio::from(zero), Duration::from_secs(10), None);
    assert_eq!(code, 0);
    assert!(out.is_empty());
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(e.log().contains("larger than 16 MB"), "{}", e.log());
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a valid C string path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// Issue 12 row 2: a transcript path that blocks (a FIFO, /proc/kmsg).
#[test]
fn a_transcript_that_would_block_is_never_waited_for() {
    let e = Env::new();
    let fifo = e.tmp.path().join("projects/fifo.jsonl");
    mkfifo(&fifo);
    for path in [fifo.as_path(), Path::new("/proc/kmsg")] {
        for event in ["SessionStart", "UserPromptSubmit", "Stop", "SessionEnd"] {
            let mut p = e.payload(event, path);
            p["prompt"] = json!("look at the logs");
            let file = e.tmp.path().join("payload.json");
            fs::write(&file, p.to_string()).unwrap();
            let (code, out, err, _) = run_bounded(
                &e.home(),
                Stdio::from(fs::File::open(&file).unwrap()),
                Duration::from_secs(10),
                None,
            );
            assert_eq!(code, 0, "{event} {}", path.display());
            assert!(out.is_empty());
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}

/// Issue 12 row 3: a 50 GB sparse subagent transcript costs bounded time.
#[test]
fn a_huge_sparse_subagent_transcript_is_read_within_a_budget() {
    let e = Env::new();
    let sub = e.tmp.path().join("projects/s1/subagents");
    fs::create_dir_all(&sub).unwrap();
    let f = fs::File::create(sub.join("agent-abc.jsonl")).unwrap();
    f.set_len(50 << 30).unwrap();
    drop(f);
    e.prompt("summarise the repo", "2026-11-02T10:00:00Z");
    e.append(&[
        user("summarise the repo"),
        text("Here is the summary.", "a1"),
    ]);
    let mut p = e.payload("Stop", &e.transcript());
    p["stop_hook_active"] = json!(false);
    let file = e.tmp.path().join("payload.json");
    fs::write(&file, p.to_string()).unwrap();
    let (code, out, _, took) = run_bounded(
        &e.home(),
        Stdio::from(fs::File::open(&file).unwrap()),
        Duration::from_secs(30),
        None,
    );
    assert_eq!(code, 0);
    assert!(out.is_empty());
    // Debug build on a shared machine; a release build takes well under 1 s.
    assert!(took < Duration::from_secs(12), "{took:?}");
    assert_eq!(e.ledger().len(), 1, "the task is still recorded");
}

/// Issue 12 row 14: the ledger shrinks while the prompt hook links a
/// dispatch: no panic, the prompt recorded.
#[test]
fn a_ledger_shrinking_during_linking_costs_no_prompt() {
    let e = Env::new();
    let ws = e.ws();
    let pad = "x".repeat(200_000);
    let mut recs = Vec::new();
    for i in 0..20 {
        recs.push(
            json!({"id": format!("dispatch-{i}"), "workspace_path": ws, "status": "running",
            "task": "build it", "notes": pad,
            "status_history": [{"status": "running", "timestamp": "2026-11-02T09:59:00.000Z"}]}),
        );
    }
    let ledger = e.home().join("logs/dispatches.json");
    fs::write(&ledger, serde_json::to_string_pretty(&recs).unwrap()).unwrap();
    let mut p = e.payload("UserPromptSubmit", &e.transcript());
    p["prompt"] = json!("build it");
    let file = e.tmp.path().join("payload.json");
    fs::write(&file, p.to_string()).unwrap();
    let start = Instant::now();
    let child = StdCommand::new(BIN)
        .arg("--home")
        .arg(e.home())
        .arg("hook")
        .env("MODELFIT_FAILPOINT", "hook-link-pause")
        .env("MODELFIT_NOW", "2026-11-02T10:00:00Z")
        .stdin(Stdio::from(fs::File::open(&file).unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Shrink it in place while the hook holds the offsets it found.
    fs::OpenOptions::new()
        .write(true)
        .open(&ledger)
        .unwrap()
        .set_len(1000)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(start.elapsed() < Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(!e.log().contains("panic"), "{}", e.log());
    let state: Value =
        serde_json::from_slice(&fs::read(e.home().join("logs/modelfit/sessions/s1.json")).unwrap())
            .unwrap();
    assert_eq!(
        state["task"]["prompt"], "build it",
        "the prompt is recorded"
    );
}
