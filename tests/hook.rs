//! `modelfit hook` end to end: real payload sequences from
//! tests/fixtures/claude-code/hooks/ fed to the binary, with `cwd` and
//! `transcript_path` rewritten to temporary copies of the fixture
//! transcripts, against a temporary orchestrator home.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tempfile::TempDir;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

struct Env {
    tmp: TempDir,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        for d in [
            "home/logs",
            "home/config/orchestrator",
            "ws",
            "fakehome",
            "claude/projects/p",
        ] {
            fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        // A git repository in the workspace, read by the hook without git.
        let g = tmp.path().join("ws/.git");
        fs::create_dir_all(g.join("refs/heads")).unwrap();
        fs::write(g.join("HEAD"), "ref: refs/heads/feature/x\n").unwrap();
        fs::create_dir_all(g.join("refs/heads/feature")).unwrap();
        fs::write(
            g.join("refs/heads/feature/x"),
            "1111111111111111111111111111111111111111\n",
        )
        .unwrap();
        Env { tmp }
    }
    fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }
    fn ws(&self) -> PathBuf {
        fs::canonicalize(self.tmp.path().join("ws")).unwrap()
    }
    fn transcript(&self, name: &str) -> PathBuf {
        self.tmp.path().join("claude/projects/p").join(name)
    }
    fn ledger(&self) -> Vec<Value> {
        match fs::read(self.home().join("logs/dispatches.json")) {
            Ok(b) => serde_json::from_slice(&b).unwrap(),
            Err(_) => Vec::new(),
        }
    }
    fn log(&self) -> String {
        fs::read_to_string(self.home().join("logs/modelfit/modelfit.log")).unwrap_or_default()
    }
    fn write_ledger_fixture(&self, edit: impl FnOnce(&mut Vec<Value>)) {
        let text = fs::read_to_string(format!("{FIX}/jarvis/dispatches.json"))
            .unwrap()
            .replace("/home/teruel/JARVIS", self.home().to_str().unwrap());
        let mut v: Vec<Value> = serde_json::from_str(&text).unwrap();
        edit(&mut v);
        fs::write(
            self.home().join("logs/dispatches.json"),
            serde_json::to_string_pretty(&v).unwrap(),
        )
        .unwrap();
    }

    /// Runs the hook with one payload; asserts exit 0 and returns its stdout.
    fn hook_stdout_bytes(&self, payload: &[u8], now: &str) -> String {
        let out = common::modelfit()
            .arg("--home")
            .arg(self.home())
            .arg("hook")
            .env("HOME", self.tmp.path().join("fakehome"))
            .env(
                "CLAUDE_CONFIG_DIR",
                self.tmp.path().join("fakehome/.claude"),
            )
            .env("MODELFIT_NOW", now)
            .env_remove("ORCHESTRATOR_HOME")
            .write_stdin(payload.to_vec())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "hook exit status");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    /// Runs the hook with one payload; asserts exit 0 and empty stdout.
    fn hook_bytes(&self, payload: &[u8], now: &str) {
        let out = self.hook_stdout_bytes(payload, now);
        assert!(out.is_empty(), "hook printed {out:?}");
    }
    fn hook(&self, payload: &Value, now: &str) {
        self.hook_bytes(payload.to_string().as_bytes(), now);
    }
    /// Runs the hook and returns its stdout (exit 0 asserted).
    fn hook_stdout(&self, payload: &Value, now: &str) -> String {
        self.hook_stdout_bytes(payload.to_string().as_bytes(), now)
    }
    /// A fixture payload with `cwd` and `transcript_path` rewritten.
    fn payload(&self, file: &str, index: usize, transcript: &Path) -> Value {
        let text = fs::read_to_string(format!("{FIX}/claude-code/hooks/{file}")).unwrap();
        let mut v: Value = serde_json::from_str(text.lines().nth(index).unwrap()).unwrap();
        v["cwd"] = json!(self.ws());
        v["transcript_path"] = json!(transcript);
        v
    }
}

