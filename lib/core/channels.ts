/**
 * What the library does, published on diagnostics_channel for APM and
 * logging tools, which subscribe without touching the code that attaches:
 *
 *   kprobe-node:attach   { probe }          a probe was attached
 *   kprobe-node:detach   { probe }          it was closed (probe.seen, probe.lost are final)
 *   kprobe-node:lost     { probe, count }   the kernel dropped `count` more of its events
 *   kprobe-node:error    { probe, error }   reading its events failed
 *
 * A message is built only when the channel has subscribers.
 */
import * as dc from 'diagnostics_channel';
import type { Probe } from './probe';

/** What each channel carries, for subscribers written in TypeScript: `message as ProbeChannels['kprobe-node:lost']`. */
export interface ProbeChannels {
  'kprobe-node:attach': { probe: Probe };
  'kprobe-node:detach': { probe: Probe };
  'kprobe-node:lost': { probe: Probe; count: number };
  'kprobe-node:error': { probe: Probe; error: Error };
}

const channels = {
  attach: dc.channel('kprobe-node:attach'),
  detach: dc.channel('kprobe-node:detach'),
  lost: dc.channel('kprobe-node:lost'),
  error: dc.channel('kprobe-node:error'),
};

export function publishAttach(probe: Probe): void {
  if (channels.attach.hasSubscribers) channels.attach.publish({ probe });
}

export function publishDetach(probe: Probe): void {
  if (channels.detach.hasSubscribers) channels.detach.publish({ probe });
}

export function publishLost(probe: Probe, count: number): void {
  if (channels.lost.hasSubscribers) channels.lost.publish({ probe, count });
}

export function publishError(probe: Probe, error: Error): void {
  if (channels.error.hasSubscribers) channels.error.publish({ probe, error });
}
