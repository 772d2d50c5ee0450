//! The `models.json` rule grammar: parse, evaluate, edit; and `select`.
//!
//! # Grammar
//!
//! ```text
//! expr     := or
//! or       := and (("or" | "||") and)*
//! and      := unary (("and" | "&&") unary)*
//! unary    := ("not" | "!") unary | "(" expr ")" | cond
//! cond     := "task" "contains" STRING (("or" | "and") STRING)*
//!           | "task" "matches" /REGEX/
//!           | "estimated_files" CMP INTEGER
//!           | "complexity" ("==" | "!=") (STRING | WORD)
//!           | "keyword" ("==" | "!=") (STRING | WORD)
//! CMP      := ">" | ">=" | "<" | "<=" | "==" | "!="
//! STRING   := '…' | "…"          (backslash escapes the quote)
//! ```
//!
//! Words (`task`, `and`, …) are case-insensitive. `task contains 'a' or 'b'`
//! is the orchestrator's shorthand for "contains a, or contains b": an `or`
//! (or `and`) directly followed by a string continues the list of needles,
//! and the list binds tighter than the boolean operators
//! (`task contains 'a' or 'b' and estimated_files > 3` is
//! `(a or b) and files > 3`). One list uses one connective.
//!
//! # Matching
//!
//! `task contains 'x'` is case-insensitive and matches `x` **at the start of a
//! word**: `'design'` matches "Design", "designs", "design-system", but not
//! "Redesign"; `'api'` matches "API" and "apis" but not "rapid"; `'doc'`
//! matches "docstring". A needle that starts with a non-alphanumeric
//! character (`'.md'`) matches anywhere. This is what a person writing the
//! rule means; the orchestrator's own code does a plain substring search
//! (`Redesign` → complex), which `select` deliberately does not copy.
//! `task matches /re/` is a case-insensitive regular expression (Rust
//! `regex` syntax). `keyword == 'api'` is true when the orchestrator's
//! keyword labeller ([`crate::signals::keywords`]) finds that label.
//! `estimated_files …` is false when no file count is known.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::home::Home;

/// One `rules` entry: `{"if": "...", "use": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rule {
    /// The condition text, e.g. `task contains 'api' or 'endpoint'`.
    #[serde(rename = "if")]
    pub condition: String,
    /// A model id or alias (`opus`, `sonnet`, `haiku`).
    #[serde(rename = "use")]
    pub model: String,
}

/// What `select` chose and why.
#[derive(Debug, Clone, Serialize)]
pub struct Selection {
    /// The full model id to use.
    pub model: String,
    /// The rule that matched (its index and text), if one did.
    #[serde(serialize_with = "ser_matched")]
    pub rule: Option<(usize, Rule)>,
    /// True when exploration picked an adjacent tier instead of the rule's model.
    pub explored: bool,
    /// The model the rules (or the fallback) gave, before exploration.
    pub rule_model: String,
    /// Probability that the policy picks `model` for this input: `1 − ε` for
    /// the rule's model under exploration, `ε · q` for an explored arm, 1
    /// without exploration.
    pub propensity: f64,
    /// Problems found on the way (unparseable rules, a bad models.json, …),
    /// each quoting the offending text. The CLI prints them on stderr.
    pub warnings: Vec<String>,
}

fn ser_matched<S: serde::Serializer>(
    rule: &Option<(usize, Rule)>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match rule {
        None => s.serialize_none(),
        Some((i, r)) => {
            serde_json::json!({"index": i, "if": r.condition, "use": r.model}).serialize(s)
        }
    }
}

/// Inputs of `select`.
#[derive(Debug, Clone, Default)]
pub struct SelectInput {
    /// `simple`, `medium` or `complex`.
    pub complexity: String,
    /// The task text.
    pub task: String,
    /// Number of files the task is expected to touch, if known.
    pub estimated_files: Option<u32>,
    /// Explore adjacent tiers at the exploration rate.
    pub explore: bool,
}

// ---------------------------------------------------------------------------
// Known model ids

/// The orchestrator's built-in defaults per complexity (interop §9.2).
pub const DEFAULT_SIMPLE: &str = "claude-haiku-4-5-20251001";
/// Default for `medium` and for any unknown complexity.
pub const DEFAULT_MEDIUM: &str = "claude-sonnet-4-5-20250929";
/// Default for `complex`.
pub const DEFAULT_COMPLEX: &str = "claude-opus-4-5-20251101";

/// Claude model ids and aliases that modelfit accepts without a pricing.json
/// entry (current and recent models; `claude --model` accepts each).
pub const KNOWN_MODELS: &[&str] = &[
    "opus",
    "sonnet",
    "haiku",
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-opus-4-5",
    "claude-opus-4-5-20251101",
    "claude-sonnet-4-5",
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-1",
    "claude-opus-4-1-20250805",
    "claude-opus-4-0",
    "claude-opus-4-20250514",
    "claude-sonnet-4-0",
    "claude-sonnet-4-20250514",
    "claude-3-7-sonnet-latest",
    "claude-3-7-sonnet-20250219",
    "claude-3-5-haiku-latest",
    "claude-3-5-haiku-20241022",
];

