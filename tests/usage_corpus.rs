//! `modelfit usage` against a known truth: seeded corpora of Claude Code
//! transcripts (`examples/usage_corpus/gen.rs`) with `/btw` replays, resumed
//! sessions copying a prefix, inline and file subagents, placeholder outputs
//! corrected by Task results, long-context requests, streaming duplicates and
//! several models. Run with `--nocapture` to see the figures.

#[path = "../examples/usage_corpus/gen.rs"]
#[allow(dead_code)]
mod gen;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

const SEEDS: [u64; 8] = [1, 2, 3, 5, 8, 13, 21, 34];

fn usage_json(home: &Path, target: &Path) -> Value {
    std::fs::create_dir_all(home).unwrap();
    let out = Command::cargo_bin("modelfit")
        .unwrap()
        .arg("--home")
        .arg(home)
        .arg("usage")
        .arg(target)
        .arg("--json")
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "usage {} failed: {}",
        target.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (input, output, cache_creation, cache_read, responses) of a summary object.
fn figures(v: &Value) -> (u64, u64, u64, u64, u64) {
    let t = &v["tokens"];
    let n = |x: &Value| x.as_u64().unwrap();
    (
        n(&t["input"]),
        n(&t["output"]),
        n(&t["cache_creation"]),
        n(&t["cache_read"]),
        n(&v["responses"]),
    )
}

fn truth_figures(t: &gen::Truth) -> (u64, u64, u64, u64, u64) {
    (
        t.input,
        t.output,
        t.cache_creation,
        t.cache_read,
        t.responses,
    )
}

fn same_cost(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

struct Tally {
    sessions: usize,
    equal: usize,
    by_feature: BTreeMap<&'static str, (usize, usize)>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            sessions: 0,
            equal: 0,
            by_feature: BTreeMap::new(),
        }
    }
    fn add(&mut self, t: &gen::Truth, ok: bool) {
        self.sessions += 1;
        self.equal += ok as usize;
        for f in &t.features {
            let e = self.by_feature.entry(f).or_default();
            e.0 += 1;
            e.1 += ok as usize;
        }
    }
    fn report(&self, what: &str) {
        println!(
            "{what}: {}/{} sessions equal the truth ({:.1} %)",
            self.equal,
            self.sessions,
            100.0 * self.equal as f64 / self.sessions as f64
        );
        for (f, (n, ok)) in &self.by_feature {
            println!("  {f:<22} {ok}/{n}");
        }
        assert!(
            self.equal * 100 >= self.sessions * 95,
            "{what}: only {}/{} sessions equal the truth",
            self.equal,
            self.sessions
        );
    }
}

/// A folder read totals every session as the truth says, the copied prefix of
/// a resumed session counted once in the session it came from; days and
/// models add up to the total; no subagent is called missing.
#[test]
fn folder_totals_equal_the_truth_per_session_over_seeds() {
    let mut tally = Tally::new();
    for seed in SEEDS {
        let d = tempfile::tempdir().unwrap();
        let truths = gen::generate(d.path(), seed, 400 << 10, 10).unwrap();
        let v = usage_json(&d.path().join("home"), &d.path().join("projects"));
        let got: BTreeMap<String, &Value> = v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["session"].as_str().unwrap().to_string(), s))
            .collect();
        assert_eq!(got.len(), truths.len(), "seed {seed}: sessions");
        for t in &truths {
            let s = got[&t.session];
            let ok = figures(s) == truth_figures(t)
                && same_cost(s["cost_usd"].as_f64().unwrap(), t.cost_usd);
            if !ok {
                println!(
                    "seed {seed} {} {:?}: got {:?} ${}, truth {:?} ${}",
                    t.session,
                    t.features,
                    figures(s),
                    s["cost_usd"],
                    truth_figures(t),
                    t.cost_usd
                );
            }
            tally.add(t, ok);
            assert_eq!(
                s["missing_subagents"],
                serde_json::json!([]),
                "seed {seed} {}: every subagent was written",
                t.session
            );
            if t.features.contains(&"resumed") {
                assert!(
                    !s["copied_from"].as_object().unwrap().is_empty(),
                    "seed {seed} {}: a resumed session says where its prefix came from",
                    t.session
                );
            }
        }
        // Days and models add up to the total.
        let total = figures(&v["total"]);
        let mut days = (0, 0, 0, 0, 0);
        for day in v["days"].as_array().unwrap() {
            let f = figures(day);
            days = (
                days.0 + f.0,
                days.1 + f.1,
                days.2 + f.2,
                days.3 + f.3,
                days.4 + f.4,
            );
        }
        assert_eq!(days, total, "seed {seed}: days add up");
        let out: u64 = v["models"]
            .as_object()
            .unwrap()
            .values()
            .map(|m| m["output"].as_u64().unwrap())
            .sum();
        assert_eq!(out, total.1, "seed {seed}: models add up");
        let cost: f64 = truths.iter().map(|t| t.cost_usd).sum();
        assert!(same_cost(v["total"]["cost_usd"].as_f64().unwrap(), cost));
    }
    tally.report("folder");
}

