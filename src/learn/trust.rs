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

/// The trust table and its warnings as report blocks (Markdown and HTML
/// alike); nothing when the learning file has no `trust` yet.
pub fn blocks(doc: &serde_json::Map<String, Value>) -> Vec<super::table::Block> {
    use super::table::{Block, Table};
    let Some(t) = doc
        .get("trust")
        .and_then(|v| serde_json::from_value::<TrustView>(v.clone()).ok())
    else {
        return Vec::new();
    };
    let pct = |x: Option<f64>| x.map_or("–".to_string(), |x| format!("{:.0}%", x * 100.0));
    let mut table = Table::new(
        "How far each source can be trusted",
        &[
            "source",
            "judged",
            "agreement",
            "successes confirmed",
            "sensitivity",
            "specificity",
            "by level and model",
        ],
        "No data yet: a source's trust is measured on tasks that also carry a person's verdict (`modelfit rate`).",
    );
    for r in &t.sources {
        let cells: Vec<String> = r
            .by_cell
            .iter()
            .map(|c| format!("{} {} ({})", c.cell, pct(c.confirmed), c.judged))
            .collect();
        table.row_keyed(vec![
            (r.source.clone(), None),
            (format!("{}", r.judged), Some(r.judged)),
            (pct(r.agreement), r.agreement),
            (pct(r.confirmed), r.confirmed),
            (format!("{:.2}", r.sensitivity), Some(r.sensitivity)),
            (format!("{:.2}", r.specificity), Some(r.specificity)),
            (
                if cells.is_empty() {
                    "–".into()
                } else {
                    cells.join(", ")
                },
                None,
            ),
        ]);
    }
    let mut out = vec![
        Block::Para(
            "Agreement of each implicit source with people's verdicts, on the tasks that carry both; \
             sensitivity and specificity as the label model uses them (priors where nobody has judged yet)."
                .into(),
        ),
        Block::Table(table),
    ];
    if !t.warnings.is_empty() {
        out.push(Block::List(
            t.warnings
                .iter()
                .map(|w| format!("**Warning:** {}.", w.text))
                .collect(),
        ));
    }
    out
}

#[derive(serde::Deserialize)]
struct TrustView {
    sources: Vec<RowView>,
    #[serde(default)]
    warnings: Vec<WarnView>,
}

#[derive(serde::Deserialize)]
struct RowView {
    source: String,
    judged: f64,
    agreement: Option<f64>,
    confirmed: Option<f64>,
    sensitivity: f64,
    specificity: f64,
    #[serde(default)]
    by_cell: Vec<CellView>,
}

#[derive(serde::Deserialize)]
struct CellView {
    cell: String,
    judged: f64,
    confirmed: Option<f64>,
}

#[derive(serde::Deserialize)]
struct WarnView {
    text: String,
}

#[cfg(test)]
mod tests {
    use super::super::label::{Evidence, LabelData, LabelModel};
    use super::*;

    fn judged(d: &mut LabelData, key: (&'static str, &'static str), hook: bool, y: bool, n: usize) {
        for _ in 0..n {
            let mut e = Evidence {
                explicit: Some(y),
                ..Evidence::default()
            };
            e.set(0, hook);
            d.add(key, &e);
        }
    }

    /// Hand-computed: haiku's clean stops on complex tasks confirmed 18 of
    /// 25 times (72 %), sonnet's on simple 96 of 100; overall 114 of 125
    /// (91.2 %); agreement (114 + 2) / 127.
    #[test]
    fn figures_and_warning_of_a_hand_computed_fixture() {
        let mut d = LabelData::default();
        judged(&mut d, ("complex", "haiku"), true, true, 18);
        judged(&mut d, ("complex", "haiku"), true, false, 7);
        judged(&mut d, ("simple", "sonnet"), true, true, 96);
        judged(&mut d, ("simple", "sonnet"), true, false, 4);
        judged(&mut d, ("simple", "sonnet"), false, false, 2);
        let t = build(&LabelModel::fit(d));
        let hook = &t.sources[0];
        assert_eq!(hook.source, "hook");
        assert_eq!(hook.judged, 127.0);
        assert_eq!(hook.confirmed, Some(0.912));
        assert_eq!(hook.agreement, Some(r4(116.0 / 127.0)));
        // Prior 0.95 of mass 10 plus 114 of 114 successes; 0.5 of mass 10 plus 2 of 13 failures.
        assert_eq!(hook.sensitivity, r4((9.5 + 114.0) / 124.0));
        assert_eq!(hook.specificity, r4((5.0 + 2.0) / 23.0));
        assert_eq!(hook.by_cell.len(), 2);
        assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
        let w = &t.warnings[0];
        assert_eq!(
            (w.cell.as_str(), w.confirmed, w.overall),
            ("complex/haiku", 0.72, 0.912)
        );
        assert!(
            w.text.contains("72 %") && w.text.contains("91 %"),
            "{}",
            w.text
        );
        // Sources nobody judged: no figures, the priors.
        assert_eq!(t.sources[1].judged, 0.0);
        assert_eq!(t.sources[1].agreement, None);
    }
}
