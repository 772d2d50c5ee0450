//! `modelfit ci`: CI environment detection per provider, linking by commit
//! and by id, and the precedence table, case by case, through the binary.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use modelfit::outcome::{apply, Outcome, Source, Verdict};
use serde_json::{json, Value};
use tempfile::TempDir;

const FIXTURE: &str = "tests/fixtures/jarvis/dispatches.json";
const A: &str = "3f2a9c1e5b7d4f608a1c2e3d4b5a69788796a5b4";
const B: &str = "3f2a9c1fffffffffffffffffffffffffffffffff"; // shares A's first 7 digits
const C: &str = "c0ffee00112233445566778899aabbccddeeff00";

// Fixture records (see tests/fixtures/jarvis/README.md).
const DONE: &str = "dispatch-1772452800000-9656bj"; // outcome success (orchestrator)
const R12: &str = "dispatch-1772611200000-eil5no"; // complete, no outcome
const R13: &str = "dispatch-1772611200000-thn1ys"; // failed, no outcome
const R14: &str = "dispatch-1772611200000-dl0vsd"; // complete, no outcome
const R16: &str = "dispatch-1772636400000-be7z4b"; // failed, no outcome
const BATCH: &str = "batch-1772611200000-3ekx2x";

/// The fixture ledger with `git_commit` added as the Stop hook records it:
/// A on three tasks (and on a batch record, which is no task), B on one, C on one.
fn home() -> TempDir {
    let dir = TempDir::new().unwrap();
    let text = std::fs::read_to_string(FIXTURE)
        .unwrap()
        .replace("/home/teruel/JARVIS", dir.path().to_str().unwrap());
    let mut recs: Vec<Value> = serde_json::from_str(&text).unwrap();
    for r in recs.iter_mut() {
        let commit = match r["id"].as_str() {
            Some(DONE) | Some(R12) | Some(R14) | Some(BATCH) => A,
            Some(R13) => B,
            Some(R16) => C,
            _ => continue,
        };
        let o = r.as_object_mut().unwrap();
        o.insert("git_commit".into(), json!(commit));
        o.insert("git_branch".into(), json!("main"));
    }
    write(dir.path(), &Value::Array(recs));
    dir
}

fn write(home: &Path, recs: &Value) {
    std::fs::create_dir_all(home.join("logs")).unwrap();
    std::fs::write(ledger(home), serde_json::to_string_pretty(recs).unwrap()).unwrap();
}

fn ledger(home: &Path) -> PathBuf {
    home.join("logs/dispatches.json")
}

fn records(home: &Path) -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(ledger(home)).unwrap()).unwrap()
}

fn record(home: &Path, id: &str) -> Value {
    records(home).into_iter().find(|r| r["id"] == id).unwrap()
}

/// The binary with an empty environment (the test itself may run in CI, with
/// CI=true and a provider's variables set), plus `vars`.
fn modelfit(home: &Path, vars: &[(&str, &str)]) -> Command {
    let mut c = common::modelfit();
    c.env_clear()
        .env("MODELFIT_NOW", "2026-03-10T12:00:00.000Z")
        .arg("--home")
        .arg(home);
    for (k, v) in vars {
        c.env(k, v);
    }
    c
}

