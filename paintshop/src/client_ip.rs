//! Which client a request comes from, for per-client limits.
//!
//! Behind a load balancer every connection comes from the balancer, and the client is in
//! `X-Forwarded-For`, which the ALB appends to: `client, proxy1, ...`. Anyone can send that
//! header, so it is believed only when the connection comes from a trusted proxy, and then read
//! from the right: the first address that is not itself a trusted proxy is the client. The
//! leftmost entries are whatever the client chose to write and are never used.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use service_kit::ClientAddr;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The resolved client address of a request, set by [`resolve`] for handlers to read.
/// `None` when the request did not come through a socket (in-process tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks.into())
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client behind a connection from `peer` carrying `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut forwarded = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        forwarded.reverse();
        for entry in forwarded {
            // A malformed entry ends the chain: nothing to its left can be trusted either.
            let Ok(address) = entry.parse::<IpAddr>() else {
                break;
            };
            if !self.trusts(address) {
                return address.to_canonical();
            }
        }
        peer
    }
}

/// Middleware: records the request's [`ClientIp`].
pub async fn resolve(
    axum::extract::State(trusted): axum::extract::State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<ClientAddr>>()
        .map(|ConnectInfo(ClientAddr(address))| address.ip());
    let client = peer.map(|peer| trusted.client(peer, request.headers()));
    request.extensions_mut().insert(ClientIp(client));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client address seen behind `trusted` networks, for a request from `peer` carrying
    /// one `X-Forwarded-For` header per entry of `forwarded`.
    fn client_seen(trusted: &[&str], peer: &str, forwarded: &[&str]) -> IpAddr {
        let proxies = TrustedProxies::new(
            trusted
                .iter()
                .map(|network| network.parse().expect("network"))
                .collect(),
        );
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append(FORWARDED_FOR, value.parse().expect("header value"));
        }
        proxies.client(ip(peer), &headers)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let seen = client_seen(&["10.0.0.0/16"], "203.0.113.9", &["1.2.3.4"]);
        assert_eq!(seen, ip("203.0.113.9"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_address_is_the_client() {
        // The client wrote "6.6.6.6" itself; the ALB appended the address it saw.
        let forwarded = ["6.6.6.6, 198.51.100.4", "10.0.1.1"];
        let seen = client_seen(&["10.0.0.0/16"], "10.0.3.7", &forwarded);
        assert_eq!(seen, ip("198.51.100.4"));
    }

    #[test]
    fn a_malformed_entry_stops_the_walk_at_the_last_trusted_hop() {
        let malformed = ["1.2.3.4, garbage, 10.0.0.5"];
        let seen = client_seen(&["10.0.0.0/16"], "10.0.3.7", &malformed);
        assert_eq!(seen, ip("10.0.3.7"));
        assert_eq!(
            client_seen(&["10.0.0.0/16"], "10.0.3.7", &[]),
            ip("10.0.3.7")
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_peers_match_ipv4_networks() {
        let seen = client_seen(&["127.0.0.0/8"], "::ffff:127.0.0.1", &["192.0.2.1"]);
        assert_eq!(seen, ip("192.0.2.1"));
    }
}
