use crate::harness::{Options, Running, legacy_cases, legacy_get, legacy_request, raw_request};

#[tokio::test]
async fn all_legacy_cases_pass_through_v1_in_every_encoding() {
    let paintshop = Running::start(Options::default()).await;
    let cases = legacy_cases();
    assert_eq!(cases.len(), 15);
    let client = reqwest::Client::new();
    for (json, expected) in &cases {
        // 1. Unencoded, as the legacy batch client sends it.
        assert_eq!(
            legacy_get(paintshop.api, json).await,
            (200, expected.clone()),
            "raw: {json}"
        );
        // 2. Properly percent-encoded, by a client library.
        let response = client
            .get(paintshop.url("/v1/"))
            .query(&[("input", json)])
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        assert_eq!(
            &response.text().await.expect("body"),
            expected,
            "encoded: {json}"
        );
        // 3. With `+` for spaces.
        let spaced = json.replace(',', ", ").replace(' ', "+");
        let (status, body) = legacy_get(paintshop.api, &spaced).await;
        assert_eq!((status, &body), (200, expected), "plus-for-space: {spaced}");
    }
    paintshop.stop().await;
}

#[tokio::test]
async fn keep_alive_connections_rewrite_every_request_line() {
    let paintshop = Running::start(Options::default()).await;
    let one = legacy_request(r#"{"colors":1,"customers":1,"demands":[[1,1,1]]}"#, false);
    let last = legacy_request(r#"{"colors":2,"customers":1,"demands":[[1,2,0]]}"#, true);
    let (status, body) = raw_request(paintshop.api, &format!("{one}{one}{last}")).await;
    assert_eq!(status, 200);
    // Three answers on one connection; the last body is `0 0`.
    assert_eq!(body.matches("HTTP/1.1 200 OK").count(), 2, "{body}");
    assert!(body.ends_with("0 0"), "{body}");
    paintshop.stop().await;
}

/// Issue 12 over a real socket: a request whose framing is ambiguous (here two lengths, the
/// second one's "body" being a smuggled legacy request) is answered 400 with its reason after
/// the earlier requests on the connection, and nothing after it is served.
#[tokio::test]
async fn ambiguous_framing_is_refused_after_the_earlier_answers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let paintshop = Running::start(Options::default()).await;
    let one = legacy_request(r#"{"colors":1,"customers":1,"demands":[[1,1,1]]}"#, false);
    let smuggled = format!(
        "POST /v1/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: {}\r\n\r\n{one}",
        one.len()
    );
    let mut stream = tokio::net::TcpStream::connect(paintshop.api)
        .await
        .expect("connect");
    stream
        .write_all(format!("{one}{smuggled}{one}").as_bytes())
        .await
        .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 2, "{answer}");
    let (first, refusal) = answer
        .split_once("HTTP/1.1 400 Bad Request")
        .expect("a 400 after the first answer");
    assert!(
        first.starts_with("HTTP/1.1 200 OK") && first.ends_with("\r\n\r\n1"),
        "{first}"
    );
    assert!(refusal.contains("connection: close"), "{refusal}");
    assert!(
        refusal.ends_with("\r\n\r\nmore than one Content-Length header\n"),
        "{refusal}"
    );
    paintshop.stop().await;
}

/// Each line: an `input` a client sends => what the one-line 400 answer says about it.
const MALFORMED: &str = r#"
not-json => input is not valid JSON
{"colors":2,"customers":2,"demands":[[1,1,0]]} => customers is 2 but demands has 1 entries
{"colors":2,"customers":1,"demands":[[2,1,0]]} => customer 1 says T=2 but has 2 numbers
{"colors":2,"customers":1,"demands":[[1,3,0]]} => customer 1: color 3 is outside 1..2
{"colors":2,"customers":1,"demands":[[1,0,0]]} => color 0 is outside
{"colors":2,"customers":1,"demands":[[1,1,2]]} => finish 2 is not 0 (glossy) or 1 (matte)
{"colors":2,"customers":1,"demands":[[2,1,1,2,1]]} => likes two matte colors (1 and 2)
{"colors":-1,"customers":1,"demands":[[1,1,0]]} => colors must be between 1 and
{"colors":99999999999,"customers":1,"demands":[[1,1,0]]} => colors must be between 1 and
{"colors":2,"customers":1,"demands":[[]]} => customer 1 is empty
{"colors":2,"customers":1,"demands":[[1,1.5,0]]} => input is not valid JSON
{"colors":2,"customers":1,"demands":[[-1]]} => says T=-1
"#;

fn assert_malformed(input: &str, (status, body): (u16, String), reason: &str) {
    assert_eq!(status, 400, "{input} -> {body}");
    assert!(
        body.contains(reason),
        "{input}: expected {reason:?} in {body:?}"
    );
    assert_eq!(body.trim_end().lines().count(), 1, "one line: {body:?}");
}

#[tokio::test]
async fn malformed_input_gets_400_with_one_line_reason_and_the_server_keeps_serving() {
    let paintshop = Running::start(Options::default()).await;
    let no_input = "GET /v1/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let answer = raw_request(paintshop.api, no_input).await;
    assert_malformed("no input", answer, "missing query parameter `input`");
    for case in MALFORMED.lines().filter(|line| !line.is_empty()) {
        let (input, reason) = case.split_once(" => ").expect("INPUT => REASON");
        assert_malformed(input, legacy_get(paintshop.api, input).await, reason);
    }
    // Still serving.
    let (status, body) = legacy_get(
        paintshop.api,
        r#"{"colors":1,"customers":1,"demands":[[1,1,0]]}"#,
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "0"));
    paintshop.stop().await;
}

#[tokio::test]
async fn crash_endpoint_is_gone_by_default_and_metrics_stay_off_the_public_port() {
    let paintshop = Running::start(Options::default()).await;
    let client = reqwest::Client::new();
    for (path, status) in [("/crash", 404), ("/metrics", 404), ("/readyz", 200)] {
        let response = client.get(paintshop.url(path)).send().await.expect("send");
        assert_eq!(response.status(), status, "{path}");
    }
    legacy_get(
        paintshop.api,
        r#"{"colors":1,"customers":1,"demands":[[1,1,1]]}"#,
    )
    .await;
    let metrics = client
        .get(format!("http://{}/metrics", paintshop.monitor))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    for name in [
        "paintshop_solutions_total",
        "paintshop_solver_seconds",
        "paintshop_instance_pairs",
        "http_requests_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    paintshop.stop().await;
}
