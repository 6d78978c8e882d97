/**
 * The import layers of src/ (README "Layers"), checked by dependency-cruiser (test/layers.test.ts runs it
 * through its API; `npx depcruise src` prints the same). TypeScript 7 has no classic compiler API, so the
 * sources are read with the swc parser; `tsPreCompilationDeps` keeps type-only imports in the graph,
 * marked `type-only`, so a step may take an earlier step's result types but none of its values.
 *
 *   lib/       → lib/
 *   config/    → config/, lib/
 *   flavours/  → config/, lib/
 *   spark8t/   → spark8t/, lib/
 *   a step     → config/, lib/, flavours/, its own folder; earlier steps for types only;
 *                spark8t/ from stage only (stage builds the executable). Steps, in order: STEPS below.
 *   src/pipeline.ts, src/cli/ → anything; a step may take only types from src/pipeline.ts (the Road)
 *   and no value-level cycle anywhere.
 */
/** @import { IConfiguration, IForbiddenRuleType } from 'dependency-cruiser' */

const STEPS = ['render', 'stage', 'pack', 'smoke', 'publish'];
const LAYERS = ['lib', 'config', 'flavours', 'spark8t', 'cli', ...STEPS];
const alt = (names) => names.join('|');

/** @type {IForbiddenRuleType[]} */
const stepRules = STEPS.flatMap((step, i) => {
  const earlier = STEPS.slice(0, i);
  const later = STEPS.slice(i + 1);
  const allowed = ['config', 'lib', 'flavours', step, ...earlier, ...(step === 'stage' ? ['spark8t'] : [])];
  return [
    {
      name: `${step}-imports-only-its-layers`,
      comment: `src/${step}/ imports config/, lib/, flavours/, its own folder${step === 'stage' ? ', spark8t/' : ''}${earlier.length ? ` and (types only) ${earlier.join(', ')}` : ''}`,
      severity: 'error',
      from: { path: `^src/${step}/` },
      // later steps are left to the next rule, so each edge is reported once; src/pipeline.ts to its own
      to: { path: '^src/', pathNot: [`^src/(${alt([...allowed, ...later])})/`, '^src/pipeline\\.ts$'] },
    },
    ...(later.length
      ? [
          {
            name: `${step}-no-later-step`,
            comment: `a step never imports a later step (${later.join(', ')}), not even its types`,
            severity: 'error',
            from: { path: `^src/${step}/` },
            to: { path: `^src/(${alt(later)})/` },
          },
        ]
      : []),
    ...(earlier.length
      ? [
          {
            name: `${step}-earlier-step-types-only`,
            comment: `src/${step}/ may take only types from an earlier step (${earlier.join(', ')}); src/pipeline.ts chains the steps`,
            severity: 'error',
            from: { path: `^src/${step}/` },
            to: { path: `^src/(${alt(earlier)})/`, dependencyTypesNot: ['type-only'] },
          },
        ]
      : []),
  ];
});

/** @type {IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'lib-imports-only-lib',
      comment: 'src/lib/ is the bottom layer: it imports only src/lib/',
      severity: 'error',
      from: { path: '^src/lib/' },
      to: { path: '^src/', pathNot: '^src/lib/' },
    },
    {
      name: 'config-imports-only-config-lib',
      comment: 'src/config/ imports only config/ and lib/',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/(config|lib)/' },
    },
    {
      name: 'flavours-imports-only-config-lib',
      comment: 'src/flavours/ (flavour modules) import only config/, lib/ and each other',
      severity: 'error',
      from: { path: '^src/flavours/' },
      to: { path: '^src/', pathNot: '^src/(flavours|config|lib)/' },
    },
    {
      name: 'spark8t-imports-only-spark8t-lib',
      comment: 'src/spark8t/ (the CLI shipped in the rock) imports only spark8t/ and lib/',
      severity: 'error',
      from: { path: '^src/spark8t/' },
      to: { path: '^src/', pathNot: '^src/(spark8t|lib)/' },
    },
    ...stepRules,
    {
      name: 'no-unknown-layer',
      comment: `every file under src/ belongs to a layer (${LAYERS.join(', ')}) or is src/pipeline.ts; name a new one here and in the README`,
      severity: 'error',
      from: { path: '^src/', pathNot: [`^src/(${alt(LAYERS)})/`, '^src/pipeline\\.ts$'] },
      to: {},
    },
    {
      name: 'nothing-imports-pipeline-or-cli',
      comment: 'src/pipeline.ts and src/cli/ sit on top: nothing else imports their values (a step may take the Road type it is handed)',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/pipeline\\.ts$', '^src/cli/'] },
      to: { path: ['^src/pipeline\\.ts$', '^src/cli/'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'pipeline-types-only-to-steps',
      comment: 'only a step folder may take a type from src/pipeline.ts (the Road it is handed); lib/, config/, flavours/, spark8t/ none',
      severity: 'error',
      from: { path: '^src/(lib|config|flavours|spark8t)/' },
      to: { path: ['^src/pipeline\\.ts$', '^src/cli/'] },
    },
    {
      name: 'no-value-cycle',
      comment: 'no cycle of value imports anywhere (type-only edges are left out: they vanish at run time)',
      severity: 'error',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'], viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'no-unresolvable',
      comment: 'an import that resolves to nothing would escape every rule above',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    parser: 'swc',
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['\\.java$'] },
    enhancedResolveOptions: { extensions: ['.ts', '.mjs', '.js', '.json'] },
  },
};
