//! Incremental reading of a Claude Code session transcript (JSONL): tokens
//! per API response, models, tool and API errors, interruptions, and the
//! files a task edited.
//!
//! # Accounting (hook reference §3.3 / §5.2)
//!
//! * Only top-level `type:"assistant"` lines with `message.usage` count.
//!   `progress` lines (`agent_progress` embeds the subagent's messages with
//!   their usage) are never counted: the subagent's own file is.
//! * One API response is written as one line per content block, each line
//!   repeating the usage. Lines are grouped by `message.id` + `requestId`
//!   (`message.id` alone when `requestId` is missing; a line with neither is
//!   a response of its own). Per group every kind is the **maximum** over
//!   its lines: the input and cache numbers repeat, and `output_tokens`
//!   grows from the streaming placeholder to the final figure (versions
//!   before 2.1.97 often never write the final figure).
//! * Internally every line adds only what it raises a group's maximum by, so
//!   a group split across two reads, or across two turns, is never counted
//!   twice (see [`OpenGroup`]).
//! * `<synthetic>` responses (local API error messages) have no tokens.
//! * The session's subagent files count: `<dir>/<session>/subagents/**/*.jsonl`
//!   (including `agent-acompact-*` compaction requests) and the legacy
//!   `<dir>/agent-*.jsonl` files whose lines carry this `sessionId`.
//! * Subagent files of versions before 2.1.97 under-report the output of the
//!   subagent's last request; the parent's Task result (`toolUseResult` with
//!   `agentId` and `usage`) holds the final figure for exactly that request.
//!   When its input and cache numbers equal those of the last response in
//!   `agent-<agentId>.jsonl`, that response's output becomes the larger of
//!   the two ([`Summary::subagent_output_correction`] says by how much).
//!
//! # Robustness
//!
//! Reading starts at a byte offset (seek, then read: the cost is the new
//! bytes, not the file) and stops after the last complete line, so a line
//! still being written is left for the next read; an offset inside a line
//! skips the rest of that line (it belongs to the stretch before). Malformed lines and lines
//! over [`MAX_LINE`] bytes are skipped and counted in
//! [`Summary::skipped_lines`]; invalid UTF-8 is replaced (U+FFFD) and the
//! line read; a field of an unexpected type reads as absent.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use memchr::memmem::Finder;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod corpus;
mod files;
mod lines;
mod resume;

use files::{find_subagent_files, first_line_session_matches, read_lines, seek_since};
use lines::{Content, Line};

/// At most this many open responses are carried from one read to the next.
const MAX_OPEN_GROUPS: usize = 64;

/// Lines longer than this (bytes) are skipped rather than held in memory.
pub const MAX_LINE: usize = 64 << 20;

/// A request whose input side (uncached input + cache writes + cache reads)
/// is above this many tokens is a long-context request: the models that
/// have a long-context price charge it for the whole request.
pub const LONG_CONTEXT_TOKENS: u64 = 200_000;

/// Token counts of the four kinds the API reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// Uncached input tokens.
    pub input: u64,
    /// Output tokens (max over a response's streamed lines).
    pub output: u64,
    /// Tokens written to the prompt cache.
    pub cache_creation: u64,
    /// Tokens read from the prompt cache.
    pub cache_read: u64,
    /// The part of `cache_creation` written with the 1-hour TTL (priced at
    /// 2× input instead of 1.25×). Not a fifth kind: [`Tokens::total`]
    /// leaves it out, and it is only serialized when non-zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_creation_1h: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Tokens {
    /// All four kinds added up (the ledger's `tokens_used`).
    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_creation + self.cache_read
    }

    /// Adds `other` kind by kind.
    pub fn add(&mut self, other: &Tokens) {
        self.input += other.input;
        self.output += other.output;
        self.cache_creation += other.cache_creation;
        self.cache_read += other.cache_read;
        self.cache_creation_1h += other.cache_creation_1h;
    }

    /// Kind-by-kind maximum of the two.
    fn max(&self, o: &Tokens) -> Tokens {
        Tokens {
            input: self.input.max(o.input),
            output: self.output.max(o.output),
            cache_creation: self.cache_creation.max(o.cache_creation),
            cache_read: self.cache_read.max(o.cache_read),
            cache_creation_1h: self.cache_creation_1h.max(o.cache_creation_1h),
        }
    }

    /// Kind-by-kind `self - o`, never below zero.
    fn minus(&self, o: &Tokens) -> Tokens {
        Tokens {
            input: self.input.saturating_sub(o.input),
            output: self.output.saturating_sub(o.output),
            cache_creation: self.cache_creation.saturating_sub(o.cache_creation),
            cache_read: self.cache_read.saturating_sub(o.cache_read),
            cache_creation_1h: self.cache_creation_1h.saturating_sub(o.cache_creation_1h),
        }
    }

    fn is_empty(&self) -> bool {
        self.total() == 0 && self.cache_creation_1h == 0
    }

    /// Input side of one request: uncached input, cache writes and cache
    /// reads (what the long-context threshold is measured on).
    pub fn input_side(&self) -> u64 {
        self.input + self.cache_creation + self.cache_read
    }
}

/// Responses a resumed session's transcript copied from an earlier session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Copied {
    /// Distinct responses copied.
    pub responses: u64,
    /// Their tokens (counted in the session they came from, not here).
    pub tokens: Tokens,
}

/// The last API response of a file as counted so far. Pass the previous
/// read's [`Summary::open_groups`] to [`summarize_resume`] so that lines of
/// the same response written after the previous read's end only add what
/// they raise the response's figures by (e.g. output growing 25 → 173).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenGroup {
    /// Grouping key: `message.id`, a NUL, then `requestId` (may be empty).
    pub key: String,
    /// Model of the response.
    pub model: String,
    /// Tokens counted for it so far.
    pub counted: Tokens,
}

/// What a stretch of transcript shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Tokens per model id (as in `message.model`; `<synthetic>` excluded).
    pub by_model: BTreeMap<String, Tokens>,
    /// Distinct API responses counted.
    pub responses: u64,
    /// `tool_result` blocks with `is_error: true`.
    pub tool_errors: u64,
    /// API error lines: `isApiErrorMessage` assistant lines (the error the
    /// user saw) plus `system`/`api_error` retry markers (counted again in
    /// `api_retries`). Final errors = `api_errors - api_retries`.
    pub api_errors: u64,
    /// `system`/`api_error` lines: retried requests (a retry may succeed).
    pub api_retries: u64,
    /// `[Request interrupted by user…]` markers.
    pub interrupted: bool,
    /// How many such markers.
    pub interruptions: u64,
    /// Paths given to Edit / Write / MultiEdit / NotebookEdit tool calls.
    pub files_touched: BTreeSet<String>,
    /// Byte offset just past the last complete line read (where the next read starts).
    pub end_offset: u64,
    /// Timestamp of the first and last line that counted (a response, a
    /// prompt, a tool error, an interruption, an API error), if any.
    pub first_timestamp: Option<String>,
    /// See `first_timestamp`.
    pub last_timestamp: Option<String>,
    /// Output tokens added from Task results over what subagent files showed.
    pub subagent_output_correction: u64,
    /// Subagents named by a Task result whose transcript file was not found:
    /// their spend is missing from the totals.
    pub missing_subagents: BTreeSet<String>,
    /// Subagent files read (besides the main transcript). Serialized lossily
    /// as strings, so a non-UTF-8 path never fails serialization.
    #[serde(serialize_with = "lossy_paths")]
    pub subagent_files: Vec<PathBuf>,
    /// Claude Code versions seen on counted responses.
    pub versions: BTreeSet<String>,
    /// True when a counted response came from a version before 2.1.97, whose
    /// transcripts may hold only a placeholder output figure: output is then
    /// a lower bound.
    pub output_lower_bound: bool,
    /// Lines that could not be read (malformed JSON, over [`MAX_LINE`]).
    pub skipped_lines: u64,
    /// The last response of each file read, to resume from (see [`OpenGroup`]).
    pub open_groups: Vec<OpenGroup>,
    /// The part of `by_model` from long-context requests (input side over
    /// [`LONG_CONTEXT_TOKENS`]), per model: priced at the long-context rate
    /// where the model has one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub long_context: BTreeMap<String, Tokens>,
    /// `/btw` (aside-question) replays left out: sidechain lines that copy an
    /// earlier response (same `message.id`) under a new `requestId`.
    pub replays_dropped: u64,
    /// Responses this transcript copied from the session it resumed, by that
    /// session's id: left out here, counted in the session they came from.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub copied_from: BTreeMap<String, Copied>,
    /// Subagents written inline in the main transcript (`isSidechain` lines
    /// with an `agentId`, Claude Code 2.0.x): counted, not missing.
    pub inline_subagents: BTreeSet<String>,
}

impl Summary {
    /// Tokens over all models.
    pub fn total(&self) -> Tokens {
        let mut t = Tokens::default();
        for v in self.by_model.values() {
            t.add(v);
        }
        t
    }

    /// Models used, most tokens first.
    pub fn models(&self) -> Vec<String> {
        let mut v: Vec<(&String, u64)> =
            self.by_model.iter().map(|(m, t)| (m, t.total())).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.into_iter().map(|(m, _)| m.clone()).collect()
    }

