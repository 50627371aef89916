/**
 * When a session's ring is read, and whether that keeps the process alive.
 * It is read while a probe is open and none is paused (a consumer that
 * cannot keep up: records then wait in the kernel, and what does not fit is
 * counted as lost, instead of piling up in the process); the event loop is
 * held while an open probe is not unref'd.
 */
import type { Probe } from './probe';

/** What the reading drives: the addon's reader of the ring. */
export interface ReaderControl {
  start(): void;
  stop(): void;
  ref(ref: boolean): void;
}

export class Reading {
  private active = false;
  private readonly unrefd = new Set<Probe>();
  private readonly paused = new Set<Probe>();

  constructor(
    private readonly reader: ReaderControl,
    private readonly openProbes: () => Set<Probe>,
  ) {}

  /** Starts or stops reading as probes open, close, pause and resume. */
  update(): void {
    const open = this.openProbes();
    const read = open.size > 0 && this.paused.size === 0;
    if (read !== this.active) {
      this.active = read;
      if (read) this.reader.start();
      else this.reader.stop();
    }
    if (read) this.reader.ref(this.unrefd.size < open.size);
  }

  setPaused(probe: Probe, paused: boolean): void {
    if (paused) this.paused.add(probe);
    else this.paused.delete(probe);
    this.update();
  }

  setRef(probe: Probe, ref: boolean): void {
    if (ref) this.unrefd.delete(probe);
    else this.unrefd.add(probe);
    this.update();
  }

  /** A closed probe holds nothing. */
  forget(probe: Probe): void {
    this.unrefd.delete(probe);
    this.paused.delete(probe);
    this.update();
  }
}
