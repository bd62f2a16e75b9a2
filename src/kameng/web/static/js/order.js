// Order page: copy the number and the keys; keep the number in this browser
// ("orders placed in this browser").
(function () {
  var el = document.getElementById("order-no");
  if (!el) return;
  var number = el.textContent.trim();
  var copy = document.getElementById("copy-order-no");
  if (copy) {
    copy.addEventListener("click", function () {
      if (!navigator.clipboard) return;
      navigator.clipboard.writeText(number).then(function () {
        copy.textContent = copy.getAttribute("data-copied"); // the tap did something
      });
    });
  }
  // #live (with the keys and their button) is replaced by htmx whenever the
  // timeline moves: which keys were copied is kept in this tab's
  // sessionStorage, per order, as a fingerprint of the keys (not the keys),
  // and shown again on the fresh button while the keys are the same.
  var copiedKey = "kameng_copied:" + number;
  function fingerprint(text) {
    var h = 0x811c9dc5; // FNV-1a, 32 bits: tells goods apart, reveals nothing useful
    for (var i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return text.length + ":" + h.toString(16);
  }
  function showCopied() {
    var button = document.getElementById("copy-keys");
    var source = document.getElementById("keys-text");
    if (!button || !source) return;
    var copied = null;
    try {
      copied = sessionStorage.getItem(copiedKey);
    } catch (e) {}
    if (copied === fingerprint(source.value)) {
      button.textContent = button.getAttribute("data-copied");
    }
  }
  // The keys live inside #live, which htmx replaces: listen on the document.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("#copy-keys") : null;
    var source = document.getElementById("keys-text");
    if (!button || !source || !navigator.clipboard) return;
    var copied = fingerprint(source.value);
    navigator.clipboard.writeText(source.value).then(function () {
      try {
        sessionStorage.setItem(copiedKey, copied);
      } catch (e) {}
      // The clicked button may have been swapped out meanwhile: mark the current one.
      button.textContent = button.getAttribute("data-copied");
      showCopied();
    });
  });
  if (window.htmx) window.htmx.onLoad(showCopied); // the page, then every swapped-in fragment
  else showCopied();
  try {
    var k = "kameng_orders";
    var a = JSON.parse(localStorage.getItem(k) || "[]");
    if (a.indexOf(number) < 0) {
      a.unshift(number);
      localStorage.setItem(k, JSON.stringify(a.slice(0, 50)));
    }
  } catch (e) {}
})();
