#!/usr/bin/env node
// Bundles the short-lived binaries (the `tessera` CLI) into one CommonJS file each under dist/bin/, and writes their launchers in bin/.
//
// Why: a short command's time is mostly Node finding, reading and compiling ~150 modules. One
// minified file is read once, and its launcher hands V8 a code cache (dist/bin/NAME.cjs.cache,
// written by the first run) so it is not compiled again. Verbs import their modules lazily
// (src/cli/program.ts); esbuild keeps those imports lazy inside the bundle. Long-lived processes
// (the agent) keep the plain tsc output.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entries = [
  {
    name: 'tessera',
    src: 'src/cli/main.ts',
    main: 'cli/main.js',
    // Modules only these argv words need (the command groups of src/cli/program.ts): they pull in
    // the lab, Kubernetes' client and protobuf, ~80% of the bundle. See `splitFull` below.
    full: {
      words: ['lab', 'demo', 'node', 'policy', 'ipam'],
      modules: /^\.\/commands\/(lab|demo|node|policy|ipam)\.js$/,
    },
    // Verbs that get a V8 code cache of their own (scripts/cached-launcher.cjs); the rest share
    // one. Global options that take a value (src/cli/program.ts, VALUED_GLOBALS) are skipped.
    verbs: ['get', 'apply', 'create', 'replace', 'delete', 'patch', 'label', 'validate', 'version', 'context'],
    valuedOptions: ['--etcd-endpoints', '--config', '--context'],
  },
].filter((e) => existsSync(join(root, e.src)));

// Code that finds files relative to its own module (sibling scripts the lab starts, the package
// root, bin/) must see the path it has in the unbundled tsc output: each module's `import.meta.url`
// becomes its dist/src/... twin, computed from the bundle's own location (dist/bin), so the tree
// stays relocatable.
const distImportMetaUrl = {
  name: 'dist-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const rel = relative(join(root, 'src'), args.path).replace(/\.ts$/, '.js');
      const url = `require('node:url').pathToFileURL(require('node:path').join(__dirname, '..', 'src', ${JSON.stringify(rel)})).href`;
      return { contents: text.replaceAll('import.meta.url', `(${url})`), loader: 'ts' };
    });
  },
};

/*
 * splitFull: two self-contained bundles per binary. NAME-full.cjs has everything; NAME.cjs (the
 * core) has the modules of `full.modules` replaced by a stub, which makes it ~5x smaller and its
 * start ~10% cheaper. The launcher picks the full bundle when any argument is one of `full.words`
 * (over-inclusive is harmless: the full bundle runs every command), so the stub is never reached.
 * Each bundle has its own copy of every module, so no object crosses between the two.
 */
const stubGroups = (e) => ({
  name: 'stub-full-only-modules',
  setup(b) {
    b.onResolve({ filter: e.full.modules }, (args) => ({ path: args.path, namespace: 'full-only' }));
    b.onLoad({ filter: /.*/, namespace: 'full-only' }, (args) => ({
      contents: `const no = () => { throw new Error(${JSON.stringify(
        `${args.path} is only in ${e.name}-full.cjs: bin/${e.name} should have run that bundle`,
      )}); };\nexport { no as labVerb, no as demoDatastoreVerb, no as ipamVerb, no as policyExplainVerb, no as nodeStatusCliVerb };`,
      loader: 'js',
    }));
  },
});

/*
 * Built-in modules that are loaded at start-up only because some module imports them at the top
 * (commander: child_process, which brings dgram and the child-process machinery; `module` for a
 * lazy createRequire, which brings the ESM loader and source maps) and used only by some
 * commands: each becomes a module of getters that load the real one on first use. esbuild's
 * interop copies exports as getters, so importing it loads nothing.
 */
const LAZY_BUILTINS = ['child_process', 'module', 'os'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
    b.onResolve({ filter }, (args) =>
      args.namespace === 'lazy-builtin'
        ? { path: args.path, external: true }
        : { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
      const names = Object.keys(createRequire(import.meta.url)(`node:${args.path}`));
      const getters = names.map(
        (n) => `${JSON.stringify(n)}: { enumerable: true, get: () => load()[${JSON.stringify(n)}] }`,
      );
      return {
        contents: `let m;\nconst load = () => (m ??= require(${JSON.stringify(`node:${args.path}`)}));\nObject.defineProperties(module.exports, {\n${getters.join(',\n')}\n});\n`,
        loader: 'js',
      };
    });
  },
};

mkdirSync(join(root, 'dist/bin'), { recursive: true });
for (const e of entries) {
  for (const [file, plugins] of [
    [`${e.name}.cjs`, [stubGroups(e), lazyBuiltins, distImportMetaUrl]],
    [`${e.name}-full.cjs`, [lazyBuiltins, distImportMetaUrl]],
  ]) {
    const out = join(root, 'dist/bin', file);
    await build({
      entryPoints: [join(root, e.src)],
      outfile: out,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      minify: true,
      keepNames: true,
      sourcemap: 'linked',
      logLevel: 'warning',
      // grpc (etcd3) is only loaded by long-lived paths, lazily; logging and metrics are the agent's.
      external: ['etcd3', 'pino', 'prom-client'],
      plugins,
    });
    for (const f of readdirSync(join(root, 'dist/bin'))) {
      if (f.startsWith(`${file}.`) && f.endsWith('.cache')) rmSync(join(root, 'dist/bin', f), { force: true });
    }
  }
  // bin/NAME is a tiny sh script that moves NODE_EXTRA_CA_CERTS aside and execs node on bin/NAME.cjs,
  // the launcher proper (see src/datastore/etcd/extra-ca.ts for why and how trust is kept).
  const launcher = join(root, 'bin', `${e.name}.cjs`);
  writeFileSync(
    join(root, 'bin', e.name),
    [
      '#!/bin/sh',
      '# Generated by scripts/bundle.mjs. Node parses NODE_EXTRA_CA_CERTS at every start (~45 ms for a',
      '# whole CA bundle); the CLI adds that file to its own etcd TLS roots instead (TESSERA_EXTRA_CA_CERTS).',
      'if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then',
      '  TESSERA_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS',
      '  export TESSERA_EXTRA_CA_CERTS',
      '  unset NODE_EXTRA_CA_CERTS',
      'fi',
      'case $0 in',
      '  */*) self=$0 ;;',
      '  *) self=$(command -v -- "$0") ;;',
      'esac',
      '[ -L "$self" ] && self=$(readlink -f -- "$self")',
      `exec node "\${self%/*}/${e.name}.cjs" "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(join(root, 'bin', e.name), 0o755);
  const consts = {
    BUNDLE: `${e.name}.cjs`,
    FULL_BUNDLE: `${e.name}-full.cjs`,
    FULL_WORDS: e.full.words,
    VERBS: [...e.verbs, ...e.full.words],
    VALUED_OPTIONS: e.valuedOptions,
    MAIN: e.main,
  };
  writeFileSync(
    launcher,
    `#!/usr/bin/env node\n${Object.entries(consts)
      .map(([k, v]) => `const ${k} = ${JSON.stringify(v)};\n`)
      .join('')}${readFileSync(join(root, 'scripts/cached-launcher.cjs'), 'utf8')}`,
  );
  chmodSync(launcher, 0o755);
}
// bin/ launchers are CommonJS (the package is "type": "module"): no ESM loader start-up for them.
writeFileSync(join(root, 'bin/package.json'), '{ "type": "commonjs" }\n');
