//! One-off migration of catalogs written before detail graphs: the profile of every column
//! of a table about people moves from the catalog graph into the column's restricted detail
//! graph (see [`detail_graph`]), so that upgrading does not leave it readable until each file
//! changes.

use super::record::{add, detail_graph, rdf_type, st};
use crate::catalog::vocab::{CSVW, DQV, ST};
use crate::catalog::{Catalog, CatalogError, Object, Statement};

/// Version of where profiles live: 2 = the columns of tables about people in detail graphs.
const PROFILE_SCHEME: &str = "2";

/// One-off migration of a catalog written before detail graphs ([`PROFILE_SCHEME`] 2), run
/// when the store is opened: the evidence, top values and measurements of every column of a
/// table about people move from the catalog graph into the column's restricted detail graph
/// (its marks written first), so that upgrading does not leave them readable until each file
/// changes. Returns the triples moved; a no-op once the catalog graph is marked migrated.
pub fn migrate_details(catalog: &Catalog) -> Result<usize, CatalogError> {
    let layout = catalog.layout();
    let graph = layout.catalog.clone();
    let cat = graph.as_str().to_owned();
    let marker = st("profileScheme");
    if catalog.objects(&graph, &cat, &marker)? == [PROFILE_SCHEME] {
        return Ok(0);
    }
    let prefixes = format!("PREFIX st: <{ST}> PREFIX csvw: <{CSVW}> PREFIX dqv: <{DQV}>");
    let columns = catalog.select(&format!(
        "{prefixes} SELECT ?a ?c WHERE {{ GRAPH <{cat}> {{ ?a csvw:column ?c . \
         FILTER EXISTS {{ ?a csvw:column ?p . ?p st:containsPersonalData true }} }} }}"
    ))?;
    let mut moved = 0;
    for row in &columns {
        let (asset, col) = (&row["a"], &row["c"]);
        let detail = detail_graph(col);
        let mut marks = Vec::new();
        add(
            &mut marks,
            &detail,
            rdf_type(),
            Object::iri(st("DetailGraph")),
        );
        add(&mut marks, &detail, st("restricted"), Object::boolean(true));
        add(&mut marks, &detail, st("detailOf"), Object::iri(col));
        add(&mut marks, &detail, st("detailOf"), Object::iri(asset));
        catalog.replace_subjects(&graph, std::slice::from_ref(&detail), &marks)?;
        let nodes = catalog.select(&format!(
            "{prefixes} SELECT ?x WHERE {{ GRAPH <{cat}> {{ \
             {{ <{col}> st:topValue ?x }} UNION {{ ?x dqv:computedOn <{col}> }} }} }}"
        ))?;
        let nodes: Vec<String> = nodes.into_iter().map(|r| r["x"].clone()).collect();
        moved += catalog.move_triples(
            &graph,
            &detail,
            &nodes,
            &[(col.clone(), st("evidence")), (col.clone(), st("topValue"))],
        )?;
    }
    catalog.replace_properties(
        &graph,
        std::slice::from_ref(&cat),
        std::slice::from_ref(&marker),
        &[Statement::new(
            &cat,
            &marker,
            Object::string(PROFILE_SCHEME),
        )],
    )?;
    if moved > 0 {
        tracing::warn!(
            moved,
            columns = columns.len(),
            "profiles of tables about people moved into restricted detail graphs"
        );
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{GraphFormat, GraphLayout, GraphTarget, Visibility};

    /// A catalog as an older release wrote it: the profile of a table about people in the
    /// catalog graph.
    fn old_catalog() -> Catalog {
        let c = Catalog::in_memory(GraphLayout::new("http://example.org/st/").unwrap()).unwrap();
        let a = "http://example.org/st/source/1/asset/2";
        let ttl = format!(
            "@prefix st: <{ST}> . @prefix csvw: <{CSVW}> . @prefix dqv: <{DQV}> .
             <{a}> a st:Asset ; csvw:column <{a}/column/0-phone>, <{a}/column/1-city> .
             <{a}/column/0-phone> st:containsPersonalData true ; st:nullRate 0.0 ;
                 st:evidence \"OLD-EVIDENCE\" .
             <{a}/column/1-city> st:containsPersonalData false ; st:evidence \"CITY-EVIDENCE\" ;
                 st:topValue <{a}/column/1-city/top/0> .
             <{a}/column/1-city/top/0> st:value \"OLD-TOP\" ; st:count 9 .
             <http://example.org/st/scan/1/m/x/Min> dqv:computedOn <{a}/column/0-phone> ;
                 dqv:value \"OLD-MIN\" ."
        );
        c.add_to_graph(
            &GraphTarget::Named(c.layout().catalog.as_str().to_owned()),
            ttl.as_bytes(),
            GraphFormat::Turtle,
            None,
            &Visibility::ADMIN,
        )
        .unwrap();
        c
    }

    #[test]
    fn old_profiles_move_into_restricted_detail_graphs_once() {
        let c = old_catalog();
        let ask = |vis: &Visibility, what: &str| {
            let rows = c
                .select_as(
                    &format!("SELECT ?s WHERE {{ GRAPH ?g {{ ?s ?p \"{what}\" }} }}"),
                    vis,
                )
                .unwrap();
            !rows.is_empty()
        };
        for what in ["OLD-EVIDENCE", "CITY-EVIDENCE", "OLD-TOP", "OLD-MIN"] {
            assert!(ask(&Visibility::PUBLIC, what), "{what} public before");
        }
        let moved = migrate_details(&c).unwrap();
        assert_eq!(moved, 7, "evidence ×2, top value link + 2, measurement ×2");
        for what in ["OLD-EVIDENCE", "CITY-EVIDENCE", "OLD-TOP", "OLD-MIN"] {
            assert!(!ask(&Visibility::PUBLIC, what), "{what} still public");
            assert!(ask(&Visibility::ADMIN, what), "{what} lost");
        }
        // The summary stays in the catalog; the migration runs once.
        assert!(c
            .select_as(
                &format!("SELECT ?r WHERE {{ GRAPH ?g {{ ?c <{ST}nullRate> ?r }} }}"),
                &Visibility::PUBLIC
            )
            .map(|r| r.len() == 1)
            .unwrap());
        assert_eq!(migrate_details(&c).unwrap(), 0);
    }
}
