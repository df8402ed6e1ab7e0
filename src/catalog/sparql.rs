//! SPARQL evaluation under the visibility policy, with limits.
//!
//! Every query and update is parsed here, its dataset is rewritten so that restricted graphs do
//! not exist for non-admins (whatever form the query takes: default graph, `GRAPH ?g`, `FROM`,
//! `FROM NAMED`, protocol dataset parameters), and it is evaluated with a cancellation token so a
//! timeout really stops the work. Results are serialized here too, with a row cap, so callers get
//! bytes and a media type back.

use std::collections::HashSet;

use oxigraph::io::RdfSerializer;
use oxigraph::model::{GraphName, NamedNode, NamedOrBlankNode, Term, Variable};
use oxigraph::sparql::results::QueryResultsSerializer;
use oxigraph::sparql::{
    CancellationToken, PreparedSparqlQuery, PreparedSparqlUpdate, QueryDataset,
    QueryEvaluationError, QueryResults, SparqlEvaluator,
};
use spargebra::term::GraphNamePattern;
use spargebra::{GraphUpdateOperation, SparqlParser};

use super::vocab::PREFIXES;
use super::{Catalog, CatalogError, GraphFormat, ResultsFormat, Visibility};

/// The four query forms; they decide which formats a response may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryForm {
    Select,
    Ask,
    Construct,
    Describe,
}

impl QueryForm {
    /// CONSTRUCT and DESCRIBE return graphs; SELECT and ASK return results.
    pub fn returns_graph(self) -> bool {
        matches!(self, Self::Construct | Self::Describe)
    }
}

/// Dataset given by protocol parameters (`default-graph-uri`/`named-graph-uri`, or the `using-`
/// variants for updates). When non-empty it replaces the dataset written in the query.
#[derive(Debug, Clone, Default)]
pub struct DatasetRequest {
    pub default_graphs: Vec<String>,
    pub named_graphs: Vec<String>,
}

impl DatasetRequest {
    /// Whether no protocol dataset was given.
    pub fn is_empty(&self) -> bool {
        self.default_graphs.is_empty() && self.named_graphs.is_empty()
    }
}

/// Per-request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most solutions or triples serialized; more are cut and the result flagged as truncated.
    pub max_rows: usize,
    /// Reported in the timeout message.
    pub timeout_secs: u64,
    /// Longest string one SPARQL function (`CONCAT`, `REPLACE`, `GROUP_CONCAT`, ...) may build.
    pub max_string_bytes: usize,
    /// Bytes all string functions of one evaluation may build together.
    pub string_budget_bytes: usize,
}

impl Limits {
    /// No row cap, no timeout, no string bounds (the operator's own CLI queries).
    pub fn unbounded() -> Self {
        Self {
            max_rows: usize::MAX,
            timeout_secs: 0,
            max_string_bytes: usize::MAX,
            string_budget_bytes: usize::MAX,
        }
    }

    /// Bounds the strings of evaluations on this thread while the guard lives.
    fn strings(&self) -> spareval::limits::StringLimits {
        spareval::limits::StringLimits::new(self.max_string_bytes, self.string_budget_bytes)
    }

    /// The error for an evaluation that stopped: past the string bounds, or cancelled at the
    /// deadline.
    fn stopped(&self) -> CatalogError {
        if spareval::limits::exceeded() {
            CatalogError::ResourceLimit(format!(
                "the query builds strings beyond this server's bounds (at most {} bytes per \
                 string and {} bytes in all per request; [server] max_string_bytes and \
                 string_budget_bytes): it was stopped",
                self.max_string_bytes, self.string_budget_bytes
            ))
        } else {
            CatalogError::Timeout(self.timeout_secs)
        }
    }
}

/// Cancels an evaluation from another thread (used by the HTTP timeout).
#[derive(Clone, Default)]
pub struct CancelToken(CancellationToken);

impl CancelToken {
    pub fn new() -> Self {
        Self(CancellationToken::new())
    }

