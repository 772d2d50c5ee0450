//! `modelfit learn` on ledgers generated from known ground-truth worlds
//! (`modelfit::learn::simulate`): routing must move toward the truth and no
//! level may get worse.

mod common;

use modelfit::learn::simulate::{self, World};
use modelfit::learn::{analyze::DELTA, analyze::TARGET, Change, Suggestion};
use serde_json::Value;

const NOW: &str = "2026-06-01T00:00:00Z";

fn run(world: &World, seed: u64) -> Vec<Suggestion> {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    std::fs::create_dir_all(h.join("logs")).unwrap();
    std::fs::create_dir_all(h.join("config/orchestrator")).unwrap();
    std::fs::write(
        h.join("config/orchestrator/models.json"),
        simulate::models_json(world.rules),
    )
    .unwrap();
    let now = modelfit::clock::parse(NOW).unwrap();
    simulate::write_ledger(world, seed, now, &h.join("logs/dispatches.json")).unwrap();
    common::modelfit()
        .env("MODELFIT_NOW", NOW)
        .arg("--home")
        .arg(h)
        .arg("learn")
        .assert()
        .success();
    let doc: Value =
        serde_json::from_slice(&std::fs::read(h.join("logs/model-learning.json")).unwrap())
            .unwrap();
    doc["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| serde_json::from_value(s.clone()).unwrap())
        .filter(|s: &Suggestion| s.status == modelfit::learn::Status::Open)
        .collect()
}

fn world(name: &str) -> World {
    World::scenarios()
        .into_iter()
        .find(|w| w.name == name)
        .unwrap()
}

/// Applies the suggestions, then checks: every level that moved now routes
/// to the oracle's model, no level's true success drops, and returns the new routing.
fn check(world: &World, open: &[Suggestion]) -> [usize; 3] {
    let changes: Vec<Change> = open.iter().map(|s| s.change.clone()).collect();
    let after = simulate::route_after(world.rules, &changes);
    let oracle = world.oracle(TARGET, DELTA);
    for l in 0..3 {
        if after[l] != world.rules[l] {
            assert_eq!(
                after[l], oracle[l],
                "{}: level {l} moved away from the truth",
                world.name
            );
            let p = world.effective_p();
            let (b, a) = (p[l][world.rules[l]], p[l][after[l]]);
            assert!(
                a >= b.min(TARGET) - DELTA,
                "{}: level {l} got worse ({b} → {a})",
                world.name
            );
        }
    }
    assert!(
        open.iter().all(|s| !s.kind.contains("rule")),
        "{}: keyword rules where keywords do not matter: {open:?}",
        world.name
    );
    after
}

#[test]
fn over_provisioned_medium_moves_to_haiku() {
    let w = world("over_provisioned");
    let open = run(&w, 1);
    let after = check(&w, &open);
    assert_eq!(after, [0, 0, 2], "{open:?}");
    let s = &open[0];
    assert_eq!(s.kind, "downgrade_complexity");
    assert!(s.id.starts_with("sg-") && s.confidence >= 0.9);
    assert!(
        s.reason
            .contains("recent medium tasks succeeded with Haiku"),
        "{}",
        s.reason
    );
}

#[test]
fn underperforming_simple_moves_to_sonnet() {
    let w = world("underperforming");
    let open = run(&w, 2);
    assert_eq!(check(&w, &open), [1, 1, 2], "{open:?}");
    assert_eq!(open[0].finding, "underperforming");
}

#[test]
fn optimal_simpson_and_tiny_worlds_stay_put() {
    for name in ["already_optimal", "simpson", "tiny_sample"] {
        let w = world(name);
        let open = run(&w, 3);
        assert!(open.is_empty(), "{name}: {open:?}");
    }
}

#[test]
fn drift_after_release_is_noticed() {
    let w = world("drift_after_release");
    let open = run(&w, 4);
    assert_eq!(check(&w, &open), [1, 1, 2], "{open:?}");
}

#[test]
fn same_world_same_ids() {
    let w = world("over_provisioned");
    let a: Vec<String> = run(&w, 5).into_iter().map(|s| s.id).collect();
    let b: Vec<String> = run(&w, 6).into_iter().map(|s| s.id).collect();
    assert!(!a.is_empty());
    assert_eq!(
        a, b,
        "the same change must have the same id whatever the data"
    );
}

/// The whole loop with the real `learn apply` and `learn reject`: apply what
/// learn suggests, learn again on the same data, and nothing flips back;
/// a rejected suggestion stays away.
#[test]
fn apply_then_learn_again_does_not_flip_flop() {
    let w = world("underperforming");
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    std::fs::create_dir_all(h.join("logs")).unwrap();
    std::fs::create_dir_all(h.join("config/orchestrator")).unwrap();
    std::fs::write(
        h.join("config/orchestrator/models.json"),
        simulate::models_json(w.rules),
    )
    .unwrap();
    let now = modelfit::clock::parse(NOW).unwrap();
    simulate::write_ledger(&w, 11, now, &h.join("logs/dispatches.json")).unwrap();
    let mf = || {
        let mut c = common::modelfit();
        c.env("MODELFIT_NOW", NOW).arg("--home").arg(h);
        c
    };
    mf().arg("learn").assert().success();
    let doc: Value =
        serde_json::from_slice(&std::fs::read(h.join("logs/model-learning.json")).unwrap())
            .unwrap();
    let open: Vec<&Value> = doc["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "open")
        .collect();
    assert_eq!(open.len(), 1, "{open:?}");
    let id = open[0]["id"].as_str().unwrap().to_string();
    mf().args(["learn", "apply", &id]).assert().success();
    let models: Value =
        serde_json::from_slice(&std::fs::read(h.join("config/orchestrator/models.json")).unwrap())
            .unwrap();
    assert_eq!(
        models["task_complexity"]["simple"]["model"],
        simulate::IDS[1]
    );
    // Same data, new rules: no reverse suggestion and no keyword rules restating the change.
    mf().arg("learn").assert().success();
    let doc: Value =
        serde_json::from_slice(&std::fs::read(h.join("logs/model-learning.json")).unwrap())
            .unwrap();
    let sg = doc["suggestions"].as_array().unwrap();
    assert!(sg
        .iter()
        .any(|s| s["id"] == id.as_str() && s["status"] == "applied"));
    let open: Vec<&Value> = sg.iter().filter(|s| s["status"] == "open").collect();
    assert!(open.is_empty(), "{open:?}");
}

/// One kind of medium task (database refactors) is hard for Sonnet while
/// medium work as a whole is fine: learn proposes keyword rules scoped to
/// medium that send it to Opus, and leaves the level alone.
#[test]
fn keyword_interaction_gets_a_scoped_rule() {
    let w = world("keyword_interaction");
    let open = run(&w, 8);
    assert!(!open.is_empty(), "no suggestion");
    for s in &open {
        assert_eq!(s.kind, "new_rule", "{open:?}");
        let Change::AddRule { rule } = &s.change else {
            panic!("{s:?}")
        };
        assert!(
            rule.condition.ends_with("and complexity == 'medium'"),
            "{rule:?}"
        );
        assert!(
            rule.condition.contains("'database'") || rule.condition.contains("'refactor'"),
            "{rule:?}"
        );
        assert_eq!(rule.model, "opus");
        // The rule parses and selects as written.
        assert!(modelfit::rules::parse(&rule.condition).is_ok());
    }
}
