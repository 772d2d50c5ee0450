//! `modelfit select`: rules evaluated as written, the drop-in positional form,
//! aliases, fallbacks, tolerance of broken files, exploration and its log,
//! and the `hooks/model-selector.sh` drop-in.

mod common;

use std::path::Path;
use std::process::Command as Std;

use assert_cmd::Command;
use modelfit::home::Home;
use modelfit::rules::{select_with, Rng, SelectInput};
use serde_json::{json, Value};
use tempfile::TempDir;

const FIX: &str = "tests/fixtures/jarvis";
const HAIKU: &str = "claude-haiku-4-5-20251001";
const SONNET: &str = "claude-sonnet-4-5-20250929";
const OPUS: &str = "claude-opus-4-5-20251101";

fn home_with(models: Option<&str>) -> TempDir {
    let dir = TempDir::new().unwrap();
    let cfg = dir.path().join("config/orchestrator");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::copy(
        Path::new(FIX).join("pricing.json"),
        cfg.join("pricing.json"),
    )
    .unwrap();
    if let Some(m) = models {
        std::fs::write(cfg.join("models.json"), m).unwrap();
    }
    dir
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIX).join(name)).unwrap()
}

fn mf(home: &Path) -> Command {
    let mut c = common::modelfit();
    c.arg("--home").arg(home).env_remove("MODELFIT_SEED");
    c
}

