//! `modelfit mcp` driven with raw JSON-RPC lines on stdin, as an MCP client
//! would send them, on a fixture home (the JARVIS config with the
//! learning-sample ledger). A second test drives it with the official Python
//! MCP SDK (`tests/mcp_client.py`).
#![cfg(feature = "mcp")]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use serde_json::{json, Value};
use tempfile::TempDir;

const NOW: &str = "2026-03-14T09:00:00.000Z";
const FIX: &str = "tests/fixtures/jarvis";

/// A home with the fixture's config files and the learning-sample ledger,
/// its paths rewritten to the temp dir by plain text replace.
fn fixture_home() -> TempDir {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let copy = |from: &str, to: &str| {
        let text = fs::read_to_string(Path::new(FIX).join(from)).unwrap();
        let dest = root.join(to);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::write(
            dest,
            text.replace("/home/teruel/JARVIS", root.to_str().unwrap()),
        )
        .unwrap();
    };
    copy("learning-sample/dispatches.json", "logs/dispatches.json");
    copy("models.json", "config/orchestrator/models.json");
    copy("pricing.json", "config/orchestrator/pricing.json");
    copy("workspaces.json", "config/orchestrator/workspaces.json");
    dir
}

/// [`fixture_home`] plus evidence strong enough for two suggestions: 16 more
/// complex tasks that Sonnet did well (Opus is over-provisioned there) and 30
/// simple tasks on Sonnet, which beats Haiku's 11/17. The learning sample
/// alone is too small for any suggestion, as `learn` rightly says.
fn learning_home() -> TempDir {
    let dir = fixture_home();
    let path = dir.path().join("logs/dispatches.json");
    let mut records = ledger(dir.path());
    let template = |complexity: &str| {
        records
            .iter()
            .find(|r| r["complexity"] == complexity && r["outcome"] == "success")
            .unwrap()
            .clone()
    };
    let (complex, simple) = (template("complex"), template("simple"));
    let mut add = |template: &Value, n: u64, base_ms: i64, tag: &str| {
        for i in 0..n {
            let ms = base_ms + i as i64 * 600_000;
            let at = chrono::DateTime::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let mut r = template.clone();
            r["id"] = json!(format!("dispatch-{ms}-{tag}{i:03}"));
            r["model"] = json!("claude-sonnet-4-5-20250929");
            for k in [
                "created_at",
                "updated_at",
                "started_at",
                "completed_at",
                "outcome_updated_at",
            ] {
                r[k] = json!(at);
            }
            records.push(r);
        }
    };
    add(&complex, 16, 1_773_330_000_000, "cx");
    add(&simple, 30, 1_773_340_000_000, "sm");
    fs::write(&path, serde_json::to_string_pretty(&records).unwrap()).unwrap();
    dir
}

fn ledger(home: &Path) -> Vec<Value> {
    serde_json::from_str(&fs::read_to_string(home.join("logs/dispatches.json")).unwrap()).unwrap()
}

