//! Clusters: the few places where estimated liquidations pile up, above and below the price,
//! for lines like "~$1B of shorts at $94k".

use super::LevelMap;
use crate::model::Side;

/// The default cluster window: bins within ±0.25% of a centre bin form one cluster.
pub const DEFAULT_CLUSTER_WINDOW_PCT: f64 = 0.5;

/// A pile of estimated liquidations near one price.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// [`Side::Short`] for clusters above the price, [`Side::Long`] below.
    pub side: Side,
    /// The USD-weighted centre of the cluster's bins (each bin counted at its middle).
    pub price: f64,
    /// USD that would be liquidated in the cluster.
    pub usd: f64,
    /// Signed distance from the current price, in percent: `(price - current) * 100 / current`.
    pub distance_pct: f64,
}

/// The `top` largest clusters above the price (short liquidations) and below it (long
/// liquidations), each list largest first.
///
/// A cluster is every bin whose middle lies within `±window_pct / 2` percent of the current
/// price around a centre bin's middle. Every bin is tried as a centre (a sliding window over the
/// bins); the heaviest windows are taken first and a window overlapping one already taken is
/// skipped, so no bin is counted twice. Only shorts above the price and longs below it count.
#[must_use]
pub fn clusters(map: &LevelMap, window_pct: f64, top: usize) -> (Vec<Cluster>, Vec<Cluster>) {
    let half_bin = map.bin_size / 2.0;
    let above: Vec<(f64, f64)> = map
        .bins
        .iter()
        .map(|b| (b.price + half_bin, b.short_usd))
        .filter(|&(middle, usd)| usd > 0.0 && middle > map.price)
        .collect();
    let below: Vec<(f64, f64)> = map
        .bins
        .iter()
        .map(|b| (b.price + half_bin, b.long_usd))
        .filter(|&(middle, usd)| usd > 0.0 && middle < map.price)
        .collect();
    let half_width = map.price * window_pct / 200.0;
    let windows = Windows {
        half_width: if half_width.is_finite() {
            half_width.max(0.0)
        } else {
            0.0
        },
        // Bin middles are computed in floating point; a bin exactly at the window's edge is in.
        tolerance: map.bin_size * 1e-6,
        price: map.price,
        top,
    };
    (
        windows.pick(Side::Short, &above),
        windows.pick(Side::Long, &below),
    )
}

/// The window and ranking shared by both sides.
struct Windows {
    half_width: f64,
    tolerance: f64,
    price: f64,
    top: usize,
}

impl Windows {
    /// The `top` heaviest non-overlapping windows over `bins` (`(middle, usd)`, sorted by price).
    fn pick(&self, side: Side, bins: &[(f64, f64)]) -> Vec<Cluster> {
        let reach = self.half_width + self.tolerance;
        let mut prefix = Vec::with_capacity(bins.len() + 1);
        prefix.push(0.0);
        for &(_, usd) in bins {
            prefix.push(prefix[prefix.len() - 1] + usd);
        }
        // (centre, first bin, end bin, usd) for every centre.
        let mut candidates = Vec::with_capacity(bins.len());
        let (mut lo, mut hi) = (0, 0);
        for &(centre, _) in bins {
            while bins[lo].0 < centre - reach {
                lo += 1;
            }
            while hi < bins.len() && bins[hi].0 <= centre + reach {
                hi += 1;
            }
            candidates.push((centre, lo, hi, prefix[hi] - prefix[lo]));
        }
        // Heaviest first; on a tie, the one nearer the price.
        candidates.sort_by(|a, b| {
            b.3.total_cmp(&a.3).then_with(|| {
                (a.0 - self.price)
                    .abs()
                    .total_cmp(&(b.0 - self.price).abs())
            })
        });

        let mut taken: Vec<f64> = Vec::new();
        let mut out = Vec::new();
        for (centre, lo, hi, _) in candidates {
            if out.len() >= self.top {
                break;
            }
            if taken
                .iter()
                .any(|t| (t - centre).abs() <= 2.0 * self.half_width + self.tolerance)
            {
                continue;
            }
            taken.push(centre);
            let members = &bins[lo..hi];
            let usd: f64 = members.iter().map(|&(_, usd)| usd).sum();
            let price = members.iter().map(|&(m, usd)| m * usd).sum::<f64>() / usd;
            out.push(Cluster {
                side,
                price,
                usd,
                distance_pct: (price - self.price) * 100.0 / self.price,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::levels::LevelBin;

    #[test]
    fn an_empty_map_has_no_clusters() {
        let map = LevelMap {
            bin_size: 0.0,
            price: 0.0,
            bins: Vec::new(),
        };
        assert_eq!(
            clusters(&map, DEFAULT_CLUSTER_WINDOW_PCT, 5),
            (Vec::new(), Vec::new())
        );
    }

    #[test]
    fn a_zero_window_makes_every_bin_its_own_cluster() {
        let short = |price, short_usd| LevelBin {
            price,
            long_usd: 0.0,
            short_usd,
        };
        let map = LevelMap {
            bin_size: 1.0,
            price: 100.0,
            bins: vec![short(101.0, 10.0), short(102.0, 30.0), short(103.0, 20.0)],
        };
        let (above, below) = clusters(&map, 0.0, 10);
        let usd: Vec<f64> = above.iter().map(|c| c.usd).collect();
        assert_eq!(usd, vec![30.0, 20.0, 10.0]);
        assert_eq!(below, Vec::new());
    }
}
