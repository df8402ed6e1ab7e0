//! MySQL and MariaDB: tables, views, columns and keys from `information_schema`, cells read as
//! `CAST(… AS CHAR)`. InnoDB's statistics are estimates, so a table's fingerprint is the
//! server's exact `CHECKSUM TABLE`, computed without sending rows.

use mysql::prelude::Queryable;
use mysql::Conn;

use super::{add_column, db_err, fingerprint, profile_rows, scan_table, DeclaredColumn, Table};
use crate::inventory::{redact_url, AssetScan, InventoryError, ScanOptions};

/// Scans every table and view of the URL's database (or of every non-system database when the
/// URL names none).
pub fn scan_mysql(url: &str, options: &ScanOptions) -> Result<Vec<AssetScan>, InventoryError> {
    let opts = mysql::Opts::from_url(url).map_err(|e| db_err(url, e))?;
    let only_db = opts.get_db_name().is_some();
    let mut conn = Conn::new(opts).map_err(|e| db_err(url, e))?;
    let list = tables(&mut conn, only_db).map_err(|e| db_err(url, e))?;
    let bar = crate::inventory::progress_bar(options.progress, list.len() as u64, &redact_url(url));
    let mut out = Vec::new();
    for t in list {
        bar.inc(1);
        let format = if t.view { "mysql view" } else { "mysql table" };
        let fp = checksum(&mut conn, &t);
        out.push(scan_table(&t, format, fp, options, |t, asset| {
            read_rows(&mut conn, t, asset, options)
        }));
    }
    bar.finish_and_clear();
    Ok(out)
}

fn quote(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// Every table of the database (or of every non-system one) with its declared columns, keys,
/// comments and row estimate.
fn tables(conn: &mut Conn, only_db: bool) -> Result<Vec<Table>, mysql::Error> {
    type ColRow = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<u64>,
        String,
    );
    let filter = if only_db {
        "c.TABLE_SCHEMA = DATABASE()"
    } else {
        "c.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')"
    };
    let rows: Vec<ColRow> = conn.query(format!(
        "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, t.TABLE_TYPE, c.COLUMN_NAME, c.COLUMN_TYPE, c.COLUMN_KEY, \
                c.COLUMN_COMMENT, t.TABLE_ROWS, t.TABLE_COMMENT \
         FROM information_schema.COLUMNS c \
         JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
         WHERE {filter} ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION"
    ))?;
    let fks: Vec<(String, String, String, String)> = conn.query(format!(
        "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, \
                CONCAT(c.REFERENCED_TABLE_SCHEMA, '.', c.REFERENCED_TABLE_NAME, '.', c.REFERENCED_COLUMN_NAME) \
         FROM information_schema.KEY_COLUMN_USAGE c WHERE c.REFERENCED_TABLE_NAME IS NOT NULL AND {filter}"
    ))?;
    let mut list: Vec<Table> = Vec::new();
    for (schema, name, ttype, col, ctype, ckey, ccomment, estimate, tcomment) in rows {
        let mut keys: Vec<String> = match ckey.as_str() {
            "PRI" => vec!["primary key".into()],
            "UNI" => vec!["unique".into()],
            _ => vec![],
        };
        keys.extend(
            fks.iter()
                .filter(|f| f.0 == schema && f.1 == name && f.2 == col)
                .map(|f| format!("foreign key → {}", f.3)),
        );
        let table = || Table {
            schema: Some(schema.clone()),
            name: name.clone(),
            view: ttype == "VIEW",
            columns: Vec::new(),
            estimate,
            comment: Some(tcomment).filter(|c| !c.is_empty() && c != "VIEW"),
        };
        let column = DeclaredColumn {
            name: col,
            declared: ctype,
            keys,
            comment: Some(ccomment).filter(|c| !c.is_empty()),
        };
        add_column(&mut list, &schema, &name, table, column);
    }
    Ok(list)
}

/// The table's fingerprint from `CHECKSUM TABLE`; views have no checksum and are always
/// profiled.
fn checksum(conn: &mut Conn, t: &Table) -> Option<String> {
    if t.view {
        return None;
    }
    let target = format!(
        "{}.{}",
        quote(t.schema.as_deref().unwrap_or_default()),
        quote(&t.name)
    );
    conn.query_first::<(String, Option<u64>), _>(format!("CHECKSUM TABLE {target}"))
        .ok()
        .flatten()
        .and_then(|(_, sum)| sum)
        .map(|sum| fingerprint("mysql", t, &sum.to_string()))
}

/// Streams the table's rows (or its sample) into the profilers, each cell as text.
fn read_rows(conn: &mut Conn, t: &Table, asset: &mut AssetScan, options: &ScanOptions) {
    let sql = t.select_sql(
        quote,
        |c| format!("CAST({c} AS CHAR)"),
        options.db_sample_rows,
    );
    match conn.query_iter(&sql) {
        Ok(result) => {
            let iter = result.map(|row| {
                row.map_err(|e| e.to_string()).map(|r| {
                    (0..r.len())
                        .map(|i| match r.as_ref(i) {
                            Some(mysql::Value::NULL) | None => None,
                            Some(mysql::Value::Bytes(b)) => {
                                Some(String::from_utf8_lossy(b).into_owned())
                            }
                            Some(other) => Some(other.as_sql(true)),
                        })
                        .collect()
                })
            });
            profile_rows(t, asset, options, iter);
        }
        Err(e) => asset.error = Some(format!("cannot read rows: {e}")),
    }
}
