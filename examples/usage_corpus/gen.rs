//! A seeded corpus of Claude Code transcripts with a known truth, for the
//! accounting tests (`tests/usage_corpus.rs`) and the ccusage benchmark
//! (`bench/usage-corpus.sh`).
//!
//! Layout: `<out>/projects/<project>/<session>.jsonl`, subagent and
//! compaction files in `<session>/subagents/`, and `<out>/truth.json`: per
//! session the responses it owns, their tokens and their list-price cost.
//!
//! What the sessions hold, drawn per seed: several models; one response
//! written as 1–4 lines repeating its usage (before 2.1.97 the output on all
//! but the last line is a streaming placeholder; on 2.1.63 some responses
//! lack `requestId`); tool results, some failed; 1-hour cache writes;
//! fast-mode Opus 4.6 responses (6× the price);
//! long-context requests (input side over 200k) on models with and without
//! a long-context price; `/btw` replays (sidechain copies of an earlier
//! response under a new `requestId`, inline or in a side file) followed by
//! the aside's own answer; subagents in files (2.1.x) or inline in the main
//! transcript (2.0.x) with Task results, whose last request's output is a
//! placeholder in the transcript in old versions (the Task result has the
//! final figure: the truth); `agent_progress` copies (never counted);
//! compaction files; `<synthetic>` API errors; resumed sessions whose
//! transcript begins with a copy of the resumed one (timestamps kept,
//! `sessionId` kept or rewritten), whose copied responses belong to the
//! original session.
//!
//! The truth is computed here from what was generated, independently of
//! modelfit: list prices written out below, a long-context request priced
//! whole at the long-context rate.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};

/// splitmix64: small, seedable, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.next() as usize % v.len()]
    }
    pub fn hex(&mut self, n: usize) -> String {
        let mut s = String::new();
        while s.len() < n {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(n);
        s
    }
    pub fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-8{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }
}

/// List prices per MTok: input, output, long-context (input, output).
pub fn list_price(model: &str) -> (f64, f64, Option<(f64, f64)>) {
    match model {
        "claude-opus-4-6" | "claude-opus-4-5-20251101" => (5.0, 25.0, None),
        "claude-sonnet-4-6" => (3.0, 15.0, None),
        "claude-sonnet-4-5-20250929" | "claude-sonnet-4-20250514" => (3.0, 15.0, Some((6.0, 22.5))),
        "claude-haiku-4-5-20251001" => (1.0, 5.0, None),
        other => panic!("no list price for {other}"),
    }
}

const MODELS: [&str; 6] = [
    "claude-opus-4-6",
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001",
    "claude-sonnet-4-6",
    "claude-opus-4-5-20251101",
    "claude-sonnet-4-20250514",
];
const LONG_MODELS: [&str; 3] = [
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-6",
    "claude-sonnet-4-20250514",
];
const VERSIONS: [&str; 6] = ["2.0.21", "2.0.28", "2.1.39", "2.1.63", "2.1.120", "2.1.201"];

/// One response's usage.
#[derive(Clone, Copy, Default, Debug)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_creation: u64,
    pub cache_1h: u64,
    pub cache_read: u64,
    /// Fast mode (`speed: "fast"`): Opus 4.6 costs 6× then.
    pub fast: bool,
}

impl Usage {
    fn json(&self, output: u64) -> Value {
        json!({
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation - self.cache_1h,
                "ephemeral_1h_input_tokens": self.cache_1h
            },
            "output_tokens": output,
            "service_tier": "standard",
            "speed": if self.fast { "fast" } else { "standard" }
        })
    }
    /// List-price cost, a long-context request priced whole at the long rate.
    pub fn cost(&self, model: &str) -> f64 {
        let (i, o, long) = list_price(model);
        let side = self.input + self.cache_creation + self.cache_read;
        let (i, o) = match long {
            Some(l) if side > 200_000 => l,
            _ => (i, o),
        };
        let fast = if self.fast && model == "claude-opus-4-6" {
            6.0
        } else {
            1.0
        };
        fast * (self.input as f64 * i
            + self.output as f64 * o
            + (self.cache_creation - self.cache_1h) as f64 * i * 1.25
            + self.cache_1h as f64 * i * 2.0
            + self.cache_read as f64 * i * 0.1)
            / 1e6
    }
}

