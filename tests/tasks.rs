//! `modelfit tasks`: what the ledger holds, newest first, with filters; and
//! `--unrated` lists exactly the finished tasks nobody gave a verdict.

mod common;

use common::Home;
use serde_json::{json, Value};

fn ids(out: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(out).expect("tasks --json prints JSON");
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn tasks_json(h: &Home, extra: &[&str]) -> Vec<String> {
    let out = h
        .cmd()
        .args(["tasks", "--json", "--limit", "0"])
        .args(extra)
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ids(&out.stdout)
}

/// The fixture ledger (real JARVIS shapes): 8 finished dispatches carry no
/// outcome at all; the 4 with an outcome got it from `update_task_outcome`
/// (a person), so they are rated.
#[test]
fn unrated_on_the_fixture_home_is_the_eight_finished_tasks_without_a_verdict() {
    let h = Home::fixture();
    let mut got = tasks_json(&h, &["--unrated"]);
    got.sort();
    let mut want = vec![
        "dispatch-1772611200000-eil5no",
        "dispatch-1772611200000-thn1ys",
        "dispatch-1772611200000-dl0vsd",
        "dispatch-1772636400000-be7z4b",
        "dispatch-1772636400000-dqo5k7",
        "dispatch-1772704800000-4i4hws",
        "dispatch-1772704800000-1z0lke",
        "dispatch-1772791200000-vib0ui",
    ];
    want.sort();
    assert_eq!(got, want);

    // doctor names the first few and points at the command.
    let out = h.cmd().arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("8 finished task(s) are unrated"), "{text}");
    assert!(text.contains("dispatch-1772791200000-vib0ui"), "{text}");
    assert!(text.contains("and 3 more"), "{text}");
    assert!(text.contains("modelfit tasks --unrated"), "{text}");
}

/// A small deterministic generator (xorshift), so many seeds can be run.
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

/// The definition, written independently of the implementation: a finished
/// task (id, not a batch; status complete/completed/failed/partial or an
/// outcome) with no verdict of a person (human, manual, or an outcome without
/// source), of CI, or in `outcome_sources` under human/manual/orchestrator/ci.
fn oracle_unrated(r: &Value) -> bool {
    if r.get("id").and_then(Value::as_str).is_none() || r["type"] == "batch" {
        return false;
    }
    let has_outcome = r.get("outcome").is_some_and(|o| !o.is_null());
    let finished = matches!(
        r["status"].as_str().unwrap_or(""),
        "complete" | "completed" | "failed" | "partial"
    ) || has_outcome;
    if !finished {
        return false;
    }
    if has_outcome {
        match r.get("outcome_source").and_then(Value::as_str) {
            None | Some("human" | "manual" | "ci") => return false,
            Some("hook" | "derived") => {}
            Some(_) => return false, // unknown writer: treated as a person
        }
    }
    let sources = r.get("outcome_sources").and_then(Value::as_object);
    !sources.is_some_and(|m| {
        ["human", "manual", "orchestrator", "ci"]
            .iter()
            .any(|k| m.get(*k).is_some_and(|v| !v.is_null()))
    })
}

fn generated(seed: u64, n: usize) -> Vec<Value> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut out = Vec::new();
    for i in 0..n {
        let ms = 1_772_000_000_000u64 + rng.next() % 5_000_000_000;
        let t = chrono::DateTime::from_timestamp_millis(ms as i64).unwrap();
        let mut r = json!({});
        match rng.next() % 12 {
            0 => {
                // a pipeline record: no id
                r["type"] = json!(rng.pick(&["pr-review", "vk-health", "orchestrator"]));
            }
            1 => {
                r["id"] = json!(format!("batch-{ms}-{i:06}"));
                r["type"] = json!("batch");
            }
            k => {
                r["id"] = json!(format!("dispatch-{ms}-{i:06}"));
                if k % 3 == 0 {
                    r["type"] = json!("claude-code");
                }
                r["task"] = json!("fix the thing");
            }
        }
        r["status"] = json!(rng.pick(&[
            "complete",
            "completed",
            "failed",
            "partial",
            "running",
            "pending",
            "verifying",
            "cancelled"
        ]));
        r["created_at"] = json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        if rng.next().is_multiple_of(2) {
            r["outcome"] = json!(rng.pick(&["success", "failure", "partial"]));
            match rng.next() % 7 {
                0 => {}
                1 => r["outcome_source"] = json!("human"),
                2 => r["outcome_source"] = json!("manual"),
                3 => r["outcome_source"] = json!("ci"),
                4 | 5 => r["outcome_source"] = json!("hook"),
                _ => r["outcome_source"] = json!("derived"),
            }
        }
        if rng.next().is_multiple_of(4) {
            let key = rng.pick(&[
                "human",
                "manual",
                "orchestrator",
                "ci",
                "tests",
                "assistant",
                "hook",
                "followup",
                "verification",
            ]);
            r["outcome_sources"] = json!({ key: {"outcome": "success"} });
        }
        if rng.next().is_multiple_of(5) {
            r["p_success"] = json!(((rng.next() % 1000) as f64) / 1000.0);
        }
        out.push(r);
    }
    out
}

