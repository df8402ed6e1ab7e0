//! Whole-graph operations: the Graph Store Protocol's GET/PUT/POST/DELETE, bulk loading and dumps.
//!
//! Reads of restricted graphs by non-admins behave as if the graph did not exist (the caller
//! cannot even learn that it is there); writes to them are refused outright. PUT and POST are
//! transactional so a body that fails to parse halfway leaves the graph untouched.

use std::io::{Read, Write};

use oxigraph::io::{RdfParser, RdfSerializer};
use oxigraph::model::{GraphName, GraphNameRef, NamedNode, NamedOrBlankNode};
use oxigraph::store::LoaderError;

use super::vocab::PREFIXES;
use super::{Catalog, CatalogError, GraphFormat, Serialized, Visibility};

/// The graph a graph-store request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphTarget {
    /// `?default`
    Default,
    /// `?graph=IRI`
    Named(String),
}

/// What a bulk load did.
#[derive(Debug, Clone, Copy)]
pub struct LoadStats {
    /// Quads parsed from the input (duplicates of stored quads included).
    pub parsed: u64,
}

fn loader_err(e: LoaderError) -> CatalogError {
    match e {
        LoaderError::Parsing(p) => CatalogError::RdfSyntax(p.to_string()),
        LoaderError::Storage(s) => CatalogError::Storage(s),
        other => CatalogError::Invalid(other.to_string()),
    }
}

impl Catalog {
    fn graph_name(&self, target: &GraphTarget) -> Result<GraphName, CatalogError> {
        Ok(match target {
            GraphTarget::Default => GraphName::DefaultGraph,
            GraphTarget::Named(iri) => GraphName::NamedNode(
                NamedNode::new(iri)
                    .map_err(|e| CatalogError::InvalidIri(format!("'{iri}': {e}")))?,
            ),
        })
    }

    fn writable(&self, target: &GraphTarget, vis: &Visibility) -> Result<GraphName, CatalogError> {
        let g = self.graph_name(target)?;
        if let (false, GraphName::NamedNode(n)) = (vis.is_admin(), &g) {
            if let Some(why) = self.write_denied(n)? {
                return Err(CatalogError::NotAllowed(why));
            }
        }
        Ok(g)
    }

    /// Whether the graph exists and the caller may see it.
    pub fn graph_exists(
        &self,
        target: &GraphTarget,
        vis: &Visibility,
    ) -> Result<bool, CatalogError> {
        let g = self.graph_name(target)?;
        if let GraphName::NamedNode(n) = &g {
            if !self.sees(vis, n)? {
                return Ok(false);
            }
        }
        Ok(match &g {
            GraphName::DefaultGraph => true,
            GraphName::NamedNode(n) => self.store.contains_named_graph(n)?,
            GraphName::BlankNode(b) => self.store.contains_named_graph(b)?,
        })
    }

    fn not_found(target: &GraphTarget) -> CatalogError {
        match target {
            GraphTarget::Default => CatalogError::NotFound("default graph".into()),
            GraphTarget::Named(iri) => CatalogError::NotFound(format!("no graph <{iri}>")),
        }
    }

    /// Serializes one graph (GSP GET); a graph of more than `limits.max_rows` triples is
    /// refused rather than cut (a client that writes back what it read would lose the rest);
    /// stops with a timeout once `cancel` fires.
    pub fn read_graph(
        &self,
        target: &GraphTarget,
        format: GraphFormat,
        vis: &Visibility,
        limits: super::Limits,
        cancel: &super::CancelToken,
    ) -> Result<Serialized, CatalogError> {
        if !self.graph_exists(target, vis)? {
            return Err(Self::not_found(target));
        }
        let g = self.graph_name(target)?;
        let mut writer = serializer(format)?.for_writer(Vec::new());
        let mut rows = 0;
        for quad in self
            .store
            .quads_for_pattern(None, None, None, Some(g.as_ref()))
        {
            if rows == limits.max_rows {
                return Err(CatalogError::ResourceLimit(format!(
                    "graph {g} holds more than {rows} triples, the most one graph read returns \
                     ([server] max_result_rows); query it with SPARQL (LIMIT/OFFSET) or ask an \
                     admin for a dump"
                )));
            }
            if rows % 4096 == 0 && cancel.is_cancelled() {
                return Err(CatalogError::Timeout(limits.timeout_secs));
            }
            let quad = quad?;
            writer
                .serialize_triple(quad.as_ref())
                .map_err(|e| CatalogError::Evaluation(e.to_string()))?;
            rows += 1;
        }
        Ok(Serialized {
            body: writer
                .finish()
                .map_err(|e| CatalogError::Evaluation(e.to_string()))?,
            media_type: format.media_type(),
            rows,
            truncated: false,
        })
    }

