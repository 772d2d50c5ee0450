//! Tokens to dollars, from `config/orchestrator/pricing.json` with built-in
//! current list prices for models the file lacks.
//!
//! The file's shape: `{"models": {"<id>": {"input_per_mtok": 3, "output_per_mtok": 15,
//! "cache_write_per_mtok"?: …, "cache_write_1h_per_mtok"?: …, "cache_read_per_mtok"?: …}}}`
//! (other keys such as `display_name` or `tier` are ignored). Without cache
//! prices, Anthropic's multipliers apply: 5-minute cache write 1.25 × input,
//! 1-hour cache write 2 × input, cache read 0.1 × input.
//!
//! A model id is matched, in order: exactly against the file; against the
//! file by family and version (`claude-sonnet-4-5` finds
//! `claude-sonnet-4-5-20250929`; the alias `sonnet` finds the file's newest
//! Sonnet); against the built-in table by family and version (aliases:
//! `opus` = Opus 4.6, `sonnet` = Sonnet 4.6, `haiku` = Haiku 4.5). Provider
//! prefixes and suffixes (`anthropic.`, `us.anthropic.`, `@20250805`, `-v1:0`,
//! `[1m]`, `-fast`) are ignored. An unknown model has no price and no cost.
//!
//! Long context: a request whose input side (input + cache writes + cache
//! reads) is above 200 000 tokens ([`crate::transcript::LONG_CONTEXT_TOKENS`])
//! is charged, whole, at the model's long-context price when it has one
//! (built in: Sonnet 4 and 4.5, $6 / $22.50 with the usual cache multipliers;
//! Opus 4.6, Sonnet 4.6 and later price the full window at the standard
//! rate). A `pricing.json` entry sets one with `"long_context": {"input_per_mtok": …,
//! "output_per_mtok": …, cache prices optional}` or LiteLLM-style
//! `input_per_mtok_above_200k` / `output_per_mtok_above_200k`.
//!
//! Fast mode: `usage` names a fast-mode response `<model>-fast` (as ccusage
//! does); its price is the model's times its fast multiplier (built in: Opus
//! 4.6 and 4.7 × 6, Opus 4.8 × 2, others × 1; a file entry may set
//! `fast_multiplier`, or list the `-fast` id itself).
//!
//! Not modelled: the `inference_geo: "us"` 1.1× surcharge, batch discounts.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::transcript::{Summary, Tokens};

/// Prices per million tokens for one model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Price {
    /// Uncached input.
    pub input_per_mtok: f64,
    /// Output.
    pub output_per_mtok: f64,
    /// 5-minute cache write (1.25 × input unless the file says otherwise).
    pub cache_write_per_mtok: f64,
    /// Cache read (0.1 × input unless the file says otherwise).
    pub cache_read_per_mtok: f64,
    /// 1-hour cache write (2 × input unless the file says otherwise).
    pub cache_write_1h_per_mtok: f64,
    /// The price of a whole long-context request (input side over 200 000
    /// tokens), for models that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long_context: Option<Rates>,
}

/// The five per-MTok rates of one price tier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    /// Uncached input.
    pub input_per_mtok: f64,
    /// Output.
    pub output_per_mtok: f64,
    /// 5-minute cache write.
    pub cache_write_per_mtok: f64,
    /// 1-hour cache write.
    pub cache_write_1h_per_mtok: f64,
    /// Cache read.
    pub cache_read_per_mtok: f64,
}

impl Rates {
    /// Rates with Anthropic's standard cache multipliers.
    pub fn standard(input_per_mtok: f64, output_per_mtok: f64) -> Rates {
        Rates {
            input_per_mtok,
            output_per_mtok,
            cache_write_per_mtok: input_per_mtok * 1.25,
            cache_write_1h_per_mtok: input_per_mtok * 2.0,
            cache_read_per_mtok: input_per_mtok * 0.1,
        }
    }

