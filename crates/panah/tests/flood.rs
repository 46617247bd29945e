//! One stranger must not close a door for everyone, and slow clients must not hold the hub:
//! floods and slow clients against the real `panah serve` over real TCP, while a genuine
//! sender, donor and coordinator try their luck. Bounded: each test runs for well under a
//! minute.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{codename_in, coordinator_args, hub_with_team, ok, run};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn addr(hub_url: &str) -> SocketAddr {
    hub_url.trim_start_matches("http://").parse().unwrap()
}

/// A connection to the hub from the loopback address `from` (127.0.0.1 … 127.255.255.254
/// are all this machine, and the hub sees each as another source).
async fn connect(hub: SocketAddr, from: IpAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(hub).await
}

/// Sends one request and reads the whole answer (`Connection: close`); gives the status
/// and the body. 0 if the connection failed or timed out.
async fn exchange(hub: SocketAddr, from: IpAddr, request: Vec<u8>) -> (u16, String) {
    let go = async {
        let mut s = connect(hub, from).await?;
        s.write_all(&request).await?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&answer).into_owned())
    };
    match tokio::time::timeout(Duration::from_secs(20), go).await {
        Ok(Ok(text)) => {
            let status = text
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
            (status, body.to_owned())
        }
        _ => (0, String::new()),
    }
}

fn form_post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn json_post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

const BOUNDARY: &str = "----panahtestboundary";

fn multipart(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    let mut req = format!(
        "POST /c/roshanai/contact?lang=en HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body.as_bytes());
    req
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Floods `request()` from `from` until `stop`; counts the requests sent.
fn flood(
    hub: SocketAddr,
    from: IpAddr,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    request: impl Fn(usize) -> Vec<u8> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            let _ = exchange(hub, from, request(n)).await;
            n += 1;
            sent.fetch_add(1, Ordering::Relaxed);
        }
    })
}

