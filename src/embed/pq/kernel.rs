//! The PQ4 scan kernels: the packed code layout and the sums of 32 entities' table entries per
//! step, portable and with AVX2 (through `pulp`, whose token makes the intrinsics safe). Kept
//! apart from the index so the SIMD sits in one place, checked against the portable kernel.

/// Entities summed together by one kernel call.
pub(super) const LANES: usize = 32;

/// 32 bytes of codes or table entries. With AVX2 at hand, the vector type itself: codes and
/// tables are then stored 32-byte aligned and the kernel loads them straight into registers
/// (through `[u8; 32]` values, the compiler copied every load through the stack).
#[cfg(target_arch = "x86_64")]
pub(super) type Vector = std::arch::x86_64::__m256i;
#[cfg(not(target_arch = "x86_64"))]
pub(super) type Vector = [u8; LANES];

/// Packs one block's codes (`LANES` entities × `groups`, row-major) for the kernel: per pair of
/// groups (2p, 2p+1), 32 bytes; byte j < 16 holds group 2p of entity j in its low nibble and of
/// entity j + 16 in its high nibble, byte 16 + j the same for group 2p + 1. One 256-bit load then
/// feeds both 128-bit halves of a byte shuffle with their own group's table.
pub(super) fn pack(block: &[u8], groups: usize, out: &mut [u8]) {
    for p in 0..groups / 2 {
        for half in 0..2 {
            let g = 2 * p + half;
            for j in 0..16 {
                let lo = block[j * groups + g];
                let hi = block[(j + 16) * groups + g];
                out[p * LANES + half * 16 + j] = lo | (hi << 4);
            }
        }
    }
}

/// The block kernel: for 32 entities, the sums of their groups' table entries.
#[derive(Clone, Copy)]
pub(super) enum Kernel {
    Portable,
    /// AVX2 through `pulp`, whose token proves the CPU has it and makes the intrinsics safe.
    #[cfg(target_arch = "x86_64")]
    Avx2(pulp::x86::V3),
}

impl Kernel {
    pub(super) fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = pulp::x86::V3::try_new() {
            return Kernel::Avx2(simd);
        }
        Kernel::Portable
    }

    /// Sums every block of `codes` (blocks of `lut.len()` bytes) and calls
    /// `hit(block, sums, within)` for the blocks where some sum is at most the bound, which
    /// starts at `u16::MAX` and is whatever `hit` last returned; bit `j` of `within` is set when
    /// entity `j`'s sum is. Most blocks of a scan are rejected without leaving the vector
    /// registers, and a block handed over usually has one or two entities within the bound.
    #[cfg(test)]
    pub(super) fn scan(
        self,
        codes: &[Vector],
        lut: &[Vector],
        mut hit: impl FnMut(usize, &[u16; LANES], u32) -> u16,
    ) {
        self.scan_many(codes, &[lut], |_, b, sums, within| hit(b, sums, within));
    }

    /// [`scan`](Self::scan) for several queries in one pass: block by block, every query's
    /// tables are applied to the block while its codes sit in L1, so the codes cross the
    /// memory bus once per pass rather than once per query. `hit(query, block, sums, within)`
    /// returns that query's new bound.
    pub(super) fn scan_many(
        self,
        codes: &[Vector],
        luts: &[&[Vector]],
        hit: impl FnMut(usize, usize, &[u16; LANES], u32) -> u16,
    ) {
        let Some(first) = luts.first() else { return };
        let block = first.len();
        assert!(
            block > 0 && codes.len().is_multiple_of(block) && luts.iter().all(|l| l.len() == block)
        );
        match self {
            Kernel::Portable => portable_scan(codes, luts, hit),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2(simd) => avx2_scan(simd, codes, luts, hit),
        }
    }
}

