//! An ontology as its maintainers keep it: a folder (or a list) of RDF files, read into memory
//! with every file's own graph kept, so that a check can say which file and line a term comes
//! from, and a parse error is reported with its file, line and column instead of stopping at
//! the first bad file.
//!
//! Turtle is the maintainers' format (`*.ttl`, and `*.shacl` as schema.org ships its shapes);
//! N-Triples, RDF/XML and JSON-LD files are read too, so a published vocabulary can be checked
//! as it comes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::{Graph, NamedNodeRef, NamedOrBlankNodeRef, TermRef, Triple};
use serde::Serialize;

use super::super::CatalogError;

/// One file of the ontology, parsed.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    text: String,
    pub graph: Graph,
    /// `@prefix`/`PREFIX` declarations of a Turtle file, for finding a term's line.
    prefixes: Vec<(String, String)>,
    /// Each IRI written in the text and the first line it is on, worked out when first asked.
    lines: std::sync::OnceLock<HashMap<String, usize>>,
}

/// A file that does not parse: where and why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ParseProblem {
    pub file: String,
    /// 1-based, when the parser knows it.
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for ParseProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// The files of an ontology: those that parsed (strictly, or leniently despite a problem), and
/// the problems of those that did not parse strictly.
#[derive(Debug, Default)]
pub struct OntologySource {
    pub files: Vec<SourceFile>,
    pub problems: Vec<ParseProblem>,
}

/// The RDF format of an ontology file by its extension; `None` for files that are not RDF.
pub fn format_of(path: &Path) -> Option<RdfFormat> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "ttl" | "turtle" | "shacl" => Some(RdfFormat::Turtle),
        "nt" => Some(RdfFormat::NTriples),
        "rdf" | "owl" | "xml" => Some(RdfFormat::RdfXml),
        "jsonld" => Some(RdfFormat::JsonLd {
            profile: oxigraph::io::JsonLdProfileSet::empty(),
        }),
        _ => None,
    }
}

impl OntologySource {
    /// Reads every RDF file in the folders (not recursing) and every file named, in name order.
    /// Only a path that cannot be read at all is an error; files that do not parse are kept as
    /// problems.
    pub fn read(paths: &[PathBuf]) -> Result<OntologySource, CatalogError> {
        let mut list = Vec::new();
        for p in paths {
            let meta = std::fs::metadata(p).map_err(|e| CatalogError::io(p, e))?;
            if meta.is_dir() {
                let mut found = Vec::new();
                for entry in std::fs::read_dir(p).map_err(|e| CatalogError::io(p, e))? {
                    let path = entry.map_err(|e| CatalogError::io(p, e))?.path();
                    if path.is_file() && format_of(&path).is_some() {
                        found.push(path);
                    }
                }
                found.sort();
                list.extend(found);
            } else {
                list.push(p.clone());
            }
        }
        let mut source = OntologySource::default();
        for path in list {
            let bytes = std::fs::read(&path).map_err(|e| CatalogError::io(&path, e))?;
            let (file, problem) = parse_file(&path, bytes);
            source.files.extend(file);
            source.problems.extend(problem);
        }
        Ok(source)
    }

    /// Parses in-memory files (name, Turtle text), as the HTTP face receives them.
    pub fn from_texts(texts: &[(String, String)]) -> OntologySource {
        let mut source = OntologySource::default();
        for (name, text) in texts {
            let (file, problem) = parse_file(Path::new(name), text.clone().into_bytes());
            source.files.extend(file);
            source.problems.extend(problem);
        }
        source
    }

    /// A graph already in memory (the ontology as loaded in the store) as a one-file source.
    pub fn from_graph(name: &str, graph: Graph) -> OntologySource {
        OntologySource {
            files: vec![SourceFile {
                path: PathBuf::from(name),
                text: String::new(),
                graph,
                prefixes: Vec::new(),
                lines: std::sync::OnceLock::new(),
            }],
            problems: Vec::new(),
        }
    }

    /// All files' triples as one graph.
    pub fn union(&self) -> Graph {
        let mut g = Graph::new();
        for f in &self.files {
            g.extend(f.graph.iter());
        }
        g
    }

