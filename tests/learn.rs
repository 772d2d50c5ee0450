//! `modelfit learn` on the JARVIS learning-sample fixture, spawning the binary.

mod common;

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

const NOW: &str = "2026-03-13T12:00:00Z";

fn fixture(rel: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/jarvis")
            .join(rel),
    )
    .unwrap()
}

/// A home with the learning sample, its JS-written learning file and the live models.json.
fn home() -> TempDir {
    let dir = TempDir::new().unwrap();
    let root = dir.path().to_str().unwrap().to_string();
    let sub = |t: String| t.replace("/home/teruel/JARVIS", &root);
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::create_dir_all(dir.path().join("config/orchestrator")).unwrap();
    std::fs::write(
        dir.path().join("logs/dispatches.json"),
        sub(fixture("learning-sample/dispatches.json")),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("logs/model-learning.json"),
        sub(fixture("learning-sample/model-learning.json")),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config/orchestrator/models.json"),
        fixture("models.json"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config/orchestrator/pricing.json"),
        fixture("pricing.json"),
    )
    .unwrap();
    dir
}

fn mf(home: &Path) -> Command {
    let mut c = common::modelfit();
    c.env("MODELFIT_NOW", NOW).arg("--home").arg(home);
    c
}

fn learning(home: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(home.join("logs/model-learning.json")).unwrap()).unwrap()
}

fn pattern<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pattern_id"] == id)
        .unwrap_or_else(|| panic!("no pattern {id}"))
}

#[test]
fn analyze_counts_outcomes_by_precedence_and_keeps_history() {
    let h = home();
    mf(h.path()).args(["learn", "analyze"]).assert().success();
    let doc = learning(h.path());
    assert_eq!(doc["total_dispatches"], 57);
    // JS analyzer keys and its decided suggestions survive.
    assert!(doc["by_complexity"].is_array());
    let sg = doc["suggestions"].as_array().unwrap();
    assert!(sg
        .iter()
        .any(|s| s["status"] == "rejected" && s["keyword"] == "docs"));
    assert!(sg.iter().any(|s| s["status"] == "applied"));
    // simple/haiku: 11 successes, 3 failures, 3 partial → 11/17, all
    // judged by people, so the soft count is the hard one.
    let p = pattern(&doc, "complexity=simple/model=haiku");
    assert_eq!(p["sample_size"], 17);
    assert_eq!(p["successes"], 11.0);
    assert!((p["success_rate"].as_f64().unwrap() - 11.0 / 17.0).abs() < 1e-3);
    assert_eq!(p["partial"], 3);
    assert_eq!(p["trigger"], "complexity == 'simple'");
    let w = p["wilson_95"].as_array().unwrap();
    assert!(w[0].as_f64().unwrap() < 0.647 && w[1].as_f64().unwrap() > 0.647);
    // medium/sonnet: two records without outcome but status complete →
    // soft successes (the verification's posterior, below 1).
    let p = pattern(&doc, "complexity=medium/model=sonnet");
    assert_eq!(p["sample_size"], 20);
    let s = p["successes"].as_f64().unwrap();
    assert!(s > 14.5 && s < 15.0, "{s}");
    // Keyword cells stay within their complexity.
    let k = pattern(&doc, "keyword=docs/complexity=simple/model=haiku");
    assert_eq!(k["sample_size"], 10);
    assert_eq!(k["successes"], 7.0);
    // Seed schema fields on every pattern.
    for p in doc["patterns"].as_array().unwrap() {
        for f in [
            "pattern_id",
            "trigger",
            "complexity",
            "model",
            "success_rate",
            "sample_size",
            "avg_tokens",
            "confidence",
        ] {
            assert!(p.get(f).is_some(), "{f} missing in {p}");
        }
    }
    assert_eq!(doc["health"]["without_tokens_by_model"]["haiku"], 4);
}