fn portable_scan(
    codes: &[Vector],
    luts: &[&[Vector]],
    mut hit: impl FnMut(usize, usize, &[u16; LANES], u32) -> u16,
) {
    use pulp::bytemuck::cast_slice;
    let mut bounds = vec![u16::MAX; luts.len()];
    let mut sums = [0u16; LANES];
    for (b, block) in codes.chunks_exact(luts[0].len()).enumerate() {
        for (q, lut) in luts.iter().enumerate() {
            portable(cast_slice(block), cast_slice(lut), &mut sums);
            let within = sums
                .iter()
                .enumerate()
                .filter(|&(_, &d)| d <= bounds[q])
                .fold(0u32, |m, (j, _)| m | 1 << j);
            if within != 0 {
                bounds[q] = hit(q, b, &sums, within);
            }
        }
    }
}

fn portable(codes: &[u8], lut: &[u8], out: &mut [u16; LANES]) {
    *out = [0; LANES];
    for (c, t) in codes.chunks_exact(LANES).zip(lut.chunks_exact(LANES)) {
        for j in 0..16 {
            let (a, b) = (c[j], c[16 + j]);
            out[j] += t[(a & 15) as usize] as u16 + t[16 + (b & 15) as usize] as u16;
            out[j + 16] += t[(a >> 4) as usize] as u16 + t[16 + (b >> 4) as usize] as u16;
        }
    }
}

