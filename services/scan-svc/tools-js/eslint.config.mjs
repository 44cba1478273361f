// scan-svc's ESLint configuration: security rules only (no style), for a generated app's
// frontend folder. scan_svc/tools/eslint.py runs `eslint --config <this file>` from the app
// folder and maps each rule to a severity and CWE; a rule added here needs an entry there.
import react from "eslint-plugin-react";
import security from "eslint-plugin-security";
import globals from "globals";

const securityRules = Object.fromEntries(
  Object.keys(security.rules).map((name) => [`security/${name}`, "warn"]),
);

export default [
  {
    ignores: [
      "**/node_modules/**",
      "**/dist/**",
      "**/build/**",
      "**/coverage/**",
      "**/.next/**",
      "**/vendor/**",
      "**/*.min.js",
    ],
  },
  {
    files: ["**/*.js", "**/*.jsx", "**/*.mjs", "**/*.cjs"],
    plugins: { security, react },
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "module",
      parserOptions: { ecmaFeatures: { jsx: true } },
      globals: { ...globals.browser, ...globals.node },
    },
    settings: { react: { version: "18.3" } },
    linterOptions: { reportUnusedDisableDirectives: "off", noInlineConfig: true },
    rules: {
      ...securityRules,
      "no-eval": "warn",
      "no-implied-eval": "warn",
      "no-new-func": "warn",
      "no-script-url": "warn",
      "react/no-danger": "warn",
      "react/no-danger-with-children": "warn",
      "react/jsx-no-script-url": "warn",
      "react/jsx-no-target-blank": "warn",
      "react/no-find-dom-node": "warn",
    },
  },
  {
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs" },
  },
];
