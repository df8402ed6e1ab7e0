//! k-anonymity and distinct l-diversity over declared quasi-identifiers, enforced by
//! full-domain generalisation and then suppression (Samarati's lattice search, or Sweeney's
//! Datafly on large tables), counting people in place of rows.
//!
//! An equivalence class is the set of rows that agree on every quasi-identifier once
//! generalised. It is released only when it holds at least `k` *people* (rows of one person
//! count once: a behaviour log with ten rows per user is not ten times safer) and, when a
//! sensitive column is declared, at least `l` distinct sensitive values. Where the lattice of
//! full-domain generalisations is small enough (nodes × rows ≤ 50 million), every node is tried,
//! least generalised first, and the first that holds with at most the allowed share of rows
//! suppressed is released (optimal for the report's precision; fewest suppressions among
//! ties). Past that, Datafly's greedy climb: the column with the most distinct values one rung
//! at a time, then suppression — it may generalise more than needed; the report says how much
//! precision was kept so a policy owner can see the cost.

use std::collections::{HashMap, HashSet};

use super::hierarchy::Hierarchy;

/// One quasi-identifier: the column it reads, its ladder and the lowest rung allowed.
#[derive(Debug, Clone, Copy)]
pub struct Quasi {
    pub column: usize,
    pub hierarchy: Hierarchy,
    pub floor: u8,
}

/// What must hold in every released class.
#[derive(Debug, Clone, Copy)]
pub struct Requirement {
    pub k: usize,
    pub l: usize,
    /// Largest share of rows that may be suppressed instead of generalising further.
    pub max_suppression: f64,
    /// A person's rows can be linked in the release (their id is released, pseudonymised or
    /// not): a class is then the people with the same *set* of generalised values, since an
    /// attacker joining two rows of one person would otherwise narrow them below k.
    pub linked: bool,
}

/// The search's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Rung per quasi-identifier (same order as the input).
    pub levels: Vec<u8>,
    /// Per row: withheld from the release.
    pub suppressed: Vec<bool>,
    /// Released classes.
    pub classes: usize,
    /// People in the smallest released class (0 when nothing is released).
    pub smallest_class: usize,
    /// Distinct sensitive values in the least diverse released class.
    pub lowest_diversity: Option<usize>,
    /// The generalisations made, in order, for the report.
    pub steps: Vec<String>,
}

/// Finds rungs and suppressions under which every released class of `rows` satisfies `req`.
/// `person` names the column identifying a person (rows without one count as one person each);
/// `sensitive` the column l-diversity is measured on; `names` the columns' names for the steps.
pub fn enforce(
    rows: &[Vec<String>],
    quasi: &[Quasi],
    person: Option<usize>,
    sensitive: Option<usize>,
    req: Requirement,
    names: &[String],
) -> Outcome {
    enforce_within(rows, quasi, person, sensitive, req, names, LATTICE_WORK)
}

/// [`enforce`] with the exhaustive search limited to `work` row evaluations.
fn enforce_within(
    rows: &[Vec<String>],
    quasi: &[Quasi],
    person: Option<usize>,
    sensitive: Option<usize>,
    req: Requirement,
    names: &[String],
    work: usize,
) -> Outcome {
    let floors: Vec<u8> = quasi
        .iter()
        .map(|q| q.floor.min(q.hierarchy.top()))
        .collect();
    let budget = (req.max_suppression.clamp(0.0, 1.0) * rows.len() as f64).floor() as usize;
    let people = intern_column(rows, person);
    let diverse = intern_column(rows, sensitive);
    let ctx = Ctx {
        people: people.as_deref(),
        sensitive: diverse.as_deref(),
        req,
        n: rows.len(),
    };
    let nodes = quasi
        .iter()
        .zip(&floors)
        .map(|(q, &f)| usize::from(q.hierarchy.top() - f) + 1)
        .fold(1usize, usize::saturating_mul);
    if nodes.saturating_mul(rows.len().max(1)) <= work {
        return lattice(rows, quasi, &floors, &ctx, budget, names);
    }
    // Too large to search every generalisation: Datafly's greedy climb.
    let mut levels = floors;
    let mut values: Vec<Vec<u32>> = quasi
        .iter()
        .zip(&levels)
        .map(|(q, &l)| column_at(rows, q, l))
        .collect();
    let mut steps = Vec::new();
    loop {
        let classes = ctx.classes(&values);
        let violating: usize = classes
            .iter()
            .filter(|c| !c.holds(req))
            .map(|c| c.rows.len())
            .sum();
        let climbable = (0..quasi.len())
            .filter(|&i| levels[i] < quasi[i].hierarchy.top())
            .max_by_key(|&i| (distinct(&values[i]), std::cmp::Reverse(i)));
        if violating <= budget || climbable.is_none() {
            return finish(&ctx, classes, levels, steps);
        }
        let i = climbable.expect("checked above");
        levels[i] += 1;
        values[i] = column_at(rows, &quasi[i], levels[i]);
        steps.push(format!(
            "{} → {} ({violating} rows in classes under k={} or l={})",
            names[quasi[i].column],
            quasi[i].hierarchy.rung_name(levels[i]),
            req.k,
            req.l
        ));
    }
}

