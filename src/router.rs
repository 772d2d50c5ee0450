//! Which router decides a task's model, and the orchestrator's own router.
//!
//! Two routers exist beside each other (jarvis-interop §7, §9.2):
//!
//! - `rules`: `models.json` rules evaluated as written, by `modelfit select`
//!   and the drop-in `hooks/model-selector.sh` ([`crate::rules`]);
//! - `orchestrator`: the dispatcher's own `selectModel`, used by its
//!   `dispatch_task` and `dispatch_batch`. It never reads a rule's `use`: only
//!   `task_complexity.<level>.model` and two hard-coded substring mappings move
//!   tasks. [`orchestrator_route`] evaluates it exactly (including where the
//!   JavaScript throws or returns no model), so `learn` can say which level's
//!   model a task takes, and `select --router orchestrator` can answer as the
//!   dispatcher would.
//!
//! Which one `learn`, `select` and the impact preview assume is modelfit's
//! setting `router` (`modelfit config router rules|orchestrator`), `rules` by
//! default.

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::home::Home;

/// The router in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Router {
    /// Rules as written (`modelfit select`, the drop-in selector).
    Rules,
    /// The dispatcher's own `selectModel`.
    Orchestrator,
}

impl Router {
    /// Parses `rules` / `orchestrator` (case-insensitive).
    pub fn parse(text: &str) -> Option<Router> {
        match text.trim().to_ascii_lowercase().as_str() {
            "rules" | "select" | "modelfit" => Some(Router::Rules),
            "orchestrator" | "dispatcher" | "jarvis" => Some(Router::Orchestrator),
            _ => None,
        }
    }

    /// The setting's value.
    pub fn name(self) -> &'static str {
        match self {
            Router::Rules => "rules",
            Router::Orchestrator => "orchestrator",
        }
    }
}

/// The router in use and how that was decided (for `doctor`).
#[derive(Debug, Clone, Serialize)]
pub struct RouterChoice {
    /// The router.
    pub router: Router,
    /// How it was decided, in a sentence.
    pub decided_by: String,
    /// True when the setting was given explicitly.
    pub explicit: bool,
}

/// The router configured for `home`: the `router` key of
/// `logs/modelfit/config.json`, else `rules`. An unreadable file or an
/// unknown value falls back to `rules` and says so in `decided_by`.
pub fn current(home: &Home) -> RouterChoice {
    let path = home.settings();
    let value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v.get("router").cloned());
    match value {
        Some(Value::String(s)) => match Router::parse(&s) {
            Some(router) => RouterChoice {
                router,
                decided_by: format!(
                    "set by `modelfit config router {}` in {}",
                    router.name(),
                    path.display()
                ),
                explicit: true,
            },
            None => RouterChoice {
                router: Router::Rules,
                decided_by: format!(
                    "{} has router = {s:?}, which is neither rules nor orchestrator: using rules",
                    path.display()
                ),
                explicit: false,
            },
        },
        _ => RouterChoice {
            router: Router::Rules,
            decided_by: format!(
                "default (no `router` in {}): rules as written, as `modelfit select` and the \
                 drop-in model-selector.sh route",
                path.display()
            ),
            explicit: false,
        },
    }
}

/// The built-in ids the dispatcher falls back to when models.json is missing
/// or does not parse (index.js `selectModel`).
fn builtin(complexity: &str) -> &'static str {
    match complexity {
        "simple" => crate::rules::DEFAULT_SIMPLE,
        "complex" => crate::rules::DEFAULT_COMPLEX,
        _ => crate::rules::DEFAULT_MEDIUM,
    }
}

/// Why the orchestrator's router gave a level's model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// `task_complexity[complexity].model`.
    Complexity,
    /// The task's own level has no truthy model: `task_complexity.medium.model`.
    MediumFallback,
    /// Rule `index` has `architecture`/`design` in its `if` and the task text
    /// contains one of them: the complex level's model.
    ArchitectureMapping {
        /// Position of the rule in `rules`.
        rule: usize,
    },
    /// Rule `index` has `documentation`/`readme` in its `if` and the task text
    /// contains `documentation`, `readme` or `docs`: the simple level's model.
    DocsMapping {
        /// Position of the rule in `rules`.
        rule: usize,
    },
}

