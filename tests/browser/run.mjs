// Loads page/ in headless Chromium against a running gateway and prints
// what the page's gRPC-Web calls returned, as one JSON line.
//
//   node tests/browser/run.mjs http://127.0.0.1:PORT
//
// The page is served from http://localhost:<another port>, so every call is
// cross-origin (a real CORS preflight). The gRPC-Web stubs are generated
// from protos/ first, with protoc and @bufbuild/protoc-gen-es.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = fileURLToPath(new URL(".", import.meta.url));
const protos = join(here, "..", "..", "protos");
const gateway = process.argv[2];
if (!gateway) {
  console.error("usage: node run.mjs GATEWAY_URL");
  process.exit(2);
}

const gen = mkdtempSync(join(tmpdir(), "protogate-es-"));
execFileSync("protoc", [
  `-I${protos}`,
  "-I/usr/include",
  `--plugin=protoc-gen-es=${join(here, "node_modules", ".bin", "protoc-gen-es")}`,
  `--es_out=${gen}`,
  "--es_opt=target=js,import_extension=js",
  "ecommerce/v1/product.proto",
  "protogate/testing/v1/transcoding.proto",
  "google/api/annotations.proto",
  "google/api/http.proto",
  "google/api/httpbody.proto",
]);

const roots = [
  ["/node_modules/", join(here, "node_modules")],
  ["/gen/", gen],
  ["/", join(here, "page")],
];
const types = { ".html": "text/html", ".js": "text/javascript", ".json": "application/json" };

const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
  const file = path === "/" ? "/index.html" : path;
  for (const [prefix, dir] of roots) {
    if (!file.startsWith(prefix)) continue;
    const full = normalize(join(dir, file.slice(prefix.length)));
    if (!full.startsWith(dir)) break;
    try {
      if (!statSync(full).isFile()) break;
      res.writeHead(200, { "content-type": types[extname(full)] ?? "application/octet-stream" });
      res.end(readFileSync(full));
      return;
    } catch {
      break;
    }
  }
  res.writeHead(404).end();
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const pageUrl = `http://localhost:${server.address().port}/?gateway=${encodeURIComponent(gateway)}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
let exitCode = 0;
try {
  const page = await browser.newPage();
  const console_lines = [];
  page.on("console", (m) => console_lines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => console_lines.push(`pageerror: ${e.message}`));
  await page.goto(pageUrl);
  try {
    await page.waitForFunction(() => window.protogateResults !== undefined, null, { timeout: 30_000 });
  } catch (e) {
    console.error(`the page did not finish: ${e.message}\n${console_lines.join("\n")}`);
    exitCode = 1;
  }
  if (exitCode === 0) {
    const results = await page.evaluate(() => window.protogateResults);
    console.log(JSON.stringify(results));
  }
} finally {
  await browser.close();
  server.close();
  rmSync(gen, { recursive: true, force: true });
}
process.exit(exitCode);
