//! A raw HTTP/2 client (the `h2` crate) for gRPC calls whose framing and
//! timing a real gRPC client would hide: no client-side deadline timer, no
//! frame validation, several calls on one connection.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Request};

/// A gRPC answer as it came off the wire.
#[derive(Debug)]
pub struct RawReply {
    /// The `:status`.
    pub status: u16,
    /// The response headers (for a trailers-only answer, `grpc-status` is here).
    pub headers: HeaderMap,
    /// The body bytes (gRPC frames).
    pub body: Bytes,
    /// The trailers, if any.
    pub trailers: Option<HeaderMap>,
}

impl RawReply {
    /// `grpc-status` from the trailers or, for a trailers-only answer, the headers.
    pub fn grpc_status(&self) -> Option<&str> {
        self.trailers
            .as_ref()
            .and_then(|t| t.get("grpc-status"))
            .or_else(|| self.headers.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
    }

    /// `grpc-message`, from wherever `grpc-status` came from.
    pub fn grpc_message(&self) -> Option<String> {
        self.trailers
            .as_ref()
            .and_then(|t| t.get("grpc-message"))
            .or_else(|| self.headers.get("grpc-message"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// One HTTP/2 connection to the gateway.
#[derive(Clone)]
pub struct RawClient {
    send: h2::client::SendRequest<Bytes>,
}

impl RawClient {
    /// Connects with prior-knowledge h2c.
    pub async fn connect(port: u16) -> Self {
        let socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect to the gateway");
        let (send, connection) = h2::client::handshake(socket).await.expect("h2 handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Self { send }
    }

    /// Sends a gRPC call with `body` as the raw request body (frames as
    /// given, valid or not) and reads the whole answer.
    pub async fn call(&self, path: &str, headers: &[(&str, &str)], body: Bytes) -> RawReply {
        let mut request = Request::post(format!("http://gateway{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(()).expect("request");
        let mut send = self.send.clone().ready().await.expect("connection ready");
        let (response, mut stream) = send.send_request(request, false).expect("send request");
        stream.send_data(body, true).expect("send body");
        let response = response.await.expect("response header");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut recv = response.into_body();
        let mut collected = BytesMut::new();
        while let Some(chunk) = recv.data().await {
            let chunk = chunk.expect("body chunk");
            let _ = recv.flow_control().release_capacity(chunk.len());
            collected.extend_from_slice(&chunk);
        }
        let trailers = recv.trailers().await.expect("trailers");
        RawReply {
            status,
            headers,
            body: collected.freeze(),
            trailers,
        }
    }
}

/// A gRPC frame: the 5-byte prefix and the message.
pub fn frame(message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(message.len() + 5);
    out.extend_from_slice(&[0]);
    out.extend_from_slice(
        &u32::try_from(message.len())
            .expect("small message")
            .to_be_bytes(),
    );
    out.extend_from_slice(message);
    out.freeze()
}
