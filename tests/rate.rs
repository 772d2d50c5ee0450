//! `modelfit rate`: a person's verdict, by id or `last`, through the binary.
//! The terminal question itself is exercised under tmux in tests/checkpoint.rs.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::{json, Value};
use tempfile::TempDir;

const FIXTURE: &str = "tests/fixtures/jarvis/dispatches.json";

/// A home holding the fixture ledger, its paths moved under the temp dir.
fn fixture_home() -> TempDir {
    let dir = TempDir::new().unwrap();
    let text = std::fs::read_to_string(FIXTURE)
        .unwrap()
        .replace("/home/teruel/JARVIS", dir.path().to_str().unwrap());
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(ledger(dir.path()), text).unwrap();
    dir
}

/// A home holding exactly `records`.
fn home_with(records: Value) -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(
        ledger(dir.path()),
        serde_json::to_string_pretty(&records).unwrap(),
    )
    .unwrap();
    dir
}

fn ledger(home: &Path) -> PathBuf {
    home.join("logs/dispatches.json")
}

fn records(home: &Path) -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(ledger(home)).unwrap()).unwrap()
}

fn record(home: &Path, id: &str) -> Value {
    records(home)
        .into_iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

/// The binary with no CI variables and no Claude Code session, so the
/// test behaves the same on a laptop and in CI.
fn modelfit(home: &Path) -> Command {
    let mut c = common::modelfit();
    for k in ["CI", "CLAUDE_CODE_SESSION_ID", "ORCHESTRATOR_HOME", "PWD"] {
        c.env_remove(k);
    }
    c.arg("--home")
        .arg(home)
        .env("MODELFIT_NOW", "2026-03-10T12:00:00.000Z");
    c
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}
fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const DONE: &str = "dispatch-1772452800000-9656bj"; // outcome success, by the orchestrator

#[test]
fn rate_by_id_records_a_human_verdict_and_redacts_the_notes() {
    let home = fixture_home();
    let before = record(home.path(), DONE);
    let out = modelfit(home.path())
        .args([
            "rate",
            DONE,
            "n",
            "--notes",
            "broke login; ping bob@example.com key sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("rated failure"), "{}", stdout(&out));
    let r = record(home.path(), DONE);
    assert_eq!(r["outcome"], "failure");
    assert_eq!(r["outcome_source"], "human");
    assert_eq!(r["rated_at"], "2026-03-10T12:00:00.000Z");
    assert_eq!(r["outcome_updated_at"], "2026-03-10T12:00:00.000Z");
    let notes = r["outcome_notes"].as_str().unwrap();
    assert!(notes.starts_with("broke login; ping [REDACTED]"), "{notes}");
    assert!(
        !notes.contains("sk-ant") && !notes.contains("bob@"),
        "{notes}"
    );
    // The orchestrator's earlier verdict is kept beside the person's.
    assert_eq!(r["outcome_sources"]["orchestrator"]["outcome"], "success");
    assert_eq!(r["outcome_sources"]["human"]["outcome"], "failure");
    // Lifecycle fields belong to the orchestrator.
    for k in ["status", "started_at", "completed_at", "status_history"] {
        assert_eq!(r[k], before[k], "{k} changed");
    }
    // No cheaper-model claim unless asked for.
    assert!(r.get("cheaper_model_would_do").is_none());
    assert!(r.get("model_was_sufficient").is_none());
}

#[test]
fn only_the_rated_record_changes_byte_for_byte() {
    let home = fixture_home();
    let before = std::fs::read_to_string(ledger(home.path())).unwrap();
    modelfit(home.path())
        .args(["rate", DONE, "p"])
        .assert()
        .success();
    let after = std::fs::read_to_string(ledger(home.path())).unwrap();
    let start = before.find(&format!("\"id\": \"{DONE}\"")).unwrap();
    let start = before[..start].rfind("\n  {").unwrap();
    assert_eq!(&after[..start], &before[..start]);
    let end_before = before[start + 1..].find("\n  }").unwrap() + start + 1;
    let tail = &before[end_before + 4..];
    assert!(after.ends_with(tail), "bytes after the record changed");
    assert!(
        !after.ends_with('\n'),
        "the orchestrator writes no trailing newline"
    );
}

#[test]
fn every_accepted_spelling_of_a_verdict() {
    for (word, outcome) in [
        ("y", "success"),
        ("YES", "success"),
        ("n", "failure"),
        ("No", "failure"),
        ("p", "partial"),
        ("PARTIAL", "partial"),
    ] {
        let home = fixture_home();
        modelfit(home.path())
            .args(["rate", DONE, word])
            .assert()
            .success();
        assert_eq!(record(home.path(), DONE)["outcome"], outcome, "{word}");
    }
    let home = fixture_home();
    let out = modelfit(home.path())
        .args(["rate", DONE, "maybe"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("\"maybe\" is not a verdict"),
        "{}",
        stderr(&out)
    );
    assert_eq!(record(home.path(), DONE)["outcome"], "success");
}

#[test]
fn cheaper_would_do_writes_both_names_and_refuses_a_failure() {
    let home = fixture_home();
    modelfit(home.path())
        .args(["rate", DONE, "y", "--cheaper-would-do"])
        .assert()
        .success();
    let r = record(home.path(), DONE);
    assert_eq!(r["cheaper_model_would_do"], true);
    // The seed's field: false means "a downgrade would have worked".
    assert_eq!(r["model_was_sufficient"], false);

    let home = fixture_home();
    let out = modelfit(home.path())
        .args(["rate", DONE, "n", "--cheaper-would-do"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--cheaper-would-do"),
        "{}",
        stderr(&out)
    );
    assert_eq!(record(home.path(), DONE)["outcome"], "success");
}

#[test]
fn unknown_id_and_corrupt_ledger_are_errors_that_write_nothing() {
    let home = fixture_home();
    let out = modelfit(home.path())
        .args(["rate", "dispatch-0-nothere", "y"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no record with id \"dispatch-0-nothere\""),
        "{}",
        stderr(&out)
    );

    let path = ledger(home.path());
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.insert_str(text.len() / 2, "{{{");
    std::fs::write(&path, &text).unwrap();
    let out = modelfit(home.path())
        .args(["rate", DONE, "y"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not valid JSON"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

/// Workspaces nest (…/diemaster and …/diemaster/services/status): `last`
/// compares paths exactly, and takes the task with the latest activity,
/// not the last one in the file.
fn nested_home() -> (TempDir, PathBuf, PathBuf) {
    let dir = TempDir::new().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let parent = root.join("ws/diemaster");
    let child = parent.join("services/status");
    std::fs::create_dir_all(&child).unwrap();
    let (p, c) = (parent.to_str().unwrap(), child.to_str().unwrap());
    let recs = json!([
        {"id": "dispatch-1-child-old", "workspace_path": c, "status": "complete",
         "created_at": "2026-03-01T08:00:00.000Z", "started_at": "2026-03-09T08:00:00.000Z",
         "completed_at": "2026-03-09T09:00:00.000Z", "task": "old dispatch, run late", "model": "sonnet",
         "status_history": []},
        {"id": "dispatch-2-child-new", "workspace_path": c, "status": "complete",
         "created_at": "2026-03-05T08:00:00.000Z", "started_at": "2026-03-05T08:00:00.000Z",
         "completed_at": "2026-03-05T09:00:00.000Z", "task": "newer dispatch, run early", "status_history": []},
        {"id": "dispatch-3-parent", "workspace_path": p, "status": "complete",
         "created_at": "2026-03-09T10:00:00.000Z", "started_at": "2026-03-09T10:00:00.000Z",
         "completed_at": "2026-03-09T10:30:00.000Z", "task": "parent", "status_history": []},
        {"type": "batch", "id": "batch-4", "workspace_path": c, "created_at": "2026-03-09T23:00:00.000Z"},
        {"type": "pr-review", "workspace_path": c, "created_at": "2026-03-09T23:00:00.000Z", "status": "complete"}
    ]);
    std::fs::create_dir_all(root.join("logs")).unwrap();
    std::fs::write(
        root.join("logs/dispatches.json"),
        serde_json::to_string_pretty(&recs).unwrap(),
    )
    .unwrap();
    (dir, parent, child)
}

#[test]
fn last_is_the_newest_task_of_exactly_this_directory() {
    let (home, parent, child) = nested_home();
    let out = modelfit(home.path())
        .current_dir(&child)
        .args(["rate", "last", "y"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .contains("dispatch-1-child-old: rated success (newest task of this directory)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        record(home.path(), "dispatch-1-child-old")["outcome"],
        "success"
    );
    assert!(record(home.path(), "dispatch-3-parent")
        .get("outcome")
        .is_none());

    // One positional verdict means `last`.
    modelfit(home.path())
        .current_dir(&parent)
        .args(["rate", "n"])
        .assert()
        .success();
    assert_eq!(
        record(home.path(), "dispatch-3-parent")["outcome"],
        "failure"
    );
    assert!(record(home.path(), "dispatch-2-child-new")
        .get("outcome")
        .is_none());
}

#[test]
fn last_matches_the_cwd_of_ad_hoc_records_and_the_session_inside_claude_code() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let here = root.join("proj");
    std::fs::create_dir_all(&here).unwrap();
    let h = here.to_str().unwrap();
    let recs = json!([
        {"id": "dispatch-10-adhoc", "type": "claude-code", "cwd": h, "session_id": "s-1",
         "created_at": "2026-03-09T08:00:00.000Z", "started_at": "2026-03-09T08:00:00.000Z",
         "status": "complete", "workspace": "proj", "task": "ad hoc", "model": "opus", "status_history": []},
        {"id": "dispatch-11-other-session", "type": "claude-code", "cwd": "/elsewhere", "session_id": "s-2",
         "created_at": "2026-03-09T07:00:00.000Z", "started_at": "2026-03-09T07:00:00.000Z",
         "status": "complete", "workspace": "x", "task": "elsewhere", "model": "haiku", "status_history": []}
    ]);
    std::fs::create_dir_all(root.join("logs")).unwrap();
    std::fs::write(
        root.join("logs/dispatches.json"),
        serde_json::to_string_pretty(&recs).unwrap(),
    )
    .unwrap();

    modelfit(&root)
        .current_dir(&here)
        .args(["rate", "p"])
        .assert()
        .success();
    assert_eq!(record(&root, "dispatch-10-adhoc")["outcome"], "partial");

    // Inside Claude Code the session decides, wherever the command runs.
    let out = modelfit(&root)
        .current_dir(&here)
        .env("CLAUDE_CODE_SESSION_ID", "s-2")
        .args(["rate", "y"])
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("newest task of this Claude Code session"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        record(&root, "dispatch-11-other-session")["outcome"],
        "success"
    );
    assert_eq!(record(&root, "dispatch-10-adhoc")["outcome"], "partial");

    // A session with no task of its own falls back to the directory.
    modelfit(&root)
        .current_dir(&here)
        .env("CLAUDE_CODE_SESSION_ID", "s-unknown")
        .args(["rate", "n"])
        .assert()
        .success();
    assert_eq!(record(&root, "dispatch-10-adhoc")["outcome"], "failure");
}

#[test]
fn last_with_nothing_to_rate_says_where_it_looked() {
    let (home, _parent, child) = nested_home();
    let out = modelfit(home.path())
        .current_dir(&child)
        .args(["rate", "last", "y", "--since", "2026-03-09T12:00:00Z"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains(&format!("no task recorded in {}", child.display())),
        "{e}"
    );
    assert!(e.contains("since 2026-03-09T12:00:00Z"), "{e}");
    // --since keeps tasks active after it: the old dispatch that ran late.
    modelfit(home.path())
        .current_dir(&child)
        .args(["rate", "y", "--since", "2026-03-09T00:00:00Z"])
        .assert()
        .success();
    assert_eq!(
        record(home.path(), "dispatch-1-child-old")["outcome"],
        "success"
    );
    let out = modelfit(home.path())
        .args(["rate", "y", "--since", "yesterday"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("--since \"yesterday\" is not a time"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_later_person_overrides_an_earlier_person() {
    let home = fixture_home();
    modelfit(home.path())
        .args(["outcome", DONE, "failure"])
        .assert()
        .success();
    modelfit(home.path())
        .args(["rate", DONE, "p"])
        .assert()
        .success();
    let r = record(home.path(), DONE);
    assert_eq!(r["outcome"], "partial");
    assert_eq!(r["outcome_source"], "human");
    assert_eq!(r["outcome_sources"]["manual"]["outcome"], "failure");
}

/// Spawns `rate` with no verdict in its own session (no controlling
/// terminal) and stdin closed or a pipe; it must return at once, unchanged.
fn no_terminal(
    home: &Path,
    close_stdin: bool,
    ci: Option<&str>,
) -> (std::process::Output, Duration) {
    let mut c = common::modelfit_std();
    c.args([
        "--home",
        home.to_str().unwrap(),
        "rate",
        DONE,
        "--timeout",
        "30",
    ])
    .env_remove("CI")
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if let Some(v) = ci {
        c.env("CI", v);
    }
    // SAFETY: setsid and close are async-signal-safe.
    unsafe {
        c.pre_exec(move || {
            libc::setsid();
            if close_stdin {
                libc::close(0);
            }
            Ok(())
        });
    }
    let t = Instant::now();
    // The pipe stays open (never written): only the missing terminal stops the question.
    let child = c.spawn().unwrap();
    let out = child.wait_with_output().unwrap();
    (out, t.elapsed())
}

#[test]
fn without_a_terminal_it_returns_at_once_and_changes_nothing() {
    let home = fixture_home();
    let before = std::fs::read(ledger(home.path())).unwrap();
    for (close, ci, why) in [
        (false, None, "there is no controlling terminal"),
        (true, None, "stdin is closed"),
        (false, Some("true"), "CI is set"),
    ] {
        let (out, took) = no_terminal(home.path(), close, ci);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(took < Duration::from_secs(1), "took {took:?}");
        let e = stderr(&out);
        assert!(e.contains(&format!("not asking ({why})")), "{e}");
        assert!(e.contains(&format!("modelfit rate {DONE} y|n|p")), "{e}");
        assert!(out.stdout.is_empty());
        assert_eq!(std::fs::read(ledger(home.path())).unwrap(), before);
    }
}

#[test]
fn a_timeout_of_zero_is_refused() {
    let home = home_with(json!([]));
    let out = modelfit(home.path())
        .args(["rate", "--timeout", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--timeout must be at least 1 second"));
}

#[test]
fn notes_longer_than_the_limit_are_refused() {
    let home = fixture_home();
    let before = std::fs::read(ledger(home.path())).unwrap();
    let notes = "é".repeat(10_001);
    let out = modelfit(home.path())
        .args(["rate", DONE, "y", "--notes", &notes])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--notes is 10001 characters long"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(ledger(home.path())).unwrap(), before);
}

#[test]
fn stray_non_object_elements_do_not_stop_the_scan() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let here = root.join("p");
    std::fs::create_dir_all(&here).unwrap();
    std::fs::create_dir_all(root.join("logs")).unwrap();
    let text = format!(
        "[\n  1,\n  \"text\",\n  null,\n  [\n    {{\"id\": \"nested\"}}\n  ],\n  {{\n    \"id\": \"dispatch-5-ok\",\n    \"cwd\": \"{}\",\n    \"created_at\": \"2026-03-09T08:00:00.000Z\",\n    \"task\": \"x\"\n  }},\n  true\n]",
        here.display()
    );
    std::fs::write(root.join("logs/dispatches.json"), &text).unwrap();
    modelfit(&root)
        .current_dir(&here)
        .args(["rate", "y"])
        .assert()
        .success();
    let after = std::fs::read_to_string(root.join("logs/dispatches.json")).unwrap();
    assert!(
        after.starts_with("[\n  1,\n  \"text\",\n  null,\n  [\n    {\"id\": \"nested\"}\n  ],"),
        "{after}"
    );
    assert_eq!(record(&root, "dispatch-5-ok")["outcome"], "success");
}

#[test]
fn concurrent_raters_lose_nothing() {
    let home = fixture_home();
    let ids: Vec<String> = records(home.path())
        .iter()
        .filter(|r| r["id"].as_str().is_some_and(|i| i.starts_with("dispatch-")))
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() >= 15);
    let children: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut c = common::modelfit_std();
            c.args(["--home", home.path().to_str().unwrap()]);
            if i % 3 == 0 {
                c.args(["ci", "--status", "failure", "--task", id]);
            } else {
                c.args(["rate", id, "p"]);
            }
            c.env_remove("CI")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for ch in children {
        let out = ch.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (i, id) in ids.iter().enumerate() {
        let r = record(home.path(), id);
        if i % 3 == 0 {
            assert_eq!(r["ci_status"], "failure", "{id}");
        } else {
            assert_eq!(r["outcome_sources"]["human"]["outcome"], "partial", "{id}");
            assert_eq!(r["outcome"], "partial", "{id}");
        }
    }
    assert_eq!(records(home.path()).len(), 29);
}
