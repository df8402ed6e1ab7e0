//! Link prediction as a service: the trained embedding joined with the catalog.
//!
//! Recommender services ask "top items for this user", "missing brand of this product", "items
//! like this one". [`Service`] answers from the model file written by `stocktake train`, filters
//! links that are already known, hides entities of restricted graphs from non-admins (as input
//! *and* as output — an unknown and a hidden entity get the same 404), optionally keeps only
//! candidates of the relation's range class, labels the answers, and names the model and data
//! snapshot in every answer. When the model file is replaced (training writes it atomically) the
//! next [`Service::refresh`] loads it off to the side and swaps it in with one pointer store:
//! requests in flight finish on the old model, new ones see the new one, none sees a mix.

pub mod retrain;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use fixedbitset::FixedBitSet;
use serde::{Deserialize, Serialize};

use crate::catalog::Visibility;
use crate::catalog::{Catalog, CatalogError};
use crate::embed::index::{Ann, Filter, Sq8Index};
use crate::embed::pq::{self, Pq4Index};
use crate::embed::predict::{top_k, Candidate, Direction};
use crate::embed::{EmbedError, Embedding};
use crate::kg::{Checkpoint, KgError, KnownTriples};

/// Link prediction served from a trained TransE model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedConfig {
    /// Model file to serve (and the default `--out` of `stocktake train`); default
    /// `<data>/embeddings/transe.stk`.
    pub model: Option<PathBuf>,
    /// Relation IRI `/api/v1/recommend` follows from a user to items.
    pub recommend_relation: String,
    /// Top-k search: `exact` (every entity scored), `sq8` (8-bit quantised scan with exact
    /// re-ranking), `pq4` (4-bit product-quantised fast scan with exact re-ranking; see
    /// BENCHMARKS.md for the recall of both) or `auto` (pq4 for models with at least 100,000
    /// entities, exact otherwise).
    pub search: SearchMode,
    /// Candidates the `sq8`/`pq4` index re-scores exactly per requested result (k, counted as
    /// at least 10); unset keeps each index's default (10 for sq8, 100 for pq4). More raises
    /// recall at a small cost per query (BENCHMARKS.md measures it on a trained model).
    pub rerank: Option<usize>,
    /// Retrain (warm-started) after an ingest over HTTP when at least this share of the product
    /// graph's training triples is new to the served model; 0 turns it off.
    pub retrain_fraction: f64,
    /// Epochs of such a retrain.
    pub retrain_epochs: usize,
}

/// How link prediction searches the entity table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    Exact,
    Sq8,
    Pq4,
    Auto,
}

impl std::str::FromStr for SearchMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "exact" => Ok(SearchMode::Exact),
            "sq8" => Ok(SearchMode::Sq8),
            "pq4" => Ok(SearchMode::Pq4),
            "auto" => Ok(SearchMode::Auto),
            other => Err(format!(
                "unknown search mode {other:?}: use exact, sq8, pq4 or auto"
            )),
        }
    }
}

impl Default for EmbedConfig {
    fn default() -> Self {
        Self {
            model: None,
            recommend_relation: "https://w3id.org/stocktake/ns#purchased".into(),
            search: SearchMode::Auto,
            rerank: None,
            retrain_fraction: 0.1,
            retrain_epochs: 30,
        }
    }
}

impl EmbedConfig {
    /// The model file, resolved against the data directory.
    pub fn model_path(&self, data: &Path) -> PathBuf {
        self.model
            .clone()
            .unwrap_or_else(|| data.join("embeddings").join("transe.stk"))
    }
}

/// What can go wrong answering a link-prediction request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecommendError {
    /// No model has been trained (or the file is missing).
    #[error(
        "no link-prediction model is loaded: train one with `stocktake train` (expected at {0})"
    )]
    NoModel(PathBuf),
    /// An entity or relation the model does not know (or the caller may not see).
    #[error("unknown {kind} {name:?}: not in the model{hint}")]
    Unknown {
        kind: &'static str,
        name: String,
        hint: String,
    },
    /// A request that cannot be answered as asked.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Kg(#[from] KgError),
}

/// One answer row.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub rank: usize,
    pub entity: String,
    pub score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A full answer, naming the model it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub model_id: String,
    pub snapshot: String,
    pub trained_at: String,
    pub query: serde_json::Value,
    /// The class candidates were restricted to, when a type constraint was applied.
    pub type_constraint: Option<String>,
    /// How candidates were found: `exact`, `sq8` or `pq4` (quantised scans, exact re-ranking).
    pub search: &'static str,
    pub results: Vec<Hit>,
}

/// A relation's range class and the rows of its instances.
type Range = Option<(String, Arc<FixedBitSet>)>;

