//! `learn apply` / `learn reject` on real-shaped files: byte-exact edits of
//! models.json, backups, the change log, refusals, and crash recovery.
//!
//! Crash points are simulated by re-running this test binary as a child
//! process (`helper_child_apply`) with `MODELFIT_CRASH_AT` set, which makes
//! `apply` abort at that step, exactly as a kill would.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use modelfit::home::Home;
use modelfit::learn::{apply, reject};
use serde_json::{json, Value};
use tempfile::TempDir;

const FIX: &str = "tests/fixtures/jarvis";
const HAIKU: &str = "claude-haiku-4-5-20251001";
const SONNET: &str = "claude-sonnet-4-5-20250929";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIX).join(name)).unwrap()
}

struct H {
    _dir: TempDir,
    home: Home,
}

impl H {
    fn new(models: &str, suggestions: Vec<Value>) -> H {
        let dir = TempDir::new().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("config/orchestrator")).unwrap();
        std::fs::create_dir_all(root.join("logs")).unwrap();
        std::fs::write(root.join("config/orchestrator/models.json"), models).unwrap();
        std::fs::write(
            root.join("config/orchestrator/pricing.json"),
            fixture("pricing.json"),
        )
        .unwrap();
        let learning = json!({
            "last_updated": "2026-03-13T10:24:09.695Z",
            "total_dispatches": 40,
            "patterns": [],
            "suggestions": suggestions,
        });
        std::fs::write(
            root.join("logs/model-learning.json"),
            serde_json::to_string_pretty(&learning).unwrap(),
        )
        .unwrap();
        H {
            home: Home::at(root),
            _dir: dir,
        }
    }
    fn models(&self) -> String {
        std::fs::read_to_string(self.home.models()).unwrap()
    }
    fn learning(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.home.learning()).unwrap()).unwrap()
    }
    fn sug(&self, id: &str) -> Value {
        self.learning()["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.home.changes_log()).unwrap_or_default()
    }
    fn backups(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.home.config_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains("models.json.bak."))
            .collect();
        v.sort();
        v
    }
}

fn sug(id: &str, change: Value, confidence: f64) -> Value {
    json!({
        "id": id,
        "type": "upgrade_complexity",
        "finding": "underperforming",
        "change": change,
        "reason": "5/12 simple tasks failed with Haiku",
        "confidence": confidence,
        "status": "open",
        "created_at": "2026-03-13T10:24:09.695Z",
        "evidence": {"n": 12}
    })
}

fn tc(level: &str, from: &str, to: &str) -> Value {
    json!({"target": "task_complexity", "level": level, "from": from, "to": to})
}

fn add(cond: &str, model: &str) -> Value {
    json!({"target": "add_rule", "rule": {"if": cond, "use": model}})
}

