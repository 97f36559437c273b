//! Request ids: kept from the caller when sane, made up otherwise.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id kept from a caller. Ids end up in logs and in stored history rows, so a
/// caller must not be able to make either grow: a longer (or unprintable) id is replaced by a
/// fresh one, as if none had been sent.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Whether a caller's request id is kept: 1 to [`MAX_REQUEST_ID_LEN`] visible ASCII characters.
pub fn is_usable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|byte| byte.is_ascii_graphic())
}

/// The id of a request with these headers: the caller's single usable `x-request-id`, or a
/// fresh UUID (v4, from a thread-local generator: no system call per request).
pub fn request_id_for(headers: &HeaderMap) -> HeaderValue {
    let mut values = headers.get_all(REQUEST_ID_HEADER).iter();
    if let (Some(value), None) = (values.next(), values.next())
        && is_usable_request_id(value)
    {
        return value.clone();
    }
    fresh_request_id()
}

fn fresh_request_id() -> HeaderValue {
    let mut buffer = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_ids(ids: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for id in ids {
            headers.append(REQUEST_ID_HEADER, HeaderValue::from_str(id).expect("value"));
        }
        headers
    }

    #[test]
    fn a_single_sane_id_is_kept_anything_else_replaced() {
        assert_eq!(request_id_for(&with_ids(&["trace-1"])), "trace-1");
        for refused in [
            with_ids(&[]),
            with_ids(&["a", "b"]),
            with_ids(&[&"x".repeat(MAX_REQUEST_ID_LEN + 1)]),
            with_ids(&["has space"]),
        ] {
            let id = request_id_for(&refused);
            assert_eq!(id.len(), 36, "{id:?}");
        }
    }
}
