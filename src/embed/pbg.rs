//! PyTorch-BigGraph checkpoints: export of a trained model and import of one trained by PBG.
//!
//! PBG keeps entity embeddings in `embeddings_<type>_<part>.v<N>.h5` (dataset `embeddings`), the
//! relation operators in `model.v<N>.h5` (group `model`), the committed version in
//! `checkpoint_version.txt`, its configuration in `config.json`, and the names beside them
//! (`entity_names_<type>_<part>.json`, `dynamic_rel_names.json`). We write one entity type,
//! `all`, in one partition, with dynamic relations and the `translation` operator under the `l2`
//! comparator — PBG's spelling of TransE. PBG scores an edge `(u, r, v)` twice: as
//! `m(g_r(u), v)` with the left-hand operator when it ranks tails and as `m(u, h_r(v))` with the
//! right-hand one when it ranks heads (`model.py`, `forward`). With `m(a, b) = −‖a − b‖` and
//! translations, `g_r(u) = u + r` and `h_r(v) = v − r` for TransE, and `h_r(v) = v + r⁻¹` for a
//! reciprocal model: so our relation rows are the left-hand translations and the right-hand ones
//! are `−r` or the inverse rows. PBG has no L1 comparator: an L1 model is exported with `l2` and
//! a warning, since its tables are still useful features but PBG will rank with another distance.
//!
//! Everything here works on in-memory files (name → bytes) so the module stays free of paths;
//! HDF5 is written and read by `hdf5-pure` (no C library).

use hdf5_pure::{AttrValue, File as H5File, FileBuilder};
use ndarray::{Array1, Array2};
use serde_json::{json, Value};

use super::checkpoint::{Embedding, ModelInfo};
use super::config::TrainConfig;
use super::model::{Norm, TransE};
use super::EmbedError;
use crate::kg::{IdMap, IdMaps, Triple};

/// The one entity type we write.
pub const ENTITY_TYPE: &str = "all";
/// The checkpoint version we write.
const VERSION: u32 = 1;
/// PBG's `FORMAT_VERSION` of its HDF5 files.
const FORMAT_VERSION: i64 = 1;

fn err(m: impl std::fmt::Display) -> EmbedError {
    EmbedError::Model(format!("PyTorch-BigGraph files: {m}"))
}

/// The files of a PBG export, by name, and warnings worth showing the user.
pub struct PbgExport {
    pub files: Vec<(String, Vec<u8>)>,
    pub warnings: Vec<String>,
}

