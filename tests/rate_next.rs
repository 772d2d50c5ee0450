//! `modelfit rate --next`: the unrated task whose verdict would move a pending
//! learn decision most, through the binary. The learning file is written in
//! the shape `modelfit learn` writes (patterns with `success_rate` /
//! `information_size`, suggestions with `status`, `type`, `change`), cut to
//! the fields the pick reads.

mod common;

use std::path::Path;

use serde_json::{json, Value};
use tempfile::TempDir;

const IN_CELL: &str = "dispatch-1772900000000-incell";
const NEWEST: &str = "dispatch-1773100000000-newest";

fn task(id: &str, at: &str, model: &str, level: &str, extra: Value) -> Value {
    let mut r = json!({
        "id": id,
        "type": "dispatch",
        "status": "completed",
        "created_at": at,
        "completed_at": at,
        "model": model,
        "complexity": level,
        "task": "some work",
    });
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

/// A home whose learning file has one open suggestion (haiku for simple
/// tasks) and whose ledger has unrated tasks inside and outside its cells.
/// The newest unrated task is a medium one, which bears on no open decision.
fn home(with_suggestion: bool) -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir_all(dir.path().join("logs/modelfit")).unwrap();
    let records = json!([
        task(
            IN_CELL,
            "2026-03-07T10:00:00Z",
            "claude-haiku-4-5",
            "simple",
            json!({})
        ),
        // Rated by a person: never picked, though newer and in the cell.
        task(
            "dispatch-1773000000000-rated",
            "2026-03-08T10:00:00Z",
            "claude-haiku-4-5",
            "simple",
            json!({"outcome": "success", "outcome_source": "human"})
        ),
        // Not finished: never picked.
        json!({"id": "dispatch-1773050000000-running", "type": "dispatch", "status": "in_progress",
               "created_at": "2026-03-08T12:00:00Z", "model": "claude-haiku-4-5", "complexity": "simple"}),
        task(
            "dispatch-1772950000000-opus",
            "2026-03-07T12:00:00Z",
            "claude-opus-4-5",
            "simple",
            json!({})
        ),
        task(
            NEWEST,
            "2026-03-09T10:00:00Z",
            "claude-sonnet-4-5",
            "medium",
            json!({})
        ),
        // Before the learn window.
        task(
            "dispatch-1760000000000-old",
            "2025-10-01T10:00:00Z",
            "claude-haiku-4-5",
            "simple",
            json!({})
        ),
    ]);
    std::fs::write(
        dir.path().join("logs/dispatches.json"),
        serde_json::to_string_pretty(&records).unwrap(),
    )
    .unwrap();
    let suggestions = if with_suggestion {
        json!([
            {"id": "S-3", "type": "downgrade_complexity", "status": "open", "confidence": 0.9,
             "change": {"target": "task_complexity", "level": "simple",
                        "from": "claude-sonnet-4-5", "to": "claude-haiku-4-5"}},
            {"id": "S-2", "type": "downgrade_complexity", "status": "rejected", "confidence": 0.9,
             "change": {"target": "task_complexity", "level": "medium",
                        "from": "claude-sonnet-4-5", "to": "claude-haiku-4-5"}}
        ])
    } else {
        json!([])
    };
    let learning = json!({
        "window": {"since": "2025-12-10T12:00:00.000Z", "until": "2026-03-10T12:00:00.000Z"},
        "patterns": [
            {"complexity": "simple", "model_family": "sonnet", "success_rate": 0.92,
             "successes": 36.8, "sample_size": 40, "information_size": 40.0},
            {"complexity": "simple", "model_family": "haiku", "success_rate": 0.9,
             "successes": 18.0, "sample_size": 20, "information_size": 20.0},
            {"complexity": "medium", "model_family": "sonnet", "success_rate": 0.8,
             "successes": 4.0, "sample_size": 5, "information_size": 5.0}
        ],
        "suggestions": suggestions,
    });
    std::fs::write(
        dir.path().join("logs/model-learning.json"),
        serde_json::to_string_pretty(&learning).unwrap(),
    )
    .unwrap();
    dir
}

fn modelfit(home: &Path) -> assert_cmd::Command {
    let mut c = common::modelfit_at(home);
    c.env("MODELFIT_NOW", "2026-03-10T12:00:00.000Z")
        .timeout(std::time::Duration::from_secs(30));
    c
}

fn record(home: &Path, id: &str) -> Value {
    let all: Vec<Value> =
        serde_json::from_slice(&std::fs::read(home.join("logs/dispatches.json")).unwrap()).unwrap();
    all.into_iter().find(|r| r["id"] == id).unwrap()
}

#[test]
fn next_picks_the_task_in_the_open_suggestions_cell_and_records_the_verdict() {
    let dir = home(true);
    let out = modelfit(dir.path())
        .args(["rate", "--next", "y"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("{IN_CELL}: a verdict here moves the confidence of suggestion S-3 (haiku for simple tasks) by ±")),
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("a verdict here"))
            .count(),
        1
    );
    let r = record(dir.path(), IN_CELL);
    assert_eq!(r["outcome"], "success");
    assert_eq!(r["outcome_source"], "human");
    // The newest unrated task was not touched.
    assert!(record(dir.path(), NEWEST).get("outcome").is_none());
    // Now rated, the cell has no candidate left: the opus task bears on nothing.
    let out = modelfit(dir.path())
        .args(["rate", "--next", "n"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing to ask about"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn next_without_open_suggestions_asks_about_the_cell_nearest_its_boundary() {
    // medium/sonnet: 4 of 5, right at the 80 % target, and the smallest cell.
    let dir = home(false);
    let out = modelfit(dir.path())
        .args(["rate", "--next", "p"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with(&format!("{NEWEST}: a verdict here moves the confidence of P(sonnet meets the 80% target on medium tasks)")), "{text}");
    assert_eq!(record(dir.path(), NEWEST)["outcome"], "partial");
}

#[test]
fn next_with_nothing_to_ask_says_so_and_exits_0() {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("logs/dispatches.json"), "[]").unwrap();
    let out = modelfit(dir.path())
        .args(["rate", "--next"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to ask about"));
    // A verdict that is not one is refused before anything is asked.
    let dir = home(true);
    let out = modelfit(dir.path())
        .args(["rate", "--next", "maybe"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(record(dir.path(), IN_CELL).get("outcome").is_none());
}