/// While one client floods each door with what a stranger can send (garbage codenames and
/// receipt codes, honeypot-filled messages, logins for a collective that does not exist),
/// and five more flood the contact form with valid messages from their own addresses, a
/// genuine sender, donor and coordinator each get through at least 4 times of 5, with the
/// default limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_stranger_cannot_close_a_door() {
    let dir = tempfile::tempdir().unwrap();
    // Per-source shares on loopback too, so that the valid flood comes from "elsewhere".
    let config = dir.path().join("panah.toml");
    std::fs::write(&config, "fairness = \"on\"\n").unwrap();
    let config = config.display().to_string();
    let (hub, _data, keyrings) = hub_with_team(dir.path(), 1, &["--config", &config]);
    let h = coordinator_args("ledger", &hub, &keyrings[0], &[]);
    ok(&[&h[..], &["init", "--base", "AFN"]].concat());
    let said = ok(&[
        &h[..],
        &[
            "add",
            "income",
            "--amount",
            "100",
            "--category",
            "food",
            "--rail",
            "cash",
            "--receipt",
        ],
    ]
    .concat());
    let receipt = said
        .lines()
        .find_map(|l| l.split_once("receipt code for entry 0").map(|(_, r)| r))
        .and_then(|r| r.rsplit(": ").next())
        .unwrap_or_else(|| panic!("{said}"))
        .to_owned();
    let server = addr(&hub.url);
    let me = ip("127.0.0.1");
    // A genuine sender's codename, to read replies with.
    let (status, page) = exchange(server, me, multipart(&[("message", "first message")])).await;
    assert_eq!(status, 200, "{page}");
    let codename = codename_in(&page);

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let stranger = ip("127.0.0.9");
    let floods = vec![
        flood(server, stranger, stop.clone(), sent.clone(), |n| {
            form_post(
                "/c/roshanai/replies?lang=en",
                &format!("codename={:044}", n),
            )
        }),
        flood(server, stranger, stop.clone(), sent.clone(), |n| {
            form_post(
                "/c/roshanai/ledger/receipt?lang=en",
                &format!("code={:020}", n),
            )
        }),
        flood(server, stranger, stop.clone(), sent.clone(), |_| {
            multipart(&[("message", "spam"), ("website", "http://spam.example")])
        }),
        flood(server, stranger, stop.clone(), sent.clone(), |_| {
            json_post(
                "/api/v1/login/challenge",
                r#"{"collective":"nope","key":"ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#,
            )
        }),
    ];
    // Valid messages, as fast as they can, from five addresses at once: each is held to its
    // share, and together they leave the collective's reserve to people trying once.
    let mut floods = floods;
    for a in 10..15 {
        floods.push(flood(
            server,
            ip(&format!("127.0.0.{a}")),
            stop.clone(),
            sent.clone(),
            |n| multipart(&[("message", &format!("valid flood {n}"))]),
        ));
    }
    // Let the floods drain every bucket they can before the genuine tries start.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let started = Instant::now();
    let (mut sender_ok, mut reader_ok, mut donor_ok, mut coordinator_ok) = (0, 0, 0, 0);
    let replies_body = format!("codename={}", codename.replace(' ', "+"));
    for i in 0..5 {
        let (s, page) = exchange(
            server,
            me,
            multipart(&[("message", &format!("genuine {i}"))]),
        )
        .await;
        sender_ok += usize::from(s == 200 && page.contains("codename"));
        let (s, _) = exchange(
            server,
            me,
            form_post("/c/roshanai/replies?lang=en", &replies_body),
        )
        .await;
        reader_ok += usize::from(s == 200);
        let (s, _) = exchange(
            server,
            me,
            form_post(
                "/c/roshanai/ledger/receipt?lang=en",
                &format!("code={}", receipt.replace(' ', "+")),
            ),
        )
        .await;
        donor_ok += usize::from(s == 200);
        let args: Vec<String> = coordinator_args("team", &hub, &keyrings[0], &[])
            .into_iter()
            .map(str::to_owned)
            .collect();
        let out = tokio::task::spawn_blocking(move || {
            run(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .await
        .unwrap();
        coordinator_ok += usize::from(out.status.success());
        if !out.status.success() {
            println!("coordinator: {}", String::from_utf8_lossy(&out.stderr));
        }
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for f in floods {
        let _ = f.await;
    }
    let flooded = sent.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs() + 3;
    println!(
        "flood: {flooded} requests in {secs} s; genuine successes of 5: sender {sender_ok}, \
         replies {reader_ok}, donor {donor_ok}, coordinator {coordinator_ok}"
    );
    assert!(flooded > 500, "the floods ran ({flooded} requests)");
    assert!(sender_ok >= 4, "sender {sender_ok}/5");
    assert!(reader_ok >= 4, "replies {reader_ok}/5");
    assert!(donor_ok >= 4, "donor {donor_ok}/5");
    assert!(coordinator_ok >= 4, "coordinator {coordinator_ok}/5");
    assert!(hub.stop().success());
}

/// Slow clients hold nothing for long: 300 connections that never finish their headers,
/// 70 uploads trickling a byte at a time, and more idle connections than the hub serves
/// at once; a genuine sender still gets through, the hub answers /healthz, and every slow
/// client is let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_clients_hold_nothing_for_long() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("panah.toml");
    // Per-source shares on loopback, and a short stall limit so the test is short (the
    // header deadline and the rest are the defaults).
    std::fs::write(&config, "fairness = \"on\"\nupload_idle_secs = 5\n").unwrap();
    let config = config.display().to_string();
    let (hub, _data, _keyrings) = hub_with_team(dir.path(), 1, &["--config", &config]);
    let server = addr(&hub.url);
    let me = ip("127.0.0.1");

    // 300 half-sent headers from 10 addresses (30 each, under the per-source share).
    let mut slow_headers = Vec::new();
    for i in 0..300 {
        let mut s = connect(server, ip(&format!("127.0.1.{}", 1 + i % 10)))
            .await
            .unwrap();
        s.write_all(b"GET /c/roshanai HTTP/1.1\r\nHost: hub\r\n")
            .await
            .unwrap();
        slow_headers.push(s);
    }
    // 70 uploads from one address, trickling.
    let mut uploads = Vec::new();
    for _ in 0..70 {
        let Ok(mut s) = connect(server, ip("127.0.2.1")).await else {
            continue;
        };
        let head = format!(
            "POST /c/roshanai/contact?lang=en HTTP/1.1\r\nHost: hub\r\n\
             Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: 100000\r\n\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
        );
        if s.write_all(head.as_bytes()).await.is_ok() {
            uploads.push(s);
        }
    }
    // A client that asks for many pages and never reads them, and one that keeps a
    // connection alive with a request every few seconds: neither may hold it for long.
    let slow_reader = tokio::spawn(async move {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.bind(SocketAddr::new(ip("127.0.4.1"), 0)).unwrap();
        let mut s = socket.connect(server).await.unwrap();
        let ask = b"GET /c/roshanai?lang=en HTTP/1.1\r\nHost: hub\r\n\r\n".repeat(4000);
        let _ = tokio::time::timeout(Duration::from_secs(5), s.write_all(&ask)).await;
        // Never read for longer than the hub waits on a write (20 s).
        tokio::time::sleep(Duration::from_secs(30)).await;
        let mut answers = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut answers)).await;
        String::from_utf8_lossy(&answers)
            .matches("HTTP/1.1 200")
            .count()
    });
    let dripping = tokio::spawn(async move {
        let mut s = connect(server, ip("127.0.5.1")).await.unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 4096];
        while started.elapsed() < Duration::from_secs(90) {
            if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
                .await
                .is_err()
            {
                break;
            }
            match tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) if String::from_utf8_lossy(&buf[..n]).contains("connection: close") => {
                    break
                }
                _ => {}
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        started.elapsed()
    });
    let trickle = tokio::spawn(async move {
        for _ in 0..8 {
            for s in uploads.iter_mut() {
                let _ = s.write_all(b"x").await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        uploads
    });

    // A genuine sender gets through meanwhile, and the hub answers its health check.
    let started = Instant::now();
    let (status, page) = exchange(server, me, multipart(&[("message", "still open")])).await;
    assert_eq!(status, 200, "{page}");
    let (status, _) = exchange(
        server,
        me,
        b"GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n".to_vec(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_secs(5));

    // The half-sent headers are closed by the header deadline (10 s).
    let mut closed = 0;
    for mut s in slow_headers {
        let mut buf = [0u8; 512];
        let read = tokio::time::timeout(Duration::from_secs(15), s.read(&mut buf)).await;
        closed += usize::from(matches!(read, Ok(Ok(_)) | Ok(Err(_))));
    }
    assert_eq!(closed, 300, "every half-sent header was let go");
    // The trickling uploads were cut off (stalled or too slow after 5 s).
    let uploads = trickle.await.unwrap();
    let held = uploads.len();
    let mut cut = 0;
    for mut s in uploads {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
        cut += usize::from(read.is_ok());
    }
    assert_eq!(cut, held, "every slow upload was let go");
    println!("slow clients: 300 slow headers closed, {held} slow uploads accepted and cut");

    // More idle connections than the hub serves at once (512), from many addresses: the
    // ones over are told "busy" at once and closed; the hub keeps answering.
    let mut idle = Vec::new();
    let mut busy = 0;
    for i in 0..600 {
        let Ok(s) = connect(server, ip(&format!("127.0.3.{}", 1 + i % 200))).await else {
            continue;
        };
        idle.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for s in idle.iter_mut() {
        let mut buf = [0u8; 1024];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(20), s.read(&mut buf)).await {
            busy += usize::from(String::from_utf8_lossy(&buf[..n]).contains(" 503 "));
        }
    }
    println!(
        "connection cap: {} connections opened, {busy} told busy",
        idle.len()
    );
    assert!(busy >= 80, "{busy} of 600 were told busy");
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, _) = exchange(
            server,
            me,
            b"GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n".to_vec(),
        )
        .await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the hub answers again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let answered = slow_reader.await.unwrap();
    assert!(
        answered < 4000,
        "a reader that stopped reading was let go ({answered} of 4000 pages sent)"
    );
    let kept = dripping.await.unwrap();
    assert!(
        kept < Duration::from_secs(75),
        "a dripping connection was kept {kept:?}"
    );
    println!("slow reader cut after {answered} pages; dripping connection closed after {kept:?}");
    let log = std::fs::read_to_string(Path::new(&hub.log)).unwrap();
    assert!(!log.contains("127.0."), "no address reached the log");
    assert!(hub.stop().success());
}