/// Row evaluations an exhaustive search may spend (nodes × rows); past it, the greedy climb.
const LATTICE_WORK: usize = 50_000_000;

/// Every full-domain generalisation between the floors and the tops, least generalised
/// first (mean rung height): the first that holds with at most `budget` rows suppressed is
/// optimal for the report's precision; among equally generalised ones, the one suppressing
/// fewest rows wins.
fn lattice(
    rows: &[Vec<String>],
    quasi: &[Quasi],
    floors: &[u8],
    ctx: &Ctx,
    budget: usize,
    names: &[String],
) -> Outcome {
    // Each column at each rung, interned once.
    let rungs: Vec<Vec<Vec<u32>>> = quasi
        .iter()
        .zip(floors)
        .map(|(q, &f)| {
            (f..=q.hierarchy.top())
                .map(|l| column_at(rows, q, l))
                .collect()
        })
        .collect();
    let mut nodes: Vec<Vec<u8>> = vec![Vec::new()];
    for (q, &f) in quasi.iter().zip(floors) {
        nodes = nodes
            .into_iter()
            .flat_map(|n| {
                (f..=q.hierarchy.top()).map(move |l| {
                    let mut m = n.clone();
                    m.push(l);
                    m
                })
            })
            .collect();
    }
    let height = |n: &[u8]| -> f64 {
        n.iter()
            .zip(quasi)
            .map(|(&l, q)| f64::from(l) / f64::from(q.hierarchy.top()))
            .sum()
    };
    nodes.sort_by(|a, b| height(a).total_cmp(&height(b)));
    let total = nodes.len();
    let mut best: Option<(Vec<u8>, Vec<Class>, usize)> = None;
    let mut evaluated = 0;
    for node in nodes {
        if let Some((b, _, _)) = &best {
            if height(&node) > height(b) + 1e-12 {
                break;
            }
        }
        evaluated += 1;
        let values: Vec<Vec<u32>> = node
            .iter()
            .enumerate()
            .map(|(i, &l)| rungs[i][usize::from(l - floors[i])].clone())
            .collect();
        let classes = ctx.classes(&values);
        let violating: usize = classes
            .iter()
            .filter(|c| !c.holds(ctx.req))
            .map(|c| c.rows.len())
            .sum();
        if violating <= budget && best.as_ref().is_none_or(|(_, _, v)| violating < *v) {
            best = Some((node, classes, violating));
        }
    }
    // Every rung at the top holds unless there are fewer than k people in all: then the top,
    // with everything suppressed.
    let (levels, classes) = match best {
        Some((levels, classes, _)) => (levels, classes),
        None => {
            let top: Vec<u8> = quasi.iter().map(|q| q.hierarchy.top()).collect();
            let values: Vec<Vec<u32>> = top
                .iter()
                .enumerate()
                .map(|(i, &l)| rungs[i][usize::from(l - floors[i])].clone())
                .collect();
            let classes = ctx.classes(&values);
            (top, classes)
        }
    };
    let chosen: Vec<String> = levels
        .iter()
        .zip(quasi)
        .map(|(&l, q)| format!("{} {}", names[q.column], q.hierarchy.rung_name(l)))
        .collect();
    let steps = vec![format!(
        "searched {evaluated} of {total} full-domain generalisations; the least generalised that \
         holds k={} and l={}: {}",
        ctx.req.k,
        ctx.req.l,
        if chosen.is_empty() {
            "no quasi-identifiers".to_string()
        } else {
            chosen.join(", ")
        }
    )];
    finish(ctx, classes, levels, steps)
}

