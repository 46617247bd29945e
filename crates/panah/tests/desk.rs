//! `panah desk`, the coordinators' desk: the attacks a local web server must close (a
//! foreign Host, a missing or foreign Origin, a missing form token, the one-time address
//! replayed, requests after a lock or after the idle time), and the whole coordinator day
//! in a real headless Chromium, in each language, at phone and laptop widths, with
//! screenshots in target/screenshots/desk-*.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use support::chromium::Driver;
use support::*;

/// A running `panah desk` and its one-time address.
struct Desk {
    child: Child,
    base: String,
    port: u16,
    once: String,
}

impl Drop for Desk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Desk {
    /// Starts a desk for `keyring` on `hub`. With `unlocked`, the passphrase comes from the
    /// environment at start; otherwise the desk asks for it on its first page.
    fn start(hub: &Hub, keyring: &str, lang: &str, unlocked: bool, env: &[(&str, &str)]) -> Desk {
        let mut cmd = panah();
        if !unlocked {
            cmd.env_remove("PANAH_PASSPHRASE");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .args(coordinator_args("desk", hub, keyring, &["--lang", lang]))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find("http://127.0.0.1:") {
                    let _ = tx.send(line[at..].trim().to_owned());
                }
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the desk printed its address");
        let (base, once) = address.split_once("/open/").unwrap();
        let port = base
            .trim_start_matches("http://127.0.0.1:")
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        Desk {
            child,
            base: base.to_owned(),
            port,
            once: once.to_owned(),
        }
    }

    fn open_url(&self) -> String {
        format!("{}/open/{}", self.base, self.once)
    }

    /// Opens the one-time address and returns the session's cookie (`name=value`).
    async fn session(&self, http: &reqwest::Client) -> String {
        let res = http.get(self.open_url()).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let cookie = res.headers()["set-cookie"].to_str().unwrap();
        cookie.split(';').next().unwrap().to_owned()
    }

    /// The desk's origin, as a browser names it in `Origin`.
    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where every page of this desk begins (`/d/…`).
    fn root(&self) -> String {
        let after_host = self.base.trim_start_matches("http://");
        after_host[after_host.find('/').unwrap()..].to_owned()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A refused upload leaves its connection half read: never reuse one.
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// The form token on a desk page.
fn token_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    html[at..at + 64].to_owned()
}

/// A small PNG of one colour (valid: the desk shows it and the hub's scrubber reads it).
fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    fn crc(bytes: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for b in bytes {
            c ^= u32::from(*b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc(&body).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // Each row: filter byte 0, then the pixels.
    let row: Vec<u8> = std::iter::once(0)
        .chain(rgb.iter().copied().cycle().take(width as usize * 3))
        .collect();
    let raw = row.repeat(height as usize);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &raw).unwrap();
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_desk_refuses_what_did_not_come_from_its_own_pages() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _data, keyrings) = hub_with_team(dir.path(), 1, &[]);
    let desk = Desk::start(&hub, &keyrings[0], "en", true, &[]);
    let http = client();
    let base = &desk.base;

    // Before the one-time address is used: nothing, not even with a guessed cookie.
    let res = http.get(format!("{base}/inbox")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("First open the address"));
    let res = http
        .get(format!("{base}/open/{}", "0".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a wrong one-time address");

    // DNS rebinding: a page at evil.example whose name now points at 127.0.0.1. It does
    // not even use up the one-time address.
    for bad in [
        "evil.example",
        &format!("evil.example:{}", desk.port),
        &format!("localhost:{}", desk.port),
    ] {
        let res = http
            .get(desk.open_url())
            .header("host", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 421, "Host {bad}");
    }

    // The one-time address sets the session once, for the desk's own path only (cookies
    // are not kept apart by port).
    let res = http.get(desk.open_url()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        cookie.contains(&format!("Path={}", desk.root())),
        "{cookie}"
    );
    let page = res.text().await.unwrap();
    assert!(
        page.contains(&format!("url={}/unlock", desk.root())),
        "{page}"
    );
    assert!(
        !page.contains("name=\"csrf\""),
        "no token before the session is in use"
    );
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let res = http.get(desk.open_url()).send().await.unwrap();
    assert_eq!(res.status(), 403, "replayed");
    assert!(res.text().await.unwrap().contains("already used"));
    // The same browser opening it again just goes on.
    let res = http
        .get(desk.open_url())
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let get = |path: &str| {
        http.get(format!("{base}{path}"))
            .header("cookie", &cookie)
            .send()
    };
    let res = get("/inbox").await.unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("script-src"), "no script is allowed: {csp}");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-frame-options"], "DENY");
    let page = res.text().await.unwrap();
    let token = token_in(&page);
    assert!(!page.contains("<script"), "no JavaScript on the desk");
    assert!(
        page.contains("autocomplete=\"off\""),
        "the browser keeps no form values"
    );

    // Another site's link or image: refused whatever cookie comes with it.
    for site in ["cross-site", "same-site"] {
        let res = http
            .get(format!("{base}/inbox?lang=fa"))
            .header("cookie", &cookie)
            .header("sec-fetch-site", site)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{site}");
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("name=\"csrf\""),
            "a refusal carries no form token"
        );
    }
    // A page outside the desk's root is not the desk's, cookie or not.
    let res = http
        .get(format!("http://127.0.0.1:{}/inbox", desk.port))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // With the cookie but another Host: still refused.
    let res = http
        .get(format!("{base}/inbox"))
        .header("cookie", &cookie)
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 421);

    // Changes: only a form from the desk's own pages, with its token.
    let post = |origin: Option<&str>, body: String, kind: &str| {
        let mut req = http
            .post(format!("{base}/lock"))
            .header("cookie", &cookie)
            .header("content-type", kind.to_owned())
            .body(body);
        if let Some(o) = origin {
            req = req.header("origin", o.to_owned());
        }
        req.send()
    };
    let form = "application/x-www-form-urlencoded";
    let good = format!("csrf={token}");
    for (origin, body, kind, status, why) in [
        (None, good.clone(), form, 403, "no Origin"),
        (
            Some("http://evil.example"),
            good.clone(),
            form,
            403,
            "a foreign Origin",
        ),
        (Some("null"), good.clone(), form, 403, "an opaque Origin"),
        (
            Some(desk.origin().as_str()),
            String::new(),
            form,
            403,
            "no token",
        ),
        (
            Some(desk.origin().as_str()),
            format!("csrf={}", "a".repeat(64)),
            form,
            403,
            "a wrong token",
        ),
        (
            Some(desk.origin().as_str()),
            format!("{{\"csrf\":\"{token}\"}}"),
            "application/json",
            415,
            "not a form",
        ),
        (
            Some(desk.origin().as_str()),
            "x".repeat(10 * 1024 * 1024),
            form,
            413,
            "too large",
        ),
    ] {
        let res = post(origin, body, kind).await.unwrap();
        assert_eq!(res.status(), status, "{why}");
        // Nothing was done: the desk is still unlocked.
        let res = get("/inbox").await.unwrap();
        assert_eq!(res.status(), 200, "still unlocked after {why}");
    }
    let res = post(Some(desk.origin().as_str()), good.clone(), form)
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "a real lock");
    assert_eq!(res.headers()["location"], format!("{}/unlock", desk.root()));

