//! modelfit beside the orchestrator's unlocked writers (issue 11 §5): Node
//! stand-ins of its writers (tests/node/) rewrite the ledger every 10 ms
//! while modelfit appends, sets outcomes, rates, records CI results and runs
//! the hook. After one `modelfit ledger reconcile`: the ledger parses, every
//! write modelfit acknowledged is there, no fixture record is lost, and
//! modelfit destroyed at most 0.5 % of the orchestrator's records.
//! `bench/race.sh` runs the full 15 s version and prints the figures.

mod common;

use std::collections::HashSet;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::Home;
use serde_json::{json, Value};

const K1: &str = "dispatch-1772452800000-9656bj";
const K2: &str = "dispatch-1772456700000-bcqgra";
const K3: &str = "dispatch-1772457581000-1c2ow3";

fn node() -> &'static str {
    let ok = StdCommand::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "these tests need Node.js (the orchestrator's runtime): install it, e.g. \
         `apt-get install nodejs`"
    );
    "node"
}

fn script(name: &str) -> String {
    format!("{}/tests/node/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn run(h: &Home, args: &[&str], stdin: Option<&str>) -> Option<String> {
    let mut c = h.cmd();
    c.args(args).timeout(Duration::from_secs(30));
    if let Some(s) = stdin {
        c.write_stdin(s.to_string());
    }
    let out = c.output().unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ledger(h: &Home) -> Vec<Value> {
    let bytes = std::fs::read(h.ledger()).unwrap();
    serde_json::from_slice::<Vec<Value>>(&bytes).expect("the ledger parses")
}

fn fixture_records() -> Vec<Value> {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/jarvis/dispatches.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// What modelfit acknowledged during a race.
#[derive(Default)]
struct Acked {
    appended: Vec<String>,
    outcome: Option<String>,
    rated: Option<String>,
    ci: Option<String>,
    hook_sessions: Vec<String>,
}

/// modelfit's side: a loop of acknowledged writes until `until`.
fn modelfit_loop(h: &Home, until: Instant, with_hook: bool) -> Acked {
    let mut a = Acked::default();
    let mut n = 0u32;
    let ws = h.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    while Instant::now() < until {
        let id = format!("mf-{n}");
        if run(
            h,
            &["ledger", "append"],
            Some(
                &json!({"id": id, "task": "race", "status": "complete", "started_at": null})
                    .to_string(),
            ),
        )
        .is_some()
        {
            a.appended.push(id);
        }
        match n % 4 {
            0 => {
                let v = if n.is_multiple_of(8) {
                    "success"
                } else {
                    "failure"
                };
                if run(h, &["outcome", K1, v], None).is_some() {
                    a.outcome = Some(v.into());
                }
            }
            1 => {
                let (v, o) = if n % 8 == 1 {
                    ("y", "success")
                } else {
                    ("n", "failure")
                };
                if run(h, &["rate", K2, v], None).is_some() {
                    a.rated = Some(o.into());
                }
            }
            2 => {
                let (v, o) = if n % 8 == 2 {
                    ("success", "success")
                } else {
                    ("failed", "failure")
                };
                if run(h, &["ci", "--status", v, "--task", K3], None).is_some() {
                    a.ci = Some(o.into());
                }
            }
            _ if with_hook => {
                let sid = format!("race-session-{n}");
                let cwd = ws.to_string_lossy().into_owned();
                for (event, extra) in [
                    (
                        "UserPromptSubmit",
                        json!({"prompt": format!("race prompt {n}")}),
                    ),
                    ("Stop", json!({"stop_hook_active": false})),
                ] {
                    let mut p = json!({"session_id": sid, "hook_event_name": event, "cwd": cwd});
                    p.as_object_mut()
                        .unwrap()
                        .extend(extra.as_object().unwrap().clone());
                    // The hook always exits 0; what it journaled is checked at the end.
                    run(h, &["hook"], Some(&p.to_string()));
                }
                a.hook_sessions.push(sid);
            }
            _ => {}
        }
        n += 1;
    }
    a
}

/// Runs a Node writer for `secs` beside modelfit, then one reconcile, and
/// checks everything. Returns (orchestrator records written, destroyed).
fn race(writer: &str, secs: u64) -> (usize, usize) {
    let h = Home::fixture();
    let node = node();
    let ledger_path = h.ledger().to_string_lossy().into_owned();
    let ms = (secs * 1000).to_string();
    let mut child = match writer {
        "dispatcher" => StdCommand::new(node)
            .args([
                &script("dispatcher-writer.js"),
                &ledger_path,
                "orch",
                "10",
                &ms,
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
        _ => StdCommand::new(node)
            .args([&script("batch-writer.js"), &ledger_path, "10", &ms])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    };
    let until = Instant::now() + Duration::from_secs(secs);
    let acked = modelfit_loop(&h, until, true);
    let deadline = Instant::now() + Duration::from_secs(60);
    let out = loop {
        if Instant::now() > deadline {
            panic!("the Node writer did not finish");
        }
        if let Ok(Some(_)) = child.try_wait() {
            break child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(json!({}));
    run(&h, &["ledger", "reconcile"], None).expect("reconcile succeeds");

    let v = ledger(&h);
    let ids: HashSet<&str> = v.iter().filter_map(|r| r["id"].as_str()).collect();
    let by_id = |id: &str| v.iter().find(|r| r["id"] == id).unwrap();
    for id in &acked.appended {
        assert!(ids.contains(id.as_str()), "acknowledged append {id} lost");
    }
    assert!(!acked.appended.is_empty(), "modelfit acknowledged nothing");
    if let Some(o) = &acked.outcome {
        assert_eq!(by_id(K1)["outcome_sources"]["manual"]["outcome"], *o);
    }
    if let Some(o) = &acked.rated {
        assert_eq!(by_id(K2)["outcome_sources"]["human"]["outcome"], *o);
    }
    if let Some(o) = &acked.ci {
        assert_eq!(by_id(K3)["outcome_sources"]["ci"]["outcome"], *o);
    }
    let hook_records: HashSet<&str> = v
        .iter()
        .filter(|r| r["type"] == "claude-code")
        .filter_map(|r| r["session_id"].as_str())
        .collect();
    for s in &acked.hook_sessions {
        assert!(hook_records.contains(s.as_str()), "hook task of {s} lost");
    }
    for f in fixture_records() {
        let there = match f["id"].as_str() {
            Some(id) => ids.contains(id),
            None => v.iter().any(|r| {
                r["created_at"] == f["created_at"]
                    && r["task"] == f["task"]
                    && r["type"] == f["type"]
            }),
        };
        assert!(there, "fixture record lost: {}", f);
    }
    let (written, destroyed) = match report["ids"].as_array() {
        Some(orch) => {
            let lost = orch
                .iter()
                .filter(|i| !ids.contains(i.as_str().unwrap_or("")))
                .count();
            (orch.len(), lost)
        }
        None => (0, 0),
    };
    eprintln!(
        "{writer}: {} modelfit appends, {} hook tasks acknowledged and present; orchestrator {written} written, {destroyed} destroyed; node resets {}, done {}, failed {}",
        acked.appended.len(),
        acked.hook_sessions.len(),
        report["resets"],
        report["done"],
        report["failed"]
    );
    (written, destroyed)
}

#[test]
fn beside_a_dispatcher_style_writer_nothing_acknowledged_is_lost() {
    let (written, destroyed) = race("dispatcher", 4);
    assert!(
        written > 50,
        "the Node writer hardly ran ({written} records)"
    );
    assert!(
        destroyed * 200 <= written,
        "{destroyed} of {written} orchestrator records destroyed (more than 0.5 %)"
    );
}

#[test]
fn beside_a_batch_runner_style_writer_nothing_acknowledged_is_lost() {
    race("batch", 4);
}

#[test]
fn the_log_dispatch_drop_in_appends_the_pipeline_record_under_the_lock() {
    let h = Home::fixture();
    let script = format!(
        "{}/hooks/orchestrator/log-dispatch.sh",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = StdCommand::new("bash")
        .arg(&script)
        .args([
            "health-vk",
            "Health check \"03002\" — ok",
            "strokmatic.health",
            "claude-opus-4-6",
            "partial",
            "412",
        ])
        .env("ORCHESTRATOR_HOME", h.path())
        .env("MODELFIT", assert_cmd::cargo::cargo_bin("modelfit"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = ledger(&h);
    assert_eq!(v.len(), 30);
    let r = &v[29];
    assert_eq!(r["type"], "health-vk");
    assert_eq!(r["task"], "Health check \"03002\" — ok");
    assert_eq!(r["duration_seconds"], 412);
    assert_eq!(r["created_at"], r["started_at"]);
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "type",
            "task",
            "workspace",
            "model",
            "status",
            "created_at",
            "started_at",
            "completed_at",
            "duration_seconds"
        ]
    );
}
