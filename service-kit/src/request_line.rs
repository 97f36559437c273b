//! Accepts the legacy clients' unencoded request lines.
//!
//! The legacy batch client builds `GET /v1/?input={"colors":5,...} HTTP/1.1` by string
//! formatting, with raw `"`, `{`, `[`. hyper (like most strict parsers) rejects a raw `"` in
//! the request target with a 400 before any handler runs. [`LegacyRequestLines`] wraps each
//! connection and percent-encodes exactly those bytes (`needs_encoding`), only inside
//! request targets; the query parser decodes them back, so the handler sees the JSON the
//! client meant.
//!
//! # Framing: the rewriter never disagrees with hyper
//!
//! To find every request target on a keep-alive connection the rewriter must know where each
//! request ends. If it decided that differently from hyper, bytes it took for a body would be
//! rewritten and reach hyper as a request of their own (request smuggling). So it frames every
//! request the way hyper does, or refuses it, and forwards **only bytes it has framed**:
//!
//! - A request head is held back until it is complete, its target encoded, and the whole head
//!   parsed by `httparse` with hyper's default configuration, on the very bytes hyper will
//!   receive (the parser hyper itself uses: Cargo resolves both to one httparse). Empty lines (CRLF or LF) before a request line are
//!   skipped, as httparse and therefore hyper skip them (RFC 9112 §2.2), and not forwarded.
//! - The body length comes from that parse: no `Content-Length` and no `Transfer-Encoding`: no
//!   body; one `Content-Length` of decimal digits (leading zeros allowed, as hyper allows them):
//!   that many bytes; a single `Transfer-Encoding: chunked` on HTTP/1.1: a chunked body, framed
//!   chunk by chunk (`1*16HEXDIG CRLF data CRLF`, ending `0 CRLF CRLF`).
//! - Everything else is refused: heads longer than [`MAX_HEAD_BYTES`] (leading empty lines and
//!   every header line included), more than [`MAX_HEADERS`] fields, a target longer than
//!   [`MAX_TARGET_BYTES`] once encoded, anything httparse refuses (bare CR, obsolete line
//!   folding, a space before a colon, control bytes in the target or a value), repeated or
//!   non-numeric `Content-Length`, `Content-Length` with `Transfer-Encoding`, any
//!   `Transfer-Encoding` but one `chunked` (`gzip, chunked`, repeated headers, HTTP/1.0),
//!   `CONNECT` (a tunnel is not HTTP after its answer), and in chunked bodies chunk
//!   extensions, whitespace after a chunk size, more than 16 size digits and trailer fields.
//!   No client of these services sends those; each is a place where parsers have disagreed.
//!
//! A refused head is answered `400 Bad Request` with a one-line reason and `Connection: close`
//! after hyper has answered every request before it, and the connection is closed: hyper gets
//! the framed bytes, then an empty line and the end of the stream, so it finishes the requests
//! in flight and shuts the connection down; the answer is written then (see
//! [`LegacyRequestLines`]). A chunked body found malformed after its head has gone to hyper
//! ends the stream with an error instead: hyper reports an incomplete body to the handler and
//! closes the connection. Either way hyper never receives a byte the rewriter did not frame.
//!
//! Upgrades: hyper hands a connection over only after a `101 Switching Protocols` (and only when
//! served with upgrades), which none of the services behind this wrapper send (no WebSockets),
//! so every byte stays HTTP.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest request head accepted, counted on the bytes the client sends: leading empty lines,
/// request line, header lines and the empty line ending the head. Room for the longest target
/// hyper takes ([`MAX_TARGET_BYTES`]) and 32 KiB of header fields; hyper's own buffer would
/// allow about 400 KiB. The largest legacy request at the stated limits (2,000 customers,
/// 3,000 pairs) is about 30 KiB raw, 55 KiB fully percent-encoded.
pub const MAX_HEAD_BYTES: usize = 96 * 1024;

/// Most header fields in one head; hyper's default (`DEFAULT_MAX_HEADERS`).
pub const MAX_HEADERS: usize = 100;

