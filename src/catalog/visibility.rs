//! Who reads which graph: the access policy every reader of the store goes through.
//!
//! The unit of access in an RDF store is the named graph, so every finer permission is made a
//! graph: restricted graphs (the quarantine, configured ones, those marked `st:restricted` in
//! the catalog graph) are hidden from non-admins, and the sensitive detail of a personal-data
//! column — its PII evidence and its measurements — lives in a *detail graph* of its own
//! (marked restricted, and `st:detailOf` the column and its asset). A token's grants then name
//! restricted graphs, assets or columns, and a [`Visibility`] turns them into the set of
//! restricted graphs its holder reads. Because SPARQL of every form, the graph store, named
//! queries, the report, search and predictions all read through a visibility, a grant is
//! enforced the same way everywhere, and a graph not granted behaves as if it did not exist.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use oxigraph::model::{
    GraphName, GraphNameRef, Literal, NamedNode, NamedOrBlankNode, QuadRef, Term,
};
use oxigraph::sparql::QueryDataset;

use super::{vocab, Catalog, CatalogError};

/// What a caller reads beyond the unrestricted graphs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadGrants {
    /// Restricted graphs granted by IRI.
    pub graphs: HashSet<String>,
    /// Assets and columns (by IRI) whose detail graphs are granted: an asset grants the
    /// detail of all its columns, a column its own.
    pub subjects: HashSet<String>,
}

impl ReadGrants {
    /// Whether nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.graphs.is_empty() && self.subjects.is_empty()
    }
}

/// The caller's view of the store: an admin reads everything; anyone else the unrestricted
/// graphs plus what their grants name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    admin: bool,
    grants: Option<Arc<ReadGrants>>,
}

impl Visibility {
    /// Reads every graph (admins, the local operator, internal readers).
    pub const ADMIN: Visibility = Visibility {
        admin: true,
        grants: None,
    };
    /// Reads the unrestricted graphs only.
    pub const PUBLIC: Visibility = Visibility {
        admin: false,
        grants: None,
    };

    /// A non-admin with `grants` (none granted: [`Visibility::PUBLIC`]).
    pub fn granted(grants: ReadGrants) -> Self {
        Self {
            admin: false,
            grants: (!grants.is_empty()).then(|| Arc::new(grants)),
        }
    }

    /// Whether this view reads every graph.
    pub fn is_admin(&self) -> bool {
        self.admin
    }

    /// The grants beyond the unrestricted graphs (none for admins and public views).
    pub fn grants(&self) -> Option<&ReadGrants> {
        self.grants.as_deref()
    }

    /// Whether this view reads the restricted graph `g`.
    fn reads_restricted(&self, g: &NamedNode, policy: &Policy) -> bool {
        if self.admin {
            return true;
        }
        let Some(grants) = &self.grants else {
            return false;
        };
        grants.graphs.contains(g.as_str())
            || policy
                .details
                .get(g)
                .is_some_and(|of| of.iter().any(|s| grants.subjects.contains(s)))
    }
}

/// Who sees what, derived from the configuration and the store's current content.
#[derive(Default)]
pub(super) struct Policy {
    restricted: Arc<HashSet<NamedNode>>,
    /// Named graphs that exist and are not restricted.
    visible_named: Vec<NamedOrBlankNode>,
    /// Restricted graphs that exist.
    restricted_present: Vec<NamedNode>,
    /// Detail graphs and the column and asset each describes (what grants name).
    details: HashMap<NamedNode, Vec<String>>,
}

impl Catalog {
    /// Graphs only admins and grantees may see: quarantine, configured ones, and those the
    /// catalog graph marks with `st:restricted true` (graphs holding personal data, the detail
    /// graphs of personal-data columns).
    pub fn restricted_graphs(&self) -> Result<Arc<HashSet<NamedNode>>, CatalogError> {
        Ok(Arc::clone(&self.policy()?.restricted))
    }

