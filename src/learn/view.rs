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

/// Pass 2's view of a record: only what analyze uses, so nothing else is allocated.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Rec {
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) id: Option<String>,
    #[serde(rename = "type", deserialize_with = "crate::record::lenient_string")]
    pub(crate) kind: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) task: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) original_task: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) complexity: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) model: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) status: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) created_at: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) completed_at: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) outcome: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) outcome_source: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_strings")]
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
pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
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

/// FNV-1a 64 of a record id.
pub(crate) fn id_hash(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The retry link alone (the task table's first pass).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Links {
    #[serde(deserialize_with = "crate::record::lenient_string")]
    pub(crate) previous_dispatch_id: Option<String>,
}
