/* databoard: Python code editors and viewers (CodeMirror 6), as a progressive enhancement.
 *
 * Needs vendor/codemirror/codemirror.min.js (window.DataboardCodeMirror) loaded first; without it,
 * or without JavaScript, the page keeps its plain <textarea> / <pre>, and forms work unchanged.
 *
 *   <textarea name="code" data-editor="python">...</textarea>
 *       becomes an editor (Python highlighting, line numbers, Tab indents). Every change is copied
 *       back into the (hidden) textarea, which the form still POSTs; an `input` event is fired on it.
 *   <textarea data-editor="python" data-readonly>...</textarea>   (or `readonly` / `disabled`)
 *       becomes a read-only, highlighted viewer.
 *   <pre data-code="python">...</pre>
 *       becomes a read-only, highlighted viewer of its text.
 *
 * window.DataboardEditor.enhance(root) sets up the elements under `root` (it runs by itself on
 * DOMContentLoaded, htmx:afterSwap and htmx:historyRestore; running it twice is harmless), and
 * window.DataboardEditor.viewFor(element) gives the CodeMirror EditorView of a textarea or pre.
 */
(function () {
  "use strict";

  var CM = window.DataboardCodeMirror;
  if (!CM || !CM.EditorView) { return; } // the bundle did not load: keep the plain elements

  var views = new WeakMap(); // textarea / pre -> EditorView
  var liveWrappers = new WeakSet(); // the wrappers made on this page (not copies from a snapshot)
  var WRAPPER = "db-editor";
  var uid = 0;

  // Colours and sizes follow databoard.css (its variables, with the same values as fallbacks).
  var LINE = 1.45; // line height, in em
  var theme = CM.EditorView.theme({
    "&": {
      fontSize: "13px", backgroundColor: "#fff", color: "var(--ink, #1b2230)",
      border: "1px solid var(--line-strong, #c5ccd8)", borderRadius: "6px", overflow: "hidden",
    },
    "&.cm-focused": {
      outline: "none", borderColor: "var(--brand, #2553b8)", boxShadow: "0 0 0 3px rgba(37, 83, 184, .15)",
    },
    "&.db-invalid": { borderColor: "var(--bad, #b3261e)" },
    ".cm-scroller": {
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
      lineHeight: String(LINE), overflow: "auto",
    },
    ".cm-content": { padding: "6px 0" },
    ".cm-gutters": {
      backgroundColor: "#f6f8fb", color: "#8a93a5", borderRight: "1px solid var(--line, #dfe3ea)",
    },
    ".cm-activeLineGutter": { backgroundColor: "#e9effc", color: "var(--ink, #1b2230)" },
    ".cm-activeLine": { backgroundColor: "rgba(37, 83, 184, .05)" },
    "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, .cm-content ::selection": {
      backgroundColor: "#cfdcf7",
    },
    ".cm-tooltip": { borderRadius: "6px", borderColor: "var(--line-strong, #c5ccd8)" },
  });
  // Editors: at least 16 lines tall, scroll inside past ~70% of the window.
  var editorSize = CM.EditorView.theme({
    "&": { maxHeight: "min(70vh, 44em)" },
    ".cm-content, .cm-gutter": { minHeight: (16 * LINE) + "em" },
  });
  // Viewers: as tall as their code, up to the same maximum.
  var viewerSize = CM.EditorView.theme({
    "&": { maxHeight: "min(70vh, 44em)", backgroundColor: "#fbfcfd" },
  });

  var python = CM.python();
  var tabs = [CM.EditorState.tabSize.of(4), CM.indentUnit.of("    ")];

  function labelOf(element) {
    var label = element.getAttribute("aria-label");
    if (label) { return label; }
    if (element.id) {
      var forLabel = document.querySelector('label[for="' + CSS.escape(element.id) + '"]');
      if (forLabel) { return forLabel.textContent.trim(); }
    }
    var wrapping = element.closest("label");
    return wrapping ? wrapping.textContent.trim() : "";
  }

  // A wrapper left over from an earlier page state (htmx history snapshot) has no live view.
  function dropStaleWrapper(element) {
    var next = element.nextElementSibling;
    if (next && next.classList.contains(WRAPPER) && !liveWrappers.has(next)) { next.remove(); }
  }

  function makeWrapper(element, readOnly) {
    var wrapper = document.createElement("div");
    wrapper.className = WRAPPER + (readOnly ? " " + WRAPPER + "-readonly" : "");
    liveWrappers.add(wrapper);
    element.insertAdjacentElement("afterend", wrapper);
    return wrapper;
  }

  function viewerExtensions(label) {
    return [
      CM.lineNumbers(), CM.highlightSpecialChars(), CM.syntaxHighlighting(CM.defaultHighlightStyle, {fallback: true}),
      python, tabs, theme, viewerSize,
      CM.EditorState.readOnly.of(true), CM.EditorView.editable.of(false),
      // Not editable, but still reachable with the keyboard (to scroll and to select and copy).
      CM.EditorView.contentAttributes.of({tabindex: "0", "aria-label": label || "Python code", "aria-readonly": "true"}),
    ];
  }

  function setUpTextarea(textarea) {
    var readOnly = textarea.hasAttribute("data-readonly") || textarea.readOnly || textarea.disabled;
    var label = labelOf(textarea);
    dropStaleWrapper(textarea);
    var wrapper = makeWrapper(textarea, readOnly);
    var extensions;
    var hint = null;
    if (readOnly) {
      extensions = viewerExtensions(label);
    } else {
      hint = document.createElement("span");
      hint.className = "helptext db-editor-hint";
      hint.id = "db-editor-hint-" + (++uid);
      hint.textContent = "Tab indents; press Esc then Tab to move on.";
      // Marked invalid by the server (a form error), or by the browser (e.g. `required` and empty).
      var serverInvalid = textarea.getAttribute("aria-invalid") === "true" || !!textarea.closest(".field.has-error");
      var invalidity = new CM.Compartment();
      var invalidAttrs = function (invalid) {
        return invalid ? [CM.EditorView.editorAttributes.of({class: "db-invalid"}),
          CM.EditorView.contentAttributes.of({"aria-invalid": "true"})] : [];
      };
      var browserInvalid = false;
      var setBrowserInvalid = function (invalid) {
        if (invalid === browserInvalid) { return; }
        browserInvalid = invalid;
        view.dispatch({effects: invalidity.reconfigure(invalidAttrs(invalid || serverInvalid))});
      };
      extensions = [
        CM.basicSetup, CM.keymap.of([CM.indentWithTab]), python, tabs, theme, editorSize,
        CM.EditorView.contentAttributes.of({"aria-label": label || "Python code",
          "aria-describedby": ((textarea.getAttribute("aria-describedby") || "") + " " + hint.id).trim()}),
        invalidity.of(invalidAttrs(serverInvalid)),
        CM.EditorView.updateListener.of(function (update) {
          if (!update.docChanged) { return; }
          textarea.value = update.state.doc.toString();
          textarea.dispatchEvent(new Event("input", {bubbles: true}));
          if (browserInvalid && textarea.validity.valid) {
            setTimeout(function () { setBrowserInvalid(false); }, 0); // not from inside an update
          }
        }),
      ];
      if (textarea.placeholder) { extensions.push(CM.placeholder(textarea.placeholder)); }
    }
    var view = new CM.EditorView({
      parent: wrapper,
      state: CM.EditorState.create({doc: textarea.value, extensions: extensions}),
    });
    if (hint) { wrapper.appendChild(hint); }
    textarea.hidden = true;
    views.set(textarea, view);

    if (!readOnly) {
      // A hidden, required, empty textarea would block the form without saying why: show the editor.
      textarea.addEventListener("invalid", function (event) {
        event.preventDefault();
        setBrowserInvalid(true);
        view.focus();
      });
      if (textarea.form) {
        textarea.form.addEventListener("reset", function () {
          setTimeout(function () { setDoc(view, textarea.value); }, 0);
        });
      }
      if (textarea.autofocus) { view.focus(); }
    }
  }

  function setUpPre(pre) {
    dropStaleWrapper(pre);
    var wrapper = makeWrapper(pre, true);
    var code = pre.textContent.replace(/\r\n?/g, "\n").replace(/\n$/, "");
    var view = new CM.EditorView({
      parent: wrapper,
      state: CM.EditorState.create({doc: code, extensions: viewerExtensions(labelOf(pre))}),
    });
    pre.hidden = true;
    views.set(pre, view);
  }

  function setDoc(view, text) {
    if (view.state.doc.toString() === text) { return; }
    view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: text}});
  }

  function enhance(root) {
    root = root && root.querySelectorAll ? root : document;
    var found = [];
    if (root.matches && root.matches('textarea[data-editor="python"], pre[data-code="python"]')) { found.push(root); }
    root.querySelectorAll('textarea[data-editor="python"], pre[data-code="python"]').forEach(function (el) {
      found.push(el);
    });
    found.forEach(function (element) {
      if (views.has(element)) { return; }
      try {
        if (element.tagName === "TEXTAREA") { setUpTextarea(element); } else { setUpPre(element); }
      } catch (error) {
        // Keep the plain element usable if anything goes wrong.
        element.hidden = false;
        var next = element.nextElementSibling;
        if (next && next.classList.contains(WRAPPER)) { next.remove(); }
        if (window.console) { console.warn("databoard editor: kept the plain element", error); }
      }
    });
  }

  window.DataboardEditor = {
    enhance: enhance,
    viewFor: function (element) { return views.get(element) || null; },
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  } else {
    enhance(document);
  }
  // After an htmx swap the new content may hold editors; a restored history snapshot holds
  // dead copies of old ones (removed again by dropStaleWrapper). Scanning the whole page is cheap.
  document.addEventListener("htmx:afterSwap", function () { enhance(document); });
  document.addEventListener("htmx:historyRestore", function () { enhance(document); });
})();
