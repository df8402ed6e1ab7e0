//! The models the use cases run, loaded one way for every face: the model cards of the models
//! folder, the name/address tagger of scans and review texts, the title and review labellers of
//! ingest runs, and a package by name for `models eval|run`.
//!
//! What is optional stays optional the same way everywhere: a missing name model means rules
//! only (said once, in the log); a missing review model means unlabelled reviews (a warning); a
//! missing title model fails a run that asked for labels, because its labels are facts of the
//! graph and `--no-label` / `"label": false` is the explicit way to go without.

use std::path::Path;
use std::sync::Arc;

use super::{App, AppError};
use crate::catalog::Catalog;
use crate::infer::{self, package, InferConfig, Model, Options, Package};
use crate::ingest::label::Labeler;
use crate::ingest::mapping::Entity;
use crate::inventory::ner::NameTagger;

/// Describes every valid package of the models folder in the models graph; invalid ones are
/// reported and skipped (the server still starts). Returns how many were described. Blocking.
pub fn register_models(catalog: &Catalog, root: &Path) -> Result<usize, AppError> {
    if !root.is_dir() {
        tracing::warn!(dir = %root.display(), "models directory not found; no models described");
        return Ok(0);
    }
    let mut n = 0;
    for dir in package::list(root)? {
        match Package::open(&dir) {
            Ok(p) => {
                let iri = crate::registry::describe(catalog, &crate::registry::from_package(&p))?;
                tracing::debug!(model = %p.config.name, %iri, "model described in the catalog");
                n += 1;
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "invalid model package skipped")
            }
        }
    }
    Ok(n)
}

/// The model package `name` of the `[infer]` models folder, with its settings. Needs no store.
/// Blocking.
pub fn load_model(config: &InferConfig, name: &str) -> Result<Model, AppError> {
    let dir = infer::find_package(&config.models_dir, name)?;
    Ok(Model::load(&dir, &Options::from_config(config))?)
}

impl App {
    /// The inference settings of `[infer]`.
    pub fn infer_options(&self) -> Options {
        Options::from_config(&self.config.infer)
    }

    /// The tagger that finds Chinese personal names and addresses (`[infer] pii_model`), loaded
    /// once; `None` when none is configured or it is not installed (then rules alone judge, and
    /// the log says how to install it). Blocking.
    pub fn name_tagger(&self) -> Option<Arc<NameTagger>> {
        self.ner
            .get_or_init(|| {
                let infer = &self.config.infer;
                let name = infer.pii_model.as_str();
                if name.is_empty() {
                    return None;
                }
                match NameTagger::load(&infer.models_dir, name, &self.infer_options()) {
                    Ok(t) => Some(Arc::new(t)),
                    Err(e) => {
                        tracing::warn!(
                            "model {name:?} for Chinese names and addresses is unavailable ({e}); \
                             run scripts/install-lac to install it. Until then these are \
                             recognised by rules only"
                        );
                        None
                    }
                }
            })
            .clone()
    }

    /// The labeller `[ingest]` configures for `entity`, loaded (and described in the models
    /// graph) once: `title_model` for products, `review_model` for reviews, none for the other
    /// entities. A review model that cannot be loaded is a warning and `Ok(None)`; a title model
    /// that cannot be loaded is an error naming the setting. Blocking.
    pub fn labeler(&self, entity: Entity) -> Result<Option<Arc<Labeler>>, AppError> {
        let (cell, setting, model) = match entity {
            Entity::Product => (
                &self.labelers[0],
                "title model ([ingest] title_model; --no-label or \"label\": false skips labelling)",
                &self.config.ingest.title_model,
            ),
            Entity::Review => (
                &self.labelers[1],
                "review model ([ingest] review_model)",
                &self.config.ingest.review_model,
            ),
            _ => return Ok(None),
        };
        let loaded = cell.get_or_init(|| {
            Labeler::for_entity(
                &self.config.infer,
                &self.config.ingest,
                &self.catalog,
                entity,
            )
            .map(|l| l.map(Arc::new))
            .map_err(|e| match e {
                crate::ingest::label::LabelError::Model(inner) => inner.to_string(),
                other => other.to_string(),
            })
        });
        match loaded {
            Ok(l) => Ok(l.clone()),
            Err(message) if entity == Entity::Review => {
                tracing::warn!("review texts are not labelled ({setting} {model:?}): {message}");
                Ok(None)
            }
            Err(message) => Err(AppError::Labeler {
                setting,
                model: model.clone(),
                message: message.clone(),
            }),
        }
    }
}

impl App {
    /// The report's models section (模型性能监控) as `vis` may see it: none when the caller
    /// does not read the models and product graphs or no model has labelled anything. Blocking.
    pub fn models_section(
        &self,
        vis: &crate::catalog::Visibility,
    ) -> Result<Option<crate::monitor::model_report::ModelsSection>, AppError> {
        use crate::monitor::{model_report, models};
        let layout = self.catalog.layout();
        if !self.catalog.sees(vis, &layout.models)? || !self.catalog.sees(vis, &layout.products)? {
            return Ok(None);
        }
        let latest = crate::monitor::model_report::latest_runs(&self.catalog)?;
        let mut feedback =
            models::feedback(&self.catalog, f64::from(self.config.ingest.label_threshold))?;
        let mut names: std::collections::BTreeSet<String> =
            latest.iter().map(|r| r.model.clone()).collect();
        names.extend(feedback.keys().cloned());
        if names.is_empty() {
            return Ok(None);
        }
        let watch = &self.config.monitor.models;
        Ok(Some(model_report::ModelsSection {
            models: names
                .into_iter()
                .map(|m| model_report::ModelHealth {
                    latest: latest.iter().find(|r| r.model == m).cloned(),
                    feedback: feedback.remove(&m),
                    model: m,
                })
                .collect(),
            psi_threshold: watch.psi,
            precision_floor: watch.precision_floor,
        }))
    }

    /// The labels of the package `name` people decided on, with their texts: the next
    /// retraining set (rejections are its negatives). Blocking.
    pub fn model_feedback(
        &self,
        name: &str,
    ) -> Result<Vec<crate::monitor::model_report::Example>, AppError> {
        let prefix = crate::registry::model_iri(self.catalog.layout().base(), name, "");
        Ok(crate::monitor::model_report::examples(
            &self.catalog,
            &prefix,
        )?)
    }
}
