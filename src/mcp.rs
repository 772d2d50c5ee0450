//! The MCP server: modelfit's operations as Model Context Protocol tools on
//! stdio, for Claude Code and any other MCP client.
//!
//! The five tools of the seed keep its names and its input schemas exactly
//! (`update_task_outcome`, `analyze_model_performance`, `suggest_model_rules`,
//! `apply_model_suggestion`, `reject_model_suggestion`); `select_model` and
//! `rate_task` are modelfit's own. Every tool checks its arguments, calls the
//! same library function as the matching CLI command and turns the result into
//! text. Every failure (a bad argument, an unknown id, an unreadable file) is
//! a tool result with `isError: true` and a message the user can act on, never
//! a crash; only a call of a tool that does not exist is a JSON-RPC error, as
//! the protocol asks.
//!
//! The protocol itself (JSON-RPC framing, `initialize`, version negotiation)
//! is rmcp's. Stdout carries the protocol and nothing else: logs go to stderr
//! and to `logs/modelfit/mcp.log` (errors also to `modelfit.log`, which
//! `doctor` reads). The tokio runtime exists only inside
//! [`serve_stdio`], so nothing else in modelfit (the hook above all) ever
//! starts one.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, ServiceExt};
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::home::Home;
use crate::learn::{AnalyzeOptions, ReportFormat, SuggestOptions};
use crate::outcome::{Outcome, Source, Verdict};
use crate::rules::SelectInput;

/// The name of every tool, in the order `tools/list` gives them.
pub const TOOL_NAMES: [&str; 7] = [
    "update_task_outcome",
    "analyze_model_performance",
    "suggest_model_rules",
    "apply_model_suggestion",
    "reject_model_suggestion",
    "select_model",
    "rate_task",
];

