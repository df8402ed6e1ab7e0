//! The per-cell summaries behind a column profile that are not a crate's: the value hash shared
//! by the distinct-count sketch and the top-value counters, and the Misra–Gries counters.
//!
//! Both run for every cell of every scan, so they allocate nothing in the steady state. The
//! distinct count itself is HyperLogLog++ from the `hyperloglogplus` crate, fed through
//! [`Prehashed`] so a value is hashed once (XXH3, from `twox-hash`).

use std::hash::Hasher;

/// Counters of the top-value summary: every value with frequency above 1/(this + 1) of the rows
/// is guaranteed a counter.
pub const TOP_COUNTERS: usize = 64;

/// The 64-bit hash of a value, computed once per cell and shared by the distinct-count sketch
/// and the top-value counters.
pub fn hash(v: &str) -> u64 {
    twox_hash::XxHash3_64::oneshot(v.as_bytes())
}

/// A hasher that passes on an already computed 64-bit hash, so the sketch does not hash the
/// value a second time (it is fed `u64`s only).
#[derive(Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `u64` keys; kept well-defined all the same.
        self.0 = twox_hash::XxHash3_64::oneshot_with_seed(self.0, bytes);
    }
    fn write_u64(&mut self, h: u64) {
        self.0 = h;
    }
}

/// The Misra–Gries counters of the top values, in fixed arrays kept compact (the live counters
/// first): a value is looked up by its hash — after a 256-bit filter of the live hashes, which
/// turns most misses of a high-cardinality column away without a scan — and then its text; a new
/// value takes the next slot (reusing the slot's string), and when all are taken every count is
/// decremented and the survivors moved to the front. Nothing is allocated once the slots' strings
/// have grown.
pub struct TopCounters {
    len: usize,
    filter: [u64; 4],
    hashes: [u64; TOP_COUNTERS],
    counts: [u64; TOP_COUNTERS],
    values: Vec<String>,
}

impl Default for TopCounters {
    fn default() -> Self {
        TopCounters {
            len: 0,
            filter: [0; 4],
            hashes: [0; TOP_COUNTERS],
            counts: [0; TOP_COUNTERS],
            values: vec![String::new(); TOP_COUNTERS],
        }
    }
}

/// The filter word and bit of a hash (its top eight bits).
fn bit(h: u64) -> (usize, u64) {
    ((h >> 62) as usize, 1 << ((h >> 56) & 63))
}

impl TopCounters {
    /// A value already counted is incremented (and `true` returned: the value was seen before);
    /// a new one takes a free counter, or every counter is decremented and the empty ones freed.
    pub fn count(&mut self, v: &str, h: u64) -> bool {
        let (word, mask) = bit(h);
        if self.filter[word] & mask != 0 {
            let live = &self.hashes[..self.len];
            let mut from = 0;
            while let Some(k) = live[from..].iter().position(|&x| x == h) {
                let i = from + k;
                if self.values[i] == v {
                    self.counts[i] += 1;
                    return true;
                }
                from = i + 1;
            }
        }
        if self.len < TOP_COUNTERS {
            let i = self.len;
            self.len += 1;
            self.hashes[i] = h;
            self.counts[i] = 1;
            self.filter[word] |= mask;
            let s = &mut self.values[i];
            s.clear();
            s.push_str(v);
        } else {
            self.filter = [0; 4];
            let mut kept = 0;
            for i in 0..self.len {
                self.counts[i] -= 1;
                if self.counts[i] > 0 {
                    self.hashes[kept] = self.hashes[i];
                    self.counts[kept] = self.counts[i];
                    self.values.swap(kept, i);
                    let (w, m) = bit(self.hashes[kept]);
                    self.filter[w] |= m;
                    kept += 1;
                }
            }
            self.len = kept;
        }
        false
    }

    /// The counters, most frequent first (ties by value).
    pub fn into_sorted(self) -> Vec<(String, u64)> {
        let mut top: Vec<(String, u64)> = self
            .values
            .into_iter()
            .zip(self.counts)
            .take(self.len)
            .collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The top-value counters are Misra–Gries exactly: the same counts as the textbook
        /// algorithm over a map, for any stream.
        #[test]
        fn top_counters_match_textbook_misra_gries(values in prop::collection::vec(0u32..200, 0..3000)) {
            let mut ours = TopCounters::default();
            let mut book: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
            for v in &values {
                let v = format!("v{}", v % 97 * (v / 97 + 1));
                ours.count(&v, hash(&v));
                if let Some(c) = book.get_mut(&v) {
                    *c += 1;
                } else if book.len() < TOP_COUNTERS {
                    book.insert(v, 1);
                } else {
                    book.retain(|_, c| { *c -= 1; *c > 0 });
                }
            }
            let mut book: Vec<(String, u64)> = book.into_iter().collect();
            book.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            prop_assert_eq!(ours.into_sorted(), book);
        }
    }
}
