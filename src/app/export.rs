//! The anonymised-export use case (数据匿名化), the same from `stocktake export anonymised` and
//! `POST /api/v1/exports/anonymised`: the inventory reads what each column holds, the policy
//! (or the defaults per semantic type) picks the operators, `privacy::anon` releases a table
//! that is k-anonymous and l-diverse over the quasi-identifiers, and the export is recorded as
//! PROV in the catalog (policy, k, l, rows in, out and suppressed, the released file's hash,
//! who) and in the audit log. The released table is returned, never stored in the catalog.

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{App, AppError};
use crate::catalog::vocab::{PROV, RDF, ST};
use crate::catalog::{Object, Statement, Visibility};
use crate::inventory::semantic::{name_words, SemanticType};
use crate::inventory::{self, Confinement};
use crate::privacy::anon::{self, Anonymised, ColumnKind, ExportKey, Plan, Policy};
use crate::privacy::pii::PiiType;

/// One export as a face asks for it.
pub struct ExportJob<'a> {
    /// The user-level file (CSV/TSV/JSONL, `.gz` too).
    pub source: &'a Path,
    /// The policy, parsed, and its text (recorded with the export).
    pub policy: &'a Policy,
    pub policy_text: &'a str,
    /// Folders the file must resolve into (the caller's roots); `None`: anywhere but the store.
    pub confine: Option<&'a Confinement>,
    /// Who asked (the audit log and the PROV record name them).
    pub who: &'a str,
    pub role: &'a str,
    /// What the caller reads. An admin (or the local operator) may export any file, keep
    /// direct identifiers and set any k. Anyone else needs a grant on the inventoried asset
    /// (`stocktake token grant NAME --asset IRI`) and is held to `[privacy] export_min_k` and
    /// the default quasi-identifiers.
    pub vis: &'a Visibility,
}

/// A private copy of the file to export, in a folder of the system's temporary directory only
/// the server's user can enter (mode 0700; never the store, whose backups would keep it),
/// removed when dropped.
struct PrivateCopy {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl PrivateCopy {
    fn of(source: &Path, confine: &Confinement) -> Result<Self, AppError> {
        use std::io::Read as _;
        let resolved = confine.check(source).map_err(AppError::Forbidden)?;
        let mut file = std::fs::File::open(&resolved)
            .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", source.display())))?;
        confine.check_open(&file).map_err(AppError::Forbidden)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", source.display())))?;
        let mut nonce = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut nonce);
        let dir = std::env::temp_dir().join(format!("stocktake-export-{}", hex::encode(nonce)));
        let io = |e: std::io::Error| AppError::Invalid(format!("private copy for the export: {e}"));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir).map_err(io)?;
        let copy = PrivateCopy {
            path: dir.join(source.file_name().unwrap_or_else(|| "export".as_ref())),
            dir,
        };
        std::fs::write(&copy.path, &bytes).map_err(io)?;
        Ok(copy)
    }
}

impl Drop for PrivateCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A finished export: the released table and report, and its record in the catalog.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    #[serde(flatten)]
    pub report: anon::ExportReport,
    /// The export's PROV activity in the catalog graph.
    pub activity: String,
    /// SHA-256 of the released CSV.
    pub sha256: String,
    /// Source rows that could not be parsed: left out, never released.
    pub rows_unreadable: usize,
    #[serde(skip)]
    pub csv: Vec<u8>,
}

