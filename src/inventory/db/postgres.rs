//! PostgreSQL: tables, views and columns from `information_schema`, keys from `pg_catalog`
//! (its key views take seconds on a thousand tables), cells read as `::text` so one code path
//! profiles every type the server has. A table's fingerprint is its statistics counters and
//! file node, so a rescan skips unwritten tables without reading them.

use std::collections::HashMap;

use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;

use super::{add_column, db_err, fingerprint, profile_rows, scan_table, DeclaredColumn, Table};
use crate::inventory::{redact_url, AssetScan, InventoryError, ScanOptions};

/// Scans every table and view the account may read, outside the system schemas.
pub fn scan_postgres(url: &str, options: &ScanOptions) -> Result<Vec<AssetScan>, InventoryError> {
    let mut client = Client::connect(url, postgres::NoTls).map_err(|e| db_err(url, e))?;
    let list = tables(&mut client, url)?;
    let stats = write_counters(&mut client).map_err(|e| db_err(url, e))?;
    let bar = crate::inventory::progress_bar(options.progress, list.len() as u64, &redact_url(url));
    let mut out = Vec::new();
    for t in list {
        bar.inc(1);
        let format = if t.view {
            "postgresql view"
        } else {
            "postgresql table"
        };
        let key = (t.schema.clone().unwrap_or_default(), t.name.clone());
        let fp = stats.get(&key).map(|s| fingerprint("pgstat", &t, s));
        out.push(scan_table(&t, format, fp, options, |t, asset| {
            read_rows(&mut client, t, asset, options)
        }));
    }
    bar.finish_and_clear();
    Ok(out)
}

/// Every readable table with its declared columns, keys, comments and row estimate.
fn tables(client: &mut Client, url: &str) -> Result<Vec<Table>, InventoryError> {
    // A URL that sets the search path (`?options=-csearch_path%3Dshop`) scans those schemas
    // only; otherwise every schema the account may read.
    let only_path = if url.contains("search_path") {
        "AND n.nspname = ANY(current_schemas(false))"
    } else {
        ""
    };
    // Straight from pg_catalog: information_schema.columns with a regclass cast per column
    // took 40 ms of a 1,000-table rescan that profiles nothing. The type expression is
    // information_schema's own definition of `data_type`, so declared types (and with them
    // every table's fingerprint) read exactly as before; the relation kinds are the ones
    // information_schema.tables lists.
    let rows = client
        .query(
            &format!("SELECT n.nspname, c.relname,                     CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN' ELSE 'BASE TABLE' END,                     a.attname::text,                     CASE WHEN t.typtype = 'd' THEN                            CASE WHEN bt.typelem <> 0 AND bt.typlen = -1 THEN 'ARRAY'                                 WHEN nbt.nspname = 'pg_catalog' THEN format_type(t.typbasetype, NULL)                                 ELSE 'USER-DEFINED' END                          ELSE                            CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN 'ARRAY'                                 WHEN nt.nspname = 'pg_catalog' THEN format_type(a.atttypid, NULL)                                 ELSE 'USER-DEFINED' END                     END,                     cd.description, td.description, GREATEST(c.reltuples, 0)::bigint              FROM pg_class c              JOIN pg_namespace n ON n.oid = c.relnamespace              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped              JOIN pg_type t ON t.oid = a.atttypid              JOIN pg_namespace nt ON nt.oid = t.typnamespace              LEFT JOIN (pg_type bt JOIN pg_namespace nbt ON nbt.oid = bt.typnamespace)                ON t.typtype = 'd' AND t.typbasetype = bt.oid              LEFT JOIN pg_description cd ON cd.objoid = c.oid                AND cd.classoid = 'pg_class'::regclass AND cd.objsubid = a.attnum              LEFT JOIN pg_description td ON td.objoid = c.oid                AND td.classoid = 'pg_class'::regclass AND td.objsubid = 0              WHERE c.relkind IN ('r', 'v', 'f', 'p')                AND n.nspname NOT IN ('pg_catalog', 'information_schema')                AND NOT pg_is_other_temp_schema(n.oid)                AND has_table_privilege(c.oid, 'SELECT') {only_path}              ORDER BY n.nspname, c.relname, a.attnum"),
            &[],
        )
        .map_err(|e| db_err(url, e))?;
    let mut keys = key_roles(client).map_err(|e| db_err(url, e))?;
    let mut list: Vec<Table> = Vec::new();
    for r in &rows {
        let (schema, name): (String, String) = (r.get(0), r.get(1));
        let col: String = r.get(3);
        let key_roles = keys
            .remove(&(schema.clone(), name.clone(), col.clone()))
            .unwrap_or_default();
        let table = || Table {
            schema: Some(schema.clone()),
            name: name.clone(),
            view: r.get::<_, String>(2) == "VIEW",
            columns: Vec::new(),
            estimate: r.get::<_, Option<i64>>(7).map(|x| x as u64),
            comment: r.get(6),
        };
        let column = DeclaredColumn {
            name: col,
            declared: r.get(4),
            keys: key_roles,
            comment: r.get(5),
        };
        add_column(&mut list, &schema, &name, table, column);
    }
    Ok(list)
}

