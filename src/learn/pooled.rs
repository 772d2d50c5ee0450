//! `modelfit learn --database URL`: the same analysis and suggestions as
//! `modelfit learn`, over the pooled records of every machine synced into
//! the team's database (see `crate::sync`), written to the local home.
//!
//! Statistics are identical by construction: the pooled records stream
//! through the very per-record code of the local analysis (a [`Records`]
//! source instead of the ledger), one server-side cursor batch at a time.
//! The database hands over the fields analysis reads (see
//! `crate::sync::pooled::FIELDS`); a field analysis starts to read must be
//! added there.

use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::store::Ledger;

/// A stream of records `analyze` can read: the ledger, or the pooled
/// records of the team's database.
pub trait Records {
    /// Calls `f` with each record as a `T`, in order, until it returns `false`.
    fn for_each<T, F>(&self, f: F) -> Result<()>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> bool;

    /// The same records in any order (for passes whose result does not
    /// depend on it); by default, in order.
    fn for_each_unordered<T, F>(&self, f: F) -> Result<()>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> bool,
    {
        self.for_each(f)
    }

    /// A file whose bytes are exactly these records, laid out so passes can
    /// split it across cores (`learn::scan`); `None` reads the stream.
    fn parallel_path(&self) -> Option<&std::path::Path> {
        None
    }

    /// A name for error messages.
    fn describe(&self) -> String {
        "the pooled records".into()
    }
}

impl Records for Ledger {
    fn parallel_path(&self) -> Option<&std::path::Path> {
        // Only when no journaled write waits: the file is then the whole truth.
        self.pending()
            .is_ok_and(|p| p.is_empty())
            .then(|| self.path())
    }

    fn describe(&self) -> String {
        self.path().display().to_string()
    }

    fn for_each<T, F>(&self, f: F) -> Result<()>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> bool,
    {
        Ledger::for_each(self, f)
    }
}

#[cfg(feature = "postgres")]
impl Records for crate::sync::pooled::Pooled {
    fn for_each<T, F>(&self, f: F) -> Result<()>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> bool,
    {
        crate::sync::pooled::Pooled::for_each(self, true, f)
    }

    fn for_each_unordered<T, F>(&self, f: F) -> Result<()>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> bool,
    {
        crate::sync::pooled::Pooled::for_each(self, false, f)
    }
}

/// What `learn --database` pooled and produced.
#[derive(Debug, Clone)]
pub struct PooledLearning {
    /// The database (host:port/db as user).
    pub database: String,
    /// Machines whose records were pooled.
    pub machines: u64,
    /// Records pooled.
    pub records: u64,
    /// The analysis written to the local learning file.
    pub analysis: super::Analysis,
    /// The open suggestions.
    pub suggestions: Vec<super::Suggestion>,
}

/// Analyze + suggest over the pooled records of the database at `url`.
#[cfg(feature = "postgres")]
pub fn learn(
    home: &crate::home::Home,
    url: &str,
    analyze: &super::AnalyzeOptions,
    suggest: &super::SuggestOptions,
) -> Result<PooledLearning> {
    let pooled = crate::sync::pooled::Pooled::open(url)?;
    let analysis = super::analyze::run_over(home, analyze, &pooled)?;
    let suggestions = super::suggest(home, suggest)?;
    Ok(PooledLearning {
        database: pooled.target().to_string(),
        machines: pooled.machines,
        records: pooled.records,
        analysis,
        suggestions,
    })
}

/// Without the `postgres` feature: says how to get it.
#[cfg(not(feature = "postgres"))]
pub fn learn(
    _home: &crate::home::Home,
    _url: &str,
    _analyze: &super::AnalyzeOptions,
    _suggest: &super::SuggestOptions,
) -> Result<PooledLearning> {
    Err(crate::sync::not_built())
}
