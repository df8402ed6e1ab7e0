//! Tests of the trainer: determinism across thread counts, resumption, learning a planted
//! structure, and the invariants of the sparse updates.

use super::*;
use crate::embed::checkpoint::{resume, training_checkpoint, ModelInfo};
use crate::embed::config::loss_coefficients;
use crate::embed::model::Norm;
use crate::embed::optim::Optimizer;
use crate::embed::with_threads;
use crate::kg::IdMaps;
use proptest::prelude::*;

/// A graph with a planted structure: entity i --r--> (i + r + 1) mod n.
fn ring(n: u32, rels: u32) -> Vec<Triple> {
    (0..n)
        .flat_map(|i| (0..rels).map(move |r| Triple::new(i, r, (i + r + 1) % n)))
        .collect()
}

/// Planted translations without cycles (TransE cannot close a cycle): for each relation r,
/// n head entities each linked to its own tail entity.
fn pairs(n: u32, rels: u32) -> Vec<Triple> {
    (0..rels)
        .flat_map(|r| (0..n).map(move |i| Triple::new(r * 2 * n + i, r, r * 2 * n + n + i)))
        .collect()
}

fn small_config() -> TrainConfig {
    TrainConfig {
        dim: 16,
        epochs: 4,
        batch_size: 40,
        negatives: 3,
        eval_every: 0,
        ..TrainConfig::default()
    }
}

#[test]
fn bitwise_identical_at_any_thread_count() {
    let train = ring(30, 3);
    let run = |threads| {
        with_threads(threads, || {
            let mut t = Trainer::new(small_config(), &train, 30, 3).unwrap();
            t.run(&train, None, |_, _| ControlFlow::Continue(()));
            t.model
        })
        .unwrap()
    };
    let one = run(1);
    let bits = |m: &TransE| m.entities.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&one), bits(&run(1)), "same seed, same result");
    assert_eq!(bits(&one), bits(&run(2)), "thread count does not matter");
    assert_eq!(one.relations, run(3).relations);
}

