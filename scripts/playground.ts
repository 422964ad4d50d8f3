/**
 * `npm run playground`: build the browser bundle and the playground
 * (scripts/build-browser.ts) and serve them on http://127.0.0.1:8080/
 * (`--port N` for another port). Everything the page needs comes from this
 * server: the bundles, the tfjs wasm files and the shipped models.
 */
import { buildBrowser, formatSizes } from './build-browser.js';
import { serveStatic } from './browser/static-server.js';

const at = process.argv.indexOf('--port');
const port = at >= 0 ? Number(process.argv[at + 1]) : 8080;
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: expected a port number, got ${process.argv[at + 1]}`);
const build = await buildBrowser();
console.log(formatSizes(build));
const server = await serveStatic(build.outdir, port);
console.log(`playground: ${server.url} (Ctrl-C to stop; ?backend=wasm|cpu|webgpu forces a backend)`);