/// Runs select; returns (stdout trimmed, stderr).
fn sel(home: &Path, args: &[&str]) -> (String, String) {
    let out = mf(home).arg("select").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "select {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end()
            .to_string(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn fixture_rules_route_as_written() {
    for models in [
        fixture("models.json"),
        fixture("learning-sample/models.after-js-apply.json"),
    ] {
        let h = home_with(Some(&models));
        let p = h.path();
        for (args, want) in [
            (
                &["--complexity", "simple", "Design the onboarding flow"][..],
                OPUS,
            ),
            (&["--complexity", "complex", "Update the README"][..], HAIKU),
            (
                &["--complexity", "medium", "write documentation for the CLI"][..],
                HAIKU,
            ),
            (
                &["--complexity", "medium", "Redesign the settings page"][..],
                SONNET,
            ),
            (&["--complexity", "simple", "fix typo"][..], HAIKU),
            (&["--complexity", "complex", "security audit"][..], OPUS),
            (
                &[
                    "--complexity",
                    "medium",
                    "refactor module",
                    "--estimated-files",
                    "6",
                ][..],
                OPUS,
            ),
            (
                &[
                    "--complexity",
                    "medium",
                    "refactor module",
                    "--estimated-files",
                    "5",
                ][..],
                SONNET,
            ),
            (&["--complexity", "simple", ""][..], HAIKU),
            (&["--complexity", "trivial", "x"][..], SONNET),
        ] {
            let (out, err) = sel(p, args);
            assert_eq!(out, want, "{args:?}");
            if args[1] == "trivial" {
                // issue 13 §7: an unknown level still routes, with a warning.
                assert!(err.contains("unknown complexity level"), "{args:?}: {err}");
            } else {
                assert_eq!(err, "", "{args:?}");
            }
        }
    }
}

#[test]
fn positional_form_is_a_drop_in() {
    let h = home_with(Some(&fixture("models.json")));
    let (a, _) = sel(h.path(), &["medium", "Design an API"]);
    let (b, _) = sel(h.path(), &["--complexity", "medium", "Design an API"]);
    assert_eq!(a, OPUS);
    assert_eq!(a, b);
    // Several task words are joined; `--` lets a task start with a dash.
    assert_eq!(sel(h.path(), &["simple", "update", "readme"]).0, HAIKU);
    assert_eq!(sel(h.path(), &["complex", "--", "-readme first"]).0, HAIKU);
    // No complexity at all is a usage error naming both forms.
    mf(h.path())
        .arg("select")
        .assert()
        .failure()
        .stderr(predicates::str::contains("modelfit select medium"));
}

#[test]
fn json_output_names_the_rule() {
    let h = home_with(Some(&fixture("models.json")));
    let (out, _) = sel(h.path(), &["--json", "simple", "architecture review"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["model"], OPUS);
    assert_eq!(
        v["rule"],
        json!({"index": 0, "if": "task contains 'architecture' or 'design'", "use": "opus"})
    );
    assert_eq!(v["explored"], false);
    assert_eq!(v["propensity"], 1.0);
}

#[test]
fn aliases_resolve_through_task_complexity_then_pricing_then_builtin() {
    let models = json!({
        "task_complexity": {
            "simple": {"model": "claude-haiku-4-5-20251001"},
            "medium": {"model": "claude-sonnet-4-6"},
        },
        "rules": [
            {"if": "task contains 'api'", "use": "sonnet"},
            {"if": "task contains 'audit'", "use": "opus"},
            {"if": "task contains 'pin'", "use": "claude-opus-4-1-20250805"},
        ]
    });
    let h = home_with(Some(&models.to_string()));
    assert_eq!(sel(h.path(), &["simple", "add api"]).0, "claude-sonnet-4-6");
    // No level has an opus model: pricing.json's opus id.
    assert_eq!(sel(h.path(), &["simple", "audit"]).0, OPUS);
    // Full ids are used as written.
    assert_eq!(
        sel(h.path(), &["simple", "pin it"]).0,
        "claude-opus-4-1-20250805"
    );
    // Without pricing.json: the built-in current id.
    std::fs::remove_file(h.path().join("config/orchestrator/pricing.json")).unwrap();
    assert_eq!(sel(h.path(), &["simple", "audit"]).0, OPUS);
}

#[test]
fn fallbacks_follow_the_orchestrator() {
    // Level missing: medium's model; medium missing too: the built-in sonnet.
    let h = home_with(Some(
        r#"{"task_complexity": {"medium": {"model": "claude-sonnet-4-6"}}}"#,
    ));
    assert_eq!(sel(h.path(), &["complex", "x"]).0, "claude-sonnet-4-6");
    let h = home_with(Some(r#"{"task_complexity": {}}"#));
    assert_eq!(sel(h.path(), &["complex", "x"]).0, SONNET);
    // No models.json: the built-in default of the complexity.
    let h = home_with(None);
    assert_eq!(sel(h.path(), &["simple", "x"]).0, HAIKU);
    assert_eq!(sel(h.path(), &["complex", "x"]).0, OPUS);
    // models.json that does not parse: warned, defaults, exit 0.
    let h = home_with(Some("{\"task_complexity\": "));
    let (out, err) = sel(h.path(), &["complex", "x"]);
    assert_eq!(out, OPUS);
    assert!(
        err.contains("warning") && err.contains("not valid JSON") && err.contains("line 1"),
        "{err}"
    );
}

#[test]
fn broken_rules_are_warned_about_never_fatal() {
    let models = json!({
        "task_complexity": {"medium": {"model": SONNET}, "complex": {"model": OPUS}},
        "rules": [
            {"if": "task has 'api'", "use": "haiku"},
            {"use": "haiku"},
            {"if": 42, "use": "haiku"},
            "route api to haiku",
            {"if": "task contains 'api'", "use": "claude-sonnet-4-5-20251001"},
        ],
        "complexity_rules": {"simple": "claude-sonnet-4-5-20251001"},
        "keyword_rules": {"api": "claude-haiku-4-5-20251001"}
    });
    let h = home_with(Some(&models.to_string()));
    let (out, err) = sel(h.path(), &["medium", "new api"]);
    // The one valid rule fires; its invalid id is used as written but warned about.
    assert_eq!(out, "claude-sonnet-4-5-20251001");
    assert!(
        err.contains("\"task has 'api'\"") && err.contains("at column 6"),
        "{err}"
    );
    assert!(
        err.contains("rules[1]") && err.contains("rules[2]") && err.contains("rules[3]"),
        "{err}"
    );
    assert!(err.contains("route api to haiku"), "{err}");
    assert!(
        err.contains("rules[4]") && err.contains("neither in pricing.json nor a known"),
        "{err}"
    );
    // An invalid id in task_complexity (the JS analyzer's kind) is used, and warned about.
    let h = home_with(Some(
        &json!({"task_complexity": {"simple": {"model": "claude-sonnet-4-5-20251001"}}})
            .to_string(),
    ));
    let (out, err) = sel(h.path(), &["simple", "x"]);
    assert_eq!(out, "claude-sonnet-4-5-20251001");
    assert!(
        err.contains("task_complexity for \"simple\"") && err.contains("neither in"),
        "{err}"
    );
    // `rules` replaced by prose (the miner's proposal): warned, fallback.
    let h = home_with(Some(
        &json!({"task_complexity": {"medium": {"model": SONNET}}, "rules": "use opus for design"})
            .to_string(),
    ));
    let (out, err) = sel(h.path(), &["medium", "design"]);
    assert_eq!(out, SONNET);
    assert!(
        err.contains("\"rules\" is not an array") && err.contains("use opus for design"),
        "{err}"
    );
}

fn learning(dir: &Path, arms: &[(&str, f64, f64)]) {
    let patterns: Vec<Value> = arms
        .iter()
        .map(|(m, s, n)| {
            let fam = modelfit::rules::family(m).unwrap();
            json!({"pattern_id": format!("complexity=medium/model={fam}"), "trigger": "complexity == 'medium'",
                   "complexity": "medium", "model": m, "model_family": fam, "success_rate": s / n,
                   "sample_size": *n as u64, "successes": s, "effective_sample_size": n})
        })
        .collect();
    std::fs::write(
        dir.join("logs/model-learning.json"),
        json!({"patterns": patterns, "suggestions": []}).to_string(),
    )
    .unwrap();
}

fn draws(
    home: &Home,
    complexity: &str,
    task: &str,
    n: usize,
    seed: u64,
) -> Vec<modelfit::rules::Selection> {
    let mut rng = Rng::seeded(seed);
    let input = SelectInput {
        complexity: complexity.into(),
        task: task.into(),
        estimated_files: None,
        explore: true,
    };
    (0..n)
        .map(|_| select_with(home, &input, &mut rng).unwrap())
        .collect()
}

#[test]
fn exploration_rate_and_uniform_neighbours_without_data() {
    let h = home_with(Some(&fixture("models.json")));
    let home = Home::at(h.path());
    let n = 20_000;
    let s = draws(&home, "medium", "implement feature", n, 7);
    let explored = s.iter().filter(|x| x.explored).count() as f64 / n as f64;
    // Binomial sd at p = 0.1, n = 20000 is 0.0021: ±0.01 is ~5 sd.
    assert!((explored - 0.10).abs() < 0.01, "explored {explored}");
    let haiku = s.iter().filter(|x| x.model == HAIKU).count() as f64 / n as f64;
    let opus = s.iter().filter(|x| x.model == OPUS).count() as f64 / n as f64;
    assert!(
        (haiku - 0.05).abs() < 0.008 && (opus - 0.05).abs() < 0.008,
        "{haiku} {opus}"
    );
    for x in &s {
        assert_eq!(x.rule_model, SONNET);
        let want = if x.explored { 0.05 } else { 0.90 };
        assert!((x.propensity - want).abs() < 1e-12, "{x:?}");
    }
    // Every choice is logged, one valid JSON line each.
    let log = std::fs::read_to_string(home.selections()).unwrap();
    assert_eq!(log.lines().count(), n);
    let first: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "at",
            "complexity",
            "task_fp",
            "model",
            "rule_model",
            "explored",
            "propensity"
        ]
    );
    assert_eq!(
        first["task_fp"],
        modelfit::signals::task_fingerprint("implement feature")
    );
    // Complex explores only one tier down, never two; simple only up.
    for x in draws(&home, "complex", "x", 3000, 9) {
        assert!(x.model == OPUS || x.model == SONNET, "{x:?}");
        if x.explored {
            assert!((x.propensity - 0.10).abs() < 1e-12);
        }
    }
    for x in draws(&home, "simple", "x", 3000, 9) {
        assert!(x.model == HAIKU || x.model == SONNET, "{x:?}");
    }
}

#[test]
fn exploration_is_directed_by_the_rule_arms_posterior() {
    let h = home_with(Some(&fixture("models.json")));
    let home = Home::at(h.path());
    // Sonnet comfortably above target (39/40): explore down to haiku.
    learning(
        h.path(),
        &[
            (SONNET, 39.0, 40.0),
            (HAIKU, 12.0, 15.0),
            (OPUS, 14.0, 15.0),
        ],
    );
    let s = draws(&home, "medium", "x", 4000, 1);
    assert!(s
        .iter()
        .filter(|x| x.explored)
        .all(|x| x.model == HAIKU && (x.propensity - 0.1).abs() < 1e-12));
    assert!(s.iter().any(|x| x.explored));
    // Sonnet near target (30/40): explore up.
    learning(
        h.path(),
        &[
            (SONNET, 30.0, 40.0),
            (HAIKU, 12.0, 15.0),
            (OPUS, 14.0, 15.0),
        ],
    );
    let s = draws(&home, "medium", "x", 4000, 2);
    assert!(s.iter().filter(|x| x.explored).all(|x| x.model == OPUS));
    // An under-sampled neighbour (opus n = 3) is explored first.
    learning(
        h.path(),
        &[(SONNET, 39.0, 40.0), (HAIKU, 12.0, 15.0), (OPUS, 3.0, 3.0)],
    );
    let s = draws(&home, "medium", "x", 4000, 3);
    assert!(s.iter().filter(|x| x.explored).all(|x| x.model == OPUS));
}

#[test]
fn exploration_rate_comes_from_settings_and_seed_makes_it_reproducible() {
    let h = home_with(Some(&fixture("models.json")));
    std::fs::create_dir_all(h.path().join("logs/modelfit")).unwrap();
    std::fs::write(
        h.path().join("logs/modelfit/config.json"),
        r#"{"exploration_rate": 0.5}"#,
    )
    .unwrap();
    let home = Home::at(h.path());
    let s = draws(&home, "medium", "x", 4000, 11);
    let explored = s.iter().filter(|x| x.explored).count() as f64 / 4000.0;
    assert!((explored - 0.5).abs() < 0.04, "{explored}");
    // Through the binary: the same seed gives the same choice; each is logged.
    let run = |seed: &str| {
        let out = mf(h.path())
            .env("MODELFIT_SEED", seed)
            .args(["select", "--explore", "medium", "add a feature"])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let before = std::fs::read_to_string(home.selections())
        .unwrap()
        .lines()
        .count();
    let picks: Vec<String> = (0..20).map(|i| run(&i.to_string())).collect();
    let again: Vec<String> = (0..20).map(|i| run(&i.to_string())).collect();
    assert_eq!(picks, again);
    assert!(picks.iter().any(|p| p.trim() != SONNET) && picks.iter().any(|p| p.trim() == SONNET));
    let log = std::fs::read_to_string(home.selections()).unwrap();
    assert_eq!(log.lines().count(), before + 40);
    // Without --explore nothing is logged and the rule's model is printed.
    mf(h.path())
        .env("MODELFIT_SEED", "1")
        .args(["select", "medium", "x"])
        .assert()
        .success()
        .stdout(format!("{SONNET}\n"));
    assert_eq!(
        std::fs::read_to_string(home.selections())
            .unwrap()
            .lines()
            .count(),
        before + 40
    );
}

#[test]
fn concurrent_selects_log_whole_lines() {
    let h = home_with(Some(&fixture("models.json")));
    let bin = common::bin();
    let kids: Vec<_> = (0..8)
        .map(|i| {
            Std::new(&bin)
                .arg("--home")
                .arg(h.path())
                .args(["select", "--explore", "medium", &format!("task {i}")])
                .output()
        })
        .collect();
    for k in kids {
        assert!(k.unwrap().status.success());
    }
    let log = std::fs::read_to_string(Home::at(h.path()).selections()).unwrap();
    assert_eq!(log.lines().count(), 8);
    for l in log.lines() {
        serde_json::from_str::<Value>(l).unwrap();
    }
}

fn hook(home: &Path, modelfit: &str, args: &[&str]) -> (String, String) {
    let out = Std::new("bash")
        .arg("hooks/model-selector.sh")
        .args(args)
        .env("ORCHESTRATOR_HOME", home)
        .env("MODELFIT", modelfit)
        .output()
        .expect("bash is needed to run hooks/model-selector.sh");
    assert!(out.status.success());
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn hook_script_is_a_drop_in_with_fallback() {
    let h = home_with(Some(&fixture("models.json")));
    let bin = common::bin();
    let bin = bin.to_str().unwrap();
    assert_eq!(
        hook(h.path(), bin, &["simple", "Design the API"]).0,
        format!("{OPUS}\n")
    );
    assert_eq!(
        hook(h.path(), bin, &["complex", "fix typo"]).0,
        format!("{OPUS}\n")
    );
    assert_eq!(
        hook(h.path(), bin, &["medium", "-update readme"]).0,
        format!("{HAIKU}\n")
    );
    assert_eq!(hook(h.path(), bin, &[]).0, format!("{SONNET}\n"));
    // modelfit missing: the orchestrator's defaults, a note on stderr.
    let (out, err) = hook(
        h.path(),
        "/nonexistent/modelfit",
        &["simple", "Design the API"],
    );
    assert_eq!(out, format!("{HAIKU}\n"));
    assert!(err.contains("modelfit not found"), "{err}");
    // modelfit failing: the same.
    let (out, err) = hook(h.path(), "false", &["complex", "x"]);
    assert_eq!(out, format!("{OPUS}\n"));
    assert!(err.contains("failed"), "{err}");
}

#[test]
fn exploration_reads_both_learning_file_shapes() {
    use modelfit::rules::{neighbour_probabilities, CellStats};
    // The JS analyzer's by_complexity[]: medium has only sonnet, 13/18 (below target): up.
    let js = Path::new(FIX).join("learning-sample/model-learning.json");
    let medium = CellStats::load(&js, "medium");
    assert_eq!(medium.arms[1], Some((13.0, 18.0)));
    assert_eq!(medium.arms[0], None);
    assert_eq!(neighbour_probabilities(1, &medium), vec![(2, 1.0)]);
    // Complex: opus 10/12 and sonnet 8/8; opus has a single neighbour.
    let complex = CellStats::load(&js, "complex");
    assert_eq!(complex.arms[2], Some((10.0, 12.0)));
    assert_eq!(neighbour_probabilities(2, &complex), vec![(1, 1.0)]);
    // No data for a level: uniform among the neighbours.
    assert_eq!(
        neighbour_probabilities(1, &CellStats::load(&js, "nonexistent")),
        vec![(0, 0.5), (2, 0.5)]
    );
    // modelfit's patterns[]: effective sizes, keyword patterns ignored.
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("model-learning.json");
    std::fs::write(
        &p,
        json!({"patterns": [
            {"pattern_id": "complexity=medium/model=sonnet", "trigger": "complexity == 'medium'", "complexity": "medium",
             "model": SONNET, "model_family": "sonnet", "success_rate": 0.95, "sample_size": 60, "successes": 57, "effective_sample_size": 40.0},
            {"pattern_id": "keyword=api/complexity=medium/model=haiku", "trigger": "task contains 'api' and complexity == 'medium'",
             "complexity": "medium", "keyword": "api", "model": HAIKU, "model_family": "haiku", "success_rate": 0.2, "sample_size": 50},
            {"pattern_id": "complexity=medium/model=opus", "complexity": "medium", "model": OPUS}
        ]})
        .to_string(),
    )
    .unwrap();
    let s = CellStats::load(&p, "medium");
    let (succ, n) = s.arms[1].unwrap();
    assert!(
        (n - 40.0).abs() < 1e-9 && (succ - 38.0).abs() < 1e-9,
        "{succ} {n}"
    );
    assert_eq!(s.arms[0], None, "keyword patterns are not the level's cell");
    assert_eq!(s.arms[2], None, "an entry without figures is passed over");
    // Sonnet comfortably above target, both neighbours unexplored: down first.
    assert_eq!(neighbour_probabilities(1, &s), vec![(0, 1.0)]);
    // The label model's information size, when written, is the size: a
    // cell known mostly from weak evidence counts as lightly sampled.
    std::fs::write(
        &p,
        json!({"patterns": [
            {"complexity": "medium", "model": SONNET, "model_family": "sonnet", "success_rate": 0.9,
             "sample_size": 60, "effective_sample_size": 40.0, "information_size": 6.0}
        ]})
        .to_string(),
    )
    .unwrap();
    let (succ, n) = CellStats::load(&p, "medium").arms[1].unwrap();
    assert!(
        (n - 6.0).abs() < 1e-9 && (succ - 5.4).abs() < 1e-9,
        "{succ} {n}"
    );
    // A corrupt file gives no data, never an error.
    std::fs::write(&p, "{").unwrap();
    assert!(CellStats::load(&p, "medium")
        .arms
        .iter()
        .all(Option::is_none));
}

#[test]
fn a_missing_models_json_falls_back_to_the_defaults_and_says_so() {
    let home = home_with(None);
    let (out, err) = sel(home.path(), &["complex", "design the schema"]);
    assert_eq!(out.trim(), OPUS);
    assert!(err.contains("models.json not found"), "{err}");
    assert!(err.contains("ORCHESTRATOR_HOME"), "{err}");
}