#[test]
fn suggest_respects_cooldown_and_rejections_and_ids_are_stable() {
    let h = home();
    mf(h.path()).arg("learn").assert().success();
    let doc = learning(h.path());
    let ev: Vec<String> = doc["evidence_needed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap().to_string())
        .collect();
    // simple was changed on 2026-03-13 (applied in the JS file): no new suggestion there.
    assert!(
        ev.iter()
            .any(|e| e.contains("cooling down") && e.contains("simple")),
        "{ev:?}"
    );
    // Sonnet on complex looks good on 8/8 but is short of the 20 samples a downgrade needs.
    assert!(
        ev.iter()
            .any(|e| e.contains("Sonnet may be enough for complex") && e.contains("more explored")),
        "{ev:?}"
    );
    let open: Vec<&Value> = doc["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "open")
        .collect();
    assert!(open.is_empty(), "{open:?}");
    // Two runs give the same file apart from timestamps.
    let first = std::fs::read_to_string(h.path().join("logs/model-learning.json")).unwrap();
    mf(h.path()).arg("learn").assert().success();
    let second = std::fs::read_to_string(h.path().join("logs/model-learning.json")).unwrap();
    assert_eq!(first, second);
}

#[test]
fn default_window_excludes_old_records_and_since_overrides() {
    let h = home();
    let mut c = common::modelfit();
    c.env("MODELFIT_NOW", "2026-09-01T00:00:00Z")
        .arg("--home")
        .arg(h.path())
        .args(["learn", "analyze"])
        .assert()
        .success();
    let doc = learning(h.path());
    assert_eq!(doc["patterns"].as_array().unwrap().len(), 0);
    assert_eq!(doc["health"]["records_before_window"], 57);
    let mut c = common::modelfit();
    c.env("MODELFIT_NOW", "2026-09-01T00:00:00Z")
        .arg("--home")
        .arg(h.path())
        .args(["learn", "analyze", "--since", "2026-03-01"])
        .assert()
        .success();
    let doc = learning(h.path());
    let p = pattern(&doc, "complexity=simple/model=haiku");
    assert_eq!(p["sample_size"], 17);
    // Six months old: decayed to almost nothing but the Kish n* is scale-free.
    assert!((p["effective_sample_size"].as_f64().unwrap() - 17.0).abs() < 1.0);
}

#[test]
fn corrupt_learning_file_is_an_error_and_untouched() {
    let h = home();
    let path = h.path().join("logs/model-learning.json");
    std::fs::write(&path, "{\n  \"patterns\": [1,\n").unwrap();
    mf(h.path())
        .args(["learn", "analyze"])
        .assert()
        .failure()
        .stderr(
            predicates::str::contains("line 3")
                .and(predicates::str::contains("model-learning.json")),
        );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\n  \"patterns\": [1,\n"
    );
}

use predicates::prelude::PredicateBooleanExt;

#[test]
fn corrupt_ledger_is_an_error() {
    let h = home();
    std::fs::write(h.path().join("logs/dispatches.json"), "[{\"id\": 1,}").unwrap();
    mf(h.path())
        .args(["learn"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("dispatches.json"));
}

#[test]
fn bad_arguments_are_refused() {
    let h = home();
    mf(h.path())
        .args(["learn", "analyze", "--since", "last week"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("--since"));
    mf(h.path())
        .args(["learn", "suggest", "--min-confidence", "1.5"])
        .assert()
        .failure();
    // suggest before any analysis says what to run.
    let empty = TempDir::new().unwrap();
    mf(empty.path())
        .args(["learn", "suggest"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("learn analyze"));
}

#[test]
fn markdown_and_json_reports() {
    let h = home();
    mf(h.path()).arg("learn").assert().success();
    let out = mf(h.path())
        .args(["learn", "report"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let md = String::from_utf8(out).unwrap();
    for needle in [
        "## Per complexity",
        "| simple | claude-haiku-4-5-20251001 | 65% (11/17)",
        "## Frequent retries",
        "## Success metrics, week by week",
        "| 2026-03-09 |",
        "## Data health",
        "haiku: 4 tasks without token counts",
        "## Anomalies",
        "## Evidence still needed",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
    let out = mf(h.path())
        .args(["learn", "report", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["success_metrics"][0]["week"], "2026-03-09");
    assert_eq!(v["success_metrics"][0]["applied_confident_share"], 1.0);
}

#[test]
fn anomalies_question_implicit_successes() {
    let h = home();
    let path = h.path().join("logs/dispatches.json");
    let mut v: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // One medium/sonnet task that took 100× the tokens, with only the hook's word for success.
    let mut odd = v
        .iter()
        .find(|r| r["complexity"] == "medium")
        .unwrap()
        .clone();
    odd["id"] = "dispatch-odd".into();
    odd["tokens_used"] = 50_000_000.into();
    odd["outcome"] = "success".into();
    odd["outcome_source"] = "hook".into();
    v.push(odd);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    mf(h.path()).args(["learn", "analyze"]).assert().success();
    let doc = learning(h.path());
    let listed = doc["anomalies"]["listed"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|a| a["id"] == "dispatch-odd" && a["outcome"] == "questioned"),
        "{listed:?}"
    );
    let p = pattern(&doc, "complexity=medium/model=sonnet");
    assert_eq!(
        p["sample_size"], 20,
        "the questioned success is not counted"
    );
    assert_eq!(p["questioned"], 1);
}
