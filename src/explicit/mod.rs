//! Explicit signals: verdicts that a person ([`rate`]) or a CI pipeline
//! ([`ci`]) gives about a task, the terminal checkpoint that asks a person
//! ([`prompt`]), and the optional post-task reminder ([`reminder`]).
//!
//! Every verdict is written through [`crate::outcome::apply`], so the
//! precedence rules live in one place: a person (`rate`, `outcome`, or an
//! `outcome` without `outcome_source`, which the orchestrator's own
//! `update_task_outcome` writes) > CI > hook > derived. A lower source never
//! overwrites a higher one; every source's verdict is kept in
//! `outcome_sources`.

pub mod ci;
pub mod next;
pub mod prompt;
pub mod rate;
pub mod reminder;

pub use reminder::{set_reminder, stop_reminder};

use serde::{Deserialize, Deserializer};

/// The fields the explicit signals read from a record while streaming the
/// ledger: lenient about types, since the ledger has many writers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TaskView {
    /// Record id.
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub id: Option<String>,
    /// The id under the other name the orchestrator's lookup accepts.
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub dispatch_id: Option<String>,
    /// Record kind (`batch`, `claude-code`, …; absent for dispatches).
    #[serde(rename = "type", deserialize_with = "crate::record::lenient_string")]
    pub kind: Option<String>,
    /// Workspace path the dispatcher ran the task in.
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub workspace_path: Option<String>,
    /// Working directory the capture hook saw (ad-hoc Claude Code tasks).
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub cwd: Option<String>,
    /// Claude Code session id (written by the capture hook).
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub session_id: Option<String>,
    /// Creation time.
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub created_at: Option<String>,
    /// Start time.
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub started_at: Option<String>,
    /// End time.
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub completed_at: Option<String>,
    /// Git HEAD of the workspace when the task ended (full SHA).
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub git_commit: Option<String>,
    /// Raw task text.
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub original_task: Option<String>,
    /// Task text (possibly with injected context).
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub task: Option<String>,
    /// Model id or alias.
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub model: Option<String>,
    /// Current outcome.
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub outcome: Option<String>,
    /// Who set the current outcome.
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub outcome_source: Option<String>,
}

impl TaskView {
    /// The latest of `created_at`, `started_at` and `completed_at`: when the
    /// task last did something. A dispatch created days ago and run just now
    /// counts as new.
    pub fn activity(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        [&self.created_at, &self.started_at, &self.completed_at]
            .into_iter()
            .filter_map(|t| t.as_deref().and_then(crate::clock::parse))
            .max()
    }

    /// A one-line description for messages: id, model, and the start of the task text.
    pub fn describe(&self) -> String {
        let id = self.id.as_deref().unwrap_or("?");
        let text = match (&self.original_task, &self.task) {
            (Some(t), _) => t.clone(),
            (None, Some(t)) => crate::outcome::strip_context(t),
            _ => String::new(),
        };
        let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = if text.chars().count() > 70 {
            format!("{}…", text.chars().take(70).collect::<String>())
        } else {
            text
        };
        let mut out = id.to_string();
        if let Some(m) = &self.model {
            out.push_str(&format!(" [{m}]"));
        }
        if !text.is_empty() {
            out.push_str(&format!(" \"{text}\""));
        }
        if let Some(o) = &self.outcome {
            let by = self.outcome_source.as_deref().unwrap_or("orchestrator");
            out.push_str(&format!(" (now: {o}, by {by})"));
        }
        // Ledger text goes to a terminal: no escape sequences from it.
        out.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    }
}

/// Quotes `s` for a POSIX shell when it holds anything but safe characters.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A ledger element read as `T` when it is a JSON object, and skipped (None)
/// when it is anything else, so one stray non-object element (no orchestrator
/// writes one, but the file has many writers) cannot stop a scan. Objects are
/// read in one pass, without buffering.
#[derive(Debug)]
pub struct ObjectOr<T>(pub Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = ObjectOr<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a ledger element")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|t| ObjectOr(Some(t)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(ObjectOr(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ObjectOr(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(ObjectOr(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(ObjectOr(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(ObjectOr(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(ObjectOr(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(ObjectOr(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Calls `f` on every object of the ledger, read as `T`, until `f` returns
/// false. Reads the file into memory and parses from the slice, several
/// times faster than the streaming reader on a large ledger; these commands
/// rewrite the whole file anyway when they change it, so they need that
/// memory regardless. A missing ledger has no records; one that does not
/// parse is an error naming the line and column.
pub fn scan<T, F>(home: &crate::home::Home, mut f: F) -> crate::error::Result<()>
where
    T: serde::de::DeserializeOwned,
    F: FnMut(T) -> bool,
{
    let path = home.ledger();
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(crate::error::Error::io("cannot read", &path, e)),
    };
    for (s, e) in crate::store::element_spans(&path, &bytes)? {
        let item: ObjectOr<T> = serde_json::from_slice(&bytes[s..e])
            .map_err(|err| crate::error::Error::parse(&path, &err))?;
        if let Some(t) = item.0 {
            if !f(t) {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_is_short_and_safe_for_a_terminal() {
        let v: TaskView = serde_json::from_str(
            r#"{"id": "d-1", "model": "opus", "task": "<workspace-context>\nctx\n</workspace-context>\nFix \u001b[2J the\n   parser and then a very long tail of words that goes on and on and on and on and on",
                "outcome": "success"}"#,
        )
        .unwrap();
        let d = v.describe();
        assert!(!d.chars().any(char::is_control), "{d}");
        assert!(d.starts_with("d-1 [opus] \"Fix ?[2J the parser"), "{d}");
        assert!(
            d.contains('…') && d.ends_with("(now: success, by orchestrator)"),
            "{d}"
        );
    }
}
