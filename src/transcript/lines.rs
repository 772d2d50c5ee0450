//! Lenient line shapes: a field of an unexpected type reads as absent
//! instead of failing the whole line.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::Tokens;

#[derive(Deserialize)]
pub(super) struct Line<'a> {
    #[serde(rename = "type", borrow, default)]
    pub(super) kind: LStr<'a>,
    #[serde(borrow, default)]
    pub(super) subtype: LStr<'a>,
    #[serde(borrow, default)]
    pub(super) timestamp: LStr<'a>,
    #[serde(rename = "requestId", borrow, default)]
    pub(super) request_id: LStr<'a>,
    #[serde(rename = "sessionId", borrow, default)]
    pub(super) session_id: LStr<'a>,
    #[serde(borrow, default)]
    pub(super) version: LStr<'a>,
    #[serde(rename = "isApiErrorMessage", default)]
    pub(super) is_api_error: LBool,
    #[serde(rename = "isMeta", default)]
    pub(super) is_meta: LBool,
    #[serde(rename = "isCompactSummary", default)]
    pub(super) is_compact_summary: LBool,
    #[serde(rename = "isSidechain", default)]
    pub(super) is_sidechain: LBool,
    #[serde(borrow, default)]
    pub(super) message: Obj<Message<'a>>,
    #[serde(rename = "toolUseResult", borrow, default)]
    pub(super) tool_use_result: Obj<ToolUseResult<'a>>,
    #[serde(borrow, default)]
    pub(super) origin: Obj<Origin<'a>>,
    #[serde(rename = "agentId", borrow, default)]
    pub(super) agent_id: LStr<'a>,
}

#[derive(Deserialize)]
pub(super) struct Message<'a> {
    #[serde(borrow, default)]
    pub(super) id: LStr<'a>,
    #[serde(borrow, default)]
    pub(super) model: LStr<'a>,
    #[serde(default)]
    pub(super) usage: Obj<Usage>,
    #[serde(borrow, default)]
    pub(super) content: Option<Content<'a>>,
}

#[derive(Deserialize)]
pub(super) struct Origin<'a> {
    #[serde(borrow, default)]
    pub(super) kind: LStr<'a>,
}

#[derive(Deserialize)]
pub(super) struct ToolUseResult<'a> {
    #[serde(rename = "agentId", borrow, default)]
    pub(super) agent_id: LStr<'a>,
    #[serde(default)]
    pub(super) usage: Obj<Usage>,
}

#[derive(Deserialize)]
pub(super) struct Usage {
    #[serde(default)]
    pub(super) input_tokens: LU64,
    #[serde(default)]
    pub(super) output_tokens: LU64,
    #[serde(default)]
    pub(super) cache_creation_input_tokens: LU64,
    #[serde(default)]
    pub(super) cache_read_input_tokens: LU64,
    #[serde(default)]
    pub(super) cache_creation: Obj<CacheCreation>,
    #[serde(default)]
    pub(super) speed: LFast,
}

#[derive(Deserialize)]
pub(super) struct CacheCreation {
    #[serde(default)]
    pub(super) ephemeral_1h_input_tokens: LU64,
}

impl Usage {
    pub(super) fn tokens(&self) -> Tokens {
        let cc = self.cache_creation_input_tokens.0;
        Tokens {
            input: self.input_tokens.0,
            output: self.output_tokens.0,
            cache_creation: cc,
            cache_read: self.cache_read_input_tokens.0,
            cache_creation_1h: self
                .cache_creation
                .0
                .as_ref()
                .map_or(0, |c| c.ephemeral_1h_input_tokens.0.min(cc)),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Block<'a> {
    #[serde(rename = "type", borrow, default)]
    pub(super) kind: LStr<'a>,
    #[serde(borrow, default)]
    pub(super) text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) name: LStr<'a>,
    #[serde(borrow, default)]
    pub(super) input: Obj<ToolInput<'a>>,
    #[serde(default)]
    pub(super) is_error: LBool,
}

impl Block<'_> {
    /// The text, decoded only when needed (assistant text is skipped unread).
    pub(super) fn text_str(&self) -> Option<Cow<'_, str>> {
        let raw = self.text?;
        serde_json::from_str::<LStr>(raw.get()).ok()?.0
    }
}

#[derive(Deserialize)]
pub(super) struct ToolInput<'a> {
    #[serde(borrow, default)]
    pub(super) file_path: LStr<'a>,
    #[serde(borrow, default)]
    pub(super) notebook_path: LStr<'a>,
}

pub(super) enum Content<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<Obj<Block<'a>>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Content<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("message content")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Content::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Content::Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Content::Text(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(b) = seq.next_element::<Obj<Block<'a>>>()? {
                    v.push(b);
                }
                Ok(Content::Blocks(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map)?;
                Ok(Content::Blocks(Vec::new()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Content::Blocks(Vec::new()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Content::Blocks(Vec::new()))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Content::Blocks(Vec::new()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Content::Blocks(Vec::new()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Content::Blocks(Vec::new()))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Implements the visitor methods for every JSON kind a lenient field does
/// not want, mapping them to its empty value.
macro_rules! ignore_other_kinds {
    ($empty:expr; $($skip:ident),*) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> { Ok($empty) }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            drain_map(map)?;
            Ok($empty)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            drain_seq(seq)?;
            Ok($empty)
        }
        $(ignore_other_kinds!(@one $skip $empty);)*
    };
    (@one bool $empty:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> { Ok($empty) }
    };
    (@one num $empty:expr) => {
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> { Ok($empty) }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> { Ok($empty) }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> { Ok($empty) }
    };
    (@one str $empty:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> { Ok($empty) }
    };
}

/// A string, or absent for any other JSON value.
#[derive(Default)]
pub(super) struct LStr<'a>(pub(super) Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for LStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = LStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(LStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LStr(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(LStr(Some(Cow::Owned(v))))
            }
            ignore_other_kinds!(LStr(None); bool, num);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// `true` only for JSON `true`.
#[derive(Default)]
pub(super) struct LBool(pub(super) bool);

impl<'de> Deserialize<'de> for LBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LBool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(LBool(v))
            }
            ignore_other_kinds!(LBool(false); num, str);
        }
        d.deserialize_any(V)
    }
}

/// `usage.speed`: true only for the string `"fast"` (fast mode).
#[derive(Default)]
pub(super) struct LFast(pub(super) bool);

impl<'de> Deserialize<'de> for LFast {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LFast;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LFast(v == "fast"))
            }
            ignore_other_kinds!(LFast(false); bool, num);
        }
        d.deserialize_any(V)
    }
}

/// A non-negative integer (a float is truncated), or 0 for anything else.
#[derive(Default)]
pub(super) struct LU64(pub(super) u64);

impl<'de> Deserialize<'de> for LU64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LU64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(LU64(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(LU64(v.max(0) as u64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(LU64(if v.is_finite() && v > 0.0 {
                    v as u64
                } else {
                    0
                }))
            }
            ignore_other_kinds!(LU64(0); bool, str);
        }
        d.deserialize_any(V)
    }
}

/// An object of shape `T`, or absent for any other JSON value.
pub(super) struct Obj<T>(pub(super) Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Obj(Some(t)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq)?;
                Ok(Obj(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}
