//! The reading stage of a run: rows of the file become cleaned, built, labelled batches that
//! the writer thread commits. It lives apart from the run's outline in `mod.rs` because it is
//! the part that touches every record, and the part that decides, record by record, between the
//! product graph and the quarantine (never dropping one).

use std::sync::mpsc::SyncSender;
use std::time::Instant;

use super::graph::{self, Built, Context};
use super::label::Labeler;
use super::read::Records;
use super::run::{lap, RunReport};
use super::write::{namespace_of_products, record_key, References, Rejected};
use super::{mapping, IngestError, BATCH, MAX_TITLE_CHARS};
use crate::catalog::vocab::ST;
use crate::catalog::{Catalog, Object, Statement};

/// One batch handed to the writer: accepted records and quarantined ones.
pub(super) type Batch = (Vec<Built>, Vec<Rejected>);

/// What the reading stage needs of its run.
pub(super) struct Reader<'a> {
    pub(super) catalog: &'a Catalog,
    pub(super) ctx: &'a Context<'a>,
    pub(super) columns: &'a [String],
    pub(super) id_field: Option<usize>,
    pub(super) run: &'a str,
    pub(super) options: &'a super::RunOptions<'a>,
}

impl Reader<'_> {
    /// Reads every row, sorts it into accepted or quarantined, and hands a batch to the writer
    /// every [`BATCH`] records and at the end. Stops early (without error) when the writer
    /// has stopped: its own error is the one reported.
    pub(super) fn read(
        &self,
        records: Records,
        report: &mut RunReport,
        to_writer: SyncSender<Batch>,
    ) -> Result<(), IngestError> {
        let ctx = self.ctx;
        let mut references = References::new(self.catalog);
        let product_ns = namespace_of_products(ctx.mapping);
        let mut accepted: Vec<Built> = Vec::new();
        let mut rejected: Vec<Rejected> = Vec::new();
        let mut t = Instant::now();
        let mut rows = records.peekable();
        while let Some(row) = rows.next() {
            report.records_in += 1;
            match row {
                Ok((line, cells)) => {
                    let checked = check_and_build(ctx, self.columns, &cells)
                        .and_then(|b| references.check(b, &product_ns));
                    match checked {
                        Ok(mut b) => {
                            b.record_key = record_key(
                                ctx.minter,
                                ctx.mapping.entity,
                                self.id_field,
                                Some(cells.as_slice()),
                                line,
                            );
                            accepted.push(b)
                        }
                        Err(reasons) => rejected.push((line, Some(cells), reasons)),
                    }
                }
                Err((line, reason)) => rejected.push((line, None, vec![reason])),
            }
            if let Some(e) = references.error.take() {
                return Err(e.into());
            }
            if accepted.len() + rejected.len() >= BATCH || rows.peek().is_none() {
                self.prepare(&mut accepted, report, &mut t)?;
                let batch = (std::mem::take(&mut accepted), std::mem::take(&mut rejected));
                if to_writer.send(batch).is_err() {
                    // The writer stopped on an error, which its join reports.
                    return Ok(());
                }
                t = Instant::now();
            }
        }
        Ok(())
    }

    /// Readies a batch's accepted records for writing: people masked in review texts, records
    /// the graph already holds dropped, the rest labelled.
    fn prepare(
        &self,
        accepted: &mut Vec<Built>,
        report: &mut RunReport,
        t: &mut Instant,
    ) -> Result<(), IngestError> {
        let labeler = self.options.labeler;
        if let (Some(tagger), mapping::Entity::Review) =
            (self.options.names, self.ctx.mapping.entity)
        {
            mask_review_people(tagger, accepted);
            lap(&mut report.seconds, "mask names", t);
        }
        report.unchanged += skip_unchanged(self.catalog, accepted, labeler)?;
        lap(&mut report.seconds, "read+clean+build", t);
        if let (Some(l), Some(stats)) = (labeler, report.labels.as_mut()) {
            l.label(
                self.catalog,
                self.ctx.minter,
                accepted,
                self.run,
                self.ctx.categories,
                stats,
            )?;
            lap(&mut report.seconds, "label", t);
        }
        Ok(())
    }
}

/// Record-level checks that need the raw cells (encoding damage), then the graph builder.
fn check_and_build(
    ctx: &Context<'_>,
    columns: &[String],
    cells: &[Option<String>],
) -> Result<Built, Vec<String>> {
    let mut reasons = Vec::new();
    for (field, &i) in ctx.fields {
        if let Some(Some(v)) = cells.get(i) {
            if v.contains('\u{fffd}') {
                reasons.push(format!(
                    "column {:?} ({field}) holds bytes that are not valid text in the file's encoding",
                    columns[i]
                ));
            }
            if field == "title" && v.chars().count() > MAX_TITLE_CHARS {
                reasons.push(format!(
                    "title is {} characters long (limit {MAX_TITLE_CHARS})",
                    v.chars().count()
                ));
            }
        }
    }
    match graph::build(ctx, cells) {
        Ok(b) if reasons.is_empty() => Ok(b),
        Ok(_) => Err(reasons),
        Err(more) => {
            reasons.extend(more);
            Err(reasons)
        }
    }
}

/// Masks personal names and street addresses in the review texts of a batch, in the text
/// given to the labeller and in the `schema:reviewBody` written.
fn mask_review_people(tagger: &crate::inventory::ner::NameTagger, batch: &mut [Built]) {
    let texts: Vec<&str> = batch.iter().filter_map(|b| b.text.as_deref()).collect();
    if texts.is_empty() {
        return;
    }
    let mut masked = tagger.mask_people(&texts).into_iter();
    let body = format!("{}reviewBody", crate::catalog::vocab::SCHEMA);
    for b in batch.iter_mut().filter(|b| b.text.is_some()) {
        let Some(m) = masked.next() else { break };
        if b.text.as_deref() == Some(m.as_str()) {
            continue;
        }
        for s in b.statements.iter_mut().filter(|s| s.predicate == body) {
            s.object = Object::string(m.clone());
        }
        b.text = Some(m);
    }
}

/// Drops from `batch` the records the product graph already holds exactly (same content hash
/// under the same labeller) and stamps the others with their hash; returns how many it dropped.
fn skip_unchanged(
    catalog: &Catalog,
    batch: &mut Vec<Built>,
    labeler: Option<&Labeler>,
) -> Result<u64, IngestError> {
    let salt = labeler.map(Labeler::identity).unwrap_or_default();
    let products = catalog.layout().products.clone();
    let predicate = format!("{ST}recordHash");
    let before = batch.len();
    let mut kept = Vec::with_capacity(before);
    for mut b in batch.drain(..) {
        let mut parts: Vec<String> = b.statements.iter().map(|s| format!("{s:?}")).collect();
        parts.push(salt.clone());
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let hash = graph::content_key(&refs);
        if catalog.objects(&products, &b.subject, &predicate)? == [hash.as_str()] {
            continue;
        }
        b.statements
            .push(Statement::new(&b.subject, &predicate, Object::string(hash)));
        kept.push(b);
    }
    *batch = kept;
    Ok((before - batch.len()) as u64)
}
