//! Full-text search over the catalog's names, titles and descriptions: the only module that
//! touches tantivy.
//!
//! A search box must answer in milliseconds where the SPARQL a user would write today
//! (`FILTER(CONTAINS(LCASE(?title), "手机"))`) reads every title in the store. The index holds
//! one document per (graph, subject) that has a name, label, title or description — products,
//! brands, categories, assets, columns, ontology terms — analysed into characters and character
//! pairs ([`grams`]) so that Chinese and English both match as substrings. It is derived data:
//! the application keeps it in step with the store by [`SearchIndex::sync`], which compares a
//! content hash per document and rewrites only what changed, and callers pass the graphs the
//! caller may not see, so a reader never finds a quarantined record's title.
//!
//! Pure: no store, no server; [`Doc`]s come in, [`Page`]s go out.

pub mod grams;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, INDEXED, STORED,
    STRING,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// The longest query accepted, in characters (a query's cost grows with its length).
pub const MAX_QUERY_CHARS: usize = 200;
/// The most words a query may have.
pub const MAX_QUERY_WORDS: usize = 16;
/// How much more a match in a name counts than one in a description.
const NAME_BOOST: f32 = 3.0;

/// What can go wrong searching.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query cannot be run as given (empty, too long).
    #[error("{0}")]
    Invalid(String),
    /// The index failed (it lives in memory: this is a bug or exhaustion, not bad input).
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
}

/// One thing that can be found: a subject with its text, in one graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub iri: String,
    /// The named graph holding these statements (`""`: the default graph).
    pub graph: String,
    /// What it is (`product`, `brand`, `category`, `asset`, `column`, …).
    pub kind: String,
    /// Names, labels and titles, each with its language tag (`""` when it has none).
    pub names: Vec<(String, String)>,
    /// Descriptions and alternative labels.
    pub texts: Vec<String>,
}

impl Doc {
    /// The document's identity: a 64-bit hash of (graph, IRI). At a million documents two
    /// keys collide with probability ~3·10⁻⁸; the map below stays 16 bytes per document.
    fn key(&self) -> u64 {
        let mut h = twox_hash::XxHash3_64::default();
        self.graph.hash(&mut h);
        self.iri.hash(&mut h);
        h.finish()
    }

    fn content_hash(&self) -> u64 {
        let mut h = twox_hash::XxHash3_64::default();
        self.kind.hash(&mut h);
        self.names.hash(&mut h);
        self.texts.hash(&mut h);
        h.finish()
    }
}

/// One answer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Hit {
    pub iri: String,
    pub graph: String,
    pub kind: String,
    /// The document's names with their language tags.
    pub names: Vec<(String, String)>,
    pub score: f32,
}

/// One page of answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page {
    /// All matching documents the caller may see.
    pub total: usize,
    pub hits: Vec<Hit>,
}

/// What one [`SearchIndex::sync`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    pub documents: usize,
}

#[derive(Clone, Copy)]
struct Fields {
    key: Field,
    iri: Field,
    graph: Field,
    kind: Field,
    name: Field,
    text: Field,
    names_json: Field,
}

/// The in-memory index and what it was last synchronised with.
pub struct SearchIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    /// Key → content hash of every indexed document (what `sync` compares against).
    hashes: Mutex<HashMap<u64, u64>>,
    /// The store generation the index reflects (0: never synchronised).
    generation: AtomicU64,
}

