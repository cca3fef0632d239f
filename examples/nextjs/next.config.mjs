// Build output outside examples/ so that lint and typecheck never see it.
export default {
  distDir: '../../node_modules/.cache/switchboard-examples/nextjs',
};
