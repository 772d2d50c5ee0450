//! The task's stretch of the transcript as a list of [`Item`]s: tool calls,
//! their results, assistant text, interruptions and API errors. Parsing is
//! separate from judging ([`super::facts`]) so both are unit-testable on
//! plain lines.
//!
//! Reading is bounded: regular files only (non-blocking open), from the
//! task's start offset, at most [`MAX_BYTES`] (the tail: the last runs and
//! the final message are at the end), lines over [`MAX_LINE`] skipped, all
//! drawn from the hook's per-run byte budget.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

/// At most this many bytes of a task's stretch are read for evidence.
pub const MAX_BYTES: u64 = 32 << 20;

/// Lines longer than this are skipped.
pub const MAX_LINE: usize = 8 << 20;

/// One thing that happened in the task, in transcript order.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A Bash call.
    Bash {
        /// `tool_use.id`.
        id: String,
        /// The command line.
        command: String,
    },
    /// A file edit (Edit, Write, MultiEdit, NotebookEdit).
    Edit {
        /// The file.
        file: String,
        /// Lines written.
        lines: u64,
    },
    /// Any other tool call.
    Tool {
        /// Tool name.
        name: String,
    },
    /// A tool's result.
    Result {
        /// The call it answers.
        id: String,
        /// Its text (stdout + stderr for Bash), at most 64 KB kept (the tail).
        text: String,
        /// Claude Code marked it an error.
        is_error: bool,
        /// The call was interrupted.
        interrupted: bool,
    },
    /// Assistant text.
    Text(String),
    /// `[Request interrupted by user…]`.
    Interrupted,
    /// An API error line (`isApiErrorMessage`, `system`/`api_error`).
    ApiError,
}

#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type", default)]
    kind: Value,
    #[serde(default)]
    subtype: Value,
    #[serde(default)]
    message: Option<Message>,
    #[serde(rename = "toolUseResult", default)]
    tool_use_result: Value,
    #[serde(rename = "isApiErrorMessage", default)]
    is_api_error: Value,
    #[serde(rename = "isMeta", default)]
    is_meta: Value,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Value,
}

const KEEP: usize = 64 * 1024;

/// Parses one transcript line into items (none for lines that do not matter
/// or do not parse).
pub fn parse_line(raw: &[u8], out: &mut Vec<Item>) {
    let line: Line = match serde_json::from_slice(raw) {
        Ok(l) => l,
        Err(_) => match serde_json::from_str(&String::from_utf8_lossy(raw)) {
            Ok(l) => l,
            Err(_) => return, // unreadable: never a verdict from it
        },
    };
    match line.kind.as_str() {
        Some("assistant") => {
            if line.is_api_error == Value::Bool(true) {
                out.push(Item::ApiError);
                return;
            }
            let Some(msg) = line.message else { return };
            for block in blocks(&msg.content) {
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(t) = block.get("text").and_then(Value::as_str) {
                            if !t.trim().is_empty() {
                                out.push(Item::Text(cap(t)));
                            }
                        }
                    }
                    Some("tool_use") => out.push(tool_use(block)),
                    _ => {}
                }
            }
        }
        Some("user") => {
            if line.is_meta == Value::Bool(true) {
                return;
            }
            let Some(msg) = line.message else { return };
            if let Value::String(s) = &msg.content {
                if s.starts_with("[Request interrupted by user") {
                    out.push(Item::Interrupted);
                }
                return;
            }
            let interrupted_call = line
                .tool_use_result
                .get("interrupted")
                .and_then(Value::as_bool)
                == Some(true);
            for block in blocks(&msg.content) {
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_result") => {
                        let id = block
                            .get("tool_use_id")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        let mut text = result_text(block.get("content"));
                        if text.is_empty() {
                            // Older versions keep the output only in toolUseResult.
                            for k in ["stdout", "stderr"] {
                                if let Some(s) = line.tool_use_result.get(k).and_then(Value::as_str)
                                {
                                    text.push_str(s);
                                    text.push('\n');
                                }
                            }
                        }
                        out.push(Item::Result {
                            id,
                            text: cap(&text),
                            is_error: block.get("is_error").and_then(Value::as_bool) == Some(true),
                            interrupted: interrupted_call,
                        });
                    }
                    Some("text")
                        if block
                            .get("text")
                            .and_then(Value::as_str)
                            .is_some_and(|t| t.starts_with("[Request interrupted by user")) =>
                    {
                        out.push(Item::Interrupted);
                    }
                    _ => {}
                }
            }
        }
        Some("system") if line.subtype.as_str() == Some("api_error") => out.push(Item::ApiError),
        _ => {}
    }
}

