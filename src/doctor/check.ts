/** The shape of one check: a stable id, a one-line title, and a pure function of the snapshot and the operator's inputs. */
import type { DoctorInputs, Finding } from './finding.js';
import type { Snapshot } from './snapshot.js';

export interface Check {
  /** Stable id, as `--check` and the metric label name it. */
  readonly id: string;
  /** What the check looks for, one line (for --help and the README). */
  readonly title: string;
  /** Reads only its arguments; returns every finding (empty when healthy). */
  run(snapshot: Snapshot, inputs: DoctorInputs): Finding[];
}
