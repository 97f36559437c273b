//! The body of a response the local proxy sends its client: an instance's body passed through
//! as it streams, or a short answer of the proxy's own (503, 502, 504).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use super::instance::InFlight;

pub enum RelayedBody {
    /// An instance's response body. The request stays in flight (draining waits for it) until
    /// this body is done or dropped, so a drain never cuts a body short.
    FromInstance {
        body: Incoming,
        _in_flight: InFlight,
    },
    /// An answer the proxy makes itself.
    FromProxy(Full<Bytes>),
}

impl RelayedBody {
    pub fn text(text: String) -> Self {
        Self::FromProxy(Full::new(Bytes::from(text)))
    }
}

impl Body for RelayedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        // Both variants are Unpin, so the enum is too.
        match self.get_mut() {
            Self::FromInstance { body, .. } => Pin::new(body).poll_frame(cx),
            Self::FromProxy(full) => Pin::new(full)
                .poll_frame(cx)
                .map(|frame| frame.map(|result| result.map_err(|never| match never {}))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::FromInstance { body, .. } => body.is_end_stream(),
            Self::FromProxy(full) => full.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::FromInstance { body, .. } => body.size_hint(),
            Self::FromProxy(full) => full.size_hint(),
        }
    }
}