/// Longest request target once encoded; hyper answers 414 above this (`MAX_URI_LEN`).
pub const MAX_TARGET_BYTES: usize = 65_534;

/// Hex digits in a chunk size: 16 cannot overflow u64 whatever they are, so hyper, which
/// takes any number of digits until its u64 overflows, reads the same size.
const MAX_CHUNK_SIZE_DIGITS: u8 = 16;

/// hyper refuses larger lengths (`DecodedLength::MAX_LEN`); refusing them here says why.
const MAX_CONTENT_LENGTH: u64 = u64::MAX - 2;

/// Bytes that strict parsers refuse in a request target but legacy clients send raw.
fn needs_encoding(byte: u8) -> bool {
    matches!(
        byte,
        b'"' | b'{' | b'}' | b'[' | b']' | b'|' | b'\\' | b'^' | b'`' | b'<' | b'>'
    ) || byte >= 0x80
}

/// Why a request was refused; the message is the one-line reason sent to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("request head is longer than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    #[error("request head has more than {MAX_HEADERS} header fields")]
    TooManyHeaders,
    #[error("request target is longer than {MAX_TARGET_BYTES} bytes once encoded")]
    TargetTooLong,
    #[error("bare CR in the request head (every CR must be followed by LF)")]
    BareCr,
    #[error("obsolete line folding (a header line starts with a space or tab)")]
    ObsoleteLineFolding,
    #[error("malformed request line")]
    RequestLine,
    #[error("malformed header field")]
    HeaderField,
    #[error("request head does not end where it should")]
    AmbiguousHead,
    #[error("CONNECT is not supported")]
    Connect,
    #[error("more than one Content-Length header")]
    RepeatedContentLength,
    #[error("Content-Length is not a decimal number (or too large)")]
    InvalidContentLength,
    #[error("both Content-Length and Transfer-Encoding")]
    ContentLengthWithTransferEncoding,
    #[error("Transfer-Encoding other than a single `chunked` on HTTP/1.1")]
    UnsupportedTransferEncoding,
    #[error("connection closed in the middle of a request head")]
    IncompleteHead,
    #[error("malformed chunked body: {0}")]
    Chunked(&'static str),
}

impl FramingError {
    /// Whether the problem lies in a body whose head has already been forwarded.
    pub fn in_body(&self) -> bool {
        matches!(self, Self::Chunked(_))
    }

    /// The answer sent before closing a connection whose request head was refused.
    pub fn response(&self) -> Vec<u8> {
        let body = format!("{self}\n");
        format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

/// Scanning a request head as it arrives, to find where it ends.
#[derive(Debug, Default)]
struct HeadScan {
    bytes: Vec<u8>,
    /// Where the request line starts, once a byte other than CR or LF has arrived.
    line_start: Option<usize>,
    /// Just past the LF ending the request line.
    line_end: Option<usize>,
    /// The last byte ended a line after the request line.
    at_line_start: bool,
    /// The last byte was a CR at the start of a line, which must be followed by LF.
    cr_at_line_start: bool,
}

impl HeadScan {
    /// Takes one byte; true once the empty line ending the head has arrived. This only finds
    /// where the head can end: httparse then decides whether it does.
    fn push(&mut self, byte: u8) -> Result<bool, FramingError> {
        if self.bytes.len() == MAX_HEAD_BYTES {
            return Err(FramingError::HeadTooLarge);
        }
        let index = self.bytes.len();
        self.bytes.push(byte);
        if self.cr_at_line_start {
            self.cr_at_line_start = false;
            if byte != b'\n' {
                return Err(FramingError::BareCr);
            }
            // Either an empty line before the request line, or the end of the head.
            return Ok(self.line_start.is_some());
        }
        match (self.line_start, self.line_end) {
            (None, _) => match byte {
                b'\r' => self.cr_at_line_start = true,
                b'\n' => {}
                _ => self.line_start = Some(index),
            },
            (Some(_), None) => {
                if byte == b'\n' {
                    self.line_end = Some(index + 1);
                    self.at_line_start = true;
                }
            }
            (Some(_), Some(_)) => {
                if self.at_line_start {
                    self.at_line_start = false;
                    match byte {
                        b'\r' => self.cr_at_line_start = true,
                        b'\n' => return Ok(true),
                        _ => {}
                    }
                } else if byte == b'\n' {
                    self.at_line_start = true;
                }
            }
        }
        Ok(false)
    }

    /// Whether a request line has begun (empty lines alone are not a request).
    fn has_request(&self) -> bool {
        self.line_start.is_some()
    }
}

/// What follows a complete head.
#[derive(Debug, PartialEq, Eq)]
enum BodyFraming {
    Length(u64),
    Chunked,
}

/// The head as hyper will receive it: leading empty lines dropped, target encoded.
fn encoded_head(scan: &HeadScan) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let start = scan.line_start.unwrap_or(0);
    let line_end = scan.line_end.unwrap_or(scan.bytes.len());
    let mut head = Vec::with_capacity(scan.bytes.len() - start + 64);
    let mut spaces = 0u8;
    for &byte in &scan.bytes[start..line_end] {
        if byte == b' ' {
            spaces = spaces.saturating_add(1);
            head.push(byte);
        } else if spaces == 1 && needs_encoding(byte) {
            head.extend_from_slice(&[
                b'%',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xF)],
            ]);
        } else {
            head.push(byte);
        }
    }
    head.extend_from_slice(&scan.bytes[line_end..]);
    head
}

