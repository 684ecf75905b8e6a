// Entry point of the vendored CodeMirror 6 bundle (built by ./build.sh into one IIFE file).
// Everything databoard's editor.js needs is exposed as window.DataboardCodeMirror.
export { EditorView, basicSetup, minimalSetup } from "codemirror";
export {
  keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, drawSelection,
  placeholder,
} from "@codemirror/view";
export { EditorState, Compartment } from "@codemirror/state";
export { indentWithTab, defaultKeymap, history, historyKeymap } from "@codemirror/commands";
export {
  syntaxHighlighting, defaultHighlightStyle, HighlightStyle, indentUnit, bracketMatching, foldGutter,
} from "@codemirror/language";
export { python, pythonLanguage } from "@codemirror/lang-python";

// Versions of the bundled packages (filled in by esbuild's --define from package.json).
export const versions = __DATABOARD_CM_VERSIONS__;
