"""Gateway edge semantics seen by Python grpcio (gRPC C-core).

Usage: edge_client.py --target HOST:PORT

Expects a gateway whose routes send `test.Raw` to a raw upstream with a
1 KiB message limit and a 300 ms route timeout, and `test.Dead` to an
upstream nobody listens on (see tests/e2e/grpc_edges.rs). Calls use raw
bytes, so no stubs are needed. Prints PASS/FAIL per case and a final
"N passed, M failed" line; exits non-zero on any failure.
"""

import argparse
import sys

import grpc


def identity(data):
    return data


def frame_free_call(channel, path, payload, timeout=None):
    """One unary call with `payload` as the message bytes."""
    call = channel.unary_unary(path, request_serializer=identity, response_deserializer=identity)
    return call(payload, timeout=timeout)


def expect_code(channel, path, payload, code, fragment):
    try:
        frame_free_call(channel, path, payload)
    except grpc.RpcError as error:
        if error.code() != code:
            return f"got {error.code()} ({error.details()!r}), want {code}"
        if fragment not in (error.details() or ""):
            return f"details {error.details()!r} lack {fragment!r}"
        return None
    return f"the call succeeded, want {code}"


CASES = {
    "deadline_from_route_timeout": lambda ch: expect_code(
        ch, "/test.Raw/Hang", b"", grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"
    ),
    "message_over_limit": lambda ch: expect_code(
        ch, "/test.Raw/Echo", b"x" * 1025, grpc.StatusCode.RESOURCE_EXHAUSTED, "over the limit"
    ),
    "unreachable_upstream": lambda ch: expect_code(
        ch, "/test.Dead/Call", b"", grpc.StatusCode.UNAVAILABLE, "unreachable"
    ),
    "echo_still_served": lambda ch: (
        None if frame_free_call(ch, "/test.Raw/Echo", b"hello", timeout=10) == b"hello" else "echo mismatch"
    ),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    args = parser.parse_args()
    passed = failed = 0
    with grpc.insecure_channel(args.target) as channel:
        for name, case in CASES.items():
            try:
                problem = case(channel)
            except Exception as error:  # a case must report, never crash the run
                problem = f"raised {error!r}"
            if problem is None:
                passed += 1
                print(f"PASS {name}")
            else:
                failed += 1
                print(f"FAIL {name}: {problem}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
