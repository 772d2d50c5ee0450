//! Tokens to dollars, from `config/orchestrator/pricing.json` with built-in
//! current list prices for models the file lacks.
//!
//! INTERFACE STUB: the bodies are being written (issue 3).

use std::path::Path;

use serde::Serialize;

use crate::transcript::Tokens;

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

/// The price table: pricing.json merged over the built-in list.
#[derive(Debug, Clone, Default)]
pub struct Pricing {}

impl Pricing {
    /// Loads `pricing.json` (a missing or unreadable file leaves the built-in table).
    pub fn load(path: &Path) -> Pricing {
        let _ = path;
        Pricing {}
    }

    /// The price of `model` (full id or alias) and where it came from.
    pub fn price(&self, model: &str) -> (Option<Price>, PriceSource) {
        let _ = model;
        (None, PriceSource::Unknown)
    }

    /// Dollar cost of `tokens` on `model`, if the model has a price.
    pub fn cost(&self, model: &str, tokens: &Tokens) -> Option<f64> {
        let (p, _) = self.price(model);
        p.map(|p| {
            (tokens.input as f64 * p.input_per_mtok
                + tokens.output as f64 * p.output_per_mtok
                + tokens.cache_creation as f64 * p.cache_write_per_mtok
                + tokens.cache_read as f64 * p.cache_read_per_mtok)
                / 1e6
        })
    }
}
