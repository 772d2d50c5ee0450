//! The orchestrator's router (`modelfit::router`, `select --router
//! orchestrator`) against a Node re-implementation of the dispatcher's
//! `selectModel` written from its documented semantics
//! (`tests/fixtures/router/select-model.mjs`), on generated task texts ×
//! 3 levels × many models.json shapes; and the `router` setting.

mod common;

use std::io::Write;
use std::process::{Command as Std, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use modelfit::router::{orchestrator_route, parse_models, OrchestratorRoute};
use serde_json::{json, Value};

/// A small deterministic generator (xorshift), so the texts vary by seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// ≥ 50 varied task texts: magic words in any case and position, inside
/// other words (`Redesign`, `docstring`), several at once, none, Unicode,
/// empty.
fn texts() -> Vec<String> {
    let mut out: Vec<String> = [
        "",
        "Redesign the settings page",
        "Fix the docstring of parse()",
        "Update the README",
        "update the readme and the DOCS",
        "Design the billing API",
        "ARCHITECTURE review of the sync engine",
        "Architectural decision record for caching",
        "write documentation for the CLI",
        "Documented behaviour differs: fix it",
        "design docs for the importer",
        "docs: architecture overview",
        "Add an endpoint for invoices",
        "Refactor the database access layer",
        "Security audit of the auth flow",
        "improve performance of the query planner",
        "désign du module — ARCHITECTURE générale",
        "ΣΊΣΥΦΟΣ docs ΑΡΧΙΤΕΚΤΟΝΙΚΉ",
        "DESİGN with a dotted capital I",
        "readme.md typo",
        "   ",
        "designer handoff notes",
        "undocumented flag",
        "the-docs-site build",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let verbs = [
        "Fix", "add", "REFACTOR", "Write", "review", "Update", "plan", "Migrate",
    ];
    let magic = [
        "architecture",
        "Design",
        "DOCUMENTATION",
        "readme",
        "docs",
        "redesign",
        "docstrings",
        "ReadMe",
        "doc",
        "architect",
        "designs",
        "",
        "",
    ];
    let nouns = [
        "the parser",
        "auth flow",
        "billing service",
        "CI pipeline",
        "the scheduler",
        "tests",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..60 {
        let v = rng.pick(&verbs);
        let m = rng.pick(&magic);
        let n = rng.pick(&nouns);
        let text = match rng.next() % 4 {
            0 => format!("{v} {m} {n}"),
            1 => format!("{v} {n} ({m})"),
            2 => format!("{m}: {v} {n} and {}", rng.pick(&magic)),
            _ => format!("{v} {n}"),
        };
        out.push(text);
    }
    out
}

/// models.json variants: the fixture, rule order, rules that do not fire,
/// a non-array `rules`, a rule without string `if`, levels without a model,
/// empty or non-string models, a missing level, missing file, bad JSON.
fn variants() -> Vec<(&'static str, Option<String>)> {
    let fixture = std::fs::read_to_string(common::fixtures().join("jarvis/models.json")).unwrap();
    let tc = json!({
        "simple": {"model": "claude-haiku-4-5-20251001"},
        "medium": {"model": "claude-sonnet-4-5-20250929"},
        "complex": {"model": "claude-opus-4-5-20251101"}
    });
    let v = |x: Value| Some(x.to_string());
    vec![
        ("fixture", Some(fixture)),
        (
            "docs rule first",
            v(json!({"task_complexity": tc, "rules": [
                {"if": "task contains 'README' or 'Documentation'", "use": "haiku"},
                {"if": "task contains 'DESIGN'", "use": "opus"}
            ]})),
        ),
        (
            "one rule with both",
            v(json!({"task_complexity": tc, "rules": [
                {"if": "design system documentation", "use": "sonnet"}
            ]})),
        ),
        (
            "rules that never fire",
            v(json!({"task_complexity": tc, "rules": [
                {"if": "task contains 'api'", "use": "opus"},
                {"if": "estimated_files > 5", "use": "opus"}
            ]})),
        ),
        (
            "rules not an array",
            v(json!({"task_complexity": tc, "rules": {"design": "opus"}})),
        ),
        (
            "rule without if",
            v(json!({"task_complexity": tc, "rules": [
                {"if": "task contains 'api'", "use": "opus"},
                {"use": "haiku"}
            ]})),
        ),
        (
            "numeric if after a docs rule",
            v(json!({"task_complexity": tc, "rules": [
                {"if": "readme", "use": "haiku"},
                {"if": 5, "use": "haiku"}
            ]})),
        ),
        (
            "simple without model, medium empty",
            v(json!({"task_complexity": {
                "simple": {"examples": []},
                "medium": {"model": ""},
                "complex": {"model": 7}
            }, "rules": [{"if": "documentation", "use": "x"}, {"if": "design", "use": "y"}]})),
        ),
        (
            "no complex level",
            v(json!({"task_complexity": {
                "simple": {"model": "H"}, "medium": {"model": "S"}
            }, "rules": [{"if": "architecture", "use": "opus"}]})),
        ),
        (
            "non-object levels",
            v(json!({"task_complexity": {
                "simple": "haiku", "medium": {"model": ["a"]}, "complex": null
            }, "rules": [{"if": "readme", "use": "x"}]})),
        ),
        ("null document", Some("null".into())),
        ("array document", Some("[1,2]".into())),
        ("missing file", None),
        ("does not parse", Some("{\"task_complexity\": ".into())),
    ]
}

/// The Node stand-in's answers, or a failure with an install hint.
/// `MODELFIT_ROUTER_REFERENCE=script.mjs` compares against another program
/// speaking the same protocol instead (e.g. a harness around the
/// orchestrator's own index.js, kept outside this repository).
fn node(models: &Option<String>, cases: &[(String, String)]) -> Vec<Value> {
    let script = std::env::var_os("MODELFIT_ROUTER_REFERENCE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| common::fixtures().join("router/select-model.mjs"));
    let input = json!({
        "models": models,
        "cases": cases.iter().map(|(c, t)| json!({"complexity": c, "task": t})).collect::<Vec<_>>(),
    });
    let mut child = match Std::new("node")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!(
            "this test needs Node.js (`node` on PATH) to run the dispatcher stand-in: {e}; \
             install it (e.g. `apt-get install nodejs` or https://nodejs.org)"
        ),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!("node did not answer within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn canonical(r: &OrchestratorRoute) -> Value {
    match r {
        OrchestratorRoute::Throws { .. } => json!({"throws": true}),
        OrchestratorRoute::Level { model: None, .. } => json!({"undefined": true}),
        OrchestratorRoute::Level { model: Some(m), .. } => json!({ "model": m }),
        OrchestratorRoute::Builtin { model } | OrchestratorRoute::Default { model } => {
            json!({ "model": model })
        }
    }
}

#[test]
fn orchestrator_router_matches_the_node_stand_in() {
    let texts = texts();
    assert!(texts.len() >= 50, "{} texts", texts.len());
    let mut cases = Vec::new();
    for t in &texts {
        for level in ["simple", "medium", "complex"] {
            cases.push((level.to_string(), t.clone()));
        }
    }
    // An unknown level falls back like medium.
    cases.push(("urgent".into(), "Design it".into()));
    cases.push(("urgent".into(), "fix it".into()));
    let mut compared = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for (name, models) in variants() {
        let expected = node(&models, &cases);
        let parsed = models.as_deref().and_then(|m| parse_models(m.as_bytes()));
        for ((c, t), want) in cases.iter().zip(&expected) {
            let got = orchestrator_route(parsed.as_ref(), c, t);
            kinds.insert(
                canonical(&got)
                    .as_object()
                    .unwrap()
                    .keys()
                    .next()
                    .unwrap()
                    .clone(),
            );
            assert_eq!(
                &canonical(&got),
                want,
                "models.json variant {name:?}, complexity {c:?}, task {t:?}: modelfit says {got:?}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 50 * 3 * 10, "{compared} comparisons");
    // The variants must exercise every kind of answer, or the comparison proves little.
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["model", "throws", "undefined"]
    );
}

/// The binary, through `select --router orchestrator`, on a sample of texts.
#[test]
fn select_router_orchestrator_answers_as_the_dispatcher() {
    let h = common::Home::with_ledger("");
    let models = std::fs::read_to_string(h.path().join("config/orchestrator/models.json")).unwrap();
    let cases: Vec<(String, String)> = [
        ("simple", "Redesign the settings page"),
        ("complex", "Fix the docstring of parse()"),
        ("medium", "design docs"),
        ("simple", "Add an endpoint"),
        ("complex", "refactor the scheduler"),
        ("medium", "update the README"),
    ]
    .iter()
    .map(|(c, t)| (c.to_string(), t.to_string()))
    .collect();
    let expected = node(&Some(models), &cases);
    for ((c, t), want) in cases.iter().zip(&expected) {
        let out = Command::cargo_bin("modelfit")
            .unwrap()
            .arg("--home")
            .arg(h.path())
            .args(["select", "--router", "orchestrator", c, t])
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            want["model"].as_str().unwrap(),
            "{c} {t:?}"
        );
    }
    // The rules router reads `use` instead: "Redesign" is not a word-start match
    // for 'design', so the simple level's model.
    let out = Command::cargo_bin("modelfit")
        .unwrap()
        .arg("--home")
        .arg(h.path())
        .args([
            "select",
            "--router",
            "rules",
            "simple",
            "Redesign the settings page",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "claude-haiku-4-5-20251001"
    );
}

/// `modelfit config router …` sets it; `select` without `--router` follows it;
/// `doctor` says which is in use and how it was decided.
#[test]
fn router_setting_drives_select_and_doctor() {
    let h = common::Home::with_ledger("");
    let run = |args: &[&str]| {
        Command::cargo_bin("modelfit")
            .unwrap()
            .env("HOME", h.path())
            .arg("--home")
            .arg(h.path())
            .args(args)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap()
    };
    let doctor = String::from_utf8_lossy(&run(&["doctor"]).stdout).to_string();
    assert!(doctor.contains("router: rules"), "{doctor}");
    assert!(doctor.contains("default"), "{doctor}");
    let bad = run(&["config", "router", "fastest"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("rules"));
    assert!(run(&["config", "router", "orchestrator"]).status.success());
    let doctor = String::from_utf8_lossy(&run(&["doctor"]).stdout).to_string();
    assert!(doctor.contains("router: orchestrator"), "{doctor}");
    assert!(
        doctor.contains("modelfit config router orchestrator"),
        "{doctor}"
    );
    let out = run(&["select", "simple", "Redesign the settings page"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "claude-opus-4-5-20251101",
        "the orchestrator's substring mapping sends Redesign to complex"
    );
}
