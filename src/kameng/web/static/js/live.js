// Order page: the timeline pushed by server-sent events (/o/{no}/events).
// While the stream is up the fragment polls only every 30 s (?sse=1); when it
// is down the page goes back to polling every 3 s.
(function () {
  var live = document.getElementById("live");
  if (!live || !live.dataset.events || !window.EventSource || !window.htmx) return;
  var fragment = live.dataset.fragment;
  function refresh(pushed) {
    if (!document.getElementById("live")) return;
    window.htmx.ajax("GET", fragment + (pushed ? "?sse=1" : ""), {
      target: "#live",
      swap: "outerHTML",
    });
  }
  var source = new EventSource(live.dataset.events);
  var up = false;
  source.addEventListener("ready", function () {
    if (!up) refresh(true);
    up = true;
  });
  source.addEventListener("timeline", function () {
    up = true;
    refresh(true);
  });
  source.addEventListener("final", function () {
    source.close();
    refresh(true);
  });
  source.onerror = function () {
    if (up) refresh(false);
    up = false;
  };
})();
