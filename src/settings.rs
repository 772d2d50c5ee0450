//! modelfit's own settings, `logs/modelfit/config.json`. Every key is
//! optional; unknown keys are ignored, so older binaries read newer files.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::home::Home;

/// The keys `modelfit config` accepts, with what each means.
pub const KEYS: [(&str, &str); 5] = [
    (
        "reminder",
        "on/off: after each task, show the command to rate it (not seen by the model)",
    ),
    (
        "learn_every",
        "N: start `modelfit learn` in the background after N new outcomes (0: never)",
    ),
    (
        "exploration_rate",
        "0..0.5: share of `select --explore` choices given to an adjacent tier",
    ),
    (
        "router",
        "rules|orchestrator: what routes tasks (`modelfit select` rules, or the dispatcher's own selectModel); learn suggests what takes effect under it",
    ),
    (
        "database",
        "PostgreSQL URL or libpq string for `modelfit sync` / `learn --database` (off: none)",
    ),
];

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
    /// The router in use: `rules` or `orchestrator` (see [`crate::router`]).
    pub router: String,
    /// The team's PostgreSQL database (`modelfit sync`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            reminder: false,
            learn_every: 10,
            exploration_rate: 0.10,
            router: "rules".into(),
            database: None,
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

/// Sets one setting in `logs/modelfit/config.json`, keeping every other key
/// the file holds (including ones this version does not know).
pub fn set(home: &Home, key: &str, value: &str) -> Result<()> {
    let parsed = match key {
        "reminder" => Value::Bool(match value.to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" | "1" => true,
            "off" | "false" | "no" | "0" => false,
            _ => {
                return Err(Error::Invalid(format!(
                    "reminder takes on or off, not {value:?}"
                )))
            }
        }),
        "learn_every" => Value::from(value.parse::<u32>().map_err(|_| {
            Error::Invalid(format!("learn_every takes a whole number, not {value:?}"))
        })?),
        "exploration_rate" => match value.parse::<f64>() {
            Ok(r) if (0.0..=0.5).contains(&r) => Value::from(r),
            _ => {
                return Err(Error::Invalid(format!(
                    "exploration_rate takes a number from 0 to 0.5, not {value:?}"
                )))
            }
        },
        "router" => match crate::router::Router::parse(value) {
            Some(r) => Value::from(r.name()),
            None => {
                return Err(Error::Invalid(format!(
                    "router takes rules (rules as written, by `modelfit select`) or \
                     orchestrator (the dispatcher's own selectModel), not {value:?}"
                )))
            }
        },
        "database" => match value.trim() {
            "" | "off" | "none" => Value::Null,
            url => {
                crate::sync::check_url(url)?;
                Value::from(url)
            }
        },
        _ => {
            let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
            return Err(Error::Invalid(format!(
                "unknown setting {key:?}: use one of {}",
                known.join(", ")
            )));
        }
    };
    let path = home.settings();
    let mut map: Map<String, Value> = match std::fs::read(&path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(Error::Shape {
                    path,
                    message: "it is not a JSON object".into(),
                })
            }
            Err(e) => return Err(Error::parse(&path, &e)),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => return Err(Error::io("cannot read", &path, e)),
    };
    if parsed.is_null() {
        map.remove(key);
    } else {
        map.insert(key.to_string(), parsed);
    }
    let dir = home.state_dir();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create directory", &dir, e))?;
    let mut text = crate::record::to_js_pretty(&Value::Object(map), 0);
    text.push('\n');
    crate::store::write_atomic(&path, text.as_bytes())?;
    if key == "database" {
        // The URL may hold a password: readable by its owner only.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io("cannot set the permissions of", &path, e))?;
    }
    Ok(())
}
