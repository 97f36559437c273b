//! Differential test of `service_kit::request_line` against hyper (issue 12: request
//! smuggling where the rewriter and hyper framed requests differently).
//!
//! Random streams of pipelined requests go through [`LegacyRequestLines`] into hyper's HTTP/1
//! server, configured as `service_kit::server` configures it, over an in-memory duplex, written
//! in random pieces. The requests carry raw legacy targets (JSON bytes, `+` for spaces,
//! percent-encoded), bodies framed by `Content-Length` (leading zeros included, 9,000 of them
//! past the old inspection limit) or chunked, empty lines before request lines, bare-LF lines,
//! long header lines, bytes of every kind in bodies, targets and header values; some requests
//! are made hostile: repeated, conflicting, non-numeric or huge lengths, `Transfer-Encoding`
//! tricks, obsolete line folding, bare CR, control bytes, oversized heads, malformed chunks.
//!
//! The oracle is the generator's own knowledge of each request (the client's intent), never
//! the production framer. A handler records every request hyper hands over, and:
//!
//! - with no hostile request, hyper sees exactly the client's requests: same count, methods,
//!   header fields and bodies, targets equal to the client's after the documented
//!   percent-encoding; each is answered;
//! - otherwise hyper sees exactly the requests before the first hostile one, each as above,
//!   then the client gets `400` with a one-line reason and `connection: close`, and the
//!   connection closes. A hostile *chunked body* is only found after its head went to hyper:
//!   that request may reach the handler with a failed (never a complete) body.
//!
//! Cases: proptest's default (256), or `PROPTEST_CASES`; `DASHCTL_DIFFERENTIAL_CASES`
//! overrides both for long runs, e.g.
//! `DASHCTL_DIFFERENTIAL_CASES=20000 cargo test --release -p service-kit --test it differential`,
//! or `DASHCTL_LONG=1 scripts/test`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use proptest::prelude::*;
use service_kit::request_line::{LegacyRequestLines, RequestLineRewriter};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

// ---------------------------------------------------------------- the server side

/// One request as the handler behind hyper received it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    method: String,
    target: String,
    fields: BTreeMap<String, Vec<Vec<u8>>>,
    /// `None` when reading the body failed.
    body: Option<Vec<u8>>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

async fn record(
    log: Log,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<&'static [u8]>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .ok()
        .map(|body| body.to_bytes().to_vec());
    let mut fields: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for (name, value) in &parts.headers {
        fields
            .entry(name.as_str().to_owned())
            .or_default()
            .push(value.as_bytes().to_vec());
    }
    let complete = body.is_some();
    log.lock().expect("log").push(Seen {
        method: parts.method.as_str().to_owned(),
        target: parts
            .uri
            .path_and_query()
            .map_or_else(String::new, |target| target.as_str().to_owned()),
        fields,
        body,
    });
    let mut response = hyper::Response::new(Full::new(&b"ok"[..]));
    if !complete {
        *response.status_mut() = hyper::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

/// Serves one connection with hyper's HTTP/1 server, configured as `service_kit::server`
/// configures it (timer, header-read timeout, keep-alive).
async fn serve_one<Io: AsyncRead + AsyncWrite + Unpin + Send + 'static>(io: Io, log: Log) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .keep_alive(true);
    let service = service_fn(move |request| record(log.clone(), request));
    // Errors are the client's (malformed, cut short); what hyper answered is what counts.
    let _ = builder.serve_connection(TokioIo::new(io), service).await;
}

/// Sends `stream` in pieces of the given sizes (cycled), without ever closing the client's
/// side, and returns what hyper's handler saw and every byte the client got back.
fn exchange(stream: &[u8], pieces: &[usize], rewrite: bool) -> (Vec<Seen>, Vec<u8>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (client, server) = tokio::io::duplex(256 * 1024);
        let log = Log::default();
        let serving = if rewrite {
            tokio::spawn(serve_one(LegacyRequestLines::new(server), log.clone()))
        } else {
            tokio::spawn(serve_one(server, log.clone()))
        };
        let (mut from_server, mut to_server) = tokio::io::split(client);
        let send = async {
            let mut rest = stream;
            let mut sizes = pieces.iter().cycle();
            while !rest.is_empty() {
                let size = sizes
                    .next()
                    .copied()
                    .unwrap_or(rest.len())
                    .clamp(1, rest.len());
                // The server stops reading once it refuses; what it never reads is dropped.
                if to_server.write_all(&rest[..size]).await.is_err() {
                    break;
                }
                rest = &rest[size..];
                tokio::task::yield_now().await;
            }
        };
        let receive = async {
            let mut answer = Vec::new();
            let _ = from_server.read_to_end(&mut answer).await;
            answer
        };
        let (_, answer) = tokio::time::timeout(Duration::from_secs(10), async {
            tokio::join!(send, receive)
        })
        .await
        .expect("the server answers and closes the connection within 10 s");
        serving.abort();
        let seen = log.lock().expect("log").clone();
        (seen, answer)
    })
}