    /// Adds `o`'s counts into `self` (used to total per-turn summaries).
    pub fn merge(&mut self, o: &Summary) {
        for (m, t) in &o.by_model {
            self.by_model.entry(m.clone()).or_default().add(t);
        }
        self.responses += o.responses;
        self.tool_errors += o.tool_errors;
        self.api_errors += o.api_errors;
        self.api_retries += o.api_retries;
        self.interrupted |= o.interrupted;
        self.interruptions += o.interruptions;
        self.files_touched.extend(o.files_touched.iter().cloned());
        self.end_offset = self.end_offset.max(o.end_offset);
        self.first_timestamp = min_opt(self.first_timestamp.take(), o.first_timestamp.clone());
        self.last_timestamp = max_opt(self.last_timestamp.take(), o.last_timestamp.clone());
        self.subagent_output_correction += o.subagent_output_correction;
        self.missing_subagents
            .extend(o.missing_subagents.iter().cloned());
        for f in &o.subagent_files {
            if !self.subagent_files.contains(f) {
                self.subagent_files.push(f.clone());
            }
        }
        self.versions.extend(o.versions.iter().cloned());
        self.output_lower_bound |= o.output_lower_bound;
        self.skipped_lines += o.skipped_lines;
        for (m, t) in &o.long_context {
            self.long_context.entry(m.clone()).or_default().add(t);
        }
        self.replays_dropped += o.replays_dropped;
        for (sid, c) in &o.copied_from {
            let e = self.copied_from.entry(sid.clone()).or_default();
            e.responses += c.responses;
            e.tokens.add(&c.tokens);
        }
        self.inline_subagents
            .extend(o.inline_subagents.iter().cloned());
    }

    /// Tokens of `model` outside long-context requests.
    pub fn standard_tokens(&self, model: &str) -> Tokens {
        let all = self.by_model.get(model).copied().unwrap_or_default();
        match self.long_context.get(model) {
            Some(l) => all.minus(l),
            None => all,
        }
    }

    fn add_long(&mut self, model: &str, t: &Tokens) {
        if !t.is_empty() {
            self.long_context
                .entry(model.to_string())
                .or_default()
                .add(t);
        }
    }

    fn add_tokens(&mut self, model: &str, t: &Tokens) {
        if t.is_empty() && self.by_model.contains_key(model) {
            return;
        }
        match self.by_model.get_mut(model) {
            Some(v) => v.add(t),
            None => {
                self.by_model.insert(model.to_string(), *t);
            }
        }
    }

    fn saw(&mut self, ts: Option<&str>) {
        let Some(ts) = ts else { return };
        if self.first_timestamp.as_deref().is_none_or(|f| ts < f) {
            self.first_timestamp = Some(ts.to_string());
        }
        if self.last_timestamp.as_deref().is_none_or(|l| ts > l) {
            self.last_timestamp = Some(ts.to_string());
        }
    }
}

fn lossy_paths<S: serde::Serializer>(paths: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter().map(|p| p.to_string_lossy()))
}