    /// Dollar cost of `tokens` at these rates (the 1-hour part of the cache
    /// writes at the 1-hour rate).
    pub fn cost(&self, tokens: &Tokens) -> f64 {
        let cc_1h = tokens.cache_creation_1h.min(tokens.cache_creation);
        let cc_5m = tokens.cache_creation - cc_1h;
        (tokens.input as f64 * self.input_per_mtok
            + tokens.output as f64 * self.output_per_mtok
            + cc_5m as f64 * self.cache_write_per_mtok
            + cc_1h as f64 * self.cache_write_1h_per_mtok
            + tokens.cache_read as f64 * self.cache_read_per_mtok)
            / 1e6
    }
}

impl Price {
    /// A price with Anthropic's standard cache multipliers.
    pub fn standard(input_per_mtok: f64, output_per_mtok: f64) -> Price {
        Price {
            input_per_mtok,
            output_per_mtok,
            cache_write_per_mtok: input_per_mtok * 1.25,
            cache_read_per_mtok: input_per_mtok * 0.1,
            cache_write_1h_per_mtok: input_per_mtok * 2.0,
            long_context: None,
        }
    }

    /// Every rate (both tiers) times `m`.
    pub fn times(&self, m: f64) -> Price {
        let r = |x: f64| x * m;
        Price {
            input_per_mtok: r(self.input_per_mtok),
            output_per_mtok: r(self.output_per_mtok),
            cache_write_per_mtok: r(self.cache_write_per_mtok),
            cache_read_per_mtok: r(self.cache_read_per_mtok),
            cache_write_1h_per_mtok: r(self.cache_write_1h_per_mtok),
            long_context: self.long_context.map(|l| Rates {
                input_per_mtok: r(l.input_per_mtok),
                output_per_mtok: r(l.output_per_mtok),
                cache_write_per_mtok: r(l.cache_write_per_mtok),
                cache_write_1h_per_mtok: r(l.cache_write_1h_per_mtok),
                cache_read_per_mtok: r(l.cache_read_per_mtok),
            }),
        }
    }

    /// The standard-tier rates.
    pub fn rates(&self) -> Rates {
        Rates {
            input_per_mtok: self.input_per_mtok,
            output_per_mtok: self.output_per_mtok,
            cache_write_per_mtok: self.cache_write_per_mtok,
            cache_write_1h_per_mtok: self.cache_write_1h_per_mtok,
            cache_read_per_mtok: self.cache_read_per_mtok,
        }
    }

    /// Dollar cost of `tokens`, of which `long` came from long-context
    /// requests: those at the long-context rates when the model has them.
    pub fn cost_tiered(&self, tokens: &Tokens, long: Option<&Tokens>) -> f64 {
        match (long, &self.long_context) {
            (Some(l), Some(lc)) => {
                let standard = Tokens {
                    input: tokens.input.saturating_sub(l.input),
                    output: tokens.output.saturating_sub(l.output),
                    cache_creation: tokens.cache_creation.saturating_sub(l.cache_creation),
                    cache_read: tokens.cache_read.saturating_sub(l.cache_read),
                    cache_creation_1h: tokens.cache_creation_1h.saturating_sub(l.cache_creation_1h),
                };
                self.rates().cost(&standard) + lc.cost(l)
            }
            _ => self.cost(tokens),
        }
    }

    /// Dollar cost of `tokens` at the standard tier. The 1-hour part of the
    /// cache writes (`cache_creation_1h`) is priced at the 1-hour rate. (No
    /// long-context premium: see [`Price::cost_tiered`].)
    pub fn cost(&self, tokens: &Tokens) -> f64 {
        self.rates().cost(tokens)
    }
}

/// Where a price came from, so reports can say which was used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum PriceSource {
    /// `pricing.json` listed the model.
    PricingFile,
    /// Built-in list price for the model family and version.
    BuiltIn,
    /// Unknown model: no cost computed.
    Unknown,
}

impl PriceSource {
    /// `pricing.json`, `built-in` or `unknown`, for reports.
    pub fn label(&self) -> &'static str {
        match self {
            PriceSource::PricingFile => "pricing.json",
            PriceSource::BuiltIn => "built-in",
            PriceSource::Unknown => "unknown",
        }
    }
}

/// The price table: pricing.json merged over the built-in list.
#[derive(Debug, Clone, Default)]
pub struct Pricing {
    /// The file's entries, by id as written.
    file: BTreeMap<String, Price>,
    /// The file's `fast_multiplier`s, by id as written.
    fast: BTreeMap<String, f64>,
    /// Problems met while loading the file (unreadable, malformed entries).
    pub warnings: Vec<String>,
}