/// A response as the client reads it.
#[derive(Debug)]
struct Answer {
    status: u16,
    close: bool,
    body: Vec<u8>,
}

/// Splits what the client received into responses (all have a Content-Length here).
fn answers(mut bytes: &[u8]) -> Result<Vec<Answer>, String> {
    let mut answers = Vec::new();
    while !bytes.is_empty() {
        let end = bytes
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .ok_or_else(|| format!("truncated response {:?}", String::from_utf8_lossy(bytes)))?;
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.strip_prefix("HTTP/1."))
            .and_then(|line| line.get(2..5))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("bad status line in {head:?}"))?;
        let mut length = None;
        let mut close = false;
        for line in lines {
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse::<usize>().ok(),
                "connection" => close = value.trim().eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let length = length.ok_or_else(|| format!("no content-length in {head:?}"))?;
        let body_end = end + 4 + length;
        let body = bytes
            .get(end + 4..body_end)
            .ok_or_else(|| format!("truncated body after {head:?}"))?;
        answers.push(Answer {
            status,
            close,
            body: body.to_vec(),
        });
        bytes = &bytes[body_end..];
    }
    Ok(answers)
}

// ---------------------------------------------------------------- the client's intent

#[derive(Debug, Clone)]
enum Framing {
    /// No body, no length header.
    Nothing,
    /// `Content-Length` written with this many leading zeros.
    Length { zeros: usize },
    /// Chunks cut at these sizes (cycled), size lines padded with `pad` zeros.
    Chunked {
        cuts: Vec<usize>,
        pad: usize,
        upper: bool,
    },
}

