// Crier console: live previews, Discord embed colours and import progress.
// Everything works without this file; it only makes the pages livelier.
(function () {
  'use strict';
  document.documentElement.classList.add('js');

  function colourEmbeds(root) {
    root.querySelectorAll('.embed[data-colour]').forEach(function (el) {
      var c = el.getAttribute('data-colour');
      if (/^#[0-9a-f]{6}$/i.test(c)) el.style.borderLeftColor = c;
    });
  }

  function livePreview(form) {
    var target = document.getElementById('previews');
    if (!target) return;
    var timer = null, seq = 0;
    function update() {
      var n = ++seq;
      var data = new FormData(form);
      data.delete('action');
      fetch(form.getAttribute('data-preview'), {
        method: 'POST', body: data, credentials: 'same-origin',
        headers: { 'X-Crier-Fragment': '1', 'X-CSRF-Token': form.querySelector('input[name=csrf]').value }
      }).then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          if (n !== seq) return; // a newer preview is on its way
          var tpl = document.createElement('template');
          tpl.innerHTML = html; // server-rendered, escaped by html/template
          target.replaceChildren(tpl.content);
          colourEmbeds(target);
          target.setAttribute('data-updated', String(n));
        }).catch(function () {});
    }
    function soon() { clearTimeout(timer); timer = setTimeout(update, 400); }
    form.addEventListener('input', soon);
    form.addEventListener('change', soon);
  }

  function followImport(el) {
    if (el.getAttribute('data-done') === 'true') return;
    setTimeout(function () { location.reload(); }, 1000);
  }

  // followDeliveries refreshes a post's state and channels while they are
  // under way (newsletter progress, a retry, a failure), without reloading
  // the page: it polls the part of the page at data-follow.
  function followDeliveries(section) {
    if (section.getAttribute('data-live') !== 'true') return;
    var url = section.getAttribute('data-follow');
    if (!url) return;
    setTimeout(function () {
      fetch(url, { credentials: 'same-origin', cache: 'no-store' })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, 'text/html');
          var fresh = doc.getElementById('deliveries');
          if (!fresh) return;
          var state = document.getElementById('post-state');
          var freshState = doc.getElementById('post-state');
          if (state && freshState) state.replaceWith(freshState);
          section.replaceWith(fresh);
          followDeliveries(fresh);
        }).catch(function () {});
    }, 3000);
  }

  document.addEventListener('DOMContentLoaded', function () {
    var live = document.getElementById('deliveries');
    if (live) followDeliveries(live);
    colourEmbeds(document);
    var form = document.getElementById('write');
    if (form) livePreview(form);
    var imp = document.getElementById('import');
    if (imp) followImport(imp);
  });
})();
