//! The trust table: how often each implicit source agrees with people and
//! CI, overall and per complexity × model cell, and warnings where a cell's
//! implicit evidence and its people disagree.

use serde::Serialize;
use serde_json::Value;

use super::label::{Agreement, LabelModel, IMPLICIT};

/// Least number of a source's success verdicts in a cell, also judged by
/// a person or CI, before the cell may be flagged.
pub const MIN_JUDGED: f64 = 5.0;

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct SourceTrust {
    /// The implicit source.
    pub source: &'static str,
    /// Tasks with both this source's verdict and a person's / CI's.
    pub judged: f64,
    /// Share of them where both agree.
    pub agreement: Option<f64>,
    /// Share of the source's successes that people / CI confirm.
    pub confirmed: Option<f64>,
    /// Fitted sensitivity (P(says success | success)).
    pub sensitivity: f64,
    /// Fitted specificity (P(says failure | failure)).
    pub specificity: f64,
    /// The same per cell (`level/model`), where the cell has judged tasks.
    pub by_cell: Vec<CellTrust>,
}

/// A source's agreement in one cell.
#[derive(Debug, Clone, Serialize)]
pub struct CellTrust {
    /// `level/model`.
    pub cell: String,
    /// Judged tasks with this source's verdict.
    pub judged: f64,
    /// Agreement.
    pub agreement: Option<f64>,
    /// Confirmed share of the source's successes.
    pub confirmed: Option<f64>,
}

/// A cell whose implicit evidence people contradict.
#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    /// The source.
    pub source: &'static str,
    /// `level/model`.
    pub cell: String,
    /// Confirmed share of the source's successes in the cell.
    pub confirmed: f64,
    /// The same over all cells.
    pub overall: f64,
    /// The source's success verdicts judged in the cell.
    pub judged: f64,
    /// One sentence for the report.
    pub text: String,
}

/// The whole table.
#[derive(Debug, Clone, Serialize)]
pub struct Trust {
    /// One row per implicit source.
    pub sources: Vec<SourceTrust>,
    /// Cells where implicit evidence and people disagree.
    pub warnings: Vec<Warning>,
}

fn r4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Builds the table from the fitted model's training counts.
pub fn build(model: &LabelModel) -> Trust {
    let mut sources = Vec::new();
    let mut warnings = Vec::new();
    let mut cells: Vec<_> = model.data.cells().collect();
    cells.sort_by_key(|(k, ..)| {
        (
            super::models::LEVELS.iter().position(|l| *l == k.0),
            super::models::tier(k.1),
        )
    });
    for (i, name) in IMPLICIT.iter().enumerate() {
        let g: &Agreement = &model.data.global()[i];
        let rates = model.global_rates(i);
        let mut by_cell = Vec::new();
        for (k, agree, _, _) in &cells {
            let a = &agree[i];
            if a.n() == 0.0 {
                continue;
            }
            by_cell.push(CellTrust {
                cell: format!("{}/{}", k.0, k.1),
                judged: a.n(),
                agreement: a.agreement().map(r4),
                confirmed: a.confirmed().map(r4),
            });
            // Flag a cell whose confirmed share is clearly below the overall one.
            if let (Some(c), Some(o)) = (a.confirmed(), g.confirmed()) {
                let n = a.ss + a.sf;
                let se = (o * (1.0 - o) / n).sqrt().max(1e-9);
                if n >= MIN_JUDGED && o - c >= 0.10 && (o - c) / se >= 2.0 {
                    warnings.push(Warning {
                        source: name,
                        cell: format!("{}/{}", k.0, k.1),
                        confirmed: r4(c),
                        overall: r4(o),
                        judged: n,
                        text: format!(
                            "{}'s {} successes on {} tasks are confirmed by people or CI {:.0} % of the time vs {:.0} % overall ({} judged)",
                            k.1,
                            name,
                            k.0,
                            c * 100.0,
                            o * 100.0,
                            n
                        ),
                    });
                }
            }
        }
        sources.push(SourceTrust {
            source: name,
            judged: g.n(),
            agreement: g.agreement().map(r4),
            confirmed: g.confirmed().map(r4),
            sensitivity: r4(rates.sens),
            specificity: r4(rates.spec),
            by_cell,
        });
    }
    Trust { sources, warnings }
}

/// The table as stored in the learning file (`trust`).
pub fn table(model: &LabelModel) -> Value {
    serde_json::to_value(build(model)).expect("the trust table serializes")
}
