//! What a check needs to know about an ontology, worked out once: which IRIs are classes,
//! properties, concepts, schemes, shapes and brands, which are declared or deprecated, their
//! labels per language, and which namespaces are the ontology's own (a term in one of those
//! must be declared; a term of a vocabulary the files only refer to cannot be judged).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use oxigraph::model::{Graph, NamedNodeRef, NamedOrBlankNodeRef, Term, TermRef};

pub const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
pub const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";
pub const OWL: &str = "http://www.w3.org/2002/07/owl#";
pub const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";
pub const SH: &str = "http://www.w3.org/ns/shacl#";

const CLASS_TYPES: &[&str] = &[
    "http://www.w3.org/2002/07/owl#Class",
    "http://www.w3.org/2000/01/rdf-schema#Class",
];
const PROPERTY_TYPES: &[&str] = &[
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#Property",
    "http://www.w3.org/2002/07/owl#ObjectProperty",
    "http://www.w3.org/2002/07/owl#DatatypeProperty",
    "http://www.w3.org/2002/07/owl#AnnotationProperty",
];
const BRAND_TYPES: &[&str] = &["http://schema.org/Brand", "https://schema.org/Brand"];

/// A literal label: its text and language tag ("" when it has none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub text: String,
    pub lang: String,
}

/// The facts about an ontology the checks read.
pub struct Index<'a> {
    pub graph: &'a Graph,
    pub classes: BTreeSet<String>,
    pub properties: BTreeSet<String>,
    pub concepts: BTreeSet<String>,
    pub schemes: BTreeSet<String>,
    pub brands: BTreeSet<String>,
    /// Every IRI with an `rdf:type`.
    pub declared: HashSet<String>,
    pub deprecated: BTreeSet<String>,
    /// Namespaces in which the files declare a class or property.
    pub own: BTreeSet<String>,
}

/// The namespace of an IRI: everything up to its last `#` or `/`.
pub fn namespace(iri: &str) -> &str {
    match iri.rfind(['#', '/']) {
        Some(i) => &iri[..=i],
        None => iri,
    }
}

pub fn iri_of(t: TermRef<'_>) -> Option<&str> {
    match t {
        TermRef::NamedNode(n) => Some(n.as_str()),
        _ => None,
    }
}

impl<'a> Index<'a> {
    pub fn new(graph: &'a Graph) -> Index<'a> {
        let ty = NamedNodeRef::new_unchecked(RDF_TYPE);
        let mut types: HashMap<&str, Vec<&str>> = HashMap::new();
        for t in graph.triples_for_predicate(ty) {
            if let (NamedOrBlankNodeRef::NamedNode(s), Some(o)) = (t.subject, iri_of(t.object)) {
                types.entry(s.as_str()).or_default().push(o);
            }
        }
        // Classes whose instances are concepts: skos:Concept and its declared subclasses.
        let sub = NamedNodeRef::new_unchecked("http://www.w3.org/2000/01/rdf-schema#subClassOf");
        let mut concept_classes: BTreeSet<String> = BTreeSet::from([format!("{SKOS}Concept")]);
        loop {
            let before = concept_classes.len();
            for t in graph.triples_for_predicate(sub) {
                if let (NamedOrBlankNodeRef::NamedNode(s), Some(o)) = (t.subject, iri_of(t.object))
                {
                    if concept_classes.contains(o) {
                        concept_classes.insert(s.as_str().to_owned());
                    }
                }
            }
            if concept_classes.len() == before {
                break;
            }
        }
        let mut ix = Index {
            graph,
            classes: BTreeSet::new(),
            properties: BTreeSet::new(),
            concepts: BTreeSet::new(),
            schemes: BTreeSet::new(),
            brands: BTreeSet::new(),
            declared: HashSet::new(),
            deprecated: BTreeSet::new(),
            own: BTreeSet::new(),
        };
        for (s, ts) in &types {
            ix.declared.insert((*s).to_owned());
            for t in ts {
                if CLASS_TYPES.contains(t) {
                    ix.classes.insert((*s).to_owned());
                } else if PROPERTY_TYPES.contains(t) {
                    ix.properties.insert((*s).to_owned());
                } else if concept_classes.contains(*t) {
                    ix.concepts.insert((*s).to_owned());
                } else if *t == format!("{SKOS}ConceptScheme") {
                    ix.schemes.insert((*s).to_owned());
                } else if BRAND_TYPES.contains(t) {
                    ix.brands.insert((*s).to_owned());
                }
            }
        }
        let dep = NamedNodeRef::new_unchecked("http://www.w3.org/2002/07/owl#deprecated");
        for t in graph.triples_for_predicate(dep) {
            if let (NamedOrBlankNodeRef::NamedNode(s), TermRef::Literal(l)) = (t.subject, t.object)
            {
                if l.value() == "true" || l.value() == "1" {
                    ix.deprecated.insert(s.as_str().to_owned());
                }
            }
        }
        ix.own = ix
            .classes
            .iter()
            .chain(&ix.properties)
            .map(|t| namespace(t).to_owned())
            .collect();
        ix
    }

    pub fn node(iri: &str) -> NamedNodeRef<'_> {
        NamedNodeRef::new_unchecked(iri)
    }