/// What the dispatcher's `selectModel` does for one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrchestratorRoute {
    /// models.json is missing or does not parse: the built-in id by complexity.
    Builtin {
        /// The id.
        model: String,
    },
    /// The model of `task_complexity.<level>`: `model` is the JSON value found
    /// there (`None`: the property is absent, JavaScript's `undefined`, so
    /// the dispatcher records a task without a model).
    Level {
        /// The level whose model was read.
        level: String,
        /// Why that level.
        via: Via,
        /// The value read.
        model: Option<Value>,
    },
    /// No level has a truthy model: the hard-coded `claude-sonnet-4-5-20250929`.
    Default {
        /// The id.
        model: String,
    },
    /// The JavaScript throws a TypeError (e.g. a rule without a string `if`):
    /// `dispatch_task` fails.
    Throws {
        /// What fails, in a sentence.
        reason: String,
    },
}

impl OrchestratorRoute {
    /// The model id the dispatcher records, when it is a string.
    pub fn model(&self) -> Option<&str> {
        match self {
            OrchestratorRoute::Builtin { model } | OrchestratorRoute::Default { model } => {
                Some(model)
            }
            OrchestratorRoute::Level { model, .. } => model.as_ref().and_then(Value::as_str),
            OrchestratorRoute::Throws { .. } => None,
        }
    }

    /// The level whose `task_complexity.<level>.model` decides this task: the
    /// lever a level change pulls. `None` for built-in ids and failures.
    pub fn level(&self) -> Option<&str> {
        match self {
            OrchestratorRoute::Level { level, .. } => Some(level),
            _ => None,
        }
    }
}

/// JavaScript truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// JavaScript's `obj[key]` on a parsed JSON value, for the own properties
/// that JSON can hold (prototype properties such as `constructor` never hold
/// a `model`, so they read as absent here too).
fn prop<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m.get(key),
        Value::Array(a) => {
            // Only canonical indices ("0", "12"), as JavaScript reads them.
            let canonical = key == "0" || (!key.starts_with('0') && !key.is_empty());
            key.parse::<usize>()
                .ok()
                .filter(|_| canonical && key.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|i| a.get(i))
        }
        _ => None,
    }
}

/// Parses models.json bytes as Node does: invalid UTF-8 becomes U+FFFD
/// (`readFile(…, "utf-8")`), a byte-order mark is not skipped (JSON.parse
/// refuses it, and so does serde_json). `None`: the dispatcher falls back.
pub fn parse_models(bytes: &[u8]) -> Option<Value> {
    let text = String::from_utf8_lossy(bytes);
    serde_json::from_str(&text).ok()
}

/// The dispatcher's `selectModel(complexity, task)` on a models.json value
/// (`None`: the file is missing or does not parse). Exact semantics of
/// index.js (interop §9.2): for each rule in order, its `if` lowercased; one
/// containing `architecture` or `design`, for a lowercased task containing
/// either, gives `task_complexity.complex.model`; else one containing
/// `documentation` or `readme`, for a task containing `documentation`,
/// `readme` or `docs`, gives `task_complexity.simple.model`; the first rule
/// that fires wins; rules apply only to a non-empty task and an array
/// `rules`. Then `task_complexity[complexity].model ||
/// task_complexity.medium.model || "claude-sonnet-4-5-20250929"`.
pub fn orchestrator_route(
    models: Option<&Value>,
    complexity: &str,
    task: &str,
) -> OrchestratorRoute {
    let Some(config) = models else {
        return OrchestratorRoute::Builtin {
            model: builtin(complexity).to_string(),
        };
    };
    if config.is_null() {
        return OrchestratorRoute::Throws {
            reason: "models.json holds `null`: reading its rules throws".into(),
        };
    }
    let task = task.to_lowercase();
    let tc = prop(config, "task_complexity");
    if !task.is_empty() {
        if let Some(Value::Array(rules)) = prop(config, "rules") {
            for (i, rule) in rules.iter().enumerate() {
                let Some(Value::String(cond)) = prop(rule, "if") else {
                    return OrchestratorRoute::Throws {
                        reason: format!(
                            "rule #{i} has no string `if`: `rule.if.toLowerCase()` throws, so \
                             dispatch_task fails"
                        ),
                    };
                };
                let cond = cond.to_lowercase();
                let mapping = if (cond.contains("architecture") || cond.contains("design"))
                    && (task.contains("architecture") || task.contains("design"))
                {
                    Some(("complex", Via::ArchitectureMapping { rule: i }))
                } else if (cond.contains("documentation") || cond.contains("readme"))
                    && (task.contains("documentation")
                        || task.contains("readme")
                        || task.contains("docs"))
                {
                    Some(("simple", Via::DocsMapping { rule: i }))
                } else {
                    None
                };
                if let Some((level, via)) = mapping {
                    // `config.task_complexity.<level>.model`, no optional chaining.
                    return match tc.and_then(|t| prop(t, level)) {
                        Some(v) if !v.is_null() => OrchestratorRoute::Level {
                            level: level.into(),
                            via,
                            model: prop(v, "model").cloned(),
                        },
                        _ => OrchestratorRoute::Throws {
                            reason: format!(
                                "rule #{i} sends the task to task_complexity.{level}, which is \
                                 missing: reading its model throws"
                            ),
                        },
                    };
                }
            }
        }
    }
    let model_of = |level: &str| {
        tc.and_then(|t| prop(t, level))
            .and_then(|l| prop(l, "model"))
            .filter(|m| truthy(m))
    };
    if let Some(m) = model_of(complexity) {
        return OrchestratorRoute::Level {
            level: complexity.into(),
            via: Via::Complexity,
            model: Some(m.clone()),
        };
    }
    if let Some(m) = model_of("medium") {
        return OrchestratorRoute::Level {
            level: "medium".into(),
            via: Via::MediumFallback,
            model: Some(m.clone()),
        };
    }
    OrchestratorRoute::Default {
        model: crate::rules::DEFAULT_MEDIUM.into(),
    }
}

