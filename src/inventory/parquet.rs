//! Parquet files: declared schema from the footer, values streamed row group by row group.
//!
//! The footer gives the declared column types and the exact row count; the record reader then
//! streams rows (one row group in memory at a time) into the same column profilers the text
//! formats use, so a Parquet column and a CSV column of the same data profile the same way.

use std::fs::File;
use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use sha2::{Digest, Sha256};

use super::profile::ColumnProfiler;
use super::{AssetScan, MAX_COLUMNS};

/// Profiles a Parquet file into `asset` (errors are recorded on it).
pub fn scan(path: &Path, asset: &mut AssetScan) {
    if let Err(e) = scan_inner(path, asset) {
        asset.error = Some(e);
    }
}

fn scan_inner(path: &Path, asset: &mut AssetScan) -> Result<(), String> {
    asset.content_hash = Some(hash_file(path).map_err(|e| format!("cannot read: {e}"))?);
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let reader =
        SerializedFileReader::new(file).map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let meta = reader.metadata().file_metadata();
    let schema = meta.schema_descr();
    let mut profilers: Vec<ColumnProfiler> = schema
        .columns()
        .iter()
        .take(MAX_COLUMNS)
        .map(|c| {
            let declared = match c.logical_type_ref() {
                Some(l) => format!("{:?} ({l:?})", c.physical_type()),
                None => format!("{:?}", c.physical_type()),
            };
            ColumnProfiler::new(c.path().string(), Some(declared))
        })
        .collect();
    let names: Vec<String> = schema.columns().iter().map(|c| c.path().string()).collect();
    let rows = reader
        .get_row_iter(None)
        .map_err(|e| format!("cannot read rows: {e}"))?;
    for row in rows {
        let row = row.map_err(|e| format!("row {}: {e}", asset.rows + 1))?;
        asset.rows += 1;
        // Top-level fields by name; nested groups are profiled as their JSON text.
        let mut cells: Vec<Option<String>> = vec![None; profilers.len()];
        for (name, field) in row.get_column_iter() {
            if let Some(i) = names
                .iter()
                .position(|n| n == name)
                .filter(|&i| i < cells.len())
            {
                cells[i] = text(field);
            }
        }
        for (p, c) in profilers.iter_mut().zip(&cells) {
            p.push(c.as_deref());
        }
    }
    asset.columns = profilers.into_iter().map(ColumnProfiler::finish).collect();
    Ok(())
}

/// A cell as the text the profilers read (`None` for null).
fn text(f: &Field) -> Option<String> {
    Some(match f {
        Field::Null => return None,
        Field::Str(s) => s.clone(),
        Field::Bool(b) => b.to_string(),
        Field::Date(days) => (chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?
            + chrono::Duration::days(*days as i64))
        .format("%Y-%m-%d")
        .to_string(),
        Field::TimestampMillis(ms) => chrono::DateTime::from_timestamp_millis(*ms)?
            .naive_utc()
            .format("%Y-%m-%d %H:%M:%S%.f")
            .to_string(),
        Field::TimestampMicros(us) => chrono::DateTime::from_timestamp_micros(*us)?
            .naive_utc()
            .format("%Y-%m-%d %H:%M:%S%.f")
            .to_string(),
        Field::Bytes(b) => match std::str::from_utf8(b.data()) {
            Ok(s) => s.to_string(),
            Err(_) => hex::encode(b.data()),
        },
        other => other.to_string(),
    })
}

/// SHA-256 of a file's bytes, hex.
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}
