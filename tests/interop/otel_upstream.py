"""A grpcio upstream instrumented with opentelemetry-instrumentation-grpc.

It serves protogate.testing.v1.EchoService/Echo (the request bytes back,
no generated code needed), continues the W3C trace context the gateway
sends, and exports its SERVER spans over OTLP/HTTP to the endpoint given
as the first argument. It prints its port, then serves until its stdin
closes, and flushes its spans on the way out.

    python otel_upstream.py http://127.0.0.1:4318/v1/traces
"""

import sys
from concurrent import futures

import grpc
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.grpc import server_interceptor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def main() -> None:
    endpoint = sys.argv[1]
    provider = TracerProvider(resource=Resource.create({"service.name": "py-upstream"}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint), schedule_delay_millis=100)
    )
    trace.set_tracer_provider(provider)

    def echo(request: bytes, _context) -> bytes:
        return request

    handler = grpc.method_handlers_generic_handler(
        "protogate.testing.v1.EchoService",
        {"Echo": grpc.unary_unary_rpc_method_handler(echo)},
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=[server_interceptor(tracer_provider=provider)],
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop(grace=1).wait()
        provider.shutdown()


if __name__ == "__main__":
    main()
