//! From a forecast and a stock position to what an operations team acts on: days of cover,
//! safety stock and reorder point at a service level, the risk of running out within the lead
//! time, alerts (`stock-out`, `stock-low`, `overstock`, `dead-stock`, `expiry-soon`, `expired`)
//! and a replenishment proposal. Pure: the same position and settings give the same answer.
//!
//! Safety stock is z(service level) · σ_L with σ_L the spread of lead-time demand; the reorder
//! point is lead-time demand plus safety stock, unless the snapshot names one (the ERP's own
//! reorder point wins, and the assessment says which was used). A proposal orders up to the
//! demand of the lead time plus one review period plus its safety stock.

use chrono::NaiveDate;
use serde::Serialize;

use super::forecast::{self, Forecast};
use super::Rules;
use crate::monitor::EventKind;

/// One lot (or the whole stock when lots are not tracked) in a warehouse.
#[derive(Debug, Clone, PartialEq)]
pub struct Lot {
    pub lot: Option<String>,
    pub quantity: f64,
    pub expires: Option<NaiveDate>,
}

/// What a warehouse holds of a product and what it sold, as of a day.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Position {
    pub lots: Vec<Lot>,
    pub reserved: f64,
    pub in_transit: f64,
    /// The snapshot's reorder point, when it names one.
    pub reorder_point: Option<f64>,
    /// The snapshot's lead time in days, when it names one.
    pub lead_time: Option<f64>,
    pub unit_cost: Option<f64>,
    /// Units sold per day over the window, oldest first; the last is the day before `as_of`.
    pub sales: Vec<f64>,
}

impl Position {
    pub fn on_hand(&self) -> f64 {
        self.lots.iter().map(|l| l.quantity).sum()
    }

    /// Days since the last sale within the window (`None`: none in the window).
    pub fn days_since_sale(&self) -> Option<usize> {
        self.sales
            .iter()
            .rev()
            .position(|v| *v > 0.0)
            .map(|i| i + 1)
    }
}

/// An alert about one position (or one of its lots).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub kind: EventKind,
    pub lot: Option<String>,
    pub message: String,
    pub metric: &'static str,
    pub value: f64,
}

/// A replenishment proposal: data a person accepts or rejects, never an order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    pub quantity: f64,
    pub reason: String,
    /// Probability, under the forecast, that the quantity covers demand until an order placed
    /// one review period later could arrive.
    pub confidence: f64,
}

