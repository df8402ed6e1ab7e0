//! Inventory against real databases: the same small e-commerce schema (and, when
//! ../shared/data is present, Olist products and sellers and 2,000 real Chinese reviews) loaded
//! into SQLite, this machine's PostgreSQL and its MariaDB, scanned, and asserted — kinds, semantic
//! types, PII, keys, comments — and through the catalog by SPARQL.

use std::path::PathBuf;

use stocktake::inventory::{record, ScanReport, Source};

use crate::inventory::{asset, fixture, named, pii_of, scan, val};

/// A table to load: name, header, rows.
type Table = (String, Vec<String>, Vec<Vec<String>>);
/// The fixture tables (and olist's when present), as (name, header, rows).
fn tables() -> Vec<Table> {
    let mut out = Vec::new();
    let mut read = |name: &str, path: PathBuf, limit: usize| {
        let mut r = csv::Reader::from_path(&path).unwrap();
        let header: Vec<String> = r
            .headers()
            .unwrap()
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_string())
            .collect();
        let rows: Vec<Vec<String>> = r
            .records()
            .take(limit)
            .map(|x| x.unwrap().iter().map(String::from).collect())
            .collect();
        out.push((name.to_string(), header, rows));
    };
    for t in ["users", "orders", "reviews", "behaviour", "products"] {
        read(t, fixture(&format!("inventory/{t}.csv")), usize::MAX);
    }
    if let Some(shared) = crate::util::shared_data() {
        let olist = shared.join("tabular/olist");
        read(
            "olist_products",
            olist.join("olist_products_dataset.csv"),
            5000,
        );
        read(
            "olist_sellers",
            olist.join("olist_sellers_dataset.csv"),
            usize::MAX,
        );
        // 2,000 real Chinese reviews (category, sentiment label, text) from the review set.
        let zip = shared.join("text/online_shopping_10_cats/online_shopping_10_cats.zip");
        let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
        let file = archive.by_name("online_shopping_10_cats.csv").unwrap();
        let mut r = csv::Reader::from_reader(file);
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        let rows: Vec<Vec<String>> = r
            .records()
            .filter_map(Result::ok)
            .step_by(30)
            .take(2000)
            .map(|x| {
                x.iter()
                    .map(|v| v.trim_start_matches('\u{feff}').chars().take(250).collect())
                    .collect()
            })
            .collect();
        out.push(("shopping_reviews".to_string(), header, rows));
    } else {
        crate::util::missing(
            "../shared/data not found: the database tests use the committed fixture only",
        );
    }
    out
}

/// What every database scan must say about the schema.
fn check_database_report(report: &ScanReport, server_rows: bool) {
    let kind = |t: &str| {
        asset(report, t)
            .classification
            .as_ref()
            .unwrap()
            .kind
            .name()
    };
    assert_eq!(kind("users"), "user_profiles");
    assert_eq!(kind("reviews"), "reviews");
    assert_eq!(kind("behaviour"), "user_behaviour_log");
    assert_eq!(kind("orders"), "orders");
    assert_eq!(kind("products"), "product_catalog");
    let u = asset(report, "users");
    assert_eq!(u.rows, 200);
    for (c, t) in [
        ("手机", "phone"),
        ("email", "email"),
        ("身份证号", "id_card"),
        ("姓名", "person_name"),
        ("收货地址", "address"),
    ] {
        assert_eq!(pii_of(u, c), Some(t), "{c}");
    }
    assert!(
        u.scanned_columns[0].keys.iter().any(|k| k == "primary key"),
        "{:?}",
        u.scanned_columns[0].keys
    );
    let o = asset(report, "orders");
    let fk = o
        .scanned_columns
        .iter()
        .find(|c| c.profile.name == "user_id")
        .unwrap();
    assert!(
        fk.keys
            .iter()
            .any(|k| k.starts_with("foreign key") && k.contains("users")),
        "{:?}",
        fk.keys
    );
    if server_rows {
        assert!(u.rows_estimate.is_some());
    }
    if report.assets.iter().any(|a| a.name == "olist_sellers") {
        assert_eq!(kind("olist_sellers"), "sellers");
        assert_eq!(kind("olist_products"), "product_catalog");
        assert_eq!(kind("shopping_reviews"), "reviews");
        let review = asset(report, "shopping_reviews")
            .scanned_columns
            .iter()
            .find(|c| c.profile.name == "review")
            .unwrap();
        assert_eq!(review.semantic.kind.name(), "review_text");
    }
}

fn sql_type(col: &str) -> &'static str {
    match col {
        "price" => "DECIMAL(10,2)",
        "quantity"
        | "rating"
        | "review_id"
        | "label"
        | "product_name_lenght"
        | "product_photos_qty"
        | "product_weight_g" => "INTEGER",
        _ => "VARCHAR(255)",
    }
}

