//! Decisions survive another tool's rewrite of `logs/model-learning.json`:
//! after `learn reject`, the orchestrator's JS analyzer replaces the whole
//! `suggestions` array (its style: its own shape, fresh UUIDs, the same
//! change proposed again, `JSON.stringify(…, 2)` without a trailing newline);
//! the next `learn` must not bring the rejected change back.

use std::time::Duration;

mod common;

use assert_cmd::Command;
use modelfit::learn::simulate::World;
use serde_json::{json, Value};

const NOW: &str = "2026-06-01T00:00:00Z";

fn modelfit(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("modelfit")
        .unwrap()
        .env("MODELFIT_NOW", NOW)
        .arg("--home")
        .arg(home)
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap()
}

fn learning(home: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(home.join("logs/model-learning.json")).unwrap()).unwrap()
}

fn open_ids(doc: &Value) -> Vec<String> {
    doc["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("status").and_then(Value::as_str).unwrap_or("open") == "open")
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// What the JS analyzer writes on its next run: the existing object spread,
/// `suggestions` replaced by its own, each with a new random id.
fn analyzer_rewrite(home: &std::path::Path, level: &str, from: &str, to: &str, n: u32) {
    let mut doc = learning(home);
    let direction = if to.contains("haiku") || (to.contains("sonnet") && from.contains("opus")) {
        ("over_provisioned", "downgrade_model")
    } else {
        ("underperforming", "upgrade_model")
    };
    let mut s = json!({
        "id": format!("3f2a9c1e-0b7d-4e59-9a0c-{:012x}", 0xabc000 + n),
        "type": direction.0,
        "description": format!("Model \"{from}\" for complexity={level}: suggested change"),
        "current_model": from,
        "suggested_action": direction.1,
        "confidence": 0.9,
    });
    if direction.0 == "over_provisioned" {
        s["suggested_model"] = json!(to);
        s["complexity"] = json!(level);
    } else {
        s["group_label"] = json!(format!("complexity={level}"));
        s["success_rate"] = json!(0.6);
        s["sample_size"] = json!(40);
    }
    doc["suggestions"] = json!([s]);
    doc["suggestions_generated_at"] = json!("2026-06-01T00:00:00.000Z");
    std::fs::write(
        home.join("logs/model-learning.json"),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_rejected_change_never_comes_back_after_the_analyzer_rewrites_the_file() {
    let world = World::scenarios()
        .into_iter()
        .find(|w| w.name == "underperforming")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    common::simulated_draw(h, &world, 7, NOW);
    assert!(modelfit(h, &["learn"]).status.success());
    let doc = learning(h);
    let sug = doc["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["change"]["target"] == "task_complexity")
        .expect("the underperforming world yields a level change")
        .clone();
    let id = sug["id"].as_str().unwrap().to_string();
    let (level, from, to) = (
        sug["change"]["level"].as_str().unwrap(),
        sug["change"]["from"].as_str().unwrap(),
        sug["change"]["to"].as_str().unwrap(),
    );
    let out = modelfit(h, &["learn", "reject", &id, "--reason", "not now"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let journal = std::fs::read_to_string(h.join("logs/modelfit/decisions.jsonl")).unwrap();
    assert!(journal.contains(&id) && journal.contains("\"rejected\""));

    // Twice: the analyzer rewrites, modelfit learns; the change stays rejected.
    for round in 0..2 {
        analyzer_rewrite(h, level, from, to, round);
        let before = learning(h);
        assert!(
            !before["suggestions"].to_string().contains(&id),
            "the rewrite dropped modelfit's suggestion"
        );
        let out = modelfit(h, &["learn"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let after = learning(h);
        assert!(
            !open_ids(&after).contains(&id),
            "round {round}: the rejected change is open again"
        );
        let back = after["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id.as_str())
            .expect("the rejected suggestion is back on record");
        assert_eq!(back["status"], "rejected");
        // The analyzer's own proposal of the same change is rejected too.
        let js_id = format!("3f2a9c1e-0b7d-4e59-9a0c-{:012x}", 0xabc000 + round);
        let js = after["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == js_id.as_str())
            .unwrap();
        assert_eq!(js["status"], "rejected", "{js}");
        assert_eq!(js["origin"], "orchestrator-analyzer");
        let out = modelfit(h, &["learn", "apply", &js_id]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("rejected"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = modelfit(h, &["learn", "report"]);
        let md = String::from_utf8_lossy(&report.stdout);
        assert!(!md.contains(&format!("**{id}**")), "{md}");
    }
}

#[test]
fn an_analyzer_suggestion_is_shown_as_such_and_apply_says_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    common::simulated_home(h, [0, 1, 2]);
    std::fs::write(
        h.join("logs/model-learning.json"),
        serde_json::to_string_pretty(&json!({"patterns": [], "suggestions": []})).unwrap(),
    )
    .unwrap();
    analyzer_rewrite(
        h,
        "complex",
        "claude-opus-4-5-20251101",
        "claude-sonnet-4-5-20250929",
        9,
    );
    let js_id = format!("3f2a9c1e-0b7d-4e59-9a0c-{:012x}", 0xabc000 + 9);
    let md = String::from_utf8_lossy(&modelfit(h, &["learn", "report"]).stdout).to_string();
    assert!(
        md.contains(&js_id) && md.contains("from the orchestrator's model-learning-analyzer"),
        "{md}"
    );
    let out = modelfit(h, &["learn", "apply", &js_id]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("came from the orchestrator's model-learning-analyzer"),
        "{text}"
    );
    let models = std::fs::read_to_string(h.join("config/orchestrator/models.json")).unwrap();
    assert!(
        models.contains("\"complex\": {\n      \"model\": \"claude-sonnet-4-5-20250929\""),
        "{models}"
    );
    let journal = std::fs::read_to_string(h.join("logs/modelfit/decisions.jsonl")).unwrap();
    assert!(journal.contains(&js_id) && journal.contains("orchestrator-analyzer"));
}
