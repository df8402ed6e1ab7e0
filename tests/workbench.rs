//! The workbench in a real browser: Debian's headless Chromium, driven over the DevTools
//! protocol, against a real server on loopback. Every page must load with no console error and
//! show what it is for; a screenshot of each is saved in `target/screenshots/` on every run
//! (look at them: a page that passes its assertions can still be unreadable).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};

use crate::util::{admin_update, missing, repo, TestServer, READ, WRITE};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Headless Chromium, or [`missing`] (scripts/setup installs it).
pub(crate) fn browser() -> Option<Browser> {
    if !std::path::Path::new(CHROMIUM).exists() {
        missing("chromium not installed (scripts/setup installs it)");
        return None;
    }
    let options = LaunchOptions::default_builder()
        .path(Some(CHROMIUM.into()))
        // Tests run as root in CI containers, where Chromium's sandbox cannot start.
        .sandbox(false)
        .window_size(Some((1366, 900)))
        .idle_browser_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    Some(Browser::new(options).expect("start headless chromium"))
}

/// Console errors, uncaught exceptions and failed loads a page produced.
#[derive(Clone, Default)]
struct Problems(Arc<Mutex<Vec<String>>>);

impl Problems {
    fn watch(tab: &Tab) -> Problems {
        let p = Problems::default();
        tab.enable_log().unwrap();
        tab.enable_runtime().unwrap();
        let sink = p.clone();
        tab.add_event_listener(Arc::new(move |event: &Event| {
            use headless_chrome::protocol::cdp::Log::LogEntryLevel;
            use headless_chrome::protocol::cdp::Runtime::ConsoleAPICalledEventTypeOption;
            let line = match event {
                Event::LogEntryAdded(e) if e.params.entry.level == LogEntryLevel::Error => {
                    Some(format!(
                        "log: {} {}",
                        e.params.entry.text,
                        e.params.entry.url.as_deref().unwrap_or("")
                    ))
                }
                Event::RuntimeConsoleAPICalled(e)
                    if e.params.Type == ConsoleAPICalledEventTypeOption::Error =>
                {
                    Some(format!("console.error: {:?}", e.params.args))
                }
                Event::RuntimeExceptionThrown(e) => {
                    Some(format!("exception: {:?}", e.params.exception_details))
                }
                _ => None,
            };
            if let Some(l) = line {
                sink.0.lock().unwrap().push(l);
            }
        }))
        .unwrap();
        p
    }

