//! Registering modelfit's hooks in Claude Code's user settings
//! (`$CLAUDE_CONFIG_DIR/settings.json`, default `~/.claude/settings.json`).
//!
//! Install merges the entries of `hooks/claude-settings.json` (with the
//! absolute path of the installed binary) into the file, keeping every other
//! key, hook and their order; backs up the previous bytes; changes nothing
//! when the entries are already there. Uninstall removes exactly those
//! entries. A file that does not parse is never written.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::record::to_js_pretty;

/// The hook snippet shipped in `hooks/claude-settings.json`; `MODELFIT_BIN`
/// stands for the binary's absolute path.
pub const SNIPPET: &str = include_str!("../hooks/claude-settings.json");

/// The placeholder in [`SNIPPET`].
const PLACEHOLDER: &str = "MODELFIT_BIN";

/// Claude Code's user settings file: `$CLAUDE_CONFIG_DIR/settings.json`,
/// else `~/.claude/settings.json`.
pub fn settings_path() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CLAUDE_CONFIG_DIR").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir).join("settings.json"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".claude").join("settings.json")),
        None => Err(Error::Invalid(
            "cannot find Claude Code's settings: set CLAUDE_CONFIG_DIR or HOME".into(),
        )),
    }
}

/// The hook command for the binary at `exe`: its path (quoted for `sh` when
/// needed) followed by ` hook`.
pub fn hook_command(exe: &Path) -> String {
    let p = exe.to_string_lossy();
    let plain = p
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b));
    if plain {
        format!("{p} hook")
    } else {
        format!("'{}' hook", p.replace('\'', r"'\''"))
    }
}

/// The events modelfit registers, with the handler object for each.
fn wanted(command: &str) -> Vec<(String, Value)> {
    let snippet: Value = serde_json::from_str(SNIPPET).expect("hooks/claude-settings.json parses");
    let mut out = Vec::new();
    if let Some(events) = snippet.get("hooks").and_then(Value::as_object) {
        for (event, groups) in events {
            for g in groups.as_array().into_iter().flatten() {
                for h in g
                    .get("hooks")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let mut h = h.clone();
                    if let Some(c) = h.get_mut("command") {
                        *c = Value::String(
                            c.as_str()
                                .unwrap_or_default()
                                .replace(&format!("{PLACEHOLDER} hook"), command),
                        );
                    }
                    out.push((event.clone(), h));
                }
            }
        }
    }
    out
}

/// Whether a handler is modelfit's: its command is `<…/modelfit> hook`.
pub fn is_modelfit_handler(h: &Value) -> bool {
    let Some(cmd) = h.get("command").and_then(Value::as_str) else {
        return false;
    };
    let Some(prog) = cmd.trim().strip_suffix(" hook") else {
        return false;
    };
    let prog = prog.trim().trim_matches('\'');
    Path::new(prog).file_name().is_some_and(|n| n == "modelfit")
}

/// What install or uninstall did.
#[derive(Debug)]
pub struct Outcome {
    /// The file written (symlinks followed).
    pub path: PathBuf,
    /// Whether the file changed.
    pub changed: bool,
    /// Where the previous bytes were saved, if the file changed and existed.
    pub backup: Option<PathBuf>,
    /// Events touched.
    pub events: Vec<String>,
}

struct Loaded {
    target: PathBuf,
    original: Option<Vec<u8>>,
    value: Map<String, Value>,
}

fn load(path: &Path) -> Result<Loaded> {
    // Follow symlinks: write through them to the real file.
    let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let original = match fs::read(&target) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("cannot read", &target, e)),
    };
    let value = match &original {
        Some(b) if !b.iter().all(u8::is_ascii_whitespace) => {
            match serde_json::from_slice::<Value>(b).map_err(|e| Error::parse(&target, &e))? {
                Value::Object(m) => m,
                _ => {
                    return Err(Error::Shape {
                        path: target,
                        message: "the top level is not a JSON object".into(),
                    })
                }
            }
        }
        _ => Map::new(),
    };
    if value.get("hooks").is_some_and(|h| !h.is_object()) {
        return Err(Error::Shape {
            path: target,
            message: "\"hooks\" is not an object; fix it by hand first".into(),
        });
    }
    Ok(Loaded {
        target,
        original,
        value,
    })
}

