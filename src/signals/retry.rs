//! Retry detection (seed phase 4): a new task in the same workspace whose text
//! is within 20 % normalized Levenshtein distance of a task that ended within
//! the last hour retries it.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Largest normalized Levenshtein distance at which two task texts count as
/// the same task.
pub const MAX_DISTANCE: f64 = 0.20;

/// How long after an attempt ended a similar task still counts as its retry.
pub const WINDOW: Duration = Duration::hours(1);

/// Texts are compared on at most this many characters: distance is
/// quadratic, and a prompt's opening says what the task is.
const COMPARE_CHARS: usize = 2000;

/// An attempt that ended, as remembered for retry detection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    /// Ledger id of the attempt.
    pub id: String,
    /// Canonical workspace path (the hook's `cwd`).
    pub workspace: String,
    /// The task text (already redacted).
    pub text: String,
    /// When it ended (ISO).
    pub ended_at: String,
    /// Its own `retry_count` (0 for a first attempt).
    #[serde(default)]
    pub retry_count: u64,
}

/// Normalizes a task text for comparison: whitespace collapsed, lowercase,
/// cut to the first [`COMPARE_CHARS`] characters.
fn normalize(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.to_lowercase().chars().take(COMPARE_CHARS).collect()
}

/// Normalized Levenshtein distance (0 = identical, 1 = nothing in common).
pub fn distance(a: &str, b: &str) -> f64 {
    let (a, b) = (normalize(a), normalize(b));
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let (la, lb) = (a.chars().count() as f64, b.chars().count() as f64);
    // The distance is at least the length difference: skip the quadratic work.
    if (la - lb).abs() / la.max(lb) > MAX_DISTANCE {
        return (la - lb).abs() / la.max(lb);
    }
    1.0 - strsim::normalized_levenshtein(&a, &b)
}

/// Whether `text` is close enough to `earlier` to be a retry of it.
pub fn similar(text: &str, earlier: &str) -> bool {
    !text.trim().is_empty() && distance(text, earlier) <= MAX_DISTANCE
}

/// The attempt that a new task (`workspace`, `text`, starting at `now`)
/// retries: the most recently ended similar attempt in the same workspace
/// that ended within [`WINDOW`] before `now`.
pub fn find_previous<'a>(
    attempts: &'a [Attempt],
    workspace: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Option<&'a Attempt> {
    attempts
        .iter()
        .filter(|a| a.workspace == workspace)
        .filter_map(|a| crate::clock::parse(&a.ended_at).map(|t| (a, t)))
        .filter(|(_, t)| *t <= now && now - *t <= WINDOW)
        .filter(|(a, _)| similar(text, &a.text))
        .max_by_key(|(_, t)| *t)
        .map(|(a, _)| a)
}

/// Drops attempts that can no longer be retried (ended before `now - WINDOW`).
pub fn prune(attempts: &mut Vec<Attempt>, now: DateTime<Utc>) {
    attempts.retain(|a| crate::clock::parse(&a.ended_at).is_some_and(|t| now - t <= WINDOW));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(id: &str, ws: &str, text: &str, ended: &str, n: u64) -> Attempt {
        Attempt {
            id: id.into(),
            workspace: ws.into(),
            text: text.into(),
            ended_at: ended.into(),
            retry_count: n,
        }
    }

    #[test]
    fn similar_text_same_workspace_within_the_hour() {
        let now = crate::clock::parse("2026-03-06T11:00:00Z").unwrap();
        let a = vec![
            at(
                "old",
                "/w",
                "Fix the login bug in auth.py",
                "2026-03-06T09:30:00Z",
                0,
            ),
            at(
                "other-ws",
                "/x",
                "Fix the login bug in auth.py",
                "2026-03-06T10:50:00Z",
                0,
            ),
            at(
                "p",
                "/w",
                "Fix the login bug in auth.py",
                "2026-03-06T10:40:00Z",
                1,
            ),
        ];
        let hit = find_previous(&a, "/w", "fix the login bug in  auth.py!", now).unwrap();
        assert_eq!(hit.id, "p");
        assert!(find_previous(&a, "/w", "Write the release notes for 2.0", now).is_none());
        assert!(find_previous(&a, "/y", "Fix the login bug in auth.py", now).is_none());
    }

    #[test]
    fn threshold_is_twenty_percent() {
        // 10 characters, 2 edits: exactly 0.2.
        assert!(similar("abcdefghij", "abcdefghXY"));
        assert!(!similar("abcdefghij", "abcdefgXYZ"));
        assert!(!similar("", ""));
    }
}
