// What the CLI receives from its host process: the worker runtime lives in workers/, which depends
// on src/ (never the other way round), so the entry point passes it in.
import type { PipelineDeps } from '../pipeline/deps.ts';

export interface WorkerHandle {
  close(): Promise<void>;
}

export interface CliHost {
  startWorkers(deps: PipelineDeps, opts?: { name?: string }): Promise<WorkerHandle>;
}