fn column_at(rows: &[Vec<String>], q: &Quasi, level: u8) -> Vec<u32> {
    intern(rows.iter().map(|r| q.hierarchy.at(&r[q.column], level)))
}

fn intern_column(rows: &[Vec<String>], column: Option<usize>) -> Option<Vec<u32>> {
    column.map(|c| intern(rows.iter().map(|r| r[c].clone())))
}

/// Values as small integers (equal values, equal codes).
fn intern(values: impl Iterator<Item = String>) -> Vec<u32> {
    let mut codes: HashMap<String, u32> = HashMap::new();
    values
        .map(|v| {
            let next = codes.len() as u32;
            *codes.entry(v).or_insert(next)
        })
        .collect()
}

fn distinct(values: &[u32]) -> usize {
    values.iter().collect::<HashSet<_>>().len()
}

/// What class statistics are counted over.
struct Ctx<'a> {
    people: Option<&'a [u32]>,
    sensitive: Option<&'a [u32]>,
    req: Requirement,
    n: usize,
}

#[derive(Default)]
struct Acc {
    rows: Vec<usize>,
    people: HashSet<u32>,
    sensitive: HashSet<u32>,
}

impl Ctx<'_> {
    fn classes(&self, values: &[Vec<u32>]) -> Vec<Class> {
        if let (true, Some(people)) = (self.req.linked, self.people) {
            return self.linked_classes(values, people);
        }
        let mut by_key: HashMap<Vec<u32>, Acc> = HashMap::new();
        for r in 0..self.n {
            let key: Vec<u32> = values.iter().map(|v| v[r]).collect();
            let acc = by_key.entry(key).or_default();
            acc.rows.push(r);
            if let Some(p) = self.people {
                acc.people.insert(p[r]);
            }
            if let Some(s) = self.sensitive {
                acc.sensitive.insert(s[r]);
            }
        }
        self.finish_classes(by_key.into_values())
    }

    /// Classes of people by the set of their rows' keys.
    fn linked_classes(&self, values: &[Vec<u32>], people: &[u32]) -> Vec<Class> {
        let mut rows_of: HashMap<u32, Vec<usize>> = HashMap::new();
        for (r, p) in people.iter().enumerate().take(self.n) {
            rows_of.entry(*p).or_default().push(r);
        }
        let mut by_set: HashMap<Vec<Vec<u32>>, Acc> = HashMap::new();
        for (p, rows) in rows_of {
            let mut set: Vec<Vec<u32>> = rows
                .iter()
                .map(|&r| values.iter().map(|v| v[r]).collect())
                .collect();
            set.sort_unstable();
            set.dedup();
            let acc = by_set.entry(set).or_default();
            acc.people.insert(p);
            if let Some(s) = self.sensitive {
                acc.sensitive.extend(rows.iter().map(|&r| s[r]));
            }
            acc.rows.extend(rows);
        }
        self.finish_classes(by_set.into_values())
    }

    fn finish_classes(&self, accs: impl Iterator<Item = Acc>) -> Vec<Class> {
        accs.map(|a| Class {
            people: if self.people.is_some() {
                a.people.len()
            } else {
                a.rows.len()
            },
            diversity: if self.sensitive.is_some() {
                a.sensitive.len()
            } else {
                usize::MAX
            },
            rows: a.rows,
        })
        .collect()
    }
}

struct Class {
    rows: Vec<usize>,
    people: usize,
    diversity: usize,
}

impl Class {
    fn holds(&self, req: Requirement) -> bool {
        self.people >= req.k && self.diversity >= req.l
    }
}