    // After the lock, nothing that needs the keyring is answered.
    for path in [
        "/inbox", "/inbox/1", "/books", "/needs", "/cases", "/summary",
    ] {
        let res = get(path).await.unwrap();
        assert_eq!(res.status(), 303, "{path} after lock");
        assert_eq!(
            res.headers()["location"],
            format!("{}/unlock", desk.root()),
            "{path}"
        );
    }
    let res = http
        .post(format!("{base}/books/add"))
        .header("cookie", &cookie)
        .header("origin", desk.origin().as_str())
        .header("content-type", form)
        .body(format!(
            "csrf={token}&kind=expense&amount=100&category=food&rail=cash&memo=x"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409, "a change after lock is not made");
    assert!(
        res.text().await.unwrap().contains("locked itself"),
        "and it says so"
    );
    let page = get("/unlock").await.unwrap().text().await.unwrap();
    assert!(page.contains("type=\"password\""));

    // A wrong passphrase is refused plainly; the right one unlocks.
    let unlock = |pass: &str| {
        http.post(format!("{base}/unlock"))
            .header("cookie", &cookie)
            .header("origin", desk.origin().as_str())
            .header("content-type", form)
            .body(format!(
                "csrf={token}&passphrase={}",
                pass.replace(' ', "+")
            ))
            .send()
    };
    let res = unlock("not it").await.unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("passphrase"));
    let res = unlock(PASS).await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(get("/inbox").await.unwrap().status(), 200);
    drop(desk);

