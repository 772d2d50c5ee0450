//! Suggestion history and attempt classification: rejected changes never come
//! back, applied ones cool down, retries count as failures, exploration and
//! overrides are told apart.

mod common;

use assert_cmd::Command;
use modelfit::learn::simulate::World;
use serde_json::{json, Value};
use tempfile::TempDir;

const NOW: &str = "2026-06-01T00:00:00Z";

fn mf(home: &std::path::Path, now: &str) -> Command {
    let mut c = common::modelfit();
    c.env("MODELFIT_NOW", now).arg("--home").arg(home);
    c
}

fn learning(home: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(home.join("logs/model-learning.json")).unwrap()).unwrap()
}

fn save(home: &std::path::Path, v: &Value) {
    std::fs::write(
        home.join("logs/model-learning.json"),
        serde_json::to_string_pretty(v).unwrap(),
    )
    .unwrap();
}

fn world_home(name: &str) -> TempDir {
    let w = World::scenarios()
        .into_iter()
        .find(|w| w.name == name)
        .unwrap();
    let dir = TempDir::new().unwrap();
    common::simulated_draw(dir.path(), &w, 7, NOW);
    dir
}

fn open(doc: &Value) -> Vec<Value> {
    doc["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "open")
        .cloned()
        .collect()
}

#[test]
fn rejected_never_comes_back_and_extra_keys_survive() {
    let h = world_home("underperforming");
    mf(h.path(), NOW).arg("learn").assert().success();
    let mut doc = learning(h.path());
    let first = open(&doc);
    assert_eq!(first.len(), 1, "{first:?}");
    let id = first[0]["id"].as_str().unwrap().to_string();
    // A person rejects it (as `learn reject` records it) and another tool adds a key.
    for s in doc["suggestions"].as_array_mut().unwrap() {
        if s["id"] == id {
            s["status"] = json!("rejected");
            s["rejected_at"] = json!("2026-06-01T00:00:00.000Z");
            s["rejection_reason"] = json!("we want haiku there");
        }
    }
    doc["custom_note"] = json!({"kept": true});
    save(h.path(), &doc);
    mf(h.path(), NOW).arg("learn").assert().success();
    let doc = learning(h.path());
    assert!(open(&doc).is_empty(), "{:?}", open(&doc));
    assert_eq!(doc["custom_note"]["kept"], true);
    let kept: Vec<&Value> = doc["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["id"] == id.as_str())
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["rejection_reason"], "we want haiku there");
}

#[test]
fn applied_change_cools_down_no_flip_flop() {
    let h = world_home("underperforming");
    mf(h.path(), NOW).arg("learn").assert().success();
    let mut doc = learning(h.path());
    for s in doc["suggestions"].as_array_mut().unwrap() {
        s["status"] = json!("applied");
        s["applied_at"] = json!("2026-05-28T00:00:00.000Z");
    }
    save(h.path(), &doc);
    // The world has not changed (haiku still routes simple), yet within the
    // cooldown nothing is suggested for simple again.
    mf(h.path(), NOW).arg("learn").assert().success();
    let doc = learning(h.path());
    assert!(open(&doc).is_empty(), "{:?}", open(&doc));
    let ev = doc["evidence_needed"].to_string();
    assert!(ev.contains("cooling down"), "{ev}");
}

fn ledger(home: &std::path::Path, records: Value) {
    std::fs::create_dir_all(home.join("logs")).unwrap();
    std::fs::write(
        home.join("logs/dispatches.json"),
        serde_json::to_string_pretty(&records).unwrap(),
    )
    .unwrap();
}

fn rec(id: &str, at: &str, model: &str, outcome: Option<&str>, source: Option<&str>) -> Value {
    let mut r = json!({
        "id": id, "task": "Fix the login bug", "original_task": "Fix the login bug",
        "complexity": "medium", "model": model, "task_keywords": ["bug", "fix"],
        "status": "complete", "created_at": at, "tokens_used": 1000, "execution_time_seconds": 60
    });
    if let Some(o) = outcome {
        r["outcome"] = json!(o);
    }
    if let Some(s) = source {
        r["outcome_source"] = json!(s);
    }
    r
}

#[test]
fn retries_fail_the_attempt_they_retry_unless_a_person_said_otherwise() {
    let h = TempDir::new().unwrap();
    let mut a = rec(
        "a",
        "2026-05-30T10:00:00.000Z",
        "claude-sonnet-4-5-20250929",
        Some("success"),
        Some("hook"),
    );
    a["status"] = json!("complete");
    let mut b = rec(
        "b",
        "2026-05-30T10:20:00.000Z",
        "claude-opus-4-5-20251101",
        Some("success"),
        Some("hook"),
    );
    b["previous_dispatch_id"] = json!("a");
    let c = rec(
        "c",
        "2026-05-30T11:00:00.000Z",
        "sonnet",
        Some("success"),
        Some("human"),
    );
    let mut d = rec("d", "2026-05-30T11:30:00.000Z", "sonnet", None, None);
    d["previous_dispatch_id"] = json!("c");
    let e = rec("e", "2026-05-30T12:00:00.000Z", "none", None, None);
    ledger(h.path(), json!([a, b, c, d, e]));
    mf(h.path(), NOW)
        .args(["learn", "analyze"])
        .assert()
        .success();
    let doc = learning(h.path());
    let p = doc["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pattern_id"] == "complexity=medium/model=sonnet")
        .unwrap()
        .clone();
    // a: hook success but retried → a soft label short of success; c: a
    // person's success stands in full; d: a retry, not a first attempt.
    assert_eq!(p["sample_size"], 2);
    let s = p["successes"].as_f64().unwrap();
    assert!((1.0..1.99).contains(&s), "{s}");
    assert_eq!(p["retries"], 1);
    assert_eq!(p["attempts"], 3);
    // Cost per success: every attempt is charged to the task's first model.
    assert_eq!(p["tasks"], 2);
    let t = p["tasks_succeeded"].as_f64().unwrap();
    assert!(t > s && t <= 2.0, "{t}");
    let o = doc["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pattern_id"] == "complexity=medium/model=opus")
        .unwrap()
        .clone();
    assert_eq!(o["escalations"], 1);
    assert_eq!(o["sample_size"], 0, "an escalation is not a first attempt");
    assert_eq!(doc["health"]["records_without_model"], 1);
}

