use std::collections::HashMap;

use rand::SeedableRng;

use super::*;

/// Noise that is not there: what a broken build would release.
struct Unnoised;

impl Noise for Unnoised {
    fn draw(&mut self, _: Ratio) -> i64 {
        0
    }
}

fn seeded(seed: u64) -> Secure<rand::rngs::StdRng> {
    Secure(rand::rngs::StdRng::seed_from_u64(seed))
}

/// 100 people with 1–3 rows over 4 groups; with `target`, one more person with 5 rows in
/// group 0 (3 survive bounding).
fn dataset(target: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    for p in 0..100u32 {
        for j in 0..(p % 3 + 1) {
            rows.push(Row {
                person: p,
                group: (p + j) % 4,
                value: i64::from(p % 50),
            });
        }
    }
    if target {
        for _ in 0..5 {
            rows.push(Row {
                person: 100,
                group: 0,
                value: 1_000,
            });
        }
    }
    rows
}

fn count_query(eps: &str) -> Query {
    Query {
        aggregate: Aggregate::Count,
        groups: 4,
        max_per_person: 3,
        epsilon: epsilon(eps).unwrap(),
    }
}

/// The largest privacy loss the samples *prove*: over point and tail events with enough
/// samples, the lower 4-sigma confidence bound of |ln P_D(E) / P_D'(E)|; infinite when an event
/// seen often under one dataset never happens under the other.
fn observed_loss(a: &[i64], b: &[i64]) -> f64 {
    let n = a.len() as f64;
    let hist = |xs: &[i64]| {
        let mut h = HashMap::<i64, f64>::new();
        for x in xs {
            *h.entry(*x).or_default() += 1.0;
        }
        h
    };
    let (ha, hb) = (hist(a), hist(b));
    let lo = *a.iter().chain(b).min().unwrap();
    let hi = *a.iter().chain(b).max().unwrap();
    let mut events: Vec<(f64, f64)> = Vec::new();
    let (mut ta, mut tb) = (n, n);
    for o in lo..=hi {
        let (pa, pb) = (*ha.get(&o).unwrap_or(&0.0), *hb.get(&o).unwrap_or(&0.0));
        events.push((pa, pb));
        events.push((ta, tb)); // the tail X >= o
        ta -= pa;
        tb -= pb;
    }
    let mut worst: f64 = 0.0;
    for (ca, cb) in events {
        let (big, small) = if ca >= cb { (ca, cb) } else { (cb, ca) };
        if big < 2_000.0 {
            continue;
        }
        if small == 0.0 {
            return f64::INFINITY;
        }
        let lcb = (big / small).ln() - 4.0 * (1.0 / big + 1.0 / small).sqrt();
        worst = worst.max(lcb);
    }
    worst
}

fn run_many(noise: &mut impl Noise, rows: &[Row], q: &Query, n: usize) -> Vec<i64> {
    (0..n)
        .map(|_| release(rows, q, noise).unwrap().groups[0].value as i64)
        .collect()
}

/// Many releases on neighbouring datasets (with and without one person): the loss the
/// samples can prove stays within ε = 1, and comes close to it (the test has power).
#[test]
fn observed_privacy_loss_stays_within_epsilon() {
    let q = count_query("1");
    let (d, d2) = (dataset(true), dataset(false));
    let n = 200_000;
    let a = run_many(&mut seeded(1), &d, &q, n);
    let b = run_many(&mut seeded(2), &d2, &q, n);
    let loss = observed_loss(&a, &b);
    println!("observed privacy loss at ε = 1: {loss:.3}");
    assert!(loss <= 1.0, "observed loss {loss} exceeds ε = 1");
    assert!(loss > 0.6, "the estimator should see most of ε: {loss}");
}

/// The same test on a release without noise fails: it would catch a broken build.
#[test]
fn observed_privacy_loss_catches_an_unnoised_release() {
    let q = count_query("1");
    let a = run_many(&mut Unnoised, &dataset(true), &q, 5_000);
    let b = run_many(&mut Unnoised, &dataset(false), &q, 5_000);
    assert!(observed_loss(&a, &b) > 1.0);
    // Noise at the wrong scale (ε = 4 noise claimed as ε = 1) is caught too.
    let loose = count_query("4");
    let a = run_many(&mut seeded(3), &dataset(true), &loose, 100_000);
    let b = run_many(&mut seeded(4), &dataset(false), &loose, 100_000);
    assert!(observed_loss(&a, &b) > 1.0);
}

