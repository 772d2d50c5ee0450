//! Hook payloads as domain events: what happened, with the fields that event
//! carries already decoded (model objects, error values, booleans).

use serde_json::Value;

use super::wire::Wire;

/// Which event a payload reports (the ones the hook acts on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A session started, resumed, was cleared or compacted.
    SessionStart,
    /// A prompt was submitted: a task starts.
    UserPromptSubmit,
    /// The assistant stopped responding.
    Stop,
    /// The turn ended with an API error.
    StopFailure,
    /// A subagent finished.
    SubagentStop,
    /// The session ended.
    SessionEnd,
    /// Anything else: ignored.
    Other,
}

/// One hook event.
#[derive(Debug, Clone)]
pub struct Event {
    /// What happened.
    pub kind: Kind,
    /// The event name as sent.
    pub name: String,
    /// The session.
    pub session_id: Option<String>,
    /// The main transcript.
    pub transcript_path: Option<String>,
    /// Claude Code's working directory.
    pub cwd: Option<String>,
    /// The prompt (`UserPromptSubmit`).
    pub prompt: Option<String>,
    /// The prompt's id (newer Claude Code).
    pub prompt_id: Option<String>,
    /// The model (`SessionStart`, when given).
    pub model: Option<String>,
    /// Why the session started.
    pub source: Option<String>,
    /// A Stop hook blocked the previous stop.
    pub stop_hook_active: bool,
    /// The API error of a `StopFailure`.
    pub error: Option<String>,
    /// A finished subagent's transcript.
    pub agent_transcript_path: Option<String>,
    /// The assistant's last message (`Stop`, newer Claude Code).
    pub last_assistant_message: Option<String>,
}

impl From<Wire> for Event {
    fn from(w: Wire) -> Event {
        let name = w.hook_event_name.0.unwrap_or_default();
        let kind = match name.as_str() {
            "SessionStart" => Kind::SessionStart,
            "UserPromptSubmit" => Kind::UserPromptSubmit,
            "Stop" => Kind::Stop,
            "StopFailure" => Kind::StopFailure,
            "SubagentStop" => Kind::SubagentStop,
            "SessionEnd" => Kind::SessionEnd,
            _ => Kind::Other,
        };
        let model = match w.model {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            // Newer versions may send {"id": …, "display_name": …}.
            Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        let error = match w.error {
            Some(Value::String(s)) => Some(s),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        Event {
            kind,
            name,
            session_id: w.session_id.0,
            transcript_path: w.transcript_path.0,
            cwd: w.cwd.0,
            prompt: w.prompt.0,
            prompt_id: w.prompt_id.0,
            model,
            source: w.source.0,
            stop_hook_active: w.stop_hook_active == Some(Value::Bool(true)),
            error,
            agent_transcript_path: w.agent_transcript_path.0,
            last_assistant_message: w.last_assistant_message.0,
        }
    }
}