/// Writes `emb` as a PBG checkpoint directory (entity and relation names included).
pub fn write_pbg(emb: &Embedding) -> Result<PbgExport, EmbedError> {
    let m = &emb.model;
    let (n, r, dim) = (m.num_entities(), m.num_relations(), m.dim());
    let mut warnings = Vec::new();
    if m.norm == Norm::L1 {
        warnings.push(
            "PyTorch-BigGraph has no L1 comparator: this L1 model is written with `l2`, so PBG \
             will rank with a different distance than Stocktake does"
                .to_string(),
        );
    }
    let lhs: Vec<f32> = m
        .relations
        .rows()
        .into_iter()
        .take(r)
        .flatten()
        .copied()
        .collect();
    let rhs: Vec<f32> = if m.reciprocal {
        (0..r as u32)
            .flat_map(|i| m.relation(m.inverse(i)).to_vec())
            .collect()
    } else {
        lhs.iter().map(|x| -x).collect()
    };
    let config = json!({
        "entities": {ENTITY_TYPE: {"num_partitions": 1, "featurized": false}},
        "relations": [{
            "name": "all_edges", "lhs": ENTITY_TYPE, "rhs": ENTITY_TYPE,
            "operator": "translation", "all_negs": false, "weight": 1.0,
        }],
        "dynamic_relations": true,
        "dimension": dim,
        "comparator": "l2",
        "bias": false,
        "global_emb": false,
        "entity_path": ".",
        "edge_paths": [],
        "checkpoint_path": ".",
        "num_epochs": emb.config.epochs,
        "num_uniform_negs": emb.config.negatives,
        "batch_size": emb.config.batch_size,
        "lr": emb.config.lr,
        "stocktake": {
            "model_id": emb.model_id(),
            "snapshot": emb.info.snapshot,
            "norm": m.norm,
            "reciprocal": m.reciprocal,
        },
    });
    let config_text = serde_json::to_string_pretty(&config).map_err(err)?;

    let mut e = FileBuilder::new();
    e.set_attr("format_version", AttrValue::I64(FORMAT_VERSION));
    e.set_attr("config/json", AttrValue::String(config_text.clone()));
    let values: Vec<f32> = m.entities.iter().copied().collect();
    e.create_dataset("embeddings")
        .with_f32_data(&values)
        .with_shape(&[n as u64, dim as u64]);
    let embeddings = e.finish().map_err(err)?;

    let mut f = FileBuilder::new();
    f.set_attr("format_version", AttrValue::I64(FORMAT_VERSION));
    f.set_attr("config/json", AttrValue::String(config_text.clone()));
    let mut model = f.create_group("model");
    let mut relations = model.create_group("relations");
    let mut zero = relations.create_group("0");
    let mut operator = zero.create_group("operator");
    for (side, data) in [("lhs", &lhs), ("rhs", &rhs)] {
        let mut g = operator.create_group(side);
        g.create_dataset("translations")
            .with_f32_data(data)
            .with_shape(&[r as u64, dim as u64])
            .set_attr(
                "state_dict_key",
                AttrValue::String(format!("{side}_operators.0.translations")),
            );
        operator.add_group(g.finish());
    }
    zero.add_group(operator.finish());
    relations.add_group(zero.finish());
    model.add_group(relations.finish());
    f.add_group(model.finish());
    let model_file = f.finish().map_err(err)?;

    let names = |m: &IdMap| serde_json::to_vec(m.names()).map_err(err);
    let files = vec![
        (
            "checkpoint_version.txt".into(),
            format!("{VERSION}\n").into_bytes(),
        ),
        ("config.json".into(), config_text.into_bytes()),
        (
            format!("embeddings_{ENTITY_TYPE}_0.v{VERSION}.h5"),
            embeddings,
        ),
        (format!("model.v{VERSION}.h5"), model_file),
        (
            format!("entity_names_{ENTITY_TYPE}_0.json"),
            names(&emb.ids.entities)?,
        ),
        (
            format!("entity_count_{ENTITY_TYPE}_0.txt"),
            format!("{n}\n").into_bytes(),
        ),
        ("dynamic_rel_names.json".into(), names(&emb.ids.relations)?),
        (
            "dynamic_rel_count.txt".into(),
            format!("{r}\n").into_bytes(),
        ),
    ];
    Ok(PbgExport { files, warnings })
}

/// Reads a PBG checkpoint; `read(name)` returns a file of the checkpoint or entity folder.
pub fn read_pbg(
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
    source: String,
) -> Result<Embedding, EmbedError> {
    let need = |name: &str| read(name).ok_or_else(|| err(format!("{name} is missing")));
    let version: u32 = String::from_utf8_lossy(&need("checkpoint_version.txt")?)
        .trim()
        .parse()
        .map_err(|_| err("checkpoint_version.txt does not hold a number"))?;
    let config: Value = serde_json::from_slice(&need("config.json")?)
        .map_err(|e| err(format!("config.json: {e}")))?;
    let PbgConfig {
        ty,
        norm,
        relations: rel_cfgs,
        dynamic,
    } = PbgConfig::read(&config)?;

    let ent_file =
        H5File::from_bytes(need(&format!("embeddings_{ty}_0.v{version}.h5"))?).map_err(err)?;
    let mut ents = read_matrix(&ent_file, "embeddings")?;
    let model_file = H5File::from_bytes(need(&format!("model.v{version}.h5"))?).map_err(err)?;
    if let Ok(global) = model_file.dataset(&format!("model/entities/{ty}/global_embedding")) {
        let g = Array1::from(global.read_f32().map_err(err)?);
        if g.len() != ents.ncols() {
            return Err(err("the global embedding does not match the dimension"));
        }
        ents += &g;
    }
    let entity_names: Vec<String> = names_json(&need(&format!("entity_names_{ty}_0.json"))?)?;

    let (relation_names, lhs, rhs) = if dynamic {
        let names: Vec<String> = names_json(&need("dynamic_rel_names.json")?)?;
        let side = |s: &str| {
            read_matrix(
                &model_file,
                &format!("model/relations/0/operator/{s}/translations"),
            )
        };
        (names, Some(side("lhs")?), side("rhs")?)
    } else {
        let (names, m) = per_relation_translations(&model_file, &rel_cfgs, ents.ncols())?;
        (names, None, m)
    };
    let dim = ents.ncols();
    if rhs.ncols() != dim || lhs.as_ref().is_some_and(|l| l.dim() != rhs.dim()) {
        return Err(err("relation and entity dimensions differ"));
    }
    // TransE when the two sides are exact opposites; otherwise the right-hand side is a learnt
    // inverse and the model is reciprocal.
    let (relations, reciprocal) = match lhs {
        None => (rhs.mapv(|x| -x), false),
        Some(l) if l.iter().zip(rhs.iter()).all(|(a, b)| (a + b).abs() <= 1e-6) => (l, false),
        Some(l) => (ndarray::concatenate![ndarray::Axis(0), l, rhs], true),
    };
    if ents.iter().chain(relations.iter()).any(|x| !x.is_finite()) {
        return Err(err("the tables hold NaN or infinite values"));
    }
    let ids = IdMaps {
        entities: unique(entity_names, "entity names")?,
        relations: unique(relation_names, "relation names")?,
    };
    let config = TrainConfig {
        dim,
        norm,
        reciprocal,
        ..TrainConfig::default()
    };
    let info = ModelInfo {
        source,
        ..Default::default()
    };
    let model = TransE {
        norm,
        entities: ents,
        relations,
        reciprocal,
    };
    Embedding::new(model, ids, config, info, Vec::<Triple>::new())
}

