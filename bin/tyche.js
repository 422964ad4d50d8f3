#!/usr/bin/env node
// The `tyche` command. In a checkout (src/ present) it runs the TypeScript
// sources through tsx; in an installed package it runs the built dist/cli.js.
// tsx, when installed, is registered either way so that model files may be
// written in TypeScript.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = `${root}src/cli.ts`;
const built = `${root}dist/cli.js`;

async function registerTsx() {
  try {
    const { register } = await import('tsx/esm/api');
    register();
    return true;
  } catch {
    return false;
  }
}

const haveTsx = await registerTsx();
let entry;
if (existsSync(source) && haveTsx) entry = source;
else if (existsSync(built)) entry = built;
else {
  process.stderr.write('tyche: cannot start: neither dist/cli.js (run `npm run build`) nor tsx with src/cli.ts is available\n');
  process.exit(1);
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
