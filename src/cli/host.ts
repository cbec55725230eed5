// What the CLI receives from its host process: the worker runtime lives in workers/ and the connectors
// in connectors/, which depend on src/ (never the other way round), so the entry point passes them in.
import type { PipelineDeps } from '../pipeline/deps.ts';
import type { Registry } from '../pipeline/registry.ts';

export interface WorkerHandle {
  close(): Promise<void>;
}

export interface CliHost {
  /** The connectors of this process, built by the composition root. */
  registry: Registry;
  startWorkers(deps: PipelineDeps, opts?: { name?: string }): Promise<WorkerHandle>;
}
