//! Assembles every demo service onto one tonic server.
//!
//! Served: `ecommerce.v1.ProductService`, `grpc.testing.TestService` (with
//! metadata echo), `protogate.testing.v1.EchoService` (with the same echo), `grpc.health.v1.Health` (SERVING for both services and
//! for ""), and server reflection v1 and v1alpha built from
//! [`crate::FILE_DESCRIPTOR_SET`] (plus the health proto). Both application services accept and
//! send gzip and allow messages up to [`MAX_MESSAGE_SIZE`].

use std::future::Future;

use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::call_counter::{CallCounter, CountCalls};
use crate::echo_metadata::EchoMetadata;
use crate::echo_service::EchoServiceImpl;
use crate::interop::TestServiceImpl;
use crate::pb::ecommerce::v1::product_service_server::ProductServiceServer;
use crate::pb::grpc::testing::test_service_server::TestServiceServer;
use crate::pb::protogate::testing::v1::echo_service_server::EchoServiceServer;
use crate::product_service::ProductServiceImpl;
use crate::store::ProductStore;
use crate::FILE_DESCRIPTOR_SET;

/// Largest message, in bytes, the application services decode or encode:
/// 8 MiB, so the 4 MiB `large_unary` interop case fits with room to spare.
pub const MAX_MESSAGE_SIZE: usize = 8 * 1024 * 1024;

/// Serves all demo services on `listener` with a freshly seeded
/// [`ProductStore`] until `shutdown` completes, then drains and returns.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    serve_with_store(listener, ProductStore::seeded(), shutdown).await
}

/// Like [`serve`], but `ProductService` uses `store`; keep a clone to look
/// at or change the catalogue while the server runs.
pub async fn serve_with_store(
    listener: TcpListener,
    store: ProductStore,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    serve_all(listener, store, None, None, shutdown).await
}

/// Like [`serve`], and every `ProductService`, `TestService` and `EchoService` call the
/// server answers is counted into `counter`, by its `grpc-status`; keep a
/// clone to read the totals.
pub async fn serve_counted(
    listener: TcpListener,
    counter: CallCounter,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    serve_all(
        listener,
        ProductStore::seeded(),
        Some(counter),
        None,
        shutdown,
    )
    .await
}

/// Serves all demo services with `store`, counting calls into `counter`
/// when given, until `shutdown` completes.
pub async fn serve_with(
    listener: TcpListener,
    store: ProductStore,
    counter: Option<CallCounter>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    serve_all(listener, store, counter, None, shutdown).await
}

/// Like [`serve`], over TLS (h2 by ALPN; client certificates required
/// when `tls` has a client CA): a `grpcs` upstream.
pub async fn serve_tls(
    listener: TcpListener,
    tls: tonic::transport::ServerTlsConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    serve_all(listener, ProductStore::seeded(), None, Some(tls), shutdown).await
}

async fn serve_all(
    listener: TcpListener,
    store: ProductStore,
    counter: Option<CallCounter>,
    tls: Option<tonic::transport::ServerTlsConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let products = ProductServiceServer::new(ProductServiceImpl::new(store))
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    let interop = TestServiceServer::new(TestServiceImpl)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<ProductServiceServer<ProductServiceImpl>>()
        .await;
    health_reporter
        .set_serving::<TestServiceServer<TestServiceImpl>>()
        .await;
    health_reporter
        .set_service_status("", ServingStatus::Serving)
        .await;

    // The descriptor set is compiled in and checked by tests, so building
    // reflection cannot fail in practice; if it ever does, serve without it
    // rather than refuse to start.
    let reflection_v1 = reflection_builder()
        .build_v1()
        .inspect_err(|err| tracing::error!(%err, "server reflection v1 disabled"))
        .ok();
    let reflection_v1alpha = reflection_builder()
        .build_v1alpha()
        .inspect_err(|err| tracing::error!(%err, "server reflection v1alpha disabled"))
        .ok();

    // `serve_with_incoming` skips the builder's socket options, so set
    // TCP_NODELAY here as tonic's own `serve` does: without it, Nagle's
    // algorithm holds back small writes (a trailers frame, a streamed
    // message) for up to a delayed-ACK period.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    builder
        .add_service(health)
        .add_service(CountCalls::new(products, counter.clone()))
        .add_service(CountCalls::new(EchoMetadata::new(interop), counter.clone()))
        .add_service(CountCalls::new(
            EchoMetadata::new(EchoServiceServer::new(EchoServiceImpl)),
            counter,
        ))
        .add_optional_service(reflection_v1)
        .add_optional_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// Reflection over the demo protos, the health service and the reflection
/// service itself.
fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

#[cfg(test)]
mod tests {
    use super::reflection_builder;

    #[test]
    fn reflection_builds_from_the_embedded_descriptors() {
        assert!(reflection_builder().build_v1().is_ok());
        assert!(reflection_builder().build_v1alpha().is_ok());
    }
}
