//! `select` with an unknown or missing complexity level still answers (the
//! rules fall back, as the orchestrator does) but warns on stderr, naming the
//! levels models.json knows.

mod common;

use common::Home;

fn select(h: &Home, args: &[&str]) -> (String, String) {
    let out = h.cmd().arg("select").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unknown_and_missing_levels_warn_naming_the_known_levels() {
    let h = Home::fixture();
    for level in ["trivial", "Simple", "hard", "médium", "0", " medium"] {
        let (stdout, stderr) = select(&h, &["--complexity", level, "fix a typo"]);
        assert_eq!(
            stdout.lines().count(),
            1,
            "{level}: the model, alone on stdout"
        );
        assert!(stderr.contains("warning"), "{level}: {stderr}");
        assert!(stderr.contains(&format!("{level:?}")), "{level}: {stderr}");
        assert!(
            stderr.contains("simple, medium, complex"),
            "{level}: {stderr}"
        );
    }
    // No level at all: the only argument was the task.
    let (_, stderr) = select(&h, &["fix a typo"]);
    assert!(stderr.contains("give the level first"), "{stderr}");
    let (_, stderr) = select(&h, &["--complexity", "", "fix a typo"]);
    assert!(stderr.contains("no complexity level given"), "{stderr}");
    // Known levels: not a word on stderr.
    for level in ["simple", "medium", "complex"] {
        let (_, stderr) = select(&h, &[level, "fix a typo"]);
        assert!(!stderr.contains("complexity level"), "{level}: {stderr}");
    }
}

#[test]
fn the_known_levels_come_from_models_json() {
    let h = Home::fixture();
    let path = h.path().join("config/orchestrator/models.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["task_complexity"]["trivial"] = serde_json::json!({"model": "claude-haiku-4-5-20251001"});
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let (stdout, stderr) = select(&h, &["trivial", "fix a typo"]);
    assert_eq!(stdout.trim(), "claude-haiku-4-5-20251001");
    assert!(!stderr.contains("complexity level"), "{stderr}");
    let (_, stderr) = select(&h, &["huge", "x"]);
    assert!(
        stderr.contains("simple, medium, complex, trivial"),
        "{stderr}"
    );
}
