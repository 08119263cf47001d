// Calls the demo services through protogate with Connect-ES's gRPC-Web
// transport, from another origin than the gateway's, and leaves what
// happened in `window.protogateResults` (and on the page) for run.mjs.

import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { EchoService } from "/gen/protogate/testing/v1/transcoding_pb.js";

const gateway = new URLSearchParams(location.search).get("gateway");
const transport = createGrpcWebTransport({ baseUrl: gateway });
const echo = createClient(EchoService, transport);

/** Runs one check; a thrown error becomes its gRPC code and message. */
async function check(name, body) {
  try {
    return [name, { ok: true, ...(await body()) }];
  } catch (e) {
    const error = ConnectError.from(e);
    return [name, { ok: false, code: error.code, message: error.rawMessage }];
  }
}

const checks = [
  check("unary", async () => {
    let header = null;
    let trailer = null;
    const reply = await echo.echo(
      { id: "k-1", name: "from Chromium", tags: ["a", "b"], i64: 9007199254740993n },
      {
        headers: { "x-grpc-test-echo-initial": "hello from the page" },
        onHeader: (h) => (header = h.get("x-grpc-test-echo-initial")),
        onTrailer: (t) => (trailer = t.get("grpc-status")),
      },
    );
    return {
      id: reply.id,
      name: reply.name,
      tags: reply.tags,
      i64: reply.i64.toString(),
      echoedHeader: header,
      trailerStatus: trailer,
    };
  }),
  check("serverStreaming", async () => {
    const ids = [];
    for await (const product of echo.streamProducts({ count: 5, intervalMs: 20 })) {
      ids.push(product.id);
    }
    return { ids };
  }),
  check("streamFailure", async () => {
    const ids = [];
    for await (const product of echo.streamProducts({ count: 5, failAfter: 2, failCode: 10 })) {
      ids.push(product.id);
    }
    return { ids };
  }),
  check("upstreamError", async () => {
    await echo.fail({ code: 5, message: "no such thing" });
    return {};
  }),
  // The gateway's own errors: its deadline (the route's timeout; the
  // client sets none) and an unreachable upstream.
  check("gatewayDeadline", async () => {
    await echo.hang({ id: "slow" });
    return {};
  }),
  check("deadUpstream", async () => {
    await echo.download({ name: "x" });
    return {};
  }),
];

const results = Object.fromEntries(await Promise.all(checks));
document.getElementById("results").textContent = JSON.stringify(results, null, 2);
window.protogateResults = results;