/// What makes a request one that must be refused.
#[derive(Debug, Clone)]
enum Hostile {
    RepeatedContentLength { same: bool },
    NonNumericContentLength(&'static str),
    HugeContentLength(&'static str),
    ContentLengthAndChunked { length_first: bool },
    OtherTransferEncoding(&'static str),
    RepeatedChunked,
    ChunkedOnHttp10,
    ObsoleteFold(&'static str),
    BareCrInValue,
    BareCrBeforeRequestLine,
    SpaceBeforeColon,
    InvalidFieldName,
    ControlInTarget(u8, usize),
    ControlInValue(u8),
    HeadTooLong,
    TooManyFields,
    Connect,
    // Found in the body, after the head went through.
    ChunkExtension,
    ChunkTrailer,
    ChunkSizeTooLong,
    ChunkSizeWhitespace,
    ChunkSizeBareLf,
    ChunkDataNotTerminated,
    ChunkSizeNotHex,
}

impl Hostile {
    fn in_body(&self) -> bool {
        matches!(
            self,
            Self::ChunkExtension
                | Self::ChunkTrailer
                | Self::ChunkSizeTooLong
                | Self::ChunkSizeWhitespace
                | Self::ChunkSizeBareLf
                | Self::ChunkDataNotTerminated
                | Self::ChunkSizeNotHex
        )
    }
}

#[derive(Debug, Clone)]
struct Intent {
    leading: Vec<&'static str>,
    method: &'static str,
    target: Vec<u8>,
    http10: bool,
    newline: &'static str,
    fields: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    framing: Framing,
    close: bool,
    hostile: Option<Hostile>,
}

impl Intent {
    fn last() -> Self {
        Self {
            leading: vec![],
            method: "GET",
            target: b"/end".to_vec(),
            http10: false,
            newline: "\r\n",
            fields: vec![],
            body: vec![],
            framing: Framing::Nothing,
            close: true,
            hostile: None,
        }
    }

    /// Makes each request well defined: chunked only on HTTP/1.1, no body without framing,
    /// and each hostile variant refused for its own reason.
    fn normalized(mut self) -> Self {
        let chunked = Framing::Chunked {
            cuts: vec![3],
            pad: 0,
            upper: false,
        };
        match &self.hostile {
            None => self.http10 &= !matches!(self.framing, Framing::Chunked { .. }),
            Some(
                Hostile::NonNumericContentLength(_)
                | Hostile::HugeContentLength(_)
                | Hostile::OtherTransferEncoding(_),
            ) => self.framing = Framing::Nothing,
            Some(Hostile::RepeatedContentLength { .. }) => {
                self.framing = Framing::Length { zeros: 0 };
            }
            Some(hostile)
                if hostile.in_body()
                    || matches!(
                        hostile,
                        Hostile::ContentLengthAndChunked { .. }
                            | Hostile::RepeatedChunked
                            | Hostile::ChunkedOnHttp10
                    ) =>
            {
                if !matches!(self.framing, Framing::Chunked { .. }) {
                    self.framing = chunked;
                }
                if self.body.is_empty() {
                    self.body = b"x".to_vec();
                }
                self.http10 = matches!(hostile, Hostile::ChunkedOnHttp10);
            }
            Some(_) => {}
        }
        if matches!(self.framing, Framing::Nothing) {
            self.body.clear();
        }
        self
    }

    /// The bytes the client sends.
    fn write(&self, out: &mut Vec<u8>) {
        let newline = self.newline.as_bytes();
        let hostile = self.hostile.as_ref();
        for line in &self.leading {
            out.extend_from_slice(line.as_bytes());
        }
        if let Some(Hostile::BareCrBeforeRequestLine) = hostile {
            out.push(b'\r');
        }
        let method = match hostile {
            Some(Hostile::Connect) => "CONNECT",
            _ => self.method,
        };
        let mut target = self.target.clone();
        if let Some(&Hostile::ControlInTarget(byte, at)) = hostile {
            target.insert(1 + at % target.len(), byte);
        }
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&target);
        out.extend_from_slice(if self.http10 {
            b" HTTP/1.0"
        } else {
            b" HTTP/1.1"
        });
        out.extend_from_slice(newline);
        let line = |out: &mut Vec<u8>, name: &str, value: &[u8]| {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(newline);
        };
        for (name, value) in &self.fields {
            line(out, name, value);
        }
        let length = self.body.len().to_string();
        match hostile {
            Some(Hostile::ContentLengthAndChunked { length_first: true }) => {
                line(out, "Content-Length", length.as_bytes());
            }
            Some(Hostile::NonNumericContentLength(value)) => {
                line(
                    out,
                    "Content-Length",
                    value.replace('N', &length).as_bytes(),
                );
            }
            Some(Hostile::HugeContentLength(value)) => {
                line(out, "Content-Length", value.as_bytes())
            }
            Some(Hostile::OtherTransferEncoding(value)) => {
                line(out, "Transfer-Encoding", value.as_bytes());
            }
            Some(Hostile::ObsoleteFold(folded)) => {
                line(out, "X-Folded", b"first");
                out.extend_from_slice(folded.as_bytes());
                out.extend_from_slice(newline);
            }
            Some(Hostile::BareCrInValue) => line(out, "X-Cr", b"a\rb"),
            Some(Hostile::SpaceBeforeColon) => line(out, "X-Space ", b"1"),
            Some(Hostile::InvalidFieldName) => line(out, "X(bad)", b"1"),
            Some(&Hostile::ControlInValue(byte)) => line(out, "X-Control", &[b'a', byte, b'b']),
            Some(Hostile::HeadTooLong) => line(out, "X-Long", &[b'a'; 100_000]),
            Some(Hostile::TooManyFields) => {
                for field in 0..101 {
                    line(out, &format!("X-F{field}"), b"1");
                }
            }
            _ => {}
        }
        match &self.framing {
            Framing::Nothing => {}
            Framing::Length { zeros } => {
                line(
                    out,
                    "Content-Length",
                    format!("{}{length}", "0".repeat(*zeros)).as_bytes(),
                );
            }
            Framing::Chunked { .. } => line(out, "Transfer-Encoding", b"chunked"),
        }
        match hostile {
            Some(Hostile::RepeatedContentLength { same }) => {
                let other = self.body.len() + usize::from(!same);
                line(out, "Content-Length", other.to_string().as_bytes());
            }
            Some(Hostile::ContentLengthAndChunked {
                length_first: false,
            }) => line(out, "Content-Length", length.as_bytes()),
            Some(Hostile::RepeatedChunked) => line(out, "Transfer-Encoding", b"chunked"),
            _ => {}
        }
        if self.close {
            line(out, "Connection", b"close");
        } else if self.http10 {
            line(out, "Connection", b"keep-alive");
        }
        out.extend_from_slice(newline);
        match &self.framing {
            Framing::Nothing => {}
            Framing::Length { .. } => out.extend_from_slice(&self.body),
            Framing::Chunked { cuts, pad, upper } => {
                self.write_chunks(cuts, *pad, *upper, out);
            }
        }
    }

    fn write_chunks(&self, cuts: &[usize], pad: usize, upper: bool, out: &mut Vec<u8>) {
        let hostile = self.hostile.as_ref();
        let mut rest = &self.body[..];
        let mut sizes = cuts.iter().cycle();
        let mut first = true;
        while !rest.is_empty() {
            let size = sizes.next().copied().unwrap_or(1).clamp(1, rest.len());
            let hex = if upper {
                format!("{size:X}")
            } else {
                format!("{size:x}")
            };
            let zeros = pad.min(16 - hex.len());
            let mut size_line = format!("{}{hex}", "0".repeat(zeros)).into_bytes();
            let mut end = b"\r\n".to_vec();
            let mut after_data = b"\r\n".to_vec();
            if first {
                match hostile {
                    Some(Hostile::ChunkExtension) => size_line.extend_from_slice(b";a=b"),
                    Some(Hostile::ChunkSizeTooLong) => {
                        size_line = format!("{}{hex}", "0".repeat(17 - hex.len())).into_bytes();
                    }
                    Some(Hostile::ChunkSizeWhitespace) => size_line.push(b' '),
                    Some(Hostile::ChunkSizeBareLf) => end = b"\n".to_vec(),
                    Some(Hostile::ChunkDataNotTerminated) => after_data = b"XY".to_vec(),
                    Some(Hostile::ChunkSizeNotHex) => size_line.insert(0, b'z'),
                    _ => {}
                }
            }
            first = false;
            out.extend_from_slice(&size_line);
            out.extend_from_slice(&end);
            out.extend_from_slice(&rest[..size]);
            out.extend_from_slice(&after_data);
            rest = &rest[size..];
        }
        out.extend_from_slice(b"0\r\n");
        if let Some(Hostile::ChunkTrailer) = hostile {
            out.extend_from_slice(b"X-Trailer: 1\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The request hyper must hand over: the documented encoding applied to the target, field
    /// names lower-cased and values without surrounding whitespace, as HTTP defines them.
    fn as_seen(&self) -> Seen {
        const ENCODED: &[u8] = b"\"{}[]|\\^`<>";
        let mut target = String::new();
        for &byte in &self.target {
            if byte >= 0x80 || ENCODED.contains(&byte) {
                target.push_str(&format!("%{byte:02X}"));
            } else {
                target.push(char::from(byte));
            }
        }
        let mut fields: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
        let mut add = |name: &str, value: &[u8]| {
            let start = value
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t'))
                .unwrap_or(value.len());
            let end = value
                .iter()
                .rposition(|b| !matches!(b, b' ' | b'\t'))
                .map_or(start, |last| last + 1);
            fields
                .entry(name.to_ascii_lowercase())
                .or_default()
                .push(value[start..end].to_vec());
        };
        for (name, value) in &self.fields {
            add(name, value);
        }
        match &self.framing {
            Framing::Nothing => {}
            Framing::Length { zeros } => add(
                "content-length",
                format!("{}{}", "0".repeat(*zeros), self.body.len()).as_bytes(),
            ),
            Framing::Chunked { .. } => add("transfer-encoding", b"chunked"),
        }
        if self.close {
            add("connection", b"close");
        } else if self.http10 {
            add("connection", b"keep-alive");
        }
        Seen {
            method: self.method.to_owned(),
            target,
            fields,
            body: Some(self.body.clone()),
        }
    }
}

fn stream_of(intents: &[Intent]) -> Vec<u8> {
    let mut stream = Vec::new();
    for intent in intents {
        intent.write(&mut stream);
    }
    stream
}

// ---------------------------------------------------------------- generators

fn legacy_target() -> impl Strategy<Value = Vec<u8>> {
    (
        1u32..2000,
        prop::collection::vec((1u32..50, 0u8..2), 1..4),
        0u8..3,
    )
        .prop_map(|(colors, pairs, form)| {
            let demands: Vec<String> = pairs
                .iter()
                .map(|(color, finish)| format!("[1,{color},{finish}]"))
                .collect();
            let json = format!(
                r#"{{"colors":{colors},"customers":{},"demands":[{}]}}"#,
                pairs.len(),
                demands.join(",")
            );
            let query = match form {
                0 => json,
                1 => json
                    .bytes()
                    .map(|byte| {
                        if byte.is_ascii_alphanumeric() {
                            char::from(byte).to_string()
                        } else {
                            format!("%{byte:02X}")
                        }
                    })
                    .collect(),
                _ => json.replace(',', ", ").replace(' ', "+"),
            };
            format!("/v1/?input={query}").into_bytes()
        })
}

fn random_target() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(&b"abcxyz0189/?=&%+-._~:,;!$'()*@"[..]),
        4 => prop::sample::select(&b"{}[]\"|\\^`<>"[..]),
        1 => 0x80u8..=0xFF,
    ];
    prop::collection::vec(byte, 0..40).prop_map(|rest| {
        let mut target = vec![b'/'];
        target.extend(rest);
        target
    })
}

fn field() -> impl Strategy<Value = (String, Vec<u8>)> {
    let name = prop_oneof![
        prop::sample::select(&["X-Json", "Accept", "User-Agent", "Cookie", "X-Request-Id"][..])
            .prop_map(str::to_owned),
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}".prop_map(|name| format!("X-{name}")),
    ];
    let value_byte = prop_oneof![
        6 => 0x21u8..=0x7E,
        1 => prop::sample::select(&b" \t"[..]),
        1 => 0x80u8..=0xFF,
    ];
    let value = prop_oneof![
        8 => prop::collection::vec(value_byte, 0..30),
        1 => Just(br#"{"colors":1,"demands":[[1,1,1]]}"#.to_vec()),
        1 => Just(vec![b'b'; 15_000]),
    ];
    (name, value)
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        1 => Just(Framing::Nothing),
        3 => prop_oneof![4 => Just(0usize), 2 => 1usize..5, 1 => Just(9000usize)]
            .prop_map(|zeros| Framing::Length { zeros }),
        2 => (prop::collection::vec(1usize..40, 1..4), 0usize..16, any::<bool>())
            .prop_map(|(cuts, pad, upper)| Framing::Chunked { cuts, pad, upper }),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..80),
        1 => Just(b"GET /?smuggled={} HTTP/1.1\r\nContent-Length: 5\r\n\r\n".to_vec()),
        1 => Just(b"0\r\n\r\nGET /x HTTP/1.1\r\n\r\n".to_vec()),
    ]
}

fn hostile() -> impl Strategy<Value = Hostile> {
    let control = prop_oneof![0u8..=0x08, 0x0Bu8..=0x0C, 0x0Eu8..=0x1F, Just(0x7Fu8)];
    prop_oneof![
        any::<bool>().prop_map(|same| Hostile::RepeatedContentLength { same }),
        prop::sample::select(&["+N", "-N", "N N", "0xN", "N,N", "", "Na", "N.0"][..])
            .prop_map(Hostile::NonNumericContentLength),
        prop::sample::select(
            &[
                "18446744073709551616",
                "18446744073709551614",
                "99999999999999999999999"
            ][..]
        )
        .prop_map(Hostile::HugeContentLength),
        any::<bool>().prop_map(|length_first| Hostile::ContentLengthAndChunked { length_first }),
        prop::sample::select(
            &[
                "gzip",
                "gzip, chunked",
                "chunked, gzip",
                "identity",
                "chunked;q=1",
                "chunkedx"
            ][..]
        )
        .prop_map(Hostile::OtherTransferEncoding),
        Just(Hostile::RepeatedChunked),
        Just(Hostile::ChunkedOnHttp10),
        prop::sample::select(&[" folded", "\tfolded", " Content-Length: 0"][..])
            .prop_map(Hostile::ObsoleteFold),
        Just(Hostile::BareCrInValue),
        Just(Hostile::BareCrBeforeRequestLine),
        Just(Hostile::SpaceBeforeColon),
        Just(Hostile::InvalidFieldName),
        (
            prop_oneof![control.clone(), Just(b'\t'), Just(b'\r')],
            any::<usize>()
        )
            .prop_map(|(byte, at)| Hostile::ControlInTarget(byte, at)),
        prop_oneof![control, Just(b'\r')].prop_map(Hostile::ControlInValue),
        Just(Hostile::HeadTooLong),
        Just(Hostile::TooManyFields),
        Just(Hostile::Connect),
        Just(Hostile::ChunkExtension),
        Just(Hostile::ChunkTrailer),
        Just(Hostile::ChunkSizeTooLong),
        Just(Hostile::ChunkSizeWhitespace),
        Just(Hostile::ChunkSizeBareLf),
        Just(Hostile::ChunkDataNotTerminated),
        Just(Hostile::ChunkSizeNotHex),
    ]
}

prop_compose! {
    fn intent()(
        leading in prop::collection::vec(prop::sample::select(&["\r\n", "\n"][..]), 0..3),
        method in prop::sample::select(&["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"][..]),
        target in prop_oneof![legacy_target(), random_target()],
        http10 in prop::bool::weighted(0.15),
        newline in prop_oneof![6 => Just("\r\n"), 1 => Just("\n")],
        fields in prop::collection::vec(field(), 0..5),
        body in body(),
        framing in framing(),
        hostile in prop::option::weighted(0.2, hostile()),
    ) -> Intent {
        Intent { leading, method, target, http10, newline, fields, body, framing, close: false, hostile }
            .normalized()
    }
}

fn intents() -> impl Strategy<Value = Vec<Intent>> {
    prop::collection::vec(intent(), 1..6).prop_map(|mut intents| {
        intents.push(Intent::last());
        intents
    })
}

fn pieces() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        3 => prop::collection::vec(1usize..300, 1..8),
        1 => Just(vec![1_000_000]),
    ]
}

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if let Some(cases) = std::env::var("DASHCTL_DIFFERENTIAL_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
    {
        config.cases = cases;
    }
    config
}

