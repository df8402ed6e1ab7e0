//! Embeddings in the formats DGL-KE reads and writes, for scale-out and for importing tables
//! trained elsewhere.
//!
//! DGL-KE saves a model as `<dataset>_<model>_entity.npy` and `<dataset>_<model>_relation.npy`
//! (float32, one row per id) plus `config.json`, and names rows through `entities.tsv` and
//! `relations.tsv` (`id<TAB>name`, its "raw_udd" dataset format). [`write_dglke`] produces exactly
//! that (and `train.tsv`, the training triples by name, which `dglke_train --format raw_udd_hrt`
//! reads); [`read_dglke`] turns such a folder back into an [`Embedding`]. The caller supplies the
//! files (this module does no file-system I/O of its own).

use std::io::{BufRead, Read, Write};

use ndarray::Array2;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use serde_json::json;

use super::checkpoint::{Embedding, ModelInfo};
use super::model::{Norm, TransE};
use super::{EmbedError, TrainConfig};
use crate::kg::{IdMap, IdMaps, Triple};

/// The DGL-KE model name of a TransE norm.
pub fn dglke_model_name(norm: Norm) -> &'static str {
    match norm {
        Norm::L1 => "TransE_l1",
        Norm::L2 => "TransE_l2",
    }
}

/// File names of a DGL-KE export of `emb` under dataset name `dataset`.
pub fn dglke_file_names(dataset: &str, norm: Norm) -> [String; 6] {
    let model = dglke_model_name(norm);
    [
        format!("{dataset}_{model}_entity.npy"),
        format!("{dataset}_{model}_relation.npy"),
        "entities.tsv".into(),
        "relations.tsv".into(),
        "config.json".into(),
        "train.tsv".into(),
    ]
}

fn io_err(e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Model(format!("DGL-KE files: {e}"))
}

/// Writes a DGL-KE export; `open(name)` creates each file of [`dglke_file_names`].
pub fn write_dglke(
    emb: &Embedding,
    dataset: &str,
    mut open: impl FnMut(&str) -> std::io::Result<Box<dyn Write>>,
) -> Result<(), EmbedError> {
    let [ent, rel, ents, rels, config, train] = dglke_file_names(dataset, emb.config.norm);
    emb.model
        .entities
        .write_npy(open(&ent).map_err(io_err)?)
        .map_err(io_err)?;
    emb.model
        .relations
        .write_npy(open(&rel).map_err(io_err)?)
        .map_err(io_err)?;
    // A reciprocal model's inverse rows are exported as relations of their own: DGL-KE has no
    // notion of them, but `(t, inverse(r), h)` is an ordinary TransE triple.
    let mut rel_names: Vec<String> = emb.ids.relations.names().to_vec();
    if emb.model.reciprocal {
        rel_names.extend(
            emb.ids
                .relations
                .names()
                .iter()
                .map(|n| format!("inverse({n})")),
        );
    }
    for (file, names) in [(ents, emb.ids.entities.names()), (rels, &rel_names[..])] {
        let mut w = open(&file).map_err(io_err)?;
        for (i, name) in names.iter().enumerate() {
            if name.contains(['\t', '\n', '\r']) {
                return Err(EmbedError::Model(format!(
                    "name {name:?} contains a tab or newline and cannot be written as TSV"
                )));
            }
            writeln!(w, "{i}\t{name}").map_err(io_err)?;
        }
        w.flush().map_err(io_err)?;
    }
    let cfg = json!({
        "model": dglke_model_name(emb.config.norm),
        "emb_size": emb.config.dim,
        "gamma": emb.config.margin,
        "double_ent": false,
        "double_rel": false,
        "neg_sample_size": emb.config.negatives,
        "batch_size": emb.config.batch_size,
        "lr": emb.config.lr,
        "dataset": dataset,
        "n_entities": emb.ids.entities.len(),
        "n_relations": rel_names.len(),
        "stocktake": {"model_id": emb.model_id(), "snapshot": emb.info.snapshot, "config": emb.config},
    });
    let mut w = open(&config).map_err(io_err)?;
    serde_json::to_writer_pretty(&mut w, &cfg).map_err(io_err)?;
    w.flush().map_err(io_err)?;
    let mut w = open(&train).map_err(io_err)?;
    for t in &emb.train {
        let name = |m: &IdMap, i: u32| m.name(i).unwrap_or_default().to_owned();
        writeln!(
            w,
            "{}\t{}\t{}",
            name(&emb.ids.entities, t.h),
            name(&emb.ids.relations, t.r),
            name(&emb.ids.entities, t.t)
        )
        .map_err(io_err)?;
    }
    w.flush().map_err(io_err)?;
    Ok(())
}