/// A loaded model with its indexes.
struct Loaded {
    emb: Arc<Embedding>,
    known: Arc<KnownTriples>,
    /// Rows of entities that occur in restricted graphs. Row sets are bitmaps: a search tests
    /// every entity within its current bound against them, which at 1M entities can be most of
    /// the table when few entities pass the filter (a hash set's cache misses were 40% of a
    /// `recommend` call).
    hidden: Arc<FixedBitSet>,
    /// Rows hidden from callers with read grants, by the restricted graphs they do not read
    /// (computed on first use).
    hidden_for: Mutex<HashMap<Vec<String>, Arc<FixedBitSet>>>,
    /// Range-class members per relation id (computed on first use).
    ranges: Mutex<HashMap<u32, Range>>,
    stamp: Option<(SystemTime, u64)>,
    /// The catalog generation `hidden` and `ranges` were computed at.
    generation: u64,
    /// The quantised index, when the search mode calls for one.
    index: Option<Arc<Ann>>,
}

/// Smallest model `auto` builds an index for: below it exact search takes a few milliseconds.
/// Above it `auto` uses the PQ4 index, whose recall@10 against exact search was measured at
/// 1M entities for L1 and L2 (BENCHMARKS.md).
const AUTO_INDEX_ENTITIES: usize = 100_000;
/// Seed of the PQ4 index's k-means (a fixed seed: the same model gives the same index).
const PQ_SEED: u64 = 1;