fn record(home: &Path, id: &str) -> Value {
    ledger(home)
        .into_iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

/// Ids of ledger records, oldest first.
fn ids(home: &Path) -> Vec<String> {
    ledger(home)
        .iter()
        .filter_map(|r| r["id"].as_str().map(String::from))
        .collect()
}

fn init() -> Vec<Value> {
    vec![
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "modelfit-test", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ]
}

fn call(id: u64, name: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": name, "arguments": arguments}})
}

/// What one session printed: every stdout line parsed, by id, plus stderr.
struct Session {
    by_id: BTreeMap<u64, Value>,
    /// Error replies to lines whose id could not be read (`"id": null`).
    without_id: Vec<Value>,
    stderr: String,
}

impl Session {
    fn result(&self, id: u64) -> &Value {
        let r = &self.by_id[&id];
        assert!(r.get("error").is_none(), "id {id}: {r}");
        &r["result"]
    }

    /// The text of a tool result that must have succeeded.
    fn ok(&self, id: u64) -> String {
        let r = self.result(id);
        assert_eq!(r["isError"], false, "id {id}: {r}");
        r["content"][0]["text"].as_str().unwrap().to_string()
    }

    /// The text of a tool result that must be an error result.
    fn err(&self, id: u64) -> String {
        let r = self.result(id);
        assert_eq!(r["isError"], true, "id {id} should be an error result: {r}");
        assert_eq!(r["content"][0]["type"], "text");
        r["content"][0]["text"].as_str().unwrap().to_string()
    }
}

/// Runs one `modelfit mcp` session: initialize, then `requests`, then EOF.
fn session(home: &Path, requests: &[Value]) -> Session {
    let mut input = String::new();
    for r in init().iter().chain(requests) {
        input.push_str(&r.to_string());
        input.push('\n');
    }
    session_raw(home, &input)
}

fn session_raw(home: &Path, input: &str) -> Session {
    let out = common::modelfit()
        .args(["--home", home.to_str().unwrap(), "mcp"])
        .env("MODELFIT_NOW", NOW)
        .env_remove("ORCHESTRATOR_HOME")
        .write_stdin(input.to_string())
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        out.status.success(),
        "exit {:?}; stderr:\n{stderr}",
        out.status
    );
    let mut by_id = BTreeMap::new();
    let mut without_id = Vec::new();
    for line in stdout.lines() {
        // Stdout carries the protocol only: every line is one JSON-RPC message.
        let msg: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        assert_eq!(msg["jsonrpc"], "2.0", "{line}");
        if msg["id"].is_null() {
            assert!(msg["error"]["code"].is_i64(), "{line}");
            without_id.push(msg);
            continue;
        }
        let id = msg["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("no id: {line}"));
        assert!(by_id.insert(id, msg).is_none(), "two replies for id {id}");
    }
    Session {
        by_id,
        without_id,
        stderr,
    }
}

/// The seed's input schemas, copied from its spec (model-learning spec,
/// "MCP Tool Interface"), written here independently of the server's source.
fn seed_schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "update_task_outcome",
            json!({
                "type": "object",
                "properties": {
                    "task_id": { "type": "string", "description": "Task ID from dispatch" },
                    "outcome": {
                        "type": "string",
                        "enum": ["success", "failure", "partial"],
                        "description": "Task outcome"
                    },
                    "execution_time_seconds": { "type": "number" },
                    "tokens_used": { "type": "number" },
                    "notes": { "type": "string" }
                },
                "required": ["task_id", "outcome"]
            }),
        ),
        (
            "analyze_model_performance",
            json!({
                "type": "object",
                "properties": {
                    "min_sample_size": { "type": "number", "default": 5 },
                    "since_date": { "type": "string", "description": "ISO date, analyze only recent dispatches" }
                }
            }),
        ),
        (
            "suggest_model_rules",
            json!({
                "type": "object",
                "properties": { "min_confidence": { "type": "number", "default": 0.70 } }
            }),
        ),
        (
            "apply_model_suggestion",
            json!({
                "type": "object",
                "properties": { "suggestion_id": { "type": "string" } },
                "required": ["suggestion_id"]
            }),
        ),
        (
            "reject_model_suggestion",
            json!({
                "type": "object",
                "properties": {
                    "suggestion_id": { "type": "string" },
                    "reason": { "type": "string" }
                },
                "required": ["suggestion_id"]
            }),
        ),
    ]
}