/// The input schema of tool `name`, exactly as `tools/list` gives it. The
/// first five are the seed's schemas, character for character (including
/// `"type": "number"` for `tokens_used` and `min_sample_size`; the server
/// still insists on whole numbers there).
pub fn input_schema(name: &str) -> Option<Value> {
    Some(match name {
        "update_task_outcome" => json!({
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
        "analyze_model_performance" => json!({
            "type": "object",
            "properties": {
                "min_sample_size": { "type": "number", "default": 5 },
                "since_date": {
                    "type": "string",
                    "description": "ISO date, analyze only recent dispatches"
                }
            }
        }),
        "suggest_model_rules" => json!({
            "type": "object",
            "properties": {
                "min_confidence": { "type": "number", "default": 0.70 }
            }
        }),
        "apply_model_suggestion" => json!({
            "type": "object",
            "properties": {
                "suggestion_id": { "type": "string" }
            },
            "required": ["suggestion_id"]
        }),
        "reject_model_suggestion" => json!({
            "type": "object",
            "properties": {
                "suggestion_id": { "type": "string" },
                "reason": { "type": "string" }
            },
            "required": ["suggestion_id"]
        }),
        "select_model" => json!({
            "type": "object",
            "properties": {
                "complexity": {
                    "type": "string",
                    "enum": ["simple", "medium", "complex"],
                    "description": "The task's complexity, as the dispatcher classifies it"
                },
                "task": { "type": "string", "description": "The task text" },
                "estimated_files": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "How many files the task is expected to touch, if known"
                },
                "explore": {
                    "type": "boolean",
                    "description": "Sometimes pick an adjacent tier (at the exploration rate) and \
                                    record the choice, so learn can tell exploration from rules"
                }
            },
            "required": ["complexity", "task"]
        }),
        "rate_task" => json!({
            "type": "object",
            "properties": {
                "task_id": {
                    "type": "string",
                    "description": "Task ID from dispatch. Omit it to learn which unrated task a verdict matters most for (nothing is recorded then; ask the user about it and call again with its id)"
                },
                "outcome": {
                    "type": "string",
                    "enum": ["success", "failure", "partial"],
                    "description": "Did the task do what was asked? Required with task_id"
                },
                "notes": { "type": "string", "description": "Why, in a few words" },
                "cheaper_would_do": {
                    "type": "boolean",
                    "description": "A cheaper model would have done this task too (success or partial only)"
                },
                "complexity": {
                    "type": "string",
                    "description": "The task's complexity as you see it (simple, medium, complex, or a task_complexity level of models.json); stored with complexity_source \"person\""
                }
            },
            "required": []
        }),
        _ => return None,
    })
}

/// The tools `tools/list` offers: name, description, the input schema of
/// [`input_schema`] and hints about their effects.
pub fn tools() -> Vec<Tool> {
    TOOL_NAMES
        .iter()
        .map(|&name| {
            let (title, description, hints) = describe(name);
            let schema = match input_schema(name) {
                Some(Value::Object(m)) => m,
                _ => unreachable!("every listed tool has an object schema"),
            };
            let mut annotations = ToolAnnotations::with_title(title)
                .read_only(hints.read_only)
                .destructive(hints.destructive)
                .idempotent(hints.idempotent);
            annotations.open_world_hint = Some(false);
            Tool::new(name, description, schema)
                .with_title(title)
                .with_annotations(annotations)
        })
        .collect()
}

struct Hints {
    read_only: bool,
    destructive: bool,
    idempotent: bool,
}

fn describe(name: &str) -> (&'static str, &'static str, Hints) {
    let idempotent = true;
    match name {
        "update_task_outcome" => (
            "Record a task's outcome",
            "Record the outcome of a dispatched task. Writes outcome, \
             execution_time_seconds, tokens_used and outcome_notes on the record in \
             logs/dispatches.json as a person's verdict (outcome_source \"manual\"), the same \
             as `modelfit outcome`. The record's status is left to the orchestrator.",
            Hints {
                read_only: false,
                destructive: false,
                idempotent,
            },
        ),
        "analyze_model_performance" => (
            "Analyze model performance",
            "Analyze dispatch history and compute model success rates, per complexity × model \
             and keyword × model, with sample sizes and intervals; writes \
             logs/model-learning.json (the same as `modelfit learn analyze`).",
            Hints {
                read_only: false,
                destructive: false,
                idempotent,
            },
        ),
        "suggest_model_rules" => (
            "Suggest model rules",
            "Generate suggestions for models.json based on performance data, and return the \
             Markdown report with each open suggestion's id, reason and confidence (the same \
             as `modelfit learn suggest` then `modelfit learn report`). Run \
             analyze_model_performance first.",
            Hints {
                read_only: false,
                destructive: false,
                idempotent,
            },
        ),
        "apply_model_suggestion" => (
            "Apply a suggestion",
            "Apply an approved suggestion to models.json: backs up the file, writes the change, \
             logs it to logs/model-config-changes.log and marks the suggestion applied (the same \
             as `modelfit learn apply ID`). Refuses confidence below 0.70 and changes that \
             conflict with an existing rule; resolve those with the CLI. The answer ends with \
             the impact: the last 90 days' tasks the change would have moved under the router \
             in use (by kind, from → to, expected success and cost per success). To see it \
             without applying, use `modelfit learn apply ID --dry-run`.",
            Hints {
                read_only: false,
                destructive: true,
                idempotent: false,
            },
        ),
        "reject_model_suggestion" => (
            "Reject a suggestion",
            "Mark a suggestion as rejected to prevent re-surfacing (the same as \
             `modelfit learn reject ID --reason TEXT`).",
            Hints {
                read_only: false,
                destructive: false,
                idempotent,
            },
        ),
        "select_model" => (
            "Select a model",
            "The model id the rules of models.json give for a task: first matching rule, else \
             the complexity's model (the same as `modelfit select`). With explore, sometimes an \
             adjacent tier, and the choice is logged to logs/modelfit/selections.jsonl.",
            Hints {
                read_only: false,
                destructive: false,
                idempotent: false,
            },
        ),
        "rate_task" => (
            "Rate a task",
            "Give a person's verdict on a task (outcome_source \"human\", rated_at), the same \
             as `modelfit rate TASK_ID y|n|p [--cheaper-would-do]`. A person's verdict outranks \
             CI and the hooks. Call it only with the verdict the user gave. Without task_id it \
             records nothing and names the unrated task whose verdict would move a pending \
             learn decision most (`modelfit rate --next`).",
            Hints {
                read_only: false,
                destructive: false,
                idempotent,
            },
        ),
        _ => unreachable!("describe is called for listed tools only"),
    }
}

/// Runs tool `name` with `arguments` against `home`. `None` when no tool
/// has that name; otherwise the text of the result, or the message of the
/// error that becomes an `isError` result.
pub fn call(
    home: &Home,
    name: &str,
    arguments: &Map<String, Value>,
) -> Option<std::result::Result<String, String>> {
    let result = match name {
        "update_task_outcome" => update_task_outcome(home, arguments),
        "analyze_model_performance" => analyze_model_performance(home, arguments),
        "suggest_model_rules" => suggest_model_rules(home, arguments),
        "apply_model_suggestion" => apply_model_suggestion(home, arguments),
        "reject_model_suggestion" => reject_model_suggestion(home, arguments),
        "select_model" => select_model(home, arguments),
        "rate_task" => rate_task(home, arguments),
        _ => return None,
    };
    Some(result.map_err(|e| e.to_string()))
}

fn update_task_outcome(home: &Home, a: &Map<String, Value>) -> Result<String> {
    let args = Args::new("update_task_outcome", a)?;
    let task_id = args.id("task_id")?;
    let mut verdict = Verdict::new(args.outcome("outcome")?, Source::Manual);
    verdict.time_seconds = args.seconds("execution_time_seconds")?;
    verdict.tokens = args.whole("tokens_used", u64::MAX)?;
    verdict.notes = args.string("notes")?.as_deref().map(crate::signals::redact);
    let change = crate::outcome::set_outcome(home, &task_id, &verdict)?;
    Ok(format!("{task_id}:\n{}", change.describe()))
}

fn rate_task(home: &Home, a: &Map<String, Value>) -> Result<String> {
    let args = Args::new("rate_task", a)?;
    if args.get("task_id").is_none() {
        // No id: say which task to ask the user about; record nothing, since
        // the verdict must be the user's about a task they know.
        return Ok(match crate::explicit::next::next(home)? {
            Some(pick) => format!(
                "{}\nNothing recorded. Ask the user whether {} did what was asked, then call \
                 rate_task with task_id \"{}\" and their outcome.",
                pick.line, pick.id, pick.id
            ),
            None => "Nothing to ask about: no unrated task in the learn window bears on a pending \
                     learn decision. Give task_id to rate a task."
                .to_string(),
        });
    }
    let task_id = args.id("task_id")?;
    let outcome = args.outcome("outcome")?;
    let opts = crate::explicit::rate::RateOptions {
        notes: args.string("notes")?,
        cheaper_would_do: args.boolean("cheaper_would_do")?.unwrap_or(false),
        complexity: args.string("complexity")?,
    };
    let now = crate::clock::now_iso();
    let change = crate::explicit::rate::rate(home, &task_id, outcome, &opts, &now)?;
    Ok(format!("{task_id}:\n{}", change.describe()))
}

fn analyze_model_performance(home: &Home, a: &Map<String, Value>) -> Result<String> {
    let args = Args::new("analyze_model_performance", a)?;
    let mut opts = AnalyzeOptions::default();
    if let Some(n) = args.whole("min_sample_size", u64::from(u32::MAX))? {
        if n == 0 {
            return Err(args.bad("min_sample_size", "must be at least 1"));
        }
        opts.min_sample_size = n as u32;
    }
    if let Some(text) = args.string("since_date")? {
        opts.since = Some(crate::clock::parse(&text).ok_or_else(|| {
            args.bad(
                "since_date",
                &format!(
                    "must be an ISO date such as 2026-03-01 or 2026-03-01T00:00:00Z, not {text:?}"
                ),
            )
        })?);
    }
    let analysis = crate::learn::analyze(home, &opts)?;
    let json = serde_json::to_string_pretty(&analysis)
        .map_err(|e| Error::Invalid(format!("cannot render the analysis: {e}")))?;
    Ok(format!(
        "Analyzed {} dispatches into {} patterns, written to {}.\n{json}",
        analysis.total_dispatches,
        analysis.patterns.len(),
        home.learning().display()
    ))
}

fn suggest_model_rules(home: &Home, a: &Map<String, Value>) -> Result<String> {
    let args = Args::new("suggest_model_rules", a)?;
    let mut opts = SuggestOptions::default();
    if let Some(c) = args.number("min_confidence")? {
        if !(0.0..=1.0).contains(&c) {
            return Err(args.bad("min_confidence", "must be between 0 and 1 (e.g. 0.70)"));
        }
        opts.min_confidence = c;
    }
    crate::learn::suggest(home, &opts)?;
    crate::learn::report(home, ReportFormat::Markdown)
}

fn apply_model_suggestion(home: &Home, a: &Map<String, Value>) -> Result<String> {
    let args = Args::new("apply_model_suggestion", a)?;
    let id = args.id("suggestion_id")?;
    // Computed before the change (it routes with the models.json in force); a
    // suggestion the preview cannot read still applies, or fails with apply's message.
    let impact = crate::learn::impact::preview(home, &id)
        .map(|i| crate::learn::impact::markdown(&i))
        .unwrap_or_default();
    let applied = crate::learn::apply(home, &id, false)?;
    let mut out = format!(
        "Applied suggestion {}: {}\nThe previous models.json is saved as {}.",
        applied.id,
        applied.description,
        applied.backup.display()
    );
    for n in &applied.notes {
        let _ = write!(out, "\nNote: {n}");
    }
    if !impact.is_empty() {
        let _ = write!(out, "\n\n{impact}");
    }
    Ok(out)
}

fn reject_model_suggestion(home: &Home, a: &Map<String, Value>) -> Result<String> {
    let args = Args::new("reject_model_suggestion", a)?;
    let id = args.id("suggestion_id")?;
    let reason = args.string("reason")?;
    let rejected = crate::learn::reject(home, &id, reason.as_deref())?;
    let mut out = format!("Rejected suggestion {}", rejected.id);
    if let Some(r) = &rejected.reason {
        let _ = write!(out, " ({r})");
    }
    out.push_str("; it will not be suggested again.");
    Ok(out)
}

fn select_model(home: &Home, a: &Map<String, Value>) -> Result<String> {
    let args = Args::new("select_model", a)?;
    let complexity = args.required_string("complexity")?;
    if !matches!(complexity.as_str(), "simple" | "medium" | "complex") {
        return Err(args.bad(
            "complexity",
            &format!("must be simple, medium or complex, not {complexity:?}"),
        ));
    }
    let input = SelectInput {
        complexity,
        task: args.required_string("task")?,
        estimated_files: args
            .whole("estimated_files", u64::from(u32::MAX))?
            .map(|n| n as u32),
        explore: args.boolean("explore")?.unwrap_or(false),
    };
    let sel = crate::rules::select(home, &input)?;
    let mut out = sel.model.clone();
    if sel.explored {
        let _ = write!(
            out,
            "\nexplored: the rules give {} (this pick had probability {:.2})",
            sel.rule_model, sel.propensity
        );
    }
    match &sel.rule {
        Some((i, rule)) => {
            let _ = write!(
                out,
                "\nrule {i} of {} matched: if {} use {}",
                home.models().display(),
                rule.condition,
                rule.model
            );
        }
        None => {
            let _ = write!(
                out,
                "\nno rule matched; the model of complexity {:?}",
                input.complexity
            );
        }
    }
    for w in &sel.warnings {
        let _ = write!(out, "\nwarning: {w}");
    }
    Ok(out)
}

/// The arguments of one call, checked against what the tool accepts, with
/// messages that name the tool, the argument and what is expected.
struct Args<'a> {
    tool: &'static str,
    map: &'a Map<String, Value>,
}

