/**
 * The drift engine: reference profiles, the test chosen per feature, the dataset-level rule, data-quality
 * checks that run first, the performance path, and the drifted region handed to collection.
 *
 * A profile is computed once per model version from its training data and stored; a check then scans
 * only the current window. Everything here is pure and deterministic: the CLI, the activities and the
 * benchmark share it, and workflow code may import its types.
 */
export * from './drift/columns.js';
export * from './drift/estimate.js';
export * from './drift/features.js';
export * from './drift/performance.js';
export * from './drift/profile.js';
export * from './drift/quality.js';
export * from './drift/regression.js';
export * from './drift/report.js';