#[test]
fn initialize_names_modelfit_and_offers_tools() {
    let home = fixture_home();
    let s = session(home.path(), &[]);
    let r = s.result(0);
    assert_eq!(r["serverInfo"]["name"], "modelfit");
    assert_eq!(r["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(r["protocolVersion"], "2025-06-18");
    assert!(r["capabilities"]["tools"].is_object(), "{r}");
    // Logs went to stderr and to the MCP log, not to stdout, and the
    // informational lines stay out of the error log `doctor` reads.
    assert!(s.stderr.contains("MCP server on stdio"), "{}", s.stderr);
    let log = fs::read_to_string(home.path().join("logs/modelfit/mcp.log")).unwrap();
    assert!(log.contains("MCP server on stdio"), "{log}");
    let errors = home.path().join("logs/modelfit/modelfit.log");
    assert!(
        !fs::read_to_string(&errors)
            .unwrap_or_default()
            .contains("INFO"),
        "informational lines in the error log"
    );
}

#[test]
fn tools_list_has_the_seed_tools_with_the_seed_schemas_exactly() {
    let home = fixture_home();
    let s = session(
        home.path(),
        &[json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})],
    );
    let tools = s.result(1)["tools"].as_array().unwrap().clone();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "update_task_outcome",
            "analyze_model_performance",
            "suggest_model_rules",
            "apply_model_suggestion",
            "reject_model_suggestion",
            "select_model",
            "rate_task"
        ]
    );
    for (name, schema) in seed_schemas() {
        let tool = tools.iter().find(|t| t["name"] == name).unwrap();
        assert_eq!(tool["inputSchema"], schema, "{name}");
        // Same key order as the seed, too.
        assert_eq!(
            tool["inputSchema"].to_string(),
            schema.to_string(),
            "{name}"
        );
        assert!(!tool["description"].as_str().unwrap().is_empty());
    }
    let select = tools.iter().find(|t| t["name"] == "select_model").unwrap();
    assert_eq!(
        select["inputSchema"]["required"],
        json!(["complexity", "task"])
    );
    assert_eq!(select["annotations"]["destructiveHint"], false);
    let rate = tools.iter().find(|t| t["name"] == "rate_task").unwrap();
    // task_id may be omitted: the tool then names the task to ask about.
    assert_eq!(rate["inputSchema"]["required"], json!([]));
    let apply = tools
        .iter()
        .find(|t| t["name"] == "apply_model_suggestion")
        .unwrap();
    assert_eq!(apply["annotations"]["destructiveHint"], true);
}

#[test]
fn update_task_outcome_writes_exactly_what_modelfit_outcome_writes() {
    let via_mcp = fixture_home();
    let via_cli = fixture_home();
    let id = ids(via_mcp.path())[5].clone();
    let notes = "reviewed by ops@example.com: tests pass";

    let s = session(
        via_mcp.path(),
        &[call(
            1,
            "update_task_outcome",
            json!({"task_id": id, "outcome": "partial", "execution_time_seconds": 312.5,
                   "tokens_used": 48000, "notes": notes}),
        )],
    );
    let text = s.ok(1);

    let out = common::modelfit()
        .args([
            "--home",
            via_cli.path().to_str().unwrap(),
            "outcome",
            &id,
            "partial",
        ])
        .args(["--time", "312.5", "--tokens", "48000", "--notes", notes])
        .env("MODELFIT_NOW", NOW)
        .output()
        .unwrap();
    assert!(out.status.success());
    // Same summary, same bytes on disk.
    assert_eq!(text, String::from_utf8(out.stdout).unwrap());
    let bytes = |home: &Path| {
        fs::read_to_string(home.join("logs/dispatches.json"))
            .unwrap()
            .replace(home.to_str().unwrap(), "HOME")
    };
    assert!(
        bytes(via_mcp.path()) == bytes(via_cli.path()),
        "the MCP tool and the CLI wrote different ledgers"
    );

    let r = record(via_mcp.path(), &id);
    assert_eq!(r["outcome"], "partial");
    assert_eq!(r["outcome_source"], "manual");
    assert_eq!(r["execution_time_seconds"], 312.5);
    assert_eq!(r["tokens_used"], 48000);
    assert_eq!(r["outcome_updated_at"], NOW);
    let stored = r["outcome_notes"].as_str().unwrap();
    assert!(
        !stored.contains("ops@example.com"),
        "notes not redacted: {stored}"
    );
    assert!(stored.contains("tests pass"));
}