/// What the importer needs of a PBG `config.json`, checked to describe a TransE model.
struct PbgConfig {
    /// The one entity type.
    ty: String,
    norm: Norm,
    relations: Vec<Value>,
    /// One operator shared by dynamic relations (`dynamic_rel_names.json`) rather than one per
    /// relation type.
    dynamic: bool,
}

impl PbgConfig {
    fn read(config: &Value) -> Result<PbgConfig, EmbedError> {
        let entities = config["entities"]
            .as_object()
            .ok_or_else(|| err("config.json has no entities"))?;
        let (ty, ent_cfg) = match entities.iter().collect::<Vec<_>>()[..] {
            [one] => one,
            _ => {
                return Err(err(format!(
                    "{} entity types: only checkpoints with one entity type can be imported",
                    entities.len()
                )))
            }
        };
        if ent_cfg["num_partitions"].as_u64().unwrap_or(1) != 1 {
            return Err(err(
                "entity type is partitioned: only one partition is supported",
            ));
        }
        if config["bias"].as_bool() == Some(true) {
            return Err(err("models trained with bias=true are not TransE"));
        }
        let norm = match config["comparator"].as_str().unwrap_or("cos") {
            "l2" | "squared_l2" => Norm::L2,
            other => {
                return Err(err(format!(
                "comparator {other:?} is not a distance: only l2 and squared_l2 models are TransE"
            )))
            }
        };
        let relations = config["relations"].as_array().cloned().unwrap_or_default();
        if relations.is_empty()
            || relations
                .iter()
                .any(|r| r["operator"].as_str() != Some("translation"))
        {
            return Err(err("every relation must use the translation operator"));
        }
        Ok(PbgConfig {
            ty: ty.clone(),
            norm,
            relations,
            dynamic: config["dynamic_relations"].as_bool().unwrap_or(false),
        })
    }
}

/// One operator per relation type, right-hand side only: `u ≈ v + t_r`, so `r = −t_r` (the
/// caller negates). Returns the relation names and their translations.
fn per_relation_translations(
    model_file: &H5File,
    rel_cfgs: &[Value],
    dim: usize,
) -> Result<(Vec<String>, Array2<f32>), EmbedError> {
    let mut rows = Vec::new();
    let mut names = Vec::new();
    for (i, rc) in rel_cfgs.iter().enumerate() {
        let ds = model_file
            .dataset(&format!("model/relations/{i}/operator/rhs/translation"))
            .map_err(|e| err(format!("relation {i}: {e}")))?;
        rows.extend(ds.read_f32().map_err(err)?);
        names.push(rc["name"].as_str().unwrap_or_default().to_string());
    }
    let m = Array2::from_shape_vec((names.len(), dim), rows)
        .map_err(|_| err("relation translations do not match the dimension"))?;
    Ok((names, m))
}

fn read_matrix(file: &H5File, path: &str) -> Result<Array2<f32>, EmbedError> {
    let ds = file
        .dataset(path)
        .map_err(|e| err(format!("{path}: {e}")))?;
    let shape = ds.shape().map_err(err)?;
    let [rows, cols] = shape[..] else {
        return Err(err(format!(
            "{path} has shape {shape:?}, expected 2 dimensions"
        )));
    };
    let values = ds.read_f32().map_err(err)?;
    Array2::from_shape_vec((rows as usize, cols as usize), values)
        .map_err(|e| err(format!("{path}: {e}")))
}

fn names_json(bytes: &[u8]) -> Result<Vec<String>, EmbedError> {
    serde_json::from_slice(bytes).map_err(|e| err(format!("name list: {e}")))
}

