//! modelfit's own settings, `logs/modelfit/config.json`. Every key is
//! optional; unknown keys are ignored, so older binaries read newer files.

use serde::{Deserialize, Serialize};

use crate::home::Home;

/// Settings with their defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// After a task, remind the person how to rate it (off by default).
    pub reminder: bool,
    /// Start `modelfit learn` in the background after this many new outcomes (0: never).
    pub learn_every: u32,
    /// Exploration rate of `select --explore`.
    pub exploration_rate: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            reminder: false,
            learn_every: 10,
            exploration_rate: 0.10,
        }
    }
}

impl Settings {
    /// Reads the settings of `home`; a missing or unreadable file gives the
    /// defaults (a hook must not fail over settings).
    pub fn load(home: &Home) -> Settings {
        std::fs::read(home.settings())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}