/// The orchestrator's default id for a complexity level.
pub fn default_model(complexity: &str) -> &'static str {
    match complexity.trim().to_ascii_lowercase().as_str() {
        "simple" => DEFAULT_SIMPLE,
        "complex" => DEFAULT_COMPLEX,
        _ => DEFAULT_MEDIUM,
    }
}

/// The family (`haiku`, `sonnet`, `opus`) a model id or alias belongs to.
pub fn family(model: &str) -> Option<&'static str> {
    let m = model.to_ascii_lowercase();
    ["haiku", "sonnet", "opus"]
        .into_iter()
        .find(|f| m.contains(f))
}

/// Tier of a family: haiku 0 < sonnet 1 < opus 2.
fn tier(fam: &str) -> Option<usize> {
    ["haiku", "sonnet", "opus"].iter().position(|f| *f == fam)
}

fn is_alias(model: &str) -> bool {
    matches!(
        model.trim().to_ascii_lowercase().as_str(),
        "opus" | "sonnet" | "haiku"
    )
}

/// The model ids listed in `pricing.json` (`models` keys), in file order;
/// empty when the file is missing or unreadable.
pub fn pricing_ids(path: &Path) -> Vec<String> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v.get("models").and_then(Value::as_object).cloned())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// True when `model` is in pricing.json or in [`KNOWN_MODELS`].
pub fn is_known_model(home: &Home, model: &str) -> bool {
    let m = model.trim();
    KNOWN_MODELS.iter().any(|k| k.eq_ignore_ascii_case(m))
        || pricing_ids(&home.pricing()).iter().any(|k| k == m)
}

// ---------------------------------------------------------------------------
// Parsing

/// A rule condition that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based character column where the problem is.
    pub column: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Comparison operators of `estimated_files`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Cmp {
    fn holds(self, a: u64, b: u64) -> bool {
        match self {
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
        }
    }
}

/// A parsed condition.
#[derive(Debug, Clone)]
pub enum Expr {
    /// `task contains 'a' or 'b'` (`all` = joined by `and`). Needles lowercased.
    Contains {
        /// The needles.
        needles: Vec<String>,
        /// True for `'a' and 'b'` (every needle must match).
        all: bool,
    },
    /// `task matches /re/` (case-insensitive).
    Matches(regex::Regex),
    /// `estimated_files CMP N`.
    Files(Cmp, u64),
    /// `complexity == x` (`negated` for `!=`). Value lowercased.
    Complexity(String, bool),
    /// `keyword == x` (`negated` for `!=`). Value lowercased.
    Keyword(String, bool),
    /// `not e`.
    Not(Box<Expr>),
    /// `a and b`.
    And(Box<Expr>, Box<Expr>),
    /// `a or b`.
    Or(Box<Expr>, Box<Expr>),
}

/// What a condition is evaluated against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    /// The task text.
    pub task: &'a str,
    /// The complexity level.
    pub complexity: &'a str,
    /// Expected number of files, if known.
    pub estimated_files: Option<u32>,
}

impl Expr {
    /// Evaluates the condition.
    pub fn eval(&self, facts: &Facts) -> bool {
        self.eval_lowered(&facts.task.to_lowercase(), facts)
    }

    /// True for a test that costs no search through the task's text.
    fn is_cheap(&self) -> bool {
        matches!(self, Expr::Complexity(..) | Expr::Files(..))
    }

    /// [`Expr::eval`] with the task already lowercased (`task`), for a
    /// caller that evaluates many conditions on one task.
    pub fn eval_lowered(&self, task: &str, facts: &Facts) -> bool {
        match self {
            Expr::Contains { needles, all } => {
                if *all {
                    needles.iter().all(|n| contains_word_start(task, n))
                } else {
                    needles.iter().any(|n| contains_word_start(task, n))
                }
            }
            Expr::Matches(re) => re.is_match(facts.task),
            Expr::Files(cmp, n) => facts
                .estimated_files
                .is_some_and(|f| cmp.holds(u64::from(f), *n)),
            Expr::Complexity(v, neg) => {
                let c = facts.complexity.trim();
                let equal = if c.is_ascii() {
                    c.eq_ignore_ascii_case(v)
                } else {
                    c.to_lowercase() == *v
                };
                equal != *neg
            }
            Expr::Keyword(v, neg) => {
                crate::signals::keywords(facts.task).iter().any(|k| k == v) != *neg
            }
            Expr::Not(e) => !e.eval_lowered(task, facts),
            // The cheap side first: most rules pair a level with a search.
            Expr::And(a, b) if b.is_cheap() && !a.is_cheap() => {
                b.eval_lowered(task, facts) && a.eval_lowered(task, facts)
            }
            Expr::And(a, b) => a.eval_lowered(task, facts) && b.eval_lowered(task, facts),
            Expr::Or(a, b) => a.eval_lowered(task, facts) || b.eval_lowered(task, facts),
        }
    }

