//! Buckets of `hist(value, k)` maps with `k > 0` (the layout is in `codegen::hist`).

use super::format::hist_bound;

/// The smallest and largest value of bucket `b` (`None`: unbounded, the negatives).
pub(super) fn fine_bounds(b: u64, k: i64) -> (Option<i64>, Option<i64>) {
    let k = u32::try_from(k).unwrap_or(0).min(5);
    let small = 1u64 << k;
    if b == 0 {
        return (None, Some(-1));
    }
    if b <= small {
        let v = (b - 1) as i64;
        return (Some(v), Some(v));
    }
    let j = b - 1 - small;
    let sh = u32::try_from(j >> k).unwrap_or(u32::MAX);
    let idx = j & (small - 1);
    let lo = 1u64
        .checked_shl(sh + k)
        .and_then(|base| base.checked_add(idx.checked_shl(sh)?))
        .unwrap_or(u64::MAX);
    let width = 1u64.checked_shl(sh).unwrap_or(u64::MAX);
    let hi = lo.saturating_add(width - 1);
    (
        Some(i64::try_from(lo).unwrap_or(i64::MAX)),
        Some(i64::try_from(hi).unwrap_or(i64::MAX)),
    )
}

/// The text label of bucket `b`: `(..., 0)`, `[v]` for a one-value bucket, else `[lo, hi)`.
pub(super) fn fine_label(b: u64, k: i64) -> String {
    match fine_bounds(b, k) {
        (Some(lo), Some(hi)) if lo == hi => format!("[{lo}]"),
        (Some(lo), Some(hi)) => {
            let lo = u64::try_from(lo).unwrap_or(0);
            let end = u64::try_from(hi).unwrap_or(0).saturating_add(1);
            format!("[{}, {})", hist_bound(lo), hist_bound(end))
        }
        _ => "(..., 0)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_with_three_bits() {
        assert_eq!(fine_bounds(0, 3), (None, Some(-1)));
        assert_eq!(fine_bounds(1, 3), (Some(0), Some(0)));
        assert_eq!(fine_bounds(16, 3), (Some(15), Some(15)));
        assert_eq!(fine_bounds(17, 3), (Some(16), Some(17)));
        assert_eq!(fine_bounds(25, 3), (Some(32), Some(35)));
        assert_eq!(fine_label(17, 3), "[16, 18)");
        assert_eq!(fine_label(3, 3), "[2]");
    }
}
