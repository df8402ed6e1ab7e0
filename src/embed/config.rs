//! Training hyperparameters and the losses they select.
//!
//! Everything a run is configured with lives here, together with its validation (bad settings
//! are refused before any work) and the three objectives' gradients with respect to the
//! distances, which the trainer back-propagates into the tables.

use serde::{Deserialize, Serialize};

use super::model::Norm;
use super::optim::Optimizer;
use super::EmbedError;

/// Positives per parallel work unit. Fixed (not derived from the thread count) so results do not
/// depend on the machine.
pub const CHUNK: usize = 32;
/// Largest batch: the merge keys give a chunk index 12 bits.
pub const MAX_BATCH: usize = CHUNK * 4096;

/// The training objective over one positive and its negatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// `mean_j max(0, margin + d(pos) − d(neg_j))` — the TransE paper's loss.
    Margin,
    /// Self-adversarial negative sampling (Sun et al. 2019, RotatE):
    /// `−log σ(margin − d(pos)) − Σ_j p_j log σ(d(neg_j) − margin)`, `p = softmax(−α d(neg))`.
    SelfAdversarial,
    /// Cross-entropy of the positive against its negatives under `softmax(−d)`.
    Softmax,
}

impl std::str::FromStr for Loss {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "margin" => Ok(Loss::Margin),
            "self-adversarial" | "nssa" => Ok(Loss::SelfAdversarial),
            "softmax" | "crossentropy" => Ok(Loss::Softmax),
            other => Err(format!(
                "unknown loss {other:?}: use margin, self-adversarial or softmax"
            )),
        }
    }
}

/// Which side of a positive a negative replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampler {
    /// Head or tail with probability ½.
    Uniform,
    /// Head with probability tph / (tph + hpt) of the relation (Wang et al. 2014).
    Bernoulli,
}

impl std::str::FromStr for Sampler {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "uniform" => Ok(Sampler::Uniform),
            "bernoulli" => Ok(Sampler::Bernoulli),
            other => Err(format!(
                "unknown sampler {other:?}: use uniform or bernoulli"
            )),
        }
    }
}

/// How the learning rate changes over the epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Constant,
    /// Linear decay from `lr` towards 0 at the last epoch.
    Linear,
    /// Cosine decay from `lr` towards 0 at the last epoch.
    Cosine,
}

impl std::str::FromStr for Schedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "constant" => Ok(Schedule::Constant),
            "linear" => Ok(Schedule::Linear),
            "cosine" => Ok(Schedule::Cosine),
            other => Err(format!(
                "unknown schedule {other:?}: use constant, linear or cosine"
            )),
        }
    }
}

/// Every hyperparameter of a run; stored in checkpoints and in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub dim: usize,
    pub norm: Norm,
    pub loss: Loss,
    pub margin: f32,
    /// α of the self-adversarial loss.
    pub adversarial_temperature: f32,
    /// Negatives per positive.
    pub negatives: usize,
    pub sampler: Sampler,
    pub batch_size: usize,
    /// Most epochs to run.
    pub epochs: usize,
    pub optimizer: Optimizer,
    pub lr: f32,
    pub schedule: Schedule,
    /// Rescale touched entity rows to unit L2 norm after each update (the TransE constraint).
    pub normalize_entities: bool,
    pub seed: u64,
    /// Evaluate filtered validation MRR every this many epochs (0: never; no early stopping).
    pub eval_every: usize,
    /// Stop after this many evaluations without improvement.
    pub patience: usize,
    /// Learn an inverse per relation and predict heads as its tails (see
    /// [`TransE::reciprocal`](super::model::TransE::reciprocal)). Every positive is then trained in
    /// both directions, corrupting tails only, so `sampler` does not apply.
    #[serde(default)]
    pub reciprocal: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            dim: 100,
            norm: Norm::L1,
            loss: Loss::Margin,
            margin: 1.0,
            adversarial_temperature: 1.0,
            negatives: 1,
            sampler: Sampler::Bernoulli,
            batch_size: 1024,
            epochs: 100,
            optimizer: Optimizer::Adagrad,
            lr: 0.05,
            schedule: Schedule::Constant,
            normalize_entities: true,
            seed: 42,
            eval_every: 10,
            patience: 3,
            reciprocal: false,
        }
    }
}

