//! Sending one encoded `ExportTraceServiceRequest` to the collector:
//! OTLP/HTTP (a `POST` of the protobuf body, through hyper) or OTLP/gRPC
//! (the `TraceService/Export` method, through tonic). Neither retries; a
//! failed batch is counted by the caller.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use http::header::CONTENT_TYPE;
use http::uri::PathAndQuery;
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// The OTLP/gRPC method that takes spans.
const EXPORT_METHOD: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// A connection (pool) to one collector.
pub enum Transport {
    /// OTLP/HTTP with a protobuf body.
    Http {
        /// hyper's pooled client (boxed: it is far larger than tonic's
        /// handle).
        client: Box<Client<HttpConnector, Full<Bytes>>>,
        /// `http://host:port/v1/traces` (or the path configured).
        url: Uri,
    },
    /// OTLP/gRPC.
    Grpc(tonic::client::Grpc<Channel>),
}

impl Transport {
    /// For `endpoint` (`http://` or `grpc://`); every export gives up
    /// after `timeout`. Connections open on the first export.
    pub fn new(endpoint: &str, timeout: Duration) -> Result<Self, String> {
        if let Some(address) = endpoint.strip_prefix("grpc://") {
            let channel = Channel::from_shared(format!("http://{address}"))
                .map_err(|e| format!("`{endpoint}`: {e}"))?
                .connect_timeout(timeout)
                .timeout(timeout)
                .connect_lazy();
            return Ok(Self::Grpc(tonic::client::Grpc::new(channel)));
        }
        let url = http_url(endpoint)
            .parse::<Uri>()
            .map_err(|e| format!("`{endpoint}`: {e}"))?;
        if url.scheme_str() != Some("http") {
            return Err(format!(
                "`{endpoint}`: only http:// and grpc:// collectors are supported"
            ));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self::Http {
            client: Box::new(client),
            url,
        })
    }

    /// Sends one request body; `Err` says why it did not arrive.
    pub async fn send(&mut self, body: Vec<u8>) -> Result<(), String> {
        match self {
            Self::Http { client, url } => {
                let mut request = Request::new(Full::new(Bytes::from(body)));
                *request.method_mut() = Method::POST;
                *request.uri_mut() = url.clone();
                request.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-protobuf"),
                );
                let response = client.request(request).await.map_err(|e| {
                    let cause = std::error::Error::source(&e).map(ToString::to_string);
                    format!("{e}{}", cause.map(|c| format!(": {c}")).unwrap_or_default())
                })?;
                let status = response.status();
                // Read the answer to its end so the connection is reused.
                let answer = response.into_body().collect().await;
                if !status.is_success() {
                    return Err(format!("the collector answered {status}"));
                }
                answer.map(|_| ()).map_err(|e| e.to_string())
            }
            Self::Grpc(grpc) => {
                grpc.ready().await.map_err(|e| e.to_string())?;
                let path = PathAndQuery::from_static(EXPORT_METHOD);
                grpc.unary(tonic::Request::new(Bytes::from(body)), path, Encoded)
                    .await
                    .map(|_| ())
                    .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
            }
        }
    }
}

/// The OTLP/HTTP URL: `/v1/traces` added to an endpoint without a path.
pub fn http_url(endpoint: &str) -> String {
    match endpoint.parse::<Uri>() {
        Ok(uri) if uri.path().is_empty() || uri.path() == "/" => {
            format!("{}/v1/traces", endpoint.trim_end_matches('/'))
        }
        _ => endpoint.to_owned(),
    }
}

/// A tonic codec for a request that is already protobuf, and an answer
/// whose contents (an optional partial-success note) are not needed.
#[derive(Clone, Copy, Debug, Default)]
struct Encoded;

impl Codec for Encoded {
    type Encode = Bytes;
    type Decode = ();
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        *self
    }

    fn decoder(&mut self) -> Self {
        *self
    }
}

impl Encoder for Encoded {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Encoded {
    type Item = ();
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Self::Error> {
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_become_urls() {
        assert_eq!(
            http_url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(http_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(http_url("http://c:4318/custom"), "http://c:4318/custom");
    }

    #[test]
    fn only_plain_http_and_grpc_collectors_are_taken() {
        assert!(Transport::new("https://c:4318", Duration::from_secs(1)).is_err());
    }
}