/// Parses `head` exactly as hyper will and says how its body is framed.
fn frame_head(head: &[u8]) -> Result<BodyFraming, FramingError> {
    // httparse refuses these too; checking first gives the client a precise reason.
    if head
        .windows(2)
        .any(|pair| pair[0] == b'\r' && pair[1] != b'\n')
        || head.last() == Some(&b'\r')
    {
        return Err(FramingError::BareCr);
    }
    if head
        .windows(2)
        .any(|pair| pair[0] == b'\n' && matches!(pair[1], b' ' | b'\t'))
    {
        return Err(FramingError::ObsoleteLineFolding);
    }

    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut fields);
    match request.parse(head) {
        Ok(httparse::Status::Complete(length)) if length == head.len() => {}
        Ok(_) => return Err(FramingError::AmbiguousHead),
        Err(httparse::Error::TooManyHeaders) => return Err(FramingError::TooManyHeaders),
        Err(httparse::Error::HeaderName | httparse::Error::HeaderValue) => {
            return Err(FramingError::HeaderField);
        }
        Err(httparse::Error::NewLine) => return Err(FramingError::BareCr),
        Err(_) => return Err(FramingError::RequestLine),
    }
    if request.path.map_or(0, str::len) > MAX_TARGET_BYTES {
        return Err(FramingError::TargetTooLong);
    }
    if request.method == Some("CONNECT") {
        return Err(FramingError::Connect);
    }

    let mut content_length = None;
    let mut transfer_encodings = 0;
    let mut chunked = false;
    for field in request.headers.iter() {
        if field.name.eq_ignore_ascii_case("content-length") {
            if content_length.is_some() {
                return Err(FramingError::RepeatedContentLength);
            }
            content_length = Some(decimal(field.value).ok_or(FramingError::InvalidContentLength)?);
        } else if field.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encodings += 1;
            chunked = field.value.eq_ignore_ascii_case(b"chunked");
        }
    }
    match (content_length, transfer_encodings) {
        (length, 0) => Ok(BodyFraming::Length(length.unwrap_or(0))),
        (Some(_), _) => Err(FramingError::ContentLengthWithTransferEncoding),
        (None, 1) if chunked && request.version == Some(1) => Ok(BodyFraming::Chunked),
        (None, _) => Err(FramingError::UnsupportedTransferEncoding),
    }
}

/// A Content-Length value as hyper reads it: one or more ASCII digits, nothing else.
fn decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value
        .iter()
        .try_fold(0u64, |total, &byte| {
            let digit = char::from(byte).to_digit(10)?;
            total.checked_mul(10)?.checked_add(u64::from(digit))
        })
        .filter(|&length| length <= MAX_CONTENT_LENGTH)
}

