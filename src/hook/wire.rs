//! The hook payloads as Claude Code writes them on stdin: a serde mirror of
//! the fields modelfit reads (hook reference §1). Every field is optional and
//! a field of an unexpected type reads as absent, never as an error: Claude
//! Code changes weekly and an odd payload must not cost a task.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::{Error, Result};

/// A string field: absent when missing, `null`, empty or of another type.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Text(pub Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Text, D::Error> {
        Ok(Text(match Value::deserialize(d)? {
            Value::String(s) if !s.is_empty() => Some(s),
            _ => None,
        }))
    }
}

/// A string field that keeps an empty string (the prompt: an empty prompt is
/// still a prompt).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawText(pub Option<String>);

impl<'de> Deserialize<'de> for RawText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<RawText, D::Error> {
        Ok(RawText(match Value::deserialize(d)? {
            Value::String(s) => Some(s),
            _ => None,
        }))
    }
}

/// One hook payload, as sent (the fields modelfit uses; the rest is ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Wire {
    /// `SessionStart`, `UserPromptSubmit`, `Stop`, …
    pub hook_event_name: Text,
    /// The session's UUID.
    pub session_id: Text,
    /// The main session transcript (JSONL).
    pub transcript_path: Text,
    /// Claude Code's working directory.
    pub cwd: Text,
    /// `UserPromptSubmit`: the prompt.
    pub prompt: RawText,
    /// The prompt being processed (Claude Code ≥ 2.1.196).
    pub prompt_id: Text,
    /// `SessionStart`: a model id, or `{"id": …, "display_name": …}`.
    pub model: Option<Value>,
    /// `SessionStart`: `startup`, `resume`, `clear`, `compact`, `fork`.
    pub source: Text,
    /// `Stop`: a Stop hook blocked the previous stop.
    pub stop_hook_active: Option<Value>,
    /// `StopFailure`: the API error (a string; anything else is kept as JSON).
    pub error: Option<Value>,
    /// `SubagentStop`: the subagent's transcript.
    pub agent_transcript_path: Text,
    /// `Stop` / `SubagentStop` (≥ 2.1.47): the assistant's last message.
    pub last_assistant_message: RawText,
}

impl Wire {
    /// Parses a payload (invalid UTF-8 replaced). Fails only when it is not a
    /// JSON object.
    pub fn parse(bytes: &[u8]) -> Result<Wire> {
        let text = String::from_utf8_lossy(bytes);
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| Error::Invalid(format!("payload is not JSON ({e})")))?;
        if !v.is_object() {
            return Err(Error::Invalid("payload is not a JSON object".into()));
        }
        Wire::deserialize(v).map_err(|e| Error::Invalid(format!("payload unreadable ({e})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_types_read_as_absent() {
        let w = Wire::parse(br#"{"hook_event_name":"Stop","session_id":7,"cwd":"","prompt":"","stop_hook_active":"yes"}"#).unwrap();
        assert_eq!(w.hook_event_name.0.as_deref(), Some("Stop"));
        assert_eq!(w.session_id.0, None);
        assert_eq!(w.cwd.0, None);
        assert_eq!(w.prompt.0.as_deref(), Some(""));
        assert!(Wire::parse(b"[1]").is_err());
        assert!(Wire::parse(b"{").is_err());
    }

    #[test]
    fn every_real_payload_parses() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/claude-code/hooks"
        );
        let mut n = 0;
        for sub in std::fs::read_dir(dir).unwrap().flatten() {
            let Ok(files) = std::fs::read_dir(sub.path()) else {
                continue;
            };
            for f in files.flatten() {
                if f.path().extension().is_none_or(|x| x != "jsonl")
                    || f.path().to_string_lossy().contains("outputs")
                {
                    continue;
                }
                for line in std::fs::read_to_string(f.path()).unwrap().lines() {
                    let w = Wire::parse(line.as_bytes()).unwrap();
                    assert!(w.hook_event_name.0.is_some(), "{line}");
                    n += 1;
                }
            }
        }
        assert!(n > 40, "{n}");
    }
}