/// Reads models.json of `home` as the dispatcher does: `None` when it is
/// missing or does not parse.
pub fn load_models(home: &Home) -> Result<Option<Value>> {
    let path = home.models();
    match std::fs::read(&path) {
        Ok(b) => Ok(parse_models(&b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("cannot read", &path, e)),
    }
}

/// `select --router orchestrator`: the dispatcher's answer for one task, read
/// from `home`'s models.json.
pub fn select(home: &Home, complexity: &str, task: &str) -> Result<OrchestratorRoute> {
    Ok(orchestrator_route(
        load_models(home)?.as_ref(),
        complexity,
        task,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture() -> Value {
        json!({
            "task_complexity": {
                "simple": {"model": "H"}, "medium": {"model": "S"}, "complex": {"model": "O"}
            },
            "rules": [
                {"if": "task contains 'architecture' or 'design'", "use": "opus"},
                {"if": "task contains 'documentation' or 'readme'", "use": "haiku"},
                {"if": "estimated_files > 5", "use": "opus"}
            ]
        })
    }

    fn m(v: &Value, c: &str, t: &str) -> Option<String> {
        orchestrator_route(Some(v), c, t)
            .model()
            .map(str::to_string)
    }

    #[test]
    fn substring_mappings_and_order() {
        let v = fixture();
        assert_eq!(m(&v, "simple", "Redesign the page").as_deref(), Some("O"));
        assert_eq!(m(&v, "complex", "fix the docstring").as_deref(), Some("H"));
        assert_eq!(m(&v, "medium", "design the docs").as_deref(), Some("O"));
        assert_eq!(m(&v, "medium", "add an endpoint").as_deref(), Some("S"));
        assert_eq!(m(&v, "huge", "add an endpoint").as_deref(), Some("S"));
        assert_eq!(
            orchestrator_route(Some(&v), "huge", "x").level(),
            Some("medium"),
            "an unknown level takes the medium level's model"
        );
    }

    #[test]
    fn failures_as_the_javascript_fails() {
        let v = json!({"rules": [{"use": "opus"}], "task_complexity": {}});
        assert!(matches!(
            orchestrator_route(Some(&v), "simple", "x"),
            OrchestratorRoute::Throws { .. }
        ));
        // Empty task: rules are skipped, so no throw.
        assert!(matches!(
            orchestrator_route(Some(&v), "simple", ""),
            OrchestratorRoute::Default { .. }
        ));
        let v = json!({"rules": [{"if": "design"}], "task_complexity": {"simple": {"model": "H"}}});
        assert!(matches!(
            orchestrator_route(Some(&v), "simple", "design it"),
            OrchestratorRoute::Throws { .. }
        ));
        let v = json!({"rules": [{"if": "design"}], "task_complexity": {"complex": {}}});
        assert_eq!(
            orchestrator_route(Some(&v), "simple", "design it"),
            OrchestratorRoute::Level {
                level: "complex".into(),
                via: Via::ArchitectureMapping { rule: 0 },
                model: None
            }
        );
        assert_eq!(
            orchestrator_route(None, "complex", "x").model(),
            Some(crate::rules::DEFAULT_COMPLEX)
        );
    }
}