impl App {
    /// Runs `job`. Blocking (it profiles and reads the whole file).
    pub fn export_anonymised(&self, job: &ExportJob) -> Result<Exported, AppError> {
        if !job.source.is_file() {
            return Err(AppError::Invalid(format!(
                "{} is not a file",
                job.source.display()
            )));
        }
        let local = Confinement::new(None, std::slice::from_ref(&self.config.data));
        let confine = job.confine.unwrap_or(&local);
        // The file is read once, through a checked handle, into a private copy that the
        // profile, the grant's content hash and the rows all come from: swapping the file
        // between the check and the read changes nothing.
        let copy = PrivateCopy::of(job.source, confine)?;
        let options = inventory::ScanOptions {
            confine: None,
            ner: self.name_tagger(),
            ..Default::default()
        };
        let source = inventory::Source::Files(copy.path.clone());
        let report = inventory::scan(&source, &options)?;
        let scanned = report.assets.first().ok_or_else(|| {
            AppError::Invalid(format!(
                "{} is not a CSV, TSV or JSONL file",
                job.source.display()
            ))
        })?;
        if let Some(e) = &scanned.error {
            return Err(AppError::Invalid(format!(
                "cannot read {}: {e}",
                job.source.display()
            )));
        }
        if !job.vis.is_admin() {
            self.check_export_grant(job, &scanned.content_hash)?;
        }
        let columns: Vec<(String, ColumnKind)> = scanned
            .scanned_columns
            .iter()
            .map(|c| {
                (
                    c.profile.name.clone(),
                    kind_of(&c.profile.name, c.semantic.kind),
                )
            })
            .collect();
        let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
        let records =
            crate::ingest::read::open(&copy.path, scanned.encoding.as_deref(), &names, None)
                .map_err(AppError::Invalid)?;
        let positions: Vec<Option<usize>> = names
            .iter()
            .map(|n| records.columns.iter().position(|c| c == n))
            .collect();
        let mut rows = Vec::new();
        let mut unreadable = 0;
        for row in records {
            match row {
                Ok((_, cells)) => rows.push(
                    positions
                        .iter()
                        .map(|p| {
                            p.and_then(|p| cells.get(p).cloned().flatten())
                                .unwrap_or_default()
                        })
                        .collect::<Vec<String>>(),
                ),
                Err(_) => unreadable += 1,
            }
        }
        let widths: Vec<usize> = (0..names.len())
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        let min_k = (!job.vis.is_admin()).then_some(self.config.privacy.export_min_k);
        let plan = Plan::new(job.policy, &columns, &widths, min_k)?;
        // Pseudonyms are keyed from the store's pseudonym secret (sealed by the keyring).
        let vault = self.keyring()?;
        let secret = crate::ingest::pseudonym_secret(&self.config.data, &vault)?;
        let key = ExportKey::derive(&secret, &plan.name);
        let released = anon::anonymise(&plan, &rows, &key);
        let csv = to_csv(&released)?;
        let sha256 = hex::encode(Sha256::digest(&csv));
        let activity = self.record_export(job, &released, &sha256, &scanned.content_hash)?;
        self.audit()?.record(
            job.who,
            job.role,
            "export-anonymised",
            &job.source.display().to_string(),
            &format!(
                "policy {}, k={}, l={}, {} rows out, {} suppressed",
                plan.name,
                released.report.k,
                released.report.l,
                released.report.rows_out,
                released.report.rows_suppressed
            ),
            csv.len(),
        );
        Ok(Exported {
            report: released.report,
            activity,
            sha256,
            rows_unreadable: unreadable,
            csv,
        })
    }

    /// The inventoried assets whose recorded content is exactly these bytes.
    fn inventoried_assets(&self, content_hash: &Option<String>) -> Result<Vec<String>, AppError> {
        let Some(h) = content_hash else {
            return Ok(Vec::new());
        };
        let layout = self.catalog.layout();
        Ok(self
            .catalog
            .subjects(
                &layout.catalog,
                &format!("{ST}contentHash"),
                &Object::string(h),
            )?
            .into_iter()
            .filter_map(|d| d.strip_suffix("/distribution").map(str::to_owned))
            .collect())
    }

    /// A non-admin exports user-level data only of an asset their token is granted: the file
    /// must be inventoried as it is now (its content hash recorded by a scan), and the grant
    /// names that asset.
    fn check_export_grant(
        &self,
        job: &ExportJob,
        content_hash: &Option<String>,
    ) -> Result<(), AppError> {
        let assets = self.inventoried_assets(content_hash)?;
        let granted = job
            .vis
            .grants()
            .is_some_and(|g| assets.iter().any(|a| g.subjects.contains(a)));
        if granted {
            return Ok(());
        }
        Err(AppError::Forbidden(match assets.first() {
            None => format!(
                "{} is not in the inventory as it is now (never scanned, or changed since): an \
                 export of user-level data needs a grant on its asset; scan it, then an admin \
                 runs `stocktake token grant {} --asset ASSET-IRI`",
                job.source.display(),
                job.who
            ),
            Some(asset) => format!(
                "token '{}' is not granted asset <{asset}>: an admin grants it with \
                 `stocktake token grant {} --asset {asset}`",
                job.who, job.who
            ),
        }))
    }

