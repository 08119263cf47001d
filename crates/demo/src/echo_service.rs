//! `protogate.testing.v1.EchoService`: answers with what it received, so
//! the transcoder's tests see exactly the message the gateway built.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Response, Status, Streaming};

use crate::pb::ecommerce::v1::{Category, Product};
use crate::pb::google::api::HttpBody;
use crate::pb::protogate::testing::v1::echo_service_server::EchoService;
use crate::pb::protogate::testing::v1::{
    CollectReply, DownloadRequest, FailDetail, FailRequest, Kitchen, StreamRequest, UploadReply,
};
use crate::status_details::RpcStatus;

/// `type_url` of the detail the demo's catalog knows.
pub const FAIL_DETAIL_TYPE_URL: &str = "type.googleapis.com/protogate.testing.v1.FailDetail";
/// `type_url` of a detail no catalog knows (sent as raw bytes).
pub const UNKNOWN_DETAIL_TYPE_URL: &str = "type.googleapis.com/nowhere.Secret";

/// How a tagged `StreamProducts` call ended, as the server saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    /// Still sending.
    Running,
    /// Every message was handed to the transport.
    Completed,
    /// The caller went away before the end (the call was cancelled).
    Cancelled,
}

static STREAMS: LazyLock<Mutex<HashMap<String, StreamState>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The state of the `StreamProducts` call tagged `tag`, if one was made in
/// this process.
pub fn stream_state(tag: &str) -> Option<StreamState> {
    STREAMS.lock().ok()?.get(tag).copied()
}

fn set_state(tag: &str, state: StreamState) {
    if tag.is_empty() {
        return;
    }
    if let Ok(mut streams) = STREAMS.lock() {
        streams.insert(tag.to_owned(), state);
    }
}

/// Product number `i` of a demo stream: about the size of a catalogue entry.
pub fn numbered_product(i: i64) -> Product {
    Product {
        id: format!("p-{i}"),
        name: format!("Product {i}"),
        description: "A numbered product streamed by the demo.".to_owned(),
        price_cents: 1000 + i,
        currency: "USD".to_owned(),
        category: Category::Electronics as i32,
        tags: vec!["demo".to_owned(), "stream".to_owned()],
        created_at: Some(prost_types::Timestamp {
            seconds: 1_700_000_000 + i,
            nanos: 0,
        }),
        attributes: [("color".to_owned(), "red".to_owned())]
            .into_iter()
            .collect(),
    }
}

type ProductStream = Pin<Box<dyn Stream<Item = Result<Product, Status>> + Send>>;
type KitchenStream = Pin<Box<dyn Stream<Item = Result<Kitchen, Status>> + Send>>;

/// The echo service.
#[derive(Debug, Default, Clone, Copy)]
pub struct EchoServiceImpl;

fn echo<T>(request: Request<T>) -> Result<Response<T>, Status> {
    let mut names: Vec<String> = request
        .metadata()
        .keys()
        .map(|k| match k {
            tonic::metadata::KeyRef::Ascii(k) => k.as_str().to_owned(),
            tonic::metadata::KeyRef::Binary(k) => k.as_str().to_owned(),
        })
        .collect();
    names.sort();
    names.dedup();
    let seen = MetadataValue::try_from(names.join(","))
        .map_err(|e| Status::internal(format!("metadata names: {e}")))?;
    let mut response = Response::new(request.into_inner());
    response.metadata_mut().insert("x-seen-metadata", seen);
    Ok(response)
}

#[tonic::async_trait]
impl EchoService for EchoServiceImpl {
    type StreamProductsStream = ProductStream;
    type ChatStream = KitchenStream;

