//! Alerts: rules pick change events (by type, asset glob and severity) and deliver them — to the
//! log, and as one JSON POST per rule and scan to a webhook, retried with exponential backoff.
//!
//! Delivery never fails a scan: a receiver that is down costs the retries, then the failure is
//! recorded with its reason. A 4xx answer (other than 408 and 429) is the receiver refusing the
//! payload and is not retried. Webhook URLs often carry secrets in their path (Slack, Feishu,
//! DingTalk robots), so the catalog records only their scheme and host.

use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use super::diff::{ChangeEvent, EventKind, Severity};
use super::{MonitorConfig, MonitorError};

/// `[[monitor.alerts]]`: which events go where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    pub name: String,
    /// Event types (`pii-appeared`, `column-dropped`, …); empty: all.
    #[serde(default)]
    pub events: Vec<String>,
    /// Globs over the asset's location or the source (`orders*`, `public.*`); empty: all.
    #[serde(default)]
    pub assets: Vec<String>,
    /// Only events at least this severe (after `severity` is applied).
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// The severity this rule gives the events it matches (default: the event type's).
    #[serde(default)]
    pub severity: Option<Severity>,
    /// `http://` or `https://` URL receiving a JSON POST.
    #[serde(default)]
    pub webhook: Option<String>,
    /// Also write each matched event to the log (at warn level).
    #[serde(default = "yes")]
    pub log: bool,
}

fn yes() -> bool {
    true
}

/// `[monitor.delivery]`: how hard to try a webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff_ms: u64,
    /// Limit for one attempt (connect, send, answer).
    pub timeout_ms: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            retries: 3,
            backoff_ms: 500,
            timeout_ms: 5000,
        }
    }
}

/// The outcome of delivering one rule's events of one scan to one channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    pub rule: String,
    /// `webhook`, `log` or `nats`.
    pub channel: String,
    /// Where it went (scheme and host only for webhooks).
    pub target: String,
    /// `delivered`, `failed` or `logged`.
    pub outcome: String,
    pub attempts: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
    /// When the delivery finished (RFC 3339).
    pub at: String,
    /// IRIs of the events carried.
    pub events: Vec<String>,
}

/// A rule ready to match.
pub struct Compiled<'a> {
    rule: &'a AlertRule,
    kinds: Vec<EventKind>,
    assets: Option<GlobSet>,
}

impl AlertRule {
    /// Checks the rule and compiles its globs.
    pub fn compile(&self) -> Result<Compiled<'_>, MonitorError> {
        let bad = |m: String| MonitorError::Config(format!("alert rule {:?}: {m}", self.name));
        let kinds = self
            .events
            .iter()
            .map(|e| {
                EventKind::from_name(e).ok_or_else(|| {
                    let all: Vec<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
                    bad(format!(
                        "unknown event type {e:?} (known: {})",
                        all.join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        let assets = if self.assets.is_empty() {
            None
        } else {
            let mut b = GlobSetBuilder::new();
            for g in &self.assets {
                b.add(Glob::new(g).map_err(|e| bad(format!("asset glob {g:?}: {e}")))?);
            }
            Some(b.build().map_err(|e| bad(e.to_string()))?)
        };
        if let Some(url) = &self.webhook {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(format!(
                    "webhook must be an http:// or https:// URL, got {url:?}"
                )));
            }
        }
        Ok(Compiled {
            rule: self,
            kinds,
            assets,
        })
    }
}

impl Compiled<'_> {
    /// The severity the rule gives `e`, when it matches.
    pub fn matches(&self, source: &str, e: &ChangeEvent) -> Option<Severity> {
        if !self.kinds.is_empty() && !self.kinds.contains(&e.kind) {
            return None;
        }
        if let Some(g) = &self.assets {
            if !g.is_match(&e.location) && !g.is_match(source) {
                return None;
            }
        }
        let severity = self.rule.severity.unwrap_or(e.severity);
        (severity >= self.rule.min_severity.unwrap_or(Severity::Info)).then_some(severity)
    }
}

/// `scheme://host[:port]` of a URL: what may be recorded of a webhook (parsed as a URL, so
/// credentials in the user part, path or query never survive; a URL that does not parse is not
/// echoed).
pub fn redact_webhook(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            _ => format!("{}://", u.scheme()),
        },
        Err(_) => "(invalid URL)".into(),
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Delivers the events each rule matches. `iris` are the events' catalog IRIs (same order).
/// Blocking (webhooks are retried with sleeps): call off the async runtime.
pub fn dispatch(
    config: &MonitorConfig,
    source: &str,
    scan: &str,
    events: &[ChangeEvent],
    iris: &[String],
) -> Vec<Delivery> {
    let mut out = Vec::new();
    if events.is_empty() {
        return out;
    }
    for rule in &config.alerts {
        let compiled = match rule.compile() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("{e}; the rule is skipped");
                continue;
            }
        };
        let matched: Vec<(usize, Severity)> = events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| compiled.matches(source, e).map(|s| (i, s)))
            .collect();
        if matched.is_empty() {
            continue;
        }
        let carried: Vec<String> = matched
            .iter()
            .filter_map(|(i, _)| iris.get(*i).cloned())
            .collect();
        if rule.log {
            for (i, s) in &matched {
                let e = &events[*i];
                tracing::warn!(rule = %rule.name, severity = s.name(), kind = e.kind.name(), "alert: {}", e.message);
            }
            out.push(Delivery {
                rule: rule.name.clone(),
                channel: "log".into(),
                target: "log".into(),
                outcome: "logged".into(),
                attempts: 1,
                status: None,
                error: None,
                at: now(),
                events: carried.clone(),
            });
        }
        if let Some(url) = &rule.webhook {
            let payload = serde_json::json!({
                "rule": rule.name,
                "source": source,
                "scan": scan,
                "severity": matched.iter().map(|(_, s)| *s).max().map(Severity::name),
                "events": matched.iter().map(|(i, s)| {
                    let e = &events[*i];
                    serde_json::json!({
                        "iri": iris.get(*i),
                        "type": e.kind.name(),
                        "severity": s.name(),
                        "location": e.location,
                        "column": e.column,
                        "message": e.message,
                        "old": e.old,
                        "new": e.new,
                        "metric": e.metric,
                    })
                }).collect::<Vec<_>>(),
            });
            let (outcome, attempts, status, error) = post(url, &payload, &config.delivery);
            if let Some(e) = &error {
                tracing::warn!(rule = %rule.name, target = %redact_webhook(url), attempts, "webhook delivery failed: {e}");
            }
            out.push(Delivery {
                rule: rule.name.clone(),
                channel: "webhook".into(),
                target: redact_webhook(url),
                outcome: outcome.into(),
                attempts,
                status,
                error,
                at: now(),
                events: carried,
            });
        }
    }
    out
}

