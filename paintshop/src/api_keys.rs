use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix that makes a leaked key recognisable to secret scanners and people.
const KEY_PREFIX: &str = "psk_";

/// A new random API key (256 bits from the OS-seeded CSPRNG).
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", hex::encode(bytes))
}

/// What is stored and looked up: the key itself is never persisted or logged.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The bearer token of an `Authorization` header value, if it is one.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}
