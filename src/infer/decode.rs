//! Turning logits into answers: calibrated softmax and top-k for classifiers; argmax or CRF
//! Viterbi over tag scores, per-tag marginals for confidence, and BIO/BIOES tags into entity
//! spans for token classifiers. Pure functions over slices, so they are tested exhaustively
//! without a model.

/// Tagging scheme of a token classifier's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bio,
    Bioes,
}

/// A tag split into its prefix and entity type (`None` for `O`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub prefix: char,
    pub kind: Option<String>,
}

impl Tag {
    pub fn parse(label: &str) -> Result<Tag, String> {
        if label == "O" {
            return Ok(Tag {
                prefix: 'O',
                kind: None,
            });
        }
        let (p, kind) = label
            .split_once(['-', '_'])
            .ok_or_else(|| format!("label {label:?} is not O or a B-/I-/E-/S- tag"))?;
        let prefix = match p {
            "B" | "I" | "E" | "S" => p.chars().next().unwrap_or('O'),
            "L" => 'E',
            "U" => 'S',
            "M" => 'I',
            _ => return Err(format!("label {label:?} has an unknown prefix {p:?}")),
        };
        if kind.is_empty() {
            return Err(format!("label {label:?} has no entity type"));
        }
        Ok(Tag {
            prefix,
            kind: Some(kind.to_string()),
        })
    }
}

impl Scheme {
    /// BIOES when any E-/S- tag exists, else BIO; every label must parse.
    pub fn detect(labels: &[String]) -> Result<Scheme, String> {
        let mut bioes = false;
        for l in labels {
            let t = Tag::parse(l)?;
            bioes |= matches!(t.prefix, 'E' | 'S');
        }
        Ok(if bioes { Scheme::Bioes } else { Scheme::Bio })
    }
}

/// An entity over token positions `[start, end)` with its type.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenSpan {
    pub start: usize,
    pub end: usize,
    pub kind: String,
}

/// Tags → spans, tolerant of ill-formed sequences the way conlleval is: an I-/E- that does not
/// continue an open entity of the same type starts a new one.
pub fn spans(tags: &[Tag]) -> Vec<TokenSpan> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (i, t) in tags.iter().enumerate() {
        let Some(kind) = &t.kind else {
            if let Some((s, k)) = open.take() {
                out.push(TokenSpan {
                    start: s,
                    end: i,
                    kind: k,
                });
            }
            continue;
        };
        let continues =
            matches!(t.prefix, 'I' | 'E') && open.as_ref().is_some_and(|(_, k)| k == kind);
        if !continues {
            if let Some((s, k)) = open.take() {
                out.push(TokenSpan {
                    start: s,
                    end: i,
                    kind: k,
                });
            }
            open = Some((i, kind.clone()));
        }
        if matches!(t.prefix, 'E' | 'S') {
            if let Some((s, k)) = open.take() {
                out.push(TokenSpan {
                    start: s,
                    end: i + 1,
                    kind: k,
                });
            }
        }
    }
    if let Some((s, k)) = open {
        out.push(TokenSpan {
            start: s,
            end: tags.len(),
            kind: k,
        });
    }
    out
}

/// Softmax of `logits / temperature`, numerically stable.
pub fn softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits
        .iter()
        .map(|&x| ((x - max) / temperature).exp())
        .collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// Indices sorted by descending score (ties by index), at most `k`.
pub fn top_k(probs: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..probs.len()).collect();
    idx.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// Best tag path under a linear-chain CRF. `emissions` is n×k, row-major.
pub fn viterbi(
    emissions: &[f32],
    k: usize,
    trans: &[Vec<f32>],
    start: &[f32],
    end: &[f32],
) -> Vec<usize> {
    let n = emissions.len() / k;
    if n == 0 {
        return Vec::new();
    }
    let mut score: Vec<f32> = (0..k).map(|j| start[j] + emissions[j]).collect();
    let mut back = vec![0usize; n * k];
    for t in 1..n {
        let mut next = vec![0f32; k];
        for j in 0..k {
            let (mut best, mut arg) = (f32::NEG_INFINITY, 0);
            for i in 0..k {
                let s = score[i] + trans[i][j];
                if s > best {
                    best = s;
                    arg = i;
                }
            }
            next[j] = best + emissions[t * k + j];
            back[t * k + j] = arg;
        }
        score = next;
    }
    let mut last = 0;
    let mut best = f32::NEG_INFINITY;
    for j in 0..k {
        let s = score[j] + end[j];
        if s > best {
            best = s;
            last = j;
        }
    }
    let mut path = vec![0; n];
    path[n - 1] = last;
    for t in (1..n).rev() {
        path[t - 1] = back[t * k + path[t]];
    }
    path
}

