//! Pages in a real headless Chromium (driven through chromedriver): right-to-left layout
//! for Dari and Pashto, no horizontal scrolling on a small phone, and not a single request
//! beyond the page itself. Screenshots land in target/screenshots/ for people to look at.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::chromium::Driver;
use support::*;

const PROBE: &str = r#"
const h1 = document.querySelector('h1').getBoundingClientRect();
const nav = document.querySelector('nav.langs').getBoundingClientRect();
return {
  dir: getComputedStyle(document.body).direction,
  lang: document.documentElement.lang,
  width: window.innerWidth,
  scrollWidth: document.documentElement.scrollWidth,
  h1Left: h1.left, h1Right: h1.right,
  navLeft: nav.left, navRight: nav.right,
  resources: performance.getEntriesByType('resource').map(e => e.name),
  scripts: document.scripts.length,
};
"#;

/// Each page in each language: direction, no scripts, nothing loaded beyond the page, no
/// sideways scrolling on a phone, heading and language links on the right sides.
async fn check_pages(driver: &Driver, url: &str, paths: &[&str]) {
    for (lang, dir_expected) in [("fa", "rtl"), ("ps", "rtl"), ("en", "ltr")] {
        for path in paths {
            driver.open(&format!("{url}{path}?lang={lang}")).await;
            let p = driver.eval(PROBE).await;
            let what = format!("{path}?lang={lang}: {p}");
            assert_eq!(p["dir"], dir_expected, "{what}");
            assert_eq!(p["scripts"], 0, "{what}");
            assert_eq!(
                p["resources"],
                json!([]),
                "nothing is loaded beyond the page: {what}"
            );
            let width = p["width"].as_f64().unwrap();
            assert_eq!(width, 360.0, "a phone's width: {what}");
            assert!(
                p["scrollWidth"].as_f64().unwrap() <= width,
                "no sideways scrolling: {what}"
            );
            // The heading starts on the reading side; the language links sit opposite.
            let (h1l, h1r) = (
                p["h1Left"].as_f64().unwrap(),
                p["h1Right"].as_f64().unwrap(),
            );
            let (navl, navr) = (
                p["navLeft"].as_f64().unwrap(),
                p["navRight"].as_f64().unwrap(),
            );
            if dir_expected == "rtl" {
                assert!(width - h1r < 40.0, "heading hugs the right edge: {what}");
                assert!(
                    navl < 40.0 && navr < width / 2.0 + 40.0,
                    "language links on the left: {what}"
                );
            } else {
                assert!(h1l < 40.0, "heading hugs the left edge: {what}");
                assert!(width - navr < 40.0, "language links on the right: {what}");
            }
            if path.starts_with("/c/roshanai") {
                let name = path.trim_start_matches("/c/").replace('/', "-");
                driver.screenshot(&format!("{name}-{lang}.png")).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_render_right_to_left_on_a_small_phone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub").display().to_string();
    create_collective(&data, "roshanai");
    set_appeal(
        &data,
        dir.path(),
        "roshanai",
        include_str!("../../../examples/appeal.toml"),
    );
    let hub = Hub::start(&["--data", &data], &dir.path().join("hub.log"));
    let Some(driver) = Driver::start(&dir.path().join("chromium")).await else {
        return;
    };

    check_pages(&driver, &hub.url, &["/c/roshanai", "/", "/c/nobody"]).await;
    driver
        .call("DELETE", &format!("/session/{}", driver.session), None)
        .await;
    assert!(hub.stop().success());
}

const BARS: &str = r#"
const bars = [...document.querySelectorAll('progress')];
const table = document.querySelector('table.entries');
return {
  bars: bars.map(b => ({ value: b.value, max: b.max, dir: getComputedStyle(b).direction,
                         width: b.getBoundingClientRect().width })),
  rows: table ? table.tBodies[0].rows.length : 0,
  main: document.querySelector('main').getBoundingClientRect().width,
};
"#;

const CARDS: &str = r#"
const width = document.documentElement.clientWidth;
const rows = [...document.querySelectorAll('table.entries tbody tr')];
const clipped = [];
const brokenAmounts = [];
for (const [i, tr] of rows.entries()) {
  for (const el of tr.querySelectorAll('td, td *')) {
    for (const r of el.getClientRects()) {
      if (r.left < -0.5 || r.right > width + 0.5) clipped.push(i + ': ' + el.textContent.slice(0, 40));
    }
  }
  const amount = tr.querySelector('td.a').firstChild;
  const range = document.createRange();
  range.selectNodeContents(amount);
  const lines = new Set([...range.getClientRects()].map(r => Math.round(r.bottom)));
  if (lines.size > 1) brokenAmounts.push(amount.textContent);
}
return { width, scrollWidth: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
         clipped, brokenAmounts };
"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_and_its_goals_on_a_small_phone() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _data, keyrings) = hub_with_team(dir.path(), 1, &[]);
    let h = coordinator_args("ledger", &hub, &keyrings[0], &[]);
    ok(&[&h[..], &["init", "--base", "AFN"]].concat());
    let csv = dir.path().join("sample.csv");
    // The demo's entries and as many more with long notes as make 50, the most the page
    // shows.
    let mut text = include_str!("../src/demo_ledger.csv").to_owned();
    let demo_rows = text.lines().filter(|l| !l.trim().is_empty()).count() - 1;
    assert!(demo_rows < 50, "the demo has {demo_rows} entries");
    for i in 0..50 - demo_rows {
        text.push_str(&format!(
            "2021-11-{:02},expense,food,12500,AFN,12500,transfer-agent,flour rice oil beans and tea for the families of group {i} in the western districts,,,,,,آرد برنج روغن لوبیا و چای برای خانواده‌های گروه {i} در ولسوالی‌های غربی,د لوېدیځو ولسوالیو د {i} ډلې کورنیو لپاره اوړه وریجې غوړي لوبیا او چای\n",
            1 + i % 28
        ));
    }
    std::fs::write(&csv, text).unwrap();
    ok(&[&h[..], &["import", csv.to_str().unwrap()]].concat());
    ok(&[
        &h[..],
        &[
            "goals",
            "--target",
            "1500000",
            "--budget",
            "food=600000",
            "--budget",
            "power=150000",
        ],
    ]
    .concat());
    let Some(driver) = Driver::start(&dir.path().join("chromium")).await else {
        return;
    };
    check_pages(
        &driver,
        &hub.url,
        &[
            "/c/roshanai",
            "/c/roshanai/ledger",
            "/c/roshanai/ledger/receipt",
        ],
    )
    .await;
    for (lang, dir_expected) in [("fa", "rtl"), ("ps", "rtl"), ("en", "ltr")] {
        driver
            .open(&format!("{}/c/roshanai?lang={lang}", hub.url))
            .await;
        let p = driver.eval(BARS).await;
        let bars = p["bars"].as_array().unwrap();
        assert_eq!(bars.len(), 3, "{lang}: the target and two budgets: {p}");
        for b in bars {
            assert_eq!(
                b["dir"], dir_expected,
                "{lang}: bars fill from the reading side: {p}"
            );
            assert!(
                b["value"].as_f64().unwrap() > 0.0 && b["value"].as_f64() <= b["max"].as_f64(),
                "{lang}: {p}"
            );
            assert!(
                b["width"].as_f64().unwrap() > p["main"].as_f64().unwrap() * 0.5,
                "{lang}: bars use the width: {p}"
            );
        }
        driver
            .open(&format!("{}/c/roshanai/ledger?lang={lang}", hub.url))
            .await;
        let p = driver.eval(BARS).await;
        assert_eq!(p["rows"], 50, "{lang}: the latest 50 entries: {p}");
        // On a 360 px phone each entry is a compact card: nothing clipped, no number
        // broken from its currency, nothing wider than the screen.
        let c = driver.eval(CARDS).await;
        let what = format!("{lang}: {c}");
        assert_eq!(c["clipped"], json!([]), "{what}");
        assert_eq!(c["brokenAmounts"], json!([]), "{what}");
        assert!(c["scrollWidth"].as_f64() <= c["width"].as_f64(), "{what}");
        let height = c["height"].as_f64().unwrap();
        eprintln!("ledger page with 50 entries at 360 px, {lang}: {height} px tall");
        assert!(height < 6500.0, "{lang}: the page grew to {height} px");
        driver.screenshot(&format!("ledger-50-{lang}.png")).await;
    }
    driver
        .call("DELETE", &format!("/session/{}", driver.session), None)
        .await;
    assert!(hub.stop().success());
}

const CODENAME: &str = r#"
const ol = document.querySelector('ol.codename');
if (!ol) return { found: false, html: document.body.innerText.slice(0, 400) };
const items = [...ol.querySelectorAll('li')];
const width = document.documentElement.clientWidth;
return {
  found: true,
  dir: getComputedStyle(ol).direction,
  tops: items.map(li => li.getBoundingClientRect().top),
  groups: items.map(li => li.querySelector('.g').textContent),
  latin: items.map(li => (li.querySelector('.lat') || {}).textContent || null),
  right: Math.max(...items.map(li => li.getBoundingClientRect().right)),
  width,
  scrollWidth: document.documentElement.scrollWidth,
  kept: document.body.innerText.includes("Kabul_airport_documents"),
};
"#;

/// A sender on a small phone, in each language, sends a message through the form and
/// gets the codename: seven numbered groups, one per line, top to bottom in order, left to
/// right inside a group, with Latin digits beside the reader's; nothing off the screen.
#[tokio::test(flavor = "multi_thread")]
async fn a_sender_gets_a_codename_they_can_copy_on_a_small_phone() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, _keyrings) = hub_with_team(dir.path(), 1, &[]);
    // The hub's check-digit key, to check the codename as the hub will.
    let store = panah_store::Store::open(&panah_store::Location::default_in(std::path::Path::new(
        &data,
    )))
    .await
    .unwrap();
    let check = panah_core::CheckKey::derive(&store.hub_secret("codename").await.unwrap());
    store.close().await;
    let Some(driver) = Driver::start(&dir.path().join("chromium")).await else {
        return;
    };
    // A file with a long Latin name, as phones name scans and screenshots.
    let long = dir
        .path()
        .join("Screenshot_20210815_Kabul_airport_documents_scan_final_version_2.pdf");
    std::fs::write(&long, b"%PDF-1.4 a small file").unwrap();
    for lang in ["fa", "ps", "en"] {
        driver
            .open(&format!("{}/c/roshanai/contact?lang={lang}", hub.url))
            .await;
        let input = driver
            .call(
                "POST",
                &format!("/session/{}/element", driver.session),
                Some(json!({"using": "css selector", "value": "#file"})),
            )
            .await;
        let id = input
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap()
            .to_owned();
        driver
            .call(
                "POST",
                &format!("/session/{}/element/{id}/value", driver.session),
                Some(json!({"text": long.display().to_string()})),
            )
            .await;
        driver
            .eval("document.querySelector('#message').value = 'hello'; document.querySelector('form').submit(); return 1;")
            .await;
        let mut c = Value::Null;
        for _ in 0..50 {
            c = driver.eval(CODENAME).await;
            if c["found"] == true {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let what = format!("{lang}: {c}");
        assert_eq!(c["found"], true, "{what}");
        assert_eq!(c["dir"], "ltr", "{what}");
        let tops: Vec<f64> = c["tops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_f64().unwrap())
            .collect();
        assert_eq!(tops.len(), 7, "{what}");
        assert!(
            tops.windows(2).all(|w| w[1] > w[0] + 10.0),
            "each group on its own line, in order: {what}"
        );
        assert!(c["right"].as_f64() <= c["width"].as_f64(), "{what}");
        assert!(
            c["scrollWidth"].as_f64() <= c["width"].as_f64(),
            "a long file name does not widen the page: {what}"
        );
        assert_eq!(c["kept"], true, "the file's note is shown: {what}");
        let groups: Vec<String> = c["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap().to_owned())
            .collect();
        let typed = groups.join(" ");
        assert!(
            panah_core::Codename::parse(&typed, &check).is_ok(),
            "the groups as shown, in order, are the codename: {what}"
        );
        if lang == "en" {
            assert!(c["latin"].as_array().unwrap().iter().all(Value::is_null));
        } else {
            for (g, latin) in groups.iter().zip(c["latin"].as_array().unwrap()) {
                assert_eq!(
                    panah_core::digits::to_latin(g),
                    latin.as_str().unwrap(),
                    "Latin digits beside the reader's: {what}"
                );
            }
        }
        driver.screenshot(&format!("sent-{lang}.png")).await;
    }
    driver
        .call("DELETE", &format!("/session/{}", driver.session), None)
        .await;
    assert!(hub.stop().success());
}