fn run(c: &mut Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ci_fields(r: &Value) -> (Value, Value, Value) {
    (
        r["ci_status"].clone(),
        r["ci_pipeline"].clone(),
        r["ci_commit"].clone(),
    )
}

// ---- environment detection, one provider at a time ----

#[test]
fn github_actions_gives_commit_and_run_url_but_no_status() {
    let h = home();
    let gh = [
        ("CI", "true"),
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SHA", A),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "pteru/diemaster"),
        ("GITHUB_RUN_ID", "9001"),
        ("GITHUB_RUN_ATTEMPT", "1"),
    ];
    let (code, _, err) = run(modelfit(h.path(), &gh).arg("ci"));
    assert_eq!(code, 1);
    assert!(err.contains("--status ${{ job.status }}"), "{err}");

    let (code, out, err) = run(modelfit(h.path(), &gh).args(["ci", "--status", "failure"]));
    assert_eq!(code, 0, "{err}");
    for id in [DONE, R12, R14] {
        assert!(out.contains(id), "{out}");
    }
    let r = record(h.path(), R12);
    assert_eq!(
        ci_fields(&r),
        (
            json!("failure"),
            json!("https://github.com/pteru/diemaster/actions/runs/9001"),
            json!(A)
        )
    );
    assert_eq!(
        (r["outcome"].clone(), r["outcome_source"].clone()),
        (json!("failure"), json!("ci"))
    );
}

#[test]
fn gitlab_gives_commit_url_and_status_in_after_script() {
    let h = home();
    let gl = [
        ("CI", "true"),
        ("GITLAB_CI", "true"),
        ("CI_COMMIT_SHA", C),
        ("CI_PIPELINE_URL", "https://gitlab.com/g/p/-/pipelines/77"),
    ];
    let mut vars = gl.to_vec();
    vars.push(("CI_JOB_STATUS", "failed"));
    let (code, _, err) = run(modelfit(h.path(), &vars).arg("ci"));
    assert_eq!(code, 0, "{err}");
    let r = record(h.path(), R16);
    assert_eq!(
        ci_fields(&r),
        (
            json!("failure"),
            json!("https://gitlab.com/g/p/-/pipelines/77"),
            json!(C)
        )
    );
    assert_eq!(r["outcome"], "failure");

    let mut vars = gl.to_vec();
    vars.push(("CI_JOB_STATUS", "canceled"));
    run(modelfit(h.path(), &vars).arg("ci"));
    let r = record(h.path(), R16);
    assert_eq!(r["ci_status"], "cancelled");
    assert_eq!(
        r["outcome"], "failure",
        "a cancelled pipeline gives no verdict"
    );
}

#[test]
fn jenkins_buildkite_circleci_and_generic_ci() {
    for (vars, url) in [
        (
            vec![
                ("JENKINS_URL", "http://jenkins:8080/"),
                ("GIT_COMMIT", A),
                ("BUILD_URL", "http://jenkins:8080/job/x/5/"),
            ],
            json!("http://jenkins:8080/job/x/5/"),
        ),
        (
            vec![
                ("CI", "true"),
                ("BUILDKITE", "true"),
                ("BUILDKITE_COMMIT", A),
                ("BUILDKITE_BUILD_URL", "https://buildkite.com/o/p/builds/3"),
            ],
            json!("https://buildkite.com/o/p/builds/3"),
        ),
        (
            vec![
                ("CI", "true"),
                ("CIRCLECI", "true"),
                ("CIRCLE_SHA1", A),
                ("CIRCLE_BUILD_URL", "https://circleci.com/gh/o/p/8"),
            ],
            json!("https://circleci.com/gh/o/p/8"),
        ),
        (vec![("CI", "true"), ("GIT_COMMIT", A)], Value::Null),
        (
            vec![
                ("CI", "1"),
                ("CI_COMMIT", A),
                ("BUILD_URL", "https://ci.local/1"),
            ],
            json!("https://ci.local/1"),
        ),
    ] {
        let h = home();
        let (code, _, err) = run(modelfit(h.path(), &vars).args(["ci", "--status", "success"]));
        assert_eq!(code, 0, "{vars:?}: {err}");
        let r = record(h.path(), R14);
        assert_eq!(
            ci_fields(&r),
            (json!("success"), url.clone(), json!(A)),
            "{vars:?}"
        );
        assert_eq!(r["outcome"], "success", "{vars:?}");
        assert!(record(h.path(), R13).get("ci_status").is_none(), "{vars:?}");
    }
}

#[test]
fn flags_win_over_the_environment_and_outside_ci_flags_are_needed() {
    let h = home();
    let vars = [
        ("CI", "true"),
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SHA", A),
    ];
    run(modelfit(h.path(), &vars).args([
        "ci",
        "--status",
        "passed",
        "--commit",
        C,
        "--pipeline",
        "https://x/1",
    ]));
    assert_eq!(record(h.path(), R16)["ci_pipeline"], "https://x/1");
    assert!(record(h.path(), R12).get("ci_status").is_none());

    let (code, _, err) = run(modelfit(h.path(), &[]).args(["ci", "--status", "success"]));
    assert_eq!(code, 1);
    assert!(err.contains("pass --commit SHA or --task TASK_ID"), "{err}");
    let (code, _, err) =
        run(modelfit(h.path(), &[]).args(["ci", "--status", "green", "--commit", A]));
    assert_eq!(code, 1);
    assert!(err.contains("unknown CI status \"green\""), "{err}");
    // CI=false is not CI.
    let (code, _, _) = run(modelfit(h.path(), &[("CI", "false"), ("GIT_COMMIT", A)])
        .args(["ci", "--status", "success"]));
    assert_eq!(code, 1);
}

// ---- linking ----

#[test]
fn a_commit_rates_every_task_that_produced_it_and_nothing_else() {
    let h = home();
    let before = records(h.path());
    let (code, out, err) =
        run(modelfit(h.path(), &[]).args(["ci", "--status", "success", "--commit", A]));
    assert_eq!(code, 0, "{err}");
    let after = records(h.path());
    assert_eq!(before.len(), after.len());
    let mut rated = vec![];
    for (b, a) in before.iter().zip(&after) {
        if b != a {
            rated.push(a["id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        rated,
        vec![DONE, R12, R14],
        "the batch record and commit B are not tasks of A"
    );
    assert!(
        out.contains(&format!("{R12}: ci success -> outcome success")),
        "{out}"
    );
    // DONE has the orchestrator's (a person's) verdict: kept, ci recorded beside it.
    let r = record(h.path(), DONE);
    assert_eq!(r["outcome"], "success");
    assert!(r.get("outcome_source").is_none());
    assert_eq!(r["ci_status"], "success");
    assert!(err.contains("1 task(s) keep a person's verdict"), "{err}");
    // Lifecycle fields untouched.
    let b12 = before.iter().find(|r| r["id"] == R12).unwrap();
    for k in ["status", "started_at", "completed_at", "status_history"] {
        assert_eq!(record(h.path(), R12)[k], b12[k]);
    }

    // Running the same report again changes nothing.
    let bytes = std::fs::read(ledger(h.path())).unwrap();
    let (_, out, _) =
        run(modelfit(h.path(), &[]).args(["ci", "--status", "success", "--commit", A]));
    assert!(out.contains("already recorded, nothing changed"), "{out}");
    assert_eq!(std::fs::read(ledger(h.path())).unwrap(), bytes);
}

#[test]
fn prefixes_unique_ambiguous_short_and_case() {
    let h = home();
    let (code, _, err) =
        run(modelfit(h.path(), &[]).args(["ci", "--status", "failure", "--commit", "C0FFEE0"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(record(h.path(), R16)["ci_commit"], C);

    let bytes = std::fs::read(ledger(h.path())).unwrap();
    let (code, _, err) =
        run(modelfit(h.path(), &[]).args(["ci", "--status", "failure", "--commit", "3f2a9c1"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("ambiguous") && err.contains(A) && err.contains(B),
        "{err}"
    );
    let (code, _, err) =
        run(modelfit(h.path(), &[]).args(["ci", "--status", "failure", "--commit", "3f2a9c"]));
    assert_eq!(code, 1);
    assert!(err.contains("at least its first 7 hex digits"), "{err}");
    let (code, _, _) =
        run(modelfit(h.path(), &[]).args(["ci", "--status", "failure", "--commit", "3f2a9c1e"]));
    assert_eq!(code, 0);
    assert_ne!(std::fs::read(ledger(h.path())).unwrap(), bytes);
    assert_eq!(record(h.path(), R12)["outcome"], "failure");
    assert!(record(h.path(), R13).get("ci_status").is_none());
}

#[test]
fn no_matching_task_exits_0_unless_strict() {
    let h = home();
    let bytes = std::fs::read(ledger(h.path())).unwrap();
    let other = "0123456789abcdef0123456789abcdef01234567";
    let (code, out, err) =
        run(modelfit(h.path(), &[]).args(["ci", "--status", "success", "--commit", other]));
    assert_eq!(code, 0);
    assert!(out.is_empty());
    assert!(
        err.contains(&format!("no task was recorded on commit {other}")),
        "{err}"
    );
    assert!(err.contains("--strict"), "{err}");
    let (code, _, _) =
        run(modelfit(h.path(), &[])
            .args(["ci", "--status", "success", "--commit", other, "--strict"]));
    assert_eq!(code, 1);
    let (code, _, err) = run(modelfit(h.path(), &[]).args([
        "ci",
        "--status",
        "success",
        "--task",
        "dispatch-0-none",
    ]));
    assert_eq!(code, 0);
    assert!(err.contains("no task with id dispatch-0-none"), "{err}");
    let (code, _, _) = run(modelfit(h.path(), &[]).args([
        "ci",
        "--status",
        "success",
        "--task",
        "dispatch-0-none",
        "--strict",
    ]));
    assert_eq!(code, 1);
    assert_eq!(std::fs::read(ledger(h.path())).unwrap(), bytes);

    // A missing ledger is an empty one.
    let empty = TempDir::new().unwrap();
    let (code, _, err) =
        run(modelfit(empty.path(), &[]).args(["ci", "--status", "success", "--commit", A]));
    assert_eq!(code, 0, "{err}");
    assert!(!ledger(empty.path()).exists());
}

#[test]
fn by_task_id_several_at_once() {
    let h = home();
    let (code, _, err) = run(modelfit(h.path(), &[]).args([
        "ci",
        "--status",
        "failure",
        "--task",
        R13,
        "--task",
        R16,
        "--pipeline",
        "https://ci/9",
    ]));
    assert_eq!(code, 0, "{err}");
    for id in [R13, R16] {
        let r = record(h.path(), id);
        assert_eq!(
            (r["outcome"].as_str(), r["ci_pipeline"].as_str()),
            (Some("failure"), Some("https://ci/9"))
        );
    }
    assert!(record(h.path(), R12).get("ci_status").is_none());
}

#[test]
fn a_corrupt_ledger_is_an_error_and_left_untouched() {
    let h = home();
    let mut text = std::fs::read_to_string(ledger(h.path())).unwrap();
    text.truncate(text.len() - 10);
    std::fs::write(ledger(h.path()), &text).unwrap();
    let (code, _, err) =
        run(modelfit(h.path(), &[]).args(["ci", "--status", "success", "--commit", A]));
    assert_eq!(code, 1);
    assert!(err.contains("is not valid JSON"), "{err}");
    assert_eq!(std::fs::read_to_string(ledger(h.path())).unwrap(), text);
}

// ---- precedence: person > CI > hook > derived ----

/// One record holding `existing` fields; `modelfit ci --status S --task t`.
fn ci_over(existing: Value, status: &str) -> (Value, String) {
    let h = TempDir::new().unwrap();
    let mut rec = json!({"id": "t", "status": "complete", "workspace": "w", "task": "fix the parser",
                         "model": "sonnet", "created_at": "2026-03-09T08:00:00.000Z",
                         "started_at": "2026-03-09T08:00:00.000Z", "status_history": []});
    for (k, v) in existing.as_object().unwrap() {
        rec[k] = v.clone();
    }
    write(h.path(), &json!([rec]));
    let (code, _, err) =
        run(modelfit(h.path(), &[]).args(["ci", "--status", status, "--task", "t"]));
    assert_eq!(code, 0, "{err}");
    (records(h.path()).remove(0), err)
}

#[test]
fn precedence_table_for_ci() {
    struct Case {
        existing: Value,
        status: &'static str,
        outcome: Value,
        source: Value,
        outranked: bool,
    }
    let n = Value::Null;
    let cases = [
        // nothing yet: CI decides
        Case {
            existing: json!({}),
            status: "success",
            outcome: json!("success"),
            source: json!("ci"),
            outranked: false,
        },
        Case {
            existing: json!({}),
            status: "failure",
            outcome: json!("failure"),
            source: json!("ci"),
            outranked: false,
        },
        // cancelled: no verdict at all
        Case {
            existing: json!({}),
            status: "cancelled",
            outcome: n.clone(),
            source: n.clone(),
            outranked: false,
        },
        // CI over the hook and over derived signals
        Case {
            existing: json!({"outcome": "success", "outcome_source": "hook"}),
            status: "failure",
            outcome: json!("failure"),
            source: json!("ci"),
            outranked: false,
        },
        Case {
            existing: json!({"outcome": "failure", "outcome_source": "derived"}),
            status: "success",
            outcome: json!("success"),
            source: json!("ci"),
            outranked: false,
        },
        // a later pipeline over an earlier one
        Case {
            existing: json!({"outcome": "failure", "outcome_source": "ci"}),
            status: "success",
            outcome: json!("success"),
            source: json!("ci"),
            outranked: false,
        },
        // people stand: rate, outcome, the orchestrator's update_task_outcome, an unknown source
        Case {
            existing: json!({"outcome": "partial", "outcome_source": "human"}),
            status: "failure",
            outcome: json!("partial"),
            source: json!("human"),
            outranked: true,
        },
        Case {
            existing: json!({"outcome": "success", "outcome_source": "manual"}),
            status: "failure",
            outcome: json!("success"),
            source: json!("manual"),
            outranked: true,
        },
        Case {
            existing: json!({"outcome": "failure"}),
            status: "success",
            outcome: json!("failure"),
            source: n.clone(),
            outranked: true,
        },
        Case {
            existing: json!({"outcome": "success", "outcome_source": "robot"}),
            status: "failure",
            outcome: json!("success"),
            source: json!("robot"),
            outranked: true,
        },
        // cancelled over the hook: the hook's verdict stays
        Case {
            existing: json!({"outcome": "success", "outcome_source": "hook"}),
            status: "cancelled",
            outcome: json!("success"),
            source: json!("hook"),
            outranked: false,
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        let (r, err) = ci_over(c.existing.clone(), c.status);
        let ctx = format!("case {i}: {} + ci {}", c.existing, c.status);
        assert_eq!(r["outcome"], c.outcome, "{ctx}");
        assert_eq!(r["outcome_source"], c.source, "{ctx}");
        let want_status = if c.status == "cancelled" {
            "cancelled"
        } else {
            c.status
        };
        assert_eq!(
            r["ci_status"], want_status,
            "{ctx}: ci_status is always recorded"
        );
        assert_eq!(
            err.contains("keep a person's verdict"),
            c.outranked,
            "{ctx}: {err}"
        );
        if c.status == "cancelled" {
            assert!(r["outcome_sources"].get("ci").is_none(), "{ctx}");
        } else {
            assert_eq!(r["outcome_sources"]["ci"]["outcome"], c.status, "{ctx}");
        }
        if let Some(prev) = c.existing.get("outcome_source").and_then(Value::as_str) {
            if c.status != "cancelled" && prev != "ci" {
                assert_eq!(
                    r["outcome_sources"][prev]["outcome"], c.existing["outcome"],
                    "{ctx}"
                );
            }
        } else if c.existing.get("outcome").is_some() {
            assert_eq!(
                r["outcome_sources"]["orchestrator"]["outcome"], c.existing["outcome"],
                "{ctx}"
            );
        }
        assert_eq!(r["status"], "complete", "{ctx}");
    }
}

#[test]
fn people_override_ci_hook_and_derived() {
    for prev in ["ci", "hook", "derived"] {
        let h = TempDir::new().unwrap();
        write(
            h.path(),
            &json!([{"id": "t", "status": "complete", "task": "x", "outcome": "failure", "outcome_source": prev}]),
        );
        let mut rate = modelfit(h.path(), &[]);
        rate.args(["rate", "t", "y"]).assert().success();
        let r = records(h.path()).remove(0);
        assert_eq!(
            (r["outcome"].as_str(), r["outcome_source"].as_str()),
            (Some("success"), Some("human")),
            "{prev}"
        );
        assert_eq!(r["outcome_sources"]["human"]["outcome"], "success");

        let mut manual = modelfit(h.path(), &[]);
        manual.args(["outcome", "t", "partial"]).assert().success();
        let r = records(h.path()).remove(0);
        assert_eq!(
            (r["outcome"].as_str(), r["outcome_source"].as_str()),
            (Some("partial"), Some("manual")),
            "{prev}"
        );
    }
}

/// The hook and derived signals have no command of this branch; their
/// writers call the same `outcome::apply`, so the lower-after-higher cases
/// are checked on it directly.
#[test]
fn lower_sources_arriving_later_never_overwrite() {
    let rec = |o: &str, s: Option<&str>| {
        let mut v = json!({"id": "t", "status": "complete", "outcome": o});
        if let Some(s) = s {
            v["outcome_source"] = json!(s);
        }
        v.as_object().unwrap().clone()
    };
    for (have, src, by, wins) in [
        (Some("human"), Source::Ci, "success", false),
        (Some("human"), Source::Hook, "success", false),
        (Some("manual"), Source::Derived, "success", false),
        (None, Source::Hook, "success", false),
        (Some("ci"), Source::Hook, "success", false),
        (Some("ci"), Source::Derived, "success", false),
        (Some("hook"), Source::Derived, "success", false),
        (Some("derived"), Source::Hook, "success", true),
        (Some("hook"), Source::Hook, "success", true),
    ] {
        let mut r = rec("failure", have);
        let change = apply(
            &mut r,
            &Verdict::new(Outcome::Success, src),
            "2026-03-10T12:00:00.000Z",
        );
        let ctx = format!("{have:?} then {}", src.as_str());
        assert_eq!(r["outcome"] == by, wins, "{ctx}");
        assert_eq!(change.outranked_by.is_some(), !wins, "{ctx}");
        assert_eq!(
            r["outcome_sources"][src.as_str()]["outcome"],
            "success",
            "{ctx}"
        );
    }
}

#[test]
fn hostile_or_huge_pipeline_links_are_refused() {
    let h = home();
    let bytes = std::fs::read(ledger(h.path())).unwrap();
    let long = "x".repeat(5000);
    for p in [long.as_str(), "https://ci/1\n\u{1b}[2Jspoof"] {
        let (code, _, err) = run(modelfit(h.path(), &[]).args([
            "ci",
            "--status",
            "success",
            "--commit",
            A,
            "--pipeline",
            p,
        ]));
        assert_eq!(code, 1);
        assert!(err.contains("one line of at most 2048 characters"), "{err}");
    }
    assert_eq!(std::fs::read(ledger(h.path())).unwrap(), bytes);
}

/// hooks/ci/modelfit-ci.sh: the generic post-pipeline step never fails the
/// pipeline unless asked to.
#[test]
fn generic_post_pipeline_script() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("hooks/ci/modelfit-ci.sh");
    let mf = common::bin();
    let sh = |h: &Path, args: &[&str], extra: &[(&str, &str)]| {
        let mut c = std::process::Command::new("sh");
        c.arg(&script)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("MODELFIT", &mf)
            .env("ORCHESTRATOR_HOME", h)
            .env("MODELFIT_NOW", "2026-03-10T12:00:00.000Z");
        for (k, v) in extra {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        (
            o.status.code().unwrap(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let h = home();
    let (code, err) = sh(h.path(), &["failed", "c0ffee0", "https://ci/5"], &[]);
    assert_eq!(code, 0, "{err}");
    let r = record(h.path(), R16);
    assert_eq!(
        (r["outcome"].as_str(), r["ci_pipeline"].as_str()),
        (Some("failure"), Some("https://ci/5"))
    );

    let (code, err) = sh(h.path(), &["success", "0000000"], &[]);
    assert_eq!(code, 0);
    assert!(
        err.contains("no task was recorded on commit 0000000"),
        "{err}"
    );
    let (code, _) = sh(
        h.path(),
        &["success", "0000000"],
        &[("MODELFIT_CI_STRICT", "1")],
    );
    assert_eq!(code, 1);
    let (code, err) = sh(h.path(), &["green", "c0ffee0"], &[]);
    assert_eq!(code, 0);
    assert!(err.contains("modelfit ci failed (exit 1)"), "{err}");
    let (code, err) = sh(
        h.path(),
        &["success"],
        &[("MODELFIT", "/nonexistent/modelfit")],
    );
    assert_eq!(code, 0);
    assert!(err.contains("not found"), "{err}");
    let (code, _) = sh(h.path(), &[], &[]);
    assert_eq!(code, 64);
}

#[test]
fn a_commit_recorded_in_upper_case_still_matches() {
    let h = TempDir::new().unwrap();
    write(
        h.path(),
        &json!([
            {"id": "u", "status": "complete", "task": "x", "git_commit": A.to_uppercase()},
            {"id": "v", "status": "complete", "task": "mentions the commit in its text only: ".to_string() + A}
        ]),
    );
    let (code, _, err) =
        run(modelfit(h.path(), &[]).args(["ci", "--status", "success", "--commit", A]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(record(h.path(), "u")["outcome"], "success");
    assert!(record(h.path(), "v").get("ci_status").is_none());
}
