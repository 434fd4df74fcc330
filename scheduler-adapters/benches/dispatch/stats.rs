//! Percentiles, one scenario's figures, and the report over rounds.

use std::collections::BTreeMap;

/// What one scenario run measured.
#[derive(Debug, Clone)]
pub(crate) struct Figures {
    /// The scenario's label (`ours 10000 x2`, ...).
    pub(crate) label: String,
    /// Fires started per second: fires / (last start − the due instant).
    pub(crate) fires_per_s: f64,
    /// Lateness (start − due instant) percentiles, in ms.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Worst.
    pub(crate) max_ms: f64,
    /// Whatever else the scenario wants said (exactly-once counts, prune rate, ...).
    pub(crate) note: String,
}

/// Figures from lateness samples (ms), for `fires` fires.
pub(crate) fn figures(label: String, mut samples: Vec<f64>, note: String) -> Figures {
    samples.sort_by(f64::total_cmp);
    let max_ms = samples.last().copied().unwrap_or(0.0);
    Figures {
        label,
        fires_per_s: samples.len() as f64 / (max_ms / 1000.0).max(0.001),
        p50_ms: percentile(&samples, 0.50),
        p99_ms: percentile(&samples, 0.99),
        max_ms,
        note,
    }
}

/// The `p` percentile of sorted samples (nearest rank).
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// One row of the table.
pub(crate) fn row(round: usize, f: &Figures, ratio: Option<f64>) -> String {
    let ratio = ratio.map_or_else(|| "-".to_string(), |r| format!("{:.0}%", r * 100.0));
    format!(
        "{round:>5} | {:<24} | {:>9.0} | {:>8.0} | {:>8.0} | {:>8.0} | {:>9} | {}",
        f.label, f.fires_per_s, f.p50_ms, f.p99_ms, f.max_ms, ratio, f.note
    )
}

/// The table's header.
pub(crate) fn header() -> String {
    format!(
        "{:>5} | {:<24} | {:>9} | {:>8} | {:>8} | {:>8} | {:>9} | note\n{}",
        "round",
        "scenario",
        "fires/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "of limit",
        "-".repeat(110)
    )
}

/// Median, minimum and maximum.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let median = percentile(&values, 0.5);
    (
        median,
        values.first().copied().unwrap_or(0.0),
        values.last().copied().unwrap_or(0.0),
    )
}

/// One scenario's figures in one round: the round, the figures, the ratio to that round's SQL
/// limit.
pub(crate) type RoundResult = (usize, Figures, Option<f64>);

/// Every scenario over all rounds: median (min–max) of fires/s, p99 and the ratio to the
/// SQL limit of the same round.
pub(crate) fn summary(results: &[RoundResult]) -> String {
    let mut by_label: BTreeMap<&str, Vec<&RoundResult>> = BTreeMap::new();
    for result in results {
        by_label
            .entry(result.1.label.as_str())
            .or_default()
            .push(result);
    }
    let mut out = format!(
        "{:<24} | {:>22} | {:>22} | {:>22} | {:>18}\n{}\n",
        "scenario",
        "fires/s median (min-max)",
        "p99 ms median (min-max)",
        "max ms median (min-max)",
        "of limit median (min-max)",
        "-".repeat(120)
    );
    for (label, runs) in by_label {
        let (f, f_lo, f_hi) = spread(runs.iter().map(|r| r.1.fires_per_s).collect());
        let (p, p_lo, p_hi) = spread(runs.iter().map(|r| r.1.p99_ms).collect());
        let (m, m_lo, m_hi) = spread(runs.iter().map(|r| r.1.max_ms).collect());
        let ratios: Vec<f64> = runs.iter().filter_map(|r| r.2).collect();
        let ratio = if ratios.is_empty() {
            "-".to_string()
        } else {
            let (r, lo, hi) = spread(ratios);
            format!("{:.0}% ({:.0}-{:.0}%)", r * 100.0, lo * 100.0, hi * 100.0)
        };
        out.push_str(&format!(
            "{label:<24} | {f:>7.0} ({f_lo:>5.0}-{f_hi:<5.0})  | {p:>7.0} ({p_lo:>5.0}-{p_hi:<5.0})  | {m:>7.0} ({m_lo:>5.0}-{m_hi:<5.0})  | {ratio:>18}\n"
        ));
    }
    out
}