    /// The prefixes the Turtle files declare (the first file to declare one wins).
    pub fn prefixes(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for f in &self.files {
            for (p, ns) in &f.prefixes {
                if !out.iter().any(|(q, _)| q == p) {
                    out.push((p.clone(), ns.clone()));
                }
            }
        }
        out
    }

    /// Triples in all files (counted once per file).
    pub fn triples(&self) -> usize {
        self.files.iter().map(|f| f.graph.len()).sum()
    }

    /// `file:line` where a term is described (first as a subject, else first mentioned).
    pub fn locate(&self, iri: &str) -> Option<String> {
        let node = NamedNodeRef::new(iri).ok()?;
        let as_subject = self.files.iter().find(|f| {
            f.graph
                .triples_for_subject(NamedOrBlankNodeRef::NamedNode(node))
                .next()
                .is_some()
        });
        let mentioned = || {
            self.files.iter().find(|f| {
                f.graph
                    .triples_for_object(TermRef::NamedNode(node))
                    .next()
                    .is_some()
                    || f.graph.triples_for_predicate(node).next().is_some()
            })
        };
        let f = as_subject.or_else(mentioned)?;
        let name = f.path.display().to_string();
        Some(match f.line_of(iri) {
            Some(line) => format!("{name}:{line}"),
            None => name,
        })
    }
}

impl SourceFile {
    /// The first line on which the term is written (as `<iri>` or a prefixed name), 1-based.
    fn line_of(&self, iri: &str) -> Option<usize> {
        self.lines
            .get_or_init(|| first_lines(&self.text, &self.prefixes))
            .get(iri)
            .copied()
    }
}

