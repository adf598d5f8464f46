// ESLint for the console's ES modules (static/js), run by `npm run lint` (and so by `make test`).
// Besides ESLint's recommended rules it holds the modules' layout:
//   main.js        the boot module: the only one that runs code at import; nothing imports it
//   router.js      routes, links, the location's parsing; imports nothing of the console
//   pages/*.js     one per page; import components and the router, never another page
//   components/*.js shared pieces; import other components (and the router), never a page
// no import cycles, and bare imports only of the libraries the importmap maps
// (package.json's "glimpseVendor", which the server also reads).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import js from "@eslint/js";
import importPlugin from "eslint-plugin-import";
import globals from "globals";

const here = path.dirname(fileURLToPath(import.meta.url));
const vendor = JSON.parse(readFileSync(path.join(here, "package.json"), "utf8")).glimpseVendor;
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const vendorModules = Object.keys(vendor.modules).map(escape).join("|");

const JS = "static/js";
// Top-level statements that run code: only main.js may have them.
const RUNS_AT_IMPORT = ["ExpressionStatement", "IfStatement", "ForStatement", "ForInStatement", "ForOfStatement",
  "WhileStatement", "DoWhileStatement", "BlockStatement", "TryStatement", "SwitchStatement"]
  .map((type) => `Program > ${type}`).join(", ");

export default [
  js.configs.recommended,
  importPlugin.flatConfigs.recommended,
  {
    files: [`${JS}/**/*.js`],
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: globals.browser },
    settings: { "import/resolver": { node: true } },
    rules: {
      "no-unused-vars": ["error", { args: "after-used", caughtErrors: "none" }],
      "no-restricted-imports": ["error", { patterns: [{
        regex: `^(?!\\.{1,2}/)(?!(${vendorModules})$)`,
        message: "import the console's modules by relative path; bare names only for the libraries in package.json's glimpseVendor.modules",
      }] }],
      "no-restricted-syntax": ["error", { selector: RUNS_AT_IMPORT, message: "only main.js runs code at import: put this in a function" }],
      "import/no-cycle": ["error", { maxDepth: Infinity, ignoreExternal: true }],
      "import/no-self-import": "error",
      "import/no-useless-path-segments": "error",
      "import/extensions": ["error", "always", { ignorePackages: true }],
      "import/no-extraneous-dependencies": ["error", { devDependencies: false }],
      "import/no-restricted-paths": ["error", { basePath: here, zones: [
        { target: `${JS}/pages`, from: `${JS}/pages`, message: "pages never import other pages: move the shared piece to components/" },
        { target: `${JS}/components`, from: [`${JS}/pages`, `${JS}/main.js`], message: "components never import pages or the boot module" },
        { target: `${JS}/router.js`, from: [`${JS}/pages`, `${JS}/components`, `${JS}/main.js`], message: "the router imports nothing of the console" },
        { target: JS, from: `${JS}/main.js`, message: "nothing imports the boot module" },
      ] }],
    },
  },
  {
    files: [`${JS}/main.js`],
    rules: { "no-restricted-syntax": "off" },
  },
  {
    files: ["*.mjs", "*.js"],
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: globals.node },
  },
];