/// Family and version parsed from a model id, e.g. `("sonnet", 4, 5)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    family: &'static str,
    major: u32,
    minor: u32,
}

const FAMILIES: [&str; 3] = ["opus", "sonnet", "haiku"];

/// What a bare alias means when nothing else decides it.
fn alias_default(family: &str) -> Option<Key> {
    let (major, minor) = match family {
        "opus" => (4, 6),
        "sonnet" => (4, 6),
        "haiku" => (4, 5),
        _ => return None,
    };
    Some(Key {
        family: FAMILIES.iter().find(|f| **f == family)?,
        major,
        minor,
    })
}

/// Anthropic list prices (platform.claude.com pricing and model pages).
fn built_in(k: Key) -> Option<Price> {
    Some(match (k.family, k.major, k.minor) {
        ("opus", 5, 5) => Price {
            input_per_mtok: 4.0,
            output_per_mtok: 20.0,
            cache_write_per_mtok: 5.0,
            cache_read_per_mtok: 0.20,
            cache_write_1h_per_mtok: 8.0,
            long_context: None,
        },
        // 1M-context beta: a request over 200k input costs 2× input, 1.5× output.
        ("sonnet", 4, m) if m < 6 => Price {
            long_context: Some(Rates::standard(6.0, 22.5)),
            ..Price::standard(3.0, 15.0)
        },
        ("opus", 5, 0) => Price::standard(5.0, 25.0),
        ("opus", 4, m) if m >= 5 => Price::standard(5.0, 25.0),
        ("opus", 4, _) => Price::standard(15.0, 75.0),
        ("opus", 3, _) => Price::standard(15.0, 75.0),
        ("sonnet", 5, 0) => Price::standard(2.0, 10.0),
        ("sonnet", 4, _) => Price::standard(3.0, 15.0),
        ("sonnet", 3, m) if m >= 5 => Price::standard(3.0, 15.0),
        ("haiku", 4, _) => Price::standard(1.0, 5.0),
        ("haiku", 3, 5) => Price::standard(0.80, 4.0),
        ("haiku", 3, 0) => Price::standard(0.25, 1.25),
        _ => return None,
    })
}

/// Fast-mode multiplier of a built-in model (Anthropic's fast-mode prices).
fn fast_multiplier(k: Key) -> f64 {
    match (k.family, k.major, k.minor) {
        ("opus", 4, 6) | ("opus", 4, 7) => 6.0,
        ("opus", 4, 8) => 2.0,
        _ => 1.0,
    }
}

/// Strips provider decorations: `anthropic/`, `us.anthropic.`, `@date`,
/// `-v1:0`, `[1m]`, `-fast`; lower-cases.
fn normalize(model: &str) -> String {
    let mut m = model.trim().to_ascii_lowercase();
    if let Some(i) = m.rfind('/') {
        m = m[i + 1..].to_string();
    }
    if let Some(i) = m.find("anthropic.") {
        m = m[i + "anthropic.".len()..].to_string();
    }
    if let Some(i) = m.find(['@', '[']) {
        m.truncate(i);
    }
    if let Some(i) = m.rfind("-v") {
        if m[i + 2..].chars().all(|c| c.is_ascii_digit() || c == ':') && m.len() > i + 2 {
            m.truncate(i);
        }
    }
    for suffix in ["-fast", "-latest"] {
        if let Some(s) = m.strip_suffix(suffix) {
            m = s.to_string();
        }
    }
    m
}

/// Parses `claude-opus-4-5-20251101`, `claude-3-5-haiku-20241022`,
/// `claude-opus-4-20250514`, `opus`, … into family and version.
/// `Ok(None)`-like `(family, None)` for a bare alias.
fn parse(model: &str) -> Option<(&'static str, Option<(u32, u32)>)> {
    let m = normalize(model);
    let parts: Vec<&str> = m.split(['-', '_', '.', ' ']).collect();
    let family = *FAMILIES
        .iter()
        .find(|f| parts.iter().any(|p| p == *f || p.starts_with(*f)))?;
    // Version numbers are the short numeric parts; 8-digit dates are not.
    let nums: Vec<u32> = parts
        .iter()
        .filter(|p| !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_digit()))
        .filter_map(|p| p.parse().ok())
        .collect();
    match nums.first() {
        None => Some((family, None)),
        Some(&major) => Some((family, Some((major, nums.get(1).copied().unwrap_or(0))))),
    }
}