/// Every IRI a Turtle text writes (in full or prefixed) with the first line it is on: one pass,
/// so that locating thousands of findings in a large thesaurus stays linear.
fn first_lines(text: &str, prefixes: &[(String, String)]) -> HashMap<String, usize> {
    let mut out: HashMap<String, usize> = HashMap::new();
    let delimiter = |c: char| c.is_whitespace() || ";,()[]{}\"'<>^".contains(c);
    let mut in_long_string = false;
    for (no, line) in text.lines().enumerate() {
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if in_long_string {
                if line[i..].starts_with("\"\"\"") || line[i..].starts_with("'''") {
                    in_long_string = false;
                    chars.nth(1);
                }
                continue;
            }
            match c {
                '#' => break,
                '"' | '\'' => {
                    if line[i..].starts_with("\"\"\"") || line[i..].starts_with("'''") {
                        in_long_string = true;
                        chars.nth(1);
                        continue;
                    }
                    // Skip a short string to its closing quote.
                    let mut escaped = false;
                    for (_, d) in chars.by_ref() {
                        if escaped {
                            escaped = false;
                        } else if d == '\\' {
                            escaped = true;
                        } else if d == c {
                            break;
                        }
                    }
                }
                '<' => {
                    let rest = &line[i + 1..];
                    if let Some(end) = rest.find('>') {
                        out.entry(rest[..end].to_string()).or_insert(no + 1);
                        for _ in 0..rest[..end].chars().count() + 1 {
                            chars.next();
                        }
                    }
                }
                c if !delimiter(c) => {
                    let start = i;
                    let mut end = i + c.len_utf8();
                    while let Some(&(j, d)) = chars.peek() {
                        if delimiter(d) {
                            break;
                        }
                        end = j + d.len_utf8();
                        chars.next();
                    }
                    let token = line[start..end].trim_end_matches('.');
                    if let Some((p, local)) = token.split_once(':') {
                        if let Some((_, ns)) = prefixes.iter().find(|(q, _)| q == p) {
                            out.entry(format!("{ns}{local}")).or_insert(no + 1);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Parses one file. A file that does not parse strictly is a problem; when it parses leniently
/// (an IRI with a bad code point, which many published files have), its triples are kept so
/// the rest of it is still checked.
fn parse_file(path: &Path, bytes: Vec<u8>) -> (Option<SourceFile>, Option<ParseProblem>) {
    let file = path.display().to_string();
    let problem = |line, column, message: String| ParseProblem {
        file: file.clone(),
        line,
        column,
        message,
    };
    let format = format_of(path).unwrap_or(RdfFormat::Turtle);
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return (
                None,
                Some(problem(None, None, format!("not UTF-8 text: {e}"))),
            )
        }
    };
    let base = format!(
        "file://{}",
        path.canonicalize().unwrap_or(path.to_path_buf()).display()
    );
    let parse = |lenient: bool| -> Result<Graph, ParseProblem> {
        let mut parser = RdfParser::from_format(format)
            .with_base_iri(base.clone())
            .map_err(|e| problem(None, None, e.to_string()))?
            .without_named_graphs();
        if lenient {
            parser = parser.lenient();
        }
        let mut graph = Graph::new();
        for quad in parser.for_slice(text.as_bytes()) {
            match quad {
                Ok(q) => {
                    graph.insert(&Triple::from(q));
                }
                Err(e) => {
                    let (line, column) = match e.location() {
                        Some(r) => (Some(r.start.line + 1), Some(r.start.column + 1)),
                        None => (None, None),
                    };
                    // The parser's message repeats the position; keep only what went wrong.
                    let msg = e.to_string();
                    let msg = msg.split_once(": ").map(|(_, m)| m).unwrap_or(&msg);
                    return Err(problem(line, column, msg.to_string()));
                }
            }
        }
        Ok(graph)
    };
    let (graph, problem) = match parse(false) {
        Ok(g) => (Some(g), None),
        Err(p) => (parse(true).ok(), Some(p)),
    };
    let prefixes = if format == RdfFormat::Turtle {
        turtle_prefixes(&text)
    } else {
        Vec::new()
    };
    let file = graph.map(|graph| SourceFile {
        path: path.to_path_buf(),
        text,
        graph,
        prefixes,
        lines: std::sync::OnceLock::new(),
    });
    (file, problem)
}

/// The prefix declarations of a Turtle text (`@prefix p: <ns> .` and SPARQL-style `PREFIX`).
fn turtle_prefixes(text: &str) -> Vec<(String, String)> {
    let mut out: HashMap<String, String> = HashMap::new();
    for line in text.lines() {
        let t = line.trim_start();
        let rest = t
            .strip_prefix("@prefix")
            .or_else(|| t.strip_prefix("PREFIX"))
            .or_else(|| t.strip_prefix("prefix"));
        let Some(rest) = rest else { continue };
        let Some((name, ns)) = rest.trim().split_once(':') else {
            continue;
        };
        let ns = ns.trim();
        if let (Some(a), Some(b)) = (ns.find('<'), ns.find('>')) {
            if a < b {
                out.insert(name.trim().to_string(), ns[a + 1..b].to_string());
            }
        }
    }
    let mut v: Vec<_> = out.into_iter().collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_say_file_line_and_column_and_terms_are_located() {
        let src = OntologySource::from_texts(&[
            (
                "good.ttl".into(),
                "@prefix ex: <http://example.org/> .\n\nex:A a ex:B .\nex:Ab ex:p ex:A .\n".into(),
            ),
            (
                "bad.ttl".into(),
                "@prefix ex: <http://example.org/> .\nex:A a\n  ex:B ;; ex:c \"x .\n".into(),
            ),
        ]);
        assert_eq!(src.files.len(), 1);
        assert_eq!(src.problems.len(), 1);
        let p = &src.problems[0];
        assert_eq!((p.file.as_str(), p.line), ("bad.ttl", Some(3)), "{p}");
        assert!(p.to_string().starts_with("bad.ttl:3:"), "{p}");
        // ex:A is described on line 3; `ex:Ab` on line 4 is another token.
        assert_eq!(
            src.locate("http://example.org/A").as_deref(),
            Some("good.ttl:3")
        );
        assert_eq!(
            src.locate("http://example.org/Ab").as_deref(),
            Some("good.ttl:4")
        );
        assert_eq!(src.locate("http://example.org/none"), None);
    }
}
