// Order page: copy the number; keep it in this browser ("orders placed in this browser").
(function () {
  var el = document.getElementById("order-no");
  if (!el) return;
  var number = el.textContent.trim();
  var copy = document.getElementById("copy-order-no");
  if (copy) {
    copy.addEventListener("click", function () {
      if (navigator.clipboard) navigator.clipboard.writeText(number);
    });
  }
  // The keys live inside #live, which htmx replaces: listen on the document.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("#copy-keys") : null;
    var source = document.getElementById("keys-text");
    if (!button || !source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.value).then(function () {
      button.textContent = button.getAttribute("data-copied");
    });
  });
  try {
    var k = "kameng_orders";
    var a = JSON.parse(localStorage.getItem(k) || "[]");
    if (a.indexOf(number) < 0) {
      a.unshift(number);
      localStorage.setItem(k, JSON.stringify(a.slice(0, 50)));
    }
  } catch (e) {}
})();