fn ddl(name: &str, header: &[String], quote: char) -> String {
    let cols: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut c = format!("{quote}{h}{quote} {}", sql_type(h));
            if i == 0 && !matches!(name, "behaviour" | "olist_products" | "shopping_reviews") {
                c.push_str(" PRIMARY KEY");
            }
            c
        })
        .collect();
    let fk = match name {
        "orders" | "reviews" => format!(", FOREIGN KEY ({quote}user_id{quote}) REFERENCES {quote}users{quote}({quote}user_id{quote})"),
        _ => String::new(),
    };
    format!(
        "CREATE TABLE {quote}{name}{quote} ({}{fk})",
        cols.join(", ")
    )
}

/// A SQL literal; MySQL (identifiers quoted with backticks) also treats `\` as an escape.
fn literal(v: &str, col: &str, quote: char) -> String {
    if sql_type(col) == "VARCHAR(255)" {
        let v = if quote == '`' {
            v.replace('\\', "\\\\")
        } else {
            v.to_string()
        };
        format!("'{}'", v.replace('\'', "''"))
    } else if v.is_empty() {
        "NULL".into()
    } else {
        v.to_string()
    }
}

fn inserts(name: &str, header: &[String], rows: &[Vec<String>], quote: char) -> Vec<String> {
    let cols: Vec<String> = header
        .iter()
        .map(|h| format!("{quote}{h}{quote}"))
        .collect();
    rows.chunks(500)
        .map(|chunk| {
            let values: Vec<String> = chunk
                .iter()
                .map(|r| {
                    format!(
                        "({})",
                        r.iter()
                            .zip(header)
                            .map(|(v, h)| literal(v, h, quote))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect();
            format!(
                "INSERT INTO {quote}{name}{quote} ({}) VALUES {}",
                cols.join(", "),
                values.join(", ")
            )
        })
        .collect()
}

/// Connects or explains why not (fatal in CI, where the services must be up).
pub fn database(kind: &str, env: &str, default: &str) -> Option<String> {
    let url = std::env::var(env).unwrap_or_else(|_| default.to_string());
    let ok = match kind {
        "postgres" => postgres::Client::connect(&url, postgres::NoTls).is_ok(),
        _ => mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).is_ok(),
    };
    if !ok {
        crate::util::missing(&format!("{kind} not reachable at {url} (set {env})"));
        return None;
    }
    Some(url)
}

/// The machine's PostgreSQL (`STOCKTAKE_TEST_POSTGRES` overrides it), or [`database`]'s reason.
fn postgres_url() -> Option<String> {
    database(
        "postgres",
        "STOCKTAKE_TEST_POSTGRES",
        "postgres://postgres@127.0.0.1:5432/test",
    )
}

/// The tables in an order their foreign keys accept.
fn sorted_tables() -> Vec<Table> {
    let mut tables = tables();
    let order = [
        "users",
        "products",
        "orders",
        "reviews",
        "behaviour",
        "olist_products",
        "olist_sellers",
        "shopping_reviews",
    ];
    tables.sort_by_key(|t| order.iter().position(|n| *n == t.0));
    tables
}

/// Every recorded users table shows its PII by SPARQL, and the behaviour log its kind.
fn check_recorded(server: &crate::util::TestServer) {
    let rows = named(server, "pii-columns", "");
    let users_phone = rows
        .iter()
        .filter(|r| val(r, "assetName") == "users" && val(r, "piiType") == "phone")
        .count();
    assert!(users_phone >= 1, "{rows:?}");
    let kinds = named(server, "asset-kinds", "");
    assert!(kinds
        .iter()
        .any(|r| val(r, "kind").ends_with("/behaviour-log") && val(r, "assets") != "0"));
}

#[test]
fn sqlite_schema_is_inventoried() {
    let server = crate::util::TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("shop.sqlite");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        for (name, header, rows) in &sorted_tables() {
            conn.execute(&ddl(name, header, '"'), []).unwrap();
            for sql in inserts(name, header, rows, '"') {
                conn.execute(&sql, []).unwrap();
            }
        }
    }
    let report = scan(&Source::parse(&format!("sqlite://{}", db.display())).unwrap());
    check_database_report(&report, false);
    record::record(&server.catalog, &report).unwrap();
    check_recorded(&server);
}

/// A schema of our own, dropped afterwards.
#[test]
fn postgres_schema_is_inventoried() {
    let Some(url) = postgres_url() else {
        return;
    };
    let server = crate::util::TestServer::start();
    let schema = format!("st_inventory_{}", std::process::id());
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path TO {schema}")).unwrap();
    for (name, header, rows) in &sorted_tables() {
        c.batch_execute(&ddl(name, header, '"')).unwrap();
        for sql in inserts(name, header, rows, '"') {
            c.batch_execute(&sql).unwrap();
        }
    }
    c.batch_execute(&format!(
        "COMMENT ON COLUMN {schema}.users.\"手机\" IS '绑定手机'; ANALYZE"
    ))
    .unwrap();
    let scoped = format!("{url}?options=-csearch_path%3D{schema}");
    let report = scan(&Source::parse(&scoped).unwrap());
    c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
    let mine = ScanReport {
        assets: report
            .assets
            .iter()
            .filter(|a| a.location.starts_with(&format!("{schema}.")))
            .cloned()
            .collect(),
        ..report.clone()
    };
    check_database_report(&mine, true);
    let phone = asset(&mine, "users")
        .scanned_columns
        .iter()
        .find(|c| c.profile.name == "手机")
        .unwrap();
    assert_eq!(phone.comment.as_deref(), Some("绑定手机"));
    assert_eq!(
        report.source, "postgres://127.0.0.1:5432/test",
        "no credentials or options recorded"
    );
    record::record(&server.catalog, &mine).unwrap();
    check_recorded(&server);
}

/// The scanner reads PostgreSQL's catalog directly (information_schema was most of an
/// unchanged rescan's time); what it reads must be what information_schema says, type by type
/// (domains, enums, arrays, parameterised types), or every fingerprint would change.
#[test]
fn postgres_declared_types_match_information_schema() {
    let Some(url) = postgres_url() else {
        return;
    };
    let schema = format!("st_types_{}", std::process::id());
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path TO {schema};
         CREATE DOMAIN price AS numeric(10,2) CHECK (VALUE >= 0);
         CREATE DOMAIN tags AS text[];
         CREATE TYPE status AS ENUM ('paid', 'shipped');
         CREATE TABLE orders (id bigint PRIMARY KEY, sku varchar(20), total price, tag tags,
           st status, at timestamp, at_tz timestamptz, body jsonb, ids integer[], n numeric(12,3),
           ok boolean, dropped_soon int, \"名称\" text);
         ALTER TABLE orders DROP COLUMN dropped_soon;
         COMMENT ON TABLE orders IS '订单';
         COMMENT ON COLUMN orders.sku IS 'stock keeping unit';
         CREATE TABLE parted (id int, day date) PARTITION BY RANGE (day);
         CREATE TABLE parted_2026 PARTITION OF parted FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
         CREATE VIEW paid AS SELECT id, total FROM orders WHERE st = 'paid';
         CREATE MATERIALIZED VIEW not_listed AS SELECT 1 AS x;"
    ))
    .unwrap();
    let expected: Vec<(String, String, String)> = c
        .query(
            "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = $1 ORDER BY table_name, ordinal_position",
            &[&schema],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let report = scan(&Source::parse(&format!("{url}?options=-csearch_path%3D{schema}")).unwrap());
    c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
    let mut got: Vec<(String, String, String)> = report
        .assets
        .iter()
        .flat_map(|a| {
            let table = a.location.rsplit('.').next().unwrap().to_owned();
            a.scanned_columns.iter().map(move |col| {
                (
                    table.clone(),
                    col.profile.name.clone(),
                    col.profile.declared.clone().unwrap_or_default(),
                )
            })
        })
        .collect();
    got.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(got, expected_sorted);
    assert!(expected.iter().any(|(_, _, t)| t == "USER-DEFINED"));
    assert!(expected.iter().any(|(_, _, t)| t == "ARRAY"));
    let orders = asset(&report, "orders");
    let sku = orders
        .scanned_columns
        .iter()
        .find(|c| c.profile.name == "sku")
        .unwrap();
    assert_eq!(sku.comment.as_deref(), Some("stock keeping unit"));
    assert_eq!(orders.comment.as_deref(), Some("订单"));
    assert!(report
        .assets
        .iter()
        .all(|a| !a.location.ends_with("not_listed")));
}

/// A database of our own, dropped afterwards.
#[test]
fn mariadb_schema_is_inventoried() {
    use mysql::prelude::Queryable;
    let Some(url) = database(
        "mysql",
        "STOCKTAKE_TEST_MYSQL",
        "mysql://root@127.0.0.1:3306/test",
    ) else {
        return;
    };
    let server = crate::util::TestServer::start();
    let name = format!("st_inventory_{}", std::process::id());
    let mut c = mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap();
    c.query_drop(format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    c.query_drop(format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"))
        .unwrap();
    c.query_drop(format!("USE {name}")).unwrap();
    for (t, header, rows) in &sorted_tables() {
        c.query_drop(format!("{} ENGINE=InnoDB", ddl(t, header, '`')))
            .unwrap();
        for sql in inserts(t, header, rows, '`') {
            c.query_drop(sql).unwrap();
        }
    }
    let db_url = format!("{}/{name}", url.rsplit_once('/').unwrap().0);
    let report = scan(&Source::parse(&db_url).unwrap());
    c.query_drop(format!("DROP DATABASE {name}")).unwrap();
    check_database_report(&report, true);
    record::record(&server.catalog, &report).unwrap();
    check_recorded(&server);
}