/// What one session owns.
#[derive(Clone, Debug, Default)]
pub struct Truth {
    pub session: String,
    pub project: String,
    pub responses: u64,
    pub input: u64,
    pub output: u64,
    pub cache_creation: u64,
    pub cache_read: u64,
    pub cost_usd: f64,
    /// What the session exercises (for the printed figures).
    pub features: Vec<&'static str>,
}

impl Truth {
    fn add(&mut self, model: &str, u: &Usage) {
        self.responses += 1;
        self.input += u.input;
        self.output += u.output;
        self.cache_creation += u.cache_creation;
        self.cache_read += u.cache_read;
        self.cost_usd += u.cost(model);
    }
    fn feature(&mut self, f: &'static str) {
        if !self.features.contains(&f) {
            self.features.push(f);
        }
    }
}

/// A response as written, for replays.
#[derive(Clone)]
struct Written {
    msg: String,
    model: &'static str,
    usage: Usage,
}

struct Session<'r> {
    rng: &'r mut Rng,
    sid: String,
    cwd: String,
    version: &'static str,
    /// Milliseconds since the epoch of the next line.
    clock: i64,
    main: Vec<String>,
    subs: BTreeMap<String, Vec<String>>,
    truth: Truth,
    written: Vec<Written>,
    pad: usize,
    last_uuid: Option<String>,
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl Session<'_> {
    fn old(&self) -> bool {
        let mut p = self.version.split('.').map(|x| x.parse::<u64>().unwrap());
        (p.next().unwrap(), p.next().unwrap(), p.next().unwrap()) < (2, 1, 97)
    }
    fn tick(&mut self, lo: i64, hi: i64) -> String {
        self.clock += self.rng.range(lo as u64, hi as u64) as i64;
        iso(self.clock)
    }
    fn text(&mut self) -> String {
        let n = self.rng.range(20, self.pad.max(21) as u64) as usize;
        let words = [
            "the", "test", "fails", "because", "parser", "reads", "offset", "file", "ok", "fix",
        ];
        let mut s = String::with_capacity(n + 8);
        while s.len() < n {
            s.push_str(self.rng.pick(&words));
            s.push(' ');
        }
        s
    }
    fn envelope(&mut self, kind: &str, sidechain: bool, agent: Option<&str>) -> Value {
        let uuid = self.rng.uuid();
        let ts = self.tick(200, 9000);
        let mut v = json!({
            "parentUuid": self.last_uuid, "isSidechain": sidechain, "userType": "external",
            "cwd": self.cwd, "sessionId": self.sid, "version": self.version, "gitBranch": "main",
            "type": kind, "uuid": uuid, "timestamp": ts
        });
        if let Some(a) = agent {
            v["agentId"] = json!(a);
        }
        self.last_uuid = Some(uuid);
        v
    }
    fn usage(&mut self, long: bool) -> Usage {
        let cache_creation = if self.rng.chance(0.6) {
            self.rng.range(0, 30_000)
        } else {
            0
        };
        let cache_1h = if self.rng.chance(0.3) {
            cache_creation
        } else {
            0
        };
        let cache_read = if long {
            self.rng.range(205_000, 700_000)
        } else {
            self.rng.range(0, 150_000)
        };
        Usage {
            input: self.rng.range(1, 60)
                + if self.rng.chance(0.1) {
                    self.rng.range(100, 5000)
                } else {
                    0
                },
            output: self.rng.range(1, 4000),
            cache_creation,
            cache_1h,
            cache_read,
            fast: false,
        }
    }
    /// Writes one response (1–4 lines) to `file` (None: main), counts it in
    /// the truth when `owned`. `placeholder_all`: every line shows a
    /// placeholder output (the transcript never has the final figure).
    #[allow(clippy::too_many_arguments)]
    fn response(
        &mut self,
        file: Option<&str>,
        model: &'static str,
        usage: Usage,
        sidechain: bool,
        agent: Option<&str>,
        msg: Option<String>,
        placeholder_all: bool,
    ) -> Written {
        let msg = msg.unwrap_or_else(|| format!("msg_01{}", self.rng.hex(22)));
        let with_req = !(self.version == "2.1.63" && self.rng.chance(0.3));
        let req = format!("req_01{}", self.rng.hex(22));
        let blocks = self.rng.range(1, 4);
        for b in 0..blocks {
            let last = b + 1 == blocks;
            let out = if placeholder_all || (!last && self.old()) {
                self.rng.range(1, 30).min(usage.output)
            } else {
                usage.output
            };
            let mut v = self.envelope("assistant", sidechain, agent);
            let content = if last && self.rng.chance(0.5) {
                json!([{"type": "tool_use", "id": format!("toolu_{}", self.rng.hex(20)), "name": self.rng.pick(&["Bash", "Read", "Edit", "Grep"]), "input": {"command": "ls", "file_path": "/tmp/x.rs"}}])
            } else {
                json!([{"type": "text", "text": self.text()}])
            };
            v["message"] = json!({
                "model": model, "id": msg, "type": "message", "role": "assistant",
                "content": content, "stop_reason": if last { json!("end_turn") } else { Value::Null },
                "stop_sequence": null, "usage": usage.json(out)
            });
            if with_req {
                v["requestId"] = json!(req);
            }
            self.push(file, v);
        }
        Written { msg, model, usage }
    }
    fn push(&mut self, file: Option<&str>, v: Value) {
        let line = v.to_string();
        match file {
            None => self.main.push(line),
            Some(f) => self.subs.entry(f.to_string()).or_default().push(line),
        }
    }
    fn user(&mut self, text: &str) {
        let mut v = self.envelope("user", false, None);
        v["message"] = json!({"role": "user", "content": text});
        self.push(None, v);
    }
    fn tool_result(&mut self, error: bool) {
        let mut v = self.envelope("user", false, None);
        let body = self.text();
        v["message"] = json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": format!("toolu_{}", self.rng.hex(20)), "content": body, "is_error": error}]});
        v["toolUseResult"] = json!({"stdout": "ok", "stderr": "", "interrupted": false});
        self.push(None, v);
    }
    fn model(&mut self, main: &'static str) -> &'static str {
        if self.rng.chance(0.15) {
            self.rng.pick(&MODELS)
        } else {
            main
        }
    }
    /// A counted main-transcript response.
    fn main_response(&mut self, model: &'static str) {
        let long = self.rng.chance(0.06);
        let model = if long {
            self.rng.pick(&LONG_MODELS)
        } else {
            model
        };
        if long {
            self.truth.feature("long-context");
        }
        let mut u = self.usage(long);
        if model == "claude-opus-4-6" && !self.old() && self.rng.chance(0.1) {
            u.fast = true;
            self.truth.feature("fast-mode");
        }
        let w = self.response(None, model, u, false, None, None, false);
        self.truth.add(model, &u);
        self.written.push(w);
    }
    /// `/btw`: sidechain copies of an earlier response under new request
    /// ids, then the aside's own answer (counted).
    fn btw(&mut self) {
        let Some(orig) = self.written.last().cloned() else {
            return;
        };
        let orig = if self.rng.chance(0.5) {
            orig
        } else {
            let i = self.rng.range(0, self.written.len() as u64 - 1) as usize;
            self.written[i].clone()
        };
        let file = if self.rng.chance(0.5) {
            None
        } else {
            Some(format!("agent-aside_question-{}", self.rng.hex(16)))
        };
        self.truth.feature("btw");
        self.user("/btw what does this function return?");
        let f = file.as_deref();
        for _ in 0..self.rng.range(1, 2) {
            self.response(
                f,
                orig.model,
                orig.usage,
                true,
                None,
                Some(orig.msg.clone()),
                false,
            );
        }
        let u = self.usage(false);
        self.response(f, orig.model, u, true, None, None, false);
        self.truth.add(orig.model, &u);
    }
    /// A subagent: in its own file (2.1.x) or inline (2.0.x), then the Task result.
    fn subagent(&mut self, model: &'static str) {
        let agent = self.rng.hex(7);
        let inline = self.version.starts_with("2.0.");
        let file = (!inline).then(|| format!("agent-{agent}"));
        self.truth.feature(if inline {
            "inline-subagent"
        } else {
            "file-subagent"
        });
        let n = self.rng.range(1, 5);
        let mut last = (Usage::default(), String::new());
        for i in 0..n {
            let u = self.usage(false);
            let placeholder = i + 1 == n && self.old() && self.rng.chance(0.6);
            if placeholder {
                self.truth.feature("placeholder-subagent");
            }
            let w = self.response(
                file.as_deref(),
                model,
                u,
                true,
                Some(&agent),
                None,
                placeholder,
            );
            self.truth.add(model, &u);
            if file.is_some() && self.rng.chance(0.5) {
                // agent_progress copy in the main transcript: never counted.
                let mut p = self.envelope("progress", false, None);
                p["data"] = json!({"type": "agent_progress", "agentId": agent, "message": {"type": "assistant", "message": {"model": model, "id": w.msg, "usage": u.json(u.output)}}});
                self.push(None, p);
            }
            last = (u, w.msg);
        }
        let mut v = self.envelope("user", false, None);
        let u = last.0;
        v["message"] = json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": format!("toolu_{}", self.rng.hex(20)), "content": [{"type": "text", "text": "done"}]}]});
        v["toolUseResult"] = json!({"status": "completed", "agentId": agent, "prompt": "look", "totalDurationMs": 1234,
            "totalTokens": u.input + u.output + u.cache_creation + u.cache_read, "totalToolUseCount": n,
            "usage": u.json(u.output), "content": [{"type": "text", "text": "done"}]});
        self.push(None, v);
    }
    fn synthetic_error(&mut self) {
        let mut v = self.envelope("assistant", false, None);
        v["isApiErrorMessage"] = json!(true);
        v["message"] = json!({"model": "<synthetic>", "id": self.rng.uuid(), "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "API Error: 529 overloaded"}],
            "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}});
        self.push(None, v);
    }
    fn compaction(&mut self, model: &'static str) {
        let f = format!("agent-acompact-{}", self.rng.hex(6));
        let u = self.usage(false);
        self.response(Some(&f), model, u, true, None, None, false);
        self.truth.add(model, &u);
        self.truth.feature("compaction");
    }
    fn turns(&mut self, n: u64) {
        let main_model = self.rng.pick(&MODELS);
        for _ in 0..n {
            let prompt = self.text();
            self.user(&prompt);
            for _ in 0..self.rng.range(1, 6) {
                let m = self.model(main_model);
                self.main_response(m);
                if self.rng.chance(0.7) {
                    let e = self.rng.chance(0.1);
                    self.tool_result(e);
                }
                if self.rng.chance(0.07) {
                    self.subagent(main_model);
                }
                if self.rng.chance(0.03) {
                    self.synthetic_error();
                }
            }
            if self.rng.chance(0.12) {
                self.btw();
            }
            if self.rng.chance(0.04) {
                self.compaction(main_model);
            }
        }
    }
    fn write(&self, dir: &Path) -> std::io::Result<u64> {
        let mut bytes = 0;
        std::fs::create_dir_all(dir)?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(
            dir.join(format!("{}.jsonl", self.sid)),
        )?);
        for l in &self.main {
            writeln!(f, "{l}")?;
            bytes += l.len() as u64 + 1;
        }
        f.flush()?;
        if !self.subs.is_empty() {
            let sd = dir.join(&self.sid).join("subagents");
            std::fs::create_dir_all(&sd)?;
            for (name, lines) in &self.subs {
                let mut f = std::io::BufWriter::new(std::fs::File::create(
                    sd.join(format!("{name}.jsonl")),
                )?);
                for l in lines {
                    writeln!(f, "{l}")?;
                    bytes += l.len() as u64 + 1;
                }
                f.flush()?;
            }
        }
        Ok(bytes)
    }
}

/// Writes a corpus of about `target_bytes` (at least `min_sessions`
/// sessions) under `out`; returns the truth per session (also written to
/// `out/truth.json`).
pub fn generate(
    out: &Path,
    seed: u64,
    target_bytes: u64,
    min_sessions: usize,
) -> std::io::Result<Vec<Truth>> {
    let mut rng = Rng::new(seed);
    let projects = ["-home-dev-api", "-home-dev-web", "-srv-work-tool"];
    // Average padding per text so the corpus reaches its size in ~60–80 sessions.
    let pad = ((target_bytes / 75 / 120) as usize).clamp(60, 6000);
    let mut truths: Vec<Truth> = Vec::new();
    let mut total = 0u64;
    let mut start = 1_767_225_600_000i64; // 2026-01-01
                                          // Finished sessions that a later one may resume: (project, main lines, id, end, truth index).
    let mut resumable: Vec<(String, Vec<String>, String, i64, usize)> = Vec::new();
    while total < target_bytes || truths.len() < min_sessions {
        start += rng.range(600_000, 30 * 3_600_000) as i64;
        let project = rng.pick(&projects).to_string();
        let sid = rng.uuid();
        let version = rng.pick(&VERSIONS);
        let mut s = Session {
            sid: sid.clone(),
            cwd: format!("/{}", project.trim_start_matches('-').replace('-', "/")),
            version,
            clock: start,
            main: Vec::new(),
            subs: BTreeMap::new(),
            truth: Truth {
                session: sid.clone(),
                project: project.clone(),
                ..Truth::default()
            },
            written: Vec::new(),
            pad,
            last_uuid: None,
            rng: &mut rng,
        };
        // Resume an earlier session of the same project now and then.
        let resumed = resumable.iter().rfind(|r| r.0 == project).cloned();
        let mut origin = None;
        if let Some((_, lines, from, end, idx)) = resumed.filter(|_| s.rng.chance(0.2)) {
            origin = Some(idx);
            let rewrite = s.rng.chance(0.5);
            for l in &lines {
                s.main.push(if rewrite {
                    l.replace(&from, &sid)
                } else {
                    l.clone()
                });
            }
            s.truth.feature("resumed");
            s.clock = s.clock.max(end) + 60_000;
        }
        let n = s.rng.range(1, 8);
        s.turns(n);
        let bytes = s.write(&out.join("projects").join(&project))?;
        total += bytes;
        resumable.push((
            project.clone(),
            s.main.clone(),
            sid.clone(),
            s.clock,
            truths.len(),
        ));
        truths.push(s.truth);
        if let Some(i) = origin {
            truths[i].feature("was-resumed");
        }
    }
    let v: Vec<Value> = truths
        .iter()
        .map(|t| {
            json!({"session": t.session, "project": t.project, "responses": t.responses,
            "input": t.input, "output": t.output, "cache_creation": t.cache_creation,
            "cache_read": t.cache_read, "cost_usd": t.cost_usd, "features": t.features})
        })
        .collect();
    std::fs::write(
        out.join("truth.json"),
        serde_json::to_string_pretty(&json!({"seed": seed, "bytes": total, "sessions": v}))?,
    )?;
    Ok(truths)
}