impl<'a> Args<'a> {
    /// Refuses arguments the tool does not take: a misspelt optional argument
    /// would otherwise be ignored without a word.
    fn new(tool: &'static str, map: &'a Map<String, Value>) -> Result<Args<'a>> {
        let accepted: Vec<String> = match input_schema(tool) {
            Some(Value::Object(s)) => s
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let unknown: Vec<&String> = map.keys().filter(|k| !accepted.contains(k)).collect();
        if !unknown.is_empty() {
            let names: Vec<String> = unknown.iter().map(|k| format!("`{k}`")).collect();
            return Err(Error::Invalid(format!(
                "{tool}: unknown argument {}; it takes {}",
                names.join(", "),
                accepted
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(Args { tool, map })
    }

    fn bad(&self, key: &str, what: &str) -> Error {
        Error::Invalid(format!("{}: `{key}` {what}", self.tool))
    }

    /// The value, with JSON `null` taken as absent.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.bad(key, &format!("must be a string, not {}", kind(other)))),
        }
    }

    fn required_string(&self, key: &str) -> Result<String> {
        match self.string(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(self.bad(key, "must not be empty")),
            None => Err(self.bad(key, "is required")),
        }
    }

    /// An id: required, trimmed.
    fn id(&self, key: &str) -> Result<String> {
        Ok(self.required_string(key)?.trim().to_string())
    }

    fn outcome(&self, key: &str) -> Result<Outcome> {
        let text = self.required_string(key)?;
        text.parse().map_err(|_| {
            self.bad(
                key,
                &format!("must be success, failure or partial, not {text:?}"),
            )
        })
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => {
                Err(self.bad(key, &format!("must be true or false, not {}", kind(other))))
            }
        }
    }

    fn number(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(self.bad(key, "must be a finite number")),
            },
            Some(other) => Err(self.bad(key, &format!("must be a number, not {}", kind(other)))),
        }
    }

    fn seconds(&self, key: &str) -> Result<Option<f64>> {
        match self.number(key)? {
            Some(t) if t < 0.0 => Err(self.bad(
                key,
                &format!("must be a non-negative number of seconds, not {t}"),
            )),
            t => Ok(t),
        }
    }

    /// A whole number in `0..=max`; `15000.0` counts as whole.
    fn whole(&self, key: &str, max: u64) -> Result<Option<u64>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        if let Some(n) = v.as_u64() {
            if n <= max {
                return Ok(Some(n));
            }
        }
        match self.number(key)? {
            Some(x) if x >= 0.0 && x.fract() == 0.0 && x <= max as f64 => Ok(Some(x as u64)),
            Some(x) => Err(self.bad(
                key,
                &format!("must be a whole number from 0 to {max}, not {x}"),
            )),
            None => Ok(None),
        }
    }
}