/// Lines of a fixture transcript.
fn transcript_lines(rel: &str) -> Vec<String> {
    fs::read_to_string(format!("{FIX}/claude-code/transcripts/{rel}"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn append(path: &Path, lines: &[String]) {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// Independent token count of transcript lines: one API response per
/// (message.id, requestId); input and cache from the response, output the max
/// over its streamed lines.
fn count_tokens(lines: &[String]) -> [u64; 4] {
    use std::collections::BTreeMap;
    let mut groups: BTreeMap<(String, String), [u64; 4]> = BTreeMap::new();
    for l in lines {
        let Ok(v) = serde_json::from_str::<Value>(l) else {
            continue;
        };
        if v["type"] != "assistant" || v["message"]["model"] == "<synthetic>" {
            continue;
        }
        let u = &v["message"]["usage"];
        if !u.is_object() {
            continue;
        }
        let key = (
            v["message"]["id"].as_str().unwrap_or("").to_string(),
            v["requestId"].as_str().unwrap_or("").to_string(),
        );
        let n = |k: &str| u[k].as_u64().unwrap_or(0);
        let e = groups.entry(key).or_insert([
            n("input_tokens"),
            0,
            n("cache_creation_input_tokens"),
            n("cache_read_input_tokens"),
        ]);
        e[1] = e[1].max(n("output_tokens"));
    }
    groups.values().fold([0; 4], |mut a, g| {
        for i in 0..4 {
            a[i] += g[i];
        }
        a
    })
}

/// Lines 4..16 are a clean turn; line 17 is `[Request interrupted by user]`.
const TOOL_HEAVY: &str = "spotter-v2.1.38-tool-heavy/d6e0bada-1959-4eec-a9d2-0bfade768d8f.jsonl";

#[test]
fn prompt_then_stop_records_an_adhoc_task_with_tokens_git_and_redaction() {
    let e = Env::new();
    let tr = e.transcript("d6e0bada.jsonl");
    let lines = transcript_lines(TOOL_HEAVY);
    append(&tr, &lines[..4]); // up to and including the prompt line

    let mut start = e.payload(
        "real-2026-02-claude-agentic-framework/SessionStart.jsonl",
        1,
        &tr,
    );
    start["session_id"] = json!("d6e0bada-1959-4eec-a9d2-0bfade768d8f");
    e.hook(&start, "2026-02-10T22:57:50.000Z");
    let mut ups = e.payload(
        "real-2026-02-claude-agentic-framework/UserPromptSubmit.jsonl",
        1,
        &tr,
    );
    ups["session_id"] = start["session_id"].clone();
    ups["prompt"] =
        json!("start phoenix in background, then mail ops@acme-corp.com; password=hunter2");
    e.hook(&ups, "2026-02-10T22:57:54.700Z");
    assert!(e.ledger().is_empty(), "nothing is written before the Stop");

    append(&tr, &lines[4..16]); // the turn
    let mut stop = e.payload("real-2026-02-claude-agentic-framework/Stop.jsonl", 0, &tr);
    stop["session_id"] = start["session_id"].clone();
    e.hook(&stop, "2026-02-10T22:58:05.200Z");

    let ledger = e.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:#?}");
    let r = &ledger[0];
    assert_eq!(r["type"], "claude-code");
    assert!(r["id"].as_str().unwrap().starts_with("dispatch-"));
    assert_eq!(r["session_id"], "d6e0bada-1959-4eec-a9d2-0bfade768d8f");
    assert_eq!(r["workspace_path"], json!(e.ws()));
    assert_eq!(r["status"], "complete");
    assert_eq!(r["outcome"], "success");
    assert_eq!(r["outcome_source"], "hook");
    assert_eq!(r["started_at"], "2026-02-10T22:57:54.700Z");
    assert_eq!(r["completed_at"], "2026-02-10T22:58:05.200Z");
    assert_eq!(r["execution_time_seconds"], 11);
    assert!(r["status_history"].as_array().unwrap().len() == 2);
    for k in ["created_at", "status", "workspace", "task", "model"] {
        assert!(r[k].is_string(), "{k} must be a string");
    }
    // Redacted before it was written anywhere.
    let task = r["task"].as_str().unwrap();
    assert!(task.starts_with("start phoenix in background"));
    assert!(
        !task.contains("ops@acme-corp.com") && !task.contains("hunter2"),
        "{task}"
    );
    let state_dir = e.home().join("logs/modelfit");
    for entry in walk(&state_dir) {
        let text = fs::read_to_string(&entry).unwrap_or_default();
        assert!(!text.contains("hunter2"), "secret in {}", entry.display());
    }
    // Git HEAD read from .git.
    assert_eq!(r["git_commit"], "1111111111111111111111111111111111111111");
    assert_eq!(r["git_branch"], "feature/x");
    // Tokens against an independent count of the same lines.
    let want = count_tokens(&lines[4..16]);
    assert!(want.iter().sum::<u64>() > 0);
    assert_eq!(
        r["tokens"],
        json!({"input": want[0], "output": want[1], "cache_creation": want[2], "cache_read": want[3]})
    );
    assert_eq!(r["tokens_used"], json!(want.iter().sum::<u64>()));
    assert!(r["models_used"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m.as_str().unwrap().contains("claude")));
    assert!(r["cost_usd"].as_f64().unwrap() > 0.0);

    // The same Stop again (a blocking Stop hook, stop_hook_active): counted once.
    stop["stop_hook_active"] = json!(true);
    e.hook(&stop, "2026-02-10T22:58:06.000Z");
    let again = e.ledger();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["tokens"], r["tokens"]);
    assert_eq!(again[0]["tokens_used"], r["tokens_used"]);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn links_to_the_running_dispatch_of_the_workspace() {
    let e = Env::new();
    let ws = e.ws();
    e.write_ledger_fixture(|v| {
        v[27]["workspace_path"] = json!(ws);
    });
    let before = e.ledger();
    let dispatch = before[27].clone();
    let tr = e.transcript("s1.jsonl");
    let lines = transcript_lines(TOOL_HEAVY);
    append(&tr, &lines[..4]);

    let mut ups = e.payload("real-2026-09-jjodel-probe/claude-p-sequence.jsonl", 1, &tr);
    ups["prompt"] = dispatch["task"].clone();
    e.hook(&ups, "2026-03-06T10:01:03.000Z");
    append(&tr, &lines[4..16]);
    let stop = e.payload("real-2026-09-jjodel-probe/claude-p-sequence.jsonl", 2, &tr);
    e.hook(&stop, "2026-03-06T10:04:03.000Z");

    let after = e.ledger();
    assert_eq!(after.len(), before.len(), "a linked task adds no record");
    let r = &after[27];
    assert_eq!(r["id"], dispatch["id"]);
    // The orchestrator's lifecycle fields are untouched.
    for k in [
        "status",
        "started_at",
        "completed_at",
        "status_history",
        "task",
        "model",
    ] {
        assert_eq!(r[k], dispatch[k], "{k} changed");
    }
    assert_eq!(r["outcome"], "success");
    assert_eq!(r["outcome_source"], "hook");
    assert_eq!(r["execution_time_seconds"], 180);
    let want = count_tokens(&lines[4..16]);
    assert_eq!(r["tokens_used"], json!(want.iter().sum::<u64>()));
    assert_eq!(r["session_id"], ups["session_id"]);
    // Every field the orchestrator wrote keeps its place; new ones come after.
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    let old: Vec<&String> = dispatch.as_object().unwrap().keys().collect();
    assert_eq!(&keys[..old.len()], &old[..]);
    // Other records are byte-for-byte the same values.
    for (i, (a, b)) in before.iter().zip(after.iter()).enumerate() {
        if i != 27 {
            assert_eq!(a, b, "record {i} changed");
        }
    }
}

#[test]
fn a_stale_or_other_workspace_dispatch_is_not_linked() {
    let e = Env::new();
    let ws = e.ws();
    e.write_ledger_fixture(|v| v[27]["workspace_path"] = json!(ws));
    let n = e.ledger().len();
    let tr = e.transcript("s2.jsonl");
    append(&tr, &transcript_lines(TOOL_HEAVY)[..19]);
    // A day after the dispatch was marked running: stale, so ad hoc.
    let ups = e.payload("real-2026-09-jjodel-probe/claude-p-sequence.jsonl", 1, &tr);
    e.hook(&ups, "2026-03-07T12:00:00.000Z");
    let stop = e.payload("real-2026-09-jjodel-probe/claude-p-sequence.jsonl", 2, &tr);
    e.hook(&stop, "2026-03-07T12:00:10.000Z");
    let after = e.ledger();
    assert_eq!(after.len(), n + 1);
    assert_eq!(after[n]["type"], "claude-code");
    assert!(after[27].get("outcome").is_none());
}

#[test]
fn a_retry_chain_links_each_attempt_to_the_previous() {
    let e = Env::new();
    let tr = e.transcript("r.jsonl");
    append(&tr, &transcript_lines(TOOL_HEAVY)[..4]);
    let base = e.payload("real-2026-09-jjodel-probe/claude-p-sequence.jsonl", 4, &tr);
    let prompts = [
        (
            "Fix the failing login test in auth.py",
            "2026-03-06T10:00:00.000Z",
        ),
        (
            "Fix the failing login tests in auth.py",
            "2026-03-06T10:10:00.000Z",
        ),
        (
            "fix the failing login test in auth.py please",
            "2026-03-06T10:20:00.000Z",
        ),
        (
            "Write release notes for version 2.0",
            "2026-03-06T10:30:00.000Z",
        ),
        // Same text again, but more than an hour after the last attempt.
        (
            "Fix the failing login test in auth.py",
            "2026-03-06T11:40:00.000Z",
        ),
    ];
    for (i, (text, at)) in prompts.iter().enumerate() {
        let mut ups = base.clone();
        ups["prompt"] = json!(text);
        ups["prompt_id"] = json!(format!("p{i}"));
        e.hook(&ups, at);
        let mut stop = ups.clone();
        stop["hook_event_name"] = json!("Stop");
        stop.as_object_mut().unwrap().remove("prompt");
        let t = modelfit::clock::parse(at).unwrap() + chrono::Duration::seconds(30);
        e.hook(&stop, &modelfit::clock::iso(t));
    }
    let l = e.ledger();
    assert_eq!(l.len(), 5);
    assert!(l[0].get("previous_dispatch_id").is_none());
    assert_eq!(l[1]["previous_dispatch_id"], l[0]["id"]);
    assert_eq!(l[1]["retry_count"], 1);
    assert_eq!(l[2]["previous_dispatch_id"], l[1]["id"]);
    assert_eq!(l[2]["retry_count"], 2);
    assert!(l[3].get("previous_dispatch_id").is_none());
    assert!(
        l[4].get("previous_dispatch_id").is_none(),
        "outside the hour"
    );
    // The earlier attempts are not rewritten.
    assert!(l[0].get("retry_count").is_none());
}

#[test]
fn esc_without_stop_is_closed_at_the_next_prompt_and_at_session_end() {
    let e = Env::new();
    let tr = e.transcript("esc.jsonl");
    let lines = transcript_lines(TOOL_HEAVY);
    append(&tr, &lines[..4]);
    let sid = "esc-session-1";
    let mut ups = e.payload(
        "real-2026-02-claude-agentic-framework/UserPromptSubmit.jsonl",
        1,
        &tr,
    );
    ups["session_id"] = json!(sid);
    ups["prompt"] = json!("first task");
    e.hook(&ups, "2026-03-06T10:00:00.000Z");
    append(&tr, &lines[4..19]);
    // Esc: no Stop. The next prompt closes the first task.
    ups["prompt"] = json!("second task");
    e.hook(&ups, "2026-03-06T10:05:00.000Z");
    let l = e.ledger();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["task"], "first task");
    assert_eq!(l[0]["outcome"], "partial");
    assert_eq!(l[0]["outcome_source"], "hook");
    assert!(l[0]["outcome_notes"].as_str().unwrap().contains("no Stop"));
    assert_eq!(l[0]["execution_time_seconds"], 300);
    let want = count_tokens(&lines[4..19]);
    assert_eq!(l[0]["tokens_used"], json!(want.iter().sum::<u64>()));

    // Esc again, then the session ends.
    let state = e
        .home()
        .join("logs/modelfit/sessions")
        .join(format!("{sid}.json"));
    assert!(state.exists());
    let mut end = e.payload(
        "real-2026-02-claude-agentic-framework/SessionEnd.jsonl",
        1,
        &tr,
    );
    end["session_id"] = json!(sid);
    e.hook(&end, "2026-03-06T10:06:00.000Z");
    let l = e.ledger();
    assert_eq!(l.len(), 2);
    assert_eq!(l[1]["task"], "second task");
    assert_eq!(l[1]["outcome"], "partial");
    assert_eq!(
        l[1]["tokens_used"], 0,
        "nothing new after the second prompt"
    );
    assert!(!state.exists(), "the session's state is removed");
}

#[test]
fn headless_sequence_from_the_fixture_records_each_prompt_once() {
    let e = Env::new();
    let text = fs::read_to_string(format!(
        "{FIX}/claude-code/hooks/real-2026-09-jjodel-probe/claude-p-sequence.jsonl"
    ))
    .unwrap();
    let lines = transcript_lines(TOOL_HEAVY);
    for (i, line) in text.lines().enumerate() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        let sid = v["session_id"].as_str().unwrap().to_string();
        let tr = e.transcript(&format!("{sid}.jsonl"));
        if !tr.exists() {
            append(&tr, &lines[..4]);
        }
        if v["hook_event_name"] == "Stop" {
            append(&tr, &lines[4..19]);
        }
        v["cwd"] = json!(e.ws());
        v["transcript_path"] = json!(tr);
        e.hook(&v, &format!("2026-09-21T10:00:{:02}.000Z", i));
        // A headless runner may fire Stop twice: never counted twice.
        if v["hook_event_name"] == "Stop" {
            e.hook(&v, &format!("2026-09-21T10:00:{:02}.500Z", i));
        }
    }
    let l = e.ledger();
    assert_eq!(l.len(), 3, "three prompts, three records");
    let want: u64 = count_tokens(&lines[4..19]).iter().sum();
    for r in &l {
        assert_eq!(r["tokens_used"], json!(want));
        assert!(r["prompt_id"].is_string());
    }
    assert_eq!(l[0]["task"], "say ok");
}

#[test]
fn stop_without_prompt_submit_takes_the_prompt_from_the_transcript() {
    let e = Env::new();
    let tr = e.transcript("nostart.jsonl");
    let lines = transcript_lines(TOOL_HEAVY);
    let sid = "headless-no-ups";
    let mut start = e.payload(
        "real-2026-02-claude-agentic-framework/SessionStart.jsonl",
        2,
        &tr,
    );
    start["session_id"] = json!(sid);
    e.hook(&start, "2026-02-10T22:57:50.000Z");
    append(&tr, &lines[..19]);
    let mut stop = e.payload("real-2026-02-claude-agentic-framework/Stop.jsonl", 0, &tr);
    stop["session_id"] = json!(sid);
    e.hook(&stop, "2026-02-10T22:58:10.000Z");
    stop["stop_hook_active"] = json!(true);
    e.hook(&stop, "2026-02-10T22:58:11.000Z");
    let l = e.ledger();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["task"], "start phoenix in background");
    // The turn ends with "[Request interrupted by user]": partial.
    assert_eq!(l[0]["outcome"], "partial");
    assert!(l[0]["outcome_notes"]
        .as_str()
        .unwrap()
        .contains("interrupted"));
    assert_eq!(
        l[0]["tokens_used"],
        json!(count_tokens(&lines[..19]).iter().sum::<u64>())
    );
}

#[test]
fn stop_failure_is_a_failure() {
    let e = Env::new();
    let tr = e.transcript("fail.jsonl");
    append(&tr, &transcript_lines(TOOL_HEAVY)[..4]);
    let ups = e.payload("real-2026-09-jjodel-probe/claude-p-sequence.jsonl", 1, &tr);
    e.hook(&ups, "2026-03-06T10:00:00.000Z");
    let mut f = ups.clone();
    f["hook_event_name"] = json!("StopFailure");
    f["error"] = json!("rate_limit");
    e.hook(&f, "2026-03-06T10:00:05.000Z");
    let l = e.ledger();
    assert_eq!(l[0]["outcome"], "failure");
    assert_eq!(l[0]["status"], "failed");
    assert!(l[0]["outcome_notes"]
        .as_str()
        .unwrap()
        .contains("rate_limit"));
}

#[test]
fn learn_is_handed_off_after_enough_outcomes() {
    let e = Env::new();
    fs::create_dir_all(e.home().join("logs/modelfit")).unwrap();
    fs::write(
        e.home().join("logs/modelfit/config.json"),
        r#"{"learn_every": 2}"#,
    )
    .unwrap();
    let tr = e.transcript("learn.jsonl");
    append(&tr, &transcript_lines(TOOL_HEAVY)[..19]);
    let base = e.payload("real-2026-09-jjodel-probe/claude-p-sequence.jsonl", 1, &tr);
    let handoff = e.home().join("logs/modelfit/learn-handoff.json");
    for i in 0..2 {
        let mut ups = base.clone();
        ups["prompt"] = json!(format!(
            "task number {i} about something else entirely {}",
            "x".repeat(i * 40)
        ));
        e.hook(&ups, &format!("2026-03-06T10:0{i}:00.000Z"));
        let mut stop = ups.clone();
        stop["hook_event_name"] = json!("Stop");
        e.hook(&stop, &format!("2026-03-06T10:0{i}:30.000Z"));
        let h: Value = serde_json::from_slice(&fs::read(&handoff).unwrap()).unwrap();
        if i == 0 {
            assert_eq!(h["outcomes_since_learn"], 1);
            assert!(h["pid"].is_null());
        } else {
            assert_eq!(h["outcomes_since_learn"], 0);
            assert!(h["pid"].as_u64().unwrap() > 0, "learn started: {h}");
            assert_eq!(h["last_started_at"], "2026-03-06T10:01:30.000Z");
        }
    }
}

/// Every file under `dir`, except `skip`, with its size.
fn snapshot(dir: &Path, skip: &Path) -> Vec<(PathBuf, u64)> {
    let mut v: Vec<(PathBuf, u64)> = walk(dir)
        .into_iter()
        .filter(|p| !p.starts_with(skip))
        .map(|p| {
            let n = fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            (p, n)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn hostile_payloads_exit_0_print_nothing_write_only_inside_the_home_and_are_logged() {
    let e = Env::new();
    let tr = e.transcript("h.jsonl");
    append(&tr, &transcript_lines(TOOL_HEAVY)[..19]);
    let outside_before = snapshot(e.tmp.path(), &e.home());
    let base = e.payload("real-2026-09-jjodel-probe/claude-p-sequence.jsonl", 1, &tr);

    // ../ in the session id.
    let mut p = base.clone();
    p["session_id"] = json!("../../../../ws/evil");
    e.hook(&p, "2026-03-06T10:00:00.000Z");
    p["hook_event_name"] = json!("Stop");
    e.hook(&p, "2026-03-06T10:00:01.000Z");
    let names: Vec<String> = fs::read_dir(e.home().join("logs/modelfit/sessions"))
        .unwrap()
        .flatten()
        .map(|d| d.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n.starts_with("h-")), "{names:?}");
    assert!(!e.tmp.path().join("ws/evil.json").exists());

    // A 10 MB prompt: recorded, capped.
    let mut big = base.clone();
    big["session_id"] = json!("big-1");
    big["prompt"] = json!(format!("huge {}", "lorem ipsum ".repeat(900_000)));
    e.hook(&big, "2026-03-06T10:01:00.000Z");
    big["hook_event_name"] = json!("Stop");
    e.hook(&big, "2026-03-06T10:01:02.000Z");
    let l = e.ledger();
    let rec = l
        .iter()
        .find(|r| r["session_id"] == "big-1")
        .expect("big prompt recorded");
    assert!(rec["task"].as_str().unwrap().len() < 70 * 1024);

    // More than the 16 MB stdin cap: read to the end, ignored, logged.
    let mut huge = base.clone();
    huge["prompt"] = json!("y".repeat(17 << 20));
    e.hook(&huge, "2026-03-06T10:02:00.000Z");
    assert!(e.log().contains("larger than 16 MB"));

    // Invalid UTF-8 inside a string: tolerated.
    let mut raw = base.to_string().into_bytes();
    let at = raw.windows(6).position(|w| w == b"say ok").unwrap();
    raw[at] = 0xff;
    e.hook_bytes(&raw, "2026-03-06T10:03:00.000Z");

    // Not JSON, not an object, wrong types, missing fields, unknown event.
    let before = e.log().lines().count();
    e.hook_bytes(b"this is not json {", "2026-03-06T10:04:00.000Z");
    e.hook_bytes(b"[1,2,3]", "2026-03-06T10:04:01.000Z");
    e.hook_bytes(b"", "2026-03-06T10:04:02.000Z");
    e.hook(
        &json!({"hook_event_name": "Stop", "session_id": 42, "cwd": ["x"]}),
        "2026-03-06T10:04:03.000Z",
    );
    e.hook(
        &json!({"hook_event_name": "UserPromptSubmit"}),
        "2026-03-06T10:04:04.000Z",
    );
    e.hook(
        &json!({"hook_event_name": "Stop", "session_id": "wt-1", "transcript_path": 7, "cwd": null, "stop_hook_active": "yes"}),
        "2026-03-06T10:04:05.000Z",
    );
    e.hook(&json!({"hook_event_name": "UserPromptSubmit", "session_id": "t-1", "transcript_path": "/dev/zero", "prompt": {"a": 1}}), "2026-03-06T10:04:06.000Z");
    e.hook(
        &json!({"hook_event_name": "FutureEvent", "session_id": "x"}),
        "2026-03-06T10:04:07.000Z",
    );
    let log = e.log();
    let added = log.lines().count() - before;
    assert!(added >= 4, "errors logged: {log}");
    assert!(log.contains("not JSON"));
    assert!(log.contains("without a session_id"));
    assert!(
        !log.contains("FutureEvent"),
        "unknown events are ignored quietly"
    );
    for l in log.lines() {
        assert!(l.starts_with("[20"), "timestamped: {l}");
    }

    // Nothing outside the home changed.
    assert_eq!(snapshot(e.tmp.path(), &e.home()), outside_before);
    // The ledger still parses.
    assert!(!e.ledger().is_empty());
}

#[test]
fn a_corrupt_ledger_is_logged_and_left_untouched() {
    let e = Env::new();
    let bad = b"[\n  {\"id\": \"x\"\n".to_vec();
    fs::write(e.home().join("logs/dispatches.json"), &bad).unwrap();
    let tr = e.transcript("c.jsonl");
    append(&tr, &transcript_lines(TOOL_HEAVY)[..19]);
    let ups = e.payload("real-2026-09-jjodel-probe/claude-p-sequence.jsonl", 1, &tr);
    e.hook(&ups, "2026-03-06T10:00:00.000Z");
    let mut stop = ups.clone();
    stop["hook_event_name"] = json!("Stop");
    e.hook(&stop, "2026-03-06T10:00:05.000Z");
    assert_eq!(
        fs::read(e.home().join("logs/dispatches.json")).unwrap(),
        bad
    );
    assert!(e.log().contains("dispatches.json"), "{}", e.log());
}

#[test]
fn a_held_lock_times_out_quickly_and_is_logged() {
    let e = Env::new();
    let tr = e.transcript("l.jsonl");
    append(&tr, &transcript_lines(TOOL_HEAVY)[..19]);
    let ups = e.payload("real-2026-09-jjodel-probe/claude-p-sequence.jsonl", 1, &tr);
    e.hook(&ups, "2026-03-06T10:00:00.000Z");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(e.home().join("logs/dispatches.json.lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut stop = ups.clone();
    stop["hook_event_name"] = json!("Stop");
    let t = std::time::Instant::now();
    e.hook(&stop, "2026-03-06T10:00:05.000Z");
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    assert!(e.log().contains("lock"), "{}", e.log());
    drop(lock);
}

/// Figures of one task of the 2.1.39 session whose subagent file sits where
/// `place` puts it (given the main transcript) and is reported by a
/// SubagentStop (twice): what the hook recorded, what the transcript reader
/// counts for the same stretch, and independent counts of the main lines and
/// of the subagent file.
struct SubagentRun {
    recorded: u64,
    library: u64,
    main_only: u64,
    sub_only: u64,
}

fn run_with_subagent(e: &Env, place: impl Fn(&Path) -> PathBuf) -> SubagentRun {
    let src = format!("{FIX}/claude-code/transcripts/spotter-v2.1.39-session-with-subagents");
    let sid = "4d5611e5-241a-462a-8d15-5122611a9569";
    let tr = e.transcript(&format!("{sid}.jsonl"));
    let main = transcript_lines(
        "spotter-v2.1.39-session-with-subagents/4d5611e5-241a-462a-8d15-5122611a9569.excerpt.jsonl",
    );
    let agent = place(&tr);
    fs::create_dir_all(agent.parent().unwrap()).unwrap();
    fs::copy(format!("{src}/{sid}/subagents/agent-a2898e3.jsonl"), &agent).unwrap();
    append(&tr, &main[..6]);
    let mut ups = e.payload(
        "real-2026-02-claude-agentic-framework/UserPromptSubmit.jsonl",
        1,
        &tr,
    );
    ups["session_id"] = json!(sid);
    ups["prompt"] = json!("Work on bead spotter-dov.");
    e.hook(&ups, "2026-02-12T16:02:25.000Z");
    append(&tr, &main[6..38]);
    // The subagent finishes (reported twice), then the main agent stops.
    let mut sub = e.payload(
        "real-2026-02-claude-agentic-framework/SubagentStop.jsonl",
        0,
        &tr,
    );
    sub["session_id"] = json!(sid);
    sub["agent_transcript_path"] = json!(agent);
    e.hook(&sub, "2026-02-12T16:40:00.000Z");
    e.hook(&sub, "2026-02-12T16:40:01.000Z");
    assert!(
        e.ledger().is_empty(),
        "SubagentStop writes nothing by itself"
    );
    let mut stop = e.payload("real-2026-02-claude-agentic-framework/Stop.jsonl", 0, &tr);
    stop["session_id"] = json!(sid);
    e.hook(&stop, "2026-02-12T20:18:00.000Z");

    let l = e.ledger();
    assert_eq!(l.len(), 1);
    let sub_lines: Vec<String> = fs::read_to_string(&agent)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let start = fs::metadata(&tr).unwrap().len()
        - main[6..38].iter().map(|x| x.len() as u64 + 1).sum::<u64>();
    let library = modelfit::transcript::summarize(&tr, start, Some("2026-02-12T16:02:25.000Z"))
        .unwrap()
        .total()
        .total();
    SubagentRun {
        recorded: l[0]["tokens_used"].as_u64().unwrap(),
        library,
        main_only: count_tokens(&main[6..38]).iter().sum(),
        sub_only: count_tokens(&sub_lines).iter().sum(),
    }
}

#[test]
fn subagent_usage_counts_toward_the_task_once() {
    let e = Env::new();
    let r = run_with_subagent(&e, |tr| {
        tr.with_extension("").join("subagents/agent-a2898e3.jsonl")
    });
    // The main lines alone, by the independent count, are less than the
    // record: the subagent's responses are in it, and only once.
    assert!(
        r.recorded >= r.main_only + r.sub_only,
        "{} < {} + {}",
        r.recorded,
        r.main_only,
        r.sub_only
    );
    assert!(
        r.recorded < r.main_only + 2 * r.sub_only,
        "subagent counted twice: {}",
        r.recorded
    );
    // Same figure as the library's own reading of the same stretch.
    assert_eq!(r.recorded, r.library);
}

#[test]
fn lines_written_after_the_stop_are_counted_at_the_next_prompt() {
    let e = Env::new();
    let tr = e.transcript("late.jsonl");
    let lines = transcript_lines(TOOL_HEAVY);
    append(&tr, &lines[..4]);
    let mut ups = e.payload("real-2026-09-jjodel-probe/claude-p-sequence.jsonl", 1, &tr);
    ups["prompt"] = json!("start phoenix in background");
    e.hook(&ups, "2026-03-06T10:00:00.000Z");
    // At Stop time the transcript lacks the turn's last response.
    append(&tr, &lines[4..11]);
    let stop = e.payload("real-2026-09-jjodel-probe/claude-p-sequence.jsonl", 2, &tr);
    e.hook(&stop, "2026-03-06T10:00:20.000Z");
    let first = e.ledger()[0]["tokens_used"].as_u64().unwrap();
    assert_eq!(first, count_tokens(&lines[4..11]).iter().sum::<u64>());
    // Claude Code finishes writing; then the next prompt comes.
    append(&tr, &lines[11..16]);
    let mut next = ups.clone();
    next["prompt"] = json!("now stop it");
    next["prompt_id"] = json!("another-prompt");
    e.hook(&next, "2026-03-06T10:05:00.000Z");
    let l = e.ledger();
    assert_eq!(l.len(), 1, "refined in place, nothing appended");
    let want: u64 = count_tokens(&lines[4..16]).iter().sum();
    assert!(want > first);
    assert_eq!(l[0]["tokens_used"], json!(want));
    // Its end is still the Stop's.
    assert_eq!(l[0]["execution_time_seconds"], 20);
    assert_eq!(l[0]["completed_at"], "2026-03-06T10:00:20.000Z");
}

#[test]
fn links_also_in_a_ledger_not_in_the_orchestrator_layout() {
    let e = Env::new();
    let ws = e.ws();
    e.write_ledger_fixture(|v| v[27]["workspace_path"] = json!(ws));
    // Rewrite it compact (one line): the fast path cannot delimit records.
    let v: Value =
        serde_json::from_slice(&fs::read(e.home().join("logs/dispatches.json")).unwrap()).unwrap();
    fs::write(e.home().join("logs/dispatches.json"), v.to_string()).unwrap();
    let tr = e.transcript("compact.jsonl");
    append(&tr, &transcript_lines(TOOL_HEAVY)[..16]);
    let mut ups = e.payload("real-2026-09-jjodel-probe/claude-p-sequence.jsonl", 1, &tr);
    ups["prompt"] = json!("something else than the dispatch's task");
    e.hook(&ups, "2026-03-06T10:01:03.000Z");
    let stop = e.payload("real-2026-09-jjodel-probe/claude-p-sequence.jsonl", 2, &tr);
    e.hook(&stop, "2026-03-06T10:02:03.000Z");
    let l = e.ledger();
    assert_eq!(l.len(), 29, "linked, not appended");
    assert_eq!(l[27]["outcome"], "success");
    assert_eq!(l[27]["status"], "running");
}

#[test]
fn parallel_sessions_each_get_their_record() {
    let e = Env::new();
    let lines = transcript_lines(TOOL_HEAVY);
    let base = e.payload(
        "real-2026-09-jjodel-probe/claude-p-sequence.jsonl",
        1,
        &e.transcript("x"),
    );
    std::thread::scope(|scope| {
        for i in 0..6 {
            let e = &e;
            let lines = &lines;
            let base = base.clone();
            scope.spawn(move || {
                let tr = e.transcript(&format!("par-{i}.jsonl"));
                append(&tr, &lines[..4]);
                let mut ups = base.clone();
                ups["session_id"] = json!(format!("par-session-{i}"));
                ups["transcript_path"] = json!(tr);
                ups["prompt"] = json!(format!("parallel task {i}: {}", "abcdefgh".repeat(i + 1)));
                e.hook(&ups, "2026-03-06T10:00:00.000Z");
                append(&tr, &lines[4..16]);
                let mut stop = ups.clone();
                stop["hook_event_name"] = json!("Stop");
                e.hook(&stop, "2026-03-06T10:00:30.000Z");
            });
        }
    });
    let l = e.ledger();
    assert_eq!(l.len(), 6);
    let want: u64 = count_tokens(&lines[4..16]).iter().sum();
    let mut sessions: Vec<&str> = l
        .iter()
        .map(|r| r["session_id"].as_str().unwrap())
        .collect();
    sessions.sort();
    sessions.dedup();
    assert_eq!(sessions.len(), 6);
    assert!(l.iter().all(|r| r["tokens_used"] == json!(want)));
    assert!(!e.log().contains("lock"), "{}", e.log());
}

#[test]
fn a_resumed_session_after_session_end_does_not_count_its_past_again() {
    let e = Env::new();
    let tr = e.transcript("resume.jsonl");
    let lines = transcript_lines(TOOL_HEAVY);
    append(&tr, &lines[..4]);
    let sid = "resumed-session";
    let mut ups = e.payload(
        "real-2026-02-claude-agentic-framework/UserPromptSubmit.jsonl",
        1,
        &tr,
    );
    ups["session_id"] = json!(sid);
    ups["prompt"] = json!("start phoenix in background");
    e.hook(&ups, "2026-03-06T10:00:00.000Z");
    append(&tr, &lines[4..16]);
    let mut stop = e.payload("real-2026-02-claude-agentic-framework/Stop.jsonl", 0, &tr);
    stop["session_id"] = json!(sid);
    e.hook(&stop, "2026-03-06T10:00:30.000Z");
    let mut end = e.payload(
        "real-2026-02-claude-agentic-framework/SessionEnd.jsonl",
        1,
        &tr,
    );
    end["session_id"] = json!(sid);
    e.hook(&end, "2026-03-06T10:01:00.000Z");
    // Resumed headless: only a Stop fires, for a turn with no usage.
    append(&tr, &lines[16..18]);
    e.hook(&stop, "2026-03-06T11:00:00.000Z");
    // Nothing new: no prompt, no response since the session ended. No
    // record, and above all not the first turn counted again.
    assert_eq!(e.ledger().len(), 1);
    // A real new turn after the resume counts from where the session ended.
    append(&tr, &lines[24..30]);
    e.hook(&stop, "2026-03-06T11:05:00.000Z");
    let l = e.ledger();
    assert_eq!(l.len(), 2);
    assert!(l[1]["task"]
        .as_str()
        .unwrap()
        .starts_with("scrolling back in xterm.js"));
    assert_eq!(
        l[1]["tokens_used"],
        json!(count_tokens(&lines[24..30]).iter().sum::<u64>())
    );
}

#[test]
fn the_rating_reminder_is_a_system_message_after_stop_only_when_turned_on() {
    let e = Env::new();
    let tr = e.transcript("d6e0bada.jsonl");
    let lines = transcript_lines(TOOL_HEAVY);
    append(&tr, &lines[..4]);
    let sid = "d6e0bada-1959-4eec-a9d2-0bfade768d8f";
    let ups = |e: &Env| {
        let mut p = e.payload(
            "real-2026-02-claude-agentic-framework/UserPromptSubmit.jsonl",
            1,
            &tr,
        );
        p["session_id"] = json!(sid);
        p
    };
    let stop = |e: &Env| {
        let mut p = e.payload("real-2026-02-claude-agentic-framework/Stop.jsonl", 0, &tr);
        p["session_id"] = json!(sid);
        p
    };
    // Off by default: the Stop prints nothing.
    e.hook(&ups(&e), "2026-02-10T22:57:54.700Z");
    append(&tr, &lines[4..16]);
    assert_eq!(e.hook_stdout(&stop(&e), "2026-02-10T22:58:30.000Z"), "");

    common::modelfit()
        .arg("--home")
        .arg(e.home())
        .args(["config", "reminder", "on"])
        .assert()
        .success();
    // The prompt itself still prints nothing (its stdout would reach the model).
    assert_eq!(e.hook_stdout(&ups(&e), "2026-02-10T23:00:00.000Z"), "");
    append(&tr, &lines[16..]);
    let out = e.hook_stdout(&stop(&e), "2026-02-10T23:01:00.000Z");
    let msg: Value = serde_json::from_str(out.trim()).expect("one JSON line");
    let id = e.ledger().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let text = msg["systemMessage"].as_str().unwrap();
    assert!(text.contains(&format!("rate {id} y|n|p")), "{text}");
    assert_eq!(
        msg.as_object().unwrap().len(),
        1,
        "only a systemMessage: {out}"
    );
}

/// The legacy layout (before Claude Code 2.1.2): subagent files beside the
/// session file. The transcript reader finds them by session id; a
/// SubagentStop naming one must not add it a second time.
#[test]
fn a_legacy_subagent_file_reported_by_subagent_stop_counts_once() {
    let e = Env::new();
    let r = run_with_subagent(&e, |tr| tr.with_file_name("agent-a2898e3.jsonl"));
    assert!(
        r.library > r.main_only,
        "the reader did not find the legacy file"
    );
    assert_eq!(r.recorded, r.library, "legacy subagent file counted twice");
}
