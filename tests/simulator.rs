//! `modelfit learn` on ledgers generated from known ground-truth worlds
//! (`modelfit::learn::simulate`): routing must move toward the truth and no
//! level may get worse.

mod common;

use modelfit::learn::simulate::{self, World};
use modelfit::learn::{analyze::DELTA, analyze::TARGET, Change, Suggestion};
use serde_json::Value;

const NOW: &str = "2026-06-01T00:00:00Z";

fn run(world: &World, seed: u64) -> Vec<Suggestion> {
    run_doc(world, seed).0
}

/// The open suggestions of `learn` on a draw of `world`, and the learning file.
fn run_doc(world: &World, seed: u64) -> (Vec<Suggestion>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    common::simulated_draw(h, world, seed, NOW);
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
    let open = doc["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| serde_json::from_value(s.clone()).unwrap())
        .filter(|s: &Suggestion| s.status == modelfit::learn::Status::Open)
        .collect();
    (open, doc)
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

/// Seeds of the rate tests: outside the 0–79 of `bench/learn-sweep.sh`.
const SEEDS: std::ops::Range<u64> = 100..110;

/// The cheaper cell's labels in the learning file of the last `run`: its
/// own estimate (from its judged tasks only) and its implicit rate.
fn labels_of(doc: &Value, level: &str, fam: &str) -> (f64, Option<f64>, f64) {
    let p = doc["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["complexity"] == level && p["model_family"] == fam && p.get("keyword").is_none()
        })
        .unwrap_or_else(|| panic!("no {level}/{fam} pattern"));
    let l = &p["labels"];
    (
        l["judged"].as_f64().unwrap(),
        l["own_rate"].as_f64(),
        l["implicit_rate"].as_f64().unwrap(),
    )
}

/// Every world, truth-labelled and weak-labelled, over ten draws: no task
/// loses more than 5 points of true success, except in the silent world
/// and then only in a draw where no rated task on the cheaper model caught
/// a silent failure (its people agree with its clean stops: nothing in the
/// data tells it from the honest world); worlds whose rules are right or
/// whose sample is tiny stay put; the gains are found in at least 75 % of
/// draws and in half the draws of each world.
#[test]
fn every_world_over_several_draws() {
    let mut worlds = World::scenarios();
    worlds.extend(World::weak_scenarios());
    let (mut found, mut pairs, mut unsafe_draws) = (0, 0, 0);
    for w in &worlds {
        let (mut safe, mut world_found, mut world_pairs) = (0, 0, 0);
        for seed in SEEDS {
            let (open, doc) = run_doc(w, seed);
            let changes: Vec<Change> = open.iter().map(|s| s.change.clone()).collect();
            let o = simulate::judge(w, &changes);
            safe += o.safe() as u32;
            if !o.safe() && w.name == "silent_failures" {
                // The harmful change is the complex downgrade to Sonnet, and
                // the people who rated Sonnet's complex tasks saw nothing wrong.
                let (judged, own, implicit) = labels_of(&doc, "complex", "sonnet");
                let own = own.unwrap_or(implicit);
                assert!(
                    own >= implicit - 0.03,
                    "seed {seed}: downgraded although {judged} ratings put Sonnet at {own} vs {implicit} by implicit evidence"
                );
            } else {
                unsafe_draws += !o.safe() as u32;
            }
            if ["already_optimal", "simpson", "tiny_sample"].contains(&w.name) {
                assert!(open.is_empty(), "{} seed {seed}: {open:?}", w.name);
            }
            if GAIN_WORLDS.contains(&w.name) {
                world_pairs += 1;
                world_found += o.found().unwrap_or(false) as u32;
            }
        }
        let draws = SEEDS.count() as u32;
        if w.name != "silent_failures" {
            // At most one unlucky draw per world: a cell of ~65 tasks whose
            // sample rate is 2.5 sd above its truth (bench/learn-sweep.sh:
            // 3 such draws in 160 of the honest world).
            assert!(safe + 1 >= draws, "{}: safe in {safe}/{draws}", w.name);
        }
        if world_pairs > 0 {
            assert!(
                2 * world_found >= world_pairs,
                "{}: gain found in {world_found}/{world_pairs}",
                w.name
            );
        }
        found += world_found;
        pairs += world_pairs;
    }
    assert!(4 * found >= 3 * pairs, "gains found in {found}/{pairs}");
    assert!(
        unsafe_draws <= 2,
        "{unsafe_draws} draws with a task 5+ points worse outside the silent world"
    );
}

/// Worlds whose change the data supports.
const GAIN_WORLDS: [&str; 5] = [
    "over_provisioned",
    "underperforming",
    "honest_evidence",
    "verification_only",
    "drift_after_release",
];

#[test]
fn a_found_change_is_the_oracle_s_and_has_the_same_id_in_every_draw() {
    let w = world("over_provisioned");
    let found: Vec<Vec<Suggestion>> = (0..8)
        .map(|seed| run(&w, seed))
        .filter(|o| o.iter().any(|s| s.kind == "downgrade_complexity"))
        .take(2)
        .collect();
    assert_eq!(found.len(), 2, "the downgrade in fewer than 2 of 8 draws");
    for open in &found {
        let after = check(&w, open);
        assert_eq!(after[1], 0, "{open:?}");
        let s = open
            .iter()
            .find(|s| s.kind == "downgrade_complexity")
            .unwrap();
        assert!(s.id.starts_with("sg-") && s.confidence >= 0.9);
        assert!(
            s.reason
                .contains("recent medium tasks succeeded with Haiku"),
            "{}",
            s.reason
        );
    }
    let ids = |o: &Vec<Suggestion>| -> Vec<String> {
        o.iter()
            .filter(|s| s.kind == "downgrade_complexity")
            .map(|s| s.id.clone())
            .collect()
    };
    assert_eq!(
        ids(&found[0]),
        ids(&found[1]),
        "the same change must have the same id"
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
    // A draw where learn finds the upgrade (most do).
    let seed = (11..20)
        .find(|seed| run(&w, *seed).len() == 1)
        .expect("the upgrade in none of 9 draws");
    common::simulated_draw(h, &w, seed, NOW);
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
/// medium work as a whole is fine: in most draws learn proposes keyword rules
/// scoped to medium that send it to Opus, and every keyword rule it proposes
/// is one of those.
#[test]
fn keyword_interaction_gets_a_scoped_rule() {
    let w = world("keyword_interaction");
    let mut with_rule = 0;
    for seed in SEEDS {
        let open = run(&w, seed);
        let rules: Vec<&Suggestion> = open.iter().filter(|s| s.kind == "new_rule").collect();
        with_rule += !rules.is_empty() as u32;
        for s in rules {
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
        // No task loses: the level change sometimes proposed next to the rule
        // (medium's mixed rate sits just above target) moves up, not down.
        assert!(simulate::judge(
            &w,
            &open.iter().map(|s| s.change.clone()).collect::<Vec<_>>()
        )
        .safe());
    }
    assert!(
        with_rule * 5 >= 4 * SEEDS.count() as u32,
        "scoped rule in {with_rule} draws"
    );
}

/// The people's veto, through the binary: Haiku fails nine in ten of one
/// kind of medium task and only people see it (a person rates three tasks
/// in ten). The downgrade that the honest twin of this world gets is held
/// back, and the cell's own estimate says why.
#[test]
fn ratings_that_contradict_a_cell_s_clean_stops_veto_its_downgrade() {
    let honest = World::weak_scenarios()
        .into_iter()
        .find(|w| w.name == "honest_evidence")
        .unwrap();
    let mut silent = honest.clone();
    silent.hard_task = Some((1, 0, [0.1, 0.93, 0.94]));
    let simulate::Labels::Weak(wk) = &honest.labels else {
        panic!("weak world")
    };
    let rated = simulate::Weak {
        rated: 0.3,
        ..wk.clone()
    };
    silent.labels = simulate::Labels::Weak(simulate::Weak {
        silent: Some((1, 0, 0)),
        ..rated.clone()
    });
    let mut twin = honest.clone();
    twin.labels = simulate::Labels::Weak(rated);
    let downgrades_medium = |open: &[Suggestion]| {
        open.iter().any(|s| {
            matches!(&s.change, Change::TaskComplexity { level, to, .. }
                if level == "medium" && to.contains("haiku"))
        })
    };
    let mut twin_found = 0;
    for seed in 200..204 {
        let (open, doc) = run_doc(&silent, seed);
        assert!(!downgrades_medium(&open), "seed {seed}: {open:?}");
        // The cell's own estimate (its ratings, nothing borrowed) is far
        // below its clean stops.
        let p = doc["patterns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| {
                p["complexity"] == "medium"
                    && p["model_family"] == "haiku"
                    && p.get("keyword").is_none()
            })
            .unwrap();
        let own = p["labels"]["own_rate"].as_f64().unwrap();
        let implicit = p["labels"]["implicit_rate"].as_f64().unwrap();
        assert!(own < implicit - 0.1, "seed {seed}: {own} vs {implicit}");
        twin_found += downgrades_medium(&run(&twin, seed)) as u32;
    }
    assert!(
        twin_found >= 3,
        "the honest twin's downgrade in {twin_found}/4"
    );
}
