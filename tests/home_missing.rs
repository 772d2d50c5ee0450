//! Issue 12 row 16: a home that does not exist (`--home` pointing nowhere,
//! or `ORCHESTRATOR_HOME` unset and no `~/JARVIS`) is refused by every command
//! but `hooks` and `config`, naming it and how to create or choose one;
//! `doctor` fails on it; the hook exits 0 silently and creates nothing.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

fn run(env_home: &Path, args: &[&str], stdin: &str) -> Output {
    let mut c = common::modelfit();
    c.env("HOME", env_home)
        .env("CLAUDE_CONFIG_DIR", env_home.join(".claude"))
        .env_remove("ORCHESTRATOR_HOME")
        .env_remove("MODELFIT_NOW")
        .args(args)
        .write_stdin(stdin)
        .timeout(Duration::from_secs(20));
    c.output().unwrap()
}

/// Every file and folder under `dir`, for "nothing was created" checks.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            out.push(e.path().display().to_string());
            if e.path().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

const REFUSING: &[&[&str]] = &[
    &["learn"],
    &["learn", "analyze"],
    &["learn", "report"],
    &["tasks"],
    &["tasks", "--unrated"],
    &["outcome", "dispatch-1-aaaaaa", "success"],
    &["rate", "dispatch-1-aaaaaa", "y"],
    &["ci", "--status", "success", "--task", "dispatch-1-aaaaaa"],
    &["select", "medium", "add an endpoint"],
    &["rotate"],
    &["ledger", "check"],
    &["mcp"],
];

#[test]
fn every_command_refuses_a_home_given_by_flag_that_does_not_exist() {
    for name in ["missing", "two words", "nested/deeper/still"] {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join(name);
        let before = tree(t.path());
        for args in REFUSING {
            let mut full = vec!["--home", home.to_str().unwrap()];
            full.extend_from_slice(args);
            let out = run(t.path(), &full, "");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(err.contains(home.to_str().unwrap()), "{args:?}: {err}");
            assert!(err.contains("does not exist"), "{args:?}: {err}");
            assert!(err.contains("--home"), "{args:?}: {err}");
            assert!(err.contains("mkdir -p"), "{args:?}: {err}");
            assert!(out.stdout.is_empty(), "{args:?}");
        }
        assert_eq!(tree(t.path()), before, "nothing created");
    }
}

#[test]
fn the_default_home_missing_is_refused_and_named() {
    let t = tempfile::tempdir().unwrap();
    let out = run(t.path(), &["learn"], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let jarvis = t.path().join("JARVIS");
    assert!(err.contains(jarvis.to_str().unwrap()), "{err}");
    assert!(err.contains("ORCHESTRATOR_HOME"), "{err}");
    assert!(!jarvis.exists(), "learn must not create ~/JARVIS");

    // ORCHESTRATOR_HOME naming a folder that does not exist: named, with its source.
    let gone = t.path().join("gone");
    let out = common::modelfit()
        .env("HOME", t.path())
        .env("ORCHESTRATOR_HOME", &gone)
        .args(["tasks", "--unrated"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(gone.to_str().unwrap()), "{err}");
    assert!(err.contains("$ORCHESTRATOR_HOME"), "{err}");
    assert!(!gone.exists());

    // A home that is a file is no better.
    std::fs::write(&jarvis, "x").unwrap();
    let out = run(t.path(), &["tasks"], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is not a folder"), "{err}");
}

#[test]
fn doctor_fails_on_a_missing_home() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("nowhere");
    let out = run(t.path(), &["--home", home.to_str().unwrap(), "doctor"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL"), "{text}");
    assert!(
        text.contains(&format!("{} does not exist", home.display())),
        "{text}"
    );
    assert!(!text.contains("all good"), "{text}");
    assert!(!home.exists());
}

#[test]
fn the_hook_exits_0_silently_and_creates_nothing() {
    let t = tempfile::tempdir().unwrap();
    let before = tree(t.path());
    let payload = r#"{"session_id":"s1","hook_event_name":"UserPromptSubmit","prompt":"fix it","cwd":"/tmp","transcript_path":"/nonexistent.jsonl"}"#;
    for args in [vec!["hook"], vec!["--home", "/nonexistent/home", "hook"]] {
        let out = run(t.path(), &args, payload);
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stdout.is_empty());
        assert!(out.stderr.is_empty());
    }
    assert_eq!(tree(t.path()), before);
    assert!(!Path::new("/nonexistent/home").exists());
}

#[test]
fn hooks_and_config_still_work_without_a_home() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("later");
    let out = run(
        t.path(),
        &["--home", home.to_str().unwrap(), "hooks", "install"],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(t.path(), &["--home", home.to_str().unwrap(), "config"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
