//! `modelfit usage`: the real binary on real-shaped transcripts in a temp home.

mod common;

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `<dir>/projects/p/<session>.jsonl` + `<session>/subagents/` from the
/// 2.1.39 fixture (its main file is named `.excerpt.jsonl` upstream).
fn session(dir: &Path) -> PathBuf {
    let src = fixtures().join("claude-code/transcripts/spotter-v2.1.39-session-with-subagents");
    let id = "4d5611e5-241a-462a-8d15-5122611a9569";
    let proj = dir.join("projects/p");
    let subs = proj.join(id).join("subagents");
    std::fs::create_dir_all(&subs).unwrap();
    let main = proj.join(format!("{id}.jsonl"));
    std::fs::copy(src.join(format!("{id}.excerpt.jsonl")), &main).unwrap();
    for f in ["agent-a2898e3.jsonl", "agent-acompact-e1f845.jsonl"] {
        std::fs::copy(src.join(id).join("subagents").join(f), subs.join(f)).unwrap();
    }
    main
}

fn home_with_pricing(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    std::fs::create_dir_all(home.join("config/orchestrator")).unwrap();
    std::fs::copy(
        fixtures().join("jarvis/pricing.json"),
        home.join("config/orchestrator/pricing.json"),
    )
    .unwrap();
    home
}

fn usage_json(home: &Path, transcript: &Path) -> Value {
    let out = common::modelfit()
        .arg("--home")
        .arg(home)
        .arg("usage")
        .arg(transcript)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn json_totals_turns_prices_and_subagents() {
    let d = tempfile::tempdir().unwrap();
    let main = session(d.path());
    let home = home_with_pricing(d.path());
    let v = usage_json(&home, &main);

    // Independent figures (see tests/transcript.rs): groups by message.id +
    // requestId, max per kind, over the main file and both subagent files,
    // plus 5107 output tokens from the Task result of agent a2898e3.
    let t = &v["total"]["tokens"];
    assert_eq!(
        [
            &t["input"],
            &t["output"],
            &t["cache_creation"],
            &t["cache_read"],
            &t["total"]
        ],
        [66, 5361, 185443, 1057566, 66 + 5361 + 185443 + 1057566]
    );
    assert_eq!(v["total"]["responses"], 19);
    assert_eq!(v["total"]["subagent_output_correction"], 5107);
    assert_eq!(v["subagent_files"].as_array().unwrap().len(), 2);
    assert_eq!(v["output_lower_bound"], true);

    // Two turns: the first prompt and "continue"; they add up to the total.
    let turns = v["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[1]["prompt"], "continue");
    let sum: u64 = turns
        .iter()
        .map(|t| t["tokens"]["total"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, v["total"]["tokens"]["total"].as_u64().unwrap());

    // Sonnet 4.5 comes from the home's pricing.json ($3/$15), Opus 4.6 is not
    // listed there: built-in $5/$25.
    assert_eq!(
        v["prices"]["claude-sonnet-4-5-20250929"]["source"],
        "pricing.json"
    );
    assert_eq!(v["prices"]["claude-opus-4-6"]["source"], "built-in");
    assert_eq!(
        v["prices"]["claude-opus-4-6"]["cache_write_1h_per_mtok"],
        10.0
    );

    // Cost by hand from the per-model tokens: opus 5/25 (writes: 5m 6.25,
    // 1h 10), read 0.5; sonnet 3/15, writes 3.75 / 6, read 0.3.
    let mut expect = 0.0;
    for (model, p) in [
        ("claude-opus-4-6", [5.0, 25.0, 6.25, 10.0, 0.5]),
        ("claude-sonnet-4-5-20250929", [3.0, 15.0, 3.75, 6.0, 0.3]),
    ] {
        let m = &v["total"]["by_model"][model];
        let n = |k: &str| m[k].as_u64().unwrap() as f64;
        let c = (n("input") * p[0]
            + n("output") * p[1]
            + (n("cache_creation") - n("cache_creation_1h")) * p[2]
            + n("cache_creation_1h") * p[3]
            + n("cache_read") * p[4])
            / 1e6;
        assert!(close(m["cost_usd"].as_f64().unwrap(), c), "{model}");
        expect += c;
    }
    assert!(close(v["total"]["cost_usd"].as_f64().unwrap(), expect));
    assert_eq!(v["total"]["tool_errors"], 8);
}

#[test]
fn table_shows_turns_prices_and_notes() {
    let d = tempfile::tempdir().unwrap();
    let main = session(d.path());
    let home = home_with_pricing(d.path());
    common::modelfit()
        .arg("--home")
        .arg(&home)
        .arg("usage")
        .arg(&main)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "subagent files: agent-a2898e3.jsonl, agent-acompact-e1f845.jsonl",
        ))
        .stdout(predicate::str::contains("continue"))
        .stdout(predicate::str::contains("price claude-opus-4-6: built-in"))
        .stdout(predicate::str::contains(
            "price claude-sonnet-4-5-20250929: pricing.json",
        ))
        .stdout(predicate::str::contains(
            "5107 output tokens taken from Task results",
        ))
        .stdout(predicate::str::is_match(r"(?m)^ all .* 66 +5361 +185443 +1057566 ").unwrap());
}

#[test]
fn missing_subagent_and_unknown_model_are_reported() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let src = fixtures()
        .join("claude-code/transcripts/spotter-v2.1.38-task-subagent/491e126e-1e71-469c-ade2-fcc8af567c74.jsonl");
    let p = d.path().join("491e126e-1e71-469c-ade2-fcc8af567c74.jsonl");
    let text = std::fs::read_to_string(&src).unwrap();
    std::fs::write(
        &p,
        text.replace(
            "\"model\":\"claude-opus-4-6\"",
            "\"model\":\"mystery-model-1\"",
        ),
    )
    .unwrap();
    let v = usage_json(&home, &p);
    assert_eq!(v["missing_subagents"], serde_json::json!(["afb92ff"]));
    assert_eq!(v["prices"]["mystery-model-1"]["source"], "unknown");
    assert_eq!(v["total"]["cost_usd"], Value::Null);
    assert_eq!(
        v["total"]["unpriced_models"],
        serde_json::json!(["mystery-model-1"])
    );
    // The /handgemacht:create-beads command was answered: it is turn 1.
    assert_eq!(v["turns"][0]["prompt"], "/handgemacht:create-beads");
    assert_eq!(v["total"]["files_touched"].as_array().unwrap().len(), 1);
}

