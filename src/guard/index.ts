export { type Finding, findings, isStrict } from './findings.js';
export { installGuard } from './install.js';
export { type GuardReport, guardReport, type ServerReport } from './report.js';