    /// The needles of every `task contains` in the condition (lowercased).
    pub fn needles(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_needles(&mut out);
        out
    }

    /// The complexity this condition requires (`complexity == x` at the top
    /// level or inside `and`s), if it requires one.
    pub fn required_complexity(&self) -> Option<&str> {
        match self {
            Expr::Complexity(v, false) => Some(v),
            Expr::And(a, b) => a.required_complexity().or_else(|| b.required_complexity()),
            _ => None,
        }
    }

    fn collect_needles(&self, out: &mut Vec<String>) {
        match self {
            Expr::Contains { needles, .. } => out.extend(needles.iter().cloned()),
            Expr::Keyword(v, false) => out.push(v.clone()),
            Expr::Not(_) => {}
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect_needles(out);
                b.collect_needles(out);
            }
            _ => {}
        }
    }
}

/// `needle` occurs in `hay` (both lowercase) at the start of a word.
fn contains_word_start(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let bounded = needle.chars().next().is_some_and(char::is_alphanumeric);
    let mut from = 0;
    // memmem: SIMD search; a match of valid UTF-8 in valid UTF-8 starts on a
    // character boundary, so its byte offset slices `hay` safely.
    while let Some(i) = memchr::memmem::find(&hay.as_bytes()[from..], needle.as_bytes()) {
        let at = from + i;
        if !bounded
            || hay[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric())
        {
            return true;
        }
        from = at + hay[at..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(u64),
    Regex(String),
    Op(&'static str),
    LParen,
    RParen,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) => write!(f, "`{w}`"),
            Tok::Str(s) => write!(f, "string '{s}'"),
            Tok::Num(n) => write!(f, "number {n}"),
            Tok::Regex(r) => write!(f, "regex /{r}/"),
            Tok::Op(o) => write!(f, "`{o}`"),
            Tok::LParen => f.write_str("`(`"),
            Tok::RParen => f.write_str("`)`"),
        }
    }
}