#[test]
fn exploration_is_joined_and_overrides_are_excluded() {
    let h = TempDir::new().unwrap();
    let fp = modelfit::signals::task_fingerprint("Fix the login bug");
    let a = rec(
        "a",
        "2026-05-30T10:00:00.000Z",
        "claude-haiku-4-5-20251001",
        Some("success"),
        Some("hook"),
    );
    let b = rec(
        "b",
        "2026-05-30T11:00:00.000Z",
        "claude-haiku-4-5-20251001",
        Some("failure"),
        Some("hook"),
    );
    let c = rec(
        "c",
        "2026-05-30T12:00:00.000Z",
        "claude-haiku-4-5-20251001",
        Some("success"),
        Some("hook"),
    );
    ledger(h.path(), json!([a, b, c]));
    std::fs::create_dir_all(h.path().join("logs/modelfit")).unwrap();
    let lines = [
        json!({"at": "2026-05-30T09:59:58.000Z", "complexity": "medium", "task_fp": fp, "model": "claude-haiku-4-5-20251001", "rule_model": "claude-sonnet-4-5-20250929", "explored": true, "propensity": 0.05}),
        json!({"at": "2026-05-30T10:59:59.000Z", "complexity": "medium", "task_fp": fp, "model": "claude-haiku-4-5-20251001", "rule_model": "claude-sonnet-4-5-20250929", "explored": false, "propensity": 0.9}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect::<String>() + "not json\n";
    std::fs::write(h.path().join("logs/modelfit/selections.jsonl"), text).unwrap();
    mf(h.path(), NOW)
        .args(["learn", "analyze"])
        .assert()
        .success();
    let doc = learning(h.path());
    let p = doc["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pattern_id"] == "complexity=medium/model=haiku")
        .unwrap()
        .clone();
    assert_eq!(p["explored"], 1);
    // A clean stop with nothing against it: a soft label near 1.
    let e = p["explored_successes"].as_f64().unwrap();
    assert!(e > 0.9 && e < 1.0, "{e}");
    assert_eq!(p["overrides"], 1);
    // a (explored) and c (no log line: the rule's choice) count; b (override) does not.
    assert_eq!(p["sample_size"], 2);
    let s = p["successes"].as_f64().unwrap();
    assert!(s > 1.8 && s < 2.0, "{s}");
}

#[test]
fn concurrent_learn_runs_leave_a_valid_file() {
    let h = world_home("already_optimal");
    let mut kids: Vec<std::process::Child> = (0..4)
        .map(|_| {
            common::modelfit_std()
                .env("MODELFIT_NOW", NOW)
                .arg("--home")
                .arg(h.path())
                .arg("learn")
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for k in kids.iter_mut() {
        assert!(k.wait().unwrap().success());
    }
    let doc = learning(h.path());
    assert!(doc["patterns"].as_array().unwrap().len() >= 6);
}