#[test]
fn rate_task_records_a_persons_verdict() {
    let home = fixture_home();
    let id = ids(home.path())[2].clone();
    let s = session(
        home.path(),
        &[call(
            1,
            "rate_task",
            json!({"task_id": id, "outcome": "failure", "notes": "wrong file"}),
        )],
    );
    let text = s.ok(1);
    assert!(text.starts_with(&format!("{id}:\n")), "{text}");
    let r = record(home.path(), &id);
    assert_eq!(r["outcome"], "failure");
    assert_eq!(r["outcome_source"], "human");
    assert_eq!(r["rated_at"], NOW);
    assert_eq!(r["outcome_notes"], "wrong file");
    assert_eq!(r["outcome_sources"]["human"]["outcome"], "failure");
}

#[test]
fn select_model_follows_the_rules_of_models_json() {
    let home = fixture_home();
    let s = session(
        home.path(),
        &[
            call(
                1,
                "select_model",
                json!({"complexity": "simple", "task": "Review the architecture of the sync layer"}),
            ),
            call(
                2,
                "select_model",
                json!({"complexity": "medium", "task": "add a retry to the uploader"}),
            ),
            call(
                3,
                "select_model",
                json!({"complexity": "medium", "task": "rename a helper", "estimated_files": 9}),
            ),
        ],
    );
    // Rule 0: architecture → opus, resolved to the full id through task_complexity.
    let first = s.ok(1);
    assert_eq!(
        first.lines().next(),
        Some("claude-opus-4-5-20251101"),
        "{first}"
    );
    assert!(first.contains("architecture"), "{first}");
    // No rule: the complexity's model.
    let second = s.ok(2);
    assert_eq!(
        second.lines().next(),
        Some("claude-sonnet-4-5-20250929"),
        "{second}"
    );
    assert!(second.contains("no rule matched"), "{second}");
    // estimated_files > 5 → opus.
    assert_eq!(s.ok(3).lines().next(), Some("claude-opus-4-5-20251101"));
}

