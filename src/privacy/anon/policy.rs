//! The policy file and its resolution against a table: which operator each column gets, which
//! columns are quasi-identifiers and on which ladder, who the person is, and what a caller who
//! is not an admin may not ask for (keeping direct identifiers, k under the minimum, fewer
//! quasi-identifiers than the defaults).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{AnonError, ColumnKind, Hierarchy, Operator, Requirement};

/// A policy file (TOML). Every key is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Names the export; pseudonyms are stable per name (recurring shares join), different
    /// across names.
    pub name: Option<String>,
    /// Smallest number of people a released class may hold (default 5).
    pub k: Option<usize>,
    /// Fewest distinct sensitive values per class (default 2 with `sensitive`, else 1).
    pub l: Option<usize>,
    /// The column l-diversity protects (a diagnosis, a segment, a spend band).
    pub sensitive: Option<String>,
    /// The column that identifies a person: classes count people, dates shift per person.
    /// Default: the first pseudonymised column.
    pub person: Option<String>,
    /// The quasi-identifiers, exactly. Default: every masked or generalised column and every
    /// kept date, city, postcode, gender or age.
    pub quasi_identifiers: Option<Vec<String>>,
    /// Largest share of rows suppressed instead of generalising further (default 0.05).
    pub max_suppression: Option<f64>,
    /// Dates shift by up to this many days either way (default 30, at most 3650).
    pub date_shift_days: Option<u32>,
    /// Every row is a different person (a user table without an id column): classes count
    /// rows. Without it, a table with no person column is refused.
    pub one_row_per_person: Option<bool>,
    /// Operators by column name.
    #[serde(default)]
    pub columns: BTreeMap<String, Operator>,
}

impl Policy {
    pub fn parse(text: &str) -> Result<Policy, AnonError> {
        toml::from_str(text).map_err(|e| AnonError::Policy(e.message().to_string()))
    }

    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("default")
    }
}

/// One column's decided treatment.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnPlan {
    pub name: String,
    pub kind: ColumnKind,
    pub operator: Operator,
    /// The ladder and lowest rung, when the column is a quasi-identifier.
    #[serde(skip)]
    pub quasi: Option<(Hierarchy, u8)>,
}

/// A policy resolved against a table's columns.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub columns: Vec<ColumnPlan>,
    pub person: Option<usize>,
    pub sensitive: Option<usize>,
    pub requirement: Requirement,
    pub shift_days: u32,
}