    /// Makes the evaluation stop at its next check.
    pub fn cancel(&self) {
        self.0.cancel();
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// A parsed query whose dataset already obeys the caller's visibility.
pub struct PreparedQuery {
    form: QueryForm,
    inner: PreparedSparqlQuery,
}

impl PreparedQuery {
    /// A SELECT the catalog's own readers prepared (see `rows`).
    pub(super) fn trusted(inner: PreparedSparqlQuery) -> Self {
        PreparedQuery {
            form: QueryForm::Select,
            inner,
        }
    }

    pub(super) fn into_inner(self) -> PreparedSparqlQuery {
        self.inner
    }

    /// The query form.
    pub fn form(&self) -> QueryForm {
        self.form
    }

    /// Binds `?name` to a term before evaluation (named-query parameters). The term is an RDF
    /// term object, never spliced into the text.
    pub(crate) fn bind(mut self, name: &str, term: Term) -> Result<Self, CatalogError> {
        let var = Variable::new(name)
            .map_err(|e| CatalogError::Invalid(format!("invalid variable ?{name}: {e}")))?;
        self.inner = self.inner.substitute_variable(var, term);
        Ok(self)
    }
}

/// A parsed update that passed the policy checks.
pub struct PreparedUpdate {
    inner: PreparedSparqlUpdate,
}

/// A serialized response body.
#[derive(Debug)]
pub struct Serialized {
    pub body: Vec<u8>,
    pub media_type: &'static str,
    /// Solutions or triples written.
    pub rows: usize,
    /// Whether the row cap cut the result.
    pub truncated: bool,
}

/// Output format for a query: results or graph, chosen by the caller from the query form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Results(ResultsFormat),
    Graph(GraphFormat),
}

fn parser(base_iri: Option<&str>) -> Result<SparqlParser, CatalogError> {
    let mut parser = SparqlParser::new();
    if let Some(base) = base_iri {
        parser = parser
            .with_base_iri(base)
            .map_err(|e| CatalogError::InvalidIri(format!("base IRI '{base}': {e}")))?;
    }
    Ok(parser)
}

fn parse_graph_list(iris: &[String]) -> Result<Vec<NamedNode>, CatalogError> {
    iris.iter()
        .map(|i| NamedNode::new(i).map_err(|e| CatalogError::InvalidIri(format!("'{i}': {e}"))))
        .collect()
}

impl Catalog {
    /// Parses a query and fits its dataset to what the caller may see.
    pub fn prepare_query(
        &self,
        text: &str,
        base_iri: Option<&str>,
        dataset: &DatasetRequest,
        vis: &Visibility,
        union_default_graph: bool,
        cancel: &CancelToken,
    ) -> Result<PreparedQuery, CatalogError> {
        let query = parser(base_iri)?
            .parse_query(text)
            .map_err(|e| CatalogError::Syntax(format!("SPARQL syntax error: {e}")))?;
        self.prepare_parsed(query, dataset, vis, union_default_graph, cancel)
    }

    /// Like [`Catalog::prepare_query`] for an already parsed (and possibly rewritten) query.
    pub(crate) fn prepare_parsed(
        &self,
        query: spargebra::Query,
        dataset: &DatasetRequest,
        vis: &Visibility,
        union_default_graph: bool,
        cancel: &CancelToken,
    ) -> Result<PreparedQuery, CatalogError> {
        let form = match &query {
            spargebra::Query::Select { .. } => QueryForm::Select,
            spargebra::Query::Ask { .. } => QueryForm::Ask,
            spargebra::Query::Construct { .. } => QueryForm::Construct,
            spargebra::Query::Describe { .. } => QueryForm::Describe,
        };
        let reads_named = super::bind::reads_named_graphs(&query);
        let mut inner = SparqlEvaluator::new()
            .with_cancellation_token(cancel.0.clone())
            .for_query(query);
        let spec = inner.dataset_mut();
        if !dataset.is_empty() {
            // Protocol parameters override FROM/FROM NAMED (SPARQL 1.1 Protocol §2.1.4); a dataset
            // given with only one of the two lists has an empty other part.
            set_dataset(spec, dataset)?;
        } else if union_default_graph && spec.is_default_dataset() {
            spec.set_default_graph_as_union();
        }
        // A query on the default dataset without any GRAPH pattern reads only the store's default
        // graph, which is never restricted: it can keep Oxigraph's fastest path.
        if !vis.is_admin() && (reads_named || !spec.is_default_dataset()) {
            self.restrict_dataset(spec, vis)?;
        }
        Ok(PreparedQuery { form, inner })
    }

    /// Evaluates a prepared query and serializes at most `limits.max_rows` rows.
    pub fn execute_query(
        &self,
        query: PreparedQuery,
        format: OutputFormat,
        limits: Limits,
    ) -> Result<Serialized, CatalogError> {
        let _strings = limits.strings();
        let result = self.evaluate_and_serialize(query, format, limits);
        // A function past a bound is an error (unbound) where it happened: an ASK, an EXISTS
        // or a result cut at the row cap may have finished without meeting the next check, but
        // its answer may be wrong, so it is not given.
        if spareval::limits::exceeded() {
            return Err(limits.stopped());
        }
        result
    }