// ---------------------------------------------------------------- the properties

/// The outcome the client's intent allows, checked against what hyper and the client saw.
fn check(intents: &[Intent], seen: &[Seen], answer: &[u8]) -> Result<(), TestCaseError> {
    let answers = answers(answer).map_err(TestCaseError::fail)?;
    let first_hostile = intents.iter().position(|intent| intent.hostile.is_some());
    let passed = first_hostile.unwrap_or(intents.len());
    let complete: Vec<&Seen> = seen.iter().filter(|seen| seen.body.is_some()).collect();
    prop_assert_eq!(
        complete.len(),
        passed,
        "hyper saw {} complete requests, the client meant {} before refusal",
        complete.len(),
        passed
    );
    for (seen, intent) in complete.iter().zip(intents) {
        prop_assert_eq!(*seen, &intent.as_seen());
    }
    prop_assert!(answers.len() >= passed, "{answers:?}");
    for answer in &answers[..passed] {
        prop_assert_eq!(answer.status, 200, "{:?}", answers);
    }
    let after = &answers[passed..];
    match first_hostile.map(|index| &intents[index]) {
        None => {
            prop_assert_eq!(seen.len(), passed);
            prop_assert!(after.is_empty(), "{after:?}");
        }
        Some(intent) if intent.hostile.as_ref().is_some_and(Hostile::in_body) => {
            // Its head went through; its body must never complete.
            prop_assert!(seen.len() <= passed + 1);
            if let Some(cut) = seen.get(passed) {
                let meant = intent.as_seen();
                prop_assert_eq!(&cut.method, &meant.method);
                prop_assert_eq!(&cut.target, &meant.target);
                prop_assert_eq!(&cut.fields, &meant.fields);
            }
            prop_assert!(after.len() <= 1, "{after:?}");
        }
        Some(_) => {
            prop_assert_eq!(seen.len(), passed);
            prop_assert_eq!(after.len(), 1, "{:?}", after);
            let refusal = &after[0];
            prop_assert_eq!(refusal.status, 400);
            prop_assert!(refusal.close);
            let reason = String::from_utf8_lossy(&refusal.body);
            prop_assert!(
                reason.ends_with('\n') && reason.matches('\n').count() == 1 && reason.len() > 1,
                "one-line reason: {reason:?}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn hyper_sees_exactly_the_client_requests_or_a_refusal(
        intents in intents(),
        pieces in pieces(),
    ) {
        let stream = stream_of(&intents);
        let (seen, answer) = exchange(&stream, &pieces, true);
        check(&intents, &seen, &answer)?;
    }

    #[test]
    fn rewriting_does_not_depend_on_how_the_stream_is_cut(
        intents in intents(),
        pieces in pieces(),
    ) {
        let stream = stream_of(&intents);
        let rewrite = |cuts: &[usize]| {
            let mut rewriter = RequestLineRewriter::default();
            let mut output = Vec::new();
            let mut rest = &stream[..];
            let mut sizes = cuts.iter().cycle();
            while !rest.is_empty() {
                let size = sizes.next().copied().unwrap_or(rest.len()).clamp(1, rest.len());
                if let Err(error) = rewriter.rewrite(&rest[..size], &mut output) {
                    return (output, Some(error));
                }
                rest = &rest[size..];
            }
            (output, rewriter.finish().err())
        };
        prop_assert_eq!(rewrite(&pieces), rewrite(&[stream.len()]));
    }
}

// ---------------------------------------------------------------- fixed cases

fn post_with_zeros(zeros: usize, body: &[u8]) -> Vec<u8> {
    let mut stream = format!(
        "POST /v2/solve HTTP/1.1\r\nContent-Length: {}{}\r\n\r\n",
        "0".repeat(zeros),
        body.len()
    )
    .into_bytes();
    stream.extend_from_slice(body);
    stream.extend_from_slice(b"GET /end HTTP/1.1\r\nConnection: close\r\n\r\n");
    stream
}

/// Issue 12, first instance, end to end: a length past the old 8 KiB inspection limit.
#[test]
fn a_body_behind_a_long_content_length_line_stays_a_body() {
    let body = b"GET /v1/?input={\"smuggled\":1} HTTP/1.1\r\nHost: x\r\n\r\n";
    let (seen, answer) = exchange(&post_with_zeros(9000, body), &[4096], true);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].body.as_deref(), Some(&body[..]));
    assert_eq!(seen[1].target, "/end");
    assert_eq!(answers(&answer).expect("answers").len(), 2);
}