/// Reads an `id<TAB>name` file into an id map (ids must be 0..n in any order).
pub fn read_id_tsv(r: impl Read, what: &str) -> Result<IdMap, EmbedError> {
    let mut rows: Vec<(usize, String)> = Vec::new();
    for (i, line) in std::io::BufReader::new(r).lines().enumerate() {
        let line = line.map_err(io_err)?;
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let (id, name) = line.split_once('\t').ok_or_else(|| {
            EmbedError::Model(format!("{what} line {}: expected id<TAB>name", i + 1))
        })?;
        let id: usize = id.trim().parse().map_err(|_| {
            EmbedError::Model(format!("{what} line {}: {id:?} is not an id", i + 1))
        })?;
        rows.push((id, name.to_owned()));
    }
    rows.sort();
    if rows.iter().enumerate().any(|(i, (id, _))| *id != i) {
        return Err(EmbedError::Model(format!(
            "{what}: ids must be exactly 0..{} without gaps or repeats",
            rows.len()
        )));
    }
    let names: Vec<String> = rows.into_iter().map(|(_, n)| n).collect();
    let map = IdMap::from(names.clone());
    if map.len() != names.len() {
        return Err(EmbedError::Model(format!("{what}: a name appears twice")));
    }
    Ok(map)
}

/// Builds an embedding from DGL-KE tables and id files (no training triples: nothing is
/// filtered as known until a model trained here replaces it).
pub fn read_dglke(
    entities: impl Read,
    relations: impl Read,
    entity_names: impl Read,
    relation_names: impl Read,
    norm: Norm,
    source: String,
) -> Result<Embedding, EmbedError> {
    let e = Array2::<f32>::read_npy(entities).map_err(io_err)?;
    let r = Array2::<f32>::read_npy(relations).map_err(io_err)?;
    if e.ncols() != r.ncols() {
        return Err(EmbedError::Model(format!(
            "entity dimension {} differs from relation dimension {}",
            e.ncols(),
            r.ncols()
        )));
    }
    if e.iter().chain(r.iter()).any(|x| !x.is_finite()) {
        return Err(EmbedError::Model(
            "the tables hold NaN or infinite values".into(),
        ));
    }
    let ids = IdMaps {
        entities: read_id_tsv(entity_names, "entities.tsv")?,
        relations: read_id_tsv(relation_names, "relations.tsv")?,
    };
    let config = TrainConfig {
        dim: e.ncols(),
        norm,
        ..TrainConfig::default()
    };
    let info = ModelInfo {
        source,
        snapshot: String::new(),
        trained_at: String::new(),
        ..Default::default()
    };
    let model = TransE {
        reciprocal: false,
        norm,
        entities: e.as_standard_layout().to_owned(),
        relations: r.as_standard_layout().to_owned(),
    };
    Embedding::new(model, ids, config, info, Vec::<Triple>::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Files(Arc<Mutex<HashMap<String, Vec<u8>>>>);

    struct Sink(Files, String, Vec<u8>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.2.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.0
                 .0
                .lock()
                .unwrap()
                .insert(self.1.clone(), self.2.clone());
            Ok(())
        }
    }

    impl Drop for Sink {
        fn drop(&mut self) {
            let _ = self.flush();
        }
    }

    #[test]
    fn dglke_round_trip_keeps_rows_and_names() {
        let mut ids = IdMaps::default();
        for n in ["a", "b", "c"] {
            ids.entities.intern(n);
        }
        ids.relations.intern("r");
        let model = TransE {
            reciprocal: false,
            norm: Norm::L1,
            entities: Array2::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as f32 * 0.5),
            relations: Array2::from_shape_fn((1, 4), |(_, j)| j as f32),
        };
        let emb = Embedding::new(
            model,
            ids,
            TrainConfig {
                dim: 4,
                ..TrainConfig::default()
            },
            ModelInfo::default(),
            vec![Triple::new(0, 0, 1)],
        )
        .unwrap();
        let files = Files::default();
        let f2 = files.clone();
        write_dglke(&emb, "shop", move |name| {
            Ok(Box::new(Sink(f2.clone(), name.to_string(), Vec::new())) as Box<dyn Write>)
        })
        .unwrap();
        let got = files.0.lock().unwrap().clone();
        let names = dglke_file_names("shop", Norm::L1);
        for n in &names {
            assert!(got.contains_key(n), "{n} missing");
        }
        assert_eq!(String::from_utf8_lossy(&got["train.tsv"]), "a\tr\tb\n");
        let back = read_dglke(
            &got[&names[0]][..],
            &got[&names[1]][..],
            &got["entities.tsv"][..],
            &got["relations.tsv"][..],
            Norm::L1,
            "test".into(),
        )
        .unwrap();
        assert_eq!(back.model, emb.model);
        assert_eq!(back.ids, emb.ids);
    }

    #[test]
    fn bad_id_files_are_refused() {
        assert!(read_id_tsv("0\ta\n2\tb\n".as_bytes(), "entities.tsv").is_err());
        assert!(read_id_tsv("0\ta\n1\ta\n".as_bytes(), "entities.tsv").is_err());
        let err = read_id_tsv("zero\ta\n".as_bytes(), "entities.tsv").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
