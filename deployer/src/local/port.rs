//! Ports for instances. A port is picked by binding port 0 on loopback and letting it go; the
//! instance binds it a moment later, so another program can take it in between. An instance
//! that cannot bind its port exits, and restarting it on the same port would fail the same way
//! forever: before each start the port is checked and, if someone else holds it, re-picked.

use std::io;
use std::net::{Ipv4Addr, TcpListener};

/// A port the OS considers free on loopback right now.
pub fn pick() -> io::Result<u16> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()
        .map(|address| address.port())
}

/// Whether another socket holds `port` on loopback (a listener on 127.0.0.1 or on every
/// address). Connections in TIME_WAIT do not count: std binds with SO_REUSEADDR, as the
/// instances' servers do.
pub fn is_taken(port: u16) -> bool {
    matches!(
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)),
        Err(error) if error.kind() == io::ErrorKind::AddrInUse
    )
}

/// The port an instance should start on: `current` unless someone else took it, else a new one.
pub fn for_next_start(current: u16) -> io::Result<u16> {
    if is_taken(current) {
        pick()
    } else {
        Ok(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_is_kept() {
        let port = pick().expect("pick");
        assert!(!is_taken(port));
        assert_eq!(for_next_start(port).expect("port"), port);
    }

    #[test]
    fn a_port_someone_else_took_is_re_picked() {
        let port = pick().expect("pick");
        // Someone else binds it between the pick and the instance's start.
        let squatter = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("squat");
        assert!(is_taken(port));
        let next = for_next_start(port).expect("port");
        assert_ne!(next, port);
        assert!(!is_taken(next));
        drop(squatter);
    }

    #[test]
    fn a_listener_on_every_address_takes_the_loopback_port_too() {
        let squatter = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("squat");
        let port = squatter.local_addr().expect("address").port();
        assert!(is_taken(port));
        assert_ne!(for_next_start(port).expect("port"), port);
    }
}
