//! Dispatch records: the orchestrator's byte format and a typed view.
//!
//! Records are kept as order-preserving JSON maps (`serde_json` with
//! `preserve_order`), so fields another program wrote ride along untouched and
//! in their order; new fields are added at the end.

use serde::Deserialize;
use serde_json::{Map, Value};

/// One ledger record as an ordered map of its fields.
pub type Record = Map<String, Value>;

/// Serializes `value` exactly as JavaScript's `JSON.stringify(value, null, 2)`
/// would, nested `depth` levels deep (a ledger record sits at depth 1): two
/// spaces per level, `": "` after keys, `[]`/`{}` for empty containers, raw
/// UTF-8, and no trailing newline.
pub fn to_js_pretty(value: &Value, depth: usize) -> String {
    let mut out = Vec::with_capacity(256);
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(value, &mut ser).expect("serializing a Value cannot fail");
    let text = String::from_utf8(out).expect("serde_json writes UTF-8");
    if depth == 0 {
        return text;
    }
    // JSON strings never hold a raw newline, so every newline is structural.
    let pad = "  ".repeat(depth);
    text.replace('\n', &format!("\n{pad}"))
}

/// The fields modelfit reads from a record, for streaming passes that must not
/// hold whole records. Every field is optional and tolerant of other types:
/// the ledger has several writers and some records lack almost everything.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RecordView {
    /// `dispatch-<ms>-<base36>`, `batch-…`, or absent (pipeline records).
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// Absent for dispatches; `batch`, `claude-code`, `pr-review`, … otherwise.
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    /// Workspace key.
    #[serde(deserialize_with = "lenient_string")]
    pub workspace: Option<String>,
    /// Absolute workspace path at dispatch time.
    #[serde(deserialize_with = "lenient_string")]
    pub workspace_path: Option<String>,
    /// The (possibly context-augmented) prompt.
    #[serde(deserialize_with = "lenient_string")]
    pub task: Option<String>,
    /// The raw task text.
    #[serde(deserialize_with = "lenient_string")]
    pub original_task: Option<String>,
    /// `simple` / `medium` / `complex`.
    #[serde(deserialize_with = "lenient_string")]
    pub complexity: Option<String>,
    /// Model id, alias or `none`.
    #[serde(deserialize_with = "lenient_string")]
    pub model: Option<String>,
    /// Orchestrator lifecycle status.
    #[serde(deserialize_with = "lenient_string")]
    pub status: Option<String>,
    /// Creation time (ISO).
    #[serde(deserialize_with = "lenient_string")]
    pub created_at: Option<String>,
    /// First transition to running (ISO).
    #[serde(deserialize_with = "lenient_string")]
    pub started_at: Option<String>,
    /// Last transition to complete or failed (ISO).
    #[serde(deserialize_with = "lenient_string")]
    pub completed_at: Option<String>,
    /// `success` / `failure` / `partial`.
    #[serde(deserialize_with = "lenient_string")]
    pub outcome: Option<String>,
    /// Who set `outcome` (`human`, `manual`, `ci`, `hook`); absent when the
    /// orchestrator's own `update_task_outcome` wrote it.
    #[serde(deserialize_with = "lenient_string")]
    pub outcome_source: Option<String>,
    /// Labels drawn from the task text.
    #[serde(deserialize_with = "lenient_strings")]
    pub task_keywords: Option<Vec<String>>,
    /// Total tokens.
    #[serde(deserialize_with = "lenient_f64")]
    pub tokens_used: Option<f64>,
    /// Wall time of the task.
    #[serde(deserialize_with = "lenient_f64")]
    pub execution_time_seconds: Option<f64>,
    /// Dollar cost.
    #[serde(deserialize_with = "lenient_f64")]
    pub cost_usd: Option<f64>,
    /// Earlier attempt this one retries.
    #[serde(deserialize_with = "lenient_string")]
    pub previous_dispatch_id: Option<String>,
    /// Number of earlier attempts.
    #[serde(deserialize_with = "lenient_f64")]
    pub retry_count: Option<f64>,
}

/// `deserialize_with` helper: the string, or `None` for any other JSON type
/// (skipped without building it), so one odd record never fails a pass.
pub fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    lenient_str_with(d, |s| Some(s.to_owned()))
}

/// The words the ledger's `status`, `outcome` and `outcome_source` fields
/// hold: [`lenient_word`] lends these instead of allocating them.
const WORDS: [&str; 22] = [
    "success",
    "failure",
    "partial",
    "hook",
    "human",
    "manual",
    "orchestrator",
    "ci",
    "derived",
    "tests",
    "assistant",
    "followup",
    "verification",
    "complete",
    "completed",
    "failed",
    "error",
    "timeout",
    "running",
    "pending",
    "queued",
    "cancelled",
];

