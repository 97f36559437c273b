//! Accepts the legacy clients' unencoded request lines.
//!
//! The legacy batch client builds `GET /v1/?input={"colors":5,...} HTTP/1.1` by string
//! formatting, with raw `"`, `{`, `[`. hyper (like most strict parsers) rejects a raw `"` in
//! the request target with a 400 before any handler runs. [`LegacyRequestLines`] wraps each
//! connection and percent-encodes exactly those bytes, only inside request targets; the query
//! parser decodes them back, so the handler sees the JSON the client meant.
//!
//! To find every request target on a keep-alive connection it follows HTTP/1.1 framing: a
//! request line, header lines, then `Content-Length` body bytes passed through untouched. A
//! request with `Transfer-Encoding` stops the rewriting for the rest of that connection
//! (passthrough is always safe: hyper then judges the bytes as sent).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Bytes that strict parsers refuse in a request target but legacy clients send raw.
fn needs_encoding(byte: u8) -> bool {
    matches!(
        byte,
        b'"' | b'{' | b'}' | b'[' | b']' | b'|' | b'\\' | b'^' | b'`' | b'<' | b'>'
    ) || byte >= 0x80
}

/// Header lines longer than this are passed on without being inspected; hyper rejects them.
const MAX_INSPECTED_HEADER: usize = 8 * 1024;

#[derive(Debug)]
enum Framing {
    /// In a request line; `spaces` counts separators seen (the target lies after the first).
    RequestLine { spaces: u8 },
    /// In the header block; `line` holds the current header line.
    Headers {
        line: Vec<u8>,
        content_length: u64,
        chunked: bool,
    },
    /// Passing `remaining` body bytes through.
    Body { remaining: u64 },
    /// Rewriting has stopped for this connection.
    Passthrough,
}

/// Rewrites request targets in the bytes read from a client; pure, so it is unit-tested alone.
#[derive(Debug)]
pub struct RequestLineRewriter {
    framing: Framing,
}

impl Default for RequestLineRewriter {
    fn default() -> Self {
        Self {
            framing: Framing::RequestLine { spaces: 0 },
        }
    }
}

impl RequestLineRewriter {
    /// Appends the rewritten form of `input` to `output`.
    pub fn rewrite(&mut self, input: &[u8], output: &mut Vec<u8>) {
        let mut index = 0;
        while index < input.len() {
            match &mut self.framing {
                Framing::Passthrough => {
                    output.extend_from_slice(&input[index..]);
                    return;
                }
                Framing::Body { remaining } => {
                    let take = (*remaining).min((input.len() - index) as u64) as usize;
                    output.extend_from_slice(&input[index..index + take]);
                    index += take;
                    *remaining -= take as u64;
                    if *remaining == 0 {
                        self.framing = Framing::RequestLine { spaces: 0 };
                    }
                }
                Framing::RequestLine { spaces } => {
                    let byte = input[index];
                    index += 1;
                    match byte {
                        b'\n' => {
                            output.push(byte);
                            self.framing = Framing::Headers {
                                line: Vec::new(),
                                content_length: 0,
                                chunked: false,
                            };
                        }
                        b' ' => {
                            *spaces = spaces.saturating_add(1);
                            output.push(byte);
                        }
                        // Blank lines before a request line are allowed (RFC 9112 §2.2).
                        b'\r' => output.push(byte),
                        _ if *spaces == 1 && needs_encoding(byte) => {
                            const HEX: &[u8; 16] = b"0123456789ABCDEF";
                            output.extend_from_slice(&[
                                b'%',
                                HEX[usize::from(byte >> 4)],
                                HEX[usize::from(byte & 0xF)],
                            ]);
                        }
                        _ => output.push(byte),
                    }
                }
                Framing::Headers {
                    line,
                    content_length,
                    chunked,
                } => {
                    let byte = input[index];
                    index += 1;
                    output.push(byte);
                    if byte != b'\n' {
                        if line.len() < MAX_INSPECTED_HEADER {
                            line.push(byte);
                        }
                        continue;
                    }
                    let text = line.strip_suffix(b"\r").unwrap_or(line);
                    if text.is_empty() {
                        self.framing = if *chunked {
                            Framing::Passthrough
                        } else if *content_length > 0 {
                            Framing::Body {
                                remaining: *content_length,
                            }
                        } else {
                            Framing::RequestLine { spaces: 0 }
                        };
                        continue;
                    }
                    if let Some((name, value)) = std::str::from_utf8(text)
                        .ok()
                        .and_then(|t| t.split_once(':'))
                    {
                        let name = name.trim();
                        if name.eq_ignore_ascii_case("transfer-encoding") {
                            *chunked = true;
                        } else if name.eq_ignore_ascii_case("content-length") {
                            match value.trim().parse::<u64>() {
                                Ok(length) => *content_length = length,
                                // hyper answers 400 to this request; stop interpreting.
                                Err(_) => *chunked = true,
                            }
                        }
                    }
                    line.clear();
                }
            }
        }
    }
}