fn lex(text: &str) -> std::result::Result<Vec<(usize, Tok)>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |col: usize, msg: String| ParseError {
        column: col + 1,
        message: msg,
    };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push((start, Tok::LParen));
                i += 1;
            }
            ')' => {
                out.push((start, Tok::RParen));
                i += 1;
            }
            '\'' | '"' | '/' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            let what = if quote == '/' { "regex" } else { "string" };
                            return Err(err(
                                start,
                                format!("unterminated {what} (no closing {quote})"),
                            ));
                        }
                        Some('\\') if chars.get(i + 1) == Some(&quote) => {
                            s.push(quote);
                            i += 2;
                        }
                        Some('\\') if quote != '/' && chars.get(i + 1) == Some(&'\\') => {
                            s.push('\\');
                            i += 2;
                        }
                        Some(&ch) if ch == quote => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push((
                    start,
                    if quote == '/' {
                        Tok::Regex(s)
                    } else {
                        Tok::Str(s)
                    },
                ));
            }
            '>' | '<' | '=' | '!' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = match two.as_str() {
                    ">=" => ">=",
                    "<=" => "<=",
                    "==" => "==",
                    "!=" => "!=",
                    _ => match c {
                        '>' => ">",
                        '<' => "<",
                        '!' => "!",
                        _ => "=",
                    },
                };
                i += op.len();
                out.push((start, Tok::Op(op)));
            }
            '&' | '|' => {
                if chars.get(i + 1) == Some(&c) {
                    out.push((start, Tok::Op(if c == '&' { "&&" } else { "||" })));
                    i += 2;
                } else {
                    return Err(err(
                        start,
                        format!("unexpected `{c}` (did you mean `{c}{c}`?)"),
                    ));
                }
            }
            c if c.is_ascii_digit() => {
                while chars.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
                if chars.get(i).is_some_and(|c| c.is_alphabetic() || *c == '_') {
                    return Err(err(
                        i,
                        "a number must be followed by a space or an operator".into(),
                    ));
                }
                let s: String = chars[start..i].iter().collect();
                let n = s
                    .parse::<u64>()
                    .map_err(|_| err(start, format!("number {s} is too large")))?;
                out.push((start, Tok::Num(n)));
            }
            c if c.is_alphanumeric() || c == '_' => {
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                {
                    i += 1;
                }
                out.push((start, Tok::Word(chars[start..i].iter().collect())));
            }
            other => return Err(err(start, format!("unexpected character `{other}`"))),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn peek2(&self) -> Option<&Tok> {
        self.toks.get(self.pos + 1).map(|(_, t)| t)
    }

    fn col(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(c, _)| *c) + 1
    }

    fn fail<T>(&self, expected: &str) -> std::result::Result<T, ParseError> {
        let found = match self.peek() {
            Some(t) => t.to_string(),
            None => "the end of the condition".into(),
        };
        Err(ParseError {
            column: self.col(),
            message: format!("expected {expected}, found {found}"),
        })
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn is_op(&self, o: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(x)) if *x == o)
    }

    fn or(&mut self) -> std::result::Result<Expr, ParseError> {
        let mut left = self.and()?;
        while self.is_word("or") || self.is_op("||") {
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> std::result::Result<Expr, ParseError> {
        let mut left = self.unary()?;
        while self.is_word("and") || self.is_op("&&") {
            self.pos += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> std::result::Result<Expr, ParseError> {
        if self.is_word("not") || self.is_op("!") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.or()?;
            if self.peek() != Some(&Tok::RParen) {
                return self.fail("`)`");
            }
            self.pos += 1;
            return Ok(e);
        }
        self.cond()
    }

    fn cond(&mut self) -> std::result::Result<Expr, ParseError> {
        let subject = match self.peek() {
            Some(Tok::Word(w)) => w.to_ascii_lowercase(),
            _ => {
                return self.fail(
                    "a condition (`task contains`, `task matches`, `estimated_files`, \
                     `complexity`, `keyword`, `not` or `(`)",
                )
            }
        };
        match subject.as_str() {
            "task" => {
                self.pos += 1;
                if self.is_word("contains") {
                    self.pos += 1;
                    self.contains()
                } else if self.is_word("matches") {
                    self.pos += 1;
                    match self.peek().cloned() {
                        Some(Tok::Regex(r)) | Some(Tok::Str(r)) => {
                            let col = self.col();
                            let re = regex::RegexBuilder::new(&r)
                                .case_insensitive(true)
                                .size_limit(1 << 20)
                                .build()
                                .map_err(|e| ParseError {
                                    column: col,
                                    message: format!(
                                        "invalid regex /{r}/: {}",
                                        e.to_string().lines().last().unwrap_or("")
                                    ),
                                })?;
                            self.pos += 1;
                            Ok(Expr::Matches(re))
                        }
                        _ => self.fail("a regex like /api|endpoint/"),
                    }
                } else {
                    self.fail("`contains` or `matches` after `task`")
                }
            }
            "estimated_files" => {
                self.pos += 1;
                let cmp = match self.peek() {
                    Some(Tok::Op(">")) => Cmp::Gt,
                    Some(Tok::Op(">=")) => Cmp::Ge,
                    Some(Tok::Op("<")) => Cmp::Lt,
                    Some(Tok::Op("<=")) => Cmp::Le,
                    Some(Tok::Op("==")) => Cmp::Eq,
                    Some(Tok::Op("!=")) => Cmp::Ne,
                    _ => return self.fail("a comparison (>, >=, <, <=, ==, !=)"),
                };
                self.pos += 1;
                match self.peek() {
                    Some(Tok::Num(n)) => {
                        let n = *n;
                        self.pos += 1;
                        Ok(Expr::Files(cmp, n))
                    }
                    _ => self.fail("a whole number of files"),
                }
            }
            "complexity" | "keyword" => {
                self.pos += 1;
                let negated = if self.is_op("==") {
                    false
                } else if self.is_op("!=") {
                    true
                } else {
                    return self.fail(&format!("`==` or `!=` after `{subject}`"));
                };
                self.pos += 1;
                let value = match self.peek() {
                    Some(Tok::Str(s)) => s.clone(),
                    Some(Tok::Word(w))
                        if !["and", "or", "not"].contains(&w.to_ascii_lowercase().as_str()) =>
                    {
                        w.clone()
                    }
                    _ => return self.fail(&format!("a {subject} value (quoted or bare)")),
                };
                self.pos += 1;
                let value = value.trim().to_lowercase();
                Ok(if subject == "complexity" {
                    Expr::Complexity(value, negated)
                } else {
                    Expr::Keyword(value, negated)
                })
            }
            _ => self.fail(
                "a condition (`task contains`, `task matches`, `estimated_files`, \
                 `complexity`, `keyword`, `not` or `(`)",
            ),
        }
    }

    /// After `task contains`: STRING (("or"|"and") STRING)*, one connective kind.
    fn contains(&mut self) -> std::result::Result<Expr, ParseError> {
        let first = match self.peek() {
            Some(Tok::Str(s)) => s.to_lowercase(),
            _ => return self.fail("a quoted string after `contains`"),
        };
        self.pos += 1;
        let mut needles = vec![first];
        let mut all: Option<bool> = None;
        loop {
            let conj = if self.is_word("or") || self.is_op("||") {
                false
            } else if self.is_word("and") || self.is_op("&&") {
                true
            } else {
                break;
            };
            let Some(Tok::Str(s)) = self.peek2().cloned() else {
                break;
            };
            if all.is_some_and(|a| a != conj) {
                return Err(ParseError {
                    column: self.col(),
                    message: "mixing `or` and `and` in one list of strings is ambiguous; \
                              write e.g. `task contains 'a' or (task contains 'b' and task contains 'c')`"
                        .into(),
                });
            }
            all = Some(conj);
            needles.push(s.to_lowercase());
            self.pos += 2;
        }
        Ok(Expr::Contains {
            needles,
            all: all.unwrap_or(false),
        })
    }
}

/// Parses a rule condition.
pub fn parse(text: &str) -> std::result::Result<Expr, ParseError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end: text.chars().count(),
    };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return p.fail("`and`, `or` or the end of the condition");
    }
    Ok(e)
}

