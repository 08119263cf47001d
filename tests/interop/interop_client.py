#!/usr/bin/env python3
"""gRPC interop cases run with grpcio (the C-core client) against a target.

Use it to check that a server, or the protogate gateway in front of one,
behaves like a well-formed gRPC peer for a client that is not tonic:

    interop_client.py --target 127.0.0.1:50051 --protos protos [--case NAME ...]

Stubs are generated at run time from DIR/grpc/testing/interop.proto with
grpc_tools.protoc into a temporary directory, so no generated code is kept in
the repository. The target must serve grpc.testing.TestService with the
semantics of protogate-demo (see crates/demo/README.md).

Prints `PASS name` or `FAIL name: reason` per case, then `N passed, M failed`;
exits 1 if any case failed, 2 on bad usage or stub generation failure.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.resources
import os
import queue
import shutil
import sys
import tempfile
from typing import Callable, Iterator

import grpc
from grpc_tools import protoc

MIB = 1024 * 1024
CALL_TIMEOUT_S = 30.0
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", 8 * MIB),
    ("grpc.max_receive_message_length", 8 * MIB),
]

CLIENT_STREAM_SIZES = [27182, 8, 1828, 45904]
SERVER_STREAM_SIZES = [31415, 9, 2653, 58979]

STATUS_MESSAGE = "test status message"
SPECIAL_STATUS_MESSAGE = (
    "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
)
ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_INITIAL_VALUE = "test_initial_metadata_value"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
ECHO_TRAILING_VALUE = b"\xab\xab\xab"
DETAILS_KEY = "grpc-status-details-bin"
ECHO_STATUS_TYPE_URL = "type.googleapis.com/grpc.testing.EchoStatus"


class CaseFailure(Exception):
    """A case saw something other than what it expected."""


def check(condition: bool, reason: str) -> None:
    """Fails the running case with `reason` unless `condition` holds."""
    if not condition:
        raise CaseFailure(reason)


# --- stub generation -------------------------------------------------------


def generate_stubs(protos_dir: str, out_dir: str):
    """Compiles interop.proto into out_dir and imports the two modules.

    The proto is copied to the root of a scratch include directory first:
    generated under its real path, the modules would be named
    `grpc.testing.*` and clash with the installed `grpc` package. The package
    (`grpc.testing`) and so the wire names stay the same.
    """
    source = os.path.join(protos_dir, "grpc", "testing", "interop.proto")
    if not os.path.isfile(source):
        raise FileNotFoundError(f"{source} does not exist")
    include_dir = os.path.join(out_dir, "include")
    os.makedirs(include_dir)
    shutil.copy(source, os.path.join(include_dir, "interop.proto"))
    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{include_dir}",
            f"-I{well_known}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            "interop.proto",
        ]
    )
    if status != 0:
        raise RuntimeError(f"grpc_tools.protoc exited with {status}")
    sys.path.insert(0, out_dir)
    return importlib.import_module("interop_pb2"), importlib.import_module(
        "interop_pb2_grpc"
    )


# --- expectations ----------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def expected_status_details(code: int, message: str) -> bytes:
    """The google.rpc.Status protogate-demo attaches to requested errors.

    Encoded here by hand, independently of the server: code, message, and one
    Any wrapping grpc.testing.EchoStatus{code, message}.
    """
    text = message.encode("utf-8")
    echo = _varint(1 << 3) + _varint(code) + _field(2, text)
    any_msg = _field(1, ECHO_STATUS_TYPE_URL.encode()) + _field(2, echo)
    return _varint(1 << 3) + _varint(code) + _field(2, text) + _field(3, any_msg)


def metadata_value(metadata, key: str):
    """The first value of `key` in a grpcio metadata sequence, or None."""
    for item in metadata or ():
        if item[0] == key:
            return item[1]
    return None


def check_echoed_metadata(call) -> None:
    """Checks the initial and trailing echo on a finished call."""
    initial = metadata_value(call.initial_metadata(), ECHO_INITIAL_KEY)
    check(
        initial == ECHO_INITIAL_VALUE,
        f"initial metadata {ECHO_INITIAL_KEY}={initial!r}",
    )
    trailing = metadata_value(call.trailing_metadata(), ECHO_TRAILING_KEY)
    check(
        trailing == ECHO_TRAILING_VALUE,
        f"trailing metadata {ECHO_TRAILING_KEY}={trailing!r}",
    )


def check_rpc_error(err: grpc.RpcError, code: grpc.StatusCode, message=None) -> None:
    """Checks the status of a failed call."""
    check(err.code() == code, f"status {err.code()} ({err.details()!r}), want {code}")
    if message is not None:
        check(err.details() == message, f"message {err.details()!r}, want {message!r}")


def check_details(err: grpc.RpcError, code: int, message: str) -> None:
    """Checks the grpc-status-details-bin trailer byte for byte."""
    details = metadata_value(err.trailing_metadata(), DETAILS_KEY)
    check(details is not None, f"no {DETAILS_KEY} trailer")
    want = expected_status_details(code, message)
    check(details == want, f"{DETAILS_KEY} {bytes(details).hex()}, want {want.hex()}")


# --- cases -----------------------------------------------------------------


class Context:
    """What every case needs: the generated modules and the stubs."""

    def __init__(self, pb2, pb2_grpc, channel: grpc.Channel):
        self.pb = pb2
        self.stub = pb2_grpc.TestServiceStub(channel)
        self.unimplemented = pb2_grpc.UnimplementedServiceStub(channel)

    def payload(self, size: int):
        return self.pb.Payload(body=bytes(size))

    def stream_request(self, size: int, status=None):
        return self.pb.StreamingOutputCallRequest(
            response_parameters=[self.pb.ResponseParameters(size=size)],
            payload=self.payload(size),
            response_status=status,
        )

    def echo_status(self, code: int, message: str):
        return self.pb.EchoStatus(code=code, message=message)


def expect_error(call: Callable[[], object]) -> grpc.RpcError:
    """Runs `call`, which must fail with an RpcError, and returns it."""
    try:
        call()
    except grpc.RpcError as err:
        return err
    raise CaseFailure("call succeeded, expected an error")


def empty_unary(ctx: Context) -> None:
    response = ctx.stub.EmptyCall(ctx.pb.Empty(), timeout=CALL_TIMEOUT_S)
    check(response == ctx.pb.Empty(), f"unexpected response {response!r}")


def large_unary(ctx: Context) -> None:
    size = 4 * MIB
    request = ctx.pb.SimpleRequest(response_size=size, payload=ctx.payload(size))
    response = ctx.stub.UnaryCall(request, timeout=CALL_TIMEOUT_S)
    body = response.payload.body
    check(len(body) == size, f"payload of {len(body)} bytes, want {size}")
    check(body == bytes(size), "payload is not all zero bytes")


def client_streaming(ctx: Context) -> None:
    requests = (
        ctx.pb.StreamingInputCallRequest(payload=ctx.payload(size))
        for size in CLIENT_STREAM_SIZES
    )
    response = ctx.stub.StreamingInputCall(requests, timeout=CALL_TIMEOUT_S)
    total = response.aggregated_payload_size
    check(total == 74922, f"aggregated size {total}, want 74922")


def server_streaming(ctx: Context) -> None:
    request = ctx.pb.StreamingOutputCallRequest(
        response_parameters=[
            ctx.pb.ResponseParameters(size=size) for size in SERVER_STREAM_SIZES
        ]
    )
    responses = ctx.stub.StreamingOutputCall(request, timeout=CALL_TIMEOUT_S)
    sizes = [len(r.payload.body) for r in responses]
    check(sizes == SERVER_STREAM_SIZES, f"sizes {sizes}, want {SERVER_STREAM_SIZES}")


def _queued(requests: "queue.Queue") -> Iterator:
    """Yields what is put on `requests` until a None arrives."""
    while True:
        item = requests.get()
        if item is None:
            return
        yield item


def ping_pong(ctx: Context) -> None:
    requests: "queue.Queue" = queue.Queue()
    call = ctx.stub.FullDuplexCall(_queued(requests), timeout=CALL_TIMEOUT_S)
    try:
        for size in SERVER_STREAM_SIZES:
            requests.put(ctx.stream_request(size))
            response = next(call)
            got = len(response.payload.body)
            check(got == size, f"response of {got} bytes, want {size}")
    finally:
        requests.put(None)
    leftover = list(call)
    check(not leftover, f"{len(leftover)} unexpected extra responses")


def empty_stream(ctx: Context) -> None:
    responses = list(ctx.stub.FullDuplexCall(iter([]), timeout=CALL_TIMEOUT_S))
    check(not responses, f"{len(responses)} responses, want none")


def _status_case(ctx: Context, message: str, want_details: bool) -> None:
    """The unary and full-duplex halves of the status cases."""
    status = ctx.echo_status(2, message)
    err = expect_error(
        lambda: ctx.stub.UnaryCall(
            ctx.pb.SimpleRequest(response_status=status), timeout=CALL_TIMEOUT_S
        )
    )
    check_rpc_error(err, grpc.StatusCode.UNKNOWN, message)
    if want_details:
        check_details(err, 2, message)

    request = ctx.pb.StreamingOutputCallRequest(response_status=status)
    err = expect_error(
        lambda: list(ctx.stub.FullDuplexCall(iter([request]), timeout=CALL_TIMEOUT_S))
    )
    check_rpc_error(err, grpc.StatusCode.UNKNOWN, message)
    if want_details:
        check_details(err, 2, message)


def status_code_and_message(ctx: Context) -> None:
    _status_case(ctx, STATUS_MESSAGE, want_details=True)


def special_status_message(ctx: Context) -> None:
    _status_case(ctx, SPECIAL_STATUS_MESSAGE, want_details=False)


def custom_metadata(ctx: Context) -> None:
    metadata = (
        (ECHO_INITIAL_KEY, ECHO_INITIAL_VALUE),
        (ECHO_TRAILING_KEY, ECHO_TRAILING_VALUE),
    )
    request = ctx.pb.SimpleRequest(response_size=314159, payload=ctx.payload(271828))
    response, call = ctx.stub.UnaryCall.with_call(
        request, metadata=metadata, timeout=CALL_TIMEOUT_S
    )
    check(len(response.payload.body) == 314159, "unary payload size")
    check_echoed_metadata(call)

    call = ctx.stub.FullDuplexCall(
        iter([ctx.stream_request(314159)]), metadata=metadata, timeout=CALL_TIMEOUT_S
    )
    sizes = [len(r.payload.body) for r in call]
    check(sizes == [314159], f"full-duplex sizes {sizes}")
    check_echoed_metadata(call)


def unimplemented_method(ctx: Context) -> None:
    err = expect_error(
        lambda: ctx.stub.UnimplementedCall(ctx.pb.Empty(), timeout=CALL_TIMEOUT_S)
    )
    check_rpc_error(err, grpc.StatusCode.UNIMPLEMENTED)


def unimplemented_service(ctx: Context) -> None:
    err = expect_error(
        lambda: ctx.unimplemented.UnimplementedCall(
            ctx.pb.Empty(), timeout=CALL_TIMEOUT_S
        )
    )
    check_rpc_error(err, grpc.StatusCode.UNIMPLEMENTED)


CASES: dict[str, Callable[[Context], None]] = {
    case.__name__: case
    for case in (
        empty_unary,
        large_unary,
        client_streaming,
        server_streaming,
        ping_pong,
        empty_stream,
        status_code_and_message,
        special_status_message,
        custom_metadata,
        unimplemented_method,
        unimplemented_service,
    )
}


# --- driver ----------------------------------------------------------------


def run_case(name: str, ctx: Context) -> bool:
    """Runs one case and prints its PASS/FAIL line."""
    try:
        CASES[name](ctx)
    except CaseFailure as failure:
        print(f"FAIL {name}: {failure}", flush=True)
        return False
    except grpc.RpcError as err:
        print(f"FAIL {name}: unexpected {err.code()}: {err.details()!r}", flush=True)
        return False
    except Exception as err:  # A broken case must not hide the others.
        print(f"FAIL {name}: {type(err).__name__}: {err}", flush=True)
        return False
    print(f"PASS {name}", flush=True)
    return True


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, help="HOST:PORT to call")
    parser.add_argument(
        "--protos", required=True, help="directory holding grpc/testing/interop.proto"
    )
    parser.add_argument(
        "--case",
        action="append",
        choices=sorted(CASES),
        help="case to run (repeatable); all cases when omitted",
    )
    parser.add_argument(
        "--ca", help="PEM CA to verify the server with: TLS instead of cleartext h2c"
    )
    parser.add_argument("--cert", help="PEM client certificate (mTLS), with --key")
    parser.add_argument("--key", help="PEM client key (mTLS), with --cert")
    parser.add_argument(
        "--server-name", help="name the server certificate is checked against"
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the channel to connect",
    )
    return parser.parse_args(argv)


def read(path: str | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as file:
        return file.read()


def open_channel(args: argparse.Namespace) -> grpc.Channel:
    """A cleartext h2c channel, or TLS (h2 by ALPN) when --ca is given."""
    if args.ca is None:
        return grpc.insecure_channel(args.target, options=CHANNEL_OPTIONS)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca),
        private_key=read(args.key),
        certificate_chain=read(args.cert),
    )
    options = list(CHANNEL_OPTIONS)
    if args.server_name:
        options.append(("grpc.ssl_target_name_override", args.server_name))
    return grpc.secure_channel(args.target, credentials, options=options)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    names = args.case or list(CASES)
    with tempfile.TemporaryDirectory(prefix="interop-stubs-") as stubs_dir:
        try:
            pb2, pb2_grpc = generate_stubs(args.protos, stubs_dir)
        except (OSError, RuntimeError) as err:
            print(f"cannot generate stubs: {err}", file=sys.stderr)
            return 2
        with open_channel(args) as channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=args.connect_timeout)
            except grpc.FutureTimeoutError:
                for name in names:
                    print(f"FAIL {name}: cannot connect to {args.target}", flush=True)
                print(f"0 passed, {len(names)} failed")
                return 1
            ctx = Context(pb2, pb2_grpc, channel)
            results = [run_case(name, ctx) for name in names]
    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