fn min_opt(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b < a { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b > a { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// One turn of a session: from a human prompt to the next one.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Turn {
    /// 1-based; 0 is the stretch before the first prompt (only present when
    /// it has something to show).
    pub index: usize,
    /// The prompt's first line, cut at 80 characters (a slash command shows
    /// as `/name`).
    pub prompt: Option<String>,
    /// Timestamp of the prompt line.
    pub started: Option<String>,
    /// What the turn shows, subagent and compaction files included.
    pub summary: Summary,
}

/// A whole session, per turn and in total.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Session {
    /// The turns in order.
    pub turns: Vec<Turn>,
    /// Everything added up.
    pub total: Summary,
}

/// Reads `path` from byte `offset` to its last complete line, plus the
/// session's subagent files (`<session>/subagents/*.jsonl`) for lines
/// timestamped at or after `since` (ISO; all of them when `None`).
pub fn summarize(path: &Path, offset: u64, since: Option<&str>) -> Result<Summary> {
    summarize_resume(path, offset, since, &[])
}

/// [`summarize`], continuing the responses a previous read left open (its
/// [`Summary::open_groups`]), so consecutive reads add up to one full read.
pub fn summarize_resume(
    path: &Path,
    offset: u64,
    since: Option<&str>,
    open: &[OpenGroup],
) -> Result<Summary> {
    let since = match since {
        None => None,
        Some(s) => Some(Since::parse(s).ok_or_else(|| {
            Error::Invalid(format!(
                "`since` must be an ISO-8601 timestamp, got {s:?} (reading {})",
                path.display()
            ))
        })?),
    };
    let mut eng = Engine::new(since, false);
    for g in open {
        if let Some((m, _)) = g.key.split_once('\0').filter(|(m, _)| !m.is_empty()) {
            eng.by_msg.insert(m.into(), g.key.clone().into_boxed_str());
        }
        eng.groups.insert(
            g.key.clone().into_boxed_str(),
            Group {
                counted: g.counted,
                model: g.model.clone().into_boxed_str(),
                bucket: 0,
                day: [0; 10],
                sidechain: false,
            },
        );
    }
    eng.run(path, offset)?;
    let mut s = eng.buckets.pop().map(|b| b.summary).unwrap_or_default();
    // Groups handed in stay open (with their current figures) after this
    // read's own last groups: a read that saw no line of a response (only
    // tool results, say) must not forget it before its next line arrives.
    let mut out = std::mem::take(&mut eng.open_groups);
    for g in open {
        if out.iter().all(|o| o.key != g.key) {
            if let Some(cur) = eng.groups.get(g.key.as_str()) {
                out.push(OpenGroup {
                    key: g.key.clone(),
                    model: cur.model.to_string(),
                    counted: cur.counted,
                });
            }
        }
    }
    out.truncate(MAX_OPEN_GROUPS);
    s.open_groups = out;
    Ok(s)
}

/// Reads a whole session (main transcript plus subagent and compaction
/// files) and splits it into turns. A turn starts at a human prompt (hook
/// reference §3.5) or at a slash command that the model answered; subagent
/// lines go to the turn during which they were written (by timestamp).
///
/// A resumed session's transcript starts with a copy of the session it
/// resumed: those responses are left out (they are counted in the session
/// they came from) and reported in [`Summary::copied_from`].
pub fn read_session(path: &Path) -> Result<Session> {
    let mut eng = Engine::new(None, true);
    eng.fast_suffix = true;
    let (exclude, origins) = resume::copied_keys(path)?;
    eng.exclude = exclude;
    eng.origins = origins;
    eng.run(path, 0)?;
    let mut total = Summary::default();
    let mut turns = Vec::new();
    let buckets = std::mem::take(&mut eng.buckets);
    // A `/command` that got no answer (e.g. `/model`) is folded back into the
    // turn before it: it was a local command, not a task.
    let mut merged: Vec<Bucket> = Vec::new();
    for b in buckets {
        if b.command && b.summary.responses == 0 && b.summary.total().is_empty() {
            if let Some(prev) = merged.last_mut() {
                prev.summary.merge(&b.summary);
                continue;
            }
        }
        merged.push(b);
    }
    for (i, b) in merged.into_iter().enumerate() {
        total.merge(&b.summary);
        if i == 0 && b.prompt.is_none() && is_blank(&b.summary) {
            continue;
        }
        turns.push(Turn {
            index: 0,
            prompt: b.prompt,
            started: b.started,
            summary: b.summary,
        });
    }
    let first_is_prompt = turns.first().is_some_and(|t| t.prompt.is_some());
    for (i, t) in turns.iter_mut().enumerate() {
        t.index = if first_is_prompt { i + 1 } else { i };
    }
    total.open_groups = eng.open_groups;
    Ok(Session { turns, total })
}

/// What a quick pass over a main transcript alone shows (no subagents, no
/// turns): its response keys, the first one, the other session ids its lines
/// name, and its first and last timestamps.
struct KeyScan {
    keys: HashSet<Box<str>>,
    first_key: Option<Box<str>>,
    foreign_sessions: BTreeSet<String>,
    first_timestamp: Option<String>,
    last_timestamp: Option<String>,
}

fn key_scan(path: &Path) -> Result<KeyScan> {
    let mut eng = Engine::new(None, false);
    eng.main_only = true;
    eng.run(path, 0)?;
    let s = eng.buckets.pop().map(|b| b.summary).unwrap_or_default();
    // A `/btw` replay's own key too: a copy of it must be left out as well.
    let mut keys: HashSet<Box<str>> = eng.groups.into_keys().collect();
    keys.extend(eng.replay_keys);
    Ok(KeyScan {
        keys,
        first_key: eng.first_key,
        foreign_sessions: eng.foreign_sessions,
        first_timestamp: s.first_timestamp,
        last_timestamp: s.last_timestamp,
    })
}

/// One response of a session as counted (its figures after all its lines),
/// for totals across sessions.
#[derive(Debug, Clone)]
pub struct Response {
    /// Hash of `message.id` + `requestId` (the same response in two files has
    /// the same hash); `None` for a response with neither id.
    pub key: Option<u64>,
    /// Model id.
    pub model: std::sync::Arc<str>,
    /// Its tokens.
    pub tokens: Tokens,
    /// UTC day of its first line, `YYYY-MM-DD` (`None` without a timestamp).
    pub day: Option<[u8; 10]>,
}

impl Response {
    /// Is this a long-context request (input side over [`LONG_CONTEXT_TOKENS`])?
    pub fn long_context(&self) -> bool {
        self.tokens.input_side() > LONG_CONTEXT_TOKENS
    }
}

/// Hash of a response key, stable across processes and files.
fn key_hash(key: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// Reads a whole session (main transcript, subagent and compaction files)
/// without turns and without leaving out a resumed prefix (the corpus reader
/// decides ownership across sessions): its summary and each response.
pub fn read_responses(path: &Path) -> Result<(Summary, Vec<Response>)> {
    let mut eng = Engine::new(None, false);
    eng.unkeyed = Some(Vec::new());
    eng.fast_suffix = true;
    eng.run(path, 0)?;
    let mut s = eng.buckets.pop().map(|b| b.summary).unwrap_or_default();
    s.open_groups = Vec::new();
    let mut models: HashMap<Box<str>, std::sync::Arc<str>> = HashMap::new();
    let mut intern = |m: &str| -> std::sync::Arc<str> {
        if let Some(a) = models.get(m) {
            return a.clone();
        }
        let a: std::sync::Arc<str> = m.into();
        models.insert(m.into(), a.clone());
        a
    };
    let day = |d: [u8; 10]| (d != [0; 10]).then_some(d);
    let mut out = Vec::with_capacity(eng.groups.len());
    for (k, g) in &eng.groups {
        out.push(Response {
            key: Some(key_hash(k)),
            model: intern(&g.model),
            tokens: g.counted,
            day: day(g.day),
        });
    }
    for (m, t, d) in eng.unkeyed.take().unwrap_or_default() {
        out.push(Response {
            key: None,
            model: intern(&m),
            tokens: t,
            day: day(d),
        });
    }
    Ok((s, out))
}

fn is_blank(s: &Summary) -> bool {
    s.responses == 0
        && s.tool_errors == 0
        && s.api_errors == 0
        && s.interruptions == 0
        && s.files_touched.is_empty()
}

// ---------------------------------------------------------------------------
// The engine

struct Since {
    iso: String,
    at: DateTime<Utc>,
}

impl Since {
    fn parse(s: &str) -> Option<Since> {
        let at = crate::clock::parse(s)?;
        Some(Since {
            iso: crate::clock::iso(at),
            at,
        })
    }

    /// Is `ts` at or after this instant? Unparseable timestamps count as after
    /// (better counted than lost).
    fn admits(&self, ts: &str) -> bool {
        if is_canonical(ts) {
            return ts >= self.iso.as_str();
        }
        crate::clock::parse(ts).is_none_or(|t| t >= self.at)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, the form Claude Code and `clock::iso` write,
/// which orders correctly as a string.
fn is_canonical(ts: &str) -> bool {
    let b = ts.as_bytes();
    b.len() == 24 && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z'
}

struct Group {
    counted: Tokens,
    model: Box<str>,
    /// Bucket of the line that last raised the group (gets corrections).
    bucket: usize,
    /// UTC day of its first line (`YYYY-MM-DD`; zeros when unknown).
    day: [u8; 10],
    /// First seen on a sidechain line (a subagent, or a `/btw` replay).
    sidechain: bool,
}

/// The long-context part a response adds when its figures go from `old`
/// (`None`: new response) to `new` by `delta`: all of it the moment its input
/// side passes the threshold, then what it grows by.
fn long_part(old: Option<&Tokens>, new: &Tokens, delta: &Tokens) -> Option<Tokens> {
    if new.input_side() <= LONG_CONTEXT_TOKENS {
        return None;
    }
    match old {
        Some(o) if o.input_side() > LONG_CONTEXT_TOKENS => Some(*delta),
        _ => Some(*new),
    }
}

fn day_of(ts: Option<&str>) -> [u8; 10] {
    let mut d = [0u8; 10];
    if let Some(b) = ts.and_then(|t| t.as_bytes().get(..10)) {
        if b[4] == b'-' && b[7] == b'-' {
            d.copy_from_slice(b);
        }
    }
    d
}

struct Bucket {
    summary: Summary,
    prompt: Option<String>,
    started: Option<String>,
    command: bool,
}

impl Bucket {
    fn new(prompt: Option<String>, started: Option<String>, command: bool) -> Bucket {
        Bucket {
            summary: Summary::default(),
            prompt,
            started,
            command,
        }
    }
}

#[derive(PartialEq)]
enum FileKind {
    Main,
    Sub,
}

struct FileCtx {
    kind: FileKind,
    /// Legacy `agent-*.jsonl` beside the session: only lines of this session count.
    session_filter: Option<String>,
    last_key: Option<Box<str>>,
}

struct TaskResult {
    usage: Tokens,
}

struct Finders {
    usage: Finder<'static>,
    is_error: Finder<'static>,
    interrupted: Finder<'static>,
    api_error: Finder<'static>,
    api_error_msg: Finder<'static>,
    user: Finder<'static>,
    tool_result: Finder<'static>,
}

impl Finders {
    fn new() -> Finders {
        Finders {
            usage: Finder::new(b"\"usage\"").into_owned(),
            is_error: Finder::new(b"\"is_error\"").into_owned(),
            interrupted: Finder::new(INTERRUPT_MARKER.as_bytes()).into_owned(),
            api_error: Finder::new(b"api_error").into_owned(),
            api_error_msg: Finder::new(b"isApiErrorMessage").into_owned(),
            user: Finder::new(b"\"user\"").into_owned(),
            tool_result: Finder::new(b"\"tool_result\"").into_owned(),
        }
    }

    /// Could this line matter? Lines that cannot (hook/bash progress,
    /// snapshots, successful tool results, bookkeeping) are not parsed.
    fn relevant(&self, line: &[u8]) -> bool {
        self.usage.find(line).is_some()
            || self.is_error.find(line).is_some()
            || self.interrupted.find(line).is_some()
            || self.api_error.find(line).is_some()
            || self.api_error_msg.find(line).is_some()
            || (self.user.find(line).is_some() && self.tool_result.find(line).is_none())
    }
}

const INTERRUPT_MARKER: &str = "[Request interrupted by user";

/// A response with neither id: model, figures, day.
type Unkeyed = (Box<str>, Tokens, [u8; 10]);

struct Engine {
    since: Option<Since>,
    per_turn: bool,
    /// Read only the main transcript (the key scan of a resumed-from session).
    main_only: bool,
    /// `message.id` → key of the first response seen with it (`/btw` replays).
    by_msg: HashMap<Box<str>, Box<str>>,
    /// Keys of replays already counted in `replays_dropped`.
    replay_keys: HashSet<Box<str>>,
    /// Keys of responses copied from another session → index in `origins`.
    exclude: HashMap<Box<str>, usize>,
    /// Session ids the `exclude` keys came from.
    origins: Vec<String>,
    /// Copied responses met: key → (origin, figures).
    copied: HashMap<Box<str>, (usize, Tokens)>,
    /// `agentId`s of sidechain lines in the main transcript, with the key of
    /// each one's last response (for the Task-result correction).
    inline_last: BTreeMap<String, Box<str>>,
    /// Sidechain responses in the main transcript without an `agentId`.
    inline_anonymous: bool,
    /// Session ids named by main-transcript lines other than the file's own.
    foreign_sessions: BTreeSet<String>,
    /// The file's own session id (its stem).
    own_session: String,
    /// Responses with neither id, kept for corpus totals (model, figures, day).
    unkeyed: Option<Vec<Unkeyed>>,
    /// Key of the main transcript's first response.
    first_key: Option<Box<str>>,
    /// Name fast-mode responses (`usage.speed: "fast"`) `<model>-fast`, as
    /// ccusage does, so they are priced with the fast multiplier (`usage`
    /// only: the hook keeps the model id the ledger knows).
    fast_suffix: bool,
    groups: HashMap<Box<str>, Group>,
    buckets: Vec<Bucket>,
    tasks: HashMap<String, TaskResult>,
    task_agents: BTreeSet<String>,
    open_groups: Vec<OpenGroup>,
    finders: Finders,
    key: String,
}

impl Engine {
    fn new(since: Option<Since>, per_turn: bool) -> Engine {
        Engine {
            since,
            per_turn,
            main_only: false,
            by_msg: HashMap::new(),
            replay_keys: HashSet::new(),
            exclude: HashMap::new(),
            origins: Vec::new(),
            copied: HashMap::new(),
            inline_last: BTreeMap::new(),
            inline_anonymous: false,
            foreign_sessions: BTreeSet::new(),
            own_session: String::new(),
            unkeyed: None,
            first_key: None,
            fast_suffix: false,
            groups: HashMap::new(),
            buckets: vec![Bucket::new(None, None, false)],
            tasks: HashMap::new(),
            task_agents: BTreeSet::new(),
            open_groups: Vec::new(),
            finders: Finders::new(),
            key: String::new(),
        }
    }

    fn run(&mut self, path: &Path, offset: u64) -> Result<()> {
        let mut ctx = FileCtx {
            kind: FileKind::Main,
            session_filter: None,
            last_key: None,
        };
        self.own_session = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        let end = read_lines(path, offset, |line| self.line(line, &mut ctx))
            .map_err(|e| Error::io("cannot read transcript", path, e))?;
        let last = self.buckets.len() - 1;
        self.buckets[last].summary.end_offset = end;
        self.close_file(&ctx);
        // Subagents written inline (2.0.x): their last response gets the
        // Task result's final output like a subagent file's would.
        for (agent, key) in std::mem::take(&mut self.inline_last) {
            self.correct_from_task(&agent, &key);
            self.buckets[last].summary.inline_subagents.insert(agent);
        }
        self.tally_copied();
        if self.main_only {
            return Ok(());
        }

        let subs = find_subagent_files(path);
        let mut found_agents = BTreeSet::new();
        for sub in &subs {
            if let Some(a) = &sub.agent_id {
                found_agents.insert(a.clone());
            }
        }
        for sub in subs {
            if let Some(since) = &self.since {
                // A file last written before `since` has no line after it.
                if sub.modified.is_some_and(|m| m < since.at) {
                    continue;
                }
            }
            if let Some(sid) = &sub.legacy_session {
                if !first_line_session_matches(&sub.path, sid) {
                    continue;
                }
            }
            let mut ctx = FileCtx {
                kind: FileKind::Sub,
                session_filter: sub.legacy_session.clone(),
                last_key: None,
            };
            // A subagent file that vanished or cannot be read is left out; the
            // main transcript's figures still stand.
            // A long file (a resumed subagent) is entered near `since`, not read through.
            let start = self
                .since
                .as_ref()
                .map_or(0, |since| seek_since(&sub.path, since));
            if read_lines(&sub.path, start, |line| self.line(line, &mut ctx)).is_err() {
                continue;
            }
            let last = self.buckets.len() - 1;
            self.buckets[last]
                .summary
                .subagent_files
                .push(sub.path.clone());
            if let (Some(agent), Some(key)) = (&sub.agent_id, &ctx.last_key) {
                self.correct_from_task(agent, key);
            }
            self.close_file(&ctx);
        }
        let last = self.buckets.len() - 1;
        // Inline subagent lines without an `agentId` cannot be told apart:
        // then no agent is called missing (their spend was counted).
        let missing: BTreeSet<String> = if self.inline_anonymous {
            BTreeSet::new()
        } else {
            let inline = &self.buckets[last].summary.inline_subagents;
            self.task_agents
                .iter()
                .filter(|a| !found_agents.contains(*a) && !inline.contains(*a))
                .cloned()
                .collect()
        };
        // A resumed session's copied Task results name the agents of the
        // session it resumed: their files sit under that session, counted there.
        let missing = if missing.is_empty() {
            missing
        } else {
            files::agents_elsewhere(path, missing)
        };
        self.buckets[last].summary.missing_subagents.extend(missing);
        self.tally_copied();
        Ok(())
    }

    /// Moves the copied responses met so far into the summary, per origin.
    fn tally_copied(&mut self) {
        let last = self.buckets.len() - 1;
        for (_, (origin, t)) in self.copied.drain() {
            let Some(sid) = self.origins.get(origin) else {
                continue;
            };
            let e = self.buckets[last]
                .summary
                .copied_from
                .entry(sid.clone())
                .or_default();
            e.responses += 1;
            e.tokens.add(&t);
        }
    }

    /// Applies the parent's Task-result figure to the subagent's last response.
    fn correct_from_task(&mut self, agent: &str, key: &str) {
        let Some(task) = self.tasks.get(agent) else {
            return;
        };
        let Some(g) = self.groups.get_mut(key) else {
            return;
        };
        let u = &task.usage;
        let same_request = u.input == g.counted.input
            && u.cache_creation == g.counted.cache_creation
            && u.cache_read == g.counted.cache_read;
        if !same_request || u.output <= g.counted.output {
            return;
        }
        let extra = u.output - g.counted.output;
        g.counted.output = u.output;
        let add = Tokens {
            output: extra,
            ..Tokens::default()
        };
        let b = &mut self.buckets[g.bucket].summary;
        b.add_tokens(&g.model, &add);
        if g.counted.input_side() > LONG_CONTEXT_TOKENS {
            b.add_long(&g.model, &add);
        }
        b.subagent_output_correction += extra;
    }

    fn close_file(&mut self, ctx: &FileCtx) {
        if let Some(k) = &ctx.last_key {
            if let Some(g) = self.groups.get(k) {
                self.open_groups.push(OpenGroup {
                    key: k.to_string(),
                    model: g.model.to_string(),
                    counted: g.counted,
                });
            }
        }
    }

    fn line(&mut self, raw: Option<&[u8]>, ctx: &mut FileCtx) {
        let Some(raw) = raw else {
            self.skipped();
            return;
        };
        if raw.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        if !self.finders.relevant(raw) {
            return;
        }
        match serde_json::from_slice::<Line>(raw) {
            Ok(l) => self.handle(&l, ctx),
            Err(_) => {
                // Invalid UTF-8 inside a string fails the strict parse; the
                // rest of such a line is usually fine.
                if std::str::from_utf8(raw).is_err() {
                    let text = String::from_utf8_lossy(raw);
                    if let Ok(l) = serde_json::from_str::<Line>(&text) {
                        self.handle(&l, ctx);
                        return;
                    }
                }
                self.skipped();
            }
        }
    }

    fn skipped(&mut self) {
        let last = self.buckets.len() - 1;
        self.buckets[last].summary.skipped_lines += 1;
    }

    /// The bucket a line goes to.
    fn bucket_for(&self, ctx: &FileCtx, ts: Option<&str>) -> usize {
        let last = self.buckets.len() - 1;
        if !self.per_turn || ctx.kind == FileKind::Main {
            return last;
        }
        let Some(ts) = ts else { return last };
        // The last turn that started at or before `ts`.
        let n = self
            .buckets
            .partition_point(|b| b.started.as_deref().is_none_or(|s| s <= ts));
        n.saturating_sub(1)
    }

    fn handle(&mut self, l: &Line, ctx: &mut FileCtx) {
        let ts = l.timestamp.0.as_deref();
        if ctx.kind == FileKind::Sub {
            if let (Some(since), Some(ts)) = (&self.since, ts) {
                if !since.admits(ts) {
                    return;
                }
            }
            if let Some(sid) = &ctx.session_filter {
                if l.session_id.0.as_deref() != Some(sid.as_str()) {
                    return;
                }
            }
        }
        if ctx.kind == FileKind::Main {
            if let Some(sid) = l.session_id.0.as_deref() {
                if !sid.is_empty()
                    && sid != self.own_session
                    && !self.foreign_sessions.contains(sid)
                {
                    self.foreign_sessions.insert(sid.to_string());
                }
            }
        }
        match l.kind.0.as_deref() {
            Some("assistant") => self.assistant(l, ctx, ts),
            Some("user") => self.user(l, ctx, ts),
            Some("system") if l.subtype.0.as_deref() == Some("api_error") => {
                let b = self.bucket_for(ctx, ts);
                let s = &mut self.buckets[b].summary;
                s.api_errors += 1;
                s.api_retries += 1;
                s.saw(ts);
            }
            _ => {}
        }
    }

    fn assistant(&mut self, l: &Line, ctx: &mut FileCtx, ts: Option<&str>) {
        let b = self.bucket_for(ctx, ts);
        let Some(msg) = &l.message.0 else { return };
        if l.is_api_error.0 {
            let s = &mut self.buckets[b].summary;
            s.api_errors += 1;
            s.saw(ts);
        }
        if let Some(Content::Blocks(blocks)) = &msg.content {
            for blk in blocks.iter().filter_map(|b| b.0.as_ref()) {
                if blk.kind.0.as_deref() != Some("tool_use") {
                    continue;
                }
                if !matches!(
                    blk.name.0.as_deref(),
                    Some("Edit" | "Write" | "MultiEdit" | "NotebookEdit")
                ) {
                    continue;
                }
                if let Some(input) = &blk.input.0 {
                    for p in [&input.file_path.0, &input.notebook_path.0]
                        .into_iter()
                        .flatten()
                    {
                        if !p.is_empty() {
                            self.buckets[b].summary.files_touched.insert(p.to_string());
                        }
                    }
                }
            }
        }
        let model = msg.model.0.as_deref().unwrap_or("");
        if model == "<synthetic>" {
            return;
        }
        let Some(u) = &msg.usage.0 else { return };
        let tokens = u.tokens();
        let model = if model.is_empty() { "unknown" } else { model };
        let fast_name;
        let model = if self.fast_suffix && u.speed.0 && !model.ends_with("-fast") {
            fast_name = format!("{model}-fast");
            fast_name.as_str()
        } else {
            model
        };

        let msg_id = msg.id.0.as_deref().filter(|s| !s.is_empty());
        let req_id = l.request_id.0.as_deref().filter(|s| !s.is_empty());
        let s = &mut self.buckets[b].summary;
        s.saw(ts);
        if let Some(v) = l.version.0.as_deref() {
            if !s.versions.contains(v) {
                s.versions.insert(v.to_string());
            }
            if version_before(v, (2, 1, 97)) {
                s.output_lower_bound = true;
            }
        }
        let sidechain = l.is_sidechain.0;
        if msg_id.is_none() && req_id.is_none() {
            // Nothing to group by: a response of its own.
            s.responses += 1;
            s.add_tokens(model, &tokens);
            if tokens.input_side() > LONG_CONTEXT_TOKENS {
                s.add_long(model, &tokens);
            }
            if let Some(u) = &mut self.unkeyed {
                u.push((model.into(), tokens, day_of(ts)));
            }
            ctx.last_key = None;
            return;
        }
        self.key.clear();
        self.key.push_str(msg_id.unwrap_or(""));
        self.key.push('\0');
        self.key.push_str(req_id.unwrap_or(""));
        // (Before the copy check: a copied inline agent is not missing either.)
        if ctx.kind == FileKind::Main && sidechain {
            match l.agent_id.0.as_deref().filter(|a| !a.is_empty()) {
                Some(a) => {
                    self.inline_last
                        .insert(a.to_string(), self.key.clone().into_boxed_str());
                }
                None => self.inline_anonymous = true,
            }
        }
        // Copied from the session this one resumed: counted there.
        if let Some(&origin) = self.exclude.get(self.key.as_str()) {
            let e = self
                .copied
                .entry(self.key.clone().into_boxed_str())
                .or_insert((origin, Tokens::default()));
            e.1 = e.1.max(&tokens);
            return;
        }
        // A `/btw` replay: the same message under a new request id, on a
        // sidechain (either copy). It is the response it copies.
        if !self.groups.contains_key(self.key.as_str()) {
            if let Some(first) = msg_id.and_then(|m| self.by_msg.get(m)) {
                if self
                    .groups
                    .get(first)
                    .is_some_and(|g| sidechain || g.sidechain)
                {
                    if self.replay_keys.insert(self.key.clone().into_boxed_str()) {
                        self.buckets[b].summary.replays_dropped += 1;
                    }
                    self.key.clear();
                    self.key.push_str(first);
                }
            }
        }
        match self.groups.get_mut(self.key.as_str()) {
            Some(g) => {
                let new = g.counted.max(&tokens);
                let delta = new.minus(&g.counted);
                let long = long_part(Some(&g.counted), &new, &delta);
                g.counted = new;
                g.bucket = b;
                if !delta.is_empty() {
                    let m = g.model.clone();
                    let s = &mut self.buckets[b].summary;
                    s.add_tokens(&m, &delta);
                    if let Some(lt) = long {
                        s.add_long(&m, &lt);
                    }
                }
            }
            None => {
                let s = &mut self.buckets[b].summary;
                s.responses += 1;
                s.add_tokens(model, &tokens);
                if let Some(lt) = long_part(None, &tokens, &tokens) {
                    s.add_long(model, &lt);
                }
                let key: Box<str> = self.key.clone().into_boxed_str();
                if self.first_key.is_none() && ctx.kind == FileKind::Main {
                    self.first_key = Some(key.clone());
                }
                if let Some(m) = msg_id {
                    if !self.by_msg.contains_key(m) {
                        self.by_msg.insert(m.into(), key.clone());
                    }
                }
                self.groups.insert(
                    key,
                    Group {
                        counted: tokens,
                        model: model.into(),
                        bucket: b,
                        day: day_of(ts),
                        sidechain,
                    },
                );
            }
        }
        if ctx.last_key.as_deref() != Some(self.key.as_str()) {
            ctx.last_key = Some(self.key.clone().into_boxed_str());
        }
    }

    fn user(&mut self, l: &Line, ctx: &mut FileCtx, ts: Option<&str>) {
        let Some(msg) = &l.message.0 else { return };
        // Task results: remember the subagent's final request figures.
        if let Some(r) = &l.tool_use_result.0 {
            if let Some(agent) = r.agent_id.0.as_deref().filter(|a| !a.is_empty()) {
                self.task_agents.insert(agent.to_string());
                if let Some(u) = &r.usage.0 {
                    self.tasks
                        .insert(agent.to_string(), TaskResult { usage: u.tokens() });
                }
            }
        }
        let mut text: Option<Cow<str>> = None;
        let mut has_tool_result = false;
        let mut tool_errors = 0;
        let mut interruptions = 0;
        match &msg.content {
            Some(Content::Text(t)) => text = Some(Cow::Borrowed(t.as_ref())),
            Some(Content::Blocks(blocks)) => {
                for blk in blocks.iter().filter_map(|b| b.0.as_ref()) {
                    match blk.kind.0.as_deref() {
                        Some("tool_result") => {
                            has_tool_result = true;
                            if blk.is_error.0 {
                                tool_errors += 1;
                            }
                        }
                        Some("text") => {
                            let t = blk.text_str();
                            if let Some(t) = &t {
                                if t.trim_start().starts_with(INTERRUPT_MARKER) {
                                    interruptions += 1;
                                }
                            }
                            if text.is_none() {
                                text = t;
                            }
                        }
                        _ => {}
                    }
                }
            }
            None => {}
        }
        if let Some(t) = &text {
            if interruptions == 0 && t.trim_start().starts_with(INTERRUPT_MARKER) {
                interruptions = 1;
            }
        }

        // A new turn?
        if self.per_turn && ctx.kind == FileKind::Main && !has_tool_result {
            if let Some(t) = &text {
                match prompt_kind(l, t) {
                    PromptKind::Human => {
                        self.buckets.push(Bucket::new(
                            Some(preview(t)),
                            ts.map(str::to_string),
                            false,
                        ));
                    }
                    PromptKind::Command(name) => {
                        self.buckets
                            .push(Bucket::new(Some(name), ts.map(str::to_string), true));
                    }
                    PromptKind::Not => {}
                }
            }
        }

        let b = self.bucket_for(ctx, ts);
        let s = &mut self.buckets[b].summary;
        if tool_errors > 0 || interruptions > 0 {
            s.saw(ts);
        }
        s.tool_errors += tool_errors;
        if interruptions > 0 {
            s.interrupted = true;
            s.interruptions += interruptions;
        }
    }
}

enum PromptKind {
    Human,
    Command(String),
    Not,
}

/// Hook reference §3.5: a human prompt is a user line with text that is not
/// meta, not a compaction summary, not a sidechain, not a command or
/// task-notification wrapper and not an interruption marker. A typed slash
/// command (`<command-name>`) is a tentative turn start: it becomes a turn if
/// the model answered it.
fn prompt_kind(l: &Line, text: &str) -> PromptKind {
    if l.is_meta.0 || l.is_compact_summary.0 || l.is_sidechain.0 {
        return PromptKind::Not;
    }
    if let Some(o) = &l.origin.0 {
        if o.kind.0.as_deref().is_some_and(|k| k != "human") {
            return PromptKind::Not;
        }
    }
    let t = text.trim_start();
    if t.starts_with("<command-") {
        return match between(t, "<command-name>", "</command-name>") {
            Some(name) => {
                let name = name.trim();
                let name = if name.starts_with('/') {
                    name.to_string()
                } else {
                    format!("/{name}")
                };
                PromptKind::Command(cut(&name, 80))
            }
            None => PromptKind::Not,
        };
    }
    if t.is_empty()
        || t.starts_with("<local-command-")
        || t.starts_with("<task-notification>")
        || t.starts_with(INTERRUPT_MARKER)
    {
        return PromptKind::Not;
    }
    PromptKind::Human
}

fn between<'t>(t: &'t str, open: &str, close: &str) -> Option<&'t str> {
    let a = t.find(open)? + open.len();
    let b = t[a..].find(close)? + a;
    Some(&t[a..b])
}

fn preview(t: &str) -> String {
    cut(t.trim().lines().next().unwrap_or(""), 80)
}

fn cut(t: &str, n: usize) -> String {
    let mut out: String = t.chars().take(n).collect();
    if t.chars().nth(n).is_some() {
        out.push('…');
    }
    out
}

/// `v` (e.g. "2.1.39") is older than `min`. Unparseable versions are not.
fn version_before(v: &str, min: (u64, u64, u64)) -> bool {
    let mut it = v.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u64>()
            .ok()
    });
    match (
        it.next().flatten(),
        it.next().flatten(),
        it.next().flatten(),
    ) {
        (Some(a), Some(b), Some(c)) => (a, b, c) < min,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::files::read_lines_max;
    use super::*;
    use serde_json::json;
    use std::io::Write;

    const OPUS: &str = "claude-opus-4-6";

    fn asst(msg: &str, req: Option<&str>, out: u64, ts: &str) -> String {
        let mut v = json!({
            "type": "assistant", "timestamp": ts, "version": "2.1.38", "sessionId": "s1",
            "message": {"model": OPUS, "id": msg, "type": "message", "role": "assistant",
                "content": [{"type": "text", "text": "hi\nthere"}],
                "usage": {"input_tokens": 3, "output_tokens": out,
                          "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1000}}
        });
        if let Some(r) = req {
            v["requestId"] = json!(r);
        }
        v.to_string()
    }

    fn prompt(text: &str, ts: &str) -> String {
        json!({"type": "user", "timestamp": ts, "sessionId": "s1",
               "message": {"role": "user", "content": text}})
        .to_string()
    }

    fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
        let p = dir.join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(&p, text).unwrap();
        p
    }

    fn fixture(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/claude-code/transcripts")
            .join(rel)
    }

    fn tok(input: u64, output: u64, cc: u64, cr: u64) -> Tokens {
        Tokens {
            input,
            output,
            cache_creation: cc,
            cache_read: cr,
            cache_creation_1h: 0,
        }
    }

    fn side(mut line: String, agent: Option<&str>) -> String {
        let mut v: serde_json::Value = serde_json::from_str(&line).unwrap();
        v["isSidechain"] = json!(true);
        if let Some(a) = agent {
            v["agentId"] = json!(a);
        }
        line = v.to_string();
        line
    }

    #[test]
    fn btw_replays_count_once_in_either_order_and_across_files() {
        let d = tempfile::tempdir().unwrap();
        let ts = "2026-02-10T21:00:00.000Z";
        let p = write(
            d.path(),
            "s1.jsonl",
            &[
                prompt("do it", ts),
                asst("msg_a", Some("req_a"), 13, ts),
                prompt("/btw why?", ts),
                side(asst("msg_a", Some("req_replay"), 13, ts), None),
                side(asst("msg_a", Some("req_replay"), 13, ts), None),
                side(asst("msg_aside", Some("req_aside"), 5, ts), None),
            ],
        );
        let s = summarize(&p, 0, None).unwrap();
        assert_eq!((s.responses, s.replays_dropped), (2, 1));
        assert_eq!(s.total().output, 18);
        // The replay first, the original after: still one response.
        let p = write(
            d.path(),
            "s2.jsonl",
            &[
                side(asst("msg_a", Some("req_replay"), 13, ts), None),
                asst("msg_a", Some("req_a"), 13, ts),
            ],
        );
        assert_eq!(summarize(&p, 0, None).unwrap().responses, 1);
        // Two non-sidechain lines with different request ids are two responses.
        let p = write(
            d.path(),
            "s3.jsonl",
            &[
                asst("msg_a", Some("req_a"), 13, ts),
                asst("msg_a", Some("req_b"), 13, ts),
            ],
        );
        assert_eq!(summarize(&p, 0, None).unwrap().responses, 2);
        // A replay in a side file of the session.
        let main = write(
            d.path(),
            "s4.jsonl",
            &[asst("msg_a", Some("req_a"), 13, ts)],
        );
        write(
            d.path(),
            "s4/subagents/agent-aside_question-1.jsonl",
            &[side(asst("msg_a", Some("req_r"), 13, ts), None)],
        );
        let s = summarize(&main, 0, None).unwrap();
        assert_eq!((s.responses, s.replays_dropped), (1, 1));
        // Across two incremental reads: the open group carries the message id.
        let first = summarize(&main, 0, None).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&main)
            .unwrap();
        writeln!(f, "{}", side(asst("msg_a", Some("req_r2"), 13, ts), None)).unwrap();
        let more = summarize_resume(&main, first.end_offset, Some(ts), &first.open_groups).unwrap();
        assert_eq!(more.responses, 0);
        assert_eq!(more.total(), Tokens::default());
    }

    #[test]
    fn inline_subagents_are_counted_and_not_missing() {
        let d = tempfile::tempdir().unwrap();
        let ts = "2026-02-10T21:00:00.000Z";
        let task = |agent: &str, out: u64| {
            json!({"type": "user", "timestamp": ts, "sessionId": "s1",
                   "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "done"}]},
                   "toolUseResult": {"status": "completed", "agentId": agent,
                       "usage": {"input_tokens": 3, "output_tokens": out,
                                 "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1000}}})
            .to_string()
        };
        let p = write(
            d.path(),
            "s1.jsonl",
            &[
                prompt("do it", ts),
                asst("msg_a", Some("req_a"), 13, ts),
                side(asst("msg_s1", Some("req_s1"), 40, ts), Some("abc1234")),
                side(asst("msg_s2", Some("req_s2"), 1, ts), Some("abc1234")),
                task("abc1234", 700),
                task("gone999", 5),
            ],
        );
        let s = summarize(&p, 0, None).unwrap();
        assert_eq!(s.responses, 3);
        // The placeholder output 1 of the inline agent's last request becomes 700.
        assert_eq!(s.total().output, 13 + 40 + 700);
        assert_eq!(s.subagent_output_correction, 699);
        assert_eq!(
            s.inline_subagents.iter().collect::<Vec<_>>(),
            vec!["abc1234"]
        );
        assert_eq!(
            s.missing_subagents.iter().collect::<Vec<_>>(),
            vec!["gone999"]
        );
    }

    #[test]
    fn long_context_requests_are_kept_apart_per_model() {
        let d = tempfile::tempdir().unwrap();
        let ts = "2026-02-10T21:00:00.000Z";
        let big = |msg: &str, cr: u64| {
            let mut v: serde_json::Value =
                serde_json::from_str(&asst(msg, Some(msg), 10, ts)).unwrap();
            v["message"]["usage"]["cache_read_input_tokens"] = json!(cr);
            v.to_string()
        };
        let p = write(
            d.path(),
            "s1.jsonl",
            &[
                big("m1", 150_000),
                big("m2", 250_000),
                big("m2", 250_000),
                big("m3", 199_897),
            ],
        );
        let s = summarize(&p, 0, None).unwrap();
        // m2 is over 200k (3 + 100 + 250 000); m3 is exactly 200 000: not over.
        let long = s.long_context[OPUS];
        assert_eq!(long, tok(3, 10, 100, 250_000));
        assert_eq!(s.standard_tokens(OPUS), tok(6, 20, 200, 349_897));
    }

    #[test]
    fn duplicate_lines_of_one_response_count_once() {
        let d = tempfile::tempdir().unwrap();
        let ts = "2026-02-10T21:00:00.000Z";
        let p = write(
            d.path(),
            "s1.jsonl",
            &[
                prompt("do it", ts),
                asst("msg_a", Some("req_a"), 13, ts),
                asst("msg_a", Some("req_a"), 13, ts),
                asst("msg_a", Some("req_a"), 13, ts),
                asst("msg_b", Some("req_b"), 7, ts),
            ],
        );
        let s = summarize(&p, 0, None).unwrap();
        assert_eq!(s.responses, 2);
        assert_eq!(s.total(), tok(6, 20, 200, 2000));
        assert_eq!(s.by_model.keys().collect::<Vec<_>>(), vec![OPUS]);
    }

    #[test]
    fn output_is_the_max_over_the_group_even_when_it_grows() {
        let d = tempfile::tempdir().unwrap();
        let ts = "2026-02-10T21:00:00.000Z";
        let p = write(
            d.path(),
            "s1.jsonl",
            &[
                asst("msg_a", Some("req_a"), 25, ts),
                asst("msg_a", Some("req_a"), 173, ts),
                asst("msg_a", Some("req_a"), 40, ts),
            ],
        );
        let s = summarize(&p, 0, None).unwrap();
        assert_eq!((s.responses, s.total().output), (1, 173));

        // The real group in the tool-heavy fixture: msg_019BN3FRqb7NU4DgBN5jdsym
        // has output_tokens 25 then 173 (jq -c 'select(.message.id=="msg_019BN3FRqb7NU4DgBN5jdsym")
        // | .message.usage.output_tokens'); all four responses: 27+1+11+173 = 212.
        // Every cache write there has the 1-hour TTL (ephemeral_1h_input_tokens).
        let s = summarize(
            &fixture("spotter-v2.1.38-tool-heavy/d6e0bada-1959-4eec-a9d2-0bfade768d8f.jsonl"),
            0,
            None,
        )
        .unwrap();
        assert_eq!(s.responses, 4);
        assert_eq!(
            s.total(),
            Tokens {
                cache_creation_1h: 17696,
                ..tok(54, 212, 17696, 88231)
            }
        );
    }

    #[test]
    fn request_id_missing_falls_back_to_message_id_and_keyless_lines_count_alone() {
        let d = tempfile::tempdir().unwrap();
        let ts = "2026-02-10T21:00:00.000Z";
        let mut keyless: serde_json::Value = serde_json::from_str(&asst("x", None, 5, ts)).unwrap();
        keyless["message"].as_object_mut().unwrap().remove("id");
        let p = write(
            d.path(),
            "s1.jsonl",
            &[
                asst("msg_a", None, 10, ts),
                asst("msg_a", None, 12, ts),
                keyless.to_string(),
                keyless.to_string(),
            ],
        );
        let s = summarize(&p, 0, None).unwrap();
        assert_eq!(s.responses, 3);
        assert_eq!(s.total().output, 12 + 5 + 5);
    }

    #[test]
    fn progress_copies_and_synthetic_responses_are_not_counted() {
        let d = tempfile::tempdir().unwrap();
        let ts = "2026-02-10T21:00:00.000Z";
        let inner: serde_json::Value =
            serde_json::from_str(&asst("msg_sub", Some("req_sub"), 99, ts)).unwrap();
        let progress = json!({"type": "progress", "timestamp": ts,
            "data": {"type": "agent_progress", "message": inner}})
        .to_string();
        let synthetic = json!({"type": "assistant", "timestamp": ts, "isApiErrorMessage": true,
            "error": "rate_limit",
            "message": {"model": "<synthetic>", "id": "m", "content": [{"type": "text", "text": "API Error"}],
                        "usage": {"input_tokens": 0, "output_tokens": 0}}})
        .to_string();
        let p = write(
            d.path(),
            "s1.jsonl",
            &[progress, synthetic, asst("msg_a", Some("r"), 1, ts)],
        );
        let s = summarize(&p, 0, None).unwrap();
        assert_eq!(s.responses, 1);
        assert_eq!(s.total(), tok(3, 1, 100, 1000));
        assert!(!s.by_model.contains_key("<synthetic>"));
        assert_eq!(s.api_errors, 1);
    }

    #[test]
    fn torn_last_line_is_left_for_the_next_read() {
        let d = tempfile::tempdir().unwrap();
        let ts = "2026-02-10T21:00:00.000Z";
        let p = d.path().join("s1.jsonl");
        let first = asst("msg_a", Some("r"), 5, ts) + "\n";
        let second = asst("msg_b", Some("r2"), 7, ts);
        let (head, tail) = second.split_at(40);
        std::fs::write(&p, format!("{first}{head}")).unwrap();
        let s = summarize(&p, 0, None).unwrap();
        assert_eq!((s.responses, s.total().output), (1, 5));
        assert_eq!(s.end_offset, first.len() as u64);
        assert_eq!(s.skipped_lines, 0);
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        writeln!(f, "{tail}").unwrap();
        let s2 = summarize_resume(&p, s.end_offset, None, &s.open_groups).unwrap();
        assert_eq!((s2.responses, s2.total().output), (1, 7));
        assert_eq!(s2.end_offset, std::fs::metadata(&p).unwrap().len());
        // Nothing new: nothing counted, offset unchanged.
        let s3 = summarize(&p, s2.end_offset, None).unwrap();
        assert_eq!((s3.responses, s3.end_offset), (0, s2.end_offset));
        // An offset past the end (file replaced) reads nothing and resets to the end.
        let s4 = summarize(&p, 1 << 40, None).unwrap();
        assert_eq!((s4.responses, s4.end_offset), (0, s2.end_offset));
    }

    #[test]
    fn an_offset_inside_a_line_skips_the_rest_of_that_line_quietly() {
        let d = tempfile::tempdir().unwrap();
        let ts = "2026-02-10T21:00:00.000Z";
        let a = asst("msg_a", Some("r"), 5, ts) + "\n";
        let b = asst("msg_b", Some("r2"), 7, ts) + "\n";
        let p = d.path().join("s1.jsonl");
        std::fs::write(&p, format!("{a}{b}")).unwrap();
        let s = summarize(&p, 10, None).unwrap();
        assert_eq!((s.responses, s.total().output, s.skipped_lines), (1, 7, 0));
        // At a boundary nothing is skipped.
        let s = summarize(&p, a.len() as u64, None).unwrap();
        assert_eq!((s.responses, s.total().output), (1, 7));
        // Inside the last line: nothing, and the end is the file's end.
        let s = summarize(&p, a.len() as u64 + 3, None).unwrap();
        assert_eq!((s.responses, s.end_offset), (0, (a.len() + b.len()) as u64));
    }

    /// Splitting a read at any line boundary and resuming with the open
    /// groups gives exactly the totals of one full read.
    #[test]
    fn resume_at_every_line_boundary_equals_one_full_read() {
        for rel in [
            "spotter-v2.1.38-tool-heavy/d6e0bada-1959-4eec-a9d2-0bfade768d8f.jsonl",
            "spotter-v2.1.38-short/55604662-cf2a-4331-851a-ec234028f8ca.jsonl",
            "spotter-v2.1.38-task-subagent/491e126e-1e71-469c-ade2-fcc8af567c74.jsonl",
        ] {
            let p = fixture(rel);
            let full = summarize(&p, 0, None).unwrap();
            let bytes = std::fs::read(&p).unwrap();
            let boundaries =
                std::iter::once(0).chain(memchr::memchr_iter(b'\n', &bytes).map(|i| i as u64 + 1));
            for k in boundaries {
                // Stop at k by reading a copy truncated there, as a live file would be.
                let d = tempfile::tempdir().unwrap();
                let q = d.path().join("t.jsonl");
                std::fs::write(&q, &bytes[..k as usize]).unwrap();
                let a = summarize(&q, 0, None).unwrap();
                assert_eq!(a.end_offset, k);
                std::fs::write(&q, &bytes).unwrap();
                let b = summarize_resume(&q, k, None, &a.open_groups).unwrap();
                let mut sum = a.clone();
                sum.merge(&b);
                assert_eq!(sum.by_model, full.by_model, "{rel} split at {k}");
                assert_eq!(sum.responses, full.responses, "{rel} split at {k}");
                assert_eq!(sum.tool_errors, full.tool_errors, "{rel} split at {k}");
                assert_eq!(sum.interruptions, full.interruptions, "{rel} split at {k}");
                assert_eq!(sum.files_touched, full.files_touched, "{rel} split at {k}");
            }
        }
    }

    /// Three reads, the middle one possibly without any line of the response
    /// that straddles it (only tool results): still one full read.
    #[test]
    fn resume_across_a_read_without_assistant_lines() {
        let p = fixture("spotter-v2.1.38-tool-heavy/d6e0bada-1959-4eec-a9d2-0bfade768d8f.jsonl");
        let full = summarize(&p, 0, None).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let cuts: Vec<usize> = memchr::memchr_iter(b'\n', &bytes).map(|i| i + 1).collect();
        let d = tempfile::tempdir().unwrap();
        let q = d.path().join("t.jsonl");
        for (i, &k1) in cuts.iter().enumerate() {
            for &k2 in &cuts[i..] {
                std::fs::write(&q, &bytes[..k1]).unwrap();
                let a = summarize(&q, 0, None).unwrap();
                std::fs::write(&q, &bytes[..k2]).unwrap();
                let b = summarize_resume(&q, a.end_offset, None, &a.open_groups).unwrap();
                std::fs::write(&q, &bytes).unwrap();
                let c = summarize_resume(&q, b.end_offset, None, &b.open_groups).unwrap();
                let mut sum = a.clone();
                sum.merge(&b);
                sum.merge(&c);
                assert_eq!(sum.by_model, full.by_model, "cuts {k1} {k2}");
                assert_eq!(sum.responses, full.responses, "cuts {k1} {k2}");
            }
        }
    }

    #[test]
    fn errors_interruptions_and_edited_files() {
        let s = summarize(
            &fixture("spotter-v2.1.38-short/55604662-cf2a-4331-851a-ec234028f8ca.jsonl"),
            0,
            None,
        )
        .unwrap();
        // Two parallel tool calls rejected by the user, then the marker.
        assert_eq!(
            (s.tool_errors, s.interruptions, s.interrupted),
            (2, 1, true)
        );
        let d = tempfile::tempdir().unwrap();
        let ts = "2026-02-10T21:00:00.000Z";
        let mut edit: serde_json::Value =
            serde_json::from_str(&asst("msg_e", Some("r"), 5, ts)).unwrap();
        edit["message"]["content"] = json!([
            {"type": "tool_use", "id": "t1", "name": "Edit", "input": {"file_path": "/w/a.rs"}},
            {"type": "tool_use", "id": "t2", "name": "Write", "input": {"file_path": "/w/b.rs"}},
            {"type": "tool_use", "id": "t3", "name": "MultiEdit", "input": {"file_path": "/w/a.rs"}},
            {"type": "tool_use", "id": "t4", "name": "NotebookEdit", "input": {"notebook_path": "/w/n.ipynb"}},
            {"type": "tool_use", "id": "t5", "name": "Read", "input": {"file_path": "/w/c.rs"}},
            {"type": "tool_use", "id": "t6", "name": "Edit", "input": {"file_path": 42}}
        ]);
        let api_retry = json!({"type": "system", "subtype": "api_error", "timestamp": ts,
            "retryAttempt": 1, "maxRetries": 10, "error": {"status": 529}})
        .to_string();
        let p = write(d.path(), "s1.jsonl", &[edit.to_string(), api_retry]);
        let s = summarize(&p, 0, None).unwrap();
        assert_eq!(
            s.files_touched
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            vec!["/w/a.rs", "/w/b.rs", "/w/n.ipynb"]
        );
        assert_eq!((s.api_errors, s.api_retries), (1, 1));
    }

    #[test]
    fn malformed_invalid_utf8_and_huge_lines() {
        let d = tempfile::tempdir().unwrap();
        let ts = "2026-02-10T21:00:00.000Z";
        let p = d.path().join("s1.jsonl");
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"{\"type\":\"assistant\",\"usage\": garbage\n");
        bytes.extend_from_slice(b"\n   \n");
        // Invalid UTF-8 inside a text block: the line still counts.
        let line = asst("msg_u", Some("r"), 4, ts).replace("hi\\nthere", "bad\u{1}");
        let line = line.replace('\u{1}', "\u{FFFD}");
        let cut = line.find('\u{FFFD}').unwrap();
        bytes.extend_from_slice(&line.as_bytes()[..cut]);
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(&line.as_bytes()[cut + 3..]);
        bytes.push(b'\n');
        // A 3 MiB line (grows the buffer), counted.
        let big = asst("msg_big", Some("r"), 9, ts).replace("hi\\nthere", &"x".repeat(3 << 20));
        bytes.extend_from_slice(big.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(b"[1,2,3]\n\"user\"\n");
        std::fs::write(&p, &bytes).unwrap();
        let s = summarize(&p, 0, None).unwrap();
        assert_eq!(s.responses, 2);
        assert_eq!(s.total().output, 13);
        assert_eq!(s.skipped_lines, 2, "garbage line and the bare string");

        // Over the limit: skipped, and the following lines still read.
        let mut seen = Vec::new();
        let end = read_lines_max(&p, 0, 1 << 20, |l| seen.push(l.map(|l| l.len()))).unwrap();
        assert_eq!(end, bytes.len() as u64);
        assert_eq!(seen.iter().filter(|l| l.is_none()).count(), 1);
        assert_eq!(seen.len(), 7);
    }

    #[test]
    fn subagent_files_count_since_filters_them_and_task_results_correct_output() {
        let d = tempfile::tempdir().unwrap();
        let t0 = "2026-02-12T16:00:00.000Z";
        let t1 = "2026-02-12T16:10:00.000Z";
        let task = json!({"type": "user", "timestamp": t1, "sessionId": "s1",
            "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "done"}]},
            "toolUseResult": {"status": "completed", "agentId": "a1", "usage": {
                "input_tokens": 3, "output_tokens": 500,
                "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1000}}})
        .to_string();
        let main = write(
            d.path(),
            "s1.jsonl",
            &[prompt("go", t0), asst("m0", Some("r0"), 2, t0), task],
        );
        write(
            d.path(),
            "s1/subagents/agent-a1.jsonl",
            &[
                asst("m1", Some("r1"), 1, t0),
                asst("m2", Some("r2"), 1, t1),
                asst("m2", Some("r2"), 1, t1),
            ],
        );
        write(
            d.path(),
            "s1/subagents/agent-acompact-ff.jsonl",
            &[asst("mc", Some("rc"), 8, t1)],
        );
        // Legacy layout: one file of this session, one of another.
        write(
            d.path(),
            "agent-old.jsonl",
            &[asst("ml", Some("rl"), 3, t1)],
        );
        let mut other: serde_json::Value =
            serde_json::from_str(&asst("mo", Some("ro"), 3, t1)).unwrap();
        other["sessionId"] = json!("other");
        write(d.path(), "agent-other.jsonl", &[other.to_string()]);

        let s = summarize(&main, 0, None).unwrap();
        // m0, m1, m2, mc, ml: 5 responses; m2's output 1 → 500 from the Task result.
        assert_eq!(s.responses, 5);
        assert_eq!(s.total().output, 2 + 1 + 500 + 8 + 3);
        assert_eq!(s.subagent_output_correction, 499);
        assert_eq!(s.subagent_files.len(), 3);
        assert!(s.missing_subagents.is_empty());

        // Since t1: the subagent line at t0 is left out; the main file is not filtered.
        let s = summarize(&main, 0, Some("2026-02-12T16:05:00Z")).unwrap();
        assert_eq!(s.responses, 4);

        // A Task result whose cache figures differ is a different request: no correction.
        let main2 = main.with_file_name("s2.jsonl");
        let text = std::fs::read_to_string(&main).unwrap().replace(
            "\"cache_read_input_tokens\":1000}}}",
            "\"cache_read_input_tokens\":7}}}",
        );
        std::fs::write(&main2, text).unwrap();
        let s2 = summarize(&main2, 0, None).unwrap();
        assert_eq!(s2.subagent_output_correction, 0);
        // a1's file is under s1, a session of the same folder (a resumed
        // session's copied Task result): counted there, not missing.
        assert!(s2.missing_subagents.is_empty());
        // In a folder of its own, a1 is missing.
        std::fs::create_dir_all(d.path().join("elsewhere")).unwrap();
        let main3 = d.path().join("elsewhere/s2.jsonl");
        std::fs::rename(&main2, &main3).unwrap();
        let s3 = summarize(&main3, 0, None).unwrap();
        assert_eq!(s3.missing_subagents.iter().collect::<Vec<_>>(), vec!["a1"]);

        assert!(summarize(&main, 0, Some("yesterday")).is_err());
    }

    #[test]
    fn a_long_subagent_file_is_entered_near_since_not_read_through() {
        let d = tempfile::tempdir().unwrap();
        let main = write(
            d.path(),
            "s1.jsonl",
            &[prompt("go", "2026-02-12T10:00:00.000Z")],
        );
        // ~6 MiB of old responses (one per second from 00:00), then two new ones.
        let mut lines = Vec::new();
        let mut i = 0u32;
        let pad = "y".repeat(2000);
        while lines.iter().map(|l: &String| l.len() + 1).sum::<usize>() < (6 << 20) {
            let ts = format!(
                "2026-02-12T{:02}:{:02}:{:02}.000Z",
                i / 3600,
                i / 60 % 60,
                i % 60
            );
            lines.push(asst(&format!("old{i}"), Some("r"), 1, &ts).replace("hi\\nthere", &pad));
            i += 1;
        }
        lines.push(asst("new1", Some("r"), 50, "2026-02-12T10:00:01.000Z"));
        lines.push(asst("new2", Some("r"), 60, "2026-02-12T10:00:02.000Z"));
        let sub = write(d.path(), "s1/subagents/agent-b.jsonl", &lines);
        let since = Since::parse("2026-02-12T10:00:00.000Z").unwrap();
        let start = seek_since(&sub, &since);
        let len = std::fs::metadata(&sub).unwrap().len();
        assert!(start > len / 2, "entered at {start} of {len}");
        let bytes = std::fs::read(&sub).unwrap();
        assert_eq!(bytes[start as usize - 1], b'\n');
        let s = summarize(&main, 0, Some("2026-02-12T10:00:00.000Z")).unwrap();
        assert_eq!((s.responses, s.total().output), (2, 110));
        // Without since: everything.
        let all = summarize(&main, 0, None).unwrap();
        assert_eq!(all.responses, i as u64 + 2);
        // A since before every line: from the start.
        let early = Since::parse("2026-02-11T00:00:00Z").unwrap();
        assert_eq!(seek_since(&sub, &early), 0);
    }

    #[test]
    fn turns_split_at_human_prompts_and_answered_commands() {
        let d = tempfile::tempdir().unwrap();
        let ts = |m: u32| format!("2026-02-12T16:{m:02}:00.000Z");
        let cmd = |name: &str, t: &str| {
            prompt(
                &format!("<command-name>/{name}</command-name>\n<command-message>{name}</command-message>"),
                t,
            )
        };
        let meta = json!({"type": "user", "isMeta": true, "timestamp": ts(1),
            "message": {"role": "user", "content": [{"type": "text", "text": "expanded"}]}})
        .to_string();
        let p = write(
            d.path(),
            "s1.jsonl",
            &[
                cmd("review", &ts(1)),
                meta,
                asst("m1", Some("r1"), 10, &ts(2)),
                cmd("model", &ts(3)),
                prompt(
                    "<local-command-stdout>Set model</local-command-stdout>",
                    &ts(3),
                ),
                prompt("fix the bug", &ts(4)),
                asst("m2", Some("r2"), 20, &ts(5)),
                prompt("<task-notification>done</task-notification>", &ts(6)),
                asst("m3", Some("r3"), 30, &ts(7)),
                prompt("[Request interrupted by user]", &ts(8)),
            ],
        );
        write(
            d.path(),
            "s1/subagents/agent-x.jsonl",
            &[asst("ms", Some("rs"), 40, &ts(5))],
        );
        let sess = read_session(&p).unwrap();
        let got: Vec<(usize, Option<&str>, u64)> = sess
            .turns
            .iter()
            .map(|t| (t.index, t.prompt.as_deref(), t.summary.total().output))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Some("/review"), 10),
                (2, Some("fix the bug"), 20 + 30 + 40)
            ]
        );
        assert_eq!(sess.turns[1].summary.interruptions, 1);
        assert_eq!(sess.total.total().output, 100);
        assert_eq!(sess.total.responses, 4);
    }

    #[test]
    fn fields_of_unexpected_types_read_as_absent() {
        let d = tempfile::tempdir().unwrap();
        let line = json!({"type": "assistant", "timestamp": 5, "requestId": ["x"],
            "isApiErrorMessage": "yes",
            "message": {"model": OPUS, "id": "m", "content": "plain string",
                "usage": {"input_tokens": "3", "output_tokens": 7.9, "cache_read_input_tokens": -4,
                          "cache_creation_input_tokens": null, "cache_creation": [1]}}})
        .to_string();
        let user = json!({"type": "user", "message": {"role": "user", "content": {"odd": 1}},
            "toolUseResult": "Error: Exit code 1"})
        .to_string();
        let p = write(
            d.path(),
            "s1.jsonl",
            &[line, user, "{\"message\": 7}".into()],
        );
        let s = summarize(&p, 0, None).unwrap();
        assert_eq!(s.responses, 1);
        assert_eq!(s.total(), tok(0, 7, 0, 0));
        assert_eq!((s.api_errors, s.skipped_lines), (0, 0));
    }

    #[test]
    fn versions_before_2_1_97_flag_output_as_a_lower_bound() {
        assert!(version_before("2.1.39", (2, 1, 97)));
        assert!(version_before("1.0.128", (2, 1, 97)));
        assert!(!version_before("2.1.97", (2, 1, 97)));
        assert!(!version_before("2.1.123", (2, 1, 97)));
        assert!(!version_before("dev", (2, 1, 97)));
    }

    #[test]
    fn summary_serializes_even_with_non_utf8_paths() {
        use std::os::unix::ffi::OsStrExt;
        let s = Summary {
            subagent_files: vec![PathBuf::from(std::ffi::OsStr::from_bytes(
                b"/t/\xffagent.jsonl",
            ))],
            ..Summary::default()
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["subagent_files"][0], "/t/\u{FFFD}agent.jsonl");
        // Tokens: the 1-hour part only appears when non-zero.
        assert!(v.to_string().contains("\"by_model\":{}"));
        let t = serde_json::to_value(Tokens::default()).unwrap();
        assert_eq!(t.as_object().unwrap().len(), 4);
    }

    #[test]
    fn missing_transcript_is_an_error_naming_the_file() {
        let e = summarize(Path::new("/nonexistent/s.jsonl"), 0, None).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/s.jsonl"), "{e}");
    }
}