/// How a JSON value is described in an error message.
fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            format!("the string {short:?}")
        }
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// The MCP server over one orchestrator home.
#[derive(Clone)]
struct Server {
    home: Home,
    tools: Arc<Vec<Tool>>,
    /// Tool calls run one at a time, in the order they arrived (tokio's
    /// mutex is fair), so a client that pipelines `analyze` then `suggest`
    /// gets them in that order. Pings and cancellations do not wait.
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("modelfit", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "modelfit learns which Claude model fits which kind of coding task, from the \
                 outcomes recorded in {}. Record outcomes with update_task_outcome or rate_task; \
                 run analyze_model_performance then suggest_model_rules to review suggestions; \
                 apply or reject them only on a person's decision.",
                self.home.ledger().display()
            ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        if !TOOL_NAMES.contains(&name.as_str()) {
            tracing::warn!("call of unknown tool {name:?}");
            return Err(ErrorData::invalid_params(
                format!(
                    "no tool named {name:?}; modelfit's tools are {}",
                    TOOL_NAMES.join(", ")
                ),
                None,
            ));
        }
        let arguments = request.arguments.unwrap_or_default();
        let home = self.home.clone();
        let _turn = self.turn.lock().await;
        let started = Instant::now();
        // The library blocks on files and on the ledger's lock: keep that off
        // the protocol loop, and turn a panic into an error result.
        let tool = name.clone();
        let outcome = tokio::task::spawn_blocking(move || call(&home, &tool, &arguments)).await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let result = match outcome {
            Ok(Some(Ok(text))) => {
                tracing::info!("{name}: ok in {ms:.1} ms");
                CallToolResult::success(vec![ContentBlock::text(text)])
            }
            Ok(Some(Err(message))) => {
                tracing::warn!("{name}: error in {ms:.1} ms: {message}");
                CallToolResult::error(vec![ContentBlock::text(message)])
            }
            Ok(None) => unreachable!("the name was checked above"),
            Err(e) => {
                let message = format!(
                    "{name} failed inside modelfit (a bug, please report it with the log \
                     {}): {e}",
                    self.home.log_file().display()
                );
                tracing::error!("{message}");
                CallToolResult::error(vec![ContentBlock::text(message)])
            }
        };
        Ok(result.into())
    }
}