    /// Whether `vis` reads the named graph `g` (unrestricted, or restricted and granted).
    pub fn sees(&self, vis: &Visibility, g: &NamedNode) -> Result<bool, CatalogError> {
        let policy = self.policy()?;
        Ok(!policy.restricted.contains(g) || vis.reads_restricted(g, &policy))
    }

    /// The restricted graphs `vis` does not read, detail graphs left out: they describe
    /// columns and measurements, never the entities that search and link prediction hide, and
    /// a store holds one per column of each table about people.
    pub fn hidden_entity_graphs(
        &self,
        vis: &Visibility,
    ) -> Result<HashSet<NamedNode>, CatalogError> {
        let policy = self.policy()?;
        Ok(policy
            .restricted
            .iter()
            .filter(|g| !policy.details.contains_key(*g) && !vis.reads_restricted(g, &policy))
            .cloned()
            .collect())
    }

    /// The restricted graphs `vis` does not read (empty for admins).
    pub fn hidden_graphs(&self, vis: &Visibility) -> Result<HashSet<NamedNode>, CatalogError> {
        let policy = self.policy()?;
        Ok(policy
            .restricted
            .iter()
            .filter(|g| !vis.reads_restricted(g, &policy))
            .cloned()
            .collect())
    }

    /// Graphs only admins may change, whatever the form of the write (SPARQL Update, graph
    /// store, multipart): the restricted ones, and the system graphs — the catalog (it holds the
    /// `st:restricted` marks that decide who sees what), the ontology (it drives validation and
    /// brand resolution), the models, the change history and the quarantine. Writers keep the
    /// product graph, the default graph and graphs of their own. Grants are for reading only.
    pub fn write_protected_graphs(&self) -> Result<HashSet<NamedNode>, CatalogError> {
        let mut set: HashSet<NamedNode> = self.restricted_graphs()?.iter().cloned().collect();
        let l = &self.layout;
        for g in [
            &l.catalog,
            &l.ontology,
            &l.models,
            &l.changes,
            &l.quarantine,
        ] {
            set.insert(g.clone());
        }
        Ok(set)
    }

    /// Why a non-admin may not write `graph`, if they may not.
    pub(crate) fn write_denied(&self, graph: &NamedNode) -> Result<Option<String>, CatalogError> {
        Ok(if self.restricted_graphs()?.contains(graph) {
            Some(format!(
                "graph <{}> is restricted: only admins may change it",
                graph.as_str()
            ))
        } else if self.write_protected_graphs()?.contains(graph) {
            Some(format!(
                "graph <{}> is a system graph (access marks, ontology, models, changes or \
                 quarantine): only admins may change it",
                graph.as_str()
            ))
        } else {
            None
        })
    }

    /// The named graphs that exist and that `vis` sees, by IRI; from the cached policy, so
    /// cheap enough for every page.
    pub fn visible_graphs(&self, vis: &Visibility) -> Result<Vec<String>, CatalogError> {
        let policy = self.policy()?;
        let mut out: Vec<String> = policy
            .visible_named
            .iter()
            .filter_map(|g| match g {
                NamedOrBlankNode::NamedNode(n) => Some(n.as_str().to_owned()),
                NamedOrBlankNode::BlankNode(_) => None,
            })
            .chain(
                policy
                    .restricted_present
                    .iter()
                    .filter(|g| vis.reads_restricted(g, &policy))
                    .map(|g| g.as_str().to_owned()),
            )
            .collect();
        out.sort();
        Ok(out)
    }

