//! Content negotiation: picks a response format from the `Accept` header with q-values.
//!
//! The most specific matching media range decides a candidate's quality (RFC 9110 §12.5.1);
//! ties go to the server's preference order. No `Accept` header, or one that only says `*/*`,
//! yields the first candidate.

use super::ApiError;

#[derive(Debug)]
struct Range {
    kind: String,
    subtype: String,
    q: f32,
}

fn parse_accept(header: &str) -> Vec<Range> {
    header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let media = parts.next()?.trim().to_ascii_lowercase();
            let (kind, subtype) = media.split_once('/')?;
            let mut q = 1.0f32;
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("q") {
                        q = v.trim().parse().unwrap_or(0.0);
                    }
                }
            }
            Some(Range {
                kind: kind.trim().to_owned(),
                subtype: subtype.trim().to_owned(),
                q: q.clamp(0.0, 1.0),
            })
        })
        .collect()
}

/// Specificity and quality of the most specific range matching one media type.
fn quality(ranges: &[Range], media_type: &str) -> Option<(u8, f32)> {
    // Candidates may carry parameters (`text/csv; charset=utf-8`); ranges match the essence.
    let media_type = media_type.split(';').next().unwrap_or(media_type).trim();
    let (kind, subtype) = media_type.split_once('/').unwrap_or((media_type, ""));
    let mut best: Option<(u8, f32)> = None;
    for r in ranges {
        let specificity = if r.kind == kind && r.subtype == subtype {
            3
        } else if r.kind == kind && r.subtype == "*" {
            2
        } else if r.kind == "*" && r.subtype == "*" {
            1
        } else {
            continue;
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, r.q));
        }
    }
    best
}

/// Picks among `candidates` (in preference order), each with its media types (main first).
pub fn negotiate<T: Copy>(
    accept: Option<&str>,
    candidates: &[(T, &'static str, &'static [&'static str])],
) -> Result<T, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(candidates[0].0);
    };
    let ranges = parse_accept(accept);
    let mut best: Option<(T, f32)> = None;
    for (value, main, aliases) in candidates {
        // The most specific match over the main type and its aliases decides, so an explicit
        // `type;q=0` is not overridden by `*/*` matching an alias.
        let q = std::iter::once(main)
            .chain(aliases.iter())
            .filter_map(|m| quality(&ranges, m))
            .fold(None::<(u8, f32)>, |acc, (s, q)| match acc {
                Some((bs, bq)) if bs > s || (bs == s && bq >= q) => Some((bs, bq)),
                _ => Some((s, q)),
            })
            .map_or(0.0, |(_, q)| q);
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((*value, q));
        }
    }
    best.map(|(v, _)| v).ok_or_else(|| {
        let offered: Vec<&str> = candidates.iter().map(|(_, m, _)| *m).collect();
        ApiError::NotAcceptable(format!(
            "none of the requested media types ({accept}) can be produced; available: {}",
            offered.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &[(u8, &str, &[&str])] = &[
        (0, "application/sparql-results+json", &["application/json"]),
        (1, "application/sparql-results+xml", &["application/xml"]),
        (2, "text/csv; charset=utf-8", &[]),
    ];

    #[test]
    fn q_values_and_specificity() {
        assert_eq!(negotiate(None, C).unwrap(), 0);
        assert_eq!(negotiate(Some("text/csv"), C).unwrap(), 2);
        assert_eq!(
            negotiate(Some("application/sparql-results+json;q=0.5, text/csv"), C).unwrap(),
            2
        );
        assert_eq!(negotiate(Some("text/*;q=0.9, */*;q=0.1"), C).unwrap(), 2);
        assert_eq!(
            negotiate(Some("text/html,application/xml;q=0.9,*/*;q=0.8"), C).unwrap(),
            1
        );
        // A more specific range with q=0 excludes a type even under */*.
        assert_eq!(
            negotiate(Some("*/*, application/sparql-results+json;q=0"), C).unwrap(),
            1
        );
        assert!(matches!(
            negotiate(Some("image/png"), C),
            Err(ApiError::NotAcceptable(_))
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Fuzz target: any `Accept` header picks a candidate or says 406, never panics.
        #[test]
        fn any_accept_header_is_answered(accept in ".{0,200}", bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..120)) {
            for a in [accept, String::from_utf8_lossy(&bytes).into_owned()] {
                // Any answer is a candidate or a 406 (400 for a header we cannot read), and a
                // panic fails the target.
                if let Err(e) = negotiate(Some(&a), C) {
                    proptest::prop_assert!(matches!(e, ApiError::NotAcceptable(_) | ApiError::BadRequest(_)), "{e:?}");
                }
            }
        }
    }
}