    fn evaluate_and_serialize(
        &self,
        query: PreparedQuery,
        format: OutputFormat,
        limits: Limits,
    ) -> Result<Serialized, CatalogError> {
        let eval_err = |e: QueryEvaluationError| match e {
            QueryEvaluationError::Cancelled => limits.stopped(),
            other => CatalogError::Evaluation(other.to_string()),
        };
        let results = query
            .inner
            .on_store(&self.store)
            .execute()
            .map_err(eval_err)?;
        let io = |e: std::io::Error| CatalogError::Evaluation(format!("serialization: {e}"));
        match (results, format) {
            (QueryResults::Boolean(b), OutputFormat::Results(f)) => {
                let body = QueryResultsSerializer::from_format(f.inner())
                    .serialize_boolean_to_writer(Vec::new(), b)
                    .map_err(io)?;
                Ok(Serialized {
                    body,
                    media_type: f.media_type(),
                    rows: 1,
                    truncated: false,
                })
            }
            (QueryResults::Solutions(solutions), OutputFormat::Results(f)) => {
                let mut writer = QueryResultsSerializer::from_format(f.inner())
                    .serialize_solutions_to_writer(
                        Vec::with_capacity(4096),
                        solutions.variables().to_vec(),
                    )
                    .map_err(io)?;
                let (rows, truncated) = capped(solutions, limits.max_rows, eval_err, |s| {
                    writer.serialize(&s).map_err(io)
                })?;
                Ok(Serialized {
                    body: writer.finish().map_err(io)?,
                    media_type: f.media_type(),
                    rows,
                    truncated,
                })
            }
            (QueryResults::Graph(triples), OutputFormat::Graph(f)) => {
                let mut serializer = RdfSerializer::from_format(f.inner());
                if matches!(f, GraphFormat::Turtle | GraphFormat::TriG) {
                    for (p, iri) in PREFIXES {
                        serializer = serializer
                            .with_prefix(*p, *iri)
                            .map_err(|e| CatalogError::InvalidIri(e.to_string()))?;
                    }
                }
                let mut writer = serializer.for_writer(Vec::with_capacity(4096));
                let (rows, truncated) = capped(triples, limits.max_rows, eval_err, |t| {
                    writer.serialize_triple(&t).map_err(io)
                })?;
                Ok(Serialized {
                    body: writer.finish().map_err(io)?,
                    media_type: f.media_type(),
                    rows,
                    truncated,
                })
            }
            (_, format) => Err(CatalogError::UnsupportedFormat(format!(
                "{format:?} does not fit this query form"
            ))),
        }
    }

    /// Parses an update and checks it against the caller's rights.
    ///
    /// Non-admins may not touch restricted graphs: operations naming one are refused, `CLEAR` /
    /// `DROP` of `ALL` or `NAMED` are refused (they would reach restricted graphs), and a template
    /// with a variable graph name is refused because its target is only known during evaluation.
    /// `WHERE` clauses only see the graphs every reader sees (grants are for reading, not for
    /// copying restricted data elsewhere).
    pub fn prepare_update(
        &self,
        text: &str,
        base_iri: Option<&str>,
        using: &DatasetRequest,
        vis: &Visibility,
        cancel: &CancelToken,
    ) -> Result<PreparedUpdate, CatalogError> {
        let update = parser(base_iri)?
            .parse_update(text)
            .map_err(|e| CatalogError::Syntax(format!("SPARQL syntax error: {e}")))?;
        if !using.is_empty() {
            let has_own = update.operations.iter().any(|op| {
                matches!(
                    op,
                    GraphUpdateOperation::DeleteInsert { using: Some(_), .. }
                )
            });
            if has_own {
                return Err(CatalogError::Invalid(
                    "using-graph-uri/using-named-graph-uri cannot be combined with USING, \
                     USING NAMED or WITH in the update (SPARQL 1.1 Protocol §2.2.3)"
                        .into(),
                ));
            }
        }
        if !vis.is_admin() {
            let protected = self.write_protected_graphs()?;
            check_update_targets(&update, &protected)
                .map_err(|g| match self.write_denied(&g) {
                    Ok(Some(why)) => CatalogError::NotAllowed(why),
                    Ok(None) => CatalogError::NotAllowed(format!(
                        "only admins may change graph <{}>",
                        g.as_str()
                    )),
                    Err(e) => e,
                })
                .and_then(|r| r)?;
        }
        let mut inner = SparqlEvaluator::new()
            .with_cancellation_token(cancel.0.clone())
            .for_update(update);
        // An update's WHERE reads as the public view for every non-admin: a grant lets its
        // holder read a graph, never copy it into graphs others read.
        let read = if vis.is_admin() {
            Visibility::ADMIN
        } else {
            Visibility::PUBLIC
        };
        for spec in inner.using_datasets_mut() {
            if !using.is_empty() {
                set_dataset(spec, using)?;
            }
            self.restrict_dataset(spec, &read)?;
        }
        Ok(PreparedUpdate { inner })
    }