#[test]
fn resume_equals_the_uninterrupted_run() {
    let train = ring(25, 2);
    let valid = vec![Triple::new(0, 0, 1), Triple::new(3, 1, 5)];
    let validation = Validation {
        known: KnownTriples::new([&train[..], &valid[..]]),
        triples: valid,
    };
    for (optimizer, reciprocal) in [
        (Optimizer::Sgd, false),
        (Optimizer::Adagrad, false),
        (Optimizer::Adam, false),
        (Optimizer::Adagrad, true),
    ] {
        let config = TrainConfig {
            optimizer,
            reciprocal,
            epochs: 6,
            eval_every: 2,
            patience: 10,
            ..small_config()
        };
        let mut straight = Trainer::new(config.clone(), &train, 25, 2).unwrap();
        straight.run(&train, Some(&validation), |_, _| ControlFlow::Continue(()));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.ckpt");
        let mut first = Trainer::new(config, &train, 25, 2).unwrap();
        first.run(&train, Some(&validation), |t, _| {
            if t.epoch == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        training_checkpoint(&first, &IdMaps::default(), &ModelInfo::default(), &train)
            .save(&path)
            .unwrap();
        drop(first);
        let ckpt = crate::kg::Checkpoint::load(&path).unwrap();
        let (mut resumed, _, _, saved_train) = resume(&ckpt).unwrap();
        assert_eq!(saved_train, train);
        assert_eq!(resumed.epoch, 3);
        resumed.run(&train, Some(&validation), |_, _| ControlFlow::Continue(()));
        assert_eq!(resumed.model, straight.model, "{optimizer:?}");
        let strip = |h: &[EpochRecord]| -> Vec<EpochRecord> {
            h.iter()
                .map(|r| EpochRecord {
                    seconds: 0.0,
                    ..r.clone()
                })
                .collect()
        };
        assert_eq!(
            strip(&resumed.history),
            strip(&straight.history),
            "{optimizer:?}"
        );
        assert_eq!(
            resumed.best.as_ref().map(|b| (b.0, b.1)),
            straight.best.as_ref().map(|b| (b.0, b.1))
        );
    }
}

#[test]
fn learns_a_planted_translation() {
    // Each tail is exactly one translation away from its head: training must rank it first.
    let train = pairs(20, 2);
    let known = KnownTriples::new([&train[..]]);
    for loss in [Loss::Margin, Loss::SelfAdversarial, Loss::Softmax] {
        let config = TrainConfig {
            dim: 32,
            epochs: 150,
            batch_size: 16,
            negatives: 8,
            lr: 0.1,
            loss,
            margin: if loss == Loss::Margin { 1.0 } else { 4.0 },
            eval_every: 0,
            ..TrainConfig::default()
        };
        let mut t = Trainer::new(config, &train, 80, 2).unwrap();
        let before = evaluate(&t.model, &train, &known).both.mrr;
        t.run(&train, None, |_, _| ControlFlow::Continue(()));
        let after = evaluate(&t.model, &train, &known).both.mrr;
        // Filtered ranking over known triples: a perfect model ranks every query first.
        assert!(after > 0.9, "{loss:?}: MRR {before:.3} -> {after:.3}");
    }
}

#[test]
fn reciprocal_model_learns_both_directions() {
    let train = pairs(20, 2);
    let known = KnownTriples::new([&train[..]]);
    let config = TrainConfig {
        dim: 32,
        epochs: 150,
        batch_size: 16,
        negatives: 8,
        lr: 0.1,
        loss: Loss::Softmax,
        margin: 4.0,
        eval_every: 0,
        reciprocal: true,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(config, &train, 80, 2).unwrap();
    assert_eq!(t.model.relations.nrows(), 4, "an inverse row per relation");
    assert_eq!(t.model.num_relations(), 2);
    t.run(&train, None, |_, _| ControlFlow::Continue(()));
    let e = evaluate(&t.model, &train, &known);
    assert!(e.head.mrr > 0.9 && e.tail.mrr > 0.9, "{e:?}");
    // Heads are answered by the inverse row, not by t − r.
    let p = train[0];
    let q = t.model.head_query(p.r, p.t);
    let inv = t.model.relation(t.model.inverse(p.r));
    let want: Vec<f32> = t
        .model
        .entity(p.t)
        .iter()
        .zip(inv)
        .map(|(a, b)| a + b)
        .collect();
    assert_eq!(q, want);
}

#[test]
fn bad_setups_are_rejected_up_front() {
    let train = ring(5, 1);
    let bad = [
        TrainConfig {
            lr: f32::NAN,
            ..small_config()
        },
        TrainConfig {
            lr: -1.0,
            ..small_config()
        },
        TrainConfig {
            lr: f32::INFINITY,
            ..small_config()
        },
        TrainConfig {
            margin: f32::NAN,
            ..small_config()
        },
        TrainConfig {
            dim: 0,
            ..small_config()
        },
        TrainConfig {
            negatives: 0,
            ..small_config()
        },
        TrainConfig {
            batch_size: 0,
            ..small_config()
        },
        TrainConfig {
            epochs: 0,
            ..small_config()
        },
        TrainConfig {
            adversarial_temperature: f32::NAN,
            ..small_config()
        },
    ];
    for c in bad {
        let err = Trainer::new(c.clone(), &train, 5, 1).err();
        assert!(matches!(err, Some(EmbedError::Config(_))), "{c:?} accepted");
    }
    assert!(
        Trainer::new(small_config(), &[], 5, 1).is_err(),
        "empty graph"
    );
    assert!(Trainer::new(small_config(), &[Triple::new(0, 0, 9)], 5, 1).is_err());
    // One relation with one triple trains fine.
    let one = [Triple::new(0, 0, 1)];
    let mut t = Trainer::new(small_config(), &one, 2, 1).unwrap();
    t.run(&one, None, |_, _| ControlFlow::Continue(()));
    assert!(t.model.entities.iter().all(|x| x.is_finite()));
}

proptest! {
    #[test]
    fn an_exact_translation_scores_best(
        h in proptest::collection::vec(-1.0f32..1.0, 8),
        r in proptest::collection::vec(-1.0f32..1.0, 8),
        others in proptest::collection::vec(proptest::collection::vec(-2.0f32..2.0, 8), 1..20),
        l2 in any::<bool>(),
    ) {
        let t: Vec<f32> = h.iter().zip(&r).map(|(a, b)| a + b).collect();
        let mut rows = vec![h.clone(), t];
        rows.extend(others);
        let n = rows.len();
        let m = TransE {
            reciprocal: false,
            norm: if l2 { Norm::L2 } else { Norm::L1 },
            entities: Array2::from_shape_vec((n, 8), rows.concat()).unwrap(),
            relations: Array2::from_shape_vec((1, 8), r).unwrap(),
        };
        let best = m.score(0, 0, 1);
        for e in 0..n as u32 {
            prop_assert!(m.score(0, 0, e) <= best + 1e-6);
        }
    }

    #[test]
    fn loss_coefficients_are_the_gradient(
        dist in proptest::collection::vec(0.0f32..6.0, 2..6),
        which in 0usize..3,
    ) {
        let loss = [Loss::Margin, Loss::SelfAdversarial, Loss::Softmax][which];
        let config = TrainConfig { loss, margin: 2.0, ..TrainConfig::default() };
        let mut coef = vec![0.0; dist.len()];
        loss_coefficients(&config, &dist, &mut coef);
        let mut scratch = coef.clone();
        for i in 0..dist.len() {
            let eps = 1e-2f32;
            let (mut up, mut down) = (dist.clone(), dist.clone());
            up[i] += eps;
            down[i] -= eps;
            if loss == Loss::Margin {
                // Skip points next to a hinge, where the derivative jumps.
                let near = (1..dist.len()).any(|j| (config.margin + dist[0] - dist[j]).abs() < 2.0 * eps);
                if near { continue; }
            }
            let numeric = if loss == Loss::SelfAdversarial {
                // The adversarial weights are constants: differentiate with them frozen.
                let fixed = |d: &[f32]| -> f64 {
                    let w: Vec<f32> = dist[1..].iter().map(|x| (-x).exp()).collect();
                    let z: f32 = w.iter().sum();
                    let ls = |x: f32| x.min(0.0) - (-x.abs()).exp().ln_1p();
                    let pos = -ls(config.margin - d[0]);
                    let neg: f32 = (1..d.len()).map(|j| -(w[j - 1] / z) * ls(d[j] - config.margin)).sum();
                    (0.5 * (pos + neg)) as f64
                };
                (fixed(&up) - fixed(&down)) / (2.0 * eps as f64)
            } else {
                (loss_coefficients(&config, &up, &mut scratch)
                    - loss_coefficients(&config, &down, &mut scratch))
                    / (2.0 * eps as f64)
            };
            prop_assert!((numeric - coef[i] as f64).abs() < 2e-2, "{loss:?} d{i}: numeric {numeric} vs {}", coef[i]);
        }
    }
}