impl Plan {
    /// Decides every column's operator and the quasi-identifiers. `widths` is the longest
    /// value per column (postcode ladders have one rung per character).
    ///
    /// `min_k`: the caller is not trusted with raw values (not an admin): k must reach it,
    /// direct identifiers cannot be kept as they are, and a policy's quasi-identifiers can add
    /// to the defaults but not remove any.
    pub fn new(
        policy: &Policy,
        columns: &[(String, ColumnKind)],
        widths: &[usize],
        min_k: Option<usize>,
    ) -> Result<Plan, AnonError> {
        let index = |name: &str| {
            columns.iter().position(|(c, _)| c == name).ok_or_else(|| {
                let all: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
                AnonError::UnknownColumn(name.to_string(), all.join(", "))
            })
        };
        for name in policy.columns.keys() {
            index(name)?;
        }
        let mut plans: Vec<ColumnPlan> = columns
            .iter()
            .map(|(name, kind)| ColumnPlan {
                name: name.clone(),
                kind: *kind,
                operator: policy
                    .columns
                    .get(name)
                    .copied()
                    .unwrap_or_else(|| kind.default_operator()),
                quasi: None,
            })
            .collect();
        let person = match &policy.person {
            Some(p) => Some(index(p)?),
            None => plans.iter().position(|c| c.operator == Operator::Pseudonym),
        };
        if min_k.is_some() {
            for c in &plans {
                let direct = c.kind.direct_identifier();
                if direct && matches!(c.operator, Operator::Keep | Operator::Shift) {
                    return Err(AnonError::Invalid(format!(
                        "'{}' holds {} (a direct identifier): only admins may release it as it \
                         is; drop, mask, generalise or pseudonymise it",
                        c.name,
                        c.kind.describe()
                    )));
                }
            }
        }
        let defaults: Vec<usize> = (0..plans.len())
            .filter(|&i| match plans[i].operator {
                Operator::Mask | Operator::Generalise => true,
                Operator::Keep => plans[i].kind.identifying(),
                _ => false,
            })
            .collect();
        let mut quasi: Vec<usize> = match &policy.quasi_identifiers {
            Some(names) => names.iter().map(|n| index(n)).collect::<Result<_, _>>()?,
            None => defaults.clone(),
        };
        if min_k.is_some() {
            for d in defaults {
                if !quasi.contains(&d) {
                    quasi.push(d);
                }
            }
            quasi.sort_unstable();
        }
        for &q in &quasi {
            let c = &mut plans[q];
            c.quasi = Some(match c.operator {
                Operator::Mask => (Hierarchy::Masked, 0),
                Operator::Generalise => (c.kind.hierarchy(widths[q]), c.kind.generalise_floor()),
                Operator::Keep => (c.kind.hierarchy(widths[q]), 0),
                op => {
                    return Err(AnonError::Invalid(format!(
                        "'{}' is a quasi-identifier but its operator is {}: only kept, masked or \
                         generalised columns can be (a {} column is not released as it is)",
                        c.name,
                        op.as_str(),
                        op.as_str()
                    )))
                }
            });
        }
        let sensitive = policy.sensitive.as_deref().map(index).transpose()?;
        if let Some(s) = sensitive {
            if plans[s].quasi.is_some() || plans[s].operator != Operator::Keep {
                return Err(AnonError::Invalid(format!(
                    "the sensitive column '{}' must be kept as it is (diversity is judged on the \
                     values released) and not be a quasi-identifier",
                    plans[s].name
                )));
            }
        }
        let k = policy.k.unwrap_or(5);
        if let Some(min) = min_k {
            if k < min {
                return Err(AnonError::Invalid(format!(
                    "k = {k} is below the {min} required of exports by non-admins ([privacy] export_min_k)"
                )));
            }
        }
        if person.is_none() && policy.one_row_per_person != Some(true) {
            return Err(AnonError::Invalid(
                "no column identifies a person, so classes could count one person's rows as \
                 several people: name it (`person = \"…\"`), or say `one_row_per_person = true`"
                    .into(),
            ));
        }
        let shift_days = policy.date_shift_days.unwrap_or(30);
        if shift_days > 3650 {
            return Err(AnonError::Invalid("date_shift_days is at most 3650".into()));
        }
        let l = policy.l.unwrap_or(if sensitive.is_some() { 2 } else { 1 });
        if k == 0 || l == 0 {
            return Err(AnonError::Invalid("k and l must be at least 1".into()));
        }
        if l > 1 && sensitive.is_none() {
            return Err(AnonError::Invalid(format!(
                "l = {l} needs a `sensitive` column to be diverse in"
            )));
        }
        let max_suppression = policy.max_suppression.unwrap_or(0.05);
        if !(0.0..=1.0).contains(&max_suppression) {
            return Err(AnonError::Invalid(
                "max_suppression is a share of rows, between 0 and 1".into(),
            ));
        }
        if person.is_none() && plans.iter().any(|c| c.operator == Operator::Shift) {
            return Err(AnonError::Invalid(
                "date shifting is per person: name the person column (`person = \"…\"`)".into(),
            ));
        }
        // The person's id released (pseudonymised or not) links their rows.
        let linked = person
            .is_some_and(|p| matches!(plans[p].operator, Operator::Keep | Operator::Pseudonym));
        Ok(Plan {
            name: policy.name().to_string(),
            columns: plans,
            person,
            sensitive,
            requirement: Requirement {
                k,
                l,
                max_suppression,
                linked,
            },
            shift_days,
        })
    }
}
