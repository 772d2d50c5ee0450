//! Runs `learn` on every ground-truth world of `modelfit::learn::simulate`
//! over several seeds and prints how routing moves, whether any level gets
//! worse, and the calibration (Brier, ECE) of the suggestions' confidence.
//!
//! `cargo run --release --example simulate [SEEDS]`
#![allow(clippy::print_stdout)]

use modelfit::home::Home;
use modelfit::learn::simulate::{self, World};
use modelfit::learn::{self, AnalyzeOptions, SuggestOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let now = modelfit::clock::parse("2026-06-01T00:00:00Z").unwrap();
    // SAFETY of the clock: set once, before any thread reads it.
    std::env::set_var("MODELFIT_NOW", "2026-06-01T00:00:00Z");
    let (t, delta) = (learn::analyze::TARGET, learn::analyze::DELTA);
    let mut pairs = Vec::new();
    println!("| world | runs | right routing before | after | runs with a level worse | keyword suggestions | Brier | ECE |");
    println!("|---|---|---|---|---|---|---|---|");
    for world in World::scenarios() {
        let oracle = world.oracle(t, delta);
        let (mut before_ok, mut after_ok, mut worse, mut kw) = (0, 0, 0, 0);
        let mut wpairs = Vec::new();
        for seed in 0..seeds {
            let dir = tempfile::tempdir()?;
            let home = Home::at(dir.path());
            std::fs::create_dir_all(home.logs_dir())?;
            std::fs::create_dir_all(home.config_dir())?;
            std::fs::write(home.models(), simulate::models_json(world.rules))?;
            simulate::write_ledger(&world, seed, now, &home.ledger())?;
            learn::analyze(&home, &AnalyzeOptions::default())?;
            let open = learn::suggest(&home, &SuggestOptions::default())?;
            let changes: Vec<_> = open.iter().map(|s| s.change.clone()).collect();
            kw += open.iter().filter(|s| s.kind.contains("rule")).count();
            for s in &open {
                if let Some(y) = simulate::claim_holds(&world, &s.change, t, delta) {
                    wpairs.push((s.confidence, y));
                }
            }
            let after = simulate::route_after(world.rules, &changes);
            before_ok += (0..3).filter(|l| world.rules[*l] == oracle[*l]).count();
            after_ok += (0..3).filter(|l| after[*l] == oracle[*l]).count();
            let p = world.effective_p();
            let got_worse = (0..3).any(|l| {
                let (b, a) = (world.rules[l], after[l]);
                a != b
                    && (p[l][a] < p[l][b].min(t) - delta
                        || world.cps(l, a) > world.cps(l, b) && p[l][a] < p[l][b])
            });
            worse += got_worse as u32;
        }
        let (brier, ece) = simulate::calibration(&wpairs);
        println!(
            "| {} | {seeds} | {before_ok}/{} | {after_ok}/{} | {worse} | {kw} | {} | {} |",
            world.name,
            3 * seeds,
            3 * seeds,
            if wpairs.is_empty() {
                "–".into()
            } else {
                format!("{brier:.3}")
            },
            if wpairs.is_empty() {
                "–".into()
            } else {
                format!("{ece:.3}")
            },
        );
        pairs.extend(wpairs);
    }
    let (brier, ece) = simulate::calibration(&pairs);
    println!(
        "\nall emitted level suggestions: {} claims, Brier {brier:.3}, ECE {ece:.3}",
        pairs.len()
    );
    Ok(())
}
