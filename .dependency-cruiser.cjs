// The layers of ../shared/DESIGN.md ("Layers"), checked by `npm run lint` (`npm run deps`).
// Each layer lists the layers it may import; anything else under src/ is an error, and so is any
// import cycle. Violations that were there when the check came in are listed in
// .dependency-cruiser-known-violations.json and reported as warnings until they are gone; a new one
// fails CI. Regenerate that list (`npm run deps:baseline`) only when its count goes down: a fix can
// change which path of a known cycle is listed, never add a violation.

/** Files every layer may import: errors, the package root, small helpers with no layer of their own. */
const SHARED = ['src/errors\\.ts$', 'src/optional-require\\.ts$', 'src/within\\.ts$', 'src/package-root\\.ts$'];

const folder = (name) => `^src/${name}/`;

/** Layer → [its files, the layers it may import]. */
const LAYERS = {
  router: [[folder('router')], []],
  hub: [[folder('hub')], ['router']],
  adapters: [[folder('adapters')], ['hub', 'router']],
  cluster: [[folder('cluster')], []],
  realtime: [[folder('realtime')], ['hub', 'router', 'adapters', 'cluster']],
  continuity: [[folder('continuity')], ['realtime', 'cluster', 'hub', 'router', 'adapters']],
  presence: [[folder('presence')], ['realtime', 'cluster', 'hub', 'router', 'adapters']],
  operations: [[folder('operations')], ['realtime', 'cluster', 'hub', 'router', 'adapters']],
  metrics: [[folder('metrics')], ['realtime', 'cluster', 'hub', 'router', 'adapters']],
  guard: [[folder('guard')], ['hub', 'router', 'adapters']],
  client: [[folder('client')], []],
  react: [[folder('react')], ['client']],
};

const rules = [
  {
    name: 'no-circular',
    severity: 'error',
    comment: 'Imports never go in a circle.',
    from: { path: '^src/' },
    to: { circular: true },
  },
  ...Object.entries(LAYERS).map(([name, [paths, allowed]]) => ({
    name: `layer-${name}`,
    severity: 'error',
    comment: `${name} imports only ${allowed.length > 0 ? allowed.join(', ') : 'nothing of src/'} (besides its own folder and the shared files).`,
    from: { path: paths },
    to: {
      path: '^src/',
      pathNot: [...paths, ...SHARED, ...allowed.flatMap((layer) => LAYERS[layer][0])],
    },
  })),
  {
    name: 'client-is-browser-code',
    severity: 'error',
    comment: 'The client and the React hooks run in browsers: no Node built-ins.',
    from: { path: [folder('client'), folder('react')] },
    to: { dependencyTypes: ['core'] },
  },
];

module.exports = {
  forbidden: rules,
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    reporterOptions: {
      dot: {
        collapsePattern: '^src/[^/]+/',
      },
    },
  },
};
