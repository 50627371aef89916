/**
 * One attachment of a program of a BPF object: closing it detaches it, and
 * so does closing its object (or the process ending).
 */
import { dispose } from '../core/iterate';

/** What a link needs of its object. */
export interface LinkOwner {
  info(): { links: Array<{ link: number; id: number }> };
  detach(native: number, link: Link): void;
}

/** One attachment of a program; closing it detaches it (and so does closing its object). */
export class Link {
  #closed = false;

  /** @internal */
  constructor(
    private readonly owner: LinkOwner,
    private readonly native: number,
    /** The program attached. */
    readonly program: string,
    /** Where: `tracepoint sched:sched_switch`, `kprobe vfs_read`. */
    readonly target: string,
  ) {}

  /** The kernel's id of the link (bpftool link show), 0 once closed. */
  get id(): number {
    if (this.#closed) return 0;
    return this.owner.info().links.find((l) => l.link === this.native)?.id ?? 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Detaches it. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.owner.detach(this.native, this);
  }

  [dispose](): void {
    this.close();
  }
}
