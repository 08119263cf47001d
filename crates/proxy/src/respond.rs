//! Writing the gateway's own answers: local responses, and errors before or
//! after the upstream's response headers went out.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderValue, Version};
use pingora_core::protocols::http::HttpTask;
use pingora_http::ResponseHeader;
use pingora_proxy::Session;
use protogate_core::{
    rescue, trailers_for, CallerProtocol, Code, GatewayError, LocalResponse, ResponseStream,
};
use protogate_grpc::status::parse_grpc_status;
use protogate_grpc::web::{encode_text, trailer_frame};

use crate::ctx::RequestCtx;

/// Answers the call with a plugin's or the gateway's own response, after
/// running the response hooks of the plugins whose request hooks ran.
pub async fn write_local(session: &mut Session, ctx: &mut RequestCtx, answer: LocalResponse) {
    let (mut header, body) = match answer {
        LocalResponse::Error(error) => {
            let rendered = rescue(&error, ctx.call.protocol);
            note_error(ctx, &error);
            (Box::new(rendered.header), rendered.body)
        }
        LocalResponse::Http { header, body } => (header, Some(body)),
        LocalResponse::Stream { header, body } => {
            write_stream(session, ctx, header, body).await;
            return;
        }
    };
    if let Some(route) = ctx.route.clone() {
        if let Err(e) = route
            .chain
            .response(&mut ctx.slots, &mut ctx.call, &mut header)
        {
            log::warn!("a response hook failed on a local answer: {e}");
        }
    }
    ctx.call.http_status = Some(header.status.as_u16());
    write_header_and_body(session, header, body).await;
}

/// Writes a streamed local answer: the header, then each chunk as the
/// plugin's stream yields it. Every write waits for the caller, so a slow
/// caller slows the upstream (HTTP/2 flow control does the rest); a caller
/// that goes away ends the loop, and dropping the stream cancels the
/// upstream call. At the end the other plugins see the upstream's trailers.
async fn write_stream(
    session: &mut Session,
    ctx: &mut RequestCtx,
    mut header: Box<ResponseHeader>,
    mut body: Box<dyn ResponseStream>,
) {
    if let Some(route) = ctx.route.clone() {
        if let Err(e) = route
            .chain
            .response(&mut ctx.slots, &mut ctx.call, &mut header)
        {
            log::warn!("a response hook failed on a streamed answer: {e}");
        }
    }
    if session.req_header().version != Version::HTTP_2
        && header.headers.get(CONTENT_LENGTH).is_none()
    {
        let _ = header.insert_header(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
    }
    ctx.call.http_status = Some(header.status.as_u16());
    if let Err(e) = session.write_response_header(header, false).await {
        log::debug!("could not write a streamed answer's header: {e}");
        ctx.call.grpc_status = Some(Code::Canceled);
        return;
    }
    while let Some(chunk) = body.next_chunk().await {
        if let Err(e) = session.write_response_body(Some(chunk), false).await {
            log::debug!("the caller went away during a streamed answer: {e}");
            ctx.call.grpc_status = Some(Code::Canceled);
            return; // `body` is dropped: the upstream call is cancelled
        }
    }
    if let Err(e) = session.write_response_body(None, true).await {
        log::debug!("could not end a streamed answer: {e}");
    }
    if let Some(mut trailers) = body.take_trailers() {
        if let Some(status) = trailers.get("grpc-status") {
            ctx.call.grpc_status = parse_grpc_status(status.as_bytes());
        }
        if let Some(route) = ctx.route.clone() {
            if let Err(e) =
                route
                    .chain
                    .streamed_trailers(&mut ctx.slots, &mut ctx.call, &mut trailers)
            {
                log::warn!("a trailer hook failed on a streamed answer: {e}");
            }
        }
    }
}

/// Answers with `error` when the upstream path failed. Before any response
/// header went out, this is a complete answer (trailers-only for gRPC
/// callers); after, gRPC callers get trailers carrying the status and REST
/// callers get nothing more (the connection closes).
pub async fn write_failure(
    session: &mut Session,
    ctx: &mut RequestCtx,
    error: &GatewayError,
) -> u16 {
    note_error(ctx, error);
    if session.response_written().is_none() {
        let rendered = rescue(error, ctx.call.protocol);
        let mut header = Box::new(rendered.header);
        // The response hooks see the error as any answer (CORS headers for
        // a browser, header rules).
        if let Some(route) = ctx.route.clone() {
            if let Err(e) = route
                .chain
                .response(&mut ctx.slots, &mut ctx.call, &mut header)
            {
                log::warn!("a response hook failed on an error answer: {e}");
            }
        }
        let status = header.status.as_u16();
        ctx.call.http_status = Some(status);
        write_header_and_body(session, header, rendered.body).await;
        return status;
    }
    let task = match ctx.call.protocol {
        CallerProtocol::Grpc => HttpTask::Trailer(Some(Box::new(trailers_for(error)))),
        // gRPC-Web carries its trailers as the body's last frame.
        CallerProtocol::GrpcWeb => HttpTask::Body(Some(trailer_frame(&trailers_for(error))), true),
        CallerProtocol::GrpcWebText => HttpTask::Body(
            Some(encode_text(&trailer_frame(&trailers_for(error)))),
            true,
        ),
        _ => return ctx.call.http_status.unwrap_or(200),
    };
    if let Err(e) = session.write_response_tasks(vec![task]).await {
        log::debug!("could not send the error's status downstream: {e}");
    }
    ctx.call.http_status.unwrap_or(200)
}

fn note_error(ctx: &mut RequestCtx, error: &GatewayError) {
    ctx.call.grpc_status = Some(error.code);
    ctx.call.error = Some(error.clone());
}

async fn write_header_and_body(
    session: &mut Session,
    mut header: Box<ResponseHeader>,
    body: Option<Bytes>,
) {
    let tasks = match body {
        // HTTP/1.x needs a length to end a body-less answer cleanly.
        None => {
            if session.req_header().version != Version::HTTP_2
                && header.headers.get(CONTENT_LENGTH).is_none()
            {
                let _ = header.insert_header(CONTENT_LENGTH, HeaderValue::from_static("0"));
            }
            vec![HttpTask::Header(header, true)]
        }
        Some(body) => vec![
            HttpTask::Header(header, false),
            HttpTask::Body(Some(body), true),
        ],
    };
    if let Err(e) = session.write_response_tasks(tasks).await {
        log::debug!("could not write the gateway's answer downstream: {e}");
    }
}
