// Builds the plugin: src/plugin.js against the gateway's contract (wit/)
// into a WebAssembly component, with componentize-js (SpiderMonkey inside).
//
//   node build.mjs [OUT]        # default: dist/openai-js.wasm
//
// The engine's own WASI features are turned off, so the component imports
// only what the `provider` world offers: no stdio, no files, no sockets.
import { componentize } from '@bytecodealliance/componentize-js';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? resolve(here, 'dist/openai-js.wasm'));

const { component } = await componentize({
  sourcePath: resolve(here, 'src/plugin.js'),
  witPath: resolve(here, '../../wit'),
  worldName: 'provider',
  disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
});
await mkdir(dirname(out), { recursive: true });
// Write then rename, so a gateway watching the directory never loads half a file.
const partial = resolve(dirname(out), `.${process.pid}.partial`);
await writeFile(partial, component);
await rename(partial, out);
console.log(`${out} (${(component.length / 1048576).toFixed(1)} MiB)`);