/// The same scan with AVX2. Per pair of groups: the two nibble sets of one 256-bit load, two
/// shuffles (each 128-bit half looks its own group's table up), and the bytes added into 16-bit
/// lanes: `a` gathers `even + 256·odd` (wrapping), `b` the odd bytes alone, so
/// `even = a − 256·b` exactly, because every true sum is below 2^16 (`tables` caps the
/// entries). The two halves (first and second group of each pair) are then added and compared
/// with the bound in registers; only blocks with a candidate are stored and handed to `hit`.
/// With several queries every query's tables meet the block while it is in L1. (Unpacking the
/// nibbles once for all queries into an L1 buffer measured no faster than unpacking per query.)
#[cfg(target_arch = "x86_64")]
fn avx2_scan(
    simd: pulp::x86::V3,
    codes: &[Vector],
    luts: &[&[Vector]],
    mut hit: impl FnMut(usize, usize, &[u16; LANES], u32) -> u16,
) {
    use std::arch::x86_64::__m256i;
    simd.vectorize(
        #[inline(always)]
        || {
            let (avx, avx2) = (simd.avx, simd.avx2);
            let nibble = avx._mm256_set1_epi8(0x0f);
            let zero = avx._mm256_setzero_si256();
            let vectors = luts[0].len();
            let mut bounds = vec![u16::MAX; luts.len()];
            let mut sums = [0u16; LANES];
            // The low and high nibbles of code vector `$j` of `$c`. (Macros, not closures: a
            // closure that is not inlined loses AVX2 and with it the inlining of every
            // intrinsic; one such build ran 13 times slower.)
            macro_rules! unpack {
                ($c:expr, $j:expr) => {{
                    let v: __m256i = $c[$j];
                    (
                        avx2._mm256_and_si256(v, nibble),
                        avx2._mm256_and_si256(avx2._mm256_srli_epi16::<4>(v), nibble),
                    )
                }};
            }
            macro_rules! lookup {
                ($c:expr, $t:expr, $j:expr) => {{
                    let (lo, hi) = unpack!($c, $j);
                    let t: __m256i = $t[$j];
                    (
                        avx2._mm256_shuffle_epi8(t, lo),
                        avx2._mm256_shuffle_epi8(t, hi),
                    )
                }};
            }
            macro_rules! widen {
                ($a_lo:ident, $b_lo:ident, $a_hi:ident, $b_hi:ident, $r_lo:expr, $r_hi:expr) => {{
                    let (r_lo, r_hi): (__m256i, __m256i) = ($r_lo, $r_hi);
                    $a_lo = avx2._mm256_add_epi16($a_lo, r_lo);
                    $b_lo = avx2._mm256_add_epi16($b_lo, avx2._mm256_srli_epi16::<8>(r_lo));
                    $a_hi = avx2._mm256_add_epi16($a_hi, r_hi);
                    $b_hi = avx2._mm256_add_epi16($b_hi, avx2._mm256_srli_epi16::<8>(r_hi));
                }};
            }
            // The parts (see `check`) of one block for one query's tables.
            macro_rules! block_parts {
                ($lut:expr, $block:expr) => {{
                    let lut: &[__m256i] = $lut;
                    let (mut a_lo, mut b_lo, mut a_hi, mut b_hi) = (zero, zero, zero, zero);
                    // Two pairs of groups are added as bytes before widening: entries are at
                    // most 127 (`ENTRY_MAX`), so a byte holds two of them without overflow.
                    let (codes2, luts2) = ($block.chunks_exact(2), lut.chunks_exact(2));
                    let (c_rest, t_rest) = (codes2.remainder(), luts2.remainder());
                    for (c, t) in codes2.zip(luts2) {
                        let (lo_a, hi_a) = lookup!(c, t, 0);
                        let (lo_b, hi_b) = lookup!(c, t, 1);
                        widen!(
                            a_lo,
                            b_lo,
                            a_hi,
                            b_hi,
                            avx2._mm256_add_epi8(lo_a, lo_b),
                            avx2._mm256_add_epi8(hi_a, hi_b)
                        );
                    }
                    if !t_rest.is_empty() {
                        let (lo, hi) = lookup!(c_rest, t_rest, 0);
                        widen!(a_lo, b_lo, a_hi, b_hi, lo, hi);
                    }
                    // Lane w < 8 of each holds entities 2w (`even`) or 2w + 1 (`odd`) of the
                    // half for the first group of each pair, lane w + 8 the same for the second
                    // group: adding the swapped halves leaves every entity's total in lanes 0-7
                    // (and 8-15).
                    macro_rules! total {
                        ($x:expr) => {{
                            let x: __m256i = $x;
                            avx2._mm256_add_epi16(x, avx2._mm256_permute2x128_si256::<1>(x, x))
                        }};
                    }
                    [
                        total!(avx2._mm256_sub_epi16(a_lo, avx2._mm256_slli_epi16::<8>(b_lo))),
                        total!(b_lo),
                        total!(avx2._mm256_sub_epi16(a_hi, avx2._mm256_slli_epi16::<8>(b_hi))),
                        total!(b_hi),
                    ]
                }};
            }
            // Compares a block's parts with the query's bound and hands the block over when
            // some entity is within it.
            macro_rules! check {
                ($q:expr, $b:expr, $parts:expr) => {{
                    let (q, parts): (usize, [__m256i; 4]) = ($q, $parts);
                    let limit = avx._mm256_set1_epi16(bounds[q] as i16);
                    let mut within = 0u32;
                    for (k, x) in parts.iter().enumerate() {
                        // x <= bound (unsigned) exactly when max(x, bound) == bound.
                        let le = avx2._mm256_cmpeq_epi16(avx2._mm256_max_epu16(*x, limit), limit);
                        // Bit 2w is lane w's (w < 8), entity 16·(k / 2) + 2w + k % 2.
                        let m = avx2._mm256_movemask_epi8(le) as u32 & 0x5555;
                        within |= m << (16 * (k / 2) + k % 2);
                    }
                    if within != 0 {
                        for (k, x) in parts.into_iter().enumerate() {
                            let lanes: [u16; 16] = pulp::cast(x);
                            // parts: even entities of 0-15, odd of 0-15, even of 16-31, odd
                            // of 16-31.
                            let (base, odd) = (16 * (k / 2), k % 2);
                            for w in 0..8 {
                                sums[base + 2 * w + odd] = lanes[w];
                            }
                        }
                        bounds[q] = hit(q, $b, &sums, within);
                    }
                }};
            }
            for (b, block) in codes.chunks_exact(vectors).enumerate() {
                for (q, lut) in luts.iter().enumerate() {
                    let parts = block_parts!(lut, block);
                    check!(q, b, parts);
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::super::{CENTROIDS, ENTRY_MAX};
    use super::*;
    use pulp::bytemuck::{cast_slice_mut, Zeroable};
    use rand::{Rng, SeedableRng};

    fn vectors(bytes: &[u8]) -> Vec<Vector> {
        let mut out = vec![Vector::zeroed(); bytes.len() / LANES];
        cast_slice_mut::<Vector, u8>(&mut out).copy_from_slice(bytes);
        out
    }

    #[test]
    fn kernels_sum_one_table_entry_per_group() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        for groups in [2, 4, 6, 8, 10, 14, 26, 50, 256] {
            let cap = (u16::MAX as usize / groups).min(ENTRY_MAX) as u8;
            let block: Vec<u8> = (0..LANES * groups).map(|_| rng.gen_range(0..16)).collect();
            let lut: Vec<u8> = (0..groups * CENTROIDS)
                .map(|_| rng.gen_range(0..=cap))
                .collect();
            let mut codes = vec![0u8; groups / 2 * LANES];
            pack(&block, groups, &mut codes);
            let want: Vec<u16> = (0..LANES)
                .map(|j| {
                    (0..groups)
                        .map(|g| lut[g * CENTROIDS + block[j * groups + g] as usize] as u16)
                        .sum()
                })
                .collect();
            for kernel in [Kernel::Portable, Kernel::detect()] {
                // Three copies of the block: every one is handed over while the bound stays
                // at the maximum; with a bound below every sum, none is.
                let three = vectors(&codes.repeat(3));
                let lut = vectors(&lut);
                let mut seen = Vec::new();
                kernel.scan(&three, &lut, |b, sums, within| {
                    assert_eq!(sums.to_vec(), want, "{groups} groups");
                    assert_eq!(within, u32::MAX);
                    seen.push(b);
                    u16::MAX
                });
                assert_eq!(seen, [0, 1, 2]);
                let low = want.iter().copied().min().unwrap();
                // A bound at the lowest sum: only those entities are within it.
                let mut calls = 0;
                let mut bound = u16::MAX;
                kernel.scan(&three, &lut, |_, sums, within| {
                    calls += 1;
                    let want = (0..LANES)
                        .filter(|&j| sums[j] <= bound)
                        .fold(0u32, |m, j| m | 1 << j);
                    assert_eq!(within, want, "{groups} groups");
                    bound = if calls == 1 {
                        low
                    } else {
                        low.saturating_sub(1)
                    };
                    bound
                });
                // The first block with the bound at the maximum, the second with the bound at
                // the lowest sum (its lowest entities tie in), the third not at all.
                assert_eq!(calls, 2, "{groups} groups");
            }
        }
    }

    #[test]
    fn one_pass_for_several_queries_sums_as_one_pass_each() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(2);
        let groups = 26;
        let blocks = 5;
        let rows: Vec<u8> = (0..blocks * LANES * groups)
            .map(|_| rng.gen_range(0..16))
            .collect();
        let mut codes = vec![0u8; blocks * groups / 2 * LANES];
        for (block, out) in rows
            .chunks_exact(LANES * groups)
            .zip(codes.chunks_exact_mut(groups / 2 * LANES))
        {
            pack(block, groups, out);
        }
        let luts: Vec<Vec<u8>> = (0..5)
            .map(|_| {
                (0..groups * CENTROIDS)
                    .map(|_| rng.gen_range(0..=127))
                    .collect()
            })
            .collect();
        let codes = vectors(&codes);
        let luts: Vec<Vec<Vector>> = luts.iter().map(|l| vectors(l)).collect();
        let refs: Vec<&[Vector]> = luts.iter().map(Vec::as_slice).collect();
        for kernel in [Kernel::Portable, Kernel::detect()] {
            let mut alone = vec![Vec::new(); luts.len()];
            for (q, lut) in luts.iter().enumerate() {
                kernel.scan(&codes, lut, |b, sums, _| {
                    alone[q].push((b, *sums));
                    u16::MAX
                });
            }
            let mut together = vec![Vec::new(); luts.len()];
            kernel.scan_many(&codes, &refs, |q, b, sums, _| {
                together[q].push((b, *sums));
                u16::MAX
            });
            assert_eq!(alone, together);
            assert!(together.iter().all(|t| t.len() == blocks));
            // Bounds are per query: one query's tight bound does not hide blocks from another.
            let mut seen = vec![0; luts.len()];
            kernel.scan_many(&codes, &refs, |q, _, _, _| {
                seen[q] += 1;
                if q == 0 {
                    0
                } else {
                    u16::MAX
                }
            });
            assert_eq!(seen[0], 1);
            assert!(seen[1..].iter().all(|&n| n == blocks));
        }
    }
}