/// The learning loop end to end: analyze, suggest (the Markdown report),
/// apply one suggestion, reject another, all through the tools.
#[test]
fn analyze_suggest_apply_reject_through_the_tools() {
    let home = learning_home();
    let h = home.path();
    let models_before = fs::read_to_string(h.join("config/orchestrator/models.json")).unwrap();
    let s = session(
        h,
        &[
            call(
                1,
                "analyze_model_performance",
                json!({"min_sample_size": 5}),
            ),
            call(2, "suggest_model_rules", json!({})),
        ],
    );
    let analysis = s.ok(1);
    assert!(
        analysis.starts_with("Analyzed 103 dispatches"),
        "{analysis}"
    );
    assert!(h.join("logs/model-learning.json").is_file());
    let report = s.ok(2);
    assert!(report.starts_with("# "), "not Markdown: {report}");

    let learning = |h: &Path| -> Value {
        serde_json::from_str(&fs::read_to_string(h.join("logs/model-learning.json")).unwrap())
            .unwrap()
    };
    let suggestions = learning(h)["suggestions"].as_array().unwrap().clone();
    let of_type = |t: &str| {
        suggestions
            .iter()
            .find(|s| s["type"] == t && s["status"] == "open")
            .unwrap_or_else(|| panic!("no open {t} suggestion: {report}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let downgrade = of_type("downgrade_complexity");
    let upgrade = of_type("upgrade_complexity");
    // The report the tool returns lists both, with the commands to act on them.
    for id in [&downgrade, &upgrade] {
        assert!(report.contains(id.as_str()), "report lacks {id}:\n{report}");
    }

    let s = session(
        h,
        &[
            call(
                1,
                "apply_model_suggestion",
                json!({"suggestion_id": downgrade}),
            ),
            call(
                2,
                "reject_model_suggestion",
                json!({"suggestion_id": upgrade, "reason": "Haiku is fine for our docs"}),
            ),
            // Applying again is refused, with the reason.
            call(
                3,
                "apply_model_suggestion",
                json!({"suggestion_id": downgrade}),
            ),
            // Suggesting again does not bring the rejected one back.
            call(4, "suggest_model_rules", json!({"min_confidence": 0.5})),
        ],
    );
    let applied = s.ok(1);
    assert!(
        applied.starts_with(&format!("Applied suggestion {downgrade}")),
        "{applied}"
    );
    let rejected = s.ok(2);
    assert!(
        rejected.contains(&upgrade) && rejected.contains("Haiku is fine"),
        "{rejected}"
    );
    let again = s.err(3);
    assert!(again.contains("applied"), "{again}");
    let report = s.ok(4);
    assert!(
        !report.contains(&format!("modelfit learn apply {upgrade}")),
        "{report}"
    );

    let after = learning(h);
    let status = |id: &str| {
        after["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status(&downgrade), "applied");
    assert_eq!(status(&upgrade), "rejected");
    let models_after = fs::read_to_string(h.join("config/orchestrator/models.json")).unwrap();
    assert_eq!(
        models_after,
        models_before.replacen(
            "\"model\": \"claude-opus-4-5-20251101\"",
            "\"model\": \"claude-sonnet-4-5-20250929\"",
            1
        )
    );
    let log = fs::read_to_string(h.join("logs/model-config-changes.log")).unwrap();
    assert!(log.contains(&downgrade), "{log}");
    // And select_model now routes complex work by the applied rule.
    let s = session(
        h,
        &[call(
            1,
            "select_model",
            json!({"complexity": "complex", "task": "port the parser"}),
        )],
    );
    assert_eq!(s.ok(1).lines().next(), Some("claude-sonnet-4-5-20250929"));
}

#[test]
fn bad_arguments_are_error_results_that_say_what_to_do() {
    let home = fixture_home();
    let h = home.path();
    let id = ids(h)[0].clone();
    let before = fs::read(h.join("logs/dispatches.json")).unwrap();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "update_task_outcome",
            json!({"outcome": "success"}),
            "`task_id` is required",
        ),
        (
            "update_task_outcome",
            json!({"task_id": id}),
            "`outcome` is required",
        ),
        ("update_task_outcome", json!({}), "is required"),
        (
            "update_task_outcome",
            json!({"task_id": id, "outcome": "done"}),
            "`outcome` must be success, failure or partial, not \"done\"",
        ),
        (
            "update_task_outcome",
            json!({"task_id": 42, "outcome": "success"}),
            "`task_id` must be a string, not the number 42",
        ),
        (
            "update_task_outcome",
            json!({"task_id": id, "outcome": "success", "tokens_used": "lots"}),
            "`tokens_used` must be a number, not the string \"lots\"",
        ),
        (
            "update_task_outcome",
            json!({"task_id": id, "outcome": "success", "tokens_used": 12.5}),
            "`tokens_used` must be a whole number",
        ),
        (
            "update_task_outcome",
            json!({"task_id": id, "outcome": "success", "tokens_used": -3}),
            "`tokens_used` must be a whole number",
        ),
        (
            "update_task_outcome",
            json!({"task_id": id, "outcome": "success", "execution_time_seconds": -1}),
            "non-negative number of seconds",
        ),
        (
            "update_task_outcome",
            json!({"task_id": id, "outcome": "success", "notes": ["a"]}),
            "`notes` must be a string, not an array",
        ),
        (
            "update_task_outcome",
            json!({"task_id": id, "outcome": "success", "tokens": 5}),
            "unknown argument `tokens`",
        ),
        (
            "update_task_outcome",
            json!({"task_id": "dispatch-0-nope", "outcome": "success"}),
            "no record with id \"dispatch-0-nope\"",
        ),
        (
            "rate_task",
            json!({"task_id": "", "outcome": "success"}),
            "`task_id` must not be empty",
        ),
        (
            "rate_task",
            json!({"task_id": id, "outcome": true}),
            "must be a string",
        ),
        (
            "analyze_model_performance",
            json!({"min_sample_size": "five"}),
            "`min_sample_size` must be a number",
        ),
        (
            "analyze_model_performance",
            json!({"min_sample_size": 0}),
            "at least 1",
        ),
        (
            "analyze_model_performance",
            json!({"since_date": "yesterday"}),
            "must be an ISO date",
        ),
        (
            "suggest_model_rules",
            json!({"min_confidence": 1.5}),
            "between 0 and 1",
        ),
        (
            "suggest_model_rules",
            json!({"min_confidance": 0.8}),
            "unknown argument `min_confidance`",
        ),
        (
            "apply_model_suggestion",
            json!({}),
            "`suggestion_id` is required",
        ),
        (
            "apply_model_suggestion",
            json!({"suggestion_id": 3}),
            "must be a string",
        ),
        (
            "reject_model_suggestion",
            json!({"reason": "no"}),
            "`suggestion_id` is required",
        ),
        (
            "select_model",
            json!({"task": "x"}),
            "`complexity` is required",
        ),
        (
            "select_model",
            json!({"complexity": "huge", "task": "x"}),
            "must be simple, medium or complex",
        ),
        (
            "select_model",
            json!({"complexity": "simple", "task": "x", "estimated_files": 2.5}),
            "`estimated_files` must be a whole number",
        ),
    ];
    let requests: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (name, args, _))| call(i as u64 + 1, name, args.clone()))
        .collect();
    let s = session(h, &requests);
    for (i, (name, args, expected)) in cases.iter().enumerate() {
        let e = s.err(i as u64 + 1);
        assert!(
            e.contains(expected),
            "{name} {args}: {e:?} lacks {expected:?}"
        );
    }
    // Nothing was written by any of them.
    assert_eq!(before, fs::read(h.join("logs/dispatches.json")).unwrap());
}

#[test]
fn unknown_ids_in_learning_are_error_results() {
    let home = fixture_home();
    let s = session(
        home.path(),
        &[
            call(1, "analyze_model_performance", json!({})),
            call(
                2,
                "apply_model_suggestion",
                json!({"suggestion_id": "no-such-suggestion"}),
            ),
            call(
                3,
                "reject_model_suggestion",
                json!({"suggestion_id": "no-such-suggestion"}),
            ),
        ],
    );
    s.ok(1);
    for id in [2, 3] {
        let e = s.err(id);
        assert!(e.contains("no-such-suggestion"), "{e}");
    }
}

#[test]
fn protocol_level_mistakes_get_json_rpc_errors_and_the_server_goes_on() {
    let home = fixture_home();
    let mut input = String::new();
    for r in init() {
        input.push_str(&r.to_string());
        input.push('\n');
    }
    // Unknown tool: the protocol's answer is a JSON-RPC error.
    input.push_str(&call(1, "delete_everything", json!({})).to_string());
    input.push('\n');
    // Arguments that are not an object cannot form a tools/call request.
    input.push_str(
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "rate_task", "arguments": [1, 2]}})
        .to_string(),
    );
    input.push('\n');
    // A line that is not JSON at all.
    input.push_str("this is not json\n");
    // The server still answers afterwards.
    input.push_str(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}).to_string());
    input.push('\n');
    input.push_str(
        &call(
            4,
            "select_model",
            json!({"complexity": "complex", "task": "x"}),
        )
        .to_string(),
    );
    input.push('\n');
    let s = session_raw(home.path(), &input);
    let unknown = &s.by_id[&1]["error"];
    assert_eq!(unknown["code"], -32602, "{unknown}");
    assert!(unknown["message"]
        .as_str()
        .unwrap()
        .contains("update_task_outcome"));
    assert!(s.by_id[&2]["error"].is_object(), "{}", s.by_id[&2]);
    assert_eq!(s.result(3)["tools"].as_array().unwrap().len(), 7);
    assert_eq!(s.ok(4).lines().next(), Some("claude-opus-4-5-20251101"));
    // The line that is not JSON got a parse error (it has no id to answer).
    assert_eq!(s.without_id.len(), 1, "{:?}", s.without_id);
    assert_eq!(s.without_id[0]["error"]["code"], -32700);
}