/// `deserialize_with` helper: the string, borrowed from a fixed list when it
/// is one of the ledger's usual words (no allocation per record on a
/// million-record pass), else owned; `None` for any other JSON type.
pub fn lenient_word<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<std::borrow::Cow<'static, str>>, D::Error> {
    lenient_str_with(d, |s| {
        Some(match WORDS.iter().find(|w| **w == s) {
            Some(w) => std::borrow::Cow::Borrowed(*w),
            None => std::borrow::Cow::Owned(s.to_owned()),
        })
    })
}

/// `deserialize_with` building block: `f` of the string, without owning it
/// first; `None` for any other JSON type (containers drained, not built).
pub fn lenient_str_with<'de, D, T, F>(d: D, f: F) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    F: FnOnce(&str) -> Option<T>,
{
    d.deserialize_any(Lenient(|v: Scalar<'_>| match v {
        Scalar::Str(s) => f(s),
        Scalar::Num(_) | Scalar::Other => None,
    }))
}

/// `deserialize_with` helper: the number as `f64`, or `None` for any other JSON type.
pub fn lenient_f64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_any(Lenient(|v: Scalar<'_>| match v {
        Scalar::Num(n) => Some(n),
        Scalar::Str(_) | Scalar::Other => None,
    }))
}

enum Scalar<'a> {
    /// Borrowed for the call only: a caller that keeps it owns a copy.
    Str(&'a str),
    Num(f64),
    Other,
}

/// A visitor that turns any JSON value into a [`Scalar`] and then into `T`,
/// draining containers with `IgnoredAny` instead of building them.
struct Lenient<F>(F);

impl<'de, T, F: for<'a> FnOnce(Scalar<'a>) -> Option<T>> serde::de::Visitor<'de> for Lenient<F> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok((self.0)(Scalar::Str(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok((self.0)(Scalar::Num(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok((self.0)(Scalar::Num(v as f64)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok((self.0)(Scalar::Num(v as f64)))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok((self.0)(Scalar::Other))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok((self.0)(Scalar::Other))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok((self.0)(Scalar::Other))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok((self.0)(Scalar::Other))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        while a
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok((self.0)(Scalar::Other))
    }
}

/// `deserialize_with` helper: the strings of an array (other items dropped),
/// or `None` when the value is not an array.
pub fn lenient_strings<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => Some(
            items
                .into_iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    })
}

/// A new record id in the orchestrator's format: `dispatch-<ms>-<6 base36>`.
pub fn new_dispatch_id(now_ms: i64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut seed = random_u64();
    let suffix: String = (0..6)
        .map(|_| {
            let c = DIGITS[(seed % 36) as usize] as char;
            seed /= 36;
            c
        })
        .collect();
    format!("dispatch-{now_ms}-{suffix}")
}

/// 64 bits from the OS's hasher seed and the time: ids only need to be
/// unlikely to collide, not unpredictable.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usual_words_are_lent_others_owned_and_non_strings_none() {
        use std::borrow::Cow;
        #[derive(Deserialize)]
        struct W {
            #[serde(default, deserialize_with = "lenient_word")]
            w: Option<Cow<'static, str>>,
        }
        let w = |text: &str| serde_json::from_str::<W>(text).unwrap().w;
        assert!(matches!(
            w(r#"{"w": "success"}"#),
            Some(Cow::Borrowed("success"))
        ));
        // Escaped, it is the same word; any other text is kept as it is, owned.
        assert!(matches!(
            w(r#"{"w": "succ\u0065ss"}"#),
            Some(Cow::Borrowed("success"))
        ));
        assert_eq!(w(r#"{"w": "Success "}"#).as_deref(), Some("Success "));
        assert!(matches!(w(r#"{"w": "Success "}"#), Some(Cow::Owned(_))));
        for other in ["1", "true", "null", "[\"success\"]", "{\"a\": 1}"] {
            assert_eq!(w(&format!(r#"{{"w": {other}}}"#)), None, "{other}");
        }
        assert_eq!(w("{}"), None);
    }

    #[test]
    fn pretty_matches_json_stringify() {
        let v = json!({"a": [], "b": {}, "c": [1, {"d": "é\n"}], "e": null});
        assert_eq!(
            to_js_pretty(&v, 0),
            "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    {\n      \"d\": \"é\\n\"\n    }\n  ],\n  \"e\": null\n}"
        );
        assert_eq!(to_js_pretty(&json!({"a": 1}), 1), "{\n    \"a\": 1\n  }");
    }

    #[test]
    fn view_tolerates_wrong_types() {
        let v: RecordView = serde_json::from_str(
            r#"{"id": 5, "task_keywords": "x", "tokens_used": "9", "model": "opus"}"#,
        )
        .unwrap();
        assert_eq!(v.id, None);
        assert_eq!(v.task_keywords, None);
        assert_eq!(v.tokens_used, None);
        assert_eq!(v.model.as_deref(), Some("opus"));
    }

    #[test]
    fn ids_have_the_orchestrator_shape() {
        let id = new_dispatch_id(1772452800000);
        let re = regex::Regex::new(r"^dispatch-1772452800000-[a-z0-9]{6}$").unwrap();
        assert!(re.is_match(&id), "{id}");
    }
}
