// The ALTCHA widget in the page's language. altcha 3.2.2 takes its texts only
// from its global catalogue ($altcha.i18n, by language); the page carries ours
// (kameng.po, rendered by web/captcha.py) in data-strings and names it in the
// widget's language attribute. Importing the widget first makes $altcha exist;
// the widget renders after a microtask, so it starts in the right language.
import "/static/vendor/altcha/altcha-3.2.2.min.js";

document.querySelectorAll("altcha-widget[data-strings]").forEach(function (widget) {
  try {
    globalThis.$altcha.i18n.set(
      widget.getAttribute("language"),
      JSON.parse(widget.getAttribute("data-strings"))
    );
  } catch (e) {}
});