#[test]
fn a_corrupt_ledger_is_reported_and_left_untouched() {
    let home = fixture_home();
    let h = home.path();
    let truncated = fs::read(Path::new(FIX).join("edge-cases/dispatches.truncated.json")).unwrap();
    fs::write(h.join("logs/dispatches.json"), &truncated).unwrap();
    let s = session(
        h,
        &[call(
            1,
            "update_task_outcome",
            json!({"task_id": "dispatch-1", "outcome": "success"}),
        )],
    );
    let e = s.err(1);
    assert!(e.contains("dispatches.json"), "{e}");
    assert_eq!(truncated, fs::read(h.join("logs/dispatches.json")).unwrap());
}

#[test]
fn a_home_without_a_ledger_gets_an_error_naming_the_file() {
    let home = TempDir::new().unwrap();
    let s = session(
        home.path(),
        &[call(
            1,
            "rate_task",
            json!({"task_id": "dispatch-1", "outcome": "success"}),
        )],
    );
    let e = s.err(1);
    assert!(e.contains("dispatches.json"), "{e}");
    // No log file is made in a home that has no logs/ directory of its own.
    assert!(!home.path().join("logs/modelfit/modelfit.log").exists());
    assert!(!home.path().join("logs/modelfit/mcp.log").exists());
}

