use super::*;

fn users() -> (Vec<(String, ColumnKind)>, Vec<Vec<String>>) {
    let columns = [
        ("user_id", ColumnKind::PersonId),
        ("name", ColumnKind::PersonName),
        ("phone", ColumnKind::Phone),
        ("email", ColumnKind::Email),
        ("city", ColumnKind::City),
        ("registered", ColumnKind::Date),
        ("note", ColumnKind::FreeText),
    ]
    .map(|(n, k)| (n.to_string(), k))
    .to_vec();
    let cities = ["北京", "上海", "广州", "深圳"];
    let rows = (0..200)
        .map(|i| {
            vec![
                format!("U{i:05}"),
                format!("用户{i}"),
                format!("1390000{i:04}"),
                format!("u{i}@example.com"),
                cities[i % 4].to_string(),
                format!("2024-{:02}-{:02}", i % 12 + 1, i % 28 + 1),
                format!("call me at 1390000{i:04}"),
            ]
        })
        .collect();
    (columns, rows)
}

fn widths(rows: &[Vec<String>], n: usize) -> Vec<usize> {
    (0..n)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect()
}

#[test]
fn defaults_follow_the_column_kinds() {
    let (cols, rows) = users();
    let plan = Plan::new(&Policy::default(), &cols, &widths(&rows, cols.len()), None).unwrap();
    let ops: Vec<&str> = plan.columns.iter().map(|c| c.operator.as_str()).collect();
    assert_eq!(
        ops,
        ["pseudonym", "drop", "mask", "drop", "keep", "keep", "scrub"]
    );
    assert_eq!(plan.person, Some(0));
    let quasi: Vec<&str> = plan
        .columns
        .iter()
        .filter(|c| c.quasi.is_some())
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        quasi,
        ["phone", "city", "registered"],
        "masked phones count"
    );
    let out = anonymise(&plan, &rows, &ExportKey::derive(b"secret", "p"));
    assert_eq!(
        out.header,
        ["user_id", "phone", "city", "registered", "note"]
    );
    let r = &out.report;
    assert!(r.smallest_class >= 5, "{r:?}");
    assert!(r.rows_suppressed <= 10, "{r:?}");
    for row in &out.rows {
        assert!(!row[0].starts_with('U'), "pseudonymised: {row:?}");
        assert!(row[1].chars().filter(|c| *c != '*').count() <= 4, "{row:?}");
        assert!(!row[4].contains("1390000"), "scrubbed: {row:?}");
    }
    // The export holds no value of a dropped column.
    let text = format!("{:?}", out.rows);
    assert!(!text.contains("用户") && !text.contains("@example.com"));
    assert!(
        r.steps.iter().any(|s| s.contains("phone ")),
        "{:?}",
        r.steps
    );
}

#[test]
fn policy_overrides_and_l_diversity() {
    let (mut cols, mut rows) = users();
    cols.push(("segment".into(), ColumnKind::Other));
    for (i, r) in rows.iter_mut().enumerate() {
        r.push(if i % 8 == 0 { "vip" } else { "normal" }.to_string());
    }
    let policy = Policy::parse(
        r#"
        name = "share-q4"
        k = 10
        l = 2
        sensitive = "segment"
        quasi_identifiers = ["city", "registered"]
        max_suppression = 0.0
        [columns]
        phone = "drop"
        registered = "generalize"
        note = "drop"
        "#,
    )
    .unwrap();
    let plan = Plan::new(&policy, &cols, &widths(&rows, cols.len()), None).unwrap();
    let out = anonymise(&plan, &rows, &ExportKey::derive(b"secret", "share-q4"));
    let r = &out.report;
    assert_eq!((r.k, r.l, r.rows_suppressed), (10, 2, 0));
    assert!(
        r.smallest_class >= 10 && r.lowest_diversity >= Some(2),
        "{r:?}"
    );
    let reg = r.columns.iter().find(|c| c.name == "registered").unwrap();
    assert_ne!(reg.released_as.as_deref(), Some("day"));
    assert!(out.header.iter().all(|h| h != "phone" && h != "note"));
}

#[test]
fn pseudonyms_are_keyed_per_policy_and_shifts_per_person() {
    let a = ExportKey::derive(b"secret", "a");
    let b = ExportKey::derive(b"secret", "b");
    let c = ExportKey::derive(b"other", "a");
    assert_eq!(a.pseudonym("U1"), a.pseudonym("U1"));
    assert_ne!(a.pseudonym("U1"), b.pseudonym("U1"));
    assert_ne!(a.pseudonym("U1"), c.pseudonym("U1"));
    let shifts: HashSet<i64> = (0..200).map(|i| a.shift(&format!("U{i}"), 30)).collect();
    assert!(shifts.iter().all(|s| (-30..=30).contains(s) && *s != 0));
    assert!(shifts.len() > 30, "offsets spread: {shifts:?}");
    assert_eq!(shift_value("2024-01-31", 1).as_deref(), Some("2024-02-01"));
    assert_eq!(shift_value("1704068231", -1).as_deref(), Some("1703981831"));
    assert_eq!(shift_value("hello", 3), None);
}