    // The idle time locks it by itself.
    let desk = Desk::start(
        &hub,
        &keyrings[0],
        "en",
        true,
        &[("PANAH_DESK_IDLE_SECONDS", "1")],
    );
    let cookie = desk.session(&http).await;
    let res = http
        .get(format!("{}/inbox", desk.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let res = http
        .get(format!("{}/inbox", desk.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "locked after the idle time");
    drop(desk);
    assert!(hub.stop().success());
}

/// Fills a form field on the current page.
async fn fill(driver: &Driver, selector: &str, value: &str) {
    let r = driver
        .eval(&format!(
            "const e = document.querySelector({}); if (!e) return 'missing'; e.value = {}; return 'ok';",
            json!(selector),
            json!(value)
        ))
        .await;
    assert_eq!(r, json!("ok"), "field {selector}");
}

/// Clicks a button or link, then waits for the next page.
async fn click(driver: &Driver, selector: &str) {
    let r = driver
        .eval(&format!(
            "const e = document.querySelector({}); if (!e) return 'missing'; window.__old = 1; e.click(); return 'ok';",
            json!(selector)
        ))
        .await;
    assert_eq!(r, json!("ok"), "click {selector}");
    // The page is replaced when the navigation ends: wait for the marker to go.
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let v = driver
            .eval("return document.readyState === 'complete' && window.__old === undefined;")
            .await;
        if v == json!(true) {
            return;
        }
    }
    panic!("no page after clicking {selector}");
}

/// Waits until the browser shows the desk page whose path ends with `end`.
async fn wait_for_page(driver: &Driver, end: &str) {
    for _ in 0..200 {
        let path = driver.eval("return location.pathname;").await;
        if path.as_str().is_some_and(|p| p.ends_with(end)) {
            let ready = driver.eval("return document.readyState;").await;
            if ready == json!("complete") {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the browser never reached {end}");
}

async fn text(driver: &Driver) -> String {
    driver
        .eval("return document.body.innerText;")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

const LAYOUT: &str = r#"
return {
  dir: getComputedStyle(document.body).direction,
  lang: document.documentElement.lang,
  width: window.innerWidth,
  scrollWidth: document.documentElement.scrollWidth,
  scripts: document.scripts.length,
  resources: performance.getEntriesByType('resource').map(e => e.name),
  images: [...document.images].map(i => ({ w: i.naturalWidth, src: i.src })),
};
"#;

/// Checks the page's direction and width, and keeps a screenshot at both widths.
async fn look(driver: &Driver, lang: &str, name: &str) -> Value {
    let mut probe = Value::Null;
    for phone in [true, false] {
        driver.phone(phone).await;
        probe = driver.eval(LAYOUT).await;
        let what = format!("{name} in {lang}: {probe}");
        assert_eq!(
            probe["dir"],
            if lang == "en" { "ltr" } else { "rtl" },
            "{what}"
        );
        assert_eq!(probe["scripts"], 0, "{what}");
        assert!(
            probe["scrollWidth"].as_f64().unwrap() <= probe["width"].as_f64().unwrap(),
            "no sideways scrolling: {what}"
        );
        for r in probe["resources"].as_array().unwrap() {
            assert!(
                r.as_str().unwrap().starts_with("http://127.0.0.1:"),
                "only the desk itself: {what}"
            );
        }
        let width = if phone { "phone" } else { "laptop" };
        driver
            .screenshot(&format!("desk-{name}-{lang}-{width}.png"))
            .await;
    }
    driver.phone(true).await;
    probe
}

#[tokio::test(flavor = "multi_thread")]
async fn a_coordinators_day_at_the_desk_in_each_language() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _data, keyrings) = hub_with_team(dir.path(), 2, &[]);
    let h = coordinator_args("ledger", &hub, &keyrings[0], &[]);
    ok(&[&h[..], &["init", "--base", "AFN"]].concat());
    let Some(driver) = Driver::start_sized(&dir.path().join("chromium"), true).await else {
        return;
    };
    let photo = dir.path().join("photo.png");
    std::fs::write(&photo, png(40, 30, [200, 30, 30])).unwrap();

    for lang in ["fa", "ps", "en"] {
        // A sender writes with a photo.
        let (status, _) = curl_contact(
            &hub.url,
            "roshanai",
            &[
                &format!("message=Generator broke, day of {lang}. <b>bold?</b>"),
                &format!("file=@{};type=image/png", photo.display()),
            ],
        );
        assert_eq!(status, 200);

        let desk = Desk::start(&hub, &keyrings[0], lang, false, &[]);
        driver.open(&desk.open_url()).await;
        wait_for_page(&driver, "/unlock").await;
        look(&driver, lang, "unlock").await;
        fill(&driver, "#passphrase", PASS).await;
        click(&driver, "form[action$='/unlock'] button").await;

        // The inbox: the new conversation is marked.
        let p = look(&driver, lang, "inbox").await;
        assert!(p.to_string().contains("\"dir\""));
        let unread = driver
            .eval("return document.querySelectorAll('li.unread').length;")
            .await;
        assert!(unread.as_u64().unwrap() >= 1, "{lang}: an unread mark");
        click(&driver, "li.unread a").await;
        let p = look(&driver, lang, "conversation").await;
        let images = p["images"].as_array().unwrap();
        assert_eq!(images.len(), 1, "{lang}: the photo is shown: {p}");
        assert_eq!(images[0]["w"], 40, "{lang}: and it decodes: {p}");
        let body = text(&driver).await;
        assert!(
            body.contains("<b>bold?</b>"),
            "{lang}: the sender's text is shown as text"
        );

        // Reply.
        fill(&driver, "#text", &format!("We are on it ({lang}).")).await;
        click(&driver, "form[action$='/reply'] button").await;
        let body = text(&driver).await;
        assert!(
            body.contains(&format!("We are on it ({lang}).")),
            "{lang}: the reply is in the conversation"
        );
        look(&driver, lang, "replied").await;

        // Books: an expense whose note holds a phone number is stopped with a warning,
        // then signed when the coordinator insists.
        driver.open(&format!("{}/books", desk.base)).await;
        look(&driver, lang, "books").await;
        fill(&driver, "input[name=amount]", "2500").await;
        fill(&driver, "select[name=category]", "power").await;
        fill(&driver, "select[name=rail]", "cash").await;
        fill(&driver, "input[name=memo]", "fuel, call 0799123456").await;
        click(&driver, "form[action$='/books/add'] button").await;
        let warned = driver
            .eval("return document.querySelector('button[name=anyway]') !== null;")
            .await;
        assert_eq!(
            warned,
            json!(true),
            "{lang}: a warning before signing: {}",
            text(&driver).await
        );
        look(&driver, lang, "books-warning").await;
        click(&driver, "button[name=anyway]").await;
        let done = driver
            .eval("return document.querySelectorAll('p.done').length;")
            .await;
        assert!(
            done.as_u64().unwrap() >= 2,
            "{lang}: verified and signed: {}",
            text(&driver).await
        );
        look(&driver, lang, "books-signed").await;

        // A need, then a case moved along a stage.
        driver.open(&format!("{}/needs", desk.base)).await;
        fill(
            &driver,
            "#new-need input[name=pseudonym]",
            &format!("blue kite {lang}"),
        )
        .await;
        fill(&driver, "#new-need select[name=category]", "power").await;
        fill(&driver, "#new-need select[name=urgency]", "urgent").await;
        fill(&driver, "#new-need input[name=asked]", "12000").await;
        click(&driver, "#new-need button").await;
        look(&driver, lang, "need").await;
        let url = driver.eval("return location.pathname;").await;
        assert!(
            url.as_str()
                .unwrap()
                .starts_with(&format!("{}/needs/", desk.root())),
            "{lang}: {url}"
        );

        driver.open(&format!("{}/cases", desk.base)).await;
        fill(
            &driver,
            "#new-case input[name=pseudonym]",
            &format!("teacher k {lang}"),
        )
        .await;
        fill(
            &driver,
            "#new-case input[name=pathway]",
            "humanitarian visa",
        )
        .await;
        fill(
            &driver,
            "#new-case input[name=next_action]",
            "gather school records",
        )
        .await;
        click(&driver, "#new-case button").await;
        let case = driver.eval("return location.pathname;").await;
        fill(
            &driver,
            "input[name=only_stage] ~ label select[name=stage]",
            "documents",
        )
        .await;
        click(&driver, "input[name=only_stage] ~ button").await;
        assert_eq!(driver.eval("return location.pathname;").await, case);
        look(&driver, lang, "case").await;
        driver.open(&format!("{}/cases", desk.base)).await;
        look(&driver, lang, "board").await;

        driver.open(&format!("{}/summary", desk.base)).await;
        look(&driver, lang, "summary").await;
        let groups = driver
            .eval("return document.querySelectorAll('main h2').length;")
            .await;
        assert_eq!(
            groups,
            json!(5),
            "{lang}: needs, money, cases, overdue, due this week"
        );

        driver.open(&format!("{}/team", desk.base)).await;
        look(&driver, lang, "team").await;

        // Lock: back to the passphrase.
        click(&driver, "form.lock button").await;
        let unlock = json!(format!("{}/unlock", desk.root()));
        assert_eq!(driver.eval("return location.pathname;").await, unlock);
        driver.open(&format!("{}/inbox", desk.base)).await;
        assert_eq!(
            driver.eval("return location.pathname;").await,
            unlock,
            "{lang}: locked"
        );
        drop(desk);
    }
    driver.quit().await;

    // What the desk did is what the command line sees.
    ok(&coordinator_args("sync", &hub, &keyrings[1], &[]));
    let out = ok(&coordinator_args("cases", &hub, &keyrings[1], &["list"]));
    assert!(
        out.contains("teacher k fa") && out.contains("teacher k en"),
        "{out}"
    );
    assert!(out.contains("gathering documents"), "{out}");

    // Removing a teammate from the desk: signed here, the records wrapped anew at once.
    let desk = Desk::start(&hub, &keyrings[0], "en", true, &[]);
    let http = client();
    let cookie = desk.session(&http).await;
    let page = http
        .get(format!("{}/team", desk.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page.find("/team/remove/").expect("a teammate to remove") + 13;
    let fp: String = page[at..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect();
    let res = http
        .post(format!("{}/team/remove/{fp}", desk.base))
        .header("cookie", &cookie)
        .header("origin", desk.origin().as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={}", token_in(&page)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let page = http
        .get(format!("{}/team", desk.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("Coordinator {fp} was removed")),
        "{page}"
    );
    assert!(
        page.contains("Records encrypted anew") && page.contains("Conversations encrypted anew"),
        "the records are wrapped anew at once: {page}"
    );
    assert!(!page.contains("/team/remove/"), "only you are left: {page}");
    let out = run(&coordinator_args("team", &hub, &keyrings[1], &[]));
    assert!(
        !out.status.success(),
        "the removed coordinator cannot log in any more"
    );

    // Adding them back: first the fingerprint their line gives, to check with them, and
    // nothing signed; then, checked, signed.
    let line = ok(&["id", "show", "--keyring", &keyrings[1]]);
    let line = line.trim();
    let token = token_in(&page);
    let add = |checked: bool| {
        let mut body = format!(
            "csrf={token}&label=kite&line={}",
            form_urlencoded::byte_serialize(line.as_bytes()).collect::<String>()
        );
        if checked {
            body.push_str("&checked=yes");
        }
        http.post(format!("{}/team/add", desk.base))
            .header("cookie", &cookie)
            .header("origin", desk.origin())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let res = add(false).await.unwrap();
    assert_eq!(res.status(), 200);
    let check = res.text().await.unwrap();
    assert!(check.contains(&fp), "the fingerprint to check: {check}");
    assert!(check.contains("name=\"checked\""), "{check}");
    let out = run(&coordinator_args("team", &hub, &keyrings[1], &[]));
    assert!(!out.status.success(), "not added before it is checked");
    let res = add(true).await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let out = ok(&coordinator_args("team", &hub, &keyrings[1], &[]));
    assert!(out.contains(&fp) && out.contains("kite"), "{out}");

    // Goals: saved, then shown in the form as they are now (an empty form would erase
    // them from the appeal); a signed change answers with a redirect, so a reload does
    // nothing again.
    let res = http
        .post(format!("{}/books/goals", desk.base))
        .header("cookie", &cookie)
        .header("origin", desk.origin())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}&target=1500000&budgets=food%3D600000"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let books = http
        .get(format!("{}/books", desk.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(books.contains("name=\"target\" value=\"1500000"), "{books}");
    assert!(books.contains(">food=600000"), "{books}");
    assert!(
        http_body(&hub.url, "/c/roshanai?lang=en").contains("<progress"),
        "the appeal shows the goals"
    );
    drop(desk);
    assert!(hub.stop().success());
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_the_desk_decrypts_reaches_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _data, keyrings) = hub_with_team(dir.path(), 1, &[]);
    let photo = dir.path().join("photo.png");
    let image = png(64, 48, [17, 99, 201]);
    std::fs::write(&photo, &image).unwrap();
    // The photo's compressed pixels: what a decrypted copy would hold.
    let at = image.windows(4).position(|w| w == b"IDAT").unwrap() + 4;
    let pixels = image[at..at + 24].to_vec();
    let (status, _) = curl_contact(
        &hub.url,
        "roshanai",
        &[
            "message=CANARYDESKMESSAGE help",
            &format!("file=@{};type=image/png", photo.display()),
        ],
    );
    assert_eq!(status, 200);
    std::fs::remove_file(&photo).unwrap();

    let home = dir.path().join("home");
    let cache = dir.path().join("cache");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&home).unwrap();
    let (h, c, s) = (
        home.display().to_string(),
        cache.display().to_string(),
        state.display().to_string(),
    );
    let desk = Desk::start(
        &hub,
        &keyrings[0],
        "en",
        true,
        &[
            ("HOME", &h),
            ("XDG_DATA_HOME", &h),
            ("XDG_CONFIG_HOME", &h),
            ("XDG_CACHE_HOME", &h),
            ("PANAH_CACHE_DIR", &c),
            ("PANAH_LEDGER_STATE_DIR", &s),
        ],
    );
    let http = client();
    let cookie = desk.session(&http).await;
    let get = |path: String| {
        http.get(format!("{}{path}", desk.base))
            .header("cookie", &cookie)
            .send()
    };
    let page = get("/inbox/1".into()).await.unwrap().text().await.unwrap();
    assert!(page.contains("CANARYDESKMESSAGE"), "{page}");
    let token = token_in(&page);
    let at = page.find("/inbox/1/files/").unwrap() + 15;
    let file: String = page[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let res = get(format!("/inbox/1/files/{file}?view=1")).await.unwrap();
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(
        contains(&res.bytes().await.unwrap(), &pixels),
        "the photo, decrypted"
    );
    let res = get(format!("/inbox/1/files/{file}")).await.unwrap();
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let post = |path: &str, body: String| {
        http.post(format!("{}{path}", desk.base))
            .header("cookie", &cookie)
            .header("origin", desk.origin().as_str())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let res = post("/inbox/1/export", format!("csrf={token}"))
        .await
        .unwrap();
    assert!(
        res.bytes()
            .await
            .unwrap()
            .starts_with(b"age-encryption.org/v1"),
        "an export is an age file"
    );
    let res = post(
        "/inbox/1/reply",
        format!("csrf={token}&text=CANARYDESKREPLY"),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    let res = post(
        "/needs",
        format!("csrf={token}&pseudonym=heron&category=food&urgency=soon&status=open&currency=AFN&notes=CANARYDESKNOTE"),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let res = post("/lock", format!("csrf={token}")).await.unwrap();
    assert_eq!(res.status(), 303);
    drop(desk);

    let mut scanned = 0;
    for path in files_below(dir.path()) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        scanned += 1;
        for canary in [
            &b"CANARYDESKMESSAGE"[..],
            b"CANARYDESKREPLY",
            b"CANARYDESKNOTE",
            &pixels,
        ] {
            assert!(
                !contains(&bytes, canary),
                "{} holds {:?} in clear",
                path.display(),
                String::from_utf8_lossy(canary)
            );
        }
    }
    assert!(
        scanned > 5,
        "the hub's and the desk's files were scanned: {scanned}"
    );
    assert!(files_below(&cache).len() == 1, "one cache file, encrypted");
    assert!(hub.stop().success());
}