/// POSTs `payload` with retries: (outcome, attempts, last HTTP status, last error).
pub fn post(
    url: &str,
    payload: &serde_json::Value,
    config: &DeliveryConfig,
) -> (&'static str, u32, Option<u16>, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_millis(config.timeout_ms.max(1))))
        .http_status_as_error(false)
        .user_agent(concat!("stocktake/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let body = payload.to_string();
    let mut attempts = 0;
    let mut status = None;
    let mut error: Option<String>;
    loop {
        attempts += 1;
        let retryable = match agent
            .post(url)
            .header("content-type", "application/json")
            .send(body.as_str())
        {
            Ok(resp) => {
                let code = resp.status().as_u16();
                status = Some(code);
                if (200..300).contains(&code) {
                    return ("delivered", attempts, status, None);
                }
                error = Some(format!("the receiver answered HTTP {code}"));
                !(400..500).contains(&code) || code == 408 || code == 429
            }
            Err(e) => {
                error = Some(e.to_string());
                true
            }
        };
        if !retryable || attempts > config.retries {
            return ("failed", attempts, status, error);
        }
        let wait = config
            .backoff_ms
            .saturating_mul(1 << (attempts - 1).min(16));
        std::thread::sleep(Duration::from_millis(wait));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind, loc: &str) -> ChangeEvent {
        ChangeEvent {
            kind,
            severity: kind.default_severity(),
            location: loc.into(),
            column: None,
            message: "m".into(),
            old: None,
            new: None,
            metric: None,
        }
    }

    #[test]
    fn rules_match_by_type_glob_and_severity() {
        let rule = AlertRule {
            name: "r".into(),
            events: vec!["pii-appeared".into(), "column-dropped".into()],
            assets: vec!["public.order*".into()],
            min_severity: Some(Severity::Warning),
            severity: None,
            webhook: None,
            log: true,
        };
        let c = rule.compile().unwrap();
        assert_eq!(
            c.matches("pg", &ev(EventKind::PiiAppeared, "public.orders")),
            Some(Severity::Critical)
        );
        assert_eq!(
            c.matches("pg", &ev(EventKind::PiiAppeared, "public.users")),
            None
        );
        assert_eq!(
            c.matches("pg", &ev(EventKind::AssetAdded, "public.orders")),
            None
        );
        let bad = AlertRule {
            events: vec!["nope".into()],
            ..rule.clone()
        };
        let err = bad.compile().err().unwrap().to_string();
        assert!(
            err.contains("unknown event type") && err.contains("pii-appeared"),
            "{err}"
        );
        let ftp = AlertRule {
            webhook: Some("ftp://x".into()),
            ..rule
        };
        assert!(ftp.compile().is_err());
    }

    #[test]
    fn webhook_secrets_are_not_recorded() {
        assert_eq!(
            redact_webhook("https://u:p@open.feishu.cn/open-apis/bot/v2/hook/SECRET?x=1"),
            "https://open.feishu.cn"
        );
    }
}
