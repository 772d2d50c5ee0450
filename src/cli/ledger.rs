//! `modelfit ledger check|append|get|reconcile`: low-level ledger operations.

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::Subcommand;

use crate::error::{Error, Result};
use crate::home::Home;
use crate::record::Record;
use crate::store::Ledger;

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Check that the ledger parses (as the orchestrator's JSON.parse reads it); print the record count
    Check,
    /// Append one record, read as a JSON object from stdin; print its id
    Append {
        /// Append N copies, the i-th with id `<id>-<i>`, printing each id once it is on disk
        #[arg(long, value_name = "N", default_value_t = 1)]
        repeat: u32,
    },
    /// Print one record by id
    Get {
        /// The record id
        id: String,
    },
    /// Re-apply every journaled write of modelfit's that the ledger lacks (another
    /// program's rewrite undid it), compact the journal, and say what was done
    Reconcile {
        /// Print nothing (the hook's detached hand-off)
        #[arg(long)]
        quiet: bool,
    },
}

pub fn ledger(c: LedgerCommand, home: &Home) -> Result<ExitCode> {
    let ledger = Ledger::of(home);
    match c {
        LedgerCommand::Check => {
            let census = ledger.check()?;
            for w in ledger.warnings()? {
                eprintln!("warning: {w}");
            }
            println!(
                "{}: {} records, parses ({} with an id, {} with an outcome)",
                ledger.path().display(),
                census.records,
                census.with_id,
                census.with_outcome
            );
            let pending = ledger.pending()?.len();
            if pending > 0 {
                println!(
                    "{pending} journaled write(s) in {} (reconciled on the next write, or run `modelfit ledger reconcile`)",
                    ledger.journal_path().display()
                );
            }
        }
        LedgerCommand::Append { repeat } => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::io("cannot read", "<stdin>", e))?;
            let record: Record = serde_json::from_str(&text)
                .map_err(|e| Error::Invalid(format!("stdin is not one JSON object: {e}")))?;
            let id = record
                .get("id")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            let mut out = std::io::stdout().lock();
            for i in 0..repeat {
                let mut r = record.clone();
                let this_id = match (&id, repeat) {
                    (Some(id), 1) => Some(id.clone()),
                    (Some(id), _) => Some(format!("{id}-{i}")),
                    (None, _) => None,
                };
                if let Some(this_id) = &this_id {
                    r.insert("id".into(), this_id.clone().into());
                }
                let written = ledger.append(&r)?;
                if let Some(why) = written.kept {
                    eprintln!(
                        "modelfit: kept in the journal for now ({why}); \
                         `modelfit ledger reconcile` writes it"
                    );
                }
                if let Some(this_id) = this_id {
                    // Acknowledged only once the record is synced to the journal.
                    writeln!(out, "{this_id}")
                        .and_then(|_| out.flush())
                        .map_err(|e| Error::io("cannot write", "<stdout>", e))?;
                }
            }
        }
        LedgerCommand::Get { id } => match ledger.find(&id)? {
            Some(r) => println!(
                "{}",
                crate::record::to_js_pretty(&serde_json::Value::Object(r), 0)
            ),
            None => {
                return Err(Error::NotFound {
                    id,
                    path: ledger.path().to_path_buf(),
                })
            }
        },
        LedgerCommand::Reconcile { quiet } => {
            let r = ledger.reconcile()?;
            if !quiet {
                println!("{}", crate::store::describe_reconcile(&r));
            }
            if r.busy.is_some() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
