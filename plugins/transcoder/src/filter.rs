//! The `transcoder` plugin: a REST call in, a gRPC call to the route's
//! upstream, the REST answer out (streaming calls: `stream_calls`). It
//! answers every call itself (from the request hook), so the plugins after
//! it never run their request hooks; the out-of-pipeline call still runs
//! their upstream-request and trailer hooks (header mapping, tracing,
//! metrics).

use async_trait::async_trait;
use bytes::{BufMut, Bytes, BytesMut};
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderName, HeaderValue};
use prost::Message as _;
use prost_reflect::DescriptorPool;
use protogate_core::cors::CorsPolicy;
use protogate_core::{
    CallLimits, Code, Flow, GatewayError, Hooks, LocalResponse, Plugin, RequestCx, RequestHeader,
    ResponseHeader, ResponseStream, UpstreamResponse,
};

use crate::bindings::{Binding, BindingTable, Lookup};
use crate::config::{TranscoderConfig, UnknownFields};
use crate::metadata::{forward_request_headers, return_metadata};
use crate::request::{build_message, Incoming};
use crate::response::{unary_payload, Body, CallError, Printer};
use crate::stream_calls::Requests;
use crate::wire_json::Scratch;

/// The plugin, built once per route.
pub struct Transcoder {
    table: BindingTable,
    pub(crate) printer: Printer,
    pub(crate) unknown: UnknownFields,
    pub(crate) max_body: usize,
    cors: Option<CorsPolicy>,
    pub(crate) pool: DescriptorPool,
    /// The path and bytes of the generated OpenAPI document, if served.
    openapi: Option<(String, Bytes)>,
}

impl std::fmt::Debug for Transcoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcoder")
            .field("bindings", &self.table.iter().count())
            .finish()
    }
}