/// The assessment of one position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub forecast: Forecast,
    pub on_hand: f64,
    pub available: f64,
    pub in_transit: f64,
    /// Forecast units per day.
    pub rate: f64,
    /// Available stock over the daily rate (`None` when nothing is forecast to sell).
    pub days_of_cover: Option<f64>,
    pub lead_time: f64,
    pub lead_time_demand: f64,
    /// 95% interval of lead-time demand.
    pub lead_time_interval: (f64, f64),
    pub safety_stock: f64,
    pub reorder_point: f64,
    /// `snapshot` or `computed`.
    pub reorder_point_from: &'static str,
    /// Probability of running out before stock ordered now arrives.
    pub stockout_risk: f64,
    /// On hand times unit cost, when the cost is known.
    pub value: Option<f64>,
    pub alerts: Vec<Alert>,
    pub proposal: Option<Proposal>,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Assesses `p` as of `as_of` under `rules` (the category's, already resolved).
pub fn assess(p: &Position, as_of: NaiveDate, rules: &Rules, season: usize) -> Assessment {
    let f = forecast::fit(&p.sales, season);
    let rate = f.rate();
    let on_hand = p.on_hand();
    // Expired lots cannot be sold: they are stock, not availability.
    let sellable: f64 = p
        .lots
        .iter()
        .filter(|l| l.expires.is_none_or(|e| e >= as_of))
        .map(|l| l.quantity)
        .sum();
    let available = sellable - p.reserved;
    let position = available + p.in_transit;
    let lead = p.lead_time.unwrap_or(rules.lead_time_days).max(0.0);
    let z = forecast::z_score(rules.service_level);
    let (mu_l, sd_l) = f.over(lead);
    let safety = z * sd_l;
    let (reorder_point, from) = match p.reorder_point {
        Some(r) => (r, "snapshot"),
        None => (mu_l + safety, "computed"),
    };
    let risk = if sd_l > 0.0 {
        1.0 - forecast::normal_cdf((position - mu_l) / sd_l)
    } else if mu_l > position {
        1.0
    } else {
        0.0
    };
    let cover = (rate > 0.0).then(|| available.max(0.0) / rate);
    let since = p.days_since_sale();
    let sells = rate > 0.0 || since.is_some();
    let mut alerts = Vec::new();
    let mut alert = |kind, lot: Option<&str>, message: String, metric, value| {
        alerts.push(Alert {
            kind,
            lot: lot.map(str::to_string),
            message,
            metric,
            value,
        })
    };
    let mut proposal = None;
    let demand = format!(
        "sells {:.1}/day ({:?}, {})",
        rate,
        f.class,
        match f.method {
            forecast::Method::Zero => "no sales",
            forecast::Method::Ses => "exponential smoothing",
            forecast::Method::SeasonalEts => "weekly-seasonal smoothing",
            forecast::Method::CrostonSba => "Croston SBA",
        }
    );
    let short = (available <= 0.0 && sells) || (sells && rate > 0.0 && position <= reorder_point);
    if available <= 0.0 && sells {
        alert(
            EventKind::StockOut,
            None,
            format!(
                "out of stock ({available} available, {} in transit); {demand}",
                p.in_transit
            ),
            "available",
            available,
        );
    } else if sells && rate > 0.0 && position <= reorder_point {
        alert(
            EventKind::StockLow,
            None,
            format!(
                "{available} available + {} in transit is at or below the reorder point {:.1} \
                 ({from}); {demand}, {:.1} days of cover against a {lead}-day lead time; \
                 {:.0}% risk of running out before a new order arrives",
                p.in_transit,
                reorder_point,
                cover.unwrap_or(0.0),
                risk * 100.0
            ),
            "days-of-cover",
            round1(cover.unwrap_or(0.0)),
        );
    }
    if short && rate > 0.0 {
        let horizon = lead + rules.review_days;
        let (mu_h, sd_h) = f.over(horizon);
        let up_to = mu_h + z * sd_h;
        let quantity = (up_to - position).ceil().max(1.0);
        let confidence = if sd_h > 0.0 {
            forecast::normal_cdf((position + quantity - mu_h) / sd_h)
        } else {
            1.0
        };
        proposal = Some(Proposal {
            quantity,
            reason: format!(
                "order up to {up_to:.0} = {mu_h:.0} forecast over {horizon} days (lead time \
                 {lead} + review {}) + {:.0} safety stock at a {:.0}% service level; {demand}",
                rules.review_days,
                z * sd_h,
                rules.service_level * 100.0
            ),
            confidence: (confidence * 1000.0).round() / 1000.0,
        });
    }
    match (since, on_hand > 0.0) {
        (None, true) => alert(
            EventKind::DeadStock,
            None,
            format!(
                "{on_hand} on hand and no sale in the last {} days",
                p.sales.len()
            ),
            "days-since-sale",
            p.sales.len() as f64,
        ),
        (Some(d), true) if d > rules.dead_days as usize => alert(
            EventKind::DeadStock,
            None,
            format!("{on_hand} on hand and no sale in the last {d} days"),
            "days-since-sale",
            d as f64,
        ),
        _ => {
            if let Some(c) = cover.filter(|c| *c > rules.overstock_days) {
                alert(
                    EventKind::Overstock,
                    None,
                    format!(
                        "{c:.0} days of cover (over {}); {demand}{}",
                        rules.overstock_days,
                        p.unit_cost
                            .map(|u| format!("; {:.0} tied up", available * u))
                            .unwrap_or_default()
                    ),
                    "days-of-cover",
                    round1(c),
                );
            }
        }
    }
    // Lots leave first-expiry-first-out: what sells before a lot expires comes out of the
    // lots expiring before it first.
    let mut lots: Vec<&Lot> = p.lots.iter().filter(|l| l.quantity > 0.0).collect();
    lots.sort_by_key(|l| l.expires);
    let mut ahead = 0.0;
    for l in lots {
        let Some(expires) = l.expires else { continue };
        let days = (expires - as_of).num_days();
        let name = l.lot.as_deref();
        let which = name.map(|n| format!("lot {n}")).unwrap_or("stock".into());
        if days < 0 {
            alert(
                EventKind::Expired,
                name,
                format!("{which}: {} units expired on {expires}", l.quantity),
                "days-to-expiry",
                days as f64,
            );
        } else if days <= i64::from(rules.expiry_days) {
            let sold = f.over(days as f64).0;
            let unsold = (l.quantity - (sold - ahead).max(0.0)).max(0.0);
            alert(
                EventKind::ExpirySoon,
                name,
                format!(
                    "{which}: {} units expire on {expires} ({days} days); about {unsold:.0} \
                     will not sell by then at the forecast rate",
                    l.quantity
                ),
                "days-to-expiry",
                days as f64,
            );
        }
        if days >= 0 {
            ahead += l.quantity;
        }
    }
    Assessment {
        lead_time_interval: f.interval(lead, 0.95),
        forecast: f,
        on_hand,
        available,
        in_transit: p.in_transit,
        rate,
        days_of_cover: cover,
        lead_time: lead,
        lead_time_demand: mu_l,
        safety_stock: safety,
        reorder_point,
        reorder_point_from: from,
        stockout_risk: risk,
        value: p.unit_cost.map(|c| c * on_hand),
        alerts,
        proposal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn rules() -> Rules {
        Rules::default()
    }

    #[test]
    fn safety_stock_and_reorder_point_by_hand() {
        // Constant sales of 10/day with one-step errors of exactly ±2 (alternating 8, 12 → the
        // fit is SES; σ is what the fit measures, so assert the formula rather than a guess).
        let sales: Vec<f64> = (0..60)
            .map(|t| if t % 2 == 0 { 8.0 } else { 12.0 })
            .collect();
        let p = Position {
            lots: vec![Lot {
                lot: None,
                quantity: 500.0,
                expires: None,
            }],
            lead_time: Some(9.0),
            sales,
            ..Default::default()
        };
        let a = assess(&p, day("2024-10-28"), &rules(), 7);
        let sd = a.forecast.sigma * 3.0;
        let z = forecast::z_score(0.95);
        assert!((a.safety_stock - z * sd).abs() < 1e-9);
        assert!((a.reorder_point - (a.rate * 9.0 + z * sd)).abs() < 1e-9);
        assert_eq!(a.reorder_point_from, "computed");
        assert!((a.rate - 10.0).abs() < 1.0, "{}", a.rate);
        assert!(a.alerts.is_empty(), "{:?}", a.alerts);
        assert!((a.days_of_cover.unwrap() - 500.0 / a.rate).abs() < 1e-9);
    }

    #[test]
    fn low_out_dead_overstock_and_expiry() {
        let steady: Vec<f64> = vec![10.0; 90];
        let at = day("2024-10-28");
        let low = Position {
            lots: vec![Lot {
                lot: None,
                quantity: 30.0,
                expires: None,
            }],
            lead_time: Some(7.0),
            sales: steady.clone(),
            ..Default::default()
        };
        let a = assess(&low, at, &rules(), 7);
        assert_eq!(a.alerts.len(), 1);
        assert_eq!(a.alerts[0].kind, EventKind::StockLow);
        // 10/day, σ 0 → order up to 10 × (7 + 7) = 140, minus 30 on hand.
        let prop = a.proposal.unwrap();
        assert_eq!(prop.quantity, 110.0);
        assert_eq!(prop.confidence, 1.0);
        assert_eq!(a.stockout_risk, 1.0);

        let out = Position {
            reserved: 30.0,
            ..low.clone()
        };
        let a = assess(&out, at, &rules(), 7);
        assert_eq!(a.alerts[0].kind, EventKind::StockOut);
        assert_eq!(a.proposal.unwrap().quantity, 140.0);

        let mut dead_sales = vec![0.0; 90];
        dead_sales[5] = 3.0;
        let dead = Position {
            sales: dead_sales,
            ..low.clone()
        };
        let a = assess(&dead, at, &rules(), 7);
        assert_eq!(
            a.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
            [EventKind::DeadStock]
        );
        assert_eq!(a.alerts[0].value, 85.0);

        let over = Position {
            lots: vec![Lot {
                lot: None,
                quantity: 5000.0,
                expires: None,
            }],
            ..low.clone()
        };
        let a = assess(&over, at, &rules(), 7);
        assert_eq!(
            a.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
            [EventKind::Overstock]
        );
        assert_eq!(a.alerts[0].value, 500.0);

        let food = Position {
            lots: vec![
                Lot {
                    lot: Some("A".into()),
                    quantity: 40.0,
                    expires: Some(day("2024-10-20")),
                },
                Lot {
                    lot: Some("B".into()),
                    quantity: 100.0,
                    expires: Some(day("2024-11-02")),
                },
                Lot {
                    lot: Some("C".into()),
                    quantity: 900.0,
                    expires: Some(day("2025-06-01")),
                },
            ],
            ..low
        };
        let a = assess(&food, at, &rules(), 7);
        let kinds: Vec<_> = a.alerts.iter().map(|a| (a.kind, a.lot.clone())).collect();
        assert_eq!(
            kinds,
            [
                (EventKind::Expired, Some("A".into())),
                (EventKind::ExpirySoon, Some("B".into())),
            ]
        );
        // 5 days × 10/day = 50 sold before B expires, all from B (A has expired and is not
        // sold): 50 of B are at risk; A is stock but not available.
        assert!(
            a.alerts[1].message.contains("about 50 will not sell"),
            "{}",
            a.alerts[1].message
        );
        assert_eq!((a.on_hand, a.available), (1040.0, 1000.0));
    }
}
