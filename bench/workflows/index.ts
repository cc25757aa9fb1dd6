export { baselineWorkflow } from './baseline.js';
