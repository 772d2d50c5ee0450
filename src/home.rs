//! The orchestrator home and every path modelfit reads or writes under it.
//! All paths are derived here, in one place.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The orchestrator home (`--home`, else `$ORCHESTRATOR_HOME`, else `~/JARVIS`).
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// Resolves the home: an explicit directory wins, then `$ORCHESTRATOR_HOME`,
    /// then `$HOME/JARVIS`. A relative path is made absolute against the current
    /// directory, because hooks run in arbitrary working directories.
    pub fn resolve(explicit: Option<&Path>) -> Result<Home> {
        let root = match explicit {
            Some(p) => p.to_path_buf(),
            None => match std::env::var_os("ORCHESTRATOR_HOME").filter(|v| !v.is_empty()) {
                Some(v) => PathBuf::from(v),
                None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
                    Some(h) => PathBuf::from(h).join("JARVIS"),
                    None => {
                        return Err(Error::Invalid(
                            "cannot find the orchestrator home: pass --home DIR or set \
                             ORCHESTRATOR_HOME (HOME is unset too)"
                                .into(),
                        ))
                    }
                },
            },
        };
        let root = if root.is_absolute() {
            root
        } else {
            std::env::current_dir()
                .map_err(|e| Error::io("cannot resolve the current directory for", &root, e))?
                .join(root)
        };
        Ok(Home { root })
    }

    /// A home rooted at `root`, used as is.
    pub fn at(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }

    /// The home directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `logs/`.
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// `logs/dispatches.json`, the dispatch ledger.
    pub fn ledger(&self) -> PathBuf {
        self.logs_dir().join("dispatches.json")
    }

    /// `logs/archive/`, where `rotate` moves old records.
    pub fn archive_dir(&self) -> PathBuf {
        self.logs_dir().join("archive")
    }

    /// `logs/model-learning.json`, learn's patterns and suggestions.
    pub fn learning(&self) -> PathBuf {
        self.logs_dir().join("model-learning.json")
    }

    /// `logs/model-config-changes.log`, one line per applied change.
    pub fn changes_log(&self) -> PathBuf {
        self.logs_dir().join("model-config-changes.log")
    }

    /// `config/orchestrator/`.
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("config").join("orchestrator")
    }

    /// `config/orchestrator/models.json`, the routing rules.
    pub fn models(&self) -> PathBuf {
        self.config_dir().join("models.json")
    }

    /// `config/orchestrator/pricing.json`, prices per million tokens.
    pub fn pricing(&self) -> PathBuf {
        self.config_dir().join("pricing.json")
    }

    /// `config/orchestrator/workspaces.json`.
    pub fn workspaces(&self) -> PathBuf {
        self.config_dir().join("workspaces.json")
    }

    /// `logs/modelfit/`, modelfit's own state.
    pub fn state_dir(&self) -> PathBuf {
        self.logs_dir().join("modelfit")
    }

    /// `logs/modelfit/sessions/`, in-flight tasks per Claude Code session.
    pub fn sessions_dir(&self) -> PathBuf {
        self.state_dir().join("sessions")
    }

    /// `logs/modelfit/modelfit.log`, where hooks and background jobs report errors.
    pub fn log_file(&self) -> PathBuf {
        self.state_dir().join("modelfit.log")
    }

    /// `logs/modelfit/config.json`, modelfit's own settings.
    pub fn settings(&self) -> PathBuf {
        self.state_dir().join("config.json")
    }

    /// `logs/modelfit/torn/`, bytes cut from a torn ledger tail during recovery.
    pub fn torn_dir(&self) -> PathBuf {
        self.state_dir().join("torn")
    }

    /// `logs/modelfit/journal.jsonl`, modelfit's append-only journal of
    /// every ledger write it acknowledged.
    pub fn journal(&self) -> PathBuf {
        self.state_dir().join("journal.jsonl")
    }

    /// `logs/modelfit/selections.jsonl`, `select --explore`'s log of choices.
    pub fn selections(&self) -> PathBuf {
        self.state_dir().join("selections.jsonl")
    }

    /// `logs/modelfit/recent-tasks.json`, tasks ended within the last hour
    /// (retry detection).
    pub fn recent_tasks(&self) -> PathBuf {
        self.state_dir().join("recent-tasks.json")
    }

    /// `logs/modelfit/learn-handoff.json`, outcomes since the hook last
    /// started `modelfit learn`, and that run's pid.
    pub fn learn_handoff(&self) -> PathBuf {
        self.state_dir().join("learn-handoff.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_home_wins_and_paths_derive_from_it() {
        let h = Home::resolve(Some(Path::new("/x/J"))).unwrap();
        assert_eq!(h.ledger(), Path::new("/x/J/logs/dispatches.json"));
        assert_eq!(
            h.models(),
            Path::new("/x/J/config/orchestrator/models.json")
        );
        assert_eq!(h.log_file(), Path::new("/x/J/logs/modelfit/modelfit.log"));
    }
}