fn blocks(content: &Value) -> impl Iterator<Item = &Value> {
    content.as_array().into_iter().flatten()
}

fn tool_use(block: &Value) -> Item {
    let name = block.get("name").and_then(Value::as_str).unwrap_or("");
    let id = block
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let input = block.get("input");
    let s = |k: &str| input.and_then(|i| i.get(k)).and_then(Value::as_str);
    match name {
        "Bash" => Item::Bash {
            id,
            command: s("command").unwrap_or("").chars().take(4000).collect(),
        },
        "Edit" | "Write" | "MultiEdit" | "NotebookEdit" => {
            let file = s("file_path")
                .or(s("notebook_path"))
                .unwrap_or("")
                .to_string();
            let mut lines = 0u64;
            for k in ["new_string", "content", "new_source"] {
                if let Some(t) = s(k) {
                    lines += t.lines().count() as u64;
                }
            }
            if let Some(edits) = input.and_then(|i| i.get("edits")).and_then(Value::as_array) {
                for e in edits {
                    if let Some(t) = e.get("new_string").and_then(Value::as_str) {
                        lines += t.lines().count() as u64;
                    }
                }
            }
            Item::Edit { file, lines }
        }
        other => Item::Tool {
            name: other.to_string(),
        },
    }
}

fn result_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Keeps the first line (it carries `Exit code N`) and the last 64 KB.
fn cap(s: &str) -> String {
    if s.len() <= KEEP {
        return s.to_string();
    }
    let first = s.lines().next().unwrap_or("");
    let first = &first[..first.len().min(200)];
    let mut i = s.len() - KEEP;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    format!("{first}\n…\n{}", &s[i..])
}

/// Reads the items of `path` from `offset` to its last complete line
/// (bounded as the module says). Unreadable files give no items.
pub fn read(path: &Path, offset: u64) -> Vec<Item> {
    let mut out = Vec::new();
    let Ok(mut f) = crate::readfile::open_regular(path) else {
        return out;
    };
    let Ok(len) = f.metadata().map(|m| m.len()) else {
        return out;
    };
    if offset >= len {
        return out;
    }
    let from = offset.max(len.saturating_sub(MAX_BYTES));
    let want = crate::readfile::allow((len - from) as usize) as u64;
    if want == 0 || f.seek(SeekFrom::Start(from)).is_err() {
        return out;
    }
    let mut buf = Vec::with_capacity(want.min(MAX_BYTES) as usize);
    if f.take(want).read_to_end(&mut buf).is_err() {
        return out;
    }
    let mut lines = buf.split(|b| *b == b'\n');
    // Entered mid-line (tail read or an offset inside a line): skip that part.
    let at_line_start = from == offset;
    if !at_line_start {
        lines.next();
    }
    let complete = buf.last() == Some(&b'\n');
    let mut pending: Option<&[u8]> = None;
    for line in lines {
        if let Some(prev) = pending.take() {
            if prev.len() <= MAX_LINE && !prev.iter().all(u8::is_ascii_whitespace) {
                parse_line(prev, &mut out);
            }
        }
        pending = Some(line);
    }
    // The last piece is a complete line only when the read ended on `\n`
    // (then it is the empty piece after it).
    if let (Some(last), true) = (pending, complete) {
        if !last.is_empty() && last.len() <= MAX_LINE {
            parse_line(last, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_transcripts_give_items_without_panicking() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/claude-code/transcripts"
        );
        let mut total = 0;
        let mut interrupted = 0;
        for sub in std::fs::read_dir(dir).unwrap().flatten() {
            for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
                if f.path().extension().is_some_and(|x| x == "jsonl") {
                    let items = read(&f.path(), 0);
                    total += items.len();
                    interrupted += items.iter().filter(|i| **i == Item::Interrupted).count();
                }
            }
        }
        assert!(total > 50, "{total}");
        assert!(interrupted >= 2, "{interrupted}");
    }

    #[test]
    fn a_failed_bash_call_and_its_result() {
        let mut out = Vec::new();
        parse_line(br#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"cargo test"}}]}}"#, &mut out);
        parse_line(br#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"Exit code 101\ntest result: FAILED. 1 passed; 1 failed","is_error":true}]}}"#, &mut out);
        parse_line(b"{not json", &mut out);
        assert_eq!(out.len(), 2);
        assert!(matches!(&out[1], Item::Result { is_error: true, .. }));
    }
}