#[test]
fn unrated_lists_exactly_the_unrated_tasks_over_many_seeds() {
    for seed in 1..=12u64 {
        let h = Home::with_ledger("");
        let records = generated(seed, 60);
        std::fs::write(h.ledger(), serde_json::to_string_pretty(&records).unwrap()).unwrap();
        let mut want: Vec<String> = records
            .iter()
            .filter(|r| oracle_unrated(r))
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        want.sort();
        let mut got = tasks_json(&h, &["--unrated"]);
        // newest first
        let times: Vec<String> = got
            .iter()
            .map(|id| id.split('-').nth(1).unwrap().to_string())
            .collect();
        let mut sorted = times.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(times, sorted, "seed {seed}: newest first");
        got.sort();
        assert_eq!(got, want, "seed {seed}");
        assert!(
            !want.is_empty(),
            "seed {seed}: the generator makes unrated tasks"
        );

        // Every task (id, not batch) appears without the filter.
        let all = tasks_json(&h, &[]);
        // A limit keeps the newest, whatever the ledger's order.
        for limit in [1usize, 5, 17, 40] {
            let out = h
                .cmd()
                .args(["tasks", "--json", "--limit", &limit.to_string()])
                .output()
                .unwrap();
            let top = ids(&out.stdout);
            let want: Vec<String> = all.iter().take(limit).cloned().collect();
            assert_eq!(top, want, "seed {seed}, limit {limit}");
        }
        let tasks = records
            .iter()
            .filter(|r| r.get("id").is_some() && r["type"] != "batch")
            .count();
        assert_eq!(all.len(), tasks, "seed {seed}");
    }
}

#[test]
fn filters_since_workspace_session_and_limit() {
    let h = Home::with_ledger("");
    let rec = |id: &str, at: &str, ws: &str, session: &str| {
        json!({"id": id, "type": "claude-code", "workspace": ws, "status": "complete",
               "created_at": at, "session_id": session, "task": "t"})
    };
    let records = vec![
        rec(
            "dispatch-1-a",
            "2026-01-01T10:00:00.000Z",
            "alpha.api",
            "sess-111",
        ),
        rec(
            "dispatch-2-b",
            "2026-02-01T10:00:00.000Z",
            "beta.web",
            "sess-222",
        ),
        rec(
            "dispatch-3-c",
            "2026-03-01T10:00:00.000Z",
            "Alpha.worker",
            "sess-111",
        ),
        rec(
            "dispatch-4-d",
            "2026-03-02T10:00:00.000Z",
            "gamma",
            "sess-333",
        ),
    ];
    std::fs::write(h.ledger(), serde_json::to_string_pretty(&records).unwrap()).unwrap();
    assert_eq!(
        tasks_json(&h, &[]),
        [
            "dispatch-4-d",
            "dispatch-3-c",
            "dispatch-2-b",
            "dispatch-1-a"
        ]
    );
    assert_eq!(
        tasks_json(&h, &["--since", "2026-02-15"]),
        ["dispatch-4-d", "dispatch-3-c"]
    );
    assert_eq!(
        tasks_json(&h, &["--workspace", "alpha"]),
        ["dispatch-3-c", "dispatch-1-a"]
    );
    assert_eq!(
        tasks_json(&h, &["--session", "sess-1"]),
        ["dispatch-3-c", "dispatch-1-a"]
    );
    let out = h
        .cmd()
        .args(["tasks", "--json", "--limit", "2"])
        .output()
        .unwrap();
    assert_eq!(ids(&out.stdout), ["dispatch-4-d", "dispatch-3-c"]);
    let out = h
        .cmd()
        .args(["tasks", "--since", "someday"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("YYYY-MM-DD"));
}

#[test]
fn the_table_fits_the_terminal_and_strips_control_characters() {
    let h = Home::with_ledger("");
    let hostile = format!(
        "evil\u{1b}[2J\u{1b}]0;pwned\u{7}\nline2\r\u{202e}{}",
        "w".repeat(500)
    );
    let records = vec![
        json!({"id": "dispatch-9-x", "workspace": hostile, "model": "claude-opus-4-5-20251101\u{1b}[31m",
               "status": "complete", "complexity": "medium", "complexity_source": "estimated",
               "created_at": "2026-03-01T10:00:00.000Z", "tokens_used": 123456, "cost_usd": 0.5,
               "p_success": 0.42, "previous_dispatch_id": "dispatch-8-y", "task": "t"}),
        json!({"id": "dispatch-8-y", "workspace": "w", "status": "failed",
               "created_at": "2026-02-28T10:00:00.000Z", "outcome": "failure", "outcome_source": "human", "task": "t"}),
    ];
    std::fs::write(h.ledger(), serde_json::to_string_pretty(&records).unwrap()).unwrap();
    for cols in [60usize, 80, 100, 160] {
        let out = h
            .cmd()
            .env("COLUMNS", cols.to_string())
            .arg("tasks")
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' || c == '\u{202e}'),
            "{text:?}"
        );
        let lines: Vec<&str> = text.lines().collect();
        // header + 2 rows + the notes under the table
        assert!(lines[0].starts_with("ID"), "{text}");
        let table = &lines[..3];
        for l in table {
            assert!(l.chars().count() <= cols, "{cols}: {l:?} is too wide");
        }
        assert!(lines[1].starts_with("dispatch-9-x"), "{text}");
        assert!(lines[2].starts_with("dispatch-8-y"), "{text}");
        assert!(lines[1].contains("medium*"), "{text}");
        assert!(text.contains("estimated"), "{text}");
        if cols >= 100 {
            assert!(lines[1].contains("0.42"), "{text}");
        }
        if cols >= 160 {
            assert!(lines[2].contains("failure (human)"), "{text}");
            assert!(lines[1].contains("$0.5000"), "{text}");
            assert!(lines[1].contains("123.5k"), "{text}");
            assert!(lines[1].contains("of dispatch-8-y"), "{text}");
            assert!(lines[2].contains("by dispatch-9-x"), "{text}");
        }
    }
}

#[test]
fn an_empty_ledger_says_what_would_fill_it() {
    let h = Home::with_ledger("");
    let out = h.cmd().arg("tasks").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no task"), "{text}");
    assert!(text.contains("hook"), "{text}");
}