#[test]
fn bad_input_fails_with_a_message_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    common::modelfit()
        .arg("--home")
        .arg(d.path())
        .args(["usage", "/nonexistent/x.jsonl"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("/nonexistent/x.jsonl"));
    // A corrupt pricing.json: a warning, built-in prices, still a result.
    let home = d.path().join("h");
    std::fs::create_dir_all(home.join("config/orchestrator")).unwrap();
    std::fs::write(home.join("config/orchestrator/pricing.json"), "{oops").unwrap();
    let garbage = d.path().join("g.jsonl");
    std::fs::write(&garbage, b"\xff\xfe not json\n{\"type\":\"user\"}\n[]\n").unwrap();
    common::modelfit()
        .arg("--home")
        .arg(&home)
        .arg("usage")
        .arg(&garbage)
        .arg("--json")
        .assert()
        .success()
        .stderr(predicate::str::contains("pricing.json is not valid JSON"))
        .stdout(predicate::str::contains("\"responses\": 0"));
}

#[test]
fn offset_and_since_give_the_stop_hook_view_of_the_last_turn() {
    let d = tempfile::tempdir().unwrap();
    let main = session(d.path());
    let home = d.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let full = usage_json(&home, &main);
    let text = std::fs::read_to_string(&main).unwrap();
    let at = text.find("\"content\":\"continue\"").unwrap();
    let offset = text[..at].rfind('\n').unwrap() + 1;
    let out = common::modelfit()
        .arg("--home")
        .arg(&home)
        .arg("usage")
        .arg(&main)
        .args(["--json", "--offset", &offset.to_string()])
        .args(["--since", "2026-02-12T20:19:00.807Z"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["turns"], serde_json::json!([]));
    assert_eq!(v["total"]["tokens"], full["turns"][1]["tokens"]);
    assert_eq!(v["end_offset"].as_u64().unwrap(), text.len() as u64);
    // --since without --offset is refused.
    common::modelfit()
        .arg("--home")
        .arg(&home)
        .arg("usage")
        .arg(&main)
        .args(["--since", "2026-02-12T20:19:00.807Z"])
        .assert()
        .failure();
}