#[test]
fn hostile_strings_are_stored_as_text() {
    let home = fixture_home();
    let id = ids(home.path())[1].clone();
    let notes = format!(
        "\"quoted\" \\ back\nnew line \u{0} nul ünïcødé 🚀 {}",
        "x".repeat(200_000)
    );
    let s = session(
        home.path(),
        &[call(
            1,
            "update_task_outcome",
            json!({"task_id": id, "outcome": "success", "notes": notes}),
        )],
    );
    s.ok(1);
    assert_eq!(record(home.path(), &id)["outcome_notes"], notes);
}

/// The official Python SDK (`mcp` on PyPI) as the client: initialize,
/// tools/list with the seed's schemas, and a call of every tool.
#[test]
fn python_sdk_client_drives_every_tool() {
    let python = python_with_mcp();
    let home = learning_home();
    let out = StdCommand::new(&python)
        .arg("tests/mcp_client.py")
        .arg(env!("CARGO_BIN_EXE_modelfit"))
        .arg(home.path())
        .env("MODELFIT_NOW", NOW)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tests/mcp_client.py failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("all 7 tools called"), "{stdout}");
}

/// `MODELFIT_PYTHON`, else `.venv/bin/python`, else `python3`; it must import
/// `mcp`, or the test fails saying how to install it.
fn python_with_mcp() -> PathBuf {
    let candidate = std::env::var_os("MODELFIT_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
            venv.exists().then_some(venv)
        })
        .unwrap_or_else(|| PathBuf::from("python3"));
    let ok = StdCommand::new(&candidate)
        .args(["-c", "import mcp.client.stdio"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{} cannot import the MCP Python SDK. Install it with:\n  \
         python3 -m venv .venv && .venv/bin/pip install mcp==2.3.0\n\
         (or point MODELFIT_PYTHON at a Python that has it)",
        candidate.display()
    );
    candidate
}

/// A stand-in for the `claude` CLI: `mcp get` prints what was added (or
/// fails), `mcp add` / `mcp remove` record their arguments.
fn fake_claude(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let script = format!(
        r#"#!/bin/bash
state={state}
echo "$*" >> {calls}
case "$1 $2" in
  "mcp get") [ -f "$state" ] && cat "$state" || {{ echo "No MCP server found with name: $3" >&2; exit 1; }} ;;
  "mcp add") echo "$*" > "$state" ;;
  "mcp remove") rm -f "$state" ;;