    fn record_export(
        &self,
        job: &ExportJob,
        released: &Anonymised,
        sha256: &str,
        content_hash: &Option<String>,
    ) -> Result<String, AppError> {
        let r = &released.report;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let s = format!(
            "{}export/{}",
            self.config.catalog.base_iri,
            crate::inventory::record::short_hash(&[&now, sha256, job.who])
        );
        let file = format!("{s}/file");
        let st = |l: &str| format!("{ST}{l}");
        let mut statements = vec![
            Statement::new(
                &s,
                format!("{RDF}type"),
                Object::iri(st("AnonymisedExport")),
            ),
            Statement::new(
                &s,
                format!("{RDF}type"),
                Object::iri(format!("{PROV}Activity")),
            ),
            Statement::new(
                &s,
                st("sourceAsset"),
                Object::string(job.source.display().to_string()),
            ),
            Statement::new(&s, st("policyName"), Object::string(&r.policy)),
            Statement::new(&s, st("policy"), Object::string(job.policy_text)),
            Statement::new(&s, st("kAnonymity"), Object::integer(r.k as u64)),
            Statement::new(&s, st("lDiversity"), Object::integer(r.l as u64)),
            Statement::new(&s, st("rowsIn"), Object::integer(r.rows_in as u64)),
            Statement::new(&s, st("rowsOut"), Object::integer(r.rows_out as u64)),
            Statement::new(
                &s,
                st("rowsSuppressed"),
                Object::integer(r.rows_suppressed as u64),
            ),
            Statement::new(
                &s,
                st("smallestClass"),
                Object::integer(r.smallest_class as u64),
            ),
            Statement::new(&s, format!("{PROV}startedAtTime"), Object::datetime(&now)),
            Statement::new(
                &s,
                format!("{PROV}wasAssociatedWith"),
                Object::string(job.who),
            ),
            Statement::new(&s, format!("{PROV}generated"), Object::iri(&file)),
            Statement::new(
                &file,
                format!("{RDF}type"),
                Object::iri(format!("{PROV}Entity")),
            ),
            Statement::new(&file, st("contentHash"), Object::string(sha256)),
            Statement::new(&file, format!("{PROV}wasGeneratedBy"), Object::iri(&s)),
        ];
        // The inventoried asset with these exact bytes, when a scan has recorded one.
        for asset in self.inventoried_assets(content_hash)? {
            statements.push(Statement::new(
                &s,
                format!("{PROV}used"),
                Object::iri(asset),
            ));
        }
        for c in &r.columns {
            let col = format!(
                "{s}/column/{}",
                crate::inventory::record::short_hash(&[&c.name])
            );
            statements.extend([
                Statement::new(&s, st("exportColumn"), Object::iri(&col)),
                Statement::new(&col, st("columnName"), Object::string(&c.name)),
                Statement::new(&col, st("operator"), Object::string(c.operator.as_str())),
            ]);
            if c.quasi_identifier {
                statements.push(Statement::new(
                    &col,
                    st("quasiIdentifier"),
                    Object::boolean(true),
                ));
            }
            if let Some(rung) = &c.released_as {
                statements.push(Statement::new(&col, st("releasedAs"), Object::string(rung)));
            }
        }
        self.catalog.replace_subjects(
            &self.catalog.layout().catalog,
            std::slice::from_ref(&s),
            &statements,
        )?;
        self.flush()?;
        Ok(s)
    }
}

/// The released table as CSV (header first).
fn to_csv(a: &Anonymised) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| AppError::Io {
        what: "cannot write the export".into(),
        source: std::io::Error::other(e.to_string()),
    };
    w.write_record(&a.header).map_err(io)?;
    for r in &a.rows {
        w.write_record(r).map_err(io)?;
    }
    w.into_inner().map_err(|e| AppError::Io {
        what: "cannot write the export".into(),
        source: e.into_error(),
    })
}