    /// Runs a prepared update in one transaction.
    pub fn execute_update(
        &self,
        update: PreparedUpdate,
        limits: Limits,
    ) -> Result<(), CatalogError> {
        let _strings = limits.strings();
        let result = update.inner.on_store(&self.store).execute();
        self.touched();
        result.map_err(|e| {
            let msg = e.to_string();
            if msg.to_ascii_lowercase().contains("cancel") {
                limits.stopped()
            } else {
                CatalogError::Evaluation(msg)
            }
        })
    }
}

/// Checks an update's write targets against `protected` (graphs only admins may change).
/// `Err(graph)` names a protected target; `Ok(Err(..))` a form only admins may use.
fn check_update_targets(
    update: &spargebra::Update,
    protected: &HashSet<NamedNode>,
) -> Result<Result<(), CatalogError>, NamedNode> {
    let deny = |g: &NamedNode| -> Result<(), NamedNode> {
        if protected.contains(g) {
            Err(g.clone())
        } else {
            Ok(())
        }
    };
    let data_graph = |g: &spargebra::term::GraphName| match g {
        spargebra::term::GraphName::NamedNode(n) => deny(n),
        spargebra::term::GraphName::DefaultGraph => Ok(()),
    };
    for op in &update.operations {
        match op {
            GraphUpdateOperation::InsertData { data } => {
                for q in data {
                    data_graph(&q.graph_name)?;
                }
            }
            GraphUpdateOperation::DeleteData { data } => {
                for q in data {
                    data_graph(&q.graph_name)?;
                }
            }
            GraphUpdateOperation::DeleteInsert { delete, insert, .. } => {
                let graphs = delete
                    .iter()
                    .map(|q| &q.graph_name)
                    .chain(insert.iter().map(|q| &q.graph_name));
                for g in graphs {
                    match g {
                        GraphNamePattern::NamedNode(n) => deny(n)?,
                        GraphNamePattern::Variable(v) => {
                            return Ok(Err(CatalogError::NotAllowed(format!(
                                "update templates with a variable graph name (GRAPH ?{}) need \
                                 the admin role, because their target graphs are only known \
                                 during evaluation",
                                v.as_str()
                            ))))
                        }
                        GraphNamePattern::DefaultGraph => {}
                    }
                }
            }
            GraphUpdateOperation::Load { destination, .. } => data_graph(destination)?,
            GraphUpdateOperation::Clear { graph, .. }
            | GraphUpdateOperation::Drop { graph, .. } => match graph {
                spargebra::algebra::GraphTarget::NamedNode(n) => deny(n)?,
                spargebra::algebra::GraphTarget::NamedGraphs
                | spargebra::algebra::GraphTarget::AllGraphs => {
                    return Ok(Err(CatalogError::NotAllowed(
                        "CLEAR/DROP of ALL or NAMED graphs needs the admin role; name the graphs \
                         instead"
                            .into(),
                    )))
                }
                spargebra::algebra::GraphTarget::DefaultGraph => {}
            },
            GraphUpdateOperation::Create { graph, .. } => deny(graph)?,
        }
    }
    Ok(Ok(()))
}

/// Writes up to `max` items of an evaluation's output through `write`: how many were written,
/// and whether more were left (the response says it was cut).
fn capped<T>(
    items: impl Iterator<Item = Result<T, QueryEvaluationError>>,
    max: usize,
    failed: impl Fn(QueryEvaluationError) -> CatalogError,
    mut write: impl FnMut(T) -> Result<(), CatalogError>,
) -> Result<(usize, bool), CatalogError> {
    let mut rows = 0;
    for item in items {
        let item = item.map_err(&failed)?;
        if rows == max {
            return Ok((rows, true));
        }
        write(item)?;
        rows += 1;
    }
    Ok((rows, false))
}

/// The dataset a request names (protocol parameters or `USING`): its default graphs and its
/// named graphs, each list replacing what the query text said.
fn set_dataset(spec: &mut QueryDataset, request: &DatasetRequest) -> Result<(), CatalogError> {
    spec.set_default_graph(
        parse_graph_list(&request.default_graphs)?
            .into_iter()
            .map(GraphName::from)
            .collect(),
    );
    spec.set_available_named_graphs(
        parse_graph_list(&request.named_graphs)?
            .into_iter()
            .map(NamedOrBlankNode::from)
            .collect(),
    );
    Ok(())
}
