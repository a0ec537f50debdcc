import type { FloorName } from './floors.js';
import type { PeerResult } from './peer.js';
import type { Scenarios } from './scenarios.js';
import type { Burst } from './burst.js';
import type { Summary } from './stats.js';

/** Everything one run measured; written as results/<name>.json, rendered by report.ts. */

export interface Latency {
  /** Appliance: request → last PDF byte, from the load generator. */
  appliance: Summary;
  /** Baseline, in-process: new page → page closed (the baseline). */
  baseline: Summary;
  /** Baseline, in-process: new page → PDF bytes in hand (before close). */
  baselineToPdf: Summary;
  /** Baseline behind its tiny HTTP server, from the same load generator (invoice only). */
  baselineHttp?: Summary;
  failures: Record<string, Record<string, number>>;
}

export interface Throughput {
  concurrency: number;
  page: string;
  /** Signed-in users the requests came from (0: anonymous). */
  identities: number;
  /** PDFs per second over the window, and how many. */
  appliance: { perSecond: number; ok: number; windowMs: number };
  baseline: { perSecond: number; ok: number; windowMs: number };
  baselineHttp?: { perSecond: number; ok: number; windowMs: number };
  failures: Record<string, Record<string, number>>;
}

export interface Completeness {
  appliance: { pages: number; hasText: boolean };
  baseline: { pages: number; hasText: boolean };
  expectText: string;
  expectPages?: number;
  /** Same text, page for page, in both PDFs (whitespace-normalised). */
  sameText: boolean;
  /** The other floors' PDFs (the kept tab on its second render); sameText is against the baseline's. */
  floors?: Partial<Record<FloorName, { pages: number; hasText: boolean; sameText: boolean }>>;
}

export interface Memory {
  /** Peak PSS of node + every Chromium process during the c=4 report run, MB. */
  applianceMB: number;
  baselineMB: number;
  applianceIdleMB: number;
  baselineIdleMB: number;
  samples: { appliance: number; baseline: number };
}

/** The shipped defaults under `clients` users at once, each with its own identity. */
export interface DefaultsMemory {
  clients: number;
  /** Distinct users the load generator sent (should equal `clients`). */
  users?: number;
  page: string;
  applianceMB: number;
  baselineMB: number;
  appliancePerSecond: number;
  failures: Record<string, Record<string, number>>;
}

/** IDLE_ACTION=suspend: the process tree continued → the waking request's PDF delivered. */
export interface Resume {
  runs: number[];
  medianMs: number;
  suspendCalls: number;
}

export interface Cold {
  npmStart: { runs: Array<{ ms: number; rebuilt?: boolean }>; medianMs: number };
  bare: { runs: Array<{ ms: number }>; medianMs: number };
  nodeDirect: { runs: Array<{ ms: number; rebuilt?: boolean }>; medianMs: number };
}

export interface Target {
  name: string;
  goal: string;
  value: string;
  pass: boolean;
}

export interface Results {
  meta: {
    date: string;
    quick: boolean;
    node: string;
    chromium: string;
    cpus: number;
    loadavgStart: string;
    loadavgEnd: string;
    seconds: number;
    applianceEnv: Record<string, string>;
    settings: {
      samples: number;
      warmup: number;
      throughputSeconds: number;
      coldReps: number;
      directReps: number;
      applianceConcurrency: number;
      spacedSamples: number;
    };
  };
  completeness: Record<string, Completeness>;
  latency: Record<string, Latency>;
  throughput: Record<string, Throughput>;
  memory: Memory;
  defaultsMemory: DefaultsMemory;
  cold: Cold;
  resume: Resume;
  /** The clicks (a), (b), (c) against the floors (scenarios.ts). */
  scenarios: Scenarios;
  peer: PeerResult;
  /** Invoice day through the proxy emulator (burst.ts); absent in runs from before it. */
  burst?: Burst;
  ratios: Record<string, number>;
  targets: Target[];
}