/// Where a chunked body is.
#[derive(Debug)]
enum Chunk {
    Size { digits: u8, size: u64 },
    SizeLf { size: u64 },
    Data { remaining: u64 },
    DataCr,
    DataLf,
    LastCr,
    LastLf,
}

#[derive(Debug)]
enum State {
    Head(HeadScan),
    Length { remaining: u64 },
    Chunked(Chunk),
    Refused(FramingError),
}

/// Frames requests and encodes their targets in the bytes read from a client; pure, so it is
/// unit-tested alone. Output holds only framed bytes; after an error it stays refused.
#[derive(Debug)]
pub struct RequestLineRewriter {
    state: State,
}

impl Default for RequestLineRewriter {
    fn default() -> Self {
        Self {
            state: State::Head(HeadScan::default()),
        }
    }
}

impl RequestLineRewriter {
    /// Appends the rewritten form of `input` to `output`: every byte up to the first refused
    /// one, with request heads held back until they are complete.
    pub fn rewrite(&mut self, input: &[u8], output: &mut Vec<u8>) -> Result<(), FramingError> {
        let mut index = 0;
        while index < input.len() {
            let step = self.step(&input[index..], output);
            match step {
                Ok(used) => index += used,
                Err(error) => {
                    self.state = State::Refused(error.clone());
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Called at the client's end of stream: a request head cut short is refused.
    pub fn finish(&mut self) -> Result<(), FramingError> {
        match &self.state {
            State::Refused(error) => Err(error.clone()),
            State::Head(scan) if scan.has_request() => {
                self.state = State::Refused(FramingError::IncompleteHead);
                Err(FramingError::IncompleteHead)
            }
            _ => Ok(()),
        }
    }

    /// Consumes a prefix of `input` (at least one byte) and returns its length.
    fn step(&mut self, input: &[u8], output: &mut Vec<u8>) -> Result<usize, FramingError> {
        match &mut self.state {
            State::Refused(error) => Err(error.clone()),
            State::Length { remaining } => {
                let take = usize::try_from(*remaining).map_or(input.len(), |r| r.min(input.len()));
                output.extend_from_slice(&input[..take]);
                *remaining -= take as u64;
                if *remaining == 0 {
                    self.state = State::Head(HeadScan::default());
                }
                Ok(take)
            }
            State::Chunked(Chunk::Data { remaining }) => {
                let take = usize::try_from(*remaining).map_or(input.len(), |r| r.min(input.len()));
                output.extend_from_slice(&input[..take]);
                *remaining -= take as u64;
                if *remaining == 0 {
                    self.state = State::Chunked(Chunk::DataCr);
                }
                Ok(take)
            }
            State::Chunked(chunk) => {
                let byte = input[0];
                let next = chunk_step(chunk, byte)?;
                output.push(byte);
                self.state = next;
                Ok(1)
            }
            State::Head(scan) => {
                for (used, &byte) in input.iter().enumerate() {
                    if scan.push(byte)? {
                        let head = encoded_head(scan);
                        self.state = match frame_head(&head)? {
                            BodyFraming::Length(0) => State::Head(HeadScan::default()),
                            BodyFraming::Length(remaining) => State::Length { remaining },
                            BodyFraming::Chunked => {
                                State::Chunked(Chunk::Size { digits: 0, size: 0 })
                            }
                        };
                        output.extend_from_slice(&head);
                        return Ok(used + 1);
                    }
                }
                Ok(input.len())
            }
        }
    }
}

/// One control byte of a chunked body (data is copied in bulk by the caller).
fn chunk_step(chunk: &Chunk, byte: u8) -> Result<State, FramingError> {
    let next = match *chunk {
        Chunk::Size { digits, size } => match (char::from(byte).to_digit(16), byte) {
            (Some(_), _) if digits == MAX_CHUNK_SIZE_DIGITS => {
                return Err(FramingError::Chunked("chunk size has more than 16 digits"));
            }
            (Some(digit), _) => Chunk::Size {
                digits: digits + 1,
                size: size << 4 | u64::from(digit),
            },
            (None, b'\r') if digits > 0 => Chunk::SizeLf { size },
            (None, b';') => {
                return Err(FramingError::Chunked("chunk extensions are not supported"));
            }
            (None, _) => return Err(FramingError::Chunked("invalid chunk size")),
        },
        Chunk::SizeLf { size } => match byte {
            b'\n' if size == 0 => Chunk::LastCr,
            b'\n' => Chunk::Data { remaining: size },
            _ => return Err(FramingError::Chunked("chunk size not followed by CRLF")),
        },
        Chunk::DataCr if byte == b'\r' => Chunk::DataLf,
        Chunk::DataLf if byte == b'\n' => Chunk::Size { digits: 0, size: 0 },
        Chunk::DataCr | Chunk::DataLf => {
            return Err(FramingError::Chunked("chunk data not followed by CRLF"));
        }
        Chunk::LastCr if byte == b'\r' => Chunk::LastLf,
        Chunk::LastCr => {
            return Err(FramingError::Chunked("trailer fields are not supported"));
        }
        Chunk::LastLf if byte == b'\n' => return Ok(State::Head(HeadScan::default())),
        Chunk::LastLf => return Err(FramingError::Chunked("last chunk not followed by CRLF")),
        // Data is handled in bulk before this is called.
        Chunk::Data { remaining } => Chunk::Data { remaining },
    };
    Ok(State::Chunked(next))
}

/// How the stream towards hyper ends.
#[derive(Debug)]
enum End {
    Open,
    /// The client closed its side; hyper gets the end of stream too.
    ClientClosed,
    /// A head was refused. hyper gets an empty line, then the end of the stream: the line
    /// keeps its read buffer non-empty, so hyper only looks for more input once every request
    /// before has been answered (when looking mid-request, hyper would take the end of the
    /// stream as a client gone and drop the answer in flight); it then skips the empty line,
    /// meets the end and shuts the connection down, which is when `answer` is written.
    RefusedHead {
        answer: Vec<u8>,
        written: usize,
        eof_delivered: bool,
    },
    /// A chunked body was refused after its head was forwarded: hyper gets an error.
    RefusedBody {
        error: FramingError,
        error_delivered: bool,
    },
}

/// Longest input read and dropped before answering a refused connection, so that the close
/// does not turn into a reset that discards the answer.
const MAX_DRAIN_BYTES: usize = 64 * 1024;

/// A client connection whose requests are framed and request targets rewritten as they are
/// read; see the module documentation.
pub struct LegacyRequestLines<S> {
    inner: S,
    rewriter: RequestLineRewriter,
    pending: Vec<u8>,
    pending_from: usize,
    scratch: Box<[u8]>,
    end: End,
    drained: usize,
}

impl<S> LegacyRequestLines<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            rewriter: RequestLineRewriter::default(),
            pending: Vec::with_capacity(4096),
            pending_from: 0,
            scratch: vec![0; 8192].into_boxed_slice(),
            end: End::Open,
            drained: 0,
        }
    }

    fn refuse(&mut self, error: FramingError) {
        if error.in_body() {
            self.end = End::RefusedBody {
                error,
                error_delivered: false,
            };
        } else {
            tracing::debug!(%error, "refusing a request");
            self.pending.extend_from_slice(b"\r\n");
            self.end = End::RefusedHead {
                answer: error.response(),
                written: 0,
                eof_delivered: false,
            };
        }
    }
}

impl<S: AsyncRead + Unpin> LegacyRequestLines<S> {
    /// Reads and drops what the client already sent, without waiting for more.
    fn drain(&mut self, cx: &mut Context<'_>) {
        while self.drained < MAX_DRAIN_BYTES {
            let mut scratch = ReadBuf::new(&mut self.scratch);
            match Pin::new(&mut self.inner).poll_read(cx, &mut scratch) {
                Poll::Ready(Ok(())) if !scratch.filled().is_empty() => {
                    self.drained += scratch.filled().len();
                }
                _ => return,
            }
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
        loop {
            if this.pending_from < this.pending.len() {
                let available = &this.pending[this.pending_from..];
                let take = available.len().min(buf.remaining());
                buf.put_slice(&available[..take]);
                this.pending_from += take;
                return Poll::Ready(Ok(()));
            }
            this.pending.clear();
            this.pending_from = 0;
            match &mut this.end {
                End::Open => {}
                End::ClientClosed => return Poll::Ready(Ok(())),
                End::RefusedHead { eof_delivered, .. } => {
                    *eof_delivered = true;
                    return Poll::Ready(Ok(()));
                }
                End::RefusedBody {
                    error,
                    error_delivered,
                } => {
                    if *error_delivered {
                        return Poll::Ready(Ok(()));
                    }
                    *error_delivered = true;
                    let error = io::Error::new(io::ErrorKind::InvalidData, error.clone());
                    return Poll::Ready(Err(error));
                }
            }
            let mut scratch = ReadBuf::new(&mut this.scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut scratch))?;
            let filled = scratch.filled();
            // A head in progress produces no output yet: keep reading rather than return an
            // empty read, which would mean end of stream.
            let result = if filled.is_empty() {
                this.end = End::ClientClosed;
                this.rewriter.finish()
            } else {
                this.rewriter.rewrite(filled, &mut this.pending)
            };
            if let Err(error) = result {
                this.refuse(error);
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for LegacyRequestLines<S> {
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
        let this = self.get_mut();
        // hyper read the end of the stream only after answering everything before the refused
        // request; if it closes for another reason (`Connection: close`), nothing is added.
        if matches!(
            this.end,
            End::RefusedHead {
                eof_delivered: true,
                ..
            }
        ) {
            this.drain(cx);
            while let End::RefusedHead {
                answer, written, ..
            } = &mut this.end
            {
                if *written == answer.len() {
                    break;
                }
                let count = ready!(Pin::new(&mut this.inner).poll_write(cx, &answer[*written..]))?;
                if count == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *written += count;
            }
            ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
            this.drain(cx);
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
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

/// The client's address, which `service_kit::server` puts in each request's `ConnectInfo`.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::SocketAddr);

#[cfg(test)]
mod tests {
    use super::{FramingError, MAX_HEAD_BYTES, RequestLineRewriter};

    /// Rewrites `input` fed in pieces of `piece` bytes; returns the output and the refusal.
    fn rewrite_pieces(input: &[u8], piece: usize) -> (String, Option<FramingError>) {
        let mut rewriter = RequestLineRewriter::default();
        let mut output = Vec::new();
        for chunk in input.chunks(piece) {
            if let Err(error) = rewriter.rewrite(chunk, &mut output) {
                return (String::from_utf8(output).expect("ascii"), Some(error));
            }
        }
        let refused = rewriter.finish().err();
        (String::from_utf8(output).expect("ascii"), refused)
    }

    fn rewrite_in_pieces(input: &[u8], piece: usize) -> String {
        let (output, refused) = rewrite_pieces(input, piece);
        assert_eq!(refused, None, "{output}");
        output
    }

    fn refused(input: &[u8]) -> FramingError {
        let mut expected = None;
        for piece in [1, 5, input.len()] {
            let (_, error) = rewrite_pieces(input, piece);
            let error = error.expect("refused");
            assert_eq!(
                *expected.get_or_insert(error.clone()),
                error,
                "piece {piece}"
            );
        }
        expected.expect("refused")
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
    fn chunked_bodies_are_framed_and_the_next_request_is_rewritten() {
        let input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n\"\r\n000A\r\n{\"a\":[1]}\n\r\n0\r\n\r\nGET /\" HTTP/1.1\r\n\r\n";
        let expected = String::from_utf8_lossy(input).replace("GET /\"", "GET /%22");
        for piece in [1, 4, input.len()] {
            assert_eq!(rewrite_in_pieces(input, piece), expected);
        }
    }

    #[test]
    fn already_encoded_targets_are_unchanged() {
        let input = b"GET /v1/?input=%7B%22colors%22%3A1%7D HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(rewrite_in_pieces(input, 5), String::from_utf8_lossy(input));
    }

    /// Issue 12: the old rewriter inspected 8 KiB of a header line, read this length as 0 and
    /// rewrote the body as a request of its own, while hyper read the body.
    #[test]
    fn regression_content_length_with_many_leading_zeros_frames_the_body() {
        let body = b"GET /?smuggled={} HTTP/1.1\r\nA: b\r\n\r\n";
        let mut input = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}{}\r\n\r\n",
            "0".repeat(9000),
            body.len()
        )
        .into_bytes();
        input.extend_from_slice(body);
        for piece in [1, 4096, input.len()] {
            assert_eq!(
                rewrite_in_pieces(&input, piece),
                String::from_utf8_lossy(&input)
            );
        }
    }

    /// Issue 12: an empty line before a request line (which hyper skips) made the old
    /// rewriter take the request line for a header line.
    #[test]
    fn regression_blank_line_before_a_request_line() {
        let input = b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab\r\n\nGET /v1/?input={\"a\":1} HTTP/1.1\r\n\r\n";
        let expected = "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab\
                        GET /v1/?input=%7B%22a%22:1%7D HTTP/1.1\r\n\r\n";
        for piece in [1, 3, input.len()] {
            assert_eq!(rewrite_in_pieces(input, piece), expected);
        }
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        let cases: &[(&[u8], FramingError)] = &[
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
                FramingError::RepeatedContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\nx",
                FramingError::InvalidContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                FramingError::ContentLengthWithTransferEncoding,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                FramingError::UnsupportedTransferEncoding,
            ),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                FramingError::UnsupportedTransferEncoding,
            ),
            (
                b"GET / HTTP/1.1\r\nX-A: 1\r\n Content-Length: 5\r\n\r\n",
                FramingError::ObsoleteLineFolding,
            ),
            (
                b"GET / HTTP/1.1\r\nX-A: 1\rContent-Length: 5\r\n\r\n",
                FramingError::BareCr,
            ),
            (b"\rGET / HTTP/1.1\r\n\r\n", FramingError::BareCr),
            (
                b"GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n",
                FramingError::HeaderField,
            ),
            (b"CONNECT x:1 HTTP/1.1\r\n\r\n", FramingError::Connect),
            (b"GET /\x01 HTTP/1.1\r\n\r\n", FramingError::RequestLine),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;x=y\r\na\r\n0\r\n\r\n",
                FramingError::Chunked("chunk extensions are not supported"),
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n\r\n",
                FramingError::Chunked("trailer fields are not supported"),
            ),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\n",
                FramingError::IncompleteHead,
            ),
        ];
        for (input, error) in cases {
            assert_eq!(&refused(input), error, "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn nothing_after_a_refused_byte_is_forwarded() {
        let input = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxyGET /c HTTP/1.1\r\n\r\n";
        for piece in [1, 7, input.len()] {
            let (output, error) = rewrite_pieces(input, piece);
            assert_eq!(output, "GET /a HTTP/1.1\r\n\r\n");
            assert_eq!(error, Some(FramingError::RepeatedContentLength));
        }
    }

    #[test]
    fn heads_are_limited() {
        let long = format!(
            "GET / HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD_BYTES)
        );
        assert_eq!(refused(long.as_bytes()), FramingError::HeadTooLarge);
        let blank = "\r\n".repeat(MAX_HEAD_BYTES);
        assert_eq!(refused(blank.as_bytes()), FramingError::HeadTooLarge);
        let many: String = (0..=super::MAX_HEADERS)
            .map(|i| format!("X-{i}: 1\r\n"))
            .collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(refused(many.as_bytes()), FramingError::TooManyHeaders);
        let fits = format!(
            "GET / HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD_BYTES - 23)
        );
        assert_eq!(fits.len(), MAX_HEAD_BYTES);
        assert_eq!(rewrite_in_pieces(fits.as_bytes(), 1000), fits);
    }

    #[test]
    fn the_refusal_is_a_400_with_a_one_line_reason() {
        let answer = String::from_utf8(FramingError::RepeatedContentLength.response())
            .expect("ascii answer");
        let (head, body) = answer.split_once("\r\n\r\n").expect("head");
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("\r\nconnection: close"), "{head}");
        assert_eq!(body, "more than one Content-Length header\n");
    }
}
