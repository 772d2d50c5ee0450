//! Complexity estimation against the orchestrator's own labels: the fixture
//! ledgers' labelled dispatches (tests/fixtures/jarvis/dispatches.json and
//! learning-sample/dispatches.json, see tests/fixtures/jarvis/README.md) are
//! estimated from what a hook would observe of them (task text, tokens,
//! duration) and the agreement is printed; the detached calibration run
//! (`modelfit hook --calibrate-complexity`) fits thresholds on them.

mod common;

use modelfit::complexity::{self, calibrate, features_of, labelled, level, score, DEFAULT_CUTS};
use serde_json::{Map, Value};

fn labelled_scores(path: &str) -> Vec<(f64, usize)> {
    let text = std::fs::read_to_string(common::fixtures().join("jarvis").join(path)).unwrap();
    let recs: Vec<Map<String, Value>> = serde_json::from_str(&text).unwrap();
    recs.iter()
        .filter_map(|r| labelled(r).map(|l| (score(&features_of(r)), l)))
        .collect()
}

fn agreement(samples: &[(f64, usize)], cuts: (f64, f64)) -> f64 {
    let hits = samples
        .iter()
        .filter(|(s, l)| level(*s, cuts) == complexity::LEVELS[*l])
        .count();
    hits as f64 / samples.len() as f64
}

#[test]
fn estimates_agree_with_the_orchestrators_labels() {
    let mut all = Vec::new();
    for path in ["dispatches.json", "learning-sample/dispatches.json"] {
        let s = labelled_scores(path);
        let a = agreement(&s, DEFAULT_CUTS);
        eprintln!(
            "{path}: {} labelled dispatches, agreement with the default thresholds {a:.3}",
            s.len()
        );
        all.extend(s);
    }
    let a = agreement(&all, DEFAULT_CUTS);
    eprintln!("both: {} labelled, agreement {a:.3}", all.len());
    assert!(a >= 0.70, "agreement {a:.3} with the orchestrator's labels");
    let (cuts, fitted) = calibrate(&all).expect(">= 30 labelled dispatches");
    eprintln!("fitted thresholds {cuts:?}: agreement {fitted:.3}");
    assert!(fitted >= a);
    // Fewer than MIN_LABELLED: no fit, the defaults stand.
    assert!(calibrate(&all[..complexity::MIN_LABELLED - 1]).is_none());
}

#[test]
fn the_detached_calibration_writes_its_fit() {
    let home = common::Home::with_ledger("learning-sample/dispatches.json");
    home.cmd()
        .args(["hook", "--calibrate-complexity"])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .success()
        .stdout("");
    let fit: Value = serde_json::from_slice(
        &std::fs::read(
            home.path()
                .join("logs/modelfit/complexity-calibration.json"),
        )
        .unwrap(),
    )
    .unwrap();
    eprintln!("calibration: {fit}");
    assert!(fit["labelled"].as_u64().unwrap() >= 30);
    assert!(fit["agreement"].as_f64().unwrap() >= 0.7);
}
