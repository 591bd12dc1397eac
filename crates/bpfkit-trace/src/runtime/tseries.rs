//! Printing `tseries()` maps: a text chart per key, or JSON lists of intervals.

use std::collections::BTreeMap;

/// Intervals of one key: epoch (`nsecs / interval`) to `(value, samples)`.
pub type Series = BTreeMap<u64, (i64, u64)>;

/// Cells between the chart's borders.
const WIDTH: usize = 51;

/// Folds one CPU's `(value, samples)` into `acc` for aggregation `agg` (codegen's codes).
pub fn combine(acc: &mut (i64, u64), v: i64, n: u64, agg: i64) {
    use crate::codegen::tseries_agg as a;
    if n == 0 {
        return;
    }
    if acc.1 == 0 {
        *acc = (v, n);
        return;
    }
    acc.0 = match agg {
        a::AVG | a::SUM => acc.0.wrapping_add(v),
        a::MAX => acc.0.max(v),
        a::MIN => acc.0.min(v),
        _ => v,
    };
    acc.1 += n;
}

/// Folds the per-CPU `(value, samples)` slots of interval `epoch` for aggregation `agg`.
///
/// bpftrace keeps an interval's epoch inside its per-CPU value, so a CPU that never wrote
/// the interval reads as epoch 0: interval 0 of a key then holds a sample of 0 on every such
/// CPU, and with the default (last value) aggregation that 0 is what bpftrace shows. The same
/// reading is kept here so charts match bpftrace's on machines with more than one CPU.
pub fn combine_slots(slots: &[(i64, u64)], epoch: u64, agg: i64) -> (i64, u64) {
    let mut acc = (0i64, 0u64);
    for &(v, n) in slots {
        combine(&mut acc, v, n, agg);
    }
    let unwritten = slots.iter().filter(|s| s.1 == 0).count() as u64;
    if epoch == 0 && agg == crate::codegen::tseries_agg::LAST && unwritten > 0 && acc.1 > 0 {
        acc = (0, acc.1 + unwritten);
    }
    acc
}

/// The value an interval shows.
fn shown(v: (i64, u64), agg: i64) -> i64 {
    if agg == crate::codegen::tseries_agg::AVG {
        v.0 / i64::try_from(v.1.max(1)).unwrap_or(i64::MAX)
    } else {
        v.0
    }
}

/// The epochs a key prints: from its first (within the last `num`) to the map's `latest`.
fn window(s: &Series, num: i64, latest: u64) -> std::ops::RangeInclusive<u64> {
    let lo = latest.saturating_sub(u64::try_from(num).unwrap_or(1).saturating_sub(1));
    let first = s.keys().copied().find(|&e| e >= lo).unwrap_or(latest);
    first..=latest
}

/// `hh:mm:ss.mmm` of `ns`.
fn clock(ns: u64) -> String {
    let ms = ns / 1_000_000;
    let s = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600 % 24,
        s / 60 % 60,
        s % 60,
        ms % 1000
    )
}

/// The text chart of one key (without its `@name:` line).
pub fn text(s: &Series, interval: i64, num: i64, agg: i64, latest: u64) -> String {
    let iv = u64::try_from(interval).unwrap_or(1);
    let rows: Vec<(u64, Option<i64>)> = window(s, num, latest)
        .map(|e| (e, s.get(&e).map(|v| shown(*v, agg))))
        .collect();
    let vals: Vec<i64> = rows.iter().filter_map(|r| r.1).collect();
    let (mut lo, mut hi) = (
        vals.iter().copied().min().unwrap_or(0),
        vals.iter().copied().max().unwrap_or(0),
    );
    if lo == hi {
        if lo == 0 {
            hi = 1;
        } else {
            lo -= 1;
            hi += 1;
        }
    }
    let span = i128::from(hi) - i128::from(lo);
    let pos = |v: i64| -> usize {
        let p = (i128::from(v) - i128::from(lo)) * (WIDTH as i128 + 1) / span;
        usize::try_from(p.clamp(0, WIDTH as i128 + 1)).unwrap_or(0)
    };
    let (los, his) = (lo.to_string(), hi.to_string());
    let pad = (WIDTH + 2).saturating_sub(los.len() + his.len());
    let axis = format!("{:13}{los}{}{his}\n", "", " ".repeat(pad));
    let mut out = axis.clone();
    out.push_str(&format!("hh:mm:ss.ms  |{}|\n", "_".repeat(WIDTH)));
    let zero = (lo < 0 && hi > 0).then(|| pos(0));
    for (e, v) in rows {
        let mut cells: Vec<char> = std::iter::once('|')
            .chain(std::iter::repeat_n(' ', WIDTH))
            .chain(std::iter::once('|'))
            .collect();
        if let Some(z) = zero {
            if let Some(c) = cells.get_mut(z) {
                *c = '.';
            }
        }
        if let Some(v) = v {
            if let Some(c) = cells.get_mut(pos(v)) {
                *c = '*';
            }
        }
        let line: String = cells.into_iter().collect();
        let val = v.map_or_else(|| "-".to_string(), |v| v.to_string());
        out.push_str(&format!("{} {line} {val}\n", clock(e.saturating_mul(iv))));
    }
    out.push_str(&format!("{:13}v{}v\n", "", "_".repeat(WIDTH)));
    out.push_str(&axis);
    out
}

/// One key's intervals as a JSON list of `{interval_start, value}`.
pub fn json(s: &Series, interval: i64, num: i64, agg: i64, latest: u64) -> String {
    let iv = u64::try_from(interval).unwrap_or(1);
    let items: Vec<String> = window(s, num, latest)
        .filter_map(|e| {
            let v = s.get(&e)?;
            let ns = e.saturating_mul(iv);
            let secs = ns / 1_000_000_000;
            let (days, day) = (secs / 86_400, secs % 86_400);
            // At most u64::MAX ns / 1 day (213 503): no wrap.
            let (y, m, d) = super::strfuncs::civil(days as i64);
            Some(format!(
                "{{\"interval_start\": \"{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:09}\", \"value\": {}}}",
                day / 3600,
                day / 60 % 60,
                day % 60,
                ns % 1_000_000_000,
                shown(*v, agg)
            ))
        })
        .collect();
    format!("[{}]", items.join(", "))
}
