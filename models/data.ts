/**
 * Data sets shipped with the example models (see `models/data/README.md` for
 * their source and licence).
 *
 * @module
 */
import { readFileSync } from 'node:fs';

/** The parsed JSON data file `models/data/<name>.json`. */
export function loadData<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./data/${name}.json`, import.meta.url), 'utf8')) as T;
}