fn unique(names: Vec<String>, what: &str) -> Result<IdMap, EmbedError> {
    let n = names.len();
    let map = IdMap::from(names);
    if map.len() != n {
        return Err(err(format!("{what}: a name appears twice")));
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::HashMap;

    fn embedding(reciprocal: bool, norm: Norm) -> Embedding {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(9);
        let mut ids = IdMaps::default();
        for i in 0..7 {
            ids.entities.intern(&format!("http://example.org/e{i}"));
        }
        ids.relations.intern("likes");
        ids.relations.intern("owns");
        let mut model = TransE::init(7, if reciprocal { 4 } else { 2 }, 5, norm, &mut rng);
        model.reciprocal = reciprocal;
        let config = TrainConfig {
            dim: 5,
            norm,
            reciprocal,
            ..TrainConfig::default()
        };
        Embedding::new(model, ids, config, ModelInfo::default(), vec![]).unwrap()
    }

    fn round_trip(emb: &Embedding) -> Embedding {
        let files: HashMap<String, Vec<u8>> = write_pbg(emb).unwrap().files.into_iter().collect();
        read_pbg(&|name| files.get(name).cloned(), "test".into()).unwrap()
    }

    #[test]
    fn transe_and_reciprocal_models_round_trip_with_identical_scores() {
        for reciprocal in [false, true] {
            let emb = embedding(reciprocal, Norm::L2);
            let back = round_trip(&emb);
            assert_eq!(back.model, emb.model, "reciprocal={reciprocal}");
            assert_eq!(back.ids, emb.ids);
            for (h, r, t) in [(0, 0, 1), (3, 1, 6), (5, 0, 2)] {
                assert_eq!(back.model.score(h, r, t), emb.model.score(h, r, t));
                assert_eq!(back.model.head_query(r, t), emb.model.head_query(r, t));
            }
        }
    }

    #[test]
    fn layout_is_what_pbg_reads() {
        let emb = embedding(false, Norm::L1);
        let out = write_pbg(&emb).unwrap();
        assert_eq!(out.warnings.len(), 1, "L1 has no PBG comparator");
        let files: HashMap<String, Vec<u8>> = out.files.into_iter().collect();
        let model = H5File::from_bytes(files["model.v1.h5"].clone()).unwrap();
        let lhs = read_matrix(&model, "model/relations/0/operator/lhs/translations").unwrap();
        let rhs = read_matrix(&model, "model/relations/0/operator/rhs/translations").unwrap();
        assert_eq!(lhs, emb.model.relations);
        assert_eq!(rhs, emb.model.relations.mapv(|x| -x));
        let attrs = model.root().attrs().unwrap();
        assert_eq!(attrs.get("format_version"), Some(&AttrValue::I64(1)));
        let ents = H5File::from_bytes(files["embeddings_all_0.v1.h5"].clone()).unwrap();
        assert_eq!(
            read_matrix(&ents, "embeddings").unwrap(),
            emb.model.entities
        );
        let names: Vec<String> = serde_json::from_slice(&files["entity_names_all_0.json"]).unwrap();
        assert_eq!(names, emb.ids.entities.names());
        assert_eq!(files["dynamic_rel_count.txt"], b"2\n");
    }

    #[test]
    fn unsupported_checkpoints_are_refused_with_a_reason() {
        let emb = embedding(false, Norm::L2);
        let mut files: HashMap<String, Vec<u8>> =
            write_pbg(&emb).unwrap().files.into_iter().collect();
        let read = |files: &HashMap<String, Vec<u8>>| {
            read_pbg(&|name| files.get(name).cloned(), "t".into())
                .err()
                .unwrap()
                .to_string()
        };
        let mut cfg: Value = serde_json::from_slice(&files["config.json"]).unwrap();
        cfg["comparator"] = json!("dot");
        files.insert("config.json".into(), serde_json::to_vec(&cfg).unwrap());
        assert!(read(&files).contains("not a distance"), "{}", read(&files));
        cfg["comparator"] = json!("l2");
        cfg["relations"][0]["operator"] = json!("complex_diagonal");
        files.insert("config.json".into(), serde_json::to_vec(&cfg).unwrap());
        assert!(read(&files).contains("translation operator"));
        files.remove("model.v1.h5");
        cfg["relations"][0]["operator"] = json!("translation");
        files.insert("config.json".into(), serde_json::to_vec(&cfg).unwrap());
        assert!(
            read(&files).contains("model.v1.h5 is missing"),
            "{}",
            read(&files)
        );
        files.insert("model.v1.h5".into(), b"not hdf5".to_vec());
        assert!(read(&files).contains("PyTorch-BigGraph files"));
    }
}
