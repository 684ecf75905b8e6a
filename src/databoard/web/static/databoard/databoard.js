/* databoard: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  // <form data-confirm="Question?"> asks before it is sent (the server still accepts POST only).
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  }, true);

  // <button data-copy="#id" hidden> copies the text of #id; shown only when the clipboard is available.
  function setUpCopyButtons(root) {
    if (!navigator.clipboard) { return; }
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      if (button.dataset.copyReady) { return; }
      button.dataset.copyReady = "1";
      button.addEventListener("click", function () {
        var target = document.querySelector(button.getAttribute("data-copy"));
        if (!target) { return; }
        navigator.clipboard.writeText(target.textContent.trim()).then(function () {
          var label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 2000);
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setUpCopyButtons(document); });
  document.addEventListener("htmx:afterSwap", function (event) { setUpCopyButtons(event.target); });
})();
