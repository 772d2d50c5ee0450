//! Model ids as the ledger writes them (full ids, aliases, `none`) reduced to
//! families and tiers, and the parts of `models.json` that `learn` needs:
//! the model of each complexity level and the keyword rules.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::home::Home;
use crate::rules::Rule;

/// The three complexity levels, cheapest first.
pub const LEVELS: [&str; 3] = ["simple", "medium", "complex"];

/// The known families, cheapest tier first.
pub const FAMILIES: [&str; 3] = ["haiku", "sonnet", "opus"];

/// The family of a model id or alias (`claude-haiku-4-5-20251001`, `haiku`,
/// `Claude Opus 4.6`), or `None` for `none`, an empty id or an unknown model.
pub fn family(model: &str) -> Option<&'static str> {
    // Every pass asks this of every record: a plain window compare of these
    // short ids beats `str::contains`, which builds a searcher each time.
    let has = |f: &str| model.as_bytes().windows(f.len()).any(|w| w == f.as_bytes());
    if let Some(f) = FAMILIES.iter().copied().find(|f| has(f)) {
        return Some(f);
    }
    let m = model.to_ascii_lowercase();
    FAMILIES.iter().copied().find(|f| m.contains(f))
}

/// The tier of a family: 0 haiku, 1 sonnet, 2 opus.
pub fn tier(family: &str) -> Option<usize> {
    FAMILIES.iter().position(|f| *f == family)
}

/// The version in a full id (`claude-opus-4-6` → `opus-4-6`,
/// `claude-haiku-4-5-20251001` → `haiku-4-5`); the bare family for aliases.
pub fn version(model: &str) -> Option<String> {
    let fam = family(model)?;
    let m = model.to_ascii_lowercase();
    let rest = &m[m.find(fam)? + fam.len()..];
    let parts: Vec<&str> = rest
        .split(['-', '.', ' '])
        .filter(|p| !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_digit()))
        .take(2)
        .collect();
    Some(if parts.is_empty() {
        fam.to_string()
    } else {
        format!("{fam}-{}", parts.join("-"))
    })
}

/// List-price ratio of a family's attempts when no measured cost exists
/// (haiku 1 : sonnet 3 : opus 5, the 4.5 generation's input prices).
pub fn relative_price(family: &str) -> f64 {
    match family {
        "haiku" => 1.0,
        "sonnet" => 3.0,
        _ => 5.0,
    }
}

/// A `rules` entry, parsed by [`crate::rules`] (the grammar `select` evaluates).
#[derive(Debug, Clone)]
pub struct RuleView {
    /// Index in the `rules` array.
    pub index: usize,
    /// The rule as written.
    pub rule: Rule,
    /// The parsed condition; `None` when it does not parse (it never fires).
    pub expr: Option<crate::rules::Expr>,
    /// Levels of a `complexity == 'x'` clause; `None` for any level.
    pub levels: Option<Vec<String>>,
}

impl RuleView {
    /// True when the rule fires for a task at `level` (no file count known).
    pub fn matches(&self, text: &str, level: &str) -> bool {
        self.expr.as_ref().is_some_and(|e| {
            e.eval(&crate::rules::Facts {
                task: text,
                complexity: level,
                estimated_files: None,
            })
        })
    }

    /// True when the rule fires at `level` for a task containing one of its
    /// `task contains` needles that names keyword label `k`
    /// (`'documentation'` names `docs`).
    pub fn covers_keyword(&self, k: &str, level: &str) -> bool {
        let Some(e) = &self.expr else {
            return false;
        };
        e.needles()
            .iter()
            .filter(|n| *n == k || crate::signals::keywords(n).iter().any(|x| x == k))
            .any(|n| self.matches(n, level))
    }
}

/// What `learn` reads from models.json.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// `task_complexity.<level>.model` per level, when set.
    pub level_models: Vec<(String, String)>,
    /// The `rules` array, parsed.
    pub rules: Vec<RuleView>,
}