// ---------------------------------------------------------------------------
// models.json

/// The parts of models.json that routing reads, tolerant of every artifact
/// listed in interop §9.3.
#[derive(Debug, Clone, Default)]
pub struct Models {
    /// `task_complexity.<level>.model`, in file order (non-string models skipped).
    pub levels: Vec<(String, String)>,
    /// The `rules` entries: `Ok(rule)` or `Err(warning)` for each one that is not `{if, use}` strings.
    pub rules: Vec<std::result::Result<Rule, String>>,
    /// Problems found.
    pub warnings: Vec<String>,
}

impl Models {
    /// Reads models.json. `Ok(None)` when the file does not exist; a file
    /// that does not parse is an error the caller decides how to treat.
    pub fn load(path: &Path) -> Result<Option<Models>> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("cannot read", path, e)),
        };
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| Error::parse(path, &e))?;
        Ok(Some(Models::from_value(&v, path)))
    }

    /// Interprets a parsed models.json.
    pub fn from_value(v: &Value, path: &Path) -> Models {
        let mut m = Models::default();
        if let Some(tc) = v.get("task_complexity").and_then(Value::as_object) {
            for (level, body) in tc {
                match body.get("model") {
                    Some(Value::String(s)) if !s.trim().is_empty() => {
                        m.levels.push((level.clone(), s.trim().to_string()))
                    }
                    Some(other) => m.warnings.push(format!(
                        "{}: task_complexity.{level}.model is not a model id ({other}); ignored",
                        path.display()
                    )),
                    None => {}
                }
            }
        }
        match v.get("rules") {
            None | Some(Value::Null) => {}
            Some(Value::Array(rules)) => {
                for (i, r) in rules.iter().enumerate() {
                    let cond = r.get("if").and_then(Value::as_str);
                    let model = r.get("use").and_then(Value::as_str);
                    m.rules.push(match (cond, model) {
                        (Some(c), Some(u)) => Ok(Rule {
                            condition: c.to_string(),
                            model: u.to_string(),
                        }),
                        _ => Err(format!(
                            "{}: rules[{i}] is not {{\"if\": string, \"use\": string}}: {}; skipped",
                            path.display(),
                            compact(r)
                        )),
                    });
                }
            }
            Some(other) => m.warnings.push(format!(
                "{}: \"rules\" is not an array ({}); no rule applies",
                path.display(),
                compact(other)
            )),
        }
        m
    }

    /// The model of a complexity level, if the file sets one.
    pub fn level(&self, level: &str) -> Option<&str> {
        let l = level.trim().to_lowercase();
        self.levels
            .iter()
            .find(|(k, _)| k.to_lowercase() == l)
            .map(|(_, v)| v.as_str())
    }

    /// The fallback chain of interop §9.2: the level's model, medium's, the built-in default.
    pub fn fallback(&self, complexity: &str) -> String {
        self.level(complexity)
            .or_else(|| self.level("medium"))
            .unwrap_or(DEFAULT_MEDIUM)
            .to_string()
    }

    /// Resolves a rule's `use`: an alias becomes the id of the level whose
    /// model has that family, else the pricing.json id of that family, else a
    /// built-in current id; anything else is returned as written.
    pub fn resolve(&self, model: &str, pricing: &[String]) -> String {
        let m = model.trim();
        if !is_alias(m) {
            return m.to_string();
        }
        let fam = m.to_ascii_lowercase();
        if let Some((_, id)) = self.levels.iter().find(|(_, id)| family(id) == Some(&fam)) {
            return id.clone();
        }
        if let Some(id) = pricing.iter().find(|id| family(id) == Some(&fam)) {
            return id.clone();
        }
        match fam.as_str() {
            "haiku" => DEFAULT_SIMPLE,
            "opus" => DEFAULT_COMPLEX,
            _ => DEFAULT_MEDIUM,
        }
        .to_string()
    }
}