fn save(l: &Loaded, value: &Map<String, Value>, events: Vec<String>) -> Result<Outcome> {
    if value == &l.value {
        return Ok(Outcome {
            path: l.target.clone(),
            changed: false,
            backup: None,
            events,
        });
    }
    let trailing = l.original.as_ref().is_none_or(|b| b.ends_with(b"\n"));
    let mut text = to_js_pretty(&Value::Object(value.clone()), 0);
    if trailing {
        text.push('\n');
    }
    let mut backup = None;
    if let Some(orig) = &l.original {
        let ms = chrono::Utc::now().timestamp_millis();
        let mut name = l.target.clone().into_os_string();
        name.push(format!(".bak.modelfit.{ms}"));
        let b = PathBuf::from(name);
        crate::store::write_atomic(&b, orig)?;
        backup = Some(b);
    } else if let Some(dir) = l.target.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    }
    crate::store::write_atomic(&l.target, text.as_bytes())?;
    Ok(Outcome {
        path: l.target.clone(),
        changed: true,
        backup,
        events,
    })
}

/// Merges modelfit's hooks (command `hook_command(exe)`) into `path`.
/// An older modelfit entry (another binary path) is updated in place.
pub fn install(path: &Path, exe: &Path) -> Result<Outcome> {
    let l = load(path)?;
    let command = hook_command(exe);
    let mut value = l.value.clone();
    let hooks = value
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .expect("checked in load");
    let mut events = Vec::new();
    for (event, handler) in wanted(&command) {
        let groups = hooks
            .entry(event.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        let Some(groups) = groups.as_array_mut() else {
            return Err(Error::Shape {
                path: l.target.clone(),
                message: format!("\"hooks\".\"{event}\" is not an array; fix it by hand first"),
            });
        };
        let mut found = false;
        for g in groups.iter_mut() {
            for h in g
                .get_mut("hooks")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if is_modelfit_handler(h) {
                    if !found && h.get("command") != handler.get("command") {
                        h["command"] = handler["command"].clone();
                    }
                    found = true;
                }
            }
        }
        if !found {
            let mut group = Map::new();
            group.insert("hooks".into(), Value::Array(vec![handler]));
            groups.push(Value::Object(group));
        }
        events.push(event);
    }
    save(&l, &value, events)
}

/// Removes every modelfit handler from `path`, and the groups, event lists
/// and `hooks` object that become empty by it.
pub fn uninstall(path: &Path) -> Result<Outcome> {
    let l = load(path)?;
    if l.original.is_none() {
        return Ok(Outcome {
            path: l.target,
            changed: false,
            backup: None,
            events: Vec::new(),
        });
    }
    let mut value = l.value.clone();
    let mut events = Vec::new();
    if let Some(hooks) = value.get_mut("hooks").and_then(Value::as_object_mut) {
        let names: Vec<String> = hooks.keys().cloned().collect();
        for event in names {
            let Some(groups) = hooks.get_mut(&event).and_then(Value::as_array_mut) else {
                continue;
            };
            let before = groups.clone();
            let mut kept = Vec::with_capacity(groups.len());
            for mut g in groups.drain(..) {
                let removed = match g.get_mut("hooks").and_then(Value::as_array_mut) {
                    Some(hs) => {
                        let n = hs.len();
                        hs.retain(|h| !is_modelfit_handler(h));
                        hs.len() != n
                    }
                    None => false,
                };
                let empty = g
                    .get("hooks")
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty);
                // A group emptied by the removal goes; one that was empty stays.
                if !(removed && empty) {
                    kept.push(g);
                }
            }
            *groups = kept;
            if *groups != before {
                events.push(event.clone());
                if groups.is_empty() {
                    hooks.shift_remove(&event);
                }
            }
        }
        if hooks.is_empty() && !events.is_empty() {
            value.shift_remove("hooks");
        }
    }
    save(&l, &value, events)
}

/// Events modelfit wants but `path` lacks a modelfit handler for, and the
/// commands registered (for `doctor`).
pub fn check(path: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let l = load(path)?;
    let mut missing = Vec::new();
    let mut commands = Vec::new();
    for (event, _) in wanted("x") {
        let handlers: Vec<&Value> = l
            .value
            .get("hooks")
            .and_then(|h| h.get(&event))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|g| g.get("hooks").and_then(Value::as_array))
            .flatten()
            .filter(|h| is_modelfit_handler(h))
            .collect();
        if handlers.is_empty() {
            missing.push(event);
        }
        for h in handlers {
            if let Some(c) = h.get("command").and_then(Value::as_str) {
                if !commands.iter().any(|x| x == c) {
                    commands.push(c.to_string());
                }
            }
        }
    }
    Ok((missing, commands))
}