/// What a column holds, for the anonymiser: the inventory's semantic type, refined by the
/// column's name where the type alone does not tell (a user id from a product id, a city from
/// other categories, an age from other numbers).
pub fn kind_of(name: &str, semantic: SemanticType) -> ColumnKind {
    let words = name_words(name);
    let has = |keys: &[&str]| keys.iter().any(|k| words.contains(&format!(" {k} ")));
    let lower = name.to_lowercase();
    let contains = |keys: &[&str]| keys.iter().any(|k| lower.contains(k));
    // A column named for a person's id is one, whatever its values look like (`uid` numbers,
    // `userid` codes): failing to see it would release it raw and count rows as people.
    let squashed: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
    let person_name = [
        "user", "customer", "member", "buyer", "uid", "account", "person", "client",
    ]
    .iter()
    .any(|k| squashed.contains(k))
        || contains(&["用户", "会员", "客户", "买家"]);
    let id_like = matches!(
        semantic,
        SemanticType::Id
            | SemanticType::Number
            | SemanticType::Code
            | SemanticType::Text
            | SemanticType::Category
            | SemanticType::Quantity
    );
    if person_name
        && id_like
        && (squashed.ends_with("id")
            || squashed == "uid"
            || has(&["no", "number", "key"])
            || semantic == SemanticType::Id)
    {
        return ColumnKind::PersonId;
    }
    match semantic {
        SemanticType::Pii(p) => match p.0 {
            PiiType::Phone => ColumnKind::Phone,
            PiiType::Email => ColumnKind::Email,
            PiiType::IdCard => ColumnKind::IdCard,
            PiiType::BankCard => ColumnKind::BankCard,
            PiiType::PersonName => ColumnKind::PersonName,
            PiiType::Address => ColumnKind::Address,
            PiiType::Uscc => ColumnKind::Uscc,
            PiiType::IpAddress => ColumnKind::IpAddress,
            PiiType::Passport => ColumnKind::Passport,
            PiiType::BirthDate => ColumnKind::BirthDate,
        },
        SemanticType::Id
            if has(&["user", "customer", "member", "buyer", "uid", "person"])
                || contains(&["用户", "会员", "客户", "买家"]) =>
        {
            ColumnKind::PersonId
        }
        SemanticType::Id => ColumnKind::OtherId,
        SemanticType::Timestamp => ColumnKind::Timestamp,
        SemanticType::Date if has(&["birth", "birthday", "dob"]) || contains(&["生日", "出生"]) => {
            ColumnKind::BirthDate
        }
        SemanticType::Date => ColumnKind::Date,
        SemanticType::ReviewText | SemanticType::FreeText => ColumnKind::FreeText,
        _ if has(&["city"]) || contains(&["城市"]) => ColumnKind::City,
        _ if has(&["zip", "postcode", "postal", "zipcode"]) || contains(&["邮编"]) => {
            ColumnKind::Postcode
        }
        _ if has(&["gender", "sex"]) || contains(&["性别"]) => ColumnKind::Gender,
        SemanticType::Number | SemanticType::Quantity if has(&["age"]) || contains(&["年龄"]) => {
            ColumnKind::Age
        }
        _ => ColumnKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_types_and_names() {
        assert_eq!(kind_of("user_id", SemanticType::Id), ColumnKind::PersonId);
        assert_eq!(kind_of("product_id", SemanticType::Id), ColumnKind::OtherId);
        assert_eq!(
            kind_of("customer_city", SemanticType::Category),
            ColumnKind::City
        );
        assert_eq!(kind_of("城市", SemanticType::Text), ColumnKind::City);
        assert_eq!(kind_of("age", SemanticType::Number), ColumnKind::Age);
        assert_eq!(
            kind_of("birthday", SemanticType::Date),
            ColumnKind::BirthDate
        );
        assert_eq!(
            kind_of("zip_code", SemanticType::Code),
            ColumnKind::Postcode
        );
        assert_eq!(kind_of("registered", SemanticType::Date), ColumnKind::Date);
        assert_eq!(kind_of("brand", SemanticType::Category), ColumnKind::Other);
        assert_eq!(kind_of("uid", SemanticType::Number), ColumnKind::PersonId);
        assert_eq!(kind_of("userid", SemanticType::Code), ColumnKind::PersonId);
        assert_eq!(
            kind_of("customer_unique_id", SemanticType::Text),
            ColumnKind::PersonId
        );
        assert_eq!(kind_of("用户ID", SemanticType::Code), ColumnKind::PersonId);
        assert_eq!(kind_of("user_agent", SemanticType::Text), ColumnKind::Other);
        assert_eq!(
            kind_of("customer_zip_code_prefix", SemanticType::Code),
            ColumnKind::Postcode
        );
    }
}