#[test]
fn shifted_dates_keep_intervals_within_a_person() {
    let cols = vec![
        ("user".to_string(), ColumnKind::PersonId),
        ("when".to_string(), ColumnKind::Timestamp),
    ];
    let rows: Vec<Vec<String>> = vec![
        vec!["U1".into(), "2024-03-01 10:00:00".into()],
        vec!["U1".into(), "2024-03-05 10:00:00".into()],
        vec!["U1".into(), "garbage".into()],
    ];
    let policy = Policy::parse("k = 1\n[columns]\nwhen = \"shift\"").unwrap();
    let plan = Plan::new(&policy, &cols, &[2, 19], None).unwrap();
    let out = anonymise(&plan, &rows, &ExportKey::derive(b"s", "x"));
    let d = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
    assert_eq!(
        d(&out.rows[1][1]) - d(&out.rows[0][1]),
        chrono::Duration::days(4)
    );
    assert_ne!(out.rows[0][1], "2024-03-01 10:00:00");
    assert_eq!(out.rows[2][1], "", "not a date: blanked, not released");
    assert_eq!(out.report.blanked, 1);
}

#[test]
fn bad_policies_say_why() {
    let (cols, rows) = users();
    let w = widths(&rows, cols.len());
    let err = |text: &str| Plan::new(&Policy::parse(text).unwrap(), &cols, &w, None).unwrap_err();
    assert!(err("[columns]\nnope = \"drop\"")
        .to_string()
        .contains("nope"));
    assert!(err("l = 3").to_string().contains("sensitive"));
    assert!(err("quasi_identifiers = [\"user_id\"]")
        .to_string()
        .contains("pseudonym"));
    assert!(err("k = 0").to_string().contains("at least 1"));
    assert!(err("max_suppression = 2.0").to_string().contains("share"));
    assert!(
        Policy::parse("colums = {}").is_err(),
        "unknown keys refused"
    );
    assert!(Policy::parse("[columns]\nx = \"blur\"").is_err());
}

#[test]
fn too_few_people_release_nothing() {
    let (cols, rows) = users();
    let policy = Policy::parse("k = 500").unwrap();
    let plan = Plan::new(&policy, &cols, &widths(&rows, cols.len()), None).unwrap();
    let out = anonymise(&plan, &rows, &ExportKey::derive(b"s", "x"));
    assert!(out.rows.is_empty());
    assert_eq!(out.report.rows_suppressed, 200);
    assert_eq!(out.report.smallest_class, 0);
}

#[test]
fn non_admins_cannot_weaken_the_policy() {
    let (cols, rows) = users();
    let w = widths(&rows, cols.len());
    let strict = |text: &str| Plan::new(&Policy::parse(text).unwrap(), &cols, &w, Some(5));
    for (text, needle) in [
        ("[columns]\nemail = \"keep\"", "direct identifier"),
        ("[columns]\nuser_id = \"keep\"", "direct identifier"),
        ("k = 2", "below the 5"),
    ] {
        let err = strict(text).unwrap_err().to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
    // Quasi-identifiers can be added to, never removed from.
    let plan = strict("quasi_identifiers = []").unwrap();
    assert_eq!(plan.columns.iter().filter(|c| c.quasi.is_some()).count(), 3);
    // An admin may (the call is audited and recorded).
    assert!(Plan::new(
        &Policy::parse("k = 1\n[columns]\nemail = \"keep\"").unwrap(),
        &cols,
        &w,
        None
    )
    .is_ok());
}

#[test]
fn a_table_without_a_person_column_needs_to_say_so() {
    let cols = vec![("city".to_string(), ColumnKind::City)];
    let err = Plan::new(&Policy::default(), &cols, &[2], None).unwrap_err();
    assert!(err.to_string().contains("one_row_per_person"), "{err}");
    let ok = Policy::parse("one_row_per_person = true").unwrap();
    assert!(Plan::new(&ok, &cols, &[2], None).is_ok());
    let huge = Policy::parse("date_shift_days = 4000000000\none_row_per_person = true").unwrap();
    assert!(Plan::new(&huge, &cols, &[2], None).is_err());
    assert_eq!(
        shift_value("+262142-12-31", 30),
        None,
        "no panic at the calendar's end"
    );
}