/// The link-prediction service.
pub struct Service {
    path: PathBuf,
    catalog: Arc<Catalog>,
    /// Relation used by `recommend` (items for a user).
    recommend_relation: String,
    current: RwLock<Option<Arc<Loaded>>>,
    /// The stamp of a file that failed to load, so a broken file is reported once, not per poll.
    failed: Mutex<Option<(SystemTime, u64)>>,
    search: SearchMode,
    rerank: Option<usize>,
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl Service {
    /// A service for the model at `path` (loaded by [`Service::refresh`]).
    pub fn new(path: PathBuf, catalog: Arc<Catalog>, recommend_relation: String) -> Self {
        Service {
            path,
            catalog,
            recommend_relation,
            current: RwLock::new(None),
            failed: Mutex::new(None),
            search: SearchMode::Auto,
            rerank: None,
        }
    }

    /// Chooses how top-k candidates are searched (takes effect at the next model load).
    pub fn with_search(mut self, search: SearchMode) -> Self {
        self.search = search;
        self
    }

    /// Sets the index's re-ranking budget per requested result (`None`: the index's default).
    pub fn with_rerank(mut self, rerank: Option<usize>) -> Self {
        self.rerank = rerank;
        self
    }

    /// The index the search mode calls for with this model, if any. Blocking (a PQ4 build at
    /// 1M entities takes a few seconds).
    fn build_index(&self, emb: &Embedding) -> Option<Arc<Ann>> {
        let ann = match self.search {
            SearchMode::Exact => return None,
            SearchMode::Sq8 => Ann::Sq8(Sq8Index::build(&emb.model)),
            SearchMode::Pq4 => Ann::Pq4(Pq4Index::build(&emb.model, pq::DEFAULT_SUB, PQ_SEED)),
            SearchMode::Auto if emb.ids.entities.len() >= AUTO_INDEX_ENTITIES => {
                Ann::Pq4(Pq4Index::build(&emb.model, pq::DEFAULT_SUB, PQ_SEED))
            }
            SearchMode::Auto => return None,
        };
        Some(Arc::new(ann))
    }

    /// The model file this service follows.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the model file when it changed since the last load (or was never loaded); returns
    /// whether a new model was swapped in. A broken file leaves the current model serving.
    /// Blocking: call from a blocking thread.
    pub fn refresh(&self) -> Result<bool, RecommendError> {
        let now = stamp(&self.path);
        let generation = self.catalog.generation();
        let current = self.snapshot();
        let Some(now) = now else {
            return Ok(false);
        };
        let (emb, known, index) = match &current {
            Some(c) if c.stamp == Some(now) => {
                if c.generation == generation {
                    return Ok(false);
                }
                // Same model, changed catalog: recompute who may see what.
                (Arc::clone(&c.emb), Arc::clone(&c.known), c.index.clone())
            }
            _ => {
                let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
                if *failed == Some(now) {
                    return Ok(false);
                }
                let emb = match Checkpoint::load(&self.path)
                    .map_err(RecommendError::from)
                    .and_then(|c| Ok(Embedding::from_checkpoint(&c)?))
                {
                    Ok(e) => e,
                    Err(e) => {
                        *failed = Some(now);
                        return Err(e);
                    }
                };
                let known = KnownTriples::new([&emb.train[..]]);
                let index = self.build_index(&emb);
                (Arc::new(emb), Arc::new(known), index)
            }
        };
        let hidden = Arc::new(rows(
            &emb,
            self.catalog
                .restricted_entities(&Visibility::PUBLIC)?
                .iter(),
        ));
        let swapped = current.as_ref().is_none_or(|c| !Arc::ptr_eq(&c.emb, &emb));
        let loaded = Arc::new(Loaded {
            emb,
            known,
            hidden,
            hidden_for: Mutex::new(HashMap::new()),
            ranges: Mutex::new(HashMap::new()),
            stamp: Some(now),
            generation,
            index,
        });
        if swapped {
            tracing::info!(
                model = %self.path.display(),
                id = %loaded.emb.model_id(),
                search = loaded.index.as_ref().map_or("exact", |i| i.name()),
                "link-prediction model loaded"
            );
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(loaded);
        Ok(swapped)
    }

    fn snapshot(&self) -> Option<Arc<Loaded>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn loaded(&self) -> Result<Arc<Loaded>, RecommendError> {
        self.snapshot()
            .ok_or_else(|| RecommendError::NoModel(self.path.clone()))
    }

    /// Model id and snapshot of the loaded model, if any.
    pub fn model_info(&self) -> Option<serde_json::Value> {
        self.snapshot().map(|l| {
            serde_json::json!({
                "model_id": l.emb.model_id(),
                "snapshot": l.emb.info.snapshot,
                "trained_at": l.emb.info.trained_at,
                "entities": l.emb.ids.entities.len(),
                "relations": l.emb.ids.relations.len(),
                "dim": l.emb.config.dim,
                "metrics": l.emb.info.metrics,
                "path": self.path.display().to_string(),
            })
        })
    }

    /// Top-`k` tails of (`head`, `relation`, ?).
    pub fn tails(
        &self,
        head: &str,
        relation: &str,
        k: usize,
        constrain: bool,
        vis: &Visibility,
    ) -> Result<Answer, RecommendError> {
        self.answer(Direction::Tails, head, relation, k, constrain, vis)
    }

    /// Top-`k` heads of (?, `relation`, `tail`).
    pub fn heads(
        &self,
        tail: &str,
        relation: &str,
        k: usize,
        constrain: bool,
        vis: &Visibility,
    ) -> Result<Answer, RecommendError> {
        self.answer(Direction::Heads, tail, relation, k, constrain, vis)
    }

    /// Items for a user along the configured relation, constrained to its range when declared.
    pub fn recommend(
        &self,
        user: &str,
        k: usize,
        vis: &Visibility,
    ) -> Result<Answer, RecommendError> {
        let rel = self.recommend_relation.clone();
        self.answer(Direction::Tails, user, &rel, k, true, vis)
    }

    /// The `k` entities nearest to `entity` itself (related items), excluding it.
    pub fn similar(
        &self,
        entity: &str,
        k: usize,
        vis: &Visibility,
    ) -> Result<Answer, RecommendError> {
        check_k(k)?;
        let l = self.loaded()?;
        let hidden = self.hidden(&l, vis)?;
        let id = self.entity(&l, entity, hidden.as_deref())?;
        let point = l.emb.model.entity(id).to_vec();
        let allow: Filter =
            Arc::new(move |e| e != id && hidden.as_ref().is_none_or(|h| !h.contains(e as usize)));
        let got = self.search(&l, &point, k, &[], &allow);
        self.finish(
            &l,
            serde_json::json!({"similar_to": entity, "k": k}),
            None,
            got,
            vis,
        )
    }

    /// Top-k through the index when the loaded model has one, else exactly.
    fn search(
        &self,
        l: &Loaded,
        point: &[f32],
        k: usize,
        exclude: &[u32],
        allow: &Filter,
    ) -> Vec<Candidate> {
        match &l.index {
            Some(index) => index.search(&l.emb.model, point, k, self.rerank, exclude, allow),
            None => top_k(&l.emb.model, point, k, exclude, &**allow),
        }
    }

    /// The rows `vis` may not see (`None`: an admin sees all).
    fn hidden(
        &self,
        l: &Loaded,
        vis: &Visibility,
    ) -> Result<Option<Arc<FixedBitSet>>, RecommendError> {
        if vis.is_admin() {
            return Ok(None);
        }
        if vis.grants().is_none() {
            return Ok(Some(Arc::clone(&l.hidden)));
        }
        let mut key: Vec<String> = self
            .catalog
            .hidden_entity_graphs(vis)?
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect();
        key.sort();
        if let Some(hit) = l
            .hidden_for
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(Some(Arc::clone(hit)));
        }
        let rows = Arc::new(rows(&l.emb, self.catalog.restricted_entities(vis)?.iter()));
        l.hidden_for
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Arc::clone(&rows));
        Ok(Some(rows))
    }

