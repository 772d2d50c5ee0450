//! The `models.json` rule grammar: parse, evaluate, edit; and `select`.
//!
//! INTERFACE STUB: bodies are being written.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::home::Home;

/// One `rules` entry: `{"if": "...", "use": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rule {
    /// The condition text, e.g. `task contains 'api' or 'endpoint'`.
    #[serde(rename = "if")]
    pub condition: String,
    /// A model id or alias (`opus`, `sonnet`, `haiku`).
    #[serde(rename = "use")]
    pub model: String,
}

/// What `select` chose and why.
#[derive(Debug, Clone, Serialize)]
pub struct Selection {
    /// The full model id to use.
    pub model: String,
    /// The rule that matched (its index and text), if one did.
    pub rule: Option<(usize, Rule)>,
    /// True when exploration picked an adjacent tier instead of the rule's model.
    pub explored: bool,
}

/// Inputs of `select`.
#[derive(Debug, Clone, Default)]
pub struct SelectInput {
    /// `simple`, `medium` or `complex`.
    pub complexity: String,
    /// The task text.
    pub task: String,
    /// Number of files the task is expected to touch, if known.
    pub estimated_files: Option<u32>,
    /// Explore adjacent tiers at the exploration rate.
    pub explore: bool,
}

/// Evaluates models.json's rules for a task, first match wins, falling back to
/// the complexity's model.
pub fn select(home: &Home, input: &SelectInput) -> Result<Selection> {
    let _ = (home, input);
    Err(Error::Invalid("select: not built yet".into()))
}