/// (schema, table, column) → its key roles: primary key, unique, foreign key → target.
type KeyRoles = HashMap<(String, String, String), Vec<String>>;

fn key_roles(client: &mut Client) -> Result<KeyRoles, postgres::Error> {
    let mut keys = KeyRoles::new();
    for k in client.query(
        "SELECT n.nspname, c.relname, a.attname, con.contype::text, \
                fn.nspname || '.' || fc.relname || '.' || fa.attname \
         FROM pg_constraint con \
         JOIN pg_class c ON c.oid = con.conrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord) \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum \
         LEFT JOIN pg_class fc ON fc.oid = con.confrelid \
         LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace \
         LEFT JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = con.confkey[k.ord] \
         WHERE con.contype IN ('p', 'f', 'u') \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         ORDER BY con.contype, con.conname",
        &[],
    )? {
        let role = match k.get::<_, String>(3).as_str() {
            "p" => "primary key".to_string(),
            "u" => "unique".to_string(),
            _ => format!("foreign key → {}", k.get::<_, Option<String>>(4).unwrap_or_default()),
        };
        keys.entry((k.get(0), k.get(1), k.get(2))).or_default().push(role);
    }
    Ok(keys)
}

/// Statistics counters of every table: a write (insert, update, delete) moves them, a rewrite
/// (TRUNCATE, VACUUM FULL, ALTER … TYPE) gives the table a new file node. Views have none and
/// are always profiled again.
fn write_counters(
    client: &mut Client,
) -> Result<HashMap<(String, String), String>, postgres::Error> {
    Ok(client
        .query(
            "SELECT n.nspname, c.relname, concat_ws(',', c.relfilenode, s.n_tup_ins, s.n_tup_upd, \
                    s.n_tup_del) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_stat_all_tables s ON s.relid = c.oid \
             WHERE c.relkind IN ('r', 'p', 'm')",
            &[],
        )?
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect())
}

/// Streams the table's rows (or its sample) into the profilers, each cell as `::text`.
fn read_rows(client: &mut Client, t: &Table, asset: &mut AssetScan, options: &ScanOptions) {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let sql = t.select_sql(quote, |c| format!("{c}::text"), options.db_sample_rows);
    let n = t.columns.len();
    match client.query_raw(&sql, std::iter::empty::<&str>()) {
        Ok(mut rows) => {
            let iter = std::iter::from_fn(|| match rows.next() {
                Ok(Some(r)) => Some(Ok((0..n).map(|i| r.get::<_, Option<String>>(i)).collect())),
                Ok(None) => None,
                Err(e) => Some(Err(e.to_string())),
            });
            profile_rows(t, asset, options, iter);
        }
        Err(e) => asset.error = Some(format!("cannot read rows: {e}")),
    }
}