impl TrainConfig {
    /// Rejects settings that cannot train (or would fill the tables with NaN) before any work.
    pub fn validate(&self) -> Result<(), EmbedError> {
        let bad = |m: String| Err(EmbedError::Config(m));
        if self.dim == 0 || self.dim > 65_536 {
            return bad(format!("dim must be in 1..=65536, got {}", self.dim));
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 100.0) {
            return bad(format!(
                "lr must be a finite number in (0, 100], got {}",
                self.lr
            ));
        }
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return bad(format!(
                "margin must be finite and >= 0, got {}",
                self.margin
            ));
        }
        if !(self.adversarial_temperature.is_finite() && self.adversarial_temperature >= 0.0) {
            return bad(format!(
                "adversarial temperature must be finite and >= 0, got {}",
                self.adversarial_temperature
            ));
        }
        if self.negatives == 0 || self.negatives > 4096 {
            return bad(format!(
                "negatives must be in 1..=4096, got {}",
                self.negatives
            ));
        }
        if self.batch_size == 0 || self.batch_size > MAX_BATCH {
            return bad(format!(
                "batch size must be in 1..={MAX_BATCH}, got {}",
                self.batch_size
            ));
        }
        if self.epochs == 0 {
            return bad("epochs must be at least 1".into());
        }
        Ok(())
    }

    /// The learning rate during `epoch` (0-based).
    pub fn lr_at(&self, epoch: usize) -> f32 {
        let progress = epoch as f32 / self.epochs.max(1) as f32;
        match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Linear => self.lr * (1.0 - progress),
            Schedule::Cosine => self.lr * 0.5 * (1.0 + (std::f32::consts::PI * progress).cos()),
        }
    }
}

/// Loss of one positive (`dist[0]`) against its negatives, and `∂loss/∂dist` into `coef`.
pub(crate) fn loss_coefficients(config: &TrainConfig, dist: &[f32], coef: &mut [f32]) -> f64 {
    let k = dist.len() - 1;
    let d0 = dist[0];
    coef.iter_mut().for_each(|c| *c = 0.0);
    let sigmoid = |x: f32| 1.0 / (1.0 + (-x).exp());
    let log_sigmoid = |x: f32| -> f32 {
        // Stable log σ(x) = min(x, 0) − log(1 + e^{−|x|}).
        x.min(0.0) - (-x.abs()).exp().ln_1p()
    };
    match config.loss {
        Loss::Margin => {
            let mut loss = 0.0;
            let w = 1.0 / k as f32;
            for j in 1..=k {
                let l = config.margin + d0 - dist[j];
                if l > 0.0 {
                    loss += l * w;
                    coef[0] += w;
                    coef[j] -= w;
                }
            }
            loss as f64
        }
        Loss::SelfAdversarial => {
            let g = config.margin;
            let alpha = config.adversarial_temperature;
            // p_j = softmax(−α d_j), treated as a constant (no gradient through the weights).
            let m = dist[1..]
                .iter()
                .fold(f32::INFINITY, |a, &d| a.min(alpha * d));
            let mut z = 0.0;
            for j in 1..=k {
                coef[j] = (-(alpha * dist[j] - m)).exp();
                z += coef[j];
            }
            let mut neg_loss = 0.0;
            for j in 1..=k {
                let p = coef[j] / z;
                neg_loss -= p * log_sigmoid(dist[j] - g);
                coef[j] = -0.5 * p * sigmoid(g - dist[j]);
            }
            let pos_loss = -log_sigmoid(g - d0);
            coef[0] = 0.5 * sigmoid(d0 - g);
            (0.5 * (pos_loss + neg_loss)) as f64
        }
        Loss::Softmax => {
            let m = dist.iter().fold(f32::INFINITY, |a, &d| a.min(d));
            let mut z = 0.0;
            for (c, &d) in coef.iter_mut().zip(dist) {
                *c = (-(d - m)).exp();
                z += *c;
            }
            let p0 = coef[0] / z;
            for c in coef.iter_mut() {
                *c = -*c / z;
            }
            coef[0] += 1.0;
            -(p0.max(f32::MIN_POSITIVE).ln()) as f64
        }
    }
}