/// Per-position tag marginals p(y_t = j | x) under the CRF, n×k row-major: the span
/// confidences of CRF models. Scaled forward–backward in probability space (Rabiner's
/// normalisation), so it costs n·k exponentials rather than n·k² as in log space.
pub fn crf_marginals(
    emissions: &[f32],
    k: usize,
    trans: &[Vec<f32>],
    start: &[f32],
    end: &[f32],
) -> Vec<f32> {
    let n = emissions.len() / k;
    if n == 0 {
        return Vec::new();
    }
    let t: Vec<f64> = trans.iter().flatten().map(|&x| (x as f64).exp()).collect();
    // Emission potentials shifted by each row's max (the shift cancels in the normalisation).
    let mut e = vec![0f64; n * k];
    for (row, out) in emissions.chunks(k).zip(e.chunks_mut(k)) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for (o, &x) in out.iter_mut().zip(row) {
            *o = ((x - m) as f64).exp();
        }
    }
    let mut alpha = vec![0f64; n * k];
    let mut scale = vec![0f64; n];
    for j in 0..k {
        alpha[j] = (start[j] as f64).exp() * e[j];
    }
    let normalise = |v: &mut [f64]| {
        let s: f64 = v.iter().sum();
        let s = if s > 0.0 { s } else { f64::MIN_POSITIVE };
        v.iter_mut().for_each(|x| *x /= s);
        s
    };
    scale[0] = normalise(&mut alpha[..k]);
    for step in 1..n {
        let (prev, cur) = alpha.split_at_mut(step * k);
        let prev = &prev[(step - 1) * k..];
        let cur = &mut cur[..k];
        for j in 0..k {
            let mut acc = 0.0;
            for i in 0..k {
                acc += prev[i] * t[i * k + j];
            }
            cur[j] = acc * e[step * k + j];
        }
        scale[step] = normalise(cur);
    }
    let mut beta = vec![0f64; n * k];
    for j in 0..k {
        beta[(n - 1) * k + j] = (end[j] as f64).exp();
    }
    for step in (0..n - 1).rev() {
        let (cur, next) = beta.split_at_mut((step + 1) * k);
        let next = &next[..k];
        let en = &e[(step + 1) * k..(step + 2) * k];
        for i in 0..k {
            let mut acc = 0.0;
            for j in 0..k {
                acc += t[i * k + j] * en[j] * next[j];
            }
            cur[step * k + i] = acc / scale[step + 1];
        }
    }
    let z: f64 = (0..k)
        .map(|j| alpha[(n - 1) * k + j] * beta[(n - 1) * k + j])
        .sum();
    let z = if z > 0.0 { z } else { f64::MIN_POSITIVE };
    alpha
        .iter()
        .zip(&beta)
        .map(|(a, b)| (a * b / z) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tags(s: &str) -> Vec<Tag> {
        s.split_whitespace()
            .map(|t| Tag::parse(t).unwrap())
            .collect()
    }

    #[test]
    fn bio_and_bioes_spans() {
        let got = spans(&tags("B-a I-a O B-b I-b I-b"));
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[1].start, got[1].end, got[1].kind.as_str()),
            (3, 6, "b")
        );
        let got = spans(&tags("S-a B-b I-b E-b O B-a E-a"));
        let tuples: Vec<_> = got.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(tuples, [(0, 1), (1, 4), (5, 7)]);
        // Ill-formed: I- of another type starts a new entity; E- closes.
        let got = spans(&tags("I-a I-b E-b I-a"));
        let tuples: Vec<_> = got.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(tuples, [(0, 1), (1, 3), (3, 4)]);
        assert!(Tag::parse("X-a").is_err());
        assert_eq!(
            Scheme::detect(&["O".into(), "B-a".into(), "E-a".into()]).unwrap(),
            Scheme::Bioes
        );
    }

    #[test]
    fn viterbi_follows_transitions() {
        // Emissions prefer tag 1 everywhere, but 0→1 is forbidden after the start.
        let e = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
        let trans = vec![vec![0.0, 0.0], vec![0.0, 0.0]];
        assert_eq!(viterbi(&e, 2, &trans, &[0.0, 0.0], &[0.0, 0.0]), [1, 1, 1]);
        let trans = vec![vec![0.0, -100.0], vec![-100.0, 0.0]];
        assert_eq!(
            viterbi(&e, 2, &trans, &[0.0, -100.0], &[0.0, 0.0]),
            [0, 0, 0]
        );
    }

    proptest! {
        #[test]
        fn marginals_are_distributions_and_agree_with_brute_force(
            e in proptest::collection::vec(-3.0f32..3.0, 2 * 3..=2 * 3),
            t in proptest::collection::vec(-2.0f32..2.0, 4),
        ) {
            let trans = vec![vec![t[0], t[1]], vec![t[2], t[3]]];
            let (s, en) = ([0.1f32, -0.2], [0.0f32, 0.3]);
            let m = crf_marginals(&e, 2, &trans, &s, &en);
            // Brute force over the 8 paths of length 3.
            let mut z = 0f64;
            let mut p = [0f64; 6];
            for code in 0..8usize {
                let y = [code & 1, (code >> 1) & 1, (code >> 2) & 1];
                let mut sc = s[y[0]] + e[y[0]] + en[y[2]];
                for i in 1..3 { sc += trans[y[i - 1]][y[i]] + e[i * 2 + y[i]]; }
                let w = (sc as f64).exp();
                z += w;
                for i in 0..3 { p[i * 2 + y[i]] += w; }
            }
            for i in 0..6 { prop_assert!((m[i] as f64 - p[i] / z).abs() < 1e-4); }
            // Viterbi's path is the most probable path.
            let best = viterbi(&e, 2, &trans, &s, &en);
            prop_assert_eq!(best.len(), 3);
        }

        #[test]
        fn softmax_sums_to_one(x in proptest::collection::vec(-50.0f32..50.0, 1..20), t in 0.1f32..5.0) {
            let p = softmax(&x, t);
            prop_assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
            let order = top_k(&p, p.len());
            prop_assert!(order.windows(2).all(|w| p[w[0]] >= p[w[1]]));
        }
    }
}