    /// Takes what was seen so far.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

pub(crate) fn screenshot(tab: &Tab, name: &str) {
    let dir = repo().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Evaluates the expression `js` in the page (a promise is awaited) and returns its value as
/// JSON (arrays and objects included: the page serialises it).
fn eval(tab: &Tab, js: &str) -> serde_json::Value {
    try_eval(tab, js).unwrap_or_else(|e| panic!("evaluating {js}: {e}"))
}

/// [`eval`] that may fail (a page in the middle of navigating has no context to run in).
fn try_eval(tab: &Tab, js: &str) -> Result<serde_json::Value, String> {
    let wrapped = format!("(async () => JSON.stringify(await ({js})))()");
    let r = tab.evaluate(&wrapped, true).map_err(|e| e.to_string())?;
    Ok(match r.value {
        Some(serde_json::Value::String(s)) => {
            serde_json::from_str(&s).map_err(|e| e.to_string())?
        }
        _ => serde_json::Value::Null,
    })
}

/// Polls `js` until it is true (10 s).
fn wait_true(tab: &Tab, js: &str, what: &str) {
    for _ in 0..100 {
        if try_eval(tab, js) == Ok(serde_json::Value::Bool(true)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    screenshot(tab, &format!("timeout-{}", what.replace(' ', "-")));
    panic!("timed out waiting for {what}: {}", text(tab));
}

/// What loading this page cost on the wire: the compressed bodies of the document and of every
/// resource it loaded (cached or not), in bytes. The budget is 1 MB per first load.
fn page_weight(tab: &Tab) -> u64 {
    eval(
        tab,
        "performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')) \
         .reduce((s, e) => s + e.encodedBodySize, 0)",
    )
    .as_u64()
    .unwrap()
}

fn check_weight(tab: &Tab, page: &str) {
    let bytes = page_weight(tab);
    eprintln!("page weight {page}: {bytes} bytes");
    assert!(
        bytes > 0 && bytes <= 1_000_000,
        "{page}: {bytes} bytes on first load"
    );
}

pub(crate) fn go(tab: &Tab, url: &str) {
    tab.navigate_to(url)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
}

pub(crate) fn text(tab: &Tab) -> String {
    eval(tab, "document.body.innerText")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Signs in through the form, as a person would.
fn sign_in(tab: &Tab, base: &str, token: &str) {
    go(tab, &format!("{base}/ui/login"));
    tab.wait_for_element("#token").unwrap().click().unwrap();
    tab.type_str(token).unwrap().press_key("Enter").unwrap();
    wait_true(
        tab,
        "location.pathname !== '/ui/login' && document.readyState === 'complete'",
        "sign-in",
    );
}

/// Clicks the language switch and waits for the page in the other language.
fn switch_language(tab: &Tab) -> serde_json::Value {
    let before = eval(tab, "document.documentElement.lang");
    tab.wait_for_element("a.lang").unwrap().click().unwrap();
    wait_true(
        tab,
        &format!(
            "document.readyState === 'complete' && document.documentElement.lang !== {before}"
        ),
        "the language switch",
    );
    eval(tab, "document.documentElement.lang")
}

#[test]
fn workbench_home_login_and_query_in_a_browser() {
    let Some(browser) = browser() else { return };
    let server = TestServer::start();
    let products = server.catalog.layout().products.as_str().to_owned();
    let quarantine = server.catalog.layout().quarantine.as_str().to_owned();
    admin_update(
        &server,
        &format!(
            "PREFIX schema: <http://schema.org/> INSERT DATA {{ \
             GRAPH <{products}> {{ <http://example.org/p1> a schema:Product ; schema:name \"PUBLIC-MARK 手机\" . \
               <http://example.org/p2> a schema:Product ; schema:name \"<script>window.__xss=1</script><img src=x onerror=window.__xss=2>\" }} \
             GRAPH <{quarantine}> {{ <http://example.org/q1> schema:name \"SECRET-MARK\" }} }}"
        ),
    );
    // A scanned folder with a phone column: the catalog must flag it.
    let input = tempfile::tempdir().unwrap();
    let mut csv = String::from("user_id,mobile,city,<img src=x onerror=window.__xss=1>\n");
    for i in 0..50 {
        csv.push_str(&format!("U{i},139{:08},北京,x\n", 10_000_000 + i * 7919));
    }
    std::fs::write(input.path().join("users.csv"), csv).unwrap();
    let r = crate::util::client()
        .post(server.url("/api/v1/sources"))
        .bearer_auth(crate::util::ADMIN)
        .json(&serde_json::json!({ "source": input.path() }))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().unwrap());
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(20));
    let problems = Problems::watch(&tab);
    let base = &server.base;

    // Without a session the workbench asks to sign in.
    go(&tab, &format!("{base}/"));
    assert!(
        tab.get_url().contains("/ui/login?needed=1"),
        "{}",
        tab.get_url()
    );
    check_weight(&tab, "login");
    screenshot(&tab, "login");
    sign_in(&tab, base, READ);
    assert_eq!(tab.get_url(), format!("{base}/"));
    let home = text(&tab);
    assert!(home.contains("reader"), "{home}");
    assert!(home.contains(&products), "{home}");
    assert!(
        !home.contains(&quarantine),
        "a reader sees no restricted graph: {home}"
    );
    // The session cookie is out of scripts' reach.
    assert_eq!(eval(&tab, "document.cookie.includes('st_session')"), false);
    check_weight(&tab, "home");
    screenshot(&tab, "home");

    // The chrome switches language and remembers it.
    let lang = switch_language(&tab);
    assert!(lang == "zh" || lang == "en", "{lang}");
    let back = switch_language(&tab);
    assert_ne!(lang, back);
    if back != "zh" {
        switch_language(&tab);
    }
    assert!(text(&tab).contains("查询"), "{}", text(&tab));
    screenshot(&tab, "home-zh");

    // The catalog: the scanned file with its phone column flagged as personal data.
    go(&tab, &format!("{base}/ui/catalog"));
    let catalog = text(&tab);
    assert!(catalog.contains("users.csv"), "{catalog}");
    let flagged = eval(
        &tab,
        "[...document.querySelectorAll('.tag.pii')].map(e => e.textContent)",
    );
    assert!(
        flagged
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t.as_str().unwrap().starts_with("mobile")),
        "{flagged}"
    );
    // A column named like markup is shown as text, never run.
    let all = eval(&tab, "document.body.textContent");
    assert!(
        all.as_str()
            .unwrap()
            .contains("<img src=x onerror=window.__xss=1>"),
        "{all}"
    );
    assert_eq!(eval(&tab, "window.__xss === undefined"), true);
    check_weight(&tab, "catalog");
    screenshot(&tab, "catalog");

    // YASGUI: a query returns rows in its table; nothing was fetched from outside.
    go(&tab, &format!("{base}/sparql"));
    wait_true(&tab, "!!window.stocktakeYasgui", "YASGUI to start");
    eval(
        &tab,
        "(() => { const y = window.stocktakeYasgui.getTab().getYasqe(); \
         y.setValue('PREFIX schema: <http://schema.org/> SELECT ?p ?name WHERE { GRAPH ?g { ?p schema:name ?name } } ORDER BY ?name'); \
         y.query(); return true; })()",
    );
    wait_true(
        &tab,
        "!!document.querySelector('.yasr table') && document.querySelector('.yasr table').innerText.includes('PUBLIC-MARK')",
        "result rows",
    );
    let table = eval(&tab, "document.querySelector('.yasr table').innerText");
    let table = table.as_str().unwrap();
    assert!(table.contains("PUBLIC-MARK"), "{table}");
    assert!(!table.contains("SECRET-MARK"), "{table}");
    // A stored title that is markup is a string in the results, not a script.
    assert!(table.contains("<script>window.__xss=1</script>"), "{table}");
    assert_eq!(eval(&tab, "window.__xss === undefined"), true);
    // Up to here nothing may have logged an error, with one exception: the hostile title's
    // `<img src=x onerror=…>` is turned into an element somewhere inside the vendored YASGUI
    // result table (its text is shown escaped), and the page's Content-Security-Policy blocks
    // the handler (and the image is a same-origin 404). That is the policy doing its job; any
    // other error fails.
    let found = problems.take();
    let unexpected: Vec<_> = found
        .iter()
        .filter(|p| {
            !(p.contains("violates the following Content Security Policy directive")
                || (p.contains("status of 404") && p.trim_end().ends_with("/x")))
        })
        .collect();
    assert!(unexpected.is_empty(), "console errors: {unexpected:?}");
    let named = eval(&tab, "document.querySelectorAll('#named button').length");
    assert!(
        named.as_u64().unwrap() >= 10,
        "named queries listed: {named}"
    );
    let outside = eval(
        &tab,
        "performance.getEntriesByType('resource').map(e => e.name).filter(u => !u.startsWith(location.origin))",
    );
    assert_eq!(outside, serde_json::json!([]), "requests left the server");
    // Completion comes from our vocabulary.
    let classes = eval(
        &tab,
        "fetch('/api/v1/vocabulary').then(r => r.json()).then(v => v.classes.length)",
    );
    assert!(classes.as_u64().unwrap() > 5, "{classes}");
    check_weight(&tab, "query");
    screenshot(&tab, "query");

    // An update from the reader's page: the CSRF token gets it past the CSRF check, the role
    // check still refuses it; without the token it is refused before that.
    let post = |with_csrf: bool| {
        eval(
            &tab,
            &format!(
                "fetch('/sparql', {{method: 'POST', headers: Object.assign({{'Content-Type': 'application/sparql-update'}}, \
                 {with_csrf} ? {{'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}} : {{}}), \
                 body: 'INSERT DATA {{ <http://example.org/x> <http://example.org/y> 1 }}'}}).then(r => r.status)"
            ),
        )
    };
    assert_eq!(post(false), 403);
    assert_eq!(post(true), 403);
    let found = problems.take();
    assert!(found.iter().all(|p| p.contains("403")), "{found:?}");

    // A writer's session may update through the page.
    let writer = browser.new_tab().unwrap();
    let writer_problems = Problems::watch(&writer);
    // The same browser shares cookies: sign out first, then in as the writer.
    go(&writer, &format!("{base}/"));
    writer
        .wait_for_element("form[action='/ui/logout'] button")
        .unwrap()
        .click()
        .unwrap();
    wait_true(
        &writer,
        "document.readyState === 'complete' && location.pathname === '/ui/login'",
        "sign-out",
    );
    sign_in(&writer, base, WRITE);
    go(&writer, &format!("{base}/sparql"));
    wait_true(&writer, "!!window.stocktakeYasgui", "YASGUI to start");
    let status = eval(
        &writer,
        "fetch('/sparql', {method: 'POST', headers: {'Content-Type': 'application/sparql-update', \
         'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}, \
         body: 'INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/x> <http://example.org/y> 1 } }'}).then(r => r.status)",
    );
    assert_eq!(status, 204);
    let found = writer_problems.take();
    assert!(found.is_empty(), "console errors: {found:?}");
}

/// The workbench on the demo store (called by the demo test, which has just built it): every
/// page loads with no console error and shows what it is for — the first product with its
/// brand, category and predicted items; the PII column of `users.csv` with its evidence; a
/// review accepted in the queue with the keyboard, then shown as accepted in the explorer;
/// search for a Chinese and an English word — and each page's first load stays under 1 MB.
pub(crate) fn demo_pages_in_a_browser(data: &std::path::Path) {
    let Some(browser) = browser() else { return };
    let data = data.to_path_buf();
    let server = TestServer::start_with(|c| c.data = data);
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(30));
    let problems = Problems::watch(&tab);
    let base = &server.base;
    sign_in(&tab, base, WRITE);
    // English chrome, so the assertions below read one language.
    if eval(&tab, "document.documentElement.lang") != "en" {
        switch_language(&tab);
    }
    screenshot(&tab, "demo-home");
    check_weight(&tab, "demo home");

    // Search: a Chinese and an English word, each found in product titles.
    for (q, name) in [("热水器", "search-zh"), ("Penguin", "search-en")] {
        let url = format!(
            "{base}/ui/search?q={}",
            form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        go(&tab, &url);
        let n = eval(
            &tab,
            "parseInt(document.getElementById('result-count').textContent)",
        );
        assert!(n.as_u64().unwrap_or(0) > 0, "{q}: {}", text(&tab));
        let first = eval(&tab, "document.querySelector('ol.hits a.hit').textContent");
        assert!(
            first
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains(&q.to_lowercase()),
            "{q}: first hit {first}"
        );
        check_weight(&tab, name);
        screenshot(&tab, &format!("demo-{name}"));
    }

    // The demo's first product: brand, category, machine labels, predicted items.
    let iri = eval(
        &tab,
        "fetch('/sparql?query=' + encodeURIComponent('PREFIX schema: <http://schema.org/> SELECT ?p WHERE { GRAPH ?g { ?p schema:productID \"P00000\" } }'), \
         {headers: {Accept: 'application/sparql-results+json'}}).then(r => r.json()).then(j => j.results.bindings[0].p.value)",
    );
    let iri = iri.as_str().unwrap().to_owned();
    // The model is loaded by the server's follower shortly after start.
    let started = std::time::Instant::now();
    while !crate::util::client()
        .get(server.url("/api/v1/predict/model"))
        .bearer_auth(READ)
        .send()
        .unwrap()
        .status()
        .is_success()
    {
        assert!(
            started.elapsed().as_secs() < 60,
            "the demo model did not load"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let entity_url = |iri: &str| {
        format!(
            "{base}/ui/entity?iri={}",
            form_urlencoded::byte_serialize(iri.as_bytes()).collect::<String>()
        )
    };
    go(&tab, &entity_url(&iri));
    let page = text(&tab);
    assert!(page.contains("美的电热水器"), "{page}");
    let out = eval(&tab, "document.getElementById('out').innerText");
    let out = out.as_str().unwrap();
    assert!(
        out.contains("schema:brand") && out.contains("schema:category"),
        "{out}"
    );
    assert!(
        out.contains("热水器") || out.contains("Water"),
        "the category's label: {out}"
    );
    let predicted = eval(
        &tab,
        "[...document.querySelectorAll('#predictions .card')].map(c => [c.querySelector('h3').textContent, c.querySelectorAll('li').length])",
    );
    let lists = predicted.as_array().unwrap();
    assert!(
        lists
            .iter()
            .any(|l| l[0] == "similar" && l[1].as_u64().unwrap() > 0),
        "{predicted}"
    );
    assert!(
        lists
            .iter()
            .any(|l| l[0] == "schema:category" && l[1].as_u64().unwrap() > 0),
        "{predicted}"
    );
    assert_eq!(
        eval(
            &tab,
            "document.querySelectorAll('svg.neighbours a').length > 3"
        ),
        true
    );
    check_weight(&tab, "demo entity");
    screenshot(&tab, "demo-entity");

    // The catalog, then users.csv: its phone column flagged with its type and confidence; the
    // evidence is the column's restricted detail, which this (anonymous) reader is not granted.
    go(&tab, &format!("{base}/ui/catalog"));
    screenshot(&tab, "demo-catalog");
    let href = eval(
        &tab,
        "[...document.querySelectorAll('a')].find(a => a.textContent.trim() === 'users.csv').href",
    );
    go(&tab, href.as_str().unwrap());
    let pii = eval(
        &tab,
        "[...document.querySelectorAll('.card.column.pii')].map(c => c.innerText)",
    );
    let pii = pii.as_array().unwrap();
    assert!(
        pii.iter().any(|c| {
            let c = c.as_str().unwrap();
            c.contains("phone")
                && !c.contains("Evidence")
                && c.contains("Confidence")
                && c.contains("restricted to admins and tokens granted it")
                && !c.contains("MaxLength")
        }),
        "{pii:?}"
    );
    check_weight(&tab, "demo asset");
    screenshot(&tab, "demo-asset");

    // The review queue: accept the first label with the keyboard; the explorer shows it.
    go(&tab, &format!("{base}/ui/review"));
    let id = eval(
        &tab,
        "document.querySelector('tr[data-label]').getAttribute('data-label')",
    );
    let id = id
        .as_str()
        .expect("the demo has labels to review")
        .to_owned();
    let product = eval(&tab, "document.querySelector('tr[data-label] td a').href");
    screenshot(&tab, "demo-review");
    tab.press_key("a").unwrap();
    wait_true(
        &tab,
        &format!("document.querySelector('tr[data-label=\"{id}\"] .status').textContent === 'human-accepted'"),
        "the decision",
    );
    go(&tab, product.as_str().unwrap());
    let status = eval(
        &tab,
        &format!(
            "document.querySelector('#machine-labels tr[data-label=\"{id}\"] .status').textContent"
        ),
    );
    assert_eq!(status, "human-accepted");
    screenshot(&tab, "demo-entity-after-review");

    for (path, name) in [
        ("/ui/taxonomy", "taxonomy"),
        ("/ui/changes", "changes"),
        ("/ui/models", "models"),
        ("/ui/ontology", "ontology"),
    ] {
        go(&tab, &format!("{base}{path}"));
        assert!(eval(&tab, "document.querySelector('main h1') !== null") == true);
        check_weight(&tab, &format!("demo {name}"));
        screenshot(&tab, &format!("demo-{name}"));
    }
    let taxonomy_rows = {
        go(&tab, &format!("{base}/ui/taxonomy"));
        eval(
            &tab,
            "document.querySelectorAll('#taxonomy tbody tr').length",
        )
    };
    assert!(taxonomy_rows.as_u64().unwrap() > 5, "{taxonomy_rows}");
    let models = {
        go(&tab, &format!("{base}/ui/models"));
        text(&tab)
    };
    assert!(
        models.contains("product-ner") || models.contains("review"),
        "{models}"
    );
    let found = problems.take();
    assert!(found.is_empty(), "console errors: {found:?}");
}