    /// Replaces a graph's content (GSP PUT). Returns whether the graph was created.
    pub fn replace_graph(
        &self,
        target: &GraphTarget,
        data: &[u8],
        format: GraphFormat,
        base_iri: Option<&str>,
        vis: &Visibility,
    ) -> Result<bool, CatalogError> {
        self.write_graph(target, &[(data, format)], base_iri, vis, true)
    }

    /// Adds triples to a graph (GSP POST). Returns whether the graph was created.
    pub fn add_to_graph(
        &self,
        target: &GraphTarget,
        data: &[u8],
        format: GraphFormat,
        base_iri: Option<&str>,
        vis: &Visibility,
    ) -> Result<bool, CatalogError> {
        self.write_graph(target, &[(data, format)], base_iri, vis, false)
    }

    /// Writes several RDF documents (the parts of a multipart GSP request) into one graph in
    /// one transaction: all of them or, if any fails to parse, none. `replace` clears the graph
    /// first (PUT), otherwise the documents are merged into it (POST). Returns whether the
    /// graph was created.
    pub fn write_graph(
        &self,
        target: &GraphTarget,
        documents: &[(impl AsRef<[u8]>, GraphFormat)],
        base_iri: Option<&str>,
        vis: &Visibility,
        replace: bool,
    ) -> Result<bool, CatalogError> {
        let g = self.writable(target, vis)?;
        let existed = self.graph_exists(target, &Visibility::ADMIN)?;
        let mut tx = self.store.start_transaction()?;
        if replace {
            tx.clear_graph(g.as_ref())?;
        }
        if let GraphName::NamedNode(n) = &g {
            tx.insert_named_graph(n);
        }
        for (data, format) in documents {
            let mut parser = RdfParser::from_format(format.inner())
                .with_default_graph(g.clone())
                .without_named_graphs();
            if let Some(base) = base_iri {
                parser = parser
                    .with_base_iri(base)
                    .map_err(|e| CatalogError::InvalidIri(format!("base IRI '{base}': {e}")))?;
            }
            tx.load_from_slice(parser, data.as_ref())
                .map_err(loader_err)?;
        }
        tx.commit()?;
        self.touched();
        Ok(!existed)
    }

    /// Adds a whole dataset (quads in several graphs) transactionally; refuses restricted
    /// graphs for non-admins. Used by POST to the graph store without a target.
    pub fn add_dataset(
        &self,
        data: &[u8],
        format: GraphFormat,
        base_iri: Option<&str>,
        vis: &Visibility,
    ) -> Result<usize, CatalogError> {
        let mut parser = RdfParser::from_format(format.inner());
        if let Some(base) = base_iri {
            parser = parser
                .with_base_iri(base)
                .map_err(|e| CatalogError::InvalidIri(format!("base IRI '{base}': {e}")))?;
        }
        let protected = self.write_protected_graphs()?;
        let mut tx = self.store.start_transaction()?;
        let mut n = 0;
        for quad in parser.rename_blank_nodes().for_slice(data) {
            let quad = quad.map_err(|e| CatalogError::RdfSyntax(e.to_string()))?;
            if let GraphName::NamedNode(g) = &quad.graph_name {
                if !vis.is_admin() && protected.contains(g) {
                    let why = self.write_denied(g)?.unwrap_or_default();
                    return Err(CatalogError::NotAllowed(why));
                }
            }
            tx.insert(quad.as_ref());
            n += 1;
        }
        tx.commit()?;
        self.touched();
        Ok(n)
    }

    /// Creates a new graph with a fresh IRI under the base from a POST to the graph store
    /// itself (GSP §5.5). Returns the new graph's IRI.
    pub fn create_graph(
        &self,
        documents: &[(impl AsRef<[u8]>, GraphFormat)],
        base_iri: Option<&str>,
    ) -> Result<String, CatalogError> {
        let mut bytes = [0u8; 12];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
        let iri = format!("{}graph/posted/{}", self.layout.base(), hex::encode(bytes));
        // Fresh IRIs under our base are never restricted, so no admin check is needed.
        self.write_graph(
            &GraphTarget::Named(iri.clone()),
            documents,
            base_iri,
            &Visibility::ADMIN,
            false,
        )?;
        Ok(iri)
    }

