/* databoard: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  // <form data-confirm="Question?"> asks before it is sent (the server still accepts POST only). Once
  // answered yes, its <input name="confirm" data-confirmed> says so; without this script the server asks
  // on a page of its own instead.
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (!form) { return; }
    if (!window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
      return;
    }
    form.querySelectorAll("input[data-confirmed]").forEach(function (input) { input.value = "yes"; });
  }, true);

  // A log that follows its end (<div data-follow id=…>, polled by htmx): a reader who scrolled up keeps
  // their place when the block is replaced; at the bottom, it stays at the bottom (CSS does that part).
  var followed = {};
  document.addEventListener("scroll", function (event) {
    var box = event.target;
    if (box.nodeType === 1 && box.hasAttribute("data-follow") && box.id) { followed[box.id] = box.scrollTop; }
  }, true);
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("[data-follow][id]").forEach(function (box) {
      if (followed[box.id]) { box.scrollTop = followed[box.id]; }
    });
  });

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
