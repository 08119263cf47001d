//! Ephemeral ports.

use std::net::TcpListener;

/// A port that was free a moment ago: bind `127.0.0.1:0`, read the port,
/// release it. Callers that hand it to another process retry on a bind race.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}