fn compact(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

// ---------------------------------------------------------------------------
// select

/// Evaluates models.json's rules for a task, first match wins, falling back to
/// the complexity's model.
pub fn select(home: &Home, input: &SelectInput) -> Result<Selection> {
    let mut rng = Rng::from_env();
    select_with(home, input, &mut rng)
}

/// [`select`] with a caller-provided random source (for simulations and tests).
pub fn select_with(home: &Home, input: &SelectInput, rng: &mut Rng) -> Result<Selection> {
    let pricing = pricing_ids(&home.pricing());
    let mut warnings = Vec::new();
    let mut missing = false;
    let models = match Models::load(&home.models()) {
        Ok(Some(m)) => m,
        Ok(None) => {
            missing = true;
            warnings.push(format!(
                "{} not found; using the built-in default model of each complexity \
                 (check --home or ORCHESTRATOR_HOME)",
                home.models().display()
            ));
            Models::default()
        }
        Err(e) => {
            warnings.push(format!("{e}; using the built-in default models"));
            Models {
                levels: vec![
                    ("simple".into(), DEFAULT_SIMPLE.into()),
                    ("medium".into(), DEFAULT_MEDIUM.into()),
                    ("complex".into(), DEFAULT_COMPLEX.into()),
                ],
                ..Models::default()
            }
        }
    };
    warnings.extend(models.warnings.iter().cloned());

    let (rule_model, matched) = route(
        &models,
        missing,
        &input.complexity,
        &input.task,
        input.estimated_files,
        &pricing,
        &mut |i, rule, e| {
            warnings.push(match (rule, e) {
                (Some(rule), Some(e)) => format!(
                    "{}: rules[{i}] \"if\": {:?} does not parse ({e}); skipped",
                    home.models().display(),
                    rule.condition
                ),
                _ => models.rules[i].clone().err().unwrap_or_default(),
            })
        },
    );
    if !KNOWN_MODELS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(&rule_model))
        && !pricing.contains(&rule_model)
    {
        // Used as written (the orchestrator would too), but a person should know.
        let source = match &matched {
            Some((i, rule)) => format!("rules[{i}] ({:?})", rule.condition),
            None => format!("task_complexity for {:?}", input.complexity),
        };
        warnings.push(format!(
            "{source} gives {rule_model:?}, which is neither in pricing.json nor a known Claude model id"
        ));
    }

    let mut sel = Selection {
        model: rule_model.clone(),
        rule: matched,
        explored: false,
        rule_model,
        propensity: 1.0,
        warnings,
    };
    if input.explore {
        let eps = crate::settings::Settings::load(home)
            .exploration_rate
            .clamp(0.0, 1.0);
        let arms = arm_ids(&models, &pricing);
        let stats = CellStats::load(&home.learning(), &input.complexity);
        let choice = explore(&sel.rule_model, eps, &arms, &stats, rng);
        sel.model = choice.model;
        sel.explored = choice.explored;
        sel.propensity = choice.propensity;
        if let Err(e) = log_selection(home, input, &sel) {
            sel.warnings
                .push(format!("could not record the choice: {e}"));
        }
    }
    Ok(sel)
}

/// Hears of a rule [`route`] cannot use: its index, the rule and the parse error (if it parsed as `{if, use}`).
pub type RuleWarning<'a> = dyn FnMut(usize, Option<&Rule>, Option<&ParseError>) + 'a;

/// The rules router without side effects: the first rule (as written) that
/// fires for the task, resolved to an id, else the level's fallback chain
/// (`missing`: models.json does not exist, so the built-in default).
/// `warn(index, rule, parse error)` hears of each rule that cannot be used.
pub fn route(
    models: &Models,
    missing: bool,
    complexity: &str,
    task: &str,
    estimated_files: Option<u32>,
    pricing: &[String],
    warn: &mut RuleWarning<'_>,
) -> (String, Option<(usize, Rule)>) {
    let facts = Facts {
        task,
        complexity,
        estimated_files,
    };
    let lower = facts.task.to_lowercase();
    let mut matched = None;
    for (i, r) in models.rules.iter().enumerate() {
        let rule = match r {
            Ok(rule) => rule,
            Err(_) => {
                warn(i, None, None);
                continue;
            }
        };
        match parse(&rule.condition) {
            Ok(expr) => {
                if matched.is_none() && !task.trim().is_empty() && expr.eval_lowered(&lower, &facts)
                {
                    matched = Some((i, rule.clone()));
                }
            }
            Err(e) => warn(i, Some(rule), Some(&e)),
        }
    }
    let model = match &matched {
        Some((_, rule)) => models.resolve(&rule.model, pricing),
        None if missing => default_model(complexity).to_string(),
        None => models.fallback(complexity),
    };
    (model, matched)
}

/// The id `select` uses for each tier (haiku, sonnet, opus).
fn arm_ids(models: &Models, pricing: &[String]) -> [String; 3] {
    [
        models.resolve("haiku", pricing),
        models.resolve("sonnet", pricing),
        models.resolve("opus", pricing),
    ]
}