#[test]
fn contributions_are_bounded_per_person() {
    let r = release(&dataset(true), &count_query("1"), &mut Unnoised).unwrap();
    // 100 people: 34·1 + 33·2 + 33·3 rows = 199, + 3 of the target's 5.
    let total: f64 = r.groups.iter().map(|g| g.value).sum();
    assert_eq!(total, 202.0);
    assert_eq!(r.rows_bounded, 2);
    assert_eq!(r.sensitivity, 3);
}

#[test]
fn sums_and_means_clamp_to_their_bounds() {
    let rows = dataset(true);
    let q = Query {
        aggregate: Aggregate::Sum {
            lower: 0,
            upper: 10,
        },
        ..count_query("1")
    };
    let r = release(&rows, &q, &mut Unnoised).unwrap();
    assert_eq!(r.sensitivity, 30);
    // The target's 1,000s count as 10 each.
    let exact: i64 = {
        let mut taken = HashMap::<u32, u32>::new();
        rows.iter()
            .filter(|x| x.group == 0)
            .filter(|x| {
                let t = taken.entry(x.person).or_default();
                *t += 1;
                *t <= 3
            })
            .map(|x| x.value.clamp(0, 10))
            .sum()
    };
    assert_eq!(r.groups[0].value, exact as f64);
    let q = Query {
        aggregate: Aggregate::Mean {
            lower: 0,
            upper: 10,
        },
        ..count_query("0.5")
    };
    for g in release(&rows, &q, &mut seeded(9)).unwrap().groups {
        assert!((0.0..=10.0).contains(&g.value), "{g:?}");
    }
    let bad = Query {
        aggregate: Aggregate::Sum { lower: 5, upper: 1 },
        ..count_query("1")
    };
    assert!(release(&rows, &bad, &mut Unnoised).is_err());
}

#[test]
fn error_matches_the_noise_scale() {
    let rows = dataset(false);
    let q = Query {
        max_per_person: 1,
        ..count_query("1")
    };
    let truth = release(&rows, &q, &mut Unnoised).unwrap().groups[1].value;
    let mut noise = seeded(5);
    let n = 20_000;
    let mse: f64 = (0..n)
        .map(|_| (release(&rows, &q, &mut noise).unwrap().groups[1].value - truth).powi(2))
        .sum::<f64>()
        / n as f64;
    let want = discrete_laplace_sd(1.0);
    assert!(
        (mse.sqrt() / want - 1.0).abs() < 0.05,
        "rmse {} vs {want}",
        mse.sqrt()
    );
}

#[test]
fn top_k_and_epsilon_parsing() {
    let r = release(&dataset(false), &count_query("1"), &mut Unnoised).unwrap();
    let top = top_k(&r, 2);
    assert_eq!(top.len(), 2);
    assert!(top[0].1.value >= top[1].1.value);
    for bad in ["0", "0.0001", "11", "-1", "1e-3", "x"] {
        assert!(epsilon(bad).is_err(), "{bad}");
    }
    assert_eq!(epsilon("0.25").unwrap(), Ratio::new(1, 4));
}

/// A scale too large for 64 bits is refused, never wrapped into a tiny one (which would
/// release almost exact sums).
#[test]
fn scales_past_64_bits_are_refused() {
    let q = Query {
        aggregate: Aggregate::Sum {
            lower: 0,
            upper: 89_742_589_857,
        },
        groups: 4,
        max_per_person: 5961,
        epsilon: epsilon("0.123457").unwrap(),
    };
    let err = release(&dataset(true), &q, &mut Unnoised).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
    let q = Query {
        aggregate: Aggregate::Mean {
            lower: i64::MIN + 1,
            upper: i64::MAX,
        },
        ..q
    };
    assert!(release(&dataset(true), &q, &mut Unnoised).is_err());
}
