//! `protogate.testing.v1.EchoService`: answers with what it received, so
//! the transcoder's tests see exactly the message the gateway built.

use bytes::Bytes;
use prost::Message;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Response, Status};

use crate::pb::google::api::HttpBody;
use crate::pb::protogate::testing::v1::echo_service_server::EchoService;
use crate::pb::protogate::testing::v1::{
    DownloadRequest, FailDetail, FailRequest, Kitchen, UploadReply,
};
use crate::status_details::RpcStatus;

/// `type_url` of the detail the demo's catalog knows.
pub const FAIL_DETAIL_TYPE_URL: &str = "type.googleapis.com/protogate.testing.v1.FailDetail";
/// `type_url` of a detail no catalog knows (sent as raw bytes).
pub const UNKNOWN_DETAIL_TYPE_URL: &str = "type.googleapis.com/nowhere.Secret";

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