    /// Deletes a graph (GSP DELETE); `NotFound` when it does not exist.
    pub fn delete_graph(&self, target: &GraphTarget, vis: &Visibility) -> Result<(), CatalogError> {
        let g = self.writable(target, vis)?;
        if !self.graph_exists(target, &Visibility::ADMIN)? {
            return Err(Self::not_found(target));
        }
        match &g {
            GraphName::DefaultGraph => self.store.clear_graph(GraphNameRef::DefaultGraph)?,
            GraphName::NamedNode(n) => self.store.remove_named_graph(n)?,
            GraphName::BlankNode(b) => self.store.remove_named_graph(b)?,
        }
        self.touched();
        Ok(())
    }

    /// Streams the store (or one graph) to `out`; non-admins never get restricted graphs.
    /// Returns the number of quads written.
    pub fn dump(
        &self,
        graph: Option<&GraphTarget>,
        format: GraphFormat,
        vis: &Visibility,
        out: impl Write,
    ) -> Result<usize, CatalogError> {
        let io = |e: std::io::Error| CatalogError::Io {
            path: "dump output".into(),
            source: e,
        };
        let hidden = self.hidden_graphs(vis)?;
        let mut writer = serializer(format)?.for_writer(out);
        let mut n = 0;
        match graph {
            Some(target) => {
                if !self.graph_exists(target, vis)? {
                    return Err(Self::not_found(target));
                }
                let g = self.graph_name(target)?;
                for quad in self
                    .store
                    .quads_for_pattern(None, None, None, Some(g.as_ref()))
                {
                    writer.serialize_triple(quad?.as_ref()).map_err(io)?;
                    n += 1;
                }
            }
            None => {
                if !format.supports_datasets() {
                    return Err(CatalogError::UnsupportedFormat(format!(
                        "{} cannot hold named graphs; dump a dataset as N-Quads, TriG or \
                         JSON-LD, or name one graph",
                        format.media_type()
                    )));
                }
                for quad in self.store.iter() {
                    let quad = quad?;
                    if let GraphName::NamedNode(g) = &quad.graph_name {
                        if hidden.contains(g) {
                            continue;
                        }
                    }
                    writer.serialize_quad(quad.as_ref()).map_err(io)?;
                    n += 1;
                }
            }
        }
        writer.finish().map_err(io)?;
        Ok(n)
    }

    /// Bulk-loads RDF from a reader (CLI `load`): fast, not one transaction, reports progress
    /// (quads parsed so far) through `progress`.
    pub fn bulk_load(
        &self,
        reader: impl Read,
        format: GraphFormat,
        graph: Option<&GraphTarget>,
        base_iri: Option<&str>,
        progress: impl Fn(u64),
    ) -> Result<LoadStats, CatalogError> {
        let mut parser = RdfParser::from_format(format.inner());
        if let Some(target) = graph {
            let g = self.graph_name(target)?;
            parser = parser.with_default_graph(g.clone());
            if let GraphName::NamedNode(n) = &g {
                self.store.insert_named_graph(n)?;
            }
        }
        if let Some(base) = base_iri {
            parser = parser
                .with_base_iri(base)
                .map_err(|e| CatalogError::InvalidIri(format!("base IRI '{base}': {e}")))?;
        }
        let mut parsed = 0u64;
        let quads = parser.rename_blank_nodes().for_reader(reader).inspect(|_| {
            parsed += 1;
            if parsed.is_multiple_of(100_000) {
                progress(parsed);
            }
        });
        let mut loader = self.store.bulk_loader();
        loader
            .load_ok_quads::<_, LoaderError>(quads)
            .map_err(loader_err)?;
        loader.commit()?;
        self.touched();
        progress(parsed);
        Ok(LoadStats { parsed })
    }

    /// Named graphs the caller may see, with their sizes.
    pub fn list_graphs(&self, vis: &Visibility) -> Result<Vec<(String, usize)>, CatalogError> {
        let hidden = self.hidden_graphs(vis)?;
        let mut out = Vec::new();
        for g in self.store.named_graphs() {
            let g = g?;
            if let NamedOrBlankNode::NamedNode(n) = &g {
                if hidden.contains(n) {
                    continue;
                }
                let size = self
                    .store
                    .quads_for_pattern(None, None, None, Some(n.into()))
                    .count();
                out.push((n.as_str().to_owned(), size));
            }
        }
        Ok(out)
    }
}

fn serializer(format: GraphFormat) -> Result<RdfSerializer, CatalogError> {
    let mut s = RdfSerializer::from_format(format.inner());
    if matches!(format, GraphFormat::Turtle | GraphFormat::TriG) {
        for (p, iri) in PREFIXES {
            s = s
                .with_prefix(*p, *iri)
                .map_err(|e| CatalogError::InvalidIri(e.to_string()))?;
        }
    }
    Ok(s)
}
