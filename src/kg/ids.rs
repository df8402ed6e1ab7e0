//! Dense ids for entities and relations.
//!
//! Embedding tables are indexed by position, the outside world names things by IRI or string.
//! [`IdMap`] is the one place that maps between them; [`IdMaps`] pairs the entity and relation
//! maps so a checkpoint, an export and a prediction always agree on what row 17 means.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// A bijection between names and dense ids `0..len`, in insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct IdMap {
    names: Vec<String>,
    index: FxHashMap<String, u32>,
}

impl IdMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of `name`, adding it when new.
    ///
    /// # Panics
    /// When more than `u32::MAX` names are added (far beyond any embedding table that fits in memory).
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).expect("more than u32::MAX ids");
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), id);
        id
    }

    /// The id of `name`, if known.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    /// The name of `id`, if in range.
    pub fn name(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize).map(String::as_str)
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no id has been assigned.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Names in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

impl From<Vec<String>> for IdMap {
    /// Rebuilds a map from names in id order. Duplicates keep their first id, so a hand-edited
    /// file cannot make two rows answer to one name.
    fn from(names: Vec<String>) -> Self {
        let mut map = IdMap::new();
        for name in &names {
            map.intern(name);
        }
        map
    }
}

impl From<IdMap> for Vec<String> {
    fn from(map: IdMap) -> Self {
        map.names
    }
}

/// The entity and relation maps of one dataset or model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMaps {
    pub entities: IdMap,
    pub relations: IdMap,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(names in proptest::collection::vec("[a-z<>:/#0-9]{0,8}", 0..50)) {
            let mut map = IdMap::new();
            let ids: Vec<u32> = names.iter().map(|n| map.intern(n)).collect();
            for (name, id) in names.iter().zip(&ids) {
                prop_assert_eq!(map.get(name), Some(*id));
                prop_assert_eq!(map.name(*id), Some(name.as_str()));
            }
            // Dense: ids are exactly 0..len.
            let mut distinct: Vec<u32> = ids.clone();
            distinct.sort_unstable();
            distinct.dedup();
            prop_assert_eq!(distinct, (0..map.len() as u32).collect::<Vec<_>>());
            // Serialised form round-trips.
            let json = serde_json::to_string(&map).unwrap();
            let back: IdMap = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, map);
        }
    }

    #[test]
    fn unknown_names_and_ids_are_none() {
        let mut map = IdMap::new();
        map.intern("a");
        assert_eq!(map.get("b"), None);
        assert_eq!(map.name(1), None);
    }
}