    /// Removes the graphs `vis` does not read from a dataset; "all graphs" becomes "all
    /// graphs it reads". Admins keep the dataset as it is.
    pub(super) fn restrict_dataset(
        &self,
        spec: &mut QueryDataset,
        vis: &Visibility,
    ) -> Result<(), CatalogError> {
        if vis.admin {
            return Ok(());
        }
        let policy = self.policy()?;
        if policy.restricted_present.is_empty() && policy.details.is_empty() {
            // No restricted graph exists (nor is a detail graph about to: its marks are
            // written before its data), so the full dataset is already what the caller may
            // see; keeping the default dataset keeps Oxigraph on its fastest path.
            return Ok(());
        }
        let sees =
            |n: &NamedNode| !policy.restricted.contains(n) || vis.reads_restricted(n, &policy);
        let granted = policy
            .restricted_present
            .iter()
            .filter(|g| vis.reads_restricted(g, &policy))
            .cloned();
        let default = match spec.default_graph_graphs() {
            Some(graphs) => graphs
                .iter()
                .filter(|g| match g {
                    GraphName::NamedNode(n) => sees(n),
                    _ => true,
                })
                .cloned()
                .collect(),
            None => std::iter::once(GraphName::DefaultGraph)
                .chain(policy.visible_named.iter().cloned().map(GraphName::from))
                .chain(granted.clone().map(GraphName::from))
                .collect(),
        };
        let named = match spec.available_named_graphs() {
            Some(graphs) => graphs
                .iter()
                .filter(|g| match g {
                    NamedOrBlankNode::NamedNode(n) => sees(n),
                    NamedOrBlankNode::BlankNode(_) => true,
                })
                .cloned()
                .collect(),
            None => policy
                .visible_named
                .iter()
                .cloned()
                .chain(granted.map(NamedOrBlankNode::from))
                .collect(),
        };
        spec.set_default_graph(default);
        spec.set_available_named_graphs(named);
        Ok(())
    }

    /// The visibility policy for the store as it is now, recomputed only after writes.
    pub(super) fn policy(&self) -> Result<Arc<Policy>, CatalogError> {
        let generation = self.generation.load(Ordering::Acquire);
        {
            let cache = self.policy_cache.read().unwrap_or_else(|e| e.into_inner());
            if cache.0 == generation {
                return Ok(Arc::clone(&cache.1));
            }
        }
        let mut set: HashSet<NamedNode> = self.configured_restricted.iter().cloned().collect();
        set.insert(self.layout.quarantine.clone());
        let catalog = GraphNameRef::NamedNode(self.layout.catalog.as_ref());
        let flag = vocab::st("restricted");
        let yes = Term::from(Literal::from(true));
        for quad in self.store.quads_for_pattern(
            None,
            Some(flag.as_ref()),
            Some(yes.as_ref()),
            Some(catalog),
        ) {
            if let NamedOrBlankNode::NamedNode(g) = quad?.subject {
                set.insert(g);
            }
        }
        let detail_of = vocab::st("detailOf");
        let mut details: HashMap<NamedNode, Vec<String>> = HashMap::new();
        for quad in
            self.store
                .quads_for_pattern(None, Some(detail_of.as_ref()), None, Some(catalog))
        {
            let quad = quad?;
            if let (NamedOrBlankNode::NamedNode(g), Term::NamedNode(of)) =
                (quad.subject, quad.object)
            {
                // Only a restricted graph is a detail graph: a stray `st:detailOf` on any
                // other graph grants nothing it did not already show.
                if set.contains(&g) {
                    details.entry(g).or_default().push(of.into_string());
                }
            }
        }
        let mut visible_named = Vec::new();
        let mut restricted_present = Vec::new();
        for g in self.store.named_graphs() {
            let g = g?;
            match g {
                NamedOrBlankNode::NamedNode(n) if set.contains(&n) => restricted_present.push(n),
                g => visible_named.push(g),
            }
        }
        let policy = Arc::new(Policy {
            restricted: Arc::new(set),
            visible_named,
            restricted_present,
            details,
        });
        *self.policy_cache.write().unwrap_or_else(|e| e.into_inner()) =
            (generation, Arc::clone(&policy));
        Ok(policy)
    }

    /// Marks a graph as restricted (admin-only) in the catalog graph.
    pub fn mark_restricted(&self, graph: &NamedNode) -> Result<(), CatalogError> {
        self.store.insert(QuadRef::new(
            graph,
            &vocab::st("restricted"),
            &Literal::from(true),
            &self.layout.catalog,
        ))?;
        self.touched();
        Ok(())
    }
}