#[test]
fn complexity_change_edits_only_the_model_string() {
    let orig = fixture("models.json");
    let h = H::new(
        &orig,
        vec![sug("up-simple", tc("simple", HAIKU, SONNET), 0.85)],
    );
    let done = apply(&h.home, "up-simple", false).unwrap();
    let expected = orig.replacen(
        &format!("\"model\": \"{HAIKU}\""),
        &format!("\"model\": \"{SONNET}\""),
        1,
    );
    assert_ne!(expected, orig);
    assert_eq!(h.models(), expected, "only the model string may change");
    assert_eq!(
        done.description,
        format!("Upgraded model for complexity=simple from {HAIKU} to {SONNET}")
    );
    // Backup: the exact original bytes, named .bak.<epoch-ms>, absolute.
    let backups = h.backups();
    assert_eq!(backups.len(), 1);
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), orig);
    assert_eq!(done.backup, backups[0]);
    assert!(done.backup.is_absolute());
    let ms = done
        .backup
        .to_string_lossy()
        .rsplit('.')
        .next()
        .unwrap()
        .to_string();
    assert!(
        ms.len() >= 13 && ms.chars().all(|c| c.is_ascii_digit()),
        "{ms}"
    );
    // Change log: the JS analyzer's line format.
    let log = h.log();
    let re = regex::Regex::new(&format!(
        r"^\[\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\] APPLIED up-simple: Upgraded model for complexity=simple from {HAIKU} to {SONNET} \(confidence: 85%, backup: {}\)\n$",
        regex::escape(&done.backup.display().to_string())
    ))
    .unwrap();
    assert!(re.is_match(&log), "{log}");
    // The suggestion is marked applied and keeps its other fields.
    let s = h.sug("up-simple");
    assert_eq!(s["status"], "applied");
    assert!(s["applied_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(s["evidence"], json!({"n": 12}));
    assert_eq!(s["status_history"][0]["status"], "applied");
    assert!(s.get("apply_intent").is_none());
    // Applying again is refused: applied once, stays applied.
    let e = apply(&h.home, "up-simple", false).unwrap_err().to_string();
    assert!(e.contains("already applied"), "{e}");
    assert_eq!(h.log().lines().count(), 1);
}

#[test]
fn rule_append_keeps_formatting_and_trailing_newline() {
    let orig = fixture("models.json");
    assert!(orig.ends_with("}\n"));
    let h = H::new(
        &orig,
        vec![sug(
            "api-sonnet",
            add("task contains 'api' or 'endpoint'", "sonnet"),
            0.9,
        )],
    );
    let done = apply(&h.home, "api-sonnet", false).unwrap();
    let expected = orig.replace(
        "      \"if\": \"estimated_files > 5\",\n      \"use\": \"opus\"\n    }\n",
        "      \"if\": \"estimated_files > 5\",\n      \"use\": \"opus\"\n    },\n    {\n      \"if\": \"task contains 'api' or 'endpoint'\",\n      \"use\": \"sonnet\"\n    }\n",
    );
    assert_ne!(expected, orig);
    assert_eq!(h.models(), expected);
    assert!(h.models().contains(
        "\"examples\": [\"update docs\", \"fix typo\", \"add logging\", \"simple bug fix\"]"
    ));
    assert!(
        done.notes.iter().any(|n| n.contains("modelfit select")),
        "{:?}",
        done.notes
    );
    assert!(h.log().contains("(takes effect through modelfit select)"));
}

#[test]
fn rule_append_on_js_rewritten_file_keeps_its_style_and_unknown_keys() {
    let orig = fixture("learning-sample/models.after-js-apply.json");
    assert!(!orig.ends_with('\n'));
    let h = H::new(
        &orig,
        vec![sug("db", add("task contains 'database'", "opus"), 0.8)],
    );
    apply(&h.home, "db", false).unwrap();
    let now = h.models();
    assert!(
        !now.ends_with('\n'),
        "no trailing newline was there, none is added"
    );
    assert!(now
        .contains("\"complexity_rules\": {\n    \"simple\": \"claude-sonnet-4-5-20251001\"\n  }"));
    let v: Value = serde_json::from_str(&now).unwrap();
    assert_eq!(
        v["rules"][3],
        json!({"if": "task contains 'database'", "use": "opus"})
    );
    assert_eq!(now.len(), orig.len() + ",\n    {\n      \"if\": \"task contains 'database'\",\n      \"use\": \"opus\"\n    }".len());
}

#[test]
fn rule_added_where_rules_is_empty_or_absent() {
    let h = H::new(
        "{\n  \"task_complexity\": {},\n  \"rules\": []\n}\n",
        vec![sug("a", add("task contains 'api'", "sonnet"), 0.9)],
    );
    apply(&h.home, "a", false).unwrap();
    assert_eq!(
        h.models(),
        "{\n  \"task_complexity\": {},\n  \"rules\": [\n    {\n      \"if\": \"task contains 'api'\",\n      \"use\": \"sonnet\"\n    }\n  ]\n}\n"
    );
    let h = H::new(
        "{\n  \"task_complexity\": {}\n}",
        vec![sug("a", add("task contains 'api'", "sonnet"), 0.9)],
    );
    apply(&h.home, "a", false).unwrap();
    assert_eq!(
        h.models(),
        "{\n  \"task_complexity\": {},\n  \"rules\": [\n    {\n      \"if\": \"task contains 'api'\",\n      \"use\": \"sonnet\"\n    }\n  ]\n}"
    );
}

#[test]
fn modify_rule_changes_only_that_rule() {
    let orig = fixture("models.json");
    let change = json!({"target": "modify_rule", "index": 1,
        "old": {"if": "task contains 'documentation' or 'readme'", "use": "haiku"},
        "rule": {"if": "task contains 'documentation' or 'readme'", "use": "sonnet"}});
    let h = H::new(&orig, vec![sug("m", change.clone(), 0.75)]);
    apply(&h.home, "m", false).unwrap();
    let expected = orig.replace(
        "\"task contains 'documentation' or 'readme'\",\n      \"use\": \"haiku\"",
        "\"task contains 'documentation' or 'readme'\",\n      \"use\": \"sonnet\"",
    );
    assert_ne!(expected, orig);
    assert_eq!(h.models(), expected);
    // `old` no longer matches: a conflict, unless forced.
    let mut stale = change;
    stale["old"]["use"] = json!("opus");
    let h = H::new(&orig, vec![sug("m", stale, 0.75)]);
    let e = apply(&h.home, "m", false).unwrap_err().to_string();
    assert!(
        e.contains("rules[1] is now") && e.contains("--force"),
        "{e}"
    );
    assert_eq!(h.models(), orig);
    apply(&h.home, "m", true).unwrap();
    assert_eq!(h.models(), expected);
}

#[test]
fn refusals_leave_every_file_untouched() {
    let orig = fixture("models.json");
    let cases = [
        (
            sug("low", tc("simple", HAIKU, SONNET), 0.69),
            "below the 70%",
        ),
        (
            sug(
                "bad",
                tc("simple", HAIKU, "claude-sonnet-4-5-20251001"),
                0.9,
            ),
            "neither in",
        ),
        (
            sug("badrule", add("task contains 'api'", "gpt-4"), 0.9),
            "neither in",
        ),
        (
            sug("from", tc("medium", HAIKU, "claude-opus-4-5-20251101"), 0.9),
            "--force",
        ),
        (
            sug("shadow", add("task contains 'design'", "sonnet"), 0.9),
            "would not fire",
        ),
        (
            sug(
                "dup",
                add("task contains 'architecture' or 'design'", "opus"),
                0.9,
            ),
            "nothing to add",
        ),
        (
            sug("unparse", add("task contains api", "sonnet"), 0.9),
            "does not parse",
        ),
        (sug("same", tc("simple", HAIKU, HAIKU), 0.9), "already"),
    ];
    for (s, want) in cases {
        let id = s["id"].as_str().unwrap().to_string();
        let h = H::new(&orig, vec![s]);
        let before = std::fs::read(h.home.learning()).unwrap();
        let e = apply(&h.home, &id, false).unwrap_err().to_string();
        assert!(e.contains(want), "{id}: {e}");
        assert_eq!(h.models(), orig, "{id}");
        assert!(h.backups().is_empty(), "{id}");
        assert_eq!(h.log(), "", "{id}");
        assert_eq!(std::fs::read(h.home.learning()).unwrap(), before, "{id}");
    }
    // --force overrides a conflict, never a low confidence or an unknown model.
    let h = H::new(
        &orig,
        vec![sug(
            "from",
            tc("medium", HAIKU, "claude-opus-4-5-20251101"),
            0.9,
        )],
    );
    let done = apply(&h.home, "from", true).unwrap();
    assert!(done.notes.iter().any(|n| n.contains("forced")));
    assert!(h
        .models()
        .contains("\"model\": \"claude-opus-4-5-20251101\",\n      \"examples\": [\"implement"));
    let h = H::new(&orig, vec![sug("low", tc("simple", HAIKU, SONNET), 0.5)]);
    assert!(apply(&h.home, "low", true).is_err());
}

#[test]
fn js_analyzer_suggestions_are_refused_clearly() {
    let h = H::new(&fixture("models.json"), vec![]);
    std::fs::write(
        h.home.learning(),
        fixture("learning-sample/model-learning.json"),
    )
    .unwrap();
    // Pending JS suggestion (no status): give it one to try.
    let mut v = h.learning();
    v["suggestions"][0]["status"] = Value::Null;
    v["suggestions"][0]
        .as_object_mut()
        .unwrap()
        .remove("status");
    std::fs::write(h.home.learning(), serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let e = apply(&h.home, "b389057e-bea5-490b-9d41-c520db8aa3c4", false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no exact change") && e.contains("orchestrator's model-learning-analyzer"),
        "{e}"
    );
    // An unknown id names the near ones.
    let e = apply(&h.home, "b389057e", false).unwrap_err().to_string();
    assert!(e.contains("did you mean b389057e-bea5"), "{e}");
    // The JS file's rejected suggestion stays rejected.
    let e = apply(&h.home, "cdc8eacb-23ab-410a-8dba-30cc4f587cab", false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("was rejected") && e.contains("already routed"),
        "{e}"
    );
}

#[test]
fn corrupt_or_missing_learning_file_is_an_error_and_untouched() {
    let h = H::new(&fixture("models.json"), vec![]);
    std::fs::write(h.home.learning(), "{\"suggestions\": [").unwrap();
    let e = apply(&h.home, "x", false).unwrap_err().to_string();
    assert!(e.contains("not valid JSON") && e.contains("line 1"), "{e}");
    assert_eq!(
        std::fs::read_to_string(h.home.learning()).unwrap(),
        "{\"suggestions\": ["
    );
    std::fs::remove_file(h.home.learning()).unwrap();
    let e = reject(&h.home, "x", None).unwrap_err().to_string();
    assert!(e.contains("run `modelfit learn` first"), "{e}");
}

#[test]
fn reject_is_remembered_and_redacted() {
    let orig = fixture("models.json");
    let h = H::new(&orig, vec![sug("r", tc("simple", HAIKU, SONNET), 0.9)]);
    let r = reject(&h.home, "r", Some("ask ops@example.com first")).unwrap();
    assert!(!r.already);
    assert_eq!(r.reason.as_deref(), Some("ask [REDACTED] first"));
    let s = h.sug("r");
    assert_eq!(s["status"], "rejected");
    assert_eq!(s["rejection_reason"], "ask [REDACTED] first");
    assert!(s["rejected_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(s["status_history"][0]["status"], "rejected");
    // Rejecting twice changes nothing; applying a rejected one needs --force.
    let before = std::fs::read(h.home.learning()).unwrap();
    assert!(reject(&h.home, "r", Some("again")).unwrap().already);
    assert_eq!(std::fs::read(h.home.learning()).unwrap(), before);
    let e = apply(&h.home, "r", false).unwrap_err().to_string();
    assert!(e.contains("was rejected") && e.contains("--force"), "{e}");
    assert_eq!(h.models(), orig);
    // An applied suggestion cannot be rejected.
    let h = H::new(&orig, vec![sug("a", tc("simple", HAIKU, SONNET), 0.9)]);
    apply(&h.home, "a", false).unwrap();
    let e = reject(&h.home, "a", None).unwrap_err().to_string();
    assert!(e.contains("restore the backup"), "{e}");
}

/// Not a test on its own: the child process of the crash and concurrency
/// tests, run by them with `--ignored --exact`.
#[test]
#[ignore = "child process of the crash tests; runs only when they spawn it"]
fn helper_child_apply() {
    let Ok(root) = std::env::var("APPLY_CHILD_HOME") else {
        return;
    };
    let id = std::env::var("APPLY_CHILD_ID").unwrap();
    match apply(&Home::at(root), &id, false) {
        Ok(_) => std::process::exit(0),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(3)
        }
    }
}

fn run_child(home: &Home, id: &str, crash_at: Option<&str>) -> std::process::Output {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--ignored",
        "--exact",
        "helper_child_apply",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("APPLY_CHILD_HOME", home.root())
    .env("APPLY_CHILD_ID", id);
    match crash_at {
        Some(p) => c.env("MODELFIT_CRASH_AT", p),
        None => c.env_remove("MODELFIT_CRASH_AT"),
    };
    c.output().unwrap()
}

#[test]
fn a_crash_at_any_step_is_completed_by_a_rerun() {
    let orig = fixture("models.json");
    let expected = orig.replacen(
        &format!("\"model\": \"{HAIKU}\""),
        &format!("\"model\": \"{SONNET}\""),
        1,
    );
    for point in [
        "after-backup",
        "after-intent",
        "after-models",
        "after-log",
        "after-learning",
    ] {
        let h = H::new(&orig, vec![sug("c", tc("simple", HAIKU, SONNET), 0.9)]);
        let out = run_child(&h.home, "c", Some(point));
        assert!(!out.status.success(), "{point}: the child must die");
        let want = if point == "after-learning" {
            "applied"
        } else {
            "open"
        };
        assert_eq!(h.sug("c")["status"], want, "{point}");
        let intent = modelfit::learn::apply::intent_path(&h.home);
        assert_eq!(intent.exists(), point != "after-backup", "{point}");
        let out = run_child(&h.home, "c", None);
        assert!(
            out.status.success(),
            "{point}: rerun failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(h.models(), expected, "{point}");
        let s = h.sug("c");
        assert_eq!(s["status"], "applied", "{point}");
        assert!(s.get("apply_intent").is_none(), "{point}");
        let log = h.log();
        assert_eq!(
            log.lines().count(),
            1,
            "{point}: exactly one change-log line\n{log}"
        );
        let named = s["backup"].as_str().unwrap();
        assert!(log.contains(&format!("backup: {named})")), "{point}");
        assert_eq!(std::fs::read_to_string(named).unwrap(), orig, "{point}");
        for b in h.backups() {
            assert_eq!(std::fs::read_to_string(b).unwrap(), orig, "{point}");
        }
        assert!(!intent.exists(), "{point}");
        assert_eq!(s["status_history"].as_array().unwrap().len(), 1, "{point}");
    }
}

#[test]
fn an_interrupted_apply_is_finished_by_the_next_command_even_if_suggest_dropped_it() {
    let orig = fixture("models.json");
    let h = H::new(
        &orig,
        vec![
            sug("c", tc("simple", HAIKU, SONNET), 0.9),
            sug("d", add("task contains 'database'", "opus"), 0.9),
        ],
    );
    assert!(!run_child(&h.home, "c", Some("after-models"))
        .status
        .success());
    // `learn suggest` rewrites the file meanwhile and no longer lists "c".
    let mut v = h.learning();
    v["suggestions"].as_array_mut().unwrap().remove(0);
    std::fs::write(h.home.learning(), serde_json::to_string_pretty(&v).unwrap()).unwrap();
    // Applying another suggestion first completes "c".
    let done = apply(&h.home, "d", false).unwrap();
    assert!(
        done.notes.iter().any(|n| n.contains("suggestion c")),
        "{:?}",
        done.notes
    );
    let c = h.sug("c");
    assert_eq!(c["status"], "applied");
    assert_eq!(
        c["evidence"],
        json!({"n": 12}),
        "the snapshot is kept on record"
    );
    assert_eq!(h.sug("d")["status"], "applied");
    assert_eq!(h.log().lines().count(), 2);
    let m: Value = serde_json::from_str(&h.models()).unwrap();
    assert_eq!(m["task_complexity"]["simple"]["model"], SONNET);
    assert_eq!(m["rules"][3]["if"], "task contains 'database'");
}

#[test]
fn an_interrupted_apply_over_a_changed_file_is_reported_not_guessed() {
    let orig = fixture("models.json");
    let h = H::new(&orig, vec![sug("c", tc("simple", HAIKU, SONNET), 0.9)]);
    let out = run_child(&h.home, "c", Some("after-intent"));
    assert!(!out.status.success());
    // Someone edits models.json before the rerun.
    let edited = orig.replace("fix typo", "fix typos");
    std::fs::write(h.home.models(), &edited).unwrap();
    let e = apply(&h.home, "c", false).unwrap_err().to_string();
    assert!(
        e.contains("interrupted apply") && e.contains("--force"),
        "{e}"
    );
    assert_eq!(h.models(), edited);
    let e = reject(&h.home, "c", None).unwrap_err().to_string();
    assert!(
        e.contains("interrupted apply") && e.contains("apply-intent.json"),
        "{e}"
    );
    let done = apply(&h.home, "c", true).unwrap();
    assert!(done
        .notes
        .iter()
        .any(|n| n.contains("discarded an interrupted apply")));
    assert_eq!(
        h.models(),
        edited.replacen(
            &format!("\"model\": \"{HAIKU}\""),
            &format!("\"model\": \"{SONNET}\""),
            1
        )
    );
}

// ---------------------------------------------------------------------------
// End to end through the binary, on ledgers from learn's simulator.

const NOW: &str = "2026-06-01T00:00:00Z";

fn bin(home: &Path) -> assert_cmd::Command {
    let mut c = common::modelfit();
    c.env("MODELFIT_NOW", NOW).arg("--home").arg(home);
    c
}

fn simulated_home(world: &str) -> TempDir {
    use modelfit::learn::simulate::World;
    let w = World::scenarios()
        .into_iter()
        .find(|w| w.name == world)
        .unwrap();
    let dir = TempDir::new().unwrap();
    let h = dir.path();
    common::simulated_draw(h, &w, 1, NOW);
    std::fs::write(
        h.join("config/orchestrator/pricing.json"),
        fixture("pricing.json"),
    )
    .unwrap();
    dir
}

fn open_ids(home: &Path) -> Vec<String> {
    let v: Value =
        serde_json::from_slice(&std::fs::read(home.join("logs/model-learning.json")).unwrap())
            .unwrap();
    v["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "open")
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn cli_reject_is_never_suggested_again_and_apply_changes_routing() {
    let dir = simulated_home("underperforming");
    let h = dir.path();
    bin(h).arg("learn").assert().success();
    let open = open_ids(h);
    assert!(
        !open.is_empty(),
        "the simulator world must produce a suggestion"
    );
    let id = open[0].clone();
    bin(h)
        .args(["learn", "reject", &id, "--reason", "keep sonnet for medium"])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!("rejected {id}")));
    for _ in 0..2 {
        bin(h).arg("learn").assert().success();
        assert!(!open_ids(h).contains(&id), "a rejected change came back");
        let v: Value =
            serde_json::from_slice(&std::fs::read(h.join("logs/model-learning.json")).unwrap())
                .unwrap();
        let s = v["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id.as_str())
            .unwrap()
            .clone();
        assert_eq!(s["status"], "rejected");
        assert_eq!(s["rejection_reason"], "keep sonnet for medium");
    }

    let dir = simulated_home("underperforming");
    let h = dir.path();
    bin(h).arg("learn").assert().success();
    let id = open_ids(h)[0].clone();
    let before = std::fs::read_to_string(h.join("config/orchestrator/models.json")).unwrap();
    let rule_model = |h: &Path| {
        String::from_utf8(
            bin(h)
                .args(["select", "simple", "fix typo"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
    };
    let old = rule_model(h);
    bin(h)
        .args(["learn", "apply", &id])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!("applied {id}")));
    let after = std::fs::read_to_string(h.join("config/orchestrator/models.json")).unwrap();
    assert_eq!(after, before.replacen(old.trim(), rule_model(h).trim(), 1));
    assert_ne!(old, rule_model(h));
    bin(h).arg("learn").assert().success();
    assert!(!open_ids(h).contains(&id), "an applied change came back");
    let log = std::fs::read_to_string(h.join("logs/model-config-changes.log")).unwrap();
    assert_eq!(log.lines().count(), 1);
    assert!(
        log.starts_with("[2026-06-01T00:00:00.000Z] APPLIED sg-"),
        "{log}"
    );
    bin(h)
        .args(["learn", "apply", &id])
        .assert()
        .failure()
        .stderr(predicates::str::contains("already applied"));
}

#[test]
fn crlf_files_stay_crlf() {
    let orig = fixture("models.json").replace('\n', "\r\n");
    let h = H::new(
        &orig,
        vec![sug("a", add("task contains 'api'", "sonnet"), 0.9)],
    );
    apply(&h.home, "a", false).unwrap();
    let now = h.models();
    assert_eq!(now.matches('\n').count(), now.matches("\r\n").count());
    assert_eq!(now.lines().count(), orig.lines().count() + 4);
}

#[test]
fn concurrent_applies_serialize_under_the_lock() {
    let orig = fixture("models.json");
    let h = H::new(
        &orig,
        vec![
            sug("a", tc("simple", HAIKU, SONNET), 0.9),
            sug("b", add("task contains 'database'", "opus"), 0.9),
            sug("c", add("task contains 'billing'", "sonnet"), 0.9),
        ],
    );
    let kids: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|id| {
            let home = h.home.clone();
            std::thread::spawn(move || run_child(&home, id, None))
        })
        .collect();
    for k in kids {
        let out = k.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let m: Value = serde_json::from_str(&h.models()).unwrap();
    assert_eq!(m["task_complexity"]["simple"]["model"], SONNET);
    assert_eq!(m["rules"].as_array().unwrap().len(), 5);
    assert_eq!(h.log().lines().count(), 3);
    assert_eq!(h.backups().len(), 3);
    for id in ["a", "b", "c"] {
        assert_eq!(h.sug(id)["status"], "applied");
    }
}

#[test]
fn rules_scoped_to_different_levels_do_not_conflict() {
    let models = fixture("models.json").replace(
        "      \"if\": \"estimated_files > 5\",",
        "      \"if\": \"task contains 'api' and complexity == 'simple'\",",
    );
    let h = H::new(
        &models,
        vec![
            sug(
                "m",
                add("task contains 'api' and complexity == 'medium'", "opus"),
                0.9,
            ),
            sug(
                "s",
                add("task contains 'api' and complexity == simple", "sonnet"),
                0.9,
            ),
        ],
    );
    apply(&h.home, "m", false).unwrap();
    let e = apply(&h.home, "s", false).unwrap_err().to_string();
    assert!(
        e.contains("rules[2]") && e.contains("would not fire"),
        "{e}"
    );
}

/// A concurrent edit of models.json between apply's read and its rename:
/// the real binary pauses at a failpoint, another writer edits the file,
/// apply refuses with nothing written (no backup, no intent, the edit kept).
#[test]
fn apply_refuses_when_models_json_changes_under_it() {
    let h = H::new(
        &fixture("models.json"),
        vec![sug("race", tc("simple", HAIKU, SONNET), 0.9)],
    );
    let root = h.home.root().to_path_buf();
    std::fs::create_dir_all(root.join("logs/modelfit")).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_modelfit"))
        .env("MODELFIT_FAILPOINT", "apply-before-models-rename")
        .arg("--home")
        .arg(&root)
        .args(["learn", "apply", "race"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let marker = root.join("logs/modelfit/apply-paused");
    let start = std::time::Instant::now();
    while !marker.exists() {
        assert!(
            start.elapsed().as_secs() < 30,
            "apply never reached its rename"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let edited = fixture("models.json").replace("\"examples\"", "\"examples\" ");
    std::fs::write(h.home.models(), &edited).unwrap();
    std::fs::remove_file(&marker).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("changed while") && err.contains("nothing was written"),
        "{err}"
    );
    assert_eq!(h.models(), edited, "the other writer's edit is kept");
    let leftovers: Vec<_> = std::fs::read_dir(root.join("config/orchestrator"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".bak.") || n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(!root.join("logs/modelfit/apply-intent.json").exists());
    assert_ne!(h.sug("race")["status"], "applied");
}

/// A symlinked models.json stays a symlink; its target gets the change and keeps its mode.
#[test]
fn apply_keeps_a_symlinked_models_json() {
    use std::os::unix::fs::PermissionsExt;
    let h = H::new(
        &fixture("models.json"),
        vec![sug("link", tc("simple", HAIKU, SONNET), 0.9)],
    );
    let root = h.home.root().to_path_buf();
    let target = root.join("real-models.json");
    std::fs::rename(h.home.models(), &target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink(&target, h.home.models()).unwrap();
    apply(&h.home, "link", false).unwrap();
    let meta = std::fs::symlink_metadata(h.home.models()).unwrap();
    assert!(meta.file_type().is_symlink());
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(
        text.contains(&format!("\"simple\": {{\n      \"model\": \"{SONNET}\"")),
        "{text}"
    );
    assert_eq!(
        std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o640
    );
}