/// One session file alone: a resumed session finds the session it resumed
/// beside it and leaves the copied prefix out, saying so.
#[test]
fn single_transcripts_equal_the_truth_and_leave_a_resumed_prefix_out() {
    let mut tally = Tally::new();
    for seed in [4u64, 7, 11] {
        let d = tempfile::tempdir().unwrap();
        let truths = gen::generate(d.path(), seed, 300 << 10, 10).unwrap();
        for t in &truths {
            let main: PathBuf = d
                .path()
                .join("projects")
                .join(&t.project)
                .join(format!("{}.jsonl", t.session));
            let v = usage_json(&d.path().join("home"), &main);
            let ok = figures(&v["total"]) == truth_figures(t)
                && same_cost(v["total"]["cost_usd"].as_f64().unwrap(), t.cost_usd);
            if !ok {
                println!(
                    "seed {seed} {} {:?}: got {:?}, truth {:?}",
                    t.session,
                    t.features,
                    figures(&v["total"]),
                    truth_figures(t)
                );
            }
            tally.add(t, ok);
            assert_eq!(
                v["missing_subagents"],
                serde_json::json!([]),
                "{}",
                t.session
            );
            if t.features.contains(&"resumed") {
                assert!(!v["total"]["copied_from"].as_object().unwrap().is_empty());
            }
        }
    }
    tally.report("single transcript");
}

/// The real fixtures laid out as Claude Code does: a folder read gives each
/// session what a read of its transcript gives (and the figures the
/// comparison with ccusage in docs/usage-and-cost.md shows).
#[test]
fn real_fixtures_read_as_a_folder_equal_their_single_reads() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude-code/transcripts");
    let d = tempfile::tempdir().unwrap();
    let proj = d.path().join("projects/-home-USER-projects-spotter");
    std::fs::create_dir_all(&proj).unwrap();
    for e in std::fs::read_dir(&fx).unwrap() {
        let dir = e.unwrap().path();
        for f in std::fs::read_dir(&dir).unwrap() {
            let p = f.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            if let Some(sid) = name.strip_suffix(".jsonl") {
                let sid = sid.trim_end_matches(".excerpt");
                std::fs::copy(&p, proj.join(format!("{sid}.jsonl"))).unwrap();
                let subs = dir.join(sid).join("subagents");
                if subs.is_dir() {
                    let to = proj.join(sid).join("subagents");
                    std::fs::create_dir_all(&to).unwrap();
                    for s in std::fs::read_dir(&subs).unwrap() {
                        let s = s.unwrap().path();
                        std::fs::copy(&s, to.join(s.file_name().unwrap())).unwrap();
                    }
                }
            }
        }
    }
    let home = d.path().join("home");
    let v = usage_json(&home, &d.path().join("projects"));
    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 4);
    // Known figures (input, output, cache_write, cache_read) per session.
    let known: BTreeMap<&str, (u64, u64, u64, u64)> = [
        (
            "55604662-cf2a-4331-851a-ec234028f8ca",
            (3, 13, 13835, 11515),
        ),
        (
            "491e126e-1e71-469c-ade2-fcc8af567c74",
            (1576, 1586, 25842, 427286),
        ),
        (
            "d6e0bada-1959-4eec-a9d2-0bfade768d8f",
            (54, 212, 17696, 88231),
        ),
        (
            "4d5611e5-241a-462a-8d15-5122611a9569",
            (66, 5361, 185443, 1057566),
        ),
    ]
    .into_iter()
    .collect();
    for s in sessions {
        let sid = s["session"].as_str().unwrap();
        let f = figures(s);
        assert_eq!((f.0, f.1, f.2, f.3), known[sid], "{sid}");
        let single = usage_json(&home, &proj.join(format!("{sid}.jsonl")));
        assert_eq!(figures(&single["total"]), f, "{sid}: folder = single read");
        assert!(same_cost(
            single["total"]["cost_usd"].as_f64().unwrap(),
            s["cost_usd"].as_f64().unwrap()
        ));
        assert_eq!(
            s["copied_from"],
            serde_json::json!({}),
            "{sid}: nothing resumed"
        );
        assert_eq!(s["replays_dropped"], 0);
    }
    // 491e126e's subagent afb92ff really has no file (only agent_progress copies).
    let task = sessions
        .iter()
        .find(|s| s["session"] == "491e126e-1e71-469c-ade2-fcc8af567c74")
        .unwrap();
    assert_eq!(task["missing_subagents"], serde_json::json!(["afb92ff"]));
}

/// The folder table names the resumed sessions and the replays; a folder
/// with `--offset` and a path that is neither are errors that say what to give.
#[test]
fn folder_table_says_what_was_left_out_and_bad_targets_are_errors() {
    // The first seed whose corpus holds a resumed session and /btw replays.
    let (d, truths) = (1..40u64)
        .find_map(|seed| {
            let d = tempfile::tempdir().unwrap();
            let truths = gen::generate(d.path(), seed, 300 << 10, 12).unwrap();
            let has = |f| truths.iter().any(|t| t.features.contains(&f));
            (has("resumed") && has("btw") && has("long-context")).then_some((d, truths))
        })
        .expect("some seed holds a resumed session and /btw replays");
    std::fs::create_dir_all(d.path().join("home")).unwrap();
    let out = Command::cargo_bin("modelfit")
        .unwrap()
        .arg("--home")
        .arg(d.path().join("home"))
        .args(["usage"])
        .arg(d.path())
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("{} session(s)", truths.len())),
        "{text}"
    );
    assert!(text.contains("resumed from "), "{text}");
    assert!(text.contains("copied response(s) counted there"), "{text}");
    assert!(text.contains("/btw replay(s) left out"), "{text}");
    assert!(text.contains("\nday "), "{text}");
    assert!(
        text.contains("price claude-sonnet-4-5-20250929: built-in"),
        "{text}"
    );
    assert!(text.contains("over 200k input $6/$22.5"), "{text}");

    for (args, says) in [
        (vec!["--offset", "10"], "not a folder"),
        (vec![], "not a transcript file"),
    ] {
        let target = if args.is_empty() {
            d.path().join("nope.jsonl")
        } else {
            d.path().to_path_buf()
        };
        let out = Command::cargo_bin("modelfit")
            .unwrap()
            .arg("--home")
            .arg(d.path().join("home"))
            .arg("usage")
            .arg(&target)
            .args(&args)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