    /// IRI objects of `s p ?o`.
    pub fn objects(&self, s: &str, p: &str) -> Vec<&'a str> {
        self.graph
            .objects_for_subject_predicate(Self::node(s), Self::node(p))
            .filter_map(iri_of)
            .collect()
    }

    /// IRI subjects of `?s p o`.
    pub fn subjects(&self, p: &str, o: &str) -> Vec<&'a str> {
        self.graph
            .subjects_for_predicate_object(Self::node(p), Self::node(o))
            .filter_map(|s| match s {
                NamedOrBlankNodeRef::NamedNode(n) => Some(n.as_str()),
                _ => None,
            })
            .collect()
    }

    /// (subject, object) IRI pairs of a predicate.
    pub fn pairs(&self, p: &str) -> Vec<(&'a str, &'a str)> {
        self.graph
            .triples_for_predicate(Self::node(p))
            .filter_map(|t| match (t.subject, iri_of(t.object)) {
                (NamedOrBlankNodeRef::NamedNode(s), Some(o)) => Some((s.as_str(), o)),
                _ => None,
            })
            .collect()
    }

    /// The IRI subjects of a predicate, whatever its objects.
    pub fn pairs_any(&self, p: &str) -> BTreeSet<&'a str> {
        self.graph
            .triples_for_predicate(Self::node(p))
            .filter_map(|t| match t.subject {
                NamedOrBlankNodeRef::NamedNode(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The literal values of `s p ?o` with their language tags.
    pub fn labels(&self, s: &str, p: &str) -> Vec<Label> {
        self.graph
            .objects_for_subject_predicate(Self::node(s), Self::node(p))
            .filter_map(|o| match o {
                TermRef::Literal(l) => Some(Label {
                    text: l.value().to_owned(),
                    lang: l.language().unwrap_or("").to_owned(),
                }),
                _ => None,
            })
            .collect()
    }

    /// Whether `s p` has any value.
    pub fn has(&self, s: &str, p: &str) -> bool {
        self.graph
            .objects_for_subject_predicate(Self::node(s), Self::node(p))
            .next()
            .is_some()
    }

    /// An IRI the ontology owns but does not declare.
    pub fn undeclared(&self, iri: &str) -> bool {
        self.own.contains(namespace(iri)) && !self.declared.contains(iri)
    }

    /// The labels people read for a term: `rdfs:label` and `skos:prefLabel`.
    pub fn names(&self, s: &str) -> Vec<Label> {
        let mut v = self.labels(s, &format!("{RDFS}label"));
        v.extend(self.labels(s, &format!("{SKOS}prefLabel")));
        v
    }

    /// The `skos:broader` relation with `skos:narrower` turned round, per concept.
    pub fn broader(&self) -> BTreeMap<&'a str, BTreeSet<&'a str>> {
        let mut up: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (s, o) in self.pairs(&format!("{SKOS}broader")) {
            up.entry(s).or_default().insert(o);
        }
        for (s, o) in self.pairs(&format!("{SKOS}narrower")) {
            up.entry(o).or_default().insert(s);
        }
        up
    }

    /// Terms (IRIs) of a triple's object, for shapes and axioms.
    pub fn term_iri(t: &Term) -> Option<&str> {
        match t {
            Term::NamedNode(n) => Some(n.as_str()),
            _ => None,
        }
    }
}

/// Whether a language tag is (a subtag of) a wanted language: `zh-CN` counts as `zh`.
pub fn lang_matches(tag: &str, want: &str) -> bool {
    let (tag, want) = (tag.to_ascii_lowercase(), want.to_ascii_lowercase());
    tag == want || tag.starts_with(&format!("{want}-"))
}

/// Label texts grouped by language tag ("" for none), in the order given.
pub fn by_language(labels: &[Label]) -> BTreeMap<&str, Vec<&str>> {
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for l in labels {
        out.entry(l.lang.as_str())
            .or_default()
            .push(l.text.as_str());
    }
    out
}