/// Issue 12, second instance, end to end: empty lines before a request line.
#[test]
fn empty_lines_before_a_request_line_are_skipped_as_hyper_skips_them() {
    let stream = b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab\r\n\n\r\nGET /v1/?input={\"a\":[1]} HTTP/1.1\r\n\r\nGET /end HTTP/1.1\r\nConnection: close\r\n\r\n";
    let (seen, _) = exchange(stream, &[5], true);
    let targets: Vec<&str> = seen.iter().map(|seen| seen.target.as_str()).collect();
    assert_eq!(targets, ["/", "/v1/?input=%7B%22a%22:%5B1%5D%7D", "/end"]);
    assert_eq!(seen[0].body.as_deref(), Some(&b"ab"[..]));
}

/// What hyper does alone (no rewriter) on the edge cases of issue 12: the behaviour the
/// rewriter agrees with or is stricter than. A hyper upgrade that changes it fails here.
#[test]
fn what_hyper_does_alone() {
    let last = "GET /end HTTP/1.1\r\nConnection: close\r\n\r\n";
    let run = |stream: String| {
        let (seen, answer) = exchange(stream.as_bytes(), &[1_000_000], false);
        let statuses: Vec<u16> = answers(&answer)
            .expect("answers")
            .iter()
            .map(|answer| answer.status)
            .collect();
        let targets: Vec<String> = seen.iter().map(|seen| seen.target.clone()).collect();
        (targets, statuses, seen)
    };

    // Empty lines (CRLF or LF) before a request line are skipped.
    let (targets, statuses, _) = run(format!("\r\n\n\r\nGET /a HTTP/1.1\r\n\r\n{last}"));
    assert_eq!(
        (targets, statuses),
        (vec!["/a".into(), "/end".into()], vec![200, 200])
    );

    // Obsolete line folding: 400, nothing reaches the handler, connection closed.
    let (targets, statuses, _) = run(format!("GET /a HTTP/1.1\r\nX: 1\r\n folded\r\n\r\n{last}"));
    assert_eq!((targets.len(), statuses), (0, vec![400]));

    // Leading zeros in Content-Length are read as the number.
    let (_, statuses, seen) =
        run(String::from_utf8(post_with_zeros(9000, b"hello")).expect("ascii"));
    assert_eq!(statuses, [200, 200]);
    assert_eq!(seen[0].body.as_deref(), Some(&b"hello"[..]));

    // Content-Length with chunked: hyper reads chunked, drops the length and closes after
    // answering, so nothing after this request is read.
    let (targets, statuses, seen) = run(format!(
        "POST /a HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n{last}"
    ));
    assert_eq!((targets, statuses), (vec!["/a".into()], vec![200]));
    assert_eq!(seen[0].body.as_deref(), Some(&b"hello"[..]));
    assert!(!seen[0].fields.contains_key("content-length"));

    // Where only the statuses tell.
    let statuses_only: [(&str, &[u16]); 7] = [
        // Two equal lengths are accepted; two different ones are a 400 (the rewriter refuses
        // both).
        (
            "POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
            &[200, 200],
        ),
        (
            "POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy",
            &[400],
        ),
        // `gzip, chunked` is read as chunked (the rewriter refuses it); `gzip` alone is a 400.
        (
            "POST /a HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
            &[200, 200],
        ),
        (
            "POST /a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            &[400],
        ),
        // A bare CR in a field value, and chunked on HTTP/1.0: 400.
        ("GET /a HTTP/1.1\r\nX: a\rb\r\n\r\n", &[400]),
        (
            "POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
            &[400],
        ),
        // The raw legacy target: 400 without the rewriter.
        ("GET /v1/?input={\"a\":1} HTTP/1.1\r\n\r\n", &[400]),
    ];
    for (request, expected) in statuses_only {
        let (_, statuses, _) = run(format!("{request}{last}"));
        assert_eq!(statuses, expected, "{request:?}");
    }

    // Bare LF line endings are accepted (so the rewriter accepts them too).
    let (targets, statuses, _) = run(format!("GET /a HTTP/1.1\nX: 1\n\n{last}"));
    assert_eq!(
        (targets, statuses),
        (vec!["/a".into(), "/end".into()], vec![200, 200])
    );
}

/// A refused request after pipelined ones: every earlier answer first, then the 400.
#[test]
fn the_refusal_comes_after_the_answers_to_earlier_requests() {
    let stream = b"GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyzGET /c HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nxGET /d HTTP/1.1\r\n\r\n";
    for pieces in [&[1usize][..], &[7], &[1_000_000]] {
        let (seen, answer) = exchange(stream, pieces, true);
        let targets: Vec<&str> = seen.iter().map(|seen| seen.target.as_str()).collect();
        assert_eq!(targets, ["/a", "/b"]);
        let answers = answers(&answer).expect("answers");
        let statuses: Vec<u16> = answers.iter().map(|answer| answer.status).collect();
        assert_eq!(statuses, [200, 200, 400]);
        assert_eq!(answers[2].body, b"more than one Content-Length header\n");
        assert!(answers[2].close);
    }
}
