export { type CompiledPattern, type PatternKind, parsePattern } from './pattern.js';
export { type Match, type MatchInput, type RouteKey, RouteTable } from './route-table.js';
