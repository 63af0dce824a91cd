'use strict';
// Launcher body for a bundled binary (scripts/bundle.mjs writes bin/NAME.cjs as this file with BUNDLE,
// FULL_BUNDLE, FULL_WORDS, VERBS, VALUED_OPTIONS and MAIN filled in). Runs dist/bin/NAME.cjs (or NAME-full.cjs) as a
// CommonJS module with V8's code cache: the first run saves the compiled code (at exit, so it
// includes the functions that run used), later runs skip compiling. A missing, stale or unwritable cache only costs the compile.
// `return` at top level: a CommonJS module body is a function.
const { readFileSync, writeFileSync, renameSync, statSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { Script, constants } = require('node:vm');
// The CommonJS loader's Module class; require('node:module') would also load the ESM loader and
// source-map support, which a bundle does not use.
const Module = module.constructor;

// The core bundle unless an argument needs the full one (scripts/bundle.mjs, splitFull).
const full = process.argv.slice(2).some((a) => FULL_WORDS.includes(a));
const file = join(__dirname, '..', 'dist', 'bin', full ? FULL_BUNDLE : BUNDLE);
// One code cache per verb (NAME.cjs.VERB.cache): a cache holds the functions the run that wrote it
// compiled, so a `get` reading the cache an `apply` wrote would still compile its own (~5 ms).
// Unknown verbs share `other`. VALUED_OPTIONS take a value, which is not the verb.
let verb = 'other';
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (VALUED_OPTIONS.includes(a)) i++;
  else if (!a.startsWith('-')) {
    if (VERBS.includes(a)) verb = a;
    break;
  }
}
const cacheFile = `${file}.${verb}.cache`;
// No bundle, or one older than tsc's output (tsc ran without the bundler): run tsc's output, which
// is always current after `make build` (slower start-up, same behaviour).
const tscMain = join(__dirname, '..', 'dist', 'src', MAIN);
const mtime = (f) => statSync(f, { throwIfNoEntry: false })?.mtimeMs;
const bundleTime = mtime(file);
const tscTime = mtime(tscMain);
if (bundleTime === undefined || (tscTime !== undefined && tscTime > bundleTime)) {
  if (tscTime === undefined) {
    console.error(`${BUNDLE.replace(/\.cjs$/, '')}: not built (run make build)`);
    process.exit(1);
  }
  import(require('node:url').pathToFileURL(tscMain).href).catch((err) => {
    console.error(err);
    process.exit(1);
  });
  return;
}
const source = readFileSync(file, 'utf8');
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
const script = new Script(Module.wrap(source), {
  filename: file,
  cachedData,
  importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
if (cachedData === undefined || script.cachedDataRejected) {
  process.once('exit', (code) => {
    // A verb's cache comes from a run that did that verb's work: not from its --help, nor from a
    // run that failed early (both compile a fraction of what a real run needs).
    const helpOnly = process.argv.slice(2).some((a) => a === '--help' || a === '-h');
    if (verb !== 'other' && (code !== 0 || helpOnly)) return;
    try {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile);
    } catch {
      // read-only install: run without a cache
    }
  });
}
const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(dirname(file));
script.runInThisContext()(mod.exports, Module.createRequire(file), mod, file, dirname(file));