/// Serves the tools on stdin/stdout until the client closes stdin, on a
/// current-thread tokio runtime built here and nowhere else. Logs go to
/// stderr and to `logs/modelfit/mcp.log`, errors also to the error log
/// `logs/modelfit/modelfit.log` (level: `MODELFIT_MCP_LOG`,
/// one of error, warn, info, debug, trace; default info).
pub fn serve_stdio(home: Home) -> Result<()> {
    install_logger(&home);
    tracing::info!(
        "modelfit {} MCP server on stdio, home {}",
        env!("CARGO_PKG_VERSION"),
        home.root().display()
    );
    if !home.ledger().exists() {
        tracing::warn!(
            "{} does not exist yet: the tools that read it will say so until the \
             orchestrator (or `modelfit hook`) writes it; pass --home or set ORCHESTRATOR_HOME \
             if this is the wrong home",
            home.ledger().display()
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start the MCP server's runtime: {e}")))?;
    let server = Server {
        home,
        tools: Arc::new(tools()),
        turn: Arc::new(tokio::sync::Mutex::new(())),
    };
    let result = runtime.block_on(async move {
        // rmcp talks to one end of an in-memory pipe; the line filter stands
        // between it and the real stdin/stdout, answering what rmcp would drop.
        let (server_side, filter_side) = tokio::io::duplex(1 << 20);
        let (from_server, to_server) = tokio::io::split(filter_side);
        let out = Arc::new(tokio::sync::Mutex::new(tokio::io::stdout()));
        let filter = tokio::spawn(crate::mcp_lines::filter(
            tokio::io::stdin(),
            to_server,
            out.clone(),
        ));
        let pump = tokio::spawn(crate::mcp_lines::pump(from_server, out));
        let running = server
            .serve(server_side)
            .await
            .map_err(|e| Error::Invalid(format!("MCP session did not start: {e}")))?;
        let ended = running
            .waiting()
            .await
            .map_err(|e| Error::Invalid(format!("MCP session ended abnormally: {e}")));
        // Every reply rmcp wrote reaches stdout before the process ends.
        let _ = pump.await;
        filter.abort();
        ended
    });
    match &result {
        Ok(reason) => tracing::info!("MCP session ended: {reason:?}"),
        Err(e) => tracing::error!("{e}"),
    }
    result.map(|_| ())
}

/// Where log lines go: stderr always, and `logs/modelfit/mcp.log` when the
/// home's `logs/` directory exists (a mistyped home gets no directories).
/// Errors also go to the error log `doctor` reads (`modelfit.log`), in its
/// `[time] message` form; informational lines never do.
struct Sink {
    file: Mutex<Option<File>>,
    errors: Option<Home>,
}

/// `logs/modelfit/mcp.log`: the MCP server's own log, apart from the error log.
pub fn mcp_log(home: &Home) -> std::path::PathBuf {
    home.state_dir().join("mcp.log")
}

/// Above this size the MCP log is cut to its newer half when the server starts.
const MCP_LOG_CAP: u64 = 4 << 20;

impl Sink {
    fn write(&self, line: &str, level: tracing::Level, message: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
        if let Ok(mut guard) = self.file.lock() {
            if let Some(f) = guard.as_mut() {
                // O_APPEND: one write per line keeps lines whole.
                let _ = f.write_all(format!("{line}\n").as_bytes());
            }
        }
        if level == tracing::Level::ERROR {
            if let Some(home) = &self.errors {
                crate::hook::log(home, &format!("mcp: {message}"));
            }
        }
    }
}

/// A minimal tracing subscriber: rmcp reports through `tracing`, and the
/// server's own lines go the same way. Spans are not recorded.
struct Logger {
    sink: Sink,
    max: tracing::Level,
    next_span: AtomicU64,
}

impl tracing::Subscriber for Logger {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        // rmcp's own info lines (every notification, the client's whole
        // capabilities) are noise at the default level: only its warnings.
        let max = if self.max == tracing::Level::INFO && !metadata.target().starts_with("modelfit")
        {
            tracing::Level::WARN
        } else {
            self.max
        };
        *metadata.level() <= max
    }

    fn new_span(&self, _span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _span: &tracing::span::Id, _values: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _span: &tracing::span::Id, _follows: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let target = if meta.target().starts_with("modelfit") {
            String::new()
        } else {
            format!("{}: ", meta.target())
        };
        let message = format!("{target}{}{}", fields.message, fields.rest);
        self.sink.write(
            &format!(
                "{} modelfit mcp[{}] {} {message}",
                // The wall clock, not MODELFIT_NOW: log lines say when things happened.
                crate::clock::iso(chrono::Utc::now()),
                std::process::id(),
                meta.level(),
            ),
            *meta.level(),
            &message,
        );
    }

    fn enter(&self, _span: &tracing::span::Id) {}

    fn exit(&self, _span: &tracing::span::Id) {}
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
}

fn install_logger(home: &Home) {
    let max = match std::env::var("MODELFIT_MCP_LOG")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "error" => tracing::Level::ERROR,
        "warn" => tracing::Level::WARN,
        "debug" => tracing::Level::DEBUG,
        "trace" => tracing::Level::TRACE,
        _ => tracing::Level::INFO,
    };
    let path = mcp_log(home);
    let file = if home.logs_dir().is_dir() {
        if std::fs::metadata(&path).is_ok_and(|m| m.len() > MCP_LOG_CAP) {
            if let Ok(bytes) = std::fs::read(&path) {
                let half = bytes.len() / 2;
                let cut = bytes[half..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(bytes.len(), |i| half + i + 1);
                let _ = crate::store::write_atomic(&path, &bytes[cut..]);
            }
        }
        std::fs::create_dir_all(home.state_dir())
            .and_then(|()| OpenOptions::new().create(true).append(true).open(&path))
            .map_err(|e| {
                eprintln!(
                    "modelfit mcp: cannot open {} ({e}); logging to stderr only",
                    path.display()
                )
            })
            .ok()
    } else {
        None
    };
    let logger = Logger {
        sink: Sink {
            errors: home.logs_dir().is_dir().then(|| home.clone()),
            file: Mutex::new(file),
        },
        max,
        next_span: AtomicU64::new(1),
    };
    // Fails only if a subscriber is already installed, which is harmless.
    let _ = tracing::subscriber::set_global_default(logger);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_tool_has_a_schema_and_the_args_it_checks() {
        for name in TOOL_NAMES {
            assert!(input_schema(name).is_some(), "{name}");
        }
        assert_eq!(tools().len(), TOOL_NAMES.len());
        assert!(input_schema("nope").is_none());
    }

    #[test]
    fn arguments_are_checked_with_messages_that_say_what_to_do() {
        let home = Home::at("/nonexistent-modelfit-home");
        let call = |name: &str, args: Value| {
            call(&home, name, args.as_object().unwrap())
                .unwrap()
                .unwrap_err()
        };
        let e = call("update_task_outcome", json!({"task_id": "x"}));
        assert_eq!(e, "update_task_outcome: `outcome` is required");
        let e = call(
            "update_task_outcome",
            json!({"task_id": "x", "outcome": "great"}),
        );
        assert!(e.contains("must be success, failure or partial"), "{e}");
        let e = call(
            "update_task_outcome",
            json!({"task_id": "x", "outcome": "success", "tokens_used": 1.5}),
        );
        assert!(e.contains("`tokens_used` must be a whole number"), "{e}");
        let e = call(
            "update_task_outcome",
            json!({"task_id": 7, "outcome": "success"}),
        );
        assert!(
            e.contains("`task_id` must be a string, not the number 7"),
            "{e}"
        );
        let e = call("suggest_model_rules", json!({"min_confidance": 0.8}));
        assert!(e.contains("unknown argument `min_confidance`"), "{e}");
        let e = call(
            "analyze_model_performance",
            json!({"since_date": "last week"}),
        );
        assert!(e.contains("must be an ISO date"), "{e}");
        assert!(super::call(&home, "nope", &Map::new()).is_none());
    }
}
