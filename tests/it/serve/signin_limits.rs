//! What an anonymous flood of `/authorize` requests can do to `certgen serve`: each parameter
//! and the whole request are bounded (AADSTS90015 past them), the pending sign-ins are bounded
//! in bytes, and a flood displaces only its own newest entries, so a sign-in page a person
//! opened before it still completes after it.

use std::time::{Duration, Instant};

use super::signin::*;
use crate::support::serve::*;

/// The service's resident memory, from /proc (Linux).
fn rss_bytes(s: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kb * 1024
}

/// `count` `/authorize` requests with `extra` parameters in the query (and `body`, when
/// given, in a POST's form body), `parallel` at a time; the statuses seen.
async fn flood(
    s: &Server,
    count: usize,
    parallel: usize,
    extra: &[(&str, &str)],
    body: Option<&[(&str, &str)]>,
) -> std::collections::BTreeMap<u16, usize> {
    let url = authorize_url(s, &web_params(extra));
    let body = body.map(|b| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.extend_pairs(b);
        ser.finish()
    });
    let b = browser(s);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..parallel {
        let (b, url, next, body) = (b.clone(), url.clone(), next.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut seen = std::collections::BTreeMap::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                let req = match &body {
                    Some(form) => b
                        .post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(form.clone()),
                    None => b.get(&url),
                };
                let status = match req.send().await {
                    Ok(r) => {
                        let st = r.status().as_u16();
                        let _ = r.bytes().await;
                        st
                    }
                    Err(_) => 0,
                };
                *seen.entry(status).or_insert(0) += 1;
            }
            seen
        }));
    }
    let mut all = std::collections::BTreeMap::new();
    for t in tasks {
        for (k, v) in t.await.unwrap() {
            *all.entry(k).or_insert(0) += v;
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorize_flood_stays_under_256_mb_and_evicts_no_open_sign_in() {
    let s = serve(&[]);
    let b = browser(&s);
    // A person opens the sign-in page before the flood.
    let person = form_of(authorize(&b, &s, &[]).await).await;
    let before = rss_bytes(&s);
    let started = Instant::now();

    // The payload: a 64 KB state and a 64 KB nonce (here 60 KB each, the state in
    // the query and the nonce in a POST's body, as a URL and a body each stop at 64 KB).
    // Refused, with Entra's 90015 on a page (never sent back to the app), and nothing kept.
    let big = "a".repeat(60_000);
    let one = b
        .post(authorize_url(&s, &web_params(&[("state", &big)])))
        .form(&[("nonce", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 400);
    assert!(one.headers().get("location").is_none());
    let html = one.text().await.unwrap();
    assert!(html.contains("AADSTS90015"), "{html}");
    let seen = flood(&s, 2500, 8, &[("state", &big)], Some(&[("nonce", &big)])).await;
    let after_big = rss_bytes(&s);
    assert_eq!(seen.get(&400), Some(&2500), "{seen:?}");

    // The largest each parameter may be: kept, but within the store's byte budget; more
    // than it holds, so the flood evicts — its own entries, not the person's.
    let state = "s".repeat(4096);
    let nonce = "n".repeat(1024);
    let hint = format!("{}@contoso.example", "h".repeat(1000));
    let seen = flood(
        &s,
        6000,
        8,
        &[("state", &state), ("nonce", &nonce), ("login_hint", &hint)],
        None,
    )
    .await;
    let after_max = rss_bytes(&s);
    // Each is shown its page — or, when the flood displaced it before its page went out
    // (the newest goes first), told that sign-in is busy.
    assert!(seen.keys().all(|k| [200, 503].contains(k)), "{seen:?}");
    assert!(seen.get(&200).copied().unwrap_or(0) > 5000, "{seen:?}");
    let took = started.elapsed();
    eprintln!(
        "VmRSS: {} MB before, {} MB after 2,500 requests of 120 KB, {} MB after 6,000 of the \
         largest kept; {took:?}",
        before >> 20,
        after_big >> 20,
        after_max >> 20
    );
    for rss in [after_big, after_max] {
        assert!(rss < 256 << 20, "VmRSS {} MB", rss >> 20);
    }

    // The person's page, opened before the flood, still signs in, and the code redeems.
    let done = submit(&b, &s, &person, &[("user", ADELE), ("action", "signin")]).await;
    assert_eq!(done.status(), 302, "{:?}", done.text().await);
    let (_, fields) = location_fields(&done);
    let (status, body) = redeem(&s, field(&fields, "code").unwrap(), &[]).await;
    assert_eq!(status, 200, "{body}");
    // A sign-in begun after the flood gets in too.
    let after = sign_in(&s, &b, &web_params(&[]), ALEX).await;
    assert_eq!(after.status(), 302);
    assert!(took < Duration::from_secs(60), "{took:?}");
}

#[tokio::test]
async fn each_parameter_is_bounded_with_90015() {
    let s = serve(&["--auto-sign-in", ADELE]);
    let b = browser(&s);
    for (name, limit) in [
        ("state", 4096),
        ("nonce", 1024),
        ("login_hint", 1024),
        ("code_challenge", 128),
        ("scope", 4096),
    ] {
        let long = "a".repeat(limit + 1);
        let resp = authorize(&b, &s, &[(name, &long)]).await;
        assert_eq!(resp.status(), 400, "{name}");
        assert!(resp.headers().get("location").is_none(), "{name}");
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("AADSTS90015")
                && (html.contains(&format!("&#39;{name}&#39;"))
                    || html.contains(&format!("'{name}'"))),
            "{name}: {html}"
        );
    }
    // A redirect URI past its bound cannot be one registered: 50011's page.
    let long = format!("{REDIRECT}?{}", "a".repeat(2048));
    let html = authorize(&b, &s, &[("redirect_uri", &long)])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("AADSTS90015") || html.contains("AADSTS50011"),
        "{html}"
    );
    // The whole request, each parameter within its bound.
    let pad = "p".repeat(4000);
    let extra: Vec<(String, String)> = (0..5).map(|i| (format!("x{i}"), pad.clone())).collect();
    let mut url = reqwest::Url::parse(&authorize_url(&s, &web_params(&[]))).unwrap();
    url.query_pairs_mut().extend_pairs(&extra);
    let resp = b.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("AADSTS90015"));
    // At the bounds, the request is answered as usual.
    let ok = authorize(
        &b,
        &s,
        &[("state", &"s".repeat(4096)), ("nonce", &"n".repeat(1024))],
    )
    .await;
    assert_eq!(ok.status(), 302);
    let (_, f) = location_fields(&ok);
    assert_eq!(field(&f, "state").map(str::len), Some(4096));
}
