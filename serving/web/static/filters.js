// Progressive enhancement of the manager page: apply a filter as soon as it changes
// (the "Apply filters" button works without JS). A file, not an inline script, so the
// pages' Content-Security-Policy can allow scripts from this site only.
for (const el of document.querySelectorAll("#filters select")) {
  el.addEventListener("change", () => el.form.requestSubmit());
}
