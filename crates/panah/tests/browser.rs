//! Pages in a real headless Chromium (driven through chromedriver): right-to-left layout
//! for Dari and Pashto, no horizontal scrolling on a small phone, and not a single request
//! beyond the page itself. Screenshots land in target/screenshots/ for people to look at.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Driver {
    async fn start(profile: &std::path::Path) -> Option<Driver> {
        let chromedriver = tool("chromedriver")?;
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(res) = http.get(format!("{base}/status")).send().await {
                if res.status().is_success() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=360,740",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let mut driver = Driver {
            child,
            base,
            http,
            session: String::new(),
        };
        let res = driver.call("POST", "/session", Some(caps)).await;
        driver.session = res["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_owned();
        Some(driver)
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{}", self.base, path);
        let req = match method {
            "POST" => self.http.post(url).json(&body.unwrap_or(json!({}))),
            "DELETE" => self.http.delete(url),
            _ => self.http.get(url),
        };
        let res: Value = req
            .send()
            .await
            .expect("chromedriver")
            .json()
            .await
            .expect("JSON");
        res["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.call(
            "POST",
            &format!("/session/{}/url", self.session),
            Some(json!({"url": url})),
        )
        .await;
    }

    async fn eval(&self, script: &str) -> Value {
        self.call(
            "POST",
            &format!("/session/{}/execute/sync", self.session),
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    async fn screenshot(&self, name: &str) {
        let png = self
            .call(
                "GET",
                &format!("/session/{}/screenshot", self.session),
                None,
            )
            .await;
        use base64::Engine;
        if let Some(b64) = png.as_str() {
            let dir =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(
                dir.join(name),
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap_or_default(),
            );
        }
    }
}

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

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_and_its_goals_on_a_small_phone() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _data, keyrings) = hub_with_team(dir.path(), 1, &[]);
    let h = coordinator_args("ledger", &hub, &keyrings[0], &[]);
    ok(&[&h[..], &["init", "--base", "AFN"]].concat());
    let csv = dir.path().join("sample.csv");
    std::fs::write(&csv, include_str!("../src/demo_ledger.csv")).unwrap();
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
        assert_eq!(
            p["rows"], 38,
            "{lang}: every sample entry is in the latest 50: {p}"
        );
    }
    driver
        .call("DELETE", &format!("/session/{}", driver.session), None)
        .await;
    assert!(hub.stop().success());
}