esac
"#,
        state = dir.join("registered").display(),
        calls = dir.join("calls").display()
    );
    let path = bin.join("claude");
    fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn register(path_dirs: &str, args: &[&str]) -> std::process::Output {
    StdCommand::new("bash")
        .arg("hooks/register-mcp.sh")
        .args(args)
        .env("PATH", path_dirs)
        .env_remove("ORCHESTRATOR_HOME")
        .output()
        .unwrap()
}

#[test]
fn register_script_adds_the_server_once_at_user_scope() {
    let dir = TempDir::new().unwrap();
    let bin = env!("CARGO_BIN_EXE_modelfit");
    let home = dir.path().join("J");
    fs::create_dir_all(&home).unwrap();

    // No claude CLI: nothing to do, and it says so.
    let out = register("/usr/bin:/bin", &[bin]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no `claude` CLI"));

    let path = format!("{}:/usr/bin:/bin", fake_claude(dir.path()).display());
    let out = register(&path, &["--home", home.to_str().unwrap(), bin]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added = fs::read_to_string(dir.path().join("registered")).unwrap();
    assert_eq!(
        added.trim(),
        format!(
            "mcp add --transport stdio --env ORCHESTRATOR_HOME={} --scope user modelfit -- {bin} mcp",
            home.display()
        )
    );
    // Again: already there, not added twice.
    let out = register(&path, &["--home", home.to_str().unwrap(), bin]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("already registered"));
    let calls = fs::read_to_string(dir.path().join("calls")).unwrap();
    assert_eq!(calls.matches("mcp add").count(), 1, "{calls}");

    // Registered with another command: left alone unless --force.
    fs::write(
        dir.path().join("registered"),
        "modelfit: /old/modelfit mcp\n",
    )
    .unwrap();
    let out = register(&path, &[bin]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert!(fs::read_to_string(dir.path().join("registered"))
        .unwrap()
        .contains("/old/"));
    let out = register(&path, &["--force", bin]);
    assert!(out.status.success());
    let now = fs::read_to_string(dir.path().join("registered")).unwrap();
    assert!(
        now.contains(&format!("-- {bin} mcp")) && !now.contains("--env"),
        "{now}"
    );

    // --uninstall removes only a registration that runs this binary.
    let out = register(&path, &["--uninstall", "/other/modelfit"]);
    assert!(out.status.success());
    assert!(
        dir.path().join("registered").exists(),
        "removed another binary's entry"
    );
    let out = register(&path, &["--uninstall", bin]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed modelfit"));
    assert!(!dir.path().join("registered").exists());
}

#[test]
fn rate_task_without_an_id_names_the_task_to_ask_about_and_records_nothing() {
    let home = fixture_home();
    let before = std::fs::read(home.path().join("logs/dispatches.json")).unwrap();
    let s = session(home.path(), &[call(1, "rate_task", json!({}))]);
    assert!(s.ok(1).starts_with("Nothing to ask about"), "{}", s.ok(1));
    // Every level × family cell at 4 of 5, right at the target: the boundary
    // decisions of `rate --next` when no suggestion is open.
    let patterns: Vec<Value> = ["simple", "medium", "complex"]
        .iter()
        .flat_map(|l| {
            ["haiku", "sonnet", "opus"].map(|f| {
                json!({"complexity": l, "model_family": f, "success_rate": 0.8, "sample_size": 5, "information_size": 5.0})
            })
        })
        .collect();
    std::fs::write(
        home.path().join("logs/model-learning.json"),
        json!({"patterns": patterns, "suggestions": []}).to_string(),
    )
    .unwrap();
    let s = session(home.path(), &[call(1, "rate_task", json!({}))]);
    let text = s.ok(1);
    assert!(
        text.contains(": a verdict here moves the confidence of P("),
        "{text}"
    );
    assert!(text.contains("Nothing recorded"), "{text}");
    assert_eq!(
        std::fs::read(home.path().join("logs/dispatches.json")).unwrap(),
        before
    );
}
