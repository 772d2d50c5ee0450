//! The acceptance sweep of the orchestrator-router level suggestions: for
//! each world of `modelfit::learn::simulate_router` and each seed, generate a
//! ledger routed by the dispatcher's own `selectModel`, run `learn` with
//! `router = orchestrator`, apply the open level changes, and judge the
//! result by the orchestrator's router on the world's truth.
//!
//! `cargo run --release --example simulate_router [SEEDS]`
#![allow(clippy::print_stdout)]

use modelfit::home::Home;
use modelfit::learn::simulate_router::{Expect, RouterWorld};
use modelfit::learn::{self, AnalyzeOptions, Change, SuggestOptions};

/// Level families after applying the open level changes.
fn after(levels: [usize; 3], open: &[learn::Suggestion]) -> [usize; 3] {
    let mut out = levels;
    for s in open {
        if let Change::TaskComplexity { level, to, .. } = &s.change {
            let l = ["simple", "medium", "complex"]
                .iter()
                .position(|x| x == level);
            let f = learn::models::family(to)
                .and_then(|f| ["haiku", "sonnet", "opus"].iter().position(|x| *x == f));
            if let (Some(l), Some(f)) = (l, f) {
                out[l] = f;
            }
        }
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    std::env::set_var("MODELFIT_NOW", "2026-06-01T00:00:00Z");
    let now = modelfit::clock::parse("2026-06-01T00:00:00Z").unwrap();
    println!("| world | seeds | passed | mean gain (points) | mean best gain | mean share of best | level-wide downgrades | runs worse | notes naming the blocked kind |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let n_worlds = RouterWorld::scenarios(0).len();
    for w in 0..n_worlds {
        let (mut passed, mut gain, mut best_gain, mut share, mut downs, mut worse, mut notes) =
            (0, 0.0, 0.0, 0.0, 0, 0, 0);
        let mut name = "";
        for seed in 0..seeds {
            let world = RouterWorld::scenarios(seed).remove(w);
            name = world.name;
            let dir = tempfile::tempdir()?;
            let home = Home::at(dir.path());
            std::fs::create_dir_all(home.logs_dir())?;
            std::fs::create_dir_all(home.config_dir())?;
            std::fs::write(home.models(), RouterWorld::models(world.levels).to_string())?;
            modelfit::settings::set(&home, "router", "orchestrator")?;
            world.write_ledger(seed, now, &home.ledger())?;
            learn::analyze(&home, &AnalyzeOptions::default())?;
            let open = learn::suggest(&home, &SuggestOptions::default())?;
            let new = after(world.levels, &open);
            let (s0, s1) = (world.success(world.levels), world.success(new));
            let (best, _) = world.best_levels();
            let g = (s1 - s0) * 100.0;
            let bg = (best - s0) * 100.0;
            gain += g;
            best_gain += bg;
            if bg > 0.0 {
                share += g / bg;
            }
            let down = (0..3).any(|l| new[l] < world.levels[l]);
            downs += down as u32;
            worse += (s1 < s0 - 0.02) as u32;
            let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(home.learning())?)?;
            if std::env::var("SIMULATE_ROUTER_DUMP").is_ok_and(|v| v == name) {
                eprintln!(
                    "{name} seed {seed}: {new:?}\n{:#}\n{:#}",
                    doc["evidence_needed"],
                    serde_json::to_value(&open)?
                );
            }
            let ok = match world.expect {
                Expect::Gain => g >= 8.0 && g >= 0.5 * bg,
                Expect::NoLevelDowngrade(l) => {
                    let named = doc["evidence_needed"].as_array().is_some_and(|a| {
                        a.iter().any(|e| {
                            e["kind"]
                                .as_str()
                                .is_some_and(|k| k.starts_with("complex/test"))
                        })
                    });
                    notes += named as u32;
                    new[l] >= world.levels[l]
                }
                Expect::Nothing => s1 >= s0 - 0.02,
                Expect::Cheaper(l) => new[l] < world.levels[l] && s1 >= s0 - 0.05,
            };
            passed += ok as u32;
        }
        let n = seeds as f64;
        println!(
            "| {name} | {seeds} | {passed}/{seeds} | {:.1} | {:.1} | {:.0}% | {downs} | {worse} | {notes} |",
            gain / n,
            best_gain / n,
            share / n * 100.0
        );
    }
    Ok(())
}
