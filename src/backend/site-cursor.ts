/**
 * Where a model run is, for a watcher that notes where things happen in it
 * (`condition-watch.ts`, `infer/vi/user-grad-watch.ts`): the site being run,
 * the last site finished, and the places noted between two sites, which are
 * named after the next site entered (where the run went next).
 *
 * @module
 */

/** Follows a run's sites as the model runner marks them. */
export class SiteCursor<P> {
  private current: string | undefined;
  private last: string | undefined;
  private waiting: P[] = [];

  /** @param name - writes the site entered into a place noted before it */
  constructor(private readonly name: (place: P, site: string) => void) {}

  /** The site being run, or undefined between sites. */
  get site(): string | undefined {
    return this.current;
  }

  /** The last site finished. */
  get lastSite(): string | undefined {
    return this.last;
  }

  /** Keeps `place` to be named by the next site entered when it is noted between sites; returns it. */
  track(place: P): P {
    if (this.current === undefined) this.waiting.push(place);
    return place;
  }

  /** The model runner starts (`'enter'`) or has finished (`'leave'`) the site `address`. */
  mark(address: string, phase: 'enter' | 'leave'): void {
    if (phase === 'leave') {
      this.current = undefined;
      this.last = address;
      return;
    }
    this.current = address;
    for (const w of this.waiting) this.name(w, address);
    this.waiting = [];
  }

  /** Forgets the places waiting for a name. */
  clear(): void {
    this.waiting = [];
  }
}