fn finish(ctx: &Ctx, classes: Vec<Class>, levels: Vec<u8>, steps: Vec<String>) -> Outcome {
    let mut suppressed = vec![false; ctx.n];
    let mut released = 0;
    let mut smallest = usize::MAX;
    let mut lowest = usize::MAX;
    for c in &classes {
        if c.holds(ctx.req) {
            released += 1;
            smallest = smallest.min(c.people);
            lowest = lowest.min(c.diversity);
        } else {
            for &r in &c.rows {
                suppressed[r] = true;
            }
        }
    }
    Outcome {
        levels,
        suppressed,
        classes: released,
        smallest_class: if released == 0 { 0 } else { smallest },
        lowest_diversity: (ctx.sensitive.is_some() && released > 0).then_some(lowest),
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(cities: &[&str], days: &[&str], ill: &[&str]) -> Vec<Vec<String>> {
        (0..cities.len())
            .map(|i| {
                vec![
                    format!("u{i}"),
                    cities[i].to_string(),
                    days[i].to_string(),
                    ill[i].to_string(),
                ]
            })
            .collect()
    }

    fn names() -> Vec<String> {
        ["id", "city", "day", "ill"].map(String::from).to_vec()
    }

    const QUASI: [Quasi; 2] = [
        Quasi {
            column: 1,
            hierarchy: Hierarchy::City,
            floor: 0,
        },
        Quasi {
            column: 2,
            hierarchy: Hierarchy::Date,
            floor: 0,
        },
    ];

    #[test]
    fn generalises_the_most_distinct_column_first() {
        let rows = table(
            &["北京", "北京", "北京", "上海", "上海", "上海"],
            &[
                "2024-01-01",
                "2024-01-02",
                "2024-01-03",
                "2024-01-04",
                "2024-01-05",
                "2024-01-06",
            ],
            &["a", "b", "a", "b", "a", "b"],
        );
        let req = Requirement {
            k: 3,
            l: 2,
            max_suppression: 0.0,
            linked: false,
        };
        let out = enforce(&rows, &QUASI, Some(0), Some(3), req, &names());
        assert_eq!(out.levels, vec![0, 1], "days become months, cities stay");
        assert_eq!(out.suppressed, vec![false; 6]);
        assert_eq!((out.classes, out.smallest_class), (2, 3));
        assert_eq!(out.lowest_diversity, Some(2));
        assert!(
            out.steps[0].contains("city exact, day month"),
            "{:?}",
            out.steps
        );
        // The greedy climb (for tables too large to search) reaches the same here.
        let greedy = enforce_within(&rows, &QUASI, Some(0), Some(3), req, &names(), 0);
        assert_eq!(greedy.levels, vec![0, 1]);
        assert!(
            greedy.steps[0].starts_with("day → month"),
            "{:?}",
            greedy.steps
        );
    }

    #[test]
    fn suppresses_an_outlier_within_budget() {
        let mut cities = vec!["北京"; 9];
        cities.push("拉萨");
        let days = vec!["2024-01-01"; 10];
        let ill = vec!["a"; 10];
        let rows = table(&cities, &days, &ill);
        let req = Requirement {
            k: 5,
            l: 1,
            max_suppression: 0.1,
            linked: false,
        };
        let out = enforce(&rows, &QUASI, None, None, req, &names());
        assert_eq!(out.levels, vec![0, 0]);
        assert_eq!(out.suppressed.iter().filter(|s| **s).count(), 1);
        assert!(out.suppressed[9]);
    }

    #[test]
    fn people_not_rows_make_a_class() {
        // One person with five rows is one person, not five.
        let rows: Vec<Vec<String>> = (0..5)
            .map(|_| ["u1", "北京", "2024-01-01", "a"].map(String::from).to_vec())
            .collect();
        let req = Requirement {
            k: 2,
            l: 1,
            max_suppression: 0.0,
            linked: false,
        };
        let out = enforce(&rows, &QUASI, Some(0), None, req, &names());
        assert!(
            out.suppressed.iter().all(|s| *s),
            "too few people at any rung"
        );
        assert_eq!(out.classes, 0);
        let out = enforce(&rows, &QUASI, None, None, req, &names());
        assert!(
            out.suppressed.iter().all(|s| !*s),
            "as rows they would pass"
        );
    }

    proptest! {
        /// Whatever the data, every released class holds k people and l sensitive values.
        #[test]
        fn released_classes_always_hold(
            data in prop::collection::vec((0usize..8, 0usize..40, 0usize..3, 0usize..30), 1..120),
            k in 1usize..6, l in 1usize..3, supp in 0.0f64..0.3,
        ) {
            let cities = ["北京", "上海", "广州", "深圳", "杭州", "南京", "成都", "武汉"];
            let rows: Vec<Vec<String>> = data.iter().map(|&(c, d, s, p)| vec![
                format!("u{p}"), cities[c].to_string(),
                format!("2024-{:02}-{:02}", d % 12 + 1, d % 28 + 1), format!("s{s}"),
            ]).collect();
            let req = Requirement { k, l, max_suppression: supp, linked: false };
            for work in [0, LATTICE_WORK] {
            let out = enforce_within(&rows, &QUASI, Some(0), Some(3), req, &names(), work);
            let mut groups: HashMap<Vec<String>, (HashSet<String>, HashSet<String>)> = HashMap::new();
            for (r, row) in rows.iter().enumerate() {
                if out.suppressed[r] { continue; }
                let key: Vec<String> = QUASI.iter().zip(&out.levels)
                    .map(|(q, &lv)| q.hierarchy.at(&row[q.column], lv)).collect();
                let g = groups.entry(key).or_default();
                g.0.insert(row[0].clone());
                g.1.insert(row[3].clone());
            }
            for (people, sens) in groups.values() {
                prop_assert!(people.len() >= k && sens.len() >= l);
            }
            prop_assert_eq!(groups.len(), out.classes);
            }
        }

        /// The search never generalises more (by mean rung height) than the greedy climb.
        #[test]
        fn the_search_keeps_at_least_the_greedy_precision(
            data in prop::collection::vec((0usize..8, 0usize..40, 0usize..30), 1..80),
            k in 1usize..6, supp in 0.0f64..0.3,
        ) {
            let cities = ["北京", "上海", "广州", "深圳", "杭州", "南京", "成都", "武汉"];
            let rows: Vec<Vec<String>> = data.iter().map(|&(c, d, p)| vec![
                format!("u{p}"), cities[c].to_string(),
                format!("2024-{:02}-{:02}", d % 12 + 1, d % 28 + 1), "x".into(),
            ]).collect();
            let req = Requirement { k, l: 1, max_suppression: supp, linked: false };
            let height = |o: &Outcome| -> f64 {
                o.levels.iter().zip(&QUASI).map(|(&l, q)| f64::from(l) / f64::from(q.hierarchy.top())).sum()
            };
            let best = enforce_within(&rows, &QUASI, Some(0), None, req, &names(), LATTICE_WORK);
            let greedy = enforce_within(&rows, &QUASI, Some(0), None, req, &names(), 0);
            prop_assert!(height(&best) <= height(&greedy) + 1e-9);
        }
    }
}

#[cfg(test)]
mod linked_tests {
    use super::*;

    /// Two rows of one person in two classes that each hold k people: released with the
    /// person's pseudonym, joining them would single the person out; as sets they do not pass.
    #[test]
    fn a_persons_rows_are_judged_together_when_linkable() {
        let quasi = [Quasi {
            column: 1,
            hierarchy: Hierarchy::Flat,
            floor: 0,
        }];
        let mut rows: Vec<Vec<String>> = Vec::new();
        for p in 0..5 {
            rows.push(vec![format!("a{p}"), "day1".into()]);
            rows.push(vec![format!("b{p}"), "day2".into()]);
        }
        rows.push(vec!["t".into(), "day1".into()]);
        rows.push(vec!["t".into(), "day2".into()]);
        let names = ["id".to_string(), "day".to_string()];
        let req = Requirement {
            k: 5,
            l: 1,
            max_suppression: 0.2,
            linked: false,
        };
        let apart = enforce(&rows, &quasi, Some(0), None, req, &names);
        assert!(
            apart.suppressed.iter().all(|s| !s),
            "row by row each class holds 6"
        );
        let together = enforce(
            &rows,
            &quasi,
            Some(0),
            None,
            Requirement {
                linked: true,
                ..req
            },
            &names,
        );
        assert!(
            together.suppressed[10] && together.suppressed[11],
            "t's set is unique"
        );
        assert_eq!(together.suppressed.iter().filter(|s| **s).count(), 2);
    }
}
