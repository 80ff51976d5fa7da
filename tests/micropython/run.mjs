// Runs a Python test module under real MicroPython (the npm WebAssembly port) with the mip4 wire
// codec on its path: copies firmware/mip4/__init__.py and firmware/mip4/wire/*.py into the
// interpreter's /lib, imports the module and calls its run(). MicroPython's own CLI concatenates
// files into one script, so it cannot import a package; this does the same work through its API.
// Usage: node run.mjs MICROPYTHON_MJS FIRMWARE_DIR TEST_MODULE.py
import fs from "fs";
import path from "path";

const [mjs, firmware, testFile] = process.argv.slice(2);
const { loadMicroPython } = await import(path.resolve(mjs));
const mp = await loadMicroPython({ heapsize: 16 * 1024 * 1024, stdout: (s) => process.stdout.write(s + "\n"),
  stderr: (s) => process.stdout.write(s + "\n") });

function copyTree(src, dst) {
  mp.FS.mkdirTree(dst);
  for (const name of fs.readdirSync(src)) {
    const from = path.join(src, name);
    if (fs.statSync(from).isDirectory()) continue;
    if (name.endsWith(".py")) mp.FS.writeFile(`${dst}/${name}`, fs.readFileSync(from, "utf8"));
  }
}
mp.FS.mkdirTree("/lib/mip4");
mp.FS.writeFile("/lib/mip4/__init__.py", fs.readFileSync(path.join(firmware, "mip4", "__init__.py"), "utf8"));
copyTree(path.join(firmware, "mip4", "wire"), "/lib/mip4/wire");
const mod = path.basename(testFile, ".py");
mp.FS.writeFile(`/lib/${mod}.py`, fs.readFileSync(testFile, "utf8"));
try {
  mp.runPython(`import sys\nprint("IMPLEMENTATION", sys.implementation.name, sys.implementation.version)\nimport ${mod}\n${mod}.run()`);
} catch (e) {
  // a Python exception outside the tests (e.g. an import error): print it for the caller to judge
  console.log("ERROR", e.message ?? e);
}
