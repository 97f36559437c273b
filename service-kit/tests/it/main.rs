//! service-kit end to end: the hardened server against real sockets on loopback.

mod differential;
mod instrumentation;
mod server_limits;