fn key_of(model: &str) -> Option<Key> {
    match parse(model)? {
        (family, Some((major, minor))) => Some(Key {
            family,
            major,
            minor,
        }),
        (family, None) => alias_default(family),
    }
}

impl Pricing {
    /// Loads `pricing.json` (a missing or unreadable file leaves the built-in table).
    pub fn load(path: &Path) -> Pricing {
        let mut p = Pricing::default();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return p,
            Err(e) => {
                p.warnings.push(format!(
                    "cannot read {}: {e}; using built-in prices",
                    path.display()
                ));
                return p;
            }
        };
        let v: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                p.warnings.push(format!(
                    "{} is not valid JSON ({e}); using built-in prices",
                    path.display()
                ));
                return p;
            }
        };
        let Some(models) = v.get("models").and_then(|m| m.as_object()) else {
            p.warnings.push(format!(
                "{} has no \"models\" object; using built-in prices",
                path.display()
            ));
            return p;
        };
        for (id, entry) in models {
            let num = |names: &[&str]| {
                names
                    .iter()
                    .find_map(|n| entry.get(*n).and_then(|x| x.as_f64()))
                    .filter(|x| x.is_finite() && *x >= 0.0)
            };
            let (Some(input), Some(output)) = (num(&["input_per_mtok"]), num(&["output_per_mtok"]))
            else {
                p.warnings.push(format!(
                    "{}: model {id:?} lacks numeric input_per_mtok / output_per_mtok; ignored",
                    path.display()
                ));
                continue;
            };
            let mut price = Price::standard(input, output);
            if let Some(x) = num(&[
                "cache_write_per_mtok",
                "cache_write_5m_per_mtok",
                "cache_creation_per_mtok",
            ]) {
                price.cache_write_per_mtok = x;
            }
            if let Some(x) = num(&["cache_write_1h_per_mtok"]) {
                price.cache_write_1h_per_mtok = x;
            }
            if let Some(x) = num(&["cache_read_per_mtok"]) {
                price.cache_read_per_mtok = x;
            }
            price.long_context = long_context_entry(entry);
            if let Some(x) = num(&["fast_multiplier"]) {
                p.fast.insert(id.clone(), x);
            }
            p.file.insert(id.clone(), price);
        }
        p
    }

    /// The price of `model` (full id or alias) and where it came from.
    pub fn price(&self, model: &str) -> (Option<Price>, PriceSource) {
        match self.lookup(model) {
            Some((p, src, _)) => (Some(p), src),
            None => (None, PriceSource::Unknown),
        }
    }

    /// Like [`Pricing::price`], also naming the entry used (the file's id, or
    /// e.g. `built-in claude-opus-4-6`).
    pub fn lookup(&self, model: &str) -> Option<(Price, PriceSource, String)> {
        if let Some(p) = self.file.get(model) {
            return Some((*p, PriceSource::PricingFile, model.to_string()));
        }
        // Fast mode: the model's price times its fast multiplier.
        let lower = model.trim().to_ascii_lowercase();
        if let Some(base) = lower.strip_suffix("-fast") {
            let (p, src, entry) = self.lookup(&model.trim()[..base.len()])?;
            let m = self
                .fast
                .get(&entry)
                .copied()
                .or_else(|| key_of(base).map(fast_multiplier))
                .unwrap_or(1.0);
            return Some((p.times(m), src, format!("{entry} × {m} fast")));
        }
        let parsed = parse(model)?;
        // The file, by family and version; a bare alias takes the newest.
        let mut best: Option<(Key, &String, &Price)> = None;
        for (id, p) in &self.file {
            let Some(k) = key_of(id) else { continue };
            if parse(id).is_some_and(|(_, v)| v.is_none()) {
                // An alias entry in the file (`"sonnet": {...}`).
                if parsed.1.is_none() && k.family == parsed.0 {
                    return Some((*p, PriceSource::PricingFile, id.clone()));
                }
                continue;
            }
            let wanted = match parsed.1 {
                Some((major, minor)) => {
                    k.family == parsed.0 && k.major == major && k.minor == minor
                }
                None => k.family == parsed.0,
            };
            if wanted && best.as_ref().is_none_or(|(bk, _, _)| k > *bk) {
                best = Some((k, id, p));
            }
        }
        if let Some((_, id, p)) = best {
            return Some((*p, PriceSource::PricingFile, id.clone()));
        }
        let k = key_of(model)?;
        let p = built_in(k)?;
        let name = if k.minor == 0 && k.major >= 4 {
            format!("claude-{}-{}", k.family, k.major)
        } else {
            format!("claude-{}-{}-{}", k.family, k.major, k.minor)
        };
        Some((p, PriceSource::BuiltIn, format!("built-in {name}")))
    }

    /// Dollar cost of `tokens` on `model`, if the model has a price, at the
    /// standard tier (use [`Pricing::summary_cost`] to price long-context
    /// requests at their rate).
    pub fn cost(&self, model: &str, tokens: &Tokens) -> Option<f64> {
        let (p, _) = self.price(model);
        p.map(|p| p.cost(tokens))
    }

    /// Dollar cost of `model`'s tokens in `s`, long-context requests at the
    /// long-context rate where the model has one.
    pub fn model_cost(&self, s: &Summary, model: &str) -> Option<f64> {
        let (p, _) = self.price(model);
        let t = s.by_model.get(model)?;
        p.map(|p| p.cost_tiered(t, s.long_context.get(model)))
    }

    /// Cost of a summary over the models that have a price (`None` if none
    /// has), and the models that have none.
    pub fn summary_cost(&self, s: &Summary) -> (Option<f64>, Vec<String>) {
        let mut cost = None;
        let mut unpriced = Vec::new();
        for m in s.by_model.keys() {
            match self.model_cost(s, m) {
                Some(c) => *cost.get_or_insert(0.0) += c,
                None => unpriced.push(m.clone()),
            }
        }
        (cost, unpriced)
    }
}