// ---------------------------------------------------------------------------
// Exploration (learning-statistics §9)

/// Target first-attempt success rate T.
pub const TARGET: f64 = 0.80;
/// An arm with fewer (effective) samples in the cell is explored first.
pub const MIN_EXPLORED: f64 = 10.0;

/// Successes and trials per tier (haiku, sonnet, opus) for one complexity
/// cell, from `logs/model-learning.json`.
#[derive(Debug, Clone, Default)]
pub struct CellStats {
    /// `(successes, n)` per tier; `None` when the file has no pattern for it.
    pub arms: [Option<(f64, f64)>; 3],
}

/// The part of the learning file exploration reads: modelfit's patterns,
/// or the JS analyzer's per-level counts. An entry of another shape is
/// passed over, so one odd entry costs only itself.
#[derive(Deserialize)]
struct LearningCells {
    #[serde(default)]
    patterns: Vec<Lenient<crate::learn::pattern::Pattern>>,
    #[serde(default)]
    by_complexity: Vec<Lenient<JsLevelCell>>,
}

/// An entry read if it has the expected shape, passed over otherwise.
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Read(T),
    Other(serde::de::IgnoredAny),
}

impl<T> Lenient<T> {
    fn read(&self) -> Option<&T> {
        match self {
            Lenient::Read(t) => Some(t),
            Lenient::Other(_) => None,
        }
    }
}

/// One `by_complexity[]` entry of the JS analyzer (jarvis-interop §11).
#[derive(Deserialize)]
struct JsLevelCell {
    complexity: String,
    model: String,
    successes: f64,
    total: f64,
}

impl CellStats {
    /// Reads the complexity-level patterns of `complexity` from the learning
    /// file: modelfit's `patterns[]` (level cells; the label model's
    /// information-equivalent size, so a cell known only from weak evidence
    /// counts as lightly sampled) or, when it has none for the level, the JS
    /// analyzer's `by_complexity[]`. Anything unreadable gives no data:
    /// routing never fails on the learning file.
    pub fn load(path: &Path, complexity: &str) -> CellStats {
        let mut s = CellStats::default();
        let Some(file) = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<LearningCells>(&b).ok())
        else {
            return s;
        };
        let level = complexity.trim().to_lowercase();
        for p in file.patterns.iter().filter_map(Lenient::read) {
            if p.keyword.is_some() || p.complexity.to_lowercase() != level {
                continue;
            }
            let info = p.info();
            // Files from before decayed sizes carry only the raw count.
            let n = if info > 0.0 {
                info
            } else {
                p.sample_size as f64
            };
            // The rate times the size: decayed and soft counts stay honest.
            s.add(&p.model_family, p.success_rate * n, n);
        }
        if s.arms.iter().any(Option::is_some) {
            return s;
        }
        for c in file.by_complexity.iter().filter_map(Lenient::read) {
            if c.complexity.to_lowercase() == level {
                s.add(&c.model, c.successes, c.total);
            }
        }
        s
    }

    /// Adds `succ` of `n` to the tier of `model`, if it names one.
    fn add(&mut self, model: &str, succ: f64, n: f64) {
        let Some(t) = family(model).and_then(tier) else {
            return;
        };
        if !(n > 0.0 && succ.is_finite()) {
            return;
        }
        let prev = self.arms[t].unwrap_or((0.0, 0.0));
        self.arms[t] = Some((prev.0 + succ.clamp(0.0, n), prev.1 + n));
    }
}

/// The outcome of one exploration draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The model chosen.
    pub model: String,
    /// True when it is not the rule's model.
    pub explored: bool,
    /// Probability of this choice under the policy.
    pub propensity: f64,
}

/// Exploration probabilities `q` over the neighbours of tier `r`
/// (`(tier, q)`, summing to 1), by the policy of learning-statistics §9:
/// adjacent tiers only; with no data for the rule arm, uniform; otherwise
/// under-sampled neighbours (n < 10) first, then down when the rule arm is
/// comfortably above target (`P(p_r ≥ T) ≥ 0.9`, Jeffreys prior), else up.
pub fn neighbour_probabilities(r: usize, stats: &CellStats) -> Vec<(usize, f64)> {
    let neighbours: Vec<usize> = [r.checked_sub(1), (r < 2).then_some(r + 1)]
        .into_iter()
        .flatten()
        .collect();
    if neighbours.len() <= 1 {
        return neighbours.into_iter().map(|t| (t, 1.0)).collect();
    }
    let Some((s, n)) = stats.arms[r] else {
        return neighbours.iter().map(|t| (*t, 0.5)).collect();
    };
    let down = neighbours[0];
    let up = neighbours[1];
    let under = |t: usize| stats.arms[t].is_none_or(|(_, n)| n < MIN_EXPLORED);
    let pick = match (under(down), under(up)) {
        (true, false) => down,
        (false, true) => up,
        _ => {
            let p_above =
                1.0 - crate::learn::stats::reg_inc_beta(0.5 + s, 0.5 + (n - s).max(0.0), TARGET);
            if p_above >= 0.9 {
                down
            } else {
                up
            }
        }
    };
    vec![(pick, 1.0)]
}