/// A client connection whose request targets are rewritten as they are read.
pub struct LegacyRequestLines<S> {
    inner: S,
    rewriter: RequestLineRewriter,
    pending: Vec<u8>,
    pending_from: usize,
    scratch: Box<[u8]>,
}

impl<S> LegacyRequestLines<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            rewriter: RequestLineRewriter::default(),
            pending: Vec::with_capacity(4096),
            pending_from: 0,
            scratch: vec![0; 8192].into_boxed_slice(),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for LegacyRequestLines<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pending_from == this.pending.len() {
            this.pending.clear();
            this.pending_from = 0;
            let mut scratch = ReadBuf::new(&mut this.scratch);
            match Pin::new(&mut this.inner).poll_read(cx, &mut scratch) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            let filled = scratch.filled();
            if filled.is_empty() {
                return Poll::Ready(Ok(())); // end of stream
            }
            this.rewriter.rewrite(filled, &mut this.pending);
        }
        let available = &this.pending[this.pending_from..];
        let take = available.len().min(buf.remaining());
        buf.put_slice(&available[..take]);
        this.pending_from += take;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for LegacyRequestLines<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A TCP listener for `axum::serve` whose connections accept legacy request lines.
/// The client's address on a [`LegacyListener`] connection, for `ConnectInfo`.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, LegacyListener>>
    for ClientAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, LegacyListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

pub struct LegacyListener(pub TcpListener);

impl axum::serve::Listener for LegacyListener {
    type Io = LegacyRequestLines<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, address)) => {
                    let _ = stream.set_nodelay(true);
                    return (LegacyRequestLines::new(stream), address);
                }
                Err(error) => {
                    // Usually too many open files: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::RequestLineRewriter;

    fn rewrite_in_pieces(input: &[u8], piece: usize) -> String {
        let mut rewriter = RequestLineRewriter::default();
        let mut output = Vec::new();
        for chunk in input.chunks(piece) {
            rewriter.rewrite(chunk, &mut output);
        }
        String::from_utf8(output).expect("ascii")
    }

    #[test]
    fn encodes_only_the_request_target() {
        let input = b"GET /v1/?input={\"a\":[1]} HTTP/1.1\r\nX-Json: {\"keep\":1}\r\n\r\n";
        let expected =
            "GET /v1/?input=%7B%22a%22:%5B1%5D%7D HTTP/1.1\r\nX-Json: {\"keep\":1}\r\n\r\n";
        for piece in [1, 2, 7, input.len()] {
            assert_eq!(
                rewrite_in_pieces(input, piece),
                expected,
                "piece size {piece}"
            );
        }
    }

    #[test]
    fn bodies_pass_untouched_and_the_next_request_is_rewritten() {
        let input = b"POST /v2/solve HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"x\":\"y\"}GET /?q=\" HTTP/1.1\r\n\r\n";
        let expected = "POST /v2/solve HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"x\":\"y\"}GET /?q=%22 HTTP/1.1\r\n\r\n";
        for piece in [1, 3, input.len()] {
            assert_eq!(rewrite_in_pieces(input, piece), expected);
        }
    }

    #[test]
    fn chunked_requests_switch_rewriting_off() {
        let input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n\"\r\n0\r\n\r\nGET /\" HTTP/1.1\r\n\r\n";
        assert_eq!(rewrite_in_pieces(input, 4), String::from_utf8_lossy(input));
    }

    #[test]
    fn already_encoded_targets_are_unchanged() {
        let input = b"GET /v1/?input=%7B%22colors%22%3A1%7D HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(rewrite_in_pieces(input, 5), String::from_utf8_lossy(input));
    }
}
