/** Worker thread of the parallel drift report: takes features from the shared counter, posts the outcomes. */
import { parentPort, workerData } from 'node:worker_threads';
import { drainNumeric, type WorkerTask } from './parallel.js';

parentPort!.postMessage(drainNumeric(workerData as WorkerTask));