impl SearchIndex {
    /// An empty index in memory.
    pub fn new() -> Result<SearchIndex, SearchError> {
        let mut b = Schema::builder();
        let grams = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(grams::NAME)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let fields = Fields {
            key: b.add_u64_field("key", INDEXED),
            iri: b.add_text_field("iri", STORED),
            graph: b.add_text_field("graph", STRING | STORED),
            kind: b.add_text_field("kind", STRING | STORED),
            name: b.add_text_field("name", grams.clone()),
            text: b.add_text_field("text", grams),
            names_json: b.add_text_field("names", STORED),
        };
        let index = Index::create_in_ram(b.build());
        index
            .tokenizers()
            .register(grams::NAME, grams::GramTokenizer::default());
        // Two indexing threads at most: the index shares the machine with the store.
        let threads = std::thread::available_parallelism()
            .map(|n| n.get().min(2))
            .unwrap_or(1);
        let writer = index.writer_with_num_threads(threads, 64 * 1024 * 1024 * threads)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            reader,
            writer: Mutex::new(writer),
            fields,
            hashes: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        })
    }

    /// The store generation the index was last synchronised with (0: never).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Makes the index hold exactly `docs` (the store's current text, read at `generation`):
    /// new and changed documents are (re)indexed, vanished ones deleted, unchanged ones left
    /// alone; searches see the result when this returns. Blocking.
    pub fn sync(&self, docs: Vec<Doc>, generation: u64) -> Result<SyncStats, SearchError> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut hashes = self.hashes.lock().unwrap_or_else(|e| e.into_inner());
        let f = self.fields;
        let mut stats = SyncStats {
            documents: docs.len(),
            ..SyncStats::default()
        };
        let mut seen: HashMap<u64, u64> = HashMap::with_capacity(docs.len());
        for doc in docs {
            let key = doc.key();
            let hash = doc.content_hash();
            match hashes.get(&key) {
                Some(old) if *old == hash => {}
                Some(_) => {
                    writer.delete_term(Term::from_field_u64(f.key, key));
                    writer.add_document(self.document(&doc, key))?;
                    stats.updated += 1;
                }
                None => {
                    writer.add_document(self.document(&doc, key))?;
                    stats.added += 1;
                }
            }
            seen.insert(key, hash);
        }
        for key in hashes.keys() {
            if !seen.contains_key(key) {
                writer.delete_term(Term::from_field_u64(f.key, *key));
                stats.removed += 1;
            }
        }
        if stats.added + stats.updated + stats.removed > 0 {
            writer.commit()?;
            self.reader.reload()?;
        }
        *hashes = seen;
        self.generation.store(generation, Ordering::Release);
        Ok(stats)
    }

    fn document(&self, doc: &Doc, key: u64) -> TantivyDocument {
        let f = self.fields;
        let mut d = TantivyDocument::default();
        d.add_u64(f.key, key);
        d.add_text(f.iri, &doc.iri);
        d.add_text(f.graph, &doc.graph);
        d.add_text(f.kind, &doc.kind);
        for (name, _) in &doc.names {
            d.add_text(f.name, name);
        }
        for t in &doc.texts {
            d.add_text(f.text, t);
        }
        d.add_text(
            f.names_json,
            serde_json::to_string(&doc.names).unwrap_or_default(),
        );
        d
    }

    /// Documents whose names or texts contain every word of `q` (as substrings, after
    /// normalising case, width and space), best first: matches in names count more, and shorter
    /// texts more than longer ones (BM25). `hidden` are graphs the caller may not see; `kind`
    /// keeps one kind. Pages go as deep as asked (`offset` is not capped). Blocking.
    pub fn search(
        &self,
        q: &str,
        hidden: &[String],
        kind: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Page, SearchError> {
        let query = self.query(q, hidden, kind)?;
        let searcher = self.reader.searcher();
        let f = self.fields;
        let (top, total) = searcher.search(
            &query,
            &(
                TopDocs::with_limit(limit.max(1))
                    .and_offset(offset)
                    .order_by_score(),
                Count,
            ),
        )?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top.into_iter().take(limit) {
            let d: TantivyDocument = searcher.doc(address)?;
            let text = |field: Field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            hits.push(Hit {
                iri: text(f.iri),
                graph: text(f.graph),
                kind: text(f.kind),
                names: serde_json::from_str(&text(f.names_json)).unwrap_or_default(),
                score,
            });
        }
        Ok(Page { total, hits })
    }

    fn query(
        &self,
        q: &str,
        hidden: &[String],
        kind: Option<&str>,
    ) -> Result<Box<dyn Query>, SearchError> {
        let f = self.fields;
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(SearchError::Invalid(format!(
                "the query is longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        let words: Vec<&str> = q.split_whitespace().collect();
        if words.is_empty() {
            return Err(SearchError::Invalid(
                "the query is empty: give q=<words to find>".into(),
            ));
        }
        if words.len() > MAX_QUERY_WORDS {
            return Err(SearchError::Invalid(format!(
                "the query has {} words; at most {MAX_QUERY_WORDS}",
                words.len()
            )));
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for word in words {
            let grams = grams::query_grams(word);
            if grams.is_empty() {
                continue;
            }
            let in_field = |field: Field| -> Box<dyn Query> {
                let terms: Vec<Term> = grams
                    .iter()
                    .map(|g| Term::from_field_text(field, g))
                    .collect();
                if terms.len() == 1 {
                    Box::new(TermQuery::new(
                        terms[0].clone(),
                        IndexRecordOption::WithFreqs,
                    ))
                } else {
                    Box::new(PhraseQuery::new(terms))
                }
            };
            let either = BooleanQuery::new(vec![
                (
                    Occur::Should,
                    Box::new(BoostQuery::new(in_field(f.name), NAME_BOOST)) as Box<dyn Query>,
                ),
                (Occur::Should, in_field(f.text)),
            ]);
            clauses.push((Occur::Must, Box::new(either)));
        }
        if clauses.is_empty() {
            return Err(SearchError::Invalid(
                "the query has no characters to search for".into(),
            ));
        }
        if let Some(kind) = kind {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.kind, kind),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        for g in hidden {
            clauses.push((
                Occur::MustNot,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.graph, g),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(iri: &str, graph: &str, kind: &str, name: &str, text: &str) -> Doc {
        Doc {
            iri: iri.into(),
            graph: graph.into(),
            kind: kind.into(),
            names: vec![(name.into(), String::new())],
            texts: if text.is_empty() {
                vec![]
            } else {
                vec![text.into()]
            },
        }
    }

    fn iris(p: &Page) -> Vec<&str> {
        p.hits.iter().map(|h| h.iri.as_str()).collect()
    }

    fn sample() -> Vec<Doc> {
        vec![
            doc("p1", "g", "product", "华为 智能手机 Mate 60", ""),
            doc("p2", "g", "product", "Apple iPhone 15 手机壳 透明", ""),
            doc("p3", "g", "product", "美的 电热水器", "适合 手机 控制"),
            doc("q1", "quarantine", "product", "手机 secret title", ""),
            doc("b1", "g", "brand", "Apple", ""),
        ]
    }

    #[test]
    fn finds_substrings_in_chinese_and_english_names_first() {
        let ix = SearchIndex::new().unwrap();
        let stats = ix.sync(sample(), 7).unwrap();
        assert_eq!((stats.added, stats.documents), (5, 5));
        assert_eq!(ix.generation(), 7);
        let p = ix.search("手机", &[], None, 0, 10).unwrap();
        assert_eq!(p.total, 4);
        // Names outrank descriptions: p3 has 手机 only in its description.
        assert_eq!(p.hits.last().unwrap().iri, "p3");
        // Inside a word the segmenters would keep whole (智能手机), and across scripts.
        let p = ix.search("PHONE", &[], None, 0, 10).unwrap();
        assert_eq!(iris(&p), vec!["p2"]);
        let p = ix.search("iphone 手机壳", &[], None, 0, 10).unwrap();
        assert_eq!(iris(&p), vec!["p2"]);
        let p = ix.search("壳", &[], None, 0, 10).unwrap();
        assert_eq!(iris(&p), vec!["p2"]);
        // Not a substring: 手 and 壳 both occur, 手壳 does not.
        assert_eq!(ix.search("手壳", &[], None, 0, 10).unwrap().total, 0);
        let p = ix.search("apple", &[], Some("brand"), 0, 10).unwrap();
        assert_eq!(iris(&p), vec!["b1"]);
    }

    #[test]
    fn hidden_graphs_stay_hidden_and_pages_go_deep() {
        let ix = SearchIndex::new().unwrap();
        ix.sync(sample(), 1).unwrap();
        let hidden = vec!["quarantine".to_string()];
        let p = ix.search("secret", &hidden, None, 0, 10).unwrap();
        assert_eq!(p.total, 0);
        assert_eq!(ix.search("secret", &[], None, 0, 10).unwrap().total, 1);
        let mut many: Vec<Doc> = (0..12_000)
            .map(|i| doc(&format!("x{i}"), "g", "product", &format!("item {i}"), ""))
            .collect();
        many.extend(sample());
        ix.sync(many, 2).unwrap();
        let p = ix.search("item", &[], None, 11_990, 50).unwrap();
        assert_eq!(p.total, 12_000);
        assert_eq!(p.hits.len(), 10);
    }

    #[test]
    fn sync_rewrites_only_what_changed() {
        let ix = SearchIndex::new().unwrap();
        ix.sync(sample(), 1).unwrap();
        let mut next = sample();
        next[0].names = vec![("华为 折叠屏".into(), "zh".into())];
        next.remove(4);
        next.push(doc("c1", "g", "category", "手机配件", ""));
        let stats = ix.sync(next.clone(), 2).unwrap();
        assert_eq!(
            (stats.added, stats.updated, stats.removed),
            (1, 1, 1),
            "{stats:?}"
        );
        assert_eq!(
            ix.search("apple", &[], Some("brand"), 0, 10).unwrap().total,
            0
        );
        assert_eq!(ix.search("折叠屏", &[], None, 0, 10).unwrap().total, 1);
        assert_eq!(ix.search("智能", &[], None, 0, 10).unwrap().total, 0);
        let hit = &ix.search("折叠", &[], None, 0, 1).unwrap().hits[0];
        assert_eq!(
            hit.names,
            vec![("华为 折叠屏".to_string(), "zh".to_string())]
        );
        let again = ix.sync(next, 3).unwrap();
        assert_eq!((again.added, again.updated, again.removed), (0, 0, 0));
    }

    #[test]
    fn bad_queries_say_why() {
        let ix = SearchIndex::new().unwrap();
        for q in ["", "   ", &"长".repeat(MAX_QUERY_CHARS + 1)] {
            assert!(matches!(
                ix.search(q, &[], None, 0, 10),
                Err(SearchError::Invalid(_))
            ));
        }
        let words = vec!["a"; MAX_QUERY_WORDS + 1].join(" ");
        assert!(ix.search(&words, &[], None, 0, 10).is_err());
    }
}