    fn entity(
        &self,
        l: &Loaded,
        name: &str,
        hidden: Option<&FixedBitSet>,
    ) -> Result<u32, RecommendError> {
        match l.emb.ids.entities.get(name) {
            Some(id) if hidden.is_none_or(|h| !h.contains(id as usize)) => Ok(id),
            _ => Err(RecommendError::Unknown {
                kind: "entity",
                name: name.into(),
                hint: String::new(),
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn answer(
        &self,
        direction: Direction,
        anchor: &str,
        relation: &str,
        k: usize,
        constrain: bool,
        vis: &Visibility,
    ) -> Result<Answer, RecommendError> {
        check_k(k)?;
        let l = self.loaded()?;
        let hidden = self.hidden(&l, vis)?;
        let a = self.entity(&l, anchor, hidden.as_deref())?;
        let r = l.emb.ids.relations.get(relation).ok_or_else(|| {
            let names = l.emb.ids.relations.names();
            let sample: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
            RecommendError::Unknown {
                kind: "relation",
                name: relation.into(),
                hint: format!(
                    " (it knows {} relations, e.g. {})",
                    names.len(),
                    sample.join(", ")
                ),
            }
        })?;
        let range = if constrain && direction == Direction::Tails {
            self.range(&l, r)?
        } else {
            None
        };
        let exclude = match direction {
            Direction::Tails => l.known.tails(a, r),
            Direction::Heads => l.known.heads(r, a),
        };
        let members = range.as_ref().map(|(_, m)| Arc::clone(m));
        let allow: Filter = Arc::new(move |e| {
            hidden.as_ref().is_none_or(|h| !h.contains(e as usize))
                && members.as_ref().is_none_or(|m| m.contains(e as usize))
        });
        let point = match direction {
            Direction::Tails => l.emb.model.tail_query(a, r),
            Direction::Heads => l.emb.model.head_query(r, a),
        };
        let got = self.search(&l, &point, k, exclude, &allow);
        let (key, dir) = match direction {
            Direction::Tails => ("head", "tails"),
            Direction::Heads => ("tail", "heads"),
        };
        let query =
            serde_json::json!({key: anchor, "relation": relation, "direction": dir, "k": k});
        self.finish(&l, query, range.map(|(c, _)| c), got, vis)
    }

    /// Range-class members of relation `r` as rows, cached per loaded model.
    fn range(&self, l: &Loaded, r: u32) -> Result<Range, RecommendError> {
        let mut cache = l.ranges.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = cache.get(&r) {
            return Ok(hit.clone());
        }
        let name = l.emb.ids.relations.name(r).unwrap_or_default();
        let value = self
            .catalog
            .range_members(name)?
            .map(|(class, members)| (class, Arc::new(rows(&l.emb, members.iter()))));
        cache.insert(r, value.clone());
        Ok(value)
    }

    fn finish(
        &self,
        l: &Loaded,
        query: serde_json::Value,
        type_constraint: Option<String>,
        got: Vec<Candidate>,
        vis: &Visibility,
    ) -> Result<Answer, RecommendError> {
        let names: Vec<&str> = got
            .iter()
            .map(|c| l.emb.ids.entities.name(c.id).unwrap_or_default())
            .collect();
        let labels = self.catalog.labels(&names, vis)?;
        let results = got
            .iter()
            .zip(&names)
            .enumerate()
            .map(|(i, (c, name))| Hit {
                rank: i + 1,
                entity: (*name).to_owned(),
                score: c.score,
                label: labels.get(*name).cloned(),
            })
            .collect();
        Ok(Answer {
            model_id: l.emb.model_id(),
            snapshot: l.emb.info.snapshot.clone(),
            trained_at: l.emb.info.trained_at.clone(),
            query,
            type_constraint,
            search: l.index.as_ref().map_or("exact", |i| i.name()),
            results,
        })
    }
}

/// The model's rows of the entities named in `iris` (names it does not know are skipped).
fn rows<'a>(emb: &Embedding, iris: impl Iterator<Item = &'a String>) -> FixedBitSet {
    let mut rows = FixedBitSet::with_capacity(emb.ids.entities.len());
    for row in iris.filter_map(|iri| emb.ids.entities.get(iri)) {
        rows.insert(row as usize);
    }
    rows
}

fn check_k(k: usize) -> Result<(), RecommendError> {
    if k == 0 || k > 1000 {
        return Err(RecommendError::Invalid(format!(
            "k must be in 1..=1000, got {k}"
        )));
    }
    Ok(())
}