    async fn stream_products(
        &self,
        request: Request<StreamRequest>,
    ) -> Result<Response<ProductStream>, Status> {
        let request = request.into_inner();
        let (sender, receiver) = mpsc::channel(16);
        set_state(&request.tag, StreamState::Running);
        tokio::spawn(async move {
            let count = i64::from(request.count.max(0));
            for i in 1..=count {
                if request.fail_after != 0 && i > i64::from(request.fail_after.max(0)) {
                    let code = if request.fail_code == 0 {
                        Code::Aborted
                    } else {
                        Code::from_i32(request.fail_code)
                    };
                    let _ = sender
                        .send(Err(Status::new(
                            code,
                            format!("failed after {}", request.fail_after.max(0)),
                        )))
                        .await;
                    return;
                }
                if i == count && request.hold_last_ms > 0 {
                    let hold = Duration::from_millis(request.hold_last_ms.unsigned_abs().into());
                    tokio::time::sleep(hold).await;
                }
                if sender.send(Ok(numbered_product(i))).await.is_err() {
                    set_state(&request.tag, StreamState::Cancelled);
                    return;
                }
                if request.interval_ms > 0 {
                    let pause = Duration::from_millis(request.interval_ms.unsigned_abs().into());
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = sender.closed() => {
                            set_state(&request.tag, StreamState::Cancelled);
                            return;
                        }
                    }
                }
            }
            set_state(&request.tag, StreamState::Completed);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn collect_products(
        &self,
        request: Request<Streaming<Product>>,
    ) -> Result<Response<CollectReply>, Status> {
        let mut incoming = request.into_inner();
        let mut reply = CollectReply::default();
        while let Some(product) = incoming.message().await? {
            if reply.count == 0 {
                reply.first_id = product.id.clone();
            }
            reply.count += 1;
            reply.last_id = product.id;
        }
        Ok(Response::new(reply))
    }

    async fn chat(
        &self,
        request: Request<Streaming<Kitchen>>,
    ) -> Result<Response<KitchenStream>, Status> {
        let mut incoming = request.into_inner();
        let (sender, receiver) = mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                match incoming.message().await {
                    Ok(Some(message)) => {
                        if sender.send(Ok(message)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn echo(&self, request: Request<Kitchen>) -> Result<Response<Kitchen>, Status> {
        echo(request)
    }

    async fn echo_nested(&self, request: Request<Kitchen>) -> Result<Response<Kitchen>, Status> {
        echo(request)
    }

    async fn unannotated(&self, request: Request<Kitchen>) -> Result<Response<Kitchen>, Status> {
        echo(request)
    }

    async fn hang(&self, _request: Request<Kitchen>) -> Result<Response<Kitchen>, Status> {
        // Until the caller gives up (the call's future is dropped then).
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        Err(Status::deadline_exceeded("hung for an hour"))
    }

    async fn download(
        &self,
        request: Request<DownloadRequest>,
    ) -> Result<Response<HttpBody>, Status> {
        let request = request.into_inner();
        let content_type = if request.content_type.is_empty() {
            "text/plain".to_owned()
        } else {
            request.content_type
        };
        Ok(Response::new(HttpBody {
            content_type,
            data: request.name.into_bytes(),
            extensions: Vec::new(),
        }))
    }

    async fn upload(&self, request: Request<HttpBody>) -> Result<Response<UploadReply>, Status> {
        let body = request.into_inner();
        Ok(Response::new(UploadReply {
            size: i64::try_from(body.data.len()).unwrap_or(i64::MAX),
            content_type: body.content_type,
        }))
    }

    async fn fail(&self, request: Request<FailRequest>) -> Result<Response<()>, Status> {
        let request = request.into_inner();
        let code = Code::from_i32(request.code);
        if !request.with_details {
            return Err(Status::new(code, request.message));
        }
        let detail = FailDetail {
            reason: "demo".to_owned(),
            retry_after_ms: 1500,
        };
        let details = RpcStatus {
            code: request.code,
            message: request.message.clone(),
            details: vec![
                prost_types::Any {
                    type_url: FAIL_DETAIL_TYPE_URL.to_owned(),
                    value: detail.encode_to_vec(),
                },
                prost_types::Any {
                    type_url: UNKNOWN_DETAIL_TYPE_URL.to_owned(),
                    value: vec![1, 2, 3],
                },
            ],
        };
        Err(Status::with_details(
            code,
            request.message,
            Bytes::from(details.encode_to_vec()),
        ))
    }
}