impl Transcoder {
    /// The plugin for `config`, over bindings already checked against the
    /// catalog whose pool is `pool`.
    pub fn new(config: &TranscoderConfig, table: BindingTable, pool: DescriptorPool) -> Self {
        let printer = Printer::new(&config.json, table.iter().map(|b| b.method.output()));
        let openapi = config.openapi.as_ref().map(|path| {
            let title = config
                .services
                .iter()
                .map(|s| s.value.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let closed = config.unknown_fields == UnknownFields::Reject;
            let document = crate::openapi::document(&title, &table, &config.json, closed);
            let bytes = serde_json::to_vec_pretty(&document).unwrap_or_default();
            (path.clone(), Bytes::from(bytes))
        });
        Self {
            openapi,
            table,
            printer,
            unknown: config.unknown_fields,
            max_body: usize::try_from(config.max_body).unwrap_or(usize::MAX),
            cors: config.cors.clone(),
            pool,
        }
    }

    /// The bindings, most specific first.
    pub fn bindings(&self) -> impl Iterator<Item = &Binding> {
        self.table.iter()
    }

    /// The OpenAPI answer, when `request` asks for the document.
    fn openapi_document(
        &self,
        request: &RequestHeader,
    ) -> Result<Option<(ResponseHeader, Bytes)>, GatewayError> {
        let Some((path, bytes)) = &self.openapi else {
            return Ok(None);
        };
        if request.uri.path() != path
            || !(request.method == http::Method::GET || request.method == http::Method::HEAD)
        {
            return Ok(None);
        }
        let mut header = answer_header(200, 4)?;
        set(
            &mut header,
            CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )?;
        set(&mut header, CONTENT_LENGTH, HeaderValue::from(bytes.len()))?;
        let body = if request.method == http::Method::HEAD {
            Bytes::new()
        } else {
            bytes.clone()
        };
        Ok(Some((header, body)))
    }

    async fn transcode(&self, cx: &mut RequestCx<'_>) -> Result<Answer, GatewayError> {
        let header = cx.downstream.req_header();
        let path = header.uri.path().to_owned();
        let query = header.uri.query().map(str::to_owned);
        let (binding, captures) = match self.table.find(&header.method, &path) {
            Lookup::Found(binding, captures) => (binding, captures),
            Lookup::WrongMethod(allowed) => {
                let list: Vec<&str> = allowed.iter().map(http::Method::as_str).collect();
                let allow = HeaderValue::from_str(&list.join(", "))
                    .map_err(|e| GatewayError::internal(e.to_string()))?;
                return Err(GatewayError::new(
                    Code::Unimplemented,
                    format!(
                        "{} is not allowed on {path}; allowed: {}",
                        header.method,
                        list.join(", ")
                    ),
                )
                .with_http_status(405)
                .with_header(ALLOW, allow));
            }
            Lookup::NotFound => {
                return Err(GatewayError::no_route(format!(
                    "no REST binding for {} {path}",
                    header.method
                )))
            }
        };
        cx.call.grpc_service = binding.service_label.clone();
        cx.call.grpc_method = binding.method_label.clone();
        cx.call.rpc_kind = Some(binding.kind);
        cx.call.http_route = Some(binding.http_route.clone());
        cx.call.path_params = captures
            .iter()
            .filter_map(|(index, value)| {
                let variable = binding.template.variables.get(*index)?;
                Some((variable.field_path_text(), value.clone()))
            })
            .collect();
        if binding.kind.client_streaming() {
            let request = upstream_request(binding, cx.downstream.req_header())?;
            let mut upstream = cx.open_upstream(request).await?;
            let requests = Requests {
                binding,
                captures: &captures,
                query: query.as_deref(),
            };
            self.send_request_stream(cx, &requests, upstream.as_mut())
                .await?;
            if binding.kind.server_streaming() {
                return self.stream_answer(cx, binding, upstream).await;
            }
            return self.read_whole_answer(cx, binding, upstream).await;
        }
        let content_type = header
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = self.read_body(cx).await?;
        let message = build_message(
            binding,
            Incoming {
                captures: &captures,
                query: query.as_deref(),
                body: &body,
                content_type: content_type.as_deref(),
            },
            self.unknown,
        )?;
        let request = upstream_request(binding, cx.downstream.req_header())?;
        if binding.kind.server_streaming() {
            let mut upstream = cx.open_upstream(request).await?;
            upstream.send(frame(&message), true).await?;
            return self.stream_answer(cx, binding, upstream).await;
        }
        let response = cx
            .call_upstream(
                request,
                frame(&message),
                CallLimits {
                    max_response_bytes: self.max_body.saturating_add(5),
                },
            )
            .await?;
        self.answer(binding, response)
    }

    /// Reads the whole request body, refusing it (413) past `max_body`.
    async fn read_body(&self, cx: &mut RequestCx<'_>) -> Result<Bytes, GatewayError> {
        let too_large = || self.too_large("the request body");
        let declared = cx
            .downstream
            .req_header()
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body as u64) {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = cx.downstream.read_body().await? {
            if body.len() + chunk.len() > self.max_body {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// The REST answer for the upstream's response.
    pub(crate) fn answer(
        &self,
        binding: &Binding,
        response: UpstreamResponse,
    ) -> Result<Answer, GatewayError> {
        let UpstreamResponse {
            header,
            body,
            trailers,
        } = response;
        let status_from = trailers
            .as_ref()
            .filter(|t| t.contains_key("grpc-status"))
            .unwrap_or(&header.headers);
        if !status_from.contains_key("grpc-status") {
            let status = header.status.as_u16();
            if status != 200 {
                return Err(GatewayError::new(
                    Code::from_http_status(status),
                    format!("the upstream answered HTTP {status} without a grpc-status"),
                ));
            }
            return Err(
                GatewayError::internal("the upstream's answer has no grpc-status")
                    .with_http_status(502),
            );
        }
        if let Some(error) = CallError::from_trailers(Some(status_from)) {
            return self.error_answer(&error, &header.headers, trailers.as_ref());
        }
        let mut out = answer_header(200, 8)?;
        return_metadata(&header.headers, trailers.as_ref(), &mut out)?;
        let payload = unary_payload(&body)?;
        let body = self.printer.body_from_wire(
            &binding.method.output(),
            payload,
            binding.response_body.as_ref(),
            &mut Scratch::default(),
        )?;
        let (content_type, bytes) = match body {
            Body::Json(json) => (
                HeaderValue::from_static("application/json"),
                Bytes::from(json),
            ),
            Body::Raw { content_type, data } => (
                HeaderValue::from_str(&content_type)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                data,
            ),
        };
        set(&mut out, CONTENT_TYPE, content_type)?;
        set(&mut out, CONTENT_LENGTH, HeaderValue::from(bytes.len()))?;
        Ok(Answer::Complete {
            header: out,
            body: bytes,
        })
    }

    /// The JSON error answer for a failed call, with the upstream's
    /// metadata (`headers`, and `trailers` when the call ended with them).
    pub(crate) fn error_answer(
        &self,
        error: &CallError,
        headers: &http::HeaderMap,
        trailers: Option<&http::HeaderMap>,
    ) -> Result<Answer, GatewayError> {
        let body = self.printer.error(
            error.code,
            &error.message,
            error.details.as_deref(),
            &self.pool,
        );
        let status = error
            .http_status
            .unwrap_or_else(|| error.code.to_http_status());
        let mut out = answer_header(status, 8)?;
        return_metadata(headers, trailers, &mut out)?;
        set(
            &mut out,
            CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )?;
        set(&mut out, CONTENT_LENGTH, HeaderValue::from(body.len()))?;
        set(
            &mut out,
            CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        )?;
        Ok(Answer::Complete {
            header: out,
            body: Bytes::from(body),
        })
    }
}

/// A REST answer.
pub(crate) enum Answer {
    /// The whole answer.
    Complete {
        /// The header.
        header: ResponseHeader,
        /// The body.
        body: Bytes,
    },
    /// A streamed answer (server streaming).
    Stream {
        /// The header.
        header: ResponseHeader,
        /// The body, message by message.
        body: Box<dyn ResponseStream>,
    },
}

#[async_trait]
impl Plugin for Transcoder {
    type State = ();

    fn name(&self) -> &'static str {
        crate::NAME
    }

    fn hooks(&self) -> Hooks {
        Hooks::REQUEST
    }

    async fn request(&self, _state: &mut (), cx: &mut RequestCx<'_>) -> Result<Flow, GatewayError> {
        let cors_headers = match &self.cors {
            Some(cors) => {
                let header = cx.downstream.req_header();
                if CorsPolicy::is_preflight(header) {
                    return Ok(Flow::Respond(match cors.preflight(header) {
                        Ok(answer) => LocalResponse::Http {
                            header: Box::new(answer),
                            body: Bytes::new(),
                        },
                        Err(error) => LocalResponse::Error(error),
                    }));
                }
                cors.response_headers(header)
            }
            None => Vec::new(),
        };
        if let Some(document) = self.openapi_document(cx.downstream.req_header())? {
            let mut header = document;
            for (name, value) in cors_headers {
                set(&mut header.0, name, value)?;
            }
            return Ok(Flow::Respond(LocalResponse::Http {
                header: Box::new(header.0),
                body: header.1,
            }));
        }
        let answer = match self.transcode(cx).await {
            Ok(Answer::Complete { mut header, body }) => {
                for (name, value) in cors_headers {
                    set(&mut header, name, value)?;
                }
                LocalResponse::Http {
                    header: Box::new(header),
                    body,
                }
            }
            Ok(Answer::Stream { mut header, body }) => {
                for (name, value) in cors_headers {
                    set(&mut header, name, value)?;
                }
                LocalResponse::Stream {
                    header: Box::new(header),
                    body,
                }
            }
            Err(mut error) => {
                error.headers.extend(cors_headers);
                LocalResponse::Error(error)
            }
        };
        Ok(Flow::Respond(answer))
    }

    fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.table.iter().map(Binding::describe).collect();
        if let Some((path, _)) = &self.openapi {
            lines.push(format!("GET {path} -> the generated OpenAPI 3.1 document"));
        }
        lines
    }
}

/// The gRPC request header for `binding`, carrying the caller's headers
/// as metadata. It keeps no header-name case: the upstream speaks HTTP/2.
pub(crate) fn upstream_request(
    binding: &Binding,
    caller: &RequestHeader,
) -> Result<RequestHeader, GatewayError> {
    let mut request = RequestHeader::build_no_case("POST", binding.grpc_path.as_bytes(), Some(8))
        .map_err(|e| GatewayError::internal(e.to_string()))?;
    forward_request_headers(&caller.headers, &mut request)?;
    request
        .insert_header(CONTENT_TYPE, HeaderValue::from_static("application/grpc"))
        .map_err(|e| GatewayError::internal(e.to_string()))?;
    request
        .insert_header(http::header::TE, HeaderValue::from_static("trailers"))
        .map_err(|e| GatewayError::internal(e.to_string()))?;
    Ok(request)
}

/// The header of an answer to the REST caller, room made for `headers`.
/// It keeps no header-name case: Pingora writes the names it knows in
/// title case on HTTP/1.1 and the rest as given (lower case), and the
/// route's header rules edit a header without a case map more cheaply.
pub(crate) fn answer_header(status: u16, headers: usize) -> Result<ResponseHeader, GatewayError> {
    ResponseHeader::build_no_case(status, Some(headers))
        .map_err(|e| GatewayError::internal(e.to_string()))
}

/// The message in gRPC's 5-byte framing, uncompressed.
pub(crate) fn frame(message: &prost_reflect::DynamicMessage) -> Bytes {
    let length = message.encoded_len();
    let mut out = BytesMut::with_capacity(5 + length);
    out.put_u8(0);
    out.put_u32(u32::try_from(length).unwrap_or(u32::MAX));
    message.encode_raw(&mut out);
    out.freeze()
}

pub(crate) fn set(
    header: &mut ResponseHeader,
    name: HeaderName,
    value: HeaderValue,
) -> Result<(), GatewayError> {
    header
        .insert_header(name, value)
        .map_err(|e| GatewayError::internal(e.to_string()))
}