/// A file entry's long-context rates: a `long_context` object, or
/// LiteLLM-style `*_per_mtok_above_200k` keys.
fn long_context_entry(entry: &serde_json::Value) -> Option<Rates> {
    let num = |o: &serde_json::Value, k: &str| {
        o.get(k)
            .and_then(|x| x.as_f64())
            .filter(|x| x.is_finite() && *x >= 0.0)
    };
    let (obj, suffix) = match entry.get("long_context").filter(|v| v.is_object()) {
        Some(o) => (o, ""),
        None => (entry, "_above_200k"),
    };
    let key = |k: &str| format!("{k}{suffix}");
    let input = num(obj, &key("input_per_mtok"))?;
    let output = num(obj, &key("output_per_mtok"))?;
    let mut r = Rates::standard(input, output);
    if let Some(x) = num(obj, &key("cache_write_per_mtok")) {
        r.cache_write_per_mtok = x;
    }
    if let Some(x) = num(obj, &key("cache_write_1h_per_mtok")) {
        r.cache_write_1h_per_mtok = x;
    }
    if let Some(x) = num(obj, &key("cache_read_per_mtok")) {
        r.cache_read_per_mtok = x;
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built() -> Pricing {
        Pricing::default()
    }

    fn input(p: &Pricing, m: &str) -> Option<f64> {
        p.price(m).0.map(|p| p.input_per_mtok)
    }

    #[test]
    fn built_in_families_and_versions() {
        let p = built();
        assert_eq!(input(&p, "claude-opus-4-6"), Some(5.0));
        assert_eq!(input(&p, "claude-opus-4-5-20251101"), Some(5.0));
        assert_eq!(input(&p, "claude-opus-4-1-20250805"), Some(15.0));
        assert_eq!(input(&p, "claude-opus-4-20250514"), Some(15.0));
        assert_eq!(input(&p, "claude-sonnet-4-20250514"), Some(3.0));
        assert_eq!(input(&p, "claude-sonnet-4-5-20250929"), Some(3.0));
        assert_eq!(input(&p, "claude-sonnet-4-6"), Some(3.0));
        assert_eq!(input(&p, "claude-haiku-4-5-20251001"), Some(1.0));
        assert_eq!(input(&p, "claude-3-5-haiku-20241022"), Some(0.80));
        assert_eq!(input(&p, "claude-3-7-sonnet-20250219"), Some(3.0));
        assert_eq!(p.price("claude-opus-4-6").1, PriceSource::BuiltIn);
    }

    #[test]
    fn aliases_and_decorations() {
        let p = built();
        assert_eq!(input(&p, "opus"), Some(5.0));
        assert_eq!(input(&p, "sonnet"), Some(3.0));
        assert_eq!(input(&p, "haiku"), Some(1.0));
        assert_eq!(input(&p, "opus[1m]"), Some(5.0));
        assert_eq!(
            input(&p, "us.anthropic.claude-opus-4-1-20250805-v1:0"),
            Some(15.0)
        );
        assert_eq!(input(&p, "claude-opus-4-1@20250805"), Some(15.0));
        assert_eq!(input(&p, "anthropic/claude-sonnet-4-5"), Some(3.0));
        // Fast mode: Opus 4.6 × 6; a model without a fast multiplier × 1.
        assert_eq!(input(&p, "claude-opus-4-6-fast"), Some(30.0));
        assert_eq!(input(&p, "claude-sonnet-4-5-fast"), Some(3.0));
        assert_eq!(input(&p, "Claude-Haiku-4-5"), Some(1.0));
    }

    #[test]
    fn unknown_models_have_no_price() {
        let p = built();
        for m in [
            "",
            "<synthetic>",
            "gpt-4o",
            "claude-instant-1",
            "claude-haiku-9-9",
            "🦀",
        ] {
            assert_eq!(p.price(m), (None, PriceSource::Unknown), "{m}");
            assert_eq!(p.cost(m, &Tokens::default()), None);
        }
    }

    #[test]
    fn cache_multipliers_and_1h_writes() {
        let p = built();
        let t = Tokens {
            input: 1_000_000,
            output: 1_000_000,
            cache_creation: 1_000_000,
            cache_read: 1_000_000,
            cache_creation_1h: 0,
        };
        // Opus 4.6: 5 + 25 + 6.25 + 0.5
        let c = p.cost("claude-opus-4-6", &t).unwrap();
        assert!((c - 36.75).abs() < 1e-9, "{c}");
        // Half the writes with the 1-hour TTL: 0.5 × 6.25 + 0.5 × 10.
        let t = Tokens {
            cache_creation_1h: 500_000,
            ..t
        };
        let c = p.cost("claude-opus-4-6", &t).unwrap();
        assert!((c - (5.0 + 25.0 + 3.125 + 5.0 + 0.5)).abs() < 1e-9, "{c}");
    }

    #[test]
    fn file_wins_for_its_ids_and_fills_cache_prices() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pricing.json");
        std::fs::write(
            &f,
            r#"{"models": {
                "claude-opus-4-5-20251101": {"input_per_mtok": 15, "output_per_mtok": 75},
                "claude-haiku-4-5-20251001": {"input_per_mtok": 0.8, "output_per_mtok": 4,
                                              "cache_read_per_mtok": 0.05},
                "broken": {"input_per_mtok": "cheap"}
            }}"#,
        )
        .unwrap();
        let p = Pricing::load(&f);
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        let (price, src) = p.price("claude-opus-4-5-20251101");
        assert_eq!(src, PriceSource::PricingFile);
        let price = price.unwrap();
        assert_eq!(price.output_per_mtok, 75.0);
        assert_eq!(price.cache_write_per_mtok, 18.75);
        assert_eq!(price.cache_read_per_mtok, 1.5);
        // An undated id and the alias find the file's entry too.
        assert_eq!(p.price("claude-opus-4-5").1, PriceSource::PricingFile);
        assert_eq!(p.price("haiku").1, PriceSource::PricingFile);
        assert_eq!(p.price("haiku").0.unwrap().cache_read_per_mtok, 0.05);
        // Not in the file: built-in.
        let (price, src) = p.price("claude-opus-4-6");
        assert_eq!(
            (price.unwrap().input_per_mtok, src),
            (5.0, PriceSource::BuiltIn)
        );
        assert_eq!(p.price("opus").1, PriceSource::PricingFile);
    }

    #[test]
    fn long_context_requests_are_priced_whole_at_the_long_rate() {
        let p = built();
        let t = Tokens {
            input: 1_000_000,
            output: 1_000_000,
            cache_creation: 1_000_000,
            cache_read: 1_000_000,
            cache_creation_1h: 0,
        };
        let sonnet = p.price("claude-sonnet-4-5-20250929").0.unwrap();
        // All of it long: 6 + 22.5 + 7.5 + 0.6.
        let c = sonnet.cost_tiered(&t, Some(&t));
        assert!((c - 36.6).abs() < 1e-9, "{c}");
        // None of it long: the standard 3 + 15 + 3.75 + 0.3.
        assert!((sonnet.cost_tiered(&t, None) - 22.05).abs() < 1e-9);
        // Half long.
        let half = Tokens {
            input: 500_000,
            output: 500_000,
            cache_creation: 500_000,
            cache_read: 500_000,
            cache_creation_1h: 0,
        };
        let c = sonnet.cost_tiered(&t, Some(&half));
        assert!((c - (36.6 + 22.05) / 2.0).abs() < 1e-9, "{c}");
        // Opus 4.6 and Sonnet 4.6: the whole window at the standard rate.
        for m in ["claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5"] {
            let pr = p.price(m).0.unwrap();
            assert_eq!(pr.long_context, None, "{m}");
            assert_eq!(pr.cost_tiered(&t, Some(&t)), pr.cost(&t), "{m}");
        }
    }

    #[test]
    fn pricing_file_sets_long_context_rates() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pricing.json");
        std::fs::write(
            &f,
            r#"{"models": {
                "claude-opus-4-6": {"input_per_mtok": 5, "output_per_mtok": 25,
                    "long_context": {"input_per_mtok": 10, "output_per_mtok": 37.5, "cache_read_per_mtok": 1}},
                "claude-sonnet-4-6": {"input_per_mtok": 3, "output_per_mtok": 15,
                    "input_per_mtok_above_200k": 6, "output_per_mtok_above_200k": 22.5},
                "claude-haiku-4-5": {"input_per_mtok": 1, "output_per_mtok": 5}
            }}"#,
        )
        .unwrap();
        let p = Pricing::load(&f);
        let lc = p.price("claude-opus-4-6").0.unwrap().long_context.unwrap();
        assert_eq!((lc.input_per_mtok, lc.output_per_mtok), (10.0, 37.5));
        assert_eq!(
            (lc.cache_write_per_mtok, lc.cache_read_per_mtok),
            (12.5, 1.0)
        );
        let lc = p
            .price("claude-sonnet-4-6")
            .0
            .unwrap()
            .long_context
            .unwrap();
        assert_eq!((lc.input_per_mtok, lc.cache_write_1h_per_mtok), (6.0, 12.0));
        assert_eq!(p.price("claude-haiku-4-5").0.unwrap().long_context, None);
        // summary_cost prices each model's long part at its tier.
        let mut s = Summary::default();
        let t = Tokens {
            output: 1_000_000,
            ..Tokens::default()
        };
        s.by_model.insert("claude-opus-4-6".into(), t);
        s.long_context.insert("claude-opus-4-6".into(), t);
        s.by_model.insert("mystery".into(), t);
        let (c, unpriced) = p.summary_cost(&s);
        assert_eq!(c, Some(37.5));
        assert_eq!(unpriced, vec!["mystery".to_string()]);
    }

    #[test]
    fn bad_files_leave_built_ins() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Pricing::load(&dir.path().join("nope.json"));
        assert!(missing.warnings.is_empty());
        assert_eq!(input(&missing, "sonnet"), Some(3.0));
        let f = dir.path().join("pricing.json");
        for text in ["{not json", "[1,2]", "{\"models\": 3}"] {
            std::fs::write(&f, text).unwrap();
            let p = Pricing::load(&f);
            assert_eq!(p.warnings.len(), 1, "{text}");
            assert_eq!(input(&p, "opus"), Some(5.0));
        }
    }
}
