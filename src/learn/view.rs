//! The record views the learning passes read: each names only the fields
//! its pass uses, and maps strings while they are borrowed from the parser
//! where it can, so reading a record allocates little. `analyze`'s pass 2
//! and the task table of `impact` / `levels` read the same [`Rec`].

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::models;
use super::sources::OutcomeSources;

/// A name mapped to one of modelfit's constants (an alias keeps serde's
/// derive from treating the `'static` borrow as a borrow from the input).
pub(super) type StaticName = Option<&'static str>;

/// Deserializes any JSON value, keeping `f(text)` of a string and `None` for
/// anything else, without allocating the string.
fn map_str<'de, D, T>(d: D, f: fn(&str) -> Option<T>) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct V<T>(fn(&str) -> Option<T>);
    impl<'de, T> serde::de::Visitor<'de> for V<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Option<T>, E> {
            Ok((self.0)(v))
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Option<T>, A::Error> {
            while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Option<T>, A::Error> {
            while a
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }
    d.deserialize_any(V(f))
}

pub(super) fn level_of<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<&'static str>, D::Error> {
    map_str(d, |s| models::LEVELS.iter().copied().find(|l| *l == s))
}

pub(super) fn family_of<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<&'static str>, D::Error> {
    map_str(d, models::family)
}

pub(super) fn batch_of<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    map_str(d, |s| Some(s == "batch"))
}

pub(super) fn time_of<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    map_str(d, parse_time)
}

/// A `complexity` that names a level: its index in [`models::LEVELS`], and
/// whether it is written exactly so (analysis counts only those; the task
/// table also takes it trimmed and in any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Level {
    pub(crate) index: usize,
    pub(crate) exact: bool,
}

fn level_field<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Level>, D::Error> {
    map_str(d, |s| {
        if let Some(index) = models::LEVELS.iter().position(|l| *l == s) {
            return Some(Level { index, exact: true });
        }
        let loose = s.trim().to_lowercase();
        let index = models::LEVELS.iter().position(|l| *l == loose)?;
        Some(Level {
            index,
            exact: false,
        })
    })
}

fn stamp_of<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<DateTime<Utc>>>, D::Error> {
    map_str(d, |s| Some(parse_time(s)))
}

/// The strings of an array (other items skipped), `None` for anything else;
/// without building a `serde_json::Value` first.
fn strings_of<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = a.next_element::<Item>()? {
                if let Item(Some(s)) = item {
                    out.push(s);
                }
            }
            Ok(Some(out))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            while a
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }
    /// One array item: its text when it is a string.
    struct Item(Option<String>);
    impl<'de> Deserialize<'de> for Item {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
            crate::record::lenient_string(d).map(Item)
        }
    }
    d.deserialize_any(V)
}

/// Pass 2's view of a record (and the task table's): only what they use, so
/// nothing else is allocated, and dates and names mapped without allocating.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Rec {
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) id: Option<String>,
    /// `type` is `batch`.
    #[serde(rename = "type", deserialize_with = "batch_of")]
    pub(crate) batch: Option<bool>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) task: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) original_task: Option<String>,
    #[serde(deserialize_with = "level_field")]
    pub(crate) complexity: Option<Level>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) model: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_word")]
    pub(crate) status: Option<std::borrow::Cow<'static, str>>,
    /// Outer `Some`: a string was there; inner: it parsed.
    #[serde(deserialize_with = "stamp_of")]
    pub(crate) created_at: Option<Option<DateTime<Utc>>>,
    /// See `created_at`.
    #[serde(deserialize_with = "stamp_of")]
    pub(crate) completed_at: Option<Option<DateTime<Utc>>>,
    #[serde(deserialize_with = "crate::record::lenient_word")]
    pub(crate) outcome: Option<std::borrow::Cow<'static, str>>,
    #[serde(deserialize_with = "crate::record::lenient_word")]
    pub(crate) outcome_source: Option<std::borrow::Cow<'static, str>>,
    #[serde(deserialize_with = "strings_of")]
    pub(crate) task_keywords: Option<Vec<String>>,
    #[serde(deserialize_with = "crate::record::lenient_f64")]
    pub(crate) tokens_used: Option<f64>,
    #[serde(deserialize_with = "crate::record::lenient_f64")]
    pub(crate) execution_time_seconds: Option<f64>,
    #[serde(deserialize_with = "crate::record::lenient_f64")]
    pub(crate) cost_usd: Option<f64>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) previous_dispatch_id: Option<String>,
    #[serde(deserialize_with = "super::sources::lenient_sources")]
    pub(crate) outcome_sources: Option<OutcomeSources>,
    #[serde(deserialize_with = "crate::record::lenient_f64")]
    pub(crate) p_success: Option<f64>,
}

/// Parses the orchestrator's `toISOString()` form quickly, else any RFC 3339 / date.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z'
    {
        let n = |r: std::ops::Range<usize>| -> Option<u32> {
            let mut v = 0u32;
            for c in &b[r] {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + (c - b'0') as u32;
            }
            Some(v)
        };
        let date = chrono::NaiveDate::from_ymd_opt(n(0..4)? as i32, n(5..7)?, n(8..10)?)?;
        let t = date.and_hms_milli_opt(n(11..13)?, n(14..16)?, n(17..19)?, n(20..23)?)?;
        return Some(t.and_utc());
    }
    crate::clock::parse(text)
}

/// A set of [`id_hash`]es: they are hashes already, so the set's hasher
/// only spreads them (SipHash again cost more than the lookup).
pub(crate) type IdSet = std::collections::HashSet<u64, std::hash::BuildHasherDefault<IdHasher>>;

/// The hasher of [`IdSet`].
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ *b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// FNV-1a 64 of a record id.
pub(crate) fn id_hash(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `deserialize_with` helper: the [`id_hash`] of a non-empty id string,
/// hashed where it lies in the input (no allocation); `None` for an empty
/// string or any other JSON type.
pub(crate) fn lenient_id_hash<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<u64>, D::Error> {
    crate::record::lenient_str_with(d, |s| (!s.is_empty()).then(|| id_hash(s)))
}

/// The retry link alone (the task table's first pass).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Links {
    /// Hash of the retry link (none when empty).
    #[serde(deserialize_with = "lenient_id_hash")]
    pub(crate) previous_dispatch_id: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_link_is_hashed_as_it_lies_and_nothing_else_links() {
        let link = |text: &str| {
            serde_json::from_str::<Links>(text)
                .unwrap()
                .previous_dispatch_id
        };
        let h = id_hash("dispatch-1772000000000-00ab12");
        assert_eq!(
            link(r#"{"previous_dispatch_id": "dispatch-1772000000000-00ab12"}"#),
            Some(h)
        );
        // An escaped spelling of the same id is the same id.
        assert_eq!(
            link(r#"{"previous_dispatch_id": "dispatch-1772000000000-00ab\u0031\u0032"}"#),
            Some(h)
        );
        for none in [r#""""#, "null", "7", r#"["x"]"#, r#"{"id": "x"}"#] {
            assert_eq!(
                link(&format!(r#"{{"previous_dispatch_id": {none}}}"#)),
                None,
                "{none}"
            );
        }
        assert_eq!(link("{}"), None);
    }
}
