//! Sparse optimizers: only the rows a batch touched are updated.
//!
//! A batch of 1,024 triples touches a few thousand of FB15k-237's 14,541 entity rows; updating
//! every row, as a dense framework does, is most of the cost. For SGD and Adagrad the sparse update
//! is exactly the dense one (a zero gradient leaves both the row and Adagrad's accumulator
//! unchanged). Adam is the "lazy" variant (as TensorFlow's `LazyAdam` and PyTorch's
//! `SparseAdam`): moments of untouched rows are not decayed, which a dense Adam would do. Adagrad
//! is the default because it converges well for TransE (LibKGE's TransE configurations use it)
//! and its sparse form loses nothing.

use serde::{Deserialize, Serialize};

/// Which update rule to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    Sgd,
    Adagrad,
    Adam,
}

impl std::str::FromStr for Optimizer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "sgd" => Ok(Optimizer::Sgd),
            "adagrad" => Ok(Optimizer::Adagrad),
            "adam" => Ok(Optimizer::Adam),
            other => Err(format!(
                "unknown optimizer {other:?}: use sgd, adagrad or adam"
            )),
        }
    }
}

const ADAGRAD_EPS: f32 = 1e-10;
const ADAM_BETA1: f32 = 0.9;
const ADAM_BETA2: f32 = 0.999;
const ADAM_EPS: f32 = 1e-8;

impl Optimizer {
    /// Per-parameter state values the rule keeps (Adagrad's sum of squares, Adam's two moments).
    pub fn state_slots(self) -> usize {
        match self {
            Optimizer::Sgd => 0,
            Optimizer::Adagrad => 1,
            Optimizer::Adam => 2,
        }
    }

    /// Updates one row in place. `state` holds `state_slots() * param.len()` values; `step` is the
    /// 1-based number of batches so far (Adam's bias correction).
    #[inline]
    pub fn update(self, param: &mut [f32], state: &mut [f32], grad: &[f32], lr: f32, step: u64) {
        match self {
            Optimizer::Sgd => {
                for (p, g) in param.iter_mut().zip(grad) {
                    *p -= lr * g;
                }
            }
            Optimizer::Adagrad => {
                for ((p, s), g) in param.iter_mut().zip(state.iter_mut()).zip(grad) {
                    *s += g * g;
                    *p -= lr * g / (s.sqrt() + ADAGRAD_EPS);
                }
            }
            Optimizer::Adam => {
                let dim = param.len();
                let (m, v) = state.split_at_mut(dim);
                let t = step.max(1) as i32;
                let c1 = 1.0 - ADAM_BETA1.powi(t);
                let c2 = 1.0 - ADAM_BETA2.powi(t);
                let step_size = lr * c2.sqrt() / c1;
                for (((p, m), v), g) in param.iter_mut().zip(m).zip(v).zip(grad) {
                    *m = ADAM_BETA1 * *m + (1.0 - ADAM_BETA1) * g;
                    *v = ADAM_BETA2 * *v + (1.0 - ADAM_BETA2) * g * g;
                    *p -= step_size * *m / (v.sqrt() + ADAM_EPS * c2.sqrt());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adagrad_matches_the_textbook_rule() {
        let mut p = [1.0f32, -1.0];
        let mut s = [0.0f32; 2];
        Optimizer::Adagrad.update(&mut p, &mut s, &[0.5, -2.0], 0.1, 1);
        // First step: p -= lr * g / |g| = lr * sign(g).
        assert!((p[0] - 0.9).abs() < 1e-6 && (p[1] + 0.9).abs() < 1e-6);
        assert_eq!(s, [0.25, 4.0]);
        // A zero gradient changes nothing: the sparse update equals the dense one.
        let before = (p, s);
        Optimizer::Adagrad.update(&mut p, &mut s, &[0.0, 0.0], 0.1, 2);
        assert_eq!((p, s), before);
    }

    #[test]
    fn adam_first_step_moves_by_lr() {
        let mut p = [0.0f32];
        let mut s = [0.0f32; 2];
        Optimizer::Adam.update(&mut p, &mut s, &[3.0], 0.01, 1);
        assert!((p[0] + 0.01).abs() < 1e-6, "{}", p[0]);
    }
}