impl Routing {
    /// Reads models.json of `home`; a missing file gives the orchestrator's
    /// defaults (haiku / sonnet / opus 4.5), a corrupt one an error.
    pub fn load(home: &Home) -> Result<Routing> {
        let path = home.models();
        let doc: Value = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::parse(&path, &e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Null,
            Err(e) => return Err(Error::io("cannot read", &path, e)),
        };
        Ok(Routing::from_value(&doc))
    }

    /// Parses a models.json document.
    pub fn from_value(doc: &Value) -> Routing {
        let defaults = [
            ("simple", "claude-haiku-4-5-20251001"),
            ("medium", "claude-sonnet-4-5-20250929"),
            ("complex", "claude-opus-4-5-20251101"),
        ];
        let level_models = defaults
            .iter()
            .map(|(l, d)| {
                let m = doc
                    .pointer(&format!("/task_complexity/{l}/model"))
                    .and_then(Value::as_str)
                    .unwrap_or(d);
                (l.to_string(), m.to_string())
            })
            .collect();
        let rules = doc
            .get("rules")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .enumerate()
                    .filter_map(|(i, r)| {
                        let condition = r.get("if")?.as_str()?.to_string();
                        let model = r.get("use")?.as_str()?.to_string();
                        Some(parse_rule(i, Rule { condition, model }))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Routing {
            level_models,
            rules,
        }
    }

    /// The model id a level routes to.
    pub fn level_model(&self, level: &str) -> Option<&str> {
        self.level_models
            .iter()
            .find(|(l, _)| l == level)
            .map(|(_, m)| m.as_str())
    }

    /// The first rule that routes keyword `k` at `level`, if any.
    pub fn rule_for_keyword(&self, k: &str, level: &str) -> Option<&RuleView> {
        self.rules.iter().find(|r| r.covers_keyword(k, level))
    }

    /// True when some rule fires for this task text at this level.
    pub fn covers_task(&self, text: &str, level: &str) -> bool {
        let facts = crate::rules::Facts {
            task: text,
            complexity: level,
            estimated_files: None,
        };
        // Lowercased once for every rule, not once per rule.
        let lower = text.to_lowercase();
        self.rules.iter().any(|r| {
            r.expr
                .as_ref()
                .is_some_and(|e| e.eval_lowered(&lower, &facts))
        })
    }
}

fn parse_rule(index: usize, rule: Rule) -> RuleView {
    let expr = crate::rules::parse(&rule.condition).ok();
    let levels = expr
        .as_ref()
        .and_then(|e| e.required_complexity())
        .map(|l| vec![l.to_string()]);
    RuleView {
        index,
        rule,
        expr,
        levels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn families_and_versions() {
        assert_eq!(family("claude-haiku-4-5-20251001"), Some("haiku"));
        assert_eq!(family("opus"), Some("opus"));
        assert_eq!(family("none"), None);
        assert_eq!(version("claude-haiku-4-5-20251001").unwrap(), "haiku-4-5");
        assert_eq!(version("claude-opus-4-6").unwrap(), "opus-4-6");
        assert_eq!(version("sonnet").unwrap(), "sonnet");
    }

    #[test]
    fn rules_are_read_as_written() {
        let r = Routing::from_value(&json!({
            "task_complexity": {"simple": {"model": "claude-haiku-4-5-20251001"}},
            "rules": [
                {"if": "task contains 'architecture' or 'design'", "use": "opus"},
                {"if": "task contains 'documentation' or 'readme'", "use": "haiku"},
                {"if": "estimated_files > 5", "use": "opus"},
                {"if": "task contains 'api' and complexity == 'medium'", "use": "sonnet"},
                {"use": "broken"}
            ]
        }));
        assert_eq!(r.rules.len(), 4);
        assert_eq!(r.rule_for_keyword("docs", "simple").unwrap().index, 1);
        assert_eq!(r.rule_for_keyword("api", "medium").unwrap().index, 3);
        assert!(r.rule_for_keyword("api", "simple").is_none());
        assert!(!r.rules[2].matches("anything", "complex"));
        // Word-start matching, as `select` evaluates: "redesign" is not "design".
        assert!(!r.covers_task("redesign the page", "simple"));
        assert!(r.covers_task("Design the page", "simple"));
        assert_eq!(r.level_model("complex"), Some("claude-opus-4-5-20251101"));
    }
}
