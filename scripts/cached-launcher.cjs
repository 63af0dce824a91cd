'use strict';
// Launcher body for a bundled binary (scripts/bundle.mjs writes bin/NAME as this file with BUNDLE
// filled in). Runs dist/bin/NAME.cjs as a CommonJS module with V8's code cache: the first run
// saves the compiled code (at exit, so it includes the functions that run used), later runs skip
// compiling. A missing, stale or unwritable cache only costs the compile.
const { readFileSync, writeFileSync, renameSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { Script, constants } = require('node:vm');
const Module = require('node:module');

const file = join(__dirname, '..', 'dist', 'bin', BUNDLE);
const cacheFile = `${file}.cache`;
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
  process.once('exit', () => {
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