/// One exploration draw: with probability `eps`, an adjacent tier of the rule
/// model's tier (by [`neighbour_probabilities`]); otherwise the rule model.
/// A rule model of no known family is never explored.
pub fn explore(
    rule_model: &str,
    eps: f64,
    arms: &[String; 3],
    stats: &CellStats,
    rng: &mut Rng,
) -> Choice {
    let stay = |p: f64| Choice {
        model: rule_model.to_string(),
        explored: false,
        propensity: p,
    };
    let Some(r) = family(rule_model).and_then(tier) else {
        return stay(1.0);
    };
    let qs = neighbour_probabilities(r, stats);
    if qs.is_empty() || eps <= 0.0 {
        return stay(1.0);
    }
    if rng.next_f64() >= eps {
        return stay(1.0 - eps);
    }
    let u = rng.next_f64();
    let mut acc = 0.0;
    let mut chosen = qs[qs.len() - 1];
    for (t, q) in &qs {
        acc += q;
        if u < acc {
            chosen = (*t, *q);
            break;
        }
    }
    Choice {
        model: arms[chosen.0].clone(),
        explored: true,
        propensity: eps * chosen.1,
    }
}

/// A small seedable random source (SplitMix64). `MODELFIT_SEED` seeds it for
/// reproducible runs; otherwise the clock and process id do.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator with a fixed seed.
    pub fn seeded(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Seeded from `MODELFIT_SEED` if set (any integer), else from the clock and pid.
    pub fn from_env() -> Rng {
        if let Some(s) = std::env::var("MODELFIT_SEED")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            return Rng(s);
        }
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng(t ^ (u64::from(std::process::id()) << 32))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Appends one JSON line for this choice to `logs/modelfit/selections.jsonl`
/// (O_APPEND, under `selections.jsonl.lock`), so `learn` can tell exploration
/// from rule choices and weight by propensity.
fn log_selection(home: &Home, input: &SelectInput, sel: &Selection) -> Result<()> {
    let path = home.selections();
    let dir = home.state_dir();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create directory", &dir, e))?;
    let line = serde_json::json!({
        "at": crate::clock::now_iso(),
        "complexity": input.complexity,
        "task_fp": crate::signals::task_fingerprint(&input.task),
        "model": sel.model,
        "rule_model": sel.rule_model,
        "explored": sel.explored,
        "propensity": sel.propensity,
    });
    let mut bytes = serde_json::to_vec(&line).map_err(|e| Error::Invalid(e.to_string()))?;
    bytes.push(b'\n');
    let lock_path = path.with_extension("jsonl.lock");
    let _lock = crate::lockfile::acquire(&lock_path, std::time::Duration::from_secs(2))?;
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io("cannot open", &path, e))?;
    f.write_all(&bytes)
        .map_err(|e| Error::io("cannot append to", &path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_start_matching() {
        assert!(contains_word_start("redesign the design", "design"));
        assert!(!contains_word_start("redesign the page", "design"));
        assert!(contains_word_start("update readme.md", "readme"));
        assert!(contains_word_start("x.md file", ".md"));
        assert!(!contains_word_start("rapid", "api"));
        // Multi-byte text around and inside the needle.
        assert!(contains_word_start("réécrire l'api — vite", "api"));
        assert!(!contains_word_start("éapi", "api"));
        assert!(contains_word_start("«api» ✓", "api"));
        assert!(contains_word_start("naïve café", "café"));
        assert!(!contains_word_start("décafé", "café"));
        assert!(contains_word_start("", ""));
        assert!(!contains_word_start("", "api"));
    }

    #[test]
    fn complexity_compares_case_and_space_blind_and_cheap_tests_go_first() {
        fn facts(c: &str) -> Facts<'_> {
            Facts {
                task: "Fix the API",
                complexity: c,
                estimated_files: None,
            }
        }
        let e = parse("task contains 'api' and complexity == 'simple'").unwrap();
        assert!(e.eval(&facts(" Simple ")));
        assert!(e.eval(&facts("SIMPLE")));
        assert!(!e.eval(&facts("medium")));
        // Non-ASCII spellings go through Unicode lowercasing, as before.
        assert!(!e.eval(&facts("simplé")));
        let e = parse("complexity != 'complex' and task contains 'api'").unwrap();
        assert!(e.eval(&facts("simple")));
        assert!(!e.eval(&facts("Complex")));
        assert_eq!(
            e.eval(&facts("x")),
            e.eval_lowered("fix the api", &facts("x"))
        );
    }
}
