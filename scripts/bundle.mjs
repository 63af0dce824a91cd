#!/usr/bin/env node
// Bundles the short-lived binaries (the `tessera` CLI) into one CommonJS file each under dist/bin/, and writes their launchers in bin/.
//
// Why: a short command's time is mostly Node finding, reading and compiling ~150 modules. One
// minified file is read once, and its launcher hands V8 a code cache (dist/bin/NAME.cjs.cache,
// written by the first run) so it is not compiled again. Verbs import their modules lazily
// (src/cli/program.ts); esbuild keeps those imports lazy inside the bundle. Long-lived processes
// (the agent) keep the plain tsc output.
import { build } from 'esbuild';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entries = [
  { name: 'tessera', src: 'src/cli/main.ts' },
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

mkdirSync(join(root, 'dist/bin'), { recursive: true });
for (const e of entries) {
  const out = join(root, 'dist/bin', `${e.name}.cjs`);
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
    plugins: [distImportMetaUrl],
  });
  rmSync(`${out}.cache`, { force: true });
  const launcher = join(root, 'bin', e.name);
  writeFileSync(
    launcher,
    `#!/usr/bin/env node\nconst BUNDLE = ${JSON.stringify(`${e.name}.cjs`)};\n${readFileSync(join(root, 'scripts/cached-launcher.cjs'), 'utf8')}`,
  );
  chmodSync(launcher, 0o755);
}
// bin/ launchers are CommonJS (the package is "type": "module"): no ESM loader start-up for them.
writeFileSync(join(root, 'bin/package.json'), '{ "type": "commonjs" }\n');
